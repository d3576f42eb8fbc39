/**
 * The server as `npm start` runs it (`tsx src/main.ts`), in a child process on
 * this test's Node, for what only the process shows: its stdout and stderr,
 * its exit, what it sends elsewhere.
 */
import { spawn } from 'node:child_process';

const ROOT = new URL('../../', import.meta.url);
const BANNER = /is serving GraphQL at (http:\/\/\S+)\/graphql/;

export interface MainProcess {
  /** `http://<host>:<port>`, from the banner. */
  url: string;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Sends `signal` unless the process has exited, and resolves with its exit code once it has. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `tsx src/main.ts` with exactly `env` (plus PATH) and waits for its
 * banner; when that does not come within 30 s, or the process exits first, it
 * is killed and this rejects with its output.
 */
export async function startMain(env: Record<string, string>): Promise<MainProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stop = (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`not serving within 30 s; stdout: ${stdout}; stderr: ${stderr}`)),
        30_000,
      );
      child.stdout.on('data', () => {
        const serving = BANNER.exec(stdout);
        if (serving) resolve(serving[1]!);
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}; stderr: ${stderr}`)));
    });
    return { url, stdout: () => stdout, stderr: () => stderr, stop };
  } catch (error) {
    await stop('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
