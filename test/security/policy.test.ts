/**
 * The one access mechanism covers the whole schema: every field of the root
 * and group types has a rule of `src/security/access.ts` attached through Pothos
 * scope-auth, the object types that reach the store have a type rule, every
 * other object type is plain data, and every rule of the table is used.
 * Type rules hold on their own, even where a field above let a bucket
 * through.
 */
import { createRequire } from 'node:module';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize, authorizeOperation, forbidden, POLICY, unmet } from '../../src/security/access.js';
import { Keyring, type Caller } from '../../src/security/auth.js';
import { loadConfig } from '../../src/config/index.js';
import type { AppError } from '../../src/core/errors.js';
import { createS3Client, type ResolvedStoreSettings } from '../../src/s3/client.js';
import { Store } from '../../src/s3/store.js';
import { schema } from '../../src/graphql/schema/index.js';
import { createYogaApp } from '../../src/graphql/yoga.js';
import { storeEnv } from '../support/app.js';
import { createTestBucket, removeBucket, s3Client, storeForSecurity, testStores } from '../support/stores.js';

const graphql = createRequire(import.meta.url)('graphql') as typeof import('graphql');

/** Types whose every field is checked by the rule of one of their fields' parents (`fieldAccess`). */
const ROOT_TYPES = ['Query', 'Mutation', 'MultipartMutations'];
/** Types with a type rule (`typeAccess`): reached by several paths, and their fields call the store. */
const GUARDED_TYPES = ['Bucket', 'Object', 'MultipartUpload'];
/** Plain data: their fields only read what the field that returned them resolved (no store call, nothing signed). */
const DATA_TYPES = [
  'AbortStaleFailure',
  'AbortStaleResult',
  'CorsRule',
  'DeleteObjectError',
  'DeleteObjectsResult',
  'Grant',
  'MetadataEntry',
  'ObjectConnection',
  'ObjectEdge',
  'PageInfo',
  'PresignedPost',
  'PresignedUrl',
  'UploadedPart',
  'UploadRules',
  'Viewer',
];

const pothosOptions = (thing: { extensions?: unknown }) =>
  ((thing.extensions ?? {}) as { pothosOptions?: { authScopes?: unknown } }).pothosOptions ?? {};

const codeOf = (fn: () => void): string => {
  try {
    fn();
  } catch (err) {
    return (err as AppError).code;
  }
  return 'OK';
};

describe('the access policy covers the schema', () => {
  const objectTypes = Object.values(schema.getTypeMap()).filter(
    (t): t is import('graphql').GraphQLObjectType => graphql.isObjectType(t) && !t.name.startsWith('__'),
  );

  it('every field of the root and group types has its rule', () => {
    const missing: string[] = [];
    for (const typeName of ROOT_TYPES) {
      const type = schema.getType(typeName) as import('graphql').GraphQLObjectType;
      for (const field of Object.values(type.getFields())) {
        const coordinate = `${typeName}.${field.name}`;
        if (typeof pothosOptions(field).authScopes !== 'function' || !(coordinate in POLICY)) missing.push(coordinate);
      }
    }
    expect(missing).toEqual([]);
  });

  it('Bucket, Object and MultipartUpload have a type rule; every other object type is listed as plain data', () => {
    for (const name of GUARDED_TYPES) {
      expect(typeof pothosOptions(schema.getType(name)!).authScopes, name).toBe('function');
      expect(name in POLICY, name).toBe(true);
    }
    const unclassified = objectTypes
      .map((t) => t.name)
      .filter((name) => !ROOT_TYPES.includes(name) && !GUARDED_TYPES.includes(name) && !DATA_TYPES.includes(name));
    expect(unclassified).toEqual([]);
    for (const name of DATA_TYPES) {
      const type = schema.getType(name) as import('graphql').GraphQLObjectType;
      for (const field of Object.values(type.getFields())) expect(field.args, `${name}.${field.name}`).toEqual([]);
    }
  });

  it('a field of a guarded type with a rule of its own has that rule attached', () => {
    const own = GUARDED_TYPES.flatMap((t) =>
      Object.values((schema.getType(t) as import('graphql').GraphQLObjectType).getFields())
        .filter((field) => `${t}.${field.name}` in POLICY)
        .map((field) => [`${t}.${field.name}`, typeof pothosOptions(field).authScopes]),
    );
    expect(own).toEqual([['Bucket.cors', 'function']]);
  });

  it('every rule of the table is used by the schema or the /objects route', () => {
    const used = new Set([
      ...[...ROOT_TYPES, ...GUARDED_TYPES].flatMap((t) =>
        Object.keys((schema.getType(t) as import('graphql').GraphQLObjectType).getFields()).map((f) => `${t}.${f}`),
      ),
      ...GUARDED_TYPES,
      'GET /objects/{bucket}/{key}',
      'HEAD /objects/{bucket}/{key}',
    ]);
    expect(Object.keys(POLICY).filter((op) => !used.has(op))).toEqual([]);
  });
});

