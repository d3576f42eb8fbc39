/**
 * Access control, as a table: every caller (no key, an unknown key, read,
 * write and admin on the bucket, the same on `*`, and a key whose grant is on
 * another bucket) against every query, mutation (the multipart group,
 * both presign methods and copies between two buckets included) and route,
 * over HTTP, with the outcome the grants give. After every denial a direct
 * S3 client checks that the store is unchanged: buckets, objects of both
 * fixture buckets and their ETags, open multipart uploads and their parts.
 * Fields are also asked for with nothing but `__typename`, so that the
 * field's own rule decides and not the type rule of what it returns.
 *
 * The expected outcome is computed here from the grants and what each
 * operation needs (written out below, not taken from `src/security/access.ts`).
 */
import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcome, startServer, type GqlResponse, type TestServer } from '../support/app.js';
import { removeBucket, s3Client, storeForSecurity, testStores } from '../support/stores.js';

type Role = 'read' | 'write' | 'admin';
const RANK: Record<Role, number> = { read: 1, write: 2, admin: 3 };

const run = randomBytes(4).toString('hex');
const PREFIX = `sec-${run}`;
const A = `${PREFIX}-a`;
/** A second bucket with objects, that no key except the `*` ones may read. */
const B = `${PREFIX}-b`;
const ELSEWHERE = `${PREFIX}-elsewhere`;
let freshCounter = 0;
const freshBucket = () => `${PREFIX}-new-${++freshCounter}`;

interface CallerSpec {
  token: string | undefined;
  /** null: not a known key. */
  grants: { bucket: string; role: Role }[] | null;
}

const token = (name: string) => `${name}-token-${run}-0123456789`;
const CALLERS: Record<string, CallerSpec> = {
  none: { token: undefined, grants: null },
  unknown: { token: token('unknown'), grants: null },
  'read@A': { token: token('read-a'), grants: [{ bucket: A, role: 'read' }] },
  'write@A': { token: token('write-a'), grants: [{ bucket: A, role: 'write' }] },
  'admin@A': { token: token('admin-a'), grants: [{ bucket: A, role: 'admin' }] },
  'read@*': { token: token('read-all'), grants: [{ bucket: '*', role: 'read' }] },
  'write@*': { token: token('write-all'), grants: [{ bucket: '*', role: 'write' }] },
  'admin@*': { token: token('admin-all'), grants: [{ bucket: '*', role: 'admin' }] },
  elsewhere: { token: token('elsewhere'), grants: [{ bucket: ELSEWHERE, role: 'admin' }] },
};

const API_KEYS = JSON.stringify({
  keys: Object.entries(CALLERS)
    .filter(([, spec]) => spec.grants !== null)
    .map(([name, spec]) => ({ name, token: spec.token, grants: spec.grants })),
});

const authOf = (spec: CallerSpec): Record<string, string> =>
  spec.token ? { authorization: `Bearer ${spec.token}` } : {};

/** What an operation needs: a role on a bucket, or a role on some bucket. */
type Need = { bucket: string; role: Role } | { anyBucket: true; role: Role };

function rankOn(grants: NonNullable<CallerSpec['grants']>, bucket: string): number {
  return Math.max(0, ...grants.filter((g) => g.bucket === '*' || g.bucket === bucket).map((g) => RANK[g.role]));
}

function expected(spec: CallerSpec, needs: Need[], allowed: string): string {
  if (spec.grants === null) return 'UNAUTHENTICATED';
  const grants = spec.grants;
  const met = needs.every((need) =>
    'anyBucket' in need
      ? grants.some((g) => RANK[g.role] >= RANK[need.role])
      : rankOn(grants, need.bucket) >= RANK[need.role],
  );
  return met ? allowed : 'FORBIDDEN';
}

/** The fixture: bucket A with three objects and one open multipart upload, bucket B with one object. */
const FIXTURE_OBJECTS: Record<string, Record<string, string>> = {
  [A]: { 'doc.txt': 'the document', 'dir/one.txt': 'one', 'dir/two.txt': 'two' },
  [B]: { 'secret.txt': 'only for keys that may read B' },
};
const PENDING_KEY = 'pending.bin';
const BOGUS_UPLOAD_ID = 'no-such-upload-id-0000';

