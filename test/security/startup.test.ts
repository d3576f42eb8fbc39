/**
 * Safe defaults at start-up (`npm start`, i.e. `tsx src/main.ts`): without
 * API keys the server refuses a non-loopback HOST unless ALLOW_ANONYMOUS is
 * set, and bad API keys stop it; each with one clear line on stderr, exit
 * code 1, and before anything listens. The refusals happen while the
 * settings are read, so no socket is ever opened on another address.
 */
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMain } from '../support/main-process.js';

const ROOT = new URL('../../', import.meta.url);

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tsx src/main.ts` with exactly `env` (plus PATH), and waits for it to exit. */
function start(env: Record<string, string>, dataDir: string): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, PORT: '0', EMBEDDED_S3_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not exit within 30 s; stdout: ${stdout}`));
    }, 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

/** A TCP port on 127.0.0.1 held by a server that accepts connections and never answers; `close` drops them. */
async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    port: address.port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A port that was free a moment ago and has nothing listening on it. */
async function closedPort(): Promise<number> {
  const held = await holdPort();
  await held.close();
  return held.port;
}

describe('start-up refusals', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 's3-graphql-startup-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a non-loopback HOST without API keys in one line, exit code 1', async () => {
    const exit = await start({ HOST: '0.0.0.0' }, join(dir, 'data'));
    expect(exit.code).toBe(1);
    expect(exit.stdout).toBe('');
    expect(lines(exit.stderr)).toEqual([
      "s3-graphql: HOST: 0.0.0.0 is not a loopback address, and without API_KEYS anyone who reaches it could use the store's keys; configure API_KEYS or set ALLOW_ANONYMOUS=true",
    ]);
  });

  it('refuses CORS_ORIGINS=* without API keys in one line naming the variable, exit code 1', async () => {
    const exit = await start({ CORS_ORIGINS: '*' }, join(dir, 'data'));
    expect(exit.code).toBe(1);
    expect(exit.stdout).toBe('');
    expect(lines(exit.stderr)).toEqual([
      's3-graphql: CORS_ORIGINS: "*" needs API_KEYS and no ALLOW_ANONYMOUS (with anonymous access any web page could drive the server); list the origins instead',
    ]);
  });

  it('refuses a CORS origin with a path in one line, exit code 1', async () => {
    const exit = await start({ CORS_ORIGINS: 'https://app.example.com, https://b.example.com/app' }, join(dir, 'data'));
    expect(exit.code).toBe(1);
    expect(lines(exit.stderr)).toEqual([
      's3-graphql: CORS_ORIGINS: "https://b.example.com/app" has more than scheme://host[:port] (no path, query or user)',
    ]);
  });

  it('names EMBEDDED_S3_PORT when the embedded store cannot listen, exit code 1', async () => {
    const held = await holdPort();
    try {
      const exit = await start({ EMBEDDED_S3_PORT: String(held.port) }, join(dir, 'data'));
      expect(exit.code).toBe(1);
      expect(lines(exit.stderr).filter((l) => l.startsWith('s3-graphql:'))).toEqual([
        `s3-graphql: EMBEDDED_S3_PORT: port ${held.port} on 127.0.0.1 is already in use`,
      ]);
    } finally {
      await held.close();
    }
  });

  it('names a malformed API_KEYS in one line without echoing it', async () => {
    const secret = 'short-secret';
    const bad = await start({ API_KEYS: `{"keys":[{"name":"a","token":"${secret}"` }, join(dir, 'data'));
    expect(bad.code).toBe(1);
    expect(lines(bad.stderr)).toEqual([
      's3-graphql: API_KEYS: not valid JSON (expected {"keys":[{"name":…,"token":…,"grants":[…]}]})',
    ]);

    const invalid = await start(
      { API_KEYS: JSON.stringify({ keys: [{ name: 'a', token: secret, grants: [{ bucket: '*', role: 'owner' }] }] }) },
      join(dir, 'data'),
    );
    expect(invalid.code).toBe(1);
    const problems = lines(invalid.stderr);
    expect(problems).toEqual([
      's3-graphql: API_KEYS: keys.0.token: a token must be at least 16 characters',
      expect.stringMatching(/^s3-graphql: API_KEYS: keys\.0\.grants\.0\.role: /),
    ]);
    expect(invalid.stderr).not.toContain(secret);
  });

  it('an unreadable API_KEYS_FILE, and a bad tokenSha256 in one, are each one line', async () => {
    const missing = await start({ API_KEYS_FILE: join(dir, 'nope.json') }, join(dir, 'data'));
    expect(missing.code).toBe(1);
    expect(lines(missing.stderr)).toEqual([
      `s3-graphql: API_KEYS_FILE: cannot read ${join(dir, 'nope.json')} (ENOENT)`,
    ]);

    const file = join(dir, 'keys.json');
    await writeFile(
      file,
      JSON.stringify({ keys: [{ name: 'a', tokenSha256: 'xyz', grants: [{ bucket: '*', role: 'read' }] }] }),
    );
    const badHash = await start({ API_KEYS_FILE: file, HOST: '0.0.0.0' }, join(dir, 'data'));
    expect(badHash.code).toBe(1);
    expect(lines(badHash.stderr)).toEqual([
      's3-graphql: API_KEYS_FILE: keys.0.tokenSha256: tokenSha256 must be 64 hex characters',
      "s3-graphql: HOST: 0.0.0.0 is not a loopback address, and without API_KEYS anyone who reaches it could use the store's keys; configure API_KEYS or set ALLOW_ANONYMOUS=true",
    ]);
  });
});

describe('start-up with a store that is down', () => {
  let silent: { port: number; close(): Promise<void> } | undefined;

  afterAll(async () => {
    await silent?.close();
  });

  // A closed port fails at once; a store that accepts connections and never answers must not hold start-up either.
  it.each(['refuses connections', 'accepts connections and never answers'])(
    'serves anyway when the store %s, says so in the log, and /readyz answers 503',
    async (kind) => {
      const started = Date.now();
      let port: number;
      if (kind === 'refuses connections') port = await closedPort();
      else {
        silent = await holdPort();
        port = silent.port;
      }
      const server = await startMain({
        PORT: '0',
        S3_ENDPOINT: `http://127.0.0.1:${port}`,
        S3_ACCESS_KEY_ID: 'test-key',
        S3_SECRET_ACCESS_KEY: 'test-secret-that-must-not-be-logged',
        S3_MAX_ATTEMPTS: '1',
        S3_CONNECT_TIMEOUT_MS: '500',
      });
      const { url } = server;
      try {
        // Within the readiness check's 2 s and the process start, not the SDK's 3 attempts of 120 s.
        expect(Date.now() - started).toBeLessThan(20_000);
        expect((await fetch(`${url}/healthz`)).status).toBe(200);
        // `npm start` serves the web console on / (CONSOLE defaults to true), and says where.
        expect(server.stdout()).toContain(`  console:    open ${url}/ in a browser`);
        const page = await fetch(`${url}/`);
        expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
        const ready = await fetch(`${url}/readyz`);
        expect(ready.status).toBe(503);
        expect(await ready.json()).toMatchObject({ status: 'unavailable' });
        const warning = lines(server.stdout())
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => l.msg === 'the store is not ready; /readyz answers 503 until it is');
        expect(warning).toMatchObject({ level: 40, store: `http://127.0.0.1:${port}` });
        expect(server.stdout() + server.stderr()).not.toContain('test-secret-that-must-not-be-logged');
      } finally {
        await server.stop();
      }
    },
  );
});