describe('the rules', () => {
  const ring = new Keyring(
    [
      {
        name: 'mixed',
        token: 'mixed-token-0123456789',
        grants: [
          { bucket: 'source', role: 'read' },
          { bucket: 'target', role: 'write' },
        ],
      },
      { name: 'reader', token: 'reader-token-0123456789', grants: [{ bucket: '*', role: 'read' }] },
    ],
    false,
  );
  const mixed = ring.authenticate('Bearer mixed-token-0123456789');
  const reader = ring.authenticate('Bearer reader-token-0123456789');

  it('copyObject needs read on the source and write on the target', () => {
    const copy = (sourceBucket: string, bucket: string) =>
      codeOf(() => authorizeOperation(mixed, 'Mutation.copyObject', { sourceBucket, bucket }));
    expect(copy('source', 'target')).toBe('OK');
    expect(copy('target', 'source')).toBe('FORBIDDEN');
    expect(copy('target', 'target')).toBe('OK');
    expect(copy('source', 'source')).toBe('FORBIDDEN');
  });

  it('presign needs read for GET (the default) and write for PUT', () => {
    const presign = (caller: Caller, method?: string) =>
      codeOf(() => authorizeOperation(caller, 'Mutation.presign', { bucket: 'target', method }));
    expect(presign(reader)).toBe('OK');
    expect(presign(reader, 'GET')).toBe('OK');
    expect(presign(reader, 'PUT')).toBe('FORBIDDEN');
    expect(presign(mixed, 'PUT')).toBe('OK');
  });

  it('abortStale without a bucket needs write on some bucket', () => {
    expect(codeOf(() => authorizeOperation(reader, 'MultipartMutations.abortStale', {}))).toBe('FORBIDDEN');
    expect(codeOf(() => authorizeOperation(mixed, 'MultipartMutations.abortStale', { bucket: null }))).toBe('OK');
    expect(codeOf(() => authorizeOperation(mixed, 'MultipartMutations.abortStale', { bucket: 'source' }))).toBe(
      'FORBIDDEN',
    );
  });

  it('a denial names the first need not met', () => {
    expect(
      unmet(mixed, [
        { bucket: 'source', role: 'read' },
        { bucket: 'source', role: 'write' },
      ]),
    ).toEqual({ bucket: 'source', role: 'write' });
    try {
      authorize(reader, [{ anyBucket: true, role: 'admin' }]);
      expect.unreachable();
    } catch (err) {
      expect((err as AppError).message).toBe('This API key may not administer any bucket.');
      expect((err as AppError).extensions).toEqual({ code: 'FORBIDDEN', role: 'admin' });
    }
    expect(forbidden({ bucket: 'source', role: 'read' })).toMatchObject({
      message: 'This API key may not read bucket "source".',
      extensions: { code: 'FORBIDDEN', bucket: 'source', role: 'read' },
    });
  });
});

