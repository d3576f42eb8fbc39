import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * What `npm start` gives the server besides its code: the environment
 * variables set in front of the command and the flags passed to `node`
 * (`MALLOC_ARENA_MAX=2 … exec node --expose-gc … dist/main.js`), read from
 * the start script of package.json, so that the benchmarked API servers run
 * as `npm start` runs the server and the Docker image does. With `ref`, that
 * commit's start script: one that runs `tsx` gives no flags and no variables.
 */
export interface StartSettings {
  env: Record<string, string>;
  nodeFlags: string[];
}

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Parses a start script of the form `[VAR=value …] [exec] node [--flag …] entry`. */
function parseStartScript(script: string): StartSettings {
  const words = script.trim().split(/\s+/);
  const env: Record<string, string> = {};
  let i = 0;
  for (; i < words.length; i++) {
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(words[i]!);
    if (!assignment) break;
    env[assignment[1]!] = assignment[2]!;
  }
  if (words[i] === 'exec') i++;
  const nodeFlags: string[] = [];
  if (words[i] === 'node') for (i++; words[i]?.startsWith('--'); i++) nodeFlags.push(words[i]!);
  return { env, nodeFlags };
}

export async function startSettings(ref?: string): Promise<StartSettings> {
  const manifest = ref
    ? (await promisify(execFile)('git', ['-C', root, 'show', `${ref}:package.json`])).stdout
    : await readFile(`${root}package.json`, 'utf8');
  const script = (JSON.parse(manifest) as { scripts?: { start?: string } }).scripts?.start;
  if (script === undefined) throw new Error(`package.json${ref ? ` at ${ref}` : ''} has no start script`);
  return parseStartScript(script);
}
