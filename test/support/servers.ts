/**
 * Starting and stopping child-process servers for tests, on loopback only.
 * Used by `test/global-setup.ts` for moto; usable by any test that needs a
 * server of its own (e.g. a second moto to simulate an outage), and a proxy
 * in front of a store.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const LOOPBACK = '127.0.0.1';

/** A port free on 127.0.0.1 right now (the OS picks it via listen(0)). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('listen(0) gave no port'))));
    });
  });
}

/**
 * Resolves once `url` answers any HTTP response; rejects after `timeoutMs`,
 * or as soon as `alive()` returns false (the server process died).
 */
async function waitForHttp(url: string, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`the server for ${url} exited before answering`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      return;
    } catch (err) {
      lastError = err;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (${String(lastError)})`);
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
async function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Whether `python3` exists and can import every module named. */
export function pythonHas(...modules: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('python3', ['-c', modules.map((m) => `import ${m}`).join('; ')], { timeout: 30_000 }, (err) =>
      resolve(!err),
    );
  });
}

export interface RunningMoto {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * `python3 -m moto.server`, plus a thread that ends moto when its stdin
 * closes, so a moto never outlives the test process that started it (even one
 * killed without running its teardown).
 */
const MOTO_SERVER = [
  'import os, sys, threading',
  'from moto.server import main',
  'def exit_when_parent_goes():',
  '    sys.stdin.buffer.read()',
  '    os._exit(0)',
  'threading.Thread(target=exit_when_parent_goes, daemon=True).start()',
  'main(sys.argv[1:])',
].join('\n');

/**
 * Starts moto's S3 server on a free loopback port and waits until it answers.
 * moto accepts any credentials and does not check signatures. Its output is
 * kept (the last 4 KiB) only to explain a failed start. A port taken between
 * choosing and binding it is retried on another port.
 */
export async function startMoto(timeoutMs = 60_000): Promise<RunningMoto> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startMotoOnce(await freePort(), timeoutMs);
    } catch (err) {
      lastError = err as Error;
      if (!/Address already in use|EADDRINUSE/i.test(lastError.message)) throw lastError;
    }
  }
  throw lastError!;
}

async function startMotoOnce(port: number, timeoutMs: number): Promise<RunningMoto> {
  const child = spawn('python3', ['-c', MOTO_SERVER, '-H', LOOPBACK, '-p', String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4096);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let spawnError: Error | undefined;
  child.on('error', (err) => (spawnError = err));
  const endpoint = `http://${LOOPBACK}:${port}`;
  try {
    await waitForHttp(
      `${endpoint}/`,
      timeoutMs,
      () => !spawnError && child.exitCode === null && child.signalCode === null,
    );
  } catch (err) {
    await stopProcess(child);
    throw new Error(`moto did not start on port ${port}: ${spawnError?.message ?? (err as Error).message}\n${output}`);
  }
  // Stop collecting: moto logs every request, and nobody reads it past start-up.
  child.stdout?.removeListener('data', keep).resume();
  child.stderr?.removeListener('data', keep).resume();
  return { endpoint, port, stop: () => stopProcess(child) };
}

export interface StoreProxy {
  /** `http://127.0.0.1:<port>`: use it as the store's endpoint. */
  endpoint: string;
  close(): Promise<void>;
}

/**
 * A plain HTTP proxy in front of a store on loopback: every request goes to
 * `target` unchanged (Host included, so SigV4 signatures still verify), after
 * `before(req)` has run. Lets a test act between two store calls of the
 * server, e.g. replace a copy's source after its HEAD. When `before` gives a
 * number, a status, the proxy reads the request's body and answers that status
 * with an S3 `InternalError` body itself: the store never sees the request.
 */
export async function startStoreProxy(
  target: string,
  before: (req: IncomingMessage) => Promise<unknown>,
): Promise<StoreProxy> {
  const server = createHttpServer((req, res) => {
    before(req)
      .then((status) => {
        if (typeof status === 'number') {
          req.resume();
          req.once('end', () => {
            res.writeHead(status, { 'content-type': 'application/xml' });
            res.end('<Error><Code>InternalError</Code><Message>failed by the test proxy</Message></Error>');
          });
          return;
        }
        const upstream = httpRequest(
          new URL(req.url ?? '/', target),
          { method: req.method, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${LOOPBACK}:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
