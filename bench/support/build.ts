import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onInterrupt } from './cleanup.js';

/**
 * The servers under test run as plain JavaScript, as in production
 * (`node dist/main.js`), not under the tsx loader: tsx's loader thread alone
 * adds about 45 MiB of resident memory, which would swamp the peak-RSS
 * measures. So before the first child starts, `src/` and `bench/` are
 * transpiled (types stripped, no type check; `npx tsc --noEmit` does that)
 * into a temporary directory whose `node_modules` links to the project's.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE_DIRS = ['src', 'bench'];

async function* typeScriptFiles(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* typeScriptFiles(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}

async function transpileInto(outDir: string): Promise<void> {
  const { default: ts } = await import('typescript');
  await writeFile(join(outDir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  await symlink(join(root, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  for (const sourceDir of SOURCE_DIRS) {
    for await (const file of typeScriptFiles(join(root, sourceDir))) {
      const { outputText } = ts.transpileModule(await readFile(file, 'utf8'), {
        fileName: file,
        compilerOptions: {
          module: ts.ModuleKind.ESNext,
          target: ts.ScriptTarget.ES2022,
          verbatimModuleSyntax: true,
        },
      });
      const target = join(outDir, relative(root, file)).replace(/\.ts$/, '.js');
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, outputText);
    }
  }
}

let built: Promise<string> | undefined;
let unregister: (() => void) | undefined;

/** The directory holding the transpiled project; built on first use, once per run. */
export function builtProject(): Promise<string> {
  built ??= (async () => {
    const outDir = await mkdtemp(join(tmpdir(), 's3-graphql-bench-build-'));
    unregister = onInterrupt(() => rm(outDir, { recursive: true, force: true }));
    try {
      await transpileInto(outDir);
    } catch (error) {
      await rm(outDir, { recursive: true, force: true });
      throw error;
    }
    return outDir;
  })();
  return built;
}

/** Removes the transpiled project, if one was built. */
export async function removeBuiltProject(): Promise<void> {
  if (built === undefined) return;
  const outDir = await built.catch(() => undefined);
  built = undefined;
  if (outDir !== undefined) await rm(outDir, { recursive: true, force: true });
  unregister?.();
  unregister = undefined;
}
