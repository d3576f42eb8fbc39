import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { root } from './build.js';

export interface StartSettings {
  env: Record<string, string>;
  nodeFlags: string[];
}

/**
 * Parses a start script of the form `[VAR=value …] [exec] node [--flag[=value] …] entry.js`,
 * or one that runs `tsx` (no flags: the bench runs its servers as compiled JavaScript). Anything
 * else (quotes, `$`, `&&`, a flag whose value is a word of its own, another command) is refused
 * rather than read as "no settings", so the bench cannot quietly run without them.
 */
function parseStartScript(script: string): StartSettings {
  if (/["'`$;&|<>\\]/.test(script)) throw new Error(`start script not understood (shell syntax): ${script}`);
  const words = script.trim().split(/\s+/);
  const env: Record<string, string> = {};
  let i = 0;
  for (; i < words.length; i++) {
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(words[i]!);
    if (!assignment) break;
    env[assignment[1]!] = assignment[2]!;
  }
  if (words[i] === 'exec') i++;
  if (words[i] === 'tsx') return { env, nodeFlags: [] };
  if (words[i] !== 'node') throw new Error(`start script not understood (runs neither node nor tsx): ${script}`);
  const nodeFlags: string[] = [];
  for (i++; words[i]?.startsWith('-'); i++) nodeFlags.push(words[i]!);
  const entry = words.slice(i);
  if (entry.length !== 1 || !/\.[cm]?js$/.test(entry[0]!)) {
    throw new Error(`start script not understood (node flags, then one .js entry, expected): ${script}`);
  }
  return { env, nodeFlags };
}

/**
 * What `npm start` gives the server besides its code: the environment
 * variables set in front of the command and the flags passed to `node`,
 * read from the start script of package.json, so that the benchmarked API
 * servers run as `npm start` and the Docker image run the server. With
 * `ref`, that commit's start script.
 */
export async function startSettings(ref?: string): Promise<StartSettings> {
  const manifest = ref
    ? (await promisify(execFile)('git', ['-C', root, 'show', `${ref}:package.json`])).stdout
    : await readFile(`${root}package.json`, 'utf8');
  const script = (JSON.parse(manifest) as { scripts?: { start?: string } }).scripts?.start;
  if (script === undefined) throw new Error(`package.json${ref ? ` at ${ref}` : ''} has no start script`);
  return parseStartScript(script);
}