interface Snapshot {
  buckets: string[];
  objects: string[];
  uploads: string[];
  pendingParts: string[];
}

interface Operation {
  name: string;
  needs: () => Need[];
  /** The outcome when the grants allow it (OK, or the store's answer when it cannot succeed here). */
  allowed?: string;
  run(server: TestServer, auth: Record<string, string>): Promise<string>;
}

const gqlOp =
  (query: string, variables: () => Record<string, unknown>) =>
  async (server: TestServer, auth: Record<string, string>): Promise<string> =>
    outcome(await server.gql(query, variables(), auth));

const uploadOp =
  (query: string, variables: () => Record<string, unknown>) =>
  async (server: TestServer, auth: Record<string, string>): Promise<string> =>
    outcome(await server.upload(query, variables(), { file: 'new bytes' }, auth));

const routeOp =
  (method: 'GET' | 'HEAD', path: () => string) => async (server: TestServer, auth: Record<string, string>) => {
    const res = await fetch(`${server.base}${path()}`, { method, headers: auth });
    await res.arrayBuffer();
    const byStatus: Record<number, string> = { 200: 'OK', 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN' };
    return byStatus[res.status] ?? `HTTP ${res.status}`;
  };

let pendingUploadId = '';
let createBucketTarget = '';

const OPERATIONS: Operation[] = [
  {
    name: 'query buckets',
    needs: () => [],
    run: gqlOp('{ buckets { name } }', () => ({})),
  },
  {
    name: 'query viewer',
    needs: () => [],
    run: gqlOp('{ viewer { name anonymous grants { bucket role } } }', () => ({})),
  },
  {
    name: 'query bucket (with objects and createdAt)',
    needs: () => [{ bucket: A, role: 'read' }],
    run: gqlOp('query($b: String!) { bucket(name: $b) { name createdAt objects { edges { node { key } } } } }', () => ({
      b: A,
    })),
  },
  {
    name: 'query bucket (only __typename: its existence)',
    needs: () => [{ bucket: A, role: 'read' }],
    run: gqlOp('query($b: String!) { bucket(name: $b) { __typename } }', () => ({ b: A })),
  },
  {
    name: 'query object (only __typename: its existence)',
    needs: () => [{ bucket: A, role: 'read' }],
    run: gqlOp('query($b: String!) { object(bucket: $b, key: "doc.txt") { __typename } }', () => ({ b: A })),
  },
  {
    name: 'query object (with contentType, metadata and presigned url)',
    needs: () => [{ bucket: A, role: 'read' }],
    run: gqlOp(
      'query($b: String!) { object(bucket: $b, key: "doc.txt") { key contentType metadata { key } url } }',
      () => ({ b: A }),
    ),
  },
  {
    name: 'query bucket.multipartUploads (with parts)',
    needs: () => [{ bucket: A, role: 'read' }],
    run: gqlOp('query($b: String!) { bucket(name: $b) { multipartUploads { key parts { partNumber } } } }', () => ({
      b: A,
    })),
  },
  {
    name: 'mutation createBucket (a new name)',
    needs: () => [{ bucket: createBucketTarget, role: 'admin' }],
    run: gqlOp('mutation($n: String!) { createBucket(name: $n) { name } }', () => ({ n: createBucketTarget })),
  },
  {
    name: 'mutation deleteBucket (not empty, without force)',
    needs: () => [{ bucket: A, role: 'admin' }],
    allowed: 'BUCKET_NOT_EMPTY',
    run: gqlOp('mutation($n: String!) { deleteBucket(name: $n) }', () => ({ n: A })),
  },
  {
    name: 'mutation uploadObject (multipart request)',
    needs: () => [{ bucket: A, role: 'write' }],
    run: uploadOp(
      'mutation($b: String!, $file: Upload!) { uploadObject(bucket: $b, key: "new.txt", file: $file) { key } }',
      () => ({ b: A }),
    ),
  },
  {
    name: 'mutation deleteObject',
    needs: () => [{ bucket: A, role: 'write' }],
    run: gqlOp('mutation($b: String!) { deleteObject(bucket: $b, key: "doc.txt") }', () => ({ b: A })),
  },
  {
    name: 'mutation deleteObjects',
    needs: () => [{ bucket: A, role: 'write' }],
    run: gqlOp('mutation($b: String!) { deleteObjects(bucket: $b, keys: ["dir/one.txt"]) { deleted } }', () => ({
      b: A,
    })),
  },
  {
    name: 'mutation deletePrefix',
    needs: () => [{ bucket: A, role: 'write' }],
    run: gqlOp('mutation($b: String!) { deletePrefix(bucket: $b, prefix: "dir/") { deleted } }', () => ({ b: A })),
  },
  {
    name: 'mutation copyObject',
    needs: () => [
      { bucket: A, role: 'read' },
      { bucket: A, role: 'write' },
    ],
    run: gqlOp(
      'mutation($b: String!) { copyObject(sourceBucket: $b, sourceKey: "doc.txt", bucket: $b, key: "copy.txt") { key } }',
      () => ({ b: A }),
    ),
  },
  {
    name: 'mutation copyObject from B into A (only __typename)',
    needs: () => [
      { bucket: B, role: 'read' },
      { bucket: A, role: 'write' },
    ],
    run: gqlOp(
      'mutation($s: String!, $b: String!) { copyObject(sourceBucket: $s, sourceKey: "secret.txt", bucket: $b, key: "copied.txt") { __typename } }',
      () => ({ s: B, b: A }),
    ),
  },
  {
    name: 'mutation copyObject from A into B (only __typename)',
    needs: () => [
      { bucket: A, role: 'read' },
      { bucket: B, role: 'write' },
    ],
    run: gqlOp(
      'mutation($s: String!, $b: String!) { copyObject(sourceBucket: $s, sourceKey: "doc.txt", bucket: $b, key: "copied.txt") { __typename } }',
      () => ({ s: A, b: B }),
    ),
  },
  {
    name: 'mutation presign GET',
    needs: () => [{ bucket: A, role: 'read' }],
    run: gqlOp('mutation($b: String!) { presign(bucket: $b, key: "doc.txt", method: GET) { url } }', () => ({ b: A })),
  },
  {
    name: 'mutation presign PUT',
    needs: () => [{ bucket: A, role: 'write' }],
    run: gqlOp('mutation($b: String!) { presign(bucket: $b, key: "new.txt", method: PUT) { url } }', () => ({ b: A })),
  },
  {
    name: 'mutation multipart.create',
    needs: () => [{ bucket: A, role: 'write' }],
    run: gqlOp('mutation($b: String!) { multipart { create(bucket: $b, key: "mp.bin") { uploadId } } }', () => ({
      b: A,
    })),
  },
  {
    name: 'mutation multipart.uploadPart (multipart request)',
    needs: () => [{ bucket: A, role: 'write' }],
    run: uploadOp(
      `mutation($b: String!, $u: String!, $file: Upload!) {
        multipart { uploadPart(bucket: $b, key: "${PENDING_KEY}", uploadId: $u, partNumber: 1, file: $file) { partNumber } } }`,
      () => ({ b: A, u: pendingUploadId }),
    ),
  },
  {
    name: 'mutation multipart.presignPart',
    needs: () => [{ bucket: A, role: 'write' }],
    run: gqlOp(
      `mutation($b: String!, $u: String!) { multipart { presignPart(bucket: $b, key: "${PENDING_KEY}", uploadId: $u, partNumber: 1) { url } } }`,
      () => ({ b: A, u: pendingUploadId }),
    ),
  },
  {
    name: 'mutation multipart.complete (unknown upload)',
    needs: () => [{ bucket: A, role: 'write' }],
    allowed: 'NO_SUCH_UPLOAD',
    run: gqlOp(
      `mutation($b: String!) { multipart { complete(bucket: $b, key: "${PENDING_KEY}", uploadId: "${BOGUS_UPLOAD_ID}") { key } } }`,
      () => ({ b: A }),
    ),
  },
  {
    name: 'mutation multipart.abort (unknown upload)',
    needs: () => [{ bucket: A, role: 'write' }],
    allowed: 'NO_SUCH_UPLOAD',
    run: gqlOp(
      `mutation($b: String!) { multipart { abort(bucket: $b, key: "${PENDING_KEY}", uploadId: "${BOGUS_UPLOAD_ID}") } }`,
      () => ({
        b: A,
      }),
    ),
  },
  {
    name: 'mutation multipart.abortStale (one bucket, dry run)',
    needs: () => [{ bucket: A, role: 'write' }],
    run: gqlOp(
      'mutation($b: String!) { multipart { abortStale(bucket: $b, olderThanSeconds: 0, dryRun: true) { dryRun } } }',
      () => ({
        b: A,
      }),
    ),
  },
  {
    name: 'mutation multipart.abortStale (every bucket, dry run)',
    needs: () => [{ anyBucket: true, role: 'write' }],
    run: gqlOp(
      'mutation { multipart { abortStale(olderThanSeconds: 0, prefix: "none-such/", dryRun: true) { dryRun } } }',
      () => ({}),
    ),
  },
  {
    name: 'GET /objects/{bucket}/{key}',
    needs: () => [{ bucket: A, role: 'read' }],
    run: routeOp('GET', () => `/objects/${A}/doc.txt`),
  },
  {
    name: 'HEAD /objects/{bucket}/{key}',
    needs: () => [{ bucket: A, role: 'read' }],
    run: routeOp('HEAD', () => `/objects/${A}/doc.txt`),
  },
];

describe('access control: every caller × every operation', () => {
  const store = storeForSecurity(testStores());
  let s3: S3Client;
  let server: TestServer;

  async function snapshot(): Promise<Snapshot> {
    const listed = await s3.send(new ListBucketsCommand({}));
    const buckets = (listed.Buckets ?? [])
      .map((b) => b.Name!)
      .filter((n) => n.startsWith(PREFIX))
      .sort();
    const objects: string[] = [];
    for (const bucket of [A, B]) {
      let ContinuationToken: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken }));
        for (const o of page.Contents ?? []) objects.push(`${bucket} ${o.Key} ${o.ETag}`);
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
    }
    const uploads = ((await s3.send(new ListMultipartUploadsCommand({ Bucket: A }))).Uploads ?? []).map(
      (u) => `${u.Key} ${u.UploadId}`,
    );
    const parts = await s3.send(new ListPartsCommand({ Bucket: A, Key: PENDING_KEY, UploadId: pendingUploadId }));
    return {
      buckets,
      objects: objects.sort(),
      uploads: uploads.sort(),
      pendingParts: (parts.Parts ?? []).map((p) => `${p.PartNumber} ${p.ETag}`),
    };
  }

  /** Puts the fixture back after an allowed operation changed it. */
  async function restore(): Promise<void> {
    const now = await snapshot();
    for (const bucket of now.buckets)
      if (!(bucket in FIXTURE_OBJECTS)) await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    const present = new Set(now.objects.map((line) => line.slice(0, line.lastIndexOf(' '))));
    for (const line of present) {
      const [bucket, key] = line.split(' ') as [string, string];
      if (!(key in FIXTURE_OBJECTS[bucket]!)) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    }
    await putFixtureObjects((bucket, key) => !present.has(`${bucket} ${key}`));
    // A part was uploaded to the pending upload: it is replaced by a fresh one without parts.
    const renew = now.pendingParts.length > 0;
    const uploads = (await s3.send(new ListMultipartUploadsCommand({ Bucket: A }))).Uploads ?? [];
    for (const u of uploads) {
      if (renew || u.UploadId !== pendingUploadId) {
        await s3.send(new AbortMultipartUploadCommand({ Bucket: A, Key: u.Key, UploadId: u.UploadId }));
      }
    }
    if (renew) await openPending();
  }

  async function putFixtureObjects(missing: (bucket: string, key: string) => boolean): Promise<void> {
    for (const [bucket, objects] of Object.entries(FIXTURE_OBJECTS)) {
      for (const [key, body] of Object.entries(objects)) {
        if (missing(bucket, key))
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'text/plain' }));
      }
    }
  }

  async function openPending(): Promise<void> {
    pendingUploadId = (await s3.send(new CreateMultipartUploadCommand({ Bucket: A, Key: PENDING_KEY }))).UploadId!;
  }

  let fixture: Snapshot;

  beforeAll(async () => {
    s3 = s3Client(store);
    for (const bucket of [A, B]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await putFixtureObjects(() => true);
    await openPending();
    server = await startServer(store, { API_KEYS, RATE_LIMIT_PER_MINUTE: '0' });
    fixture = await snapshot();
  });

  afterAll(async () => {
    await server?.close();
    if (s3) {
      for (const bucket of (await snapshot().catch(() => ({ buckets: [A, B] }))).buckets)
        await removeBucket(s3, bucket);
      s3.destroy();
    }
  });

  it.each(OPERATIONS.map((op) => [op.name, op] as const))('%s', async (_name, op) => {
    const want: Record<string, string> = {};
    const got: Record<string, string> = {};
    const changedByDenial: string[] = [];
    for (const [callerName, spec] of Object.entries(CALLERS)) {
      createBucketTarget = freshBucket();
      want[callerName] = expected(spec, op.needs(), op.allowed ?? 'OK');
      const before = await snapshot();
      got[callerName] = await op.run(server, authOf(spec));
      const after = await snapshot();
      if (got[callerName] === 'UNAUTHENTICATED' || got[callerName] === 'FORBIDDEN') {
        if (JSON.stringify(after) !== JSON.stringify(before)) changedByDenial.push(callerName);
      }
      if (JSON.stringify(after) !== JSON.stringify(fixture)) {
        await restore();
        fixture = await snapshot();
      }
    }
    expect(got).toEqual(want);
    expect(changedByDenial).toEqual([]);
  });

  it('lists only the buckets a key holds a grant on', async () => {
    const names = async (caller: string) => {
      const answer: GqlResponse = await server.gql('{ buckets { name } }', {}, authOf(CALLERS[caller]!));
      expect(answer.body.errors).toBeUndefined();
      return (answer.body.data!.buckets as { name: string }[]).map((b) => b.name).filter((n) => n.startsWith(PREFIX));
    };
    expect(await names('read@A')).toEqual([A]);
    expect(await names('admin@*')).toEqual([A, B]);
    expect(await names('elsewhere')).toEqual([]);
  });

  it('refuses an Authorization header that is anything more or less than "Bearer <token>"', async () => {
    const valid = CALLERS['admin@*']!.token!;
    const malformed = [
      `Bearer ${valid} junk`,
      `junk Bearer ${valid}`,
      `Bearer${valid}`,
      `Basic ${valid}`,
      `Bearer ${valid},Bearer other`,
      valid,
    ];
    const got = await Promise.all(
      malformed.map(async (authorization) => {
        const answer = await server.gql('{ buckets { name } }', {}, { authorization });
        return `${answer.status} ${outcome(answer)}`;
      }),
    );
    expect(got).toEqual(malformed.map(() => '401 UNAUTHENTICATED'));
    expect(outcome(await server.gql('{ buckets { name } }', {}, { authorization: `bearer \t ${valid}` }))).toBe('OK');
  });

  it('answers a denial with the field path, a message naming the bucket and role, and 401 with WWW-Authenticate', async () => {
    const denied = await server.gql(
      'mutation($b: String!) { deleteObject(bucket: $b, key: "doc.txt") }',
      { b: A },
      authOf(CALLERS['read@A']!),
    );
    expect(denied.body.errors).toEqual([
      expect.objectContaining({
        path: ['deleteObject'],
        message: `This API key may not write to bucket "${A}".`,
        extensions: expect.objectContaining({ code: 'FORBIDDEN', bucket: A, role: 'write' }),
      }),
    ]);
    const route = await fetch(`${server.base}/objects/${A}/doc.txt`);
    expect(route.status).toBe(401);
    expect(route.headers.get('www-authenticate')).toBe('Bearer');
    await route.arrayBuffer();
  });
});
