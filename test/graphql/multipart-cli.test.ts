/**
 * Cleanup of abandoned multipart uploads outside GraphQL: the cut-off of
 * `abortStaleUploads` (src/s3/stale-uploads.ts) and the cron command
 * `npm run abort-stale` (src/cli), in-process and as a real process,
 * against every test store, results checked with a direct S3 client.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAbortStale, parseDuration } from '../../src/cli/stale-command.js';
import { loadConfig } from '../../src/config/index.js';
import { CREDENTIALS_FILE } from '../../src/embedded/index.js';
import { createS3Client, type ResolvedStoreSettings } from '../../src/s3/client.js';
import { Store } from '../../src/s3/store.js';
import { abortStaleUploads } from '../../src/s3/stale-uploads.js';
import { storeEnv } from '../support/app.js';
import { freePort } from '../support/servers.js';
import { createTestBucket, removeBucket, s3Client, testStores } from '../support/stores.js';

/** Runs the command in-process and collects what it printed. */
async function run(argv: string[], env: NodeJS.ProcessEnv) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runAbortStale(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { status, out, err: err.join('\n') };
}

describe('parseDuration', () => {
  it('reads seconds, minutes, hours, days and weeks, and nothing else', () => {
    expect(['90', '90s', '30m', '24h', '7d', '2w', ' 1H '].map(parseDuration)).toEqual([
      90, 90, 1800, 86_400, 604_800, 1_209_600, 3600,
    ]);
    for (const bad of ['', 'h', '-1h', '1.5h', '1y', '1h30m', '99999999999999999999w'])
      expect(parseDuration(bad)).toBeUndefined();
  });
});