describe('type rules hold where a field above let an object through', () => {
  const store = storeForSecurity(testStores());
  const s3 = s3Client(store);
  const calls: string[] = [];
  let bucket: string;
  /** A bucket with one object, `source.txt`, to copy from. */
  let source: string;
  let yoga: ReturnType<typeof createYogaApp>;
  let destroy: () => void;

  beforeAll(async () => {
    bucket = await createTestBucket(s3, 'sec-type-rule');
    source = await createTestBucket(s3, 'sec-type-source');
    await s3.send(new PutObjectCommand({ Bucket: source, Key: 'source.txt', Body: 'copied' }));
    const config = loadConfig(storeEnv(store));
    const client = createS3Client(config.store as ResolvedStoreSettings, { onCall: (e) => calls.push(e.operation) });
    destroy = () => client.destroy();
    const s3Store = new Store(client, client, {
      partSize: config.uploadPartSize,
      queueSize: config.uploadQueueSize,
      maxUploadBytes: config.maxUploadBytes,
    });
    yoga = createYogaApp({ config, store: s3Store, logger: pino({ level: 'silent' }) });
  });

  afterAll(async () => {
    destroy();
    await removeBucket(s3, bucket);
    await removeBucket(s3, source);
    s3.destroy();
  });

  async function run(caller: Caller, query: string) {
    const res = await yoga.fetch(
      'http://127.0.0.1/graphql',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) },
      { caller },
    );
    return (await res.json()) as {
      data: Record<string, unknown> | null;
      errors: { path: unknown[]; extensions: { code: string } }[];
    };
  }

  it('a caller that may see a bucket but not read it gets FORBIDDEN on its fields, and no listing is sent', async () => {
    // A caller that breaks the invariant the `buckets` field relies on (seeing implies reading).
    const liar: Caller = {
      name: 'liar',
      anonymous: false,
      grants: [],
      can: () => false,
      canSee: (name) => name === bucket,
      hasAnyRole: () => false,
    };
    calls.length = 0;
    const body = await run(
      liar,
      '{ buckets { name objects { edges { node { key url } } } multipartUploads { key } } }',
    );
    expect(body.errors.length).toBeGreaterThan(0);
    expect(new Set(body.errors.map((e) => e.extensions.code))).toEqual(new Set(['FORBIDDEN']));
    expect(body.data?.buckets ?? null).toBeNull();
    expect(calls.filter((c) => c !== 'ListBuckets')).toEqual([]);
  });

  it('a caller that may write to a bucket but not read it gets FORBIDDEN on the fields of what it wrote there: no key, no url', async () => {
    // Roles nest for real keys, so only a caller that breaks that shows the Object and MultipartUpload rules on their own.
    const writeOnly: Caller = {
      name: 'write-only',
      anonymous: false,
      grants: [],
      can: (name, role) => (name === source && role === 'read') || (name === bucket && role === 'write'),
      canSee: () => false,
      hasAnyRole: () => false,
    };
    const copy = await run(
      writeOnly,
      `mutation { copyObject(sourceBucket: "${source}", sourceKey: "source.txt", bucket: "${bucket}", key: "copy.txt") { key url } }`,
    );
    const create = await run(
      writeOnly,
      `mutation { multipart { create(bucket: "${bucket}", key: "upload.bin") { key uploadId } } }`,
    );
    for (const body of [copy, create]) {
      expect(body.errors.length).toBeGreaterThan(0);
      expect(new Set(body.errors.map((e) => e.extensions.code))).toEqual(new Set(['FORBIDDEN']));
      expect(body.data).toBeNull();
    }
    expect(copy.errors[0]!.path).toEqual(['copyObject', expect.any(String)]);
    expect(create.errors[0]!.path).toEqual(['multipart', 'create', expect.any(String)]);
  });

  it('every field of an object it may not read fails alike, whether scope-auth or the field itself applies the rule', async () => {
    const writeOnly: Caller = {
      name: 'write-only',
      anonymous: false,
      grants: [],
      can: (name, role) => (name === source && role === 'read') || (name === bucket && role === 'write'),
      canSee: () => false,
      hasAnyRole: () => false,
    };
    const objectType = schema.getType('Object') as import('graphql').GraphQLObjectType;
    const selections = Object.values(objectType.getFields()).map((field) =>
      graphql.isObjectType(graphql.getNamedType(field.type)) ? `${field.name} { __typename }` : field.name,
    );
    // The plain-data fields (objectData in builder.ts) and the fields left to scope-auth (contentType, url, ...).
    expect(selections).toEqual(expect.arrayContaining(['key', 'size', 'etag', 'lastModified', 'contentType', 'url']));
    const expected = forbidden({ bucket, role: 'read' });
    for (const selection of selections) {
      const copy = await run(
        writeOnly,
        `mutation { copyObject(sourceBucket: "${source}", sourceKey: "source.txt", bucket: "${bucket}", key: "copy.txt") { ${selection} } }`,
      );
      const name = selection.split(' ')[0]!;
      expect(copy.errors, selection).toEqual([
        expect.objectContaining({
          message: expected.message,
          path: ['copyObject', name],
          extensions: { code: 'FORBIDDEN', bucket, role: 'read' },
        }),
      ]);
      // Null, and for a non-null field the object above it too.
      expect(
        (copy.data?.copyObject as Record<string, unknown> | null | undefined)?.[name] ?? null,
        selection,
      ).toBeNull();
    }
  });
});
