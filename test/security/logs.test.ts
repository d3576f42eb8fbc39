/**
 * No leaks: a run with wrong tokens, a store that refuses the server's
 * credentials and unexpected errors (whose messages even carry secrets)
 * logs what an operator needs — the error's type, code and the store's
 * error code — but never a token, the store's secret key, REDIS_URL's
 * password or a stack trace, and the answers carry none of them either.
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcome, startServer, type TestServer } from '../support/app.js';
import { createTestBucket, removeBucket, s3Client, storeForSecurity, testStores } from '../support/stores.js';

const TOKEN = 'logged-token-must-not-appear-0001';
const HASHED_TOKEN = 'hashed-token-must-not-appear-0002';
const WRONG_TOKEN = 'wrong-token-must-not-appear-0003';
const WRONG_SECRET = 'wrong-store-secret-must-not-appear-0004';
const CURSOR_SECRET = 'cursor-secret-must-not-appear-0005-padding';
/** As it is written in REDIS_URL (percent-encoded) and as the Redis client sends it. */
const REDIS_PASSWORD_ENCODED = 'redis-pass%2Fmust-not-appear-0006';
const REDIS_PASSWORD = 'redis-pass/must-not-appear-0006';
const OTLP_PASSWORD = 'otlp-pass-must-not-appear-0007';
/** Never connected to: RATE_LIMIT_PER_MINUTE=0 leaves the shared rate limit off. */
const REDIS_URL = `redis://limiter:${REDIS_PASSWORD_ENCODED}@127.0.0.1:6390/0`;

const API_KEYS = JSON.stringify({
  keys: [
    { name: 'plain', token: TOKEN, grants: [{ bucket: '*', role: 'admin' }] },
    {
      name: 'hashed',
      tokenSha256: createHash('sha256').update(HASHED_TOKEN).digest('hex'),
      grants: [{ bucket: '*', role: 'read' }],
    },
  ],
});

/** A stack frame as V8 prints it: "at fn (file:line:column)" or "at file:line:column". */
const STACK_FRAME = /\bat (?:[^\s()]+ \()?[^\s()]+:\d+:\d+\)?/;