describe.each(testStores())('abandoned-upload cleanup on $name', (store) => {
  const s3 = s3Client(store);
  let bucket: string;
  const env = storeEnv(store, { LOG_LEVEL: 'silent' });

  beforeAll(async () => {
    bucket = await createTestBucket(s3, 'mp-stale');
  });
  afterAll(async () => {
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  const start = async (key: string) =>
    (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId!;
  const open = async (prefix: string) =>
    ((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }))).Uploads ?? []).map((u) => ({
      key: u.Key!,
      uploadId: u.UploadId!,
      initiated: u.Initiated!,
    }));

  it('abortStaleUploads aborts exactly the uploads started before now − olderThanSeconds', async () => {
    const config = loadConfig(env);
    const client = createS3Client(config.store as ResolvedStoreSettings);
    const s = new Store(client, client, {
      partSize: config.uploadPartSize,
      queueSize: 1,
      maxUploadBytes: config.maxUploadBytes,
    });
    try {
      await start('cut/a');
      const [upload] = await open('cut/');
      // "Now" is ten seconds after the store says the upload started.
      const now = new Date(upload!.initiated.getTime() + 10_000);
      const younger = await abortStaleUploads(s, {
        buckets: [bucket],
        olderThanSeconds: 11,
        prefix: 'cut/',
        dryRun: false,
        now,
      });
      expect(younger).toMatchObject({ aborted: [], failed: [], undated: 0 });
      expect(younger.cutoff.getTime()).toBe(upload!.initiated.getTime() - 1000);
      expect(await open('cut/')).toHaveLength(1);
      const older = await abortStaleUploads(s, {
        buckets: [bucket],
        olderThanSeconds: 9,
        prefix: 'cut/',
        dryRun: false,
        now,
      });
      expect(older.aborted.map((u) => [u.key, u.uploadId])).toEqual([['cut/a', upload!.uploadId]]);
      expect(await open('cut/')).toEqual([]);
      // A bucket that does not exist: an error, unless it came from a listing.
      const missing = `${bucket}-gone`;
      await expect(
        abortStaleUploads(s, { buckets: [missing], olderThanSeconds: 0, dryRun: true }),
      ).rejects.toMatchObject({
        code: 'NO_SUCH_BUCKET',
      });
      expect(
        await abortStaleUploads(s, { buckets: [missing], olderThanSeconds: 0, dryRun: true, skipMissingBuckets: true }),
      ).toMatchObject({
        aborted: [],
      });
    } finally {
      client.destroy();
    }
  });

  it('npm run abort-stale: --dry-run lists, then a real run aborts, only under the prefix and in the bucket given', async () => {
    const ids = [await start('cron/one'), await start('cron/two'), await start('keep/three')];
    const dry = await run(['--older-than', '0s', '--bucket', bucket, '--prefix', 'cron/', '--dry-run'], env);
    expect(dry.status).toBe(0);
    expect(dry.err).toBe('');
    expect(dry.out.slice(0, 2)).toEqual([
      expect.stringMatching(
        new RegExp(`^would abort bucket=${bucket} key="cron/one" uploadId=${literal(ids[0]!)} initiated=\\d{4}-`),
      ),
      expect.stringMatching(
        new RegExp(`^would abort bucket=${bucket} key="cron/two" uploadId=${literal(ids[1]!)} initiated=`),
      ),
    ]);
    expect(dry.out[2]).toMatch(
      /^abort-stale: 2 uploads would abort \(started before .*Z, older than 0s\) in 1 bucket$/,
    );
    expect(await open('')).toHaveLength(3);

    const real = await run(['--older-than', '0', '--bucket', bucket, '--prefix', 'cron/'], env);
    expect(real.status).toBe(0);
    expect(real.out.filter((l) => l.startsWith('aborted '))).toHaveLength(2);
    expect((await open('')).map((u) => u.uploadId)).toEqual([ids[2]]);

    // Far older than anything: nothing to do.
    const none = await run(['--older-than', '5000w', '--bucket', bucket], env);
    expect(none).toMatchObject({ status: 0, err: '' });
    expect(none.out).toEqual([expect.stringMatching(/^abort-stale: 0 uploads aborted /)]);
  });

  it('usage and settings problems exit with status 2 before touching the store', async () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [[], env, /--older-than is required/],
      [['--older-than', 'soon'], env, /"soon" is not an age/],
      [['--older-than', '1h', '--bucket', 'Bad_Name'], env, /--bucket: "Bad_Name"/],
      [['--older-than', '1h', '--frobnicate'], env, /Unknown option/],
      [['--older-than', '1h'], { ...env, S3_ENDPOINT: 'ftp://x' }, /^abort-stale: S3_ENDPOINT: /],
      [['--older-than', '1h'], { LOG_LEVEL: 'silent', EMBEDDED_S3_PORT: '0' }, /EMBEDDED_S3_PORT is 0/],
    ];
    for (const [argv, e, message] of cases) {
      const result = await run(argv, e);
      expect({ argv, status: result.status }).toEqual({ argv, status: 2 });
      expect(result.err).toMatch(message);
      expect(result.out).toEqual([]);
    }
    expect((await run(['--help'], env)).out[0]).toMatch(/^usage: npm run abort-stale/);
  });

  it('without S3_ENDPOINT it uses the running embedded store at EMBEDDED_S3_PORT with the keys in DATA_DIR', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mp-cli-data-'));
    try {
      const port = new URL(store.endpoint).port;
      const noKeys = await run(['--older-than', '1h', '--bucket', bucket], {
        DATA_DIR: dataDir,
        EMBEDDED_S3_PORT: port,
      });
      expect(noKeys.status).toBe(2);
      expect(noKeys.err).toContain(CREDENTIALS_FILE);

      await writeFile(join(dataDir, CREDENTIALS_FILE), JSON.stringify(store.credentials), { mode: 0o600 });
      const id = await start('embedded-mode/x');
      const result = await run(['--older-than', '0s', '--bucket', bucket, '--prefix', 'embedded-mode/'], {
        DATA_DIR: dataDir,
        EMBEDDED_S3_PORT: port,
      });
      expect({ status: result.status, err: result.err }).toEqual({ status: 0, err: '' });
      expect(result.out[0]).toContain(`uploadId=${id}`);
      expect(await open('embedded-mode/')).toEqual([]);
      // No secret is ever printed.
      expect([...result.out, noKeys.err].join('\n')).not.toContain(store.credentials.secretAccessKey);

      const closed = String(await freePort());
      const down = await run(['--older-than', '1h'], {
        DATA_DIR: dataDir,
        EMBEDDED_S3_PORT: closed,
        S3_MAX_ATTEMPTS: '1',
      });
      expect(down.status).toBe(1);
      expect(down.err).toBe(
        `abort-stale: the store at http://127.0.0.1:${closed} does not answer (is the server with its embedded store running?)`,
      );
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('runs as a process, as cron would start it', async () => {
    const id = await start('process/x');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/abort-stale.ts', '--older-than', '0s', '--bucket', bucket, '--prefix', 'process/'],
      {
        env: { PATH: process.env.PATH, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
    // Nothing on stderr, which cron would mail (not even the SDK's notice about Node versions).
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    expect(stdout).toContain(`uploadId=${id}`);
    expect(stdout).toMatch(/abort-stale: 1 upload aborted /);
    expect(await open('process/')).toEqual([]);
  });
});

/** A string as a literal inside a RegExp. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
