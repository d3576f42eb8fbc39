/**
 * boto3 against every store in `testStores()`: runs `boto3_seed.py` (the
 * operations our users run today, from RustFS's boto3 guide) with the store's
 * endpoint and credentials in its environment, once per boto3 checksum
 * setting, and asserts on the JSON it prints.
 */
import { execFile } from 'node:child_process';
import { devNull } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pythonHas } from '../support/servers.js';
import { removeBucket, s3Client, testStores, uniqueBucket, type StoreUnderTest } from '../support/stores.js';

const SCRIPT = fileURLToPath(new URL('./boto3_seed.py', import.meta.url));
const MiB = 1024 * 1024;
const hasBoto3 = await pythonHas('boto3');
if (!hasBoto3) console.warn('boto3 not available: skipping the boto3 conformance runs (python3 cannot import boto3)');

interface SeedResult {
  bucket: string;
  listed_bucket: { name: string; creation_date: string } | null;
  files: Array<{ key: string; size: number; sha256_sent: string; sha256_got: string; size_got: number }>;
  presigned_get: { status: number; sha256: string; size: number };
  multipart: {
    etag: string;
    parts: number;
    sha256_sent: string;
    sha256_got: string;
    size: number;
    head_length: number;
    head_etag: string;
    content_type: string;
  };
  aborted: { raised: string | null; uploads_left?: string[]; object_exists?: boolean };
  head_missing: { raised: boolean; code?: string; status?: number };
  listed_keys: string[];
  list_pages: number;
  deleted: string[];
  delete_errors: unknown[];
  left_after_delete: number;
  bucket_listed_after_delete: boolean;
}

async function runSeed(store: StoreUnderTest, bucket: string, checksum: string): Promise<SeedResult> {
  // A minimal environment: no AWS profile, config file or endpoint of the machine leaks in.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    AWS_CONFIG_FILE: devNull,
    AWS_SHARED_CREDENTIALS_FILE: devNull,
    AWS_REQUEST_CHECKSUM_CALCULATION: checksum,
    AWS_RESPONSE_CHECKSUM_VALIDATION: checksum,
    S3_ENDPOINT: store.endpoint,
    S3_ACCESS_KEY_ID: store.credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: store.credentials.secretAccessKey,
    S3_BUCKET: bucket,
  };
  try {
    const { stdout } = await promisify(execFile)('python3', [SCRIPT], { env, timeout: 120_000, maxBuffer: MiB });
    return JSON.parse(stdout) as SeedResult;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`boto3_seed.py failed on ${store.name}: ${e.stderr?.trim() || e.message}`);
  }
}

describe.skipIf(!hasBoto3).each(testStores())('boto3 on $name', (store) => {
  it.each(['when_supported', 'when_required'])(
    'the seed operations of the RustFS boto3 guide work (checksum %s)',
    async (checksum) => {
      const bucket = uniqueBucket(`boto3-${checksum.replace('_', '-')}`);
      let r: SeedResult;
      const s3 = s3Client(store);
      try {
        r = await runSeed(store, bucket, checksum);
      } finally {
        // The script deletes its bucket; this only cleans up after a failed run.
        await removeBucket(s3, bucket);
        s3.destroy();
      }

      expect(r.listed_bucket?.name).toBe(bucket);
      expect(Number.isNaN(Date.parse(r.listed_bucket!.creation_date))).toBe(false);

      expect(r.files).toHaveLength(2);
      for (const f of r.files) {
        expect(f.sha256_got).toBe(f.sha256_sent);
        expect(f.size_got).toBe(f.size);
      }

      const small = r.files.find((f) => f.key === 'data/small.bin')!;
      expect(r.presigned_get).toEqual({ status: 200, sha256: small.sha256_sent, size: small.size });

      expect(r.multipart.parts).toBe(3);
      expect(r.multipart.etag).toMatch(/^"[0-9a-f]{32}-3"$/);
      expect(r.multipart.head_etag).toBe(r.multipart.etag);
      expect(r.multipart.sha256_got).toBe(r.multipart.sha256_sent);
      expect(r.multipart.size).toBe(11 * MiB);
      expect(r.multipart.head_length).toBe(11 * MiB);
      expect(r.multipart.content_type).toBe('application/zip');

      expect(r.aborted).toEqual({
        raised: 'simulated failure during the upload',
        uploads_left: [],
        object_exists: false,
      });
      expect(r.head_missing).toEqual({ raised: true, code: '404', status: 404 });

      expect(r.listed_keys).toEqual(['big/archive.zip', 'data/large.bin', 'data/small.bin']);
      expect(r.list_pages).toBe(3);
      expect(r.deleted).toEqual(['big/archive.zip', 'data/large.bin']);
      expect(r.delete_errors).toEqual([]);
      expect(r.left_after_delete).toBe(0);
      expect(r.bucket_listed_after_delete).toBe(false);
    },
  );
});