describe('logs and answers keep secrets out', () => {
  const store = storeForSecurity(testStores());
  let s3: S3Client;
  let bucket: string;
  let good: TestServer;
  let misconfigured: TestServer;
  const answers: string[] = [];

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'sec-logs');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'body' }));
    good = await startServer(store, {
      API_KEYS,
      RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'debug',
      CURSOR_SECRET,
      REDIS_URL,
      // Only main.ts starts tracing: here the endpoint is a setting, its password a secret.
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://collector:${OTLP_PASSWORD}@127.0.0.1:4318`,
    });
    misconfigured = await startServer(store, {
      API_KEYS,
      RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'debug',
      S3_SECRET_ACCESS_KEY: WRONG_SECRET,
    });
  });

  afterAll(async () => {
    await good?.close();
    await misconfigured?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  const keep = async (res: Response) => {
    const text = await res.text();
    answers.push(text, JSON.stringify([...res.headers]));
    return { status: res.status, text };
  };

  it('a wrong token is UNAUTHENTICATED, on /graphql and /objects', async () => {
    const gql = await good.gql('{ buckets { name } }', {}, { authorization: `Bearer ${WRONG_TOKEN}` });
    answers.push(JSON.stringify(gql.body));
    expect(outcome(gql)).toBe('UNAUTHENTICATED');
    expect(gql.status).toBe(401);
    expect(
      (
        await keep(
          await fetch(`${good.base}/objects/${bucket}/k`, { headers: { authorization: `Bearer ${WRONG_TOKEN}` } }),
        )
      ).status,
    ).toBe(401);
    const hashed = await good.gql(
      `{ bucket(name: "${bucket}") { name } }`,
      {},
      { authorization: `Bearer ${HASHED_TOKEN}` },
    );
    expect(outcome(hashed)).toBe('OK');
  });

  it('a store that refuses the server’s credentials is INTERNAL_SERVER_ERROR, logged with the store’s code', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const gql = await misconfigured.gql('{ buckets { name } }', {}, auth);
    answers.push(JSON.stringify(gql.body));
    expect(outcome(gql)).toBe('INTERNAL_SERVER_ERROR');
    expect(gql.body.errors![0]!.message).toMatch(/rejected the server’s credentials/);
    const download = await keep(await fetch(`${misconfigured.base}/objects/${bucket}/k`, { headers: auth }));
    expect(download.status).toBe(500);
    const logged = misconfigured.logText();
    expect(logged).toContain('SignatureDoesNotMatch');
  });

  it('an unexpected error is "Unexpected error." to the client and its type in the log, with the secrets in its message scrubbed', async () => {
    const secretMessage = `boom with ${TOKEN} and ${store.credentials.secretAccessKey} and ${CURSOR_SECRET} and Bearer ${WRONG_TOKEN} and ${REDIS_URL} and ${REDIS_PASSWORD} and ${OTLP_PASSWORD}`;
    const { app } = good;
    const listBuckets = app.store.listBuckets.bind(app.store);
    const getObject = app.store.getObject.bind(app.store);
    app.store.listBuckets = () => Promise.reject(new TypeError(secretMessage));
    app.store.getObject = () => Promise.reject(new RangeError(secretMessage));
    try {
      const auth = { authorization: `Bearer ${TOKEN}` };
      const gql = await good.gql('{ buckets { name } }', {}, { ...auth, 'x-request-id': 'leak-check-1' });
      answers.push(JSON.stringify(gql.body));
      expect(gql.body.errors).toEqual([
        expect.objectContaining({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
      ]);
      const download = await keep(
        await fetch(`${good.base}/objects/${bucket}/k`, { headers: { ...auth, 'x-request-id': 'leak-check-2' } }),
      );
      expect(download.status).toBe(500);
      expect(JSON.parse(download.text)).toEqual({
        errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
      });
    } finally {
      app.store.listBuckets = listBuckets;
      app.store.getObject = getObject;
    }
    const lines = good
      .logText()
      .split('\n')
      .filter((l) => l.includes('leak-check-'))
      .map((l) => JSON.parse(l) as { level: number; err?: { type?: string; message?: string } });
    const errors = lines.filter((l) => l.level === 50);
    expect(errors.map((l) => l.err?.type).sort()).toEqual(['RangeError', 'TypeError']);
    for (const line of errors)
      expect(line.err?.message).toBe(
        'boom with [redacted] and [redacted] and [redacted] and Bearer [redacted] and [redacted] and [redacted] and [redacted]',
      );
  });

  it('logs each store call as one short debug line, never its input or output body', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const content = 'payload-that-must-not-be-logged '.repeat(32 * 1024);
    const uploaded = await good.upload(
      'mutation Up($bucket: String!, $file: Upload!) { uploadObject(bucket: $bucket, key: "logged", file: $file) { size } }',
      { bucket },
      { file: content },
      auth,
    );
    expect(uploaded.body.data).toEqual({ uploadObject: { size: content.length } });
    const download = await fetch(`${good.base}/objects/${bucket}/logged`, { headers: auth });
    expect((await download.text()).length).toBe(content.length);
    const lines = good
      .logText()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => ({ text: l, line: JSON.parse(l) as Record<string, unknown> }));
    const calls = lines.filter(({ line }) => line.msg === 'store call').map(({ line }) => line);
    expect(calls).toContainEqual(
      expect.objectContaining({ level: 20, command: 'PutObjectCommand', bucket, key: 'logged', status: 200 }),
    );
    expect(calls).toContainEqual(
      expect.objectContaining({ level: 20, command: 'GetObjectCommand', bucket, key: 'logged', status: 200 }),
    );
    for (const { text } of lines) {
      expect(text.length).toBeLessThan(2048);
      expect(text).not.toContain('payload-that-must-not-be-logged');
      expect(text).not.toContain('"Body"');
    }
  });

  it('no log line and no answer holds a token, the store’s secret key or a stack trace', () => {
    const everything = [good.logText(), misconfigured.logText(), ...answers].join('\n');
    expect(good.logText().length).toBeGreaterThan(0);
    for (const secret of [
      TOKEN,
      HASHED_TOKEN,
      WRONG_TOKEN,
      WRONG_SECRET,
      CURSOR_SECRET,
      REDIS_PASSWORD_ENCODED,
      REDIS_PASSWORD,
      OTLP_PASSWORD,
      store.credentials.secretAccessKey,
    ]) {
      expect(everything).not.toContain(secret);
    }
    expect(everything).not.toMatch(STACK_FRAME);
    expect(everything).not.toContain('"stack"');
  });
});
