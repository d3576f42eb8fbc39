import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { onInterrupt } from './cleanup.js';

/**
 * The servers under test run as plain JavaScript, as in production
 * (`node dist/main.js`), not under the tsx loader: tsx's loader thread alone
 * adds about 45 MiB of resident memory, which would swamp the peak-RSS
 * measures. So before the first child starts, `src/` and `bench/` are
 * transpiled (types stripped, no type check; `npx tsc --noEmit` does that)
 * into a temporary directory whose `node_modules` links to the project's.
 *
 * `--before <git ref>` builds a second project whose `src/` is that commit's
 * (and whose `bench/` is this one's), so a group can run the server as it
 * was next to the server as it is, in the same rounds.
 */

/** The project's directory (with a trailing slash). */
export const root = fileURLToPath(new URL('../..', import.meta.url));

async function* typeScriptFiles(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* typeScriptFiles(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}

/** Writes the `src/` of commit `ref` under `dir` (`dir/src/...`). */
async function checkOut(ref: string, dir: string): Promise<void> {
  const archive = join(dir, 'src.tar');
  await promisify(execFile)('git', ['-C', root, 'archive', '--format=tar', '-o', archive, ref, 'src']);
  await promisify(execFile)('tar', ['-xf', archive, '-C', dir]);
  await rm(archive);
}

async function transpileInto(outDir: string, sourceRoot: string): Promise<void> {
  const { default: ts } = await import('typescript');
  await writeFile(join(outDir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  await symlink(join(root, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  for (const [base, sourceDir] of [
    [sourceRoot, 'src'],
    [root, 'bench'],
  ] as const) {
    for await (const file of typeScriptFiles(join(base, sourceDir))) {
      const { outputText } = ts.transpileModule(await readFile(file, 'utf8'), {
        fileName: file,
        compilerOptions: {
          module: ts.ModuleKind.ESNext,
          target: ts.ScriptTarget.ES2022,
          verbatimModuleSyntax: true,
        },
      });
      const target = join(outDir, relative(base, file)).replace(/\.ts$/, '.js');
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, outputText);
    }
  }
}

/** The projects built so far, by git ref ('' for the working tree), and how to remove each. */
const builds = new Map<string, { dir: Promise<string>; unregister: () => void }>();

/**
 * The directory holding the transpiled project; built on first use, once per
 * run. With `ref`, the project's `src/` is that commit's.
 */
export function builtProject(ref = ''): Promise<string> {
  const existing = builds.get(ref);
  if (existing) return existing.dir;
  let remove: () => Promise<void> = async () => undefined;
  const dir = (async () => {
    const outDir = await mkdtemp(join(tmpdir(), 's3-graphql-bench-build-'));
    remove = () => rm(outDir, { recursive: true, force: true });
    try {
      let sourceRoot = root;
      if (ref !== '') {
        sourceRoot = join(outDir, 'checkout');
        await mkdir(sourceRoot);
        await checkOut(ref, sourceRoot);
      }
      await transpileInto(outDir, sourceRoot);
    } catch (error) {
      await remove();
      throw error;
    }
    return outDir;
  })();
  builds.set(ref, { dir, unregister: onInterrupt(() => remove()) });
  return dir;
}

/** Removes every transpiled project built. */
export async function removeBuiltProject(): Promise<void> {
  const all = [...builds.values()];
  builds.clear();
  for (const { dir, unregister } of all) {
    const outDir = await dir.catch(() => undefined);
    if (outDir !== undefined) await rm(outDir, { recursive: true, force: true });
    unregister();
  }
}
