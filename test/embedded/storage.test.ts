/**
 * The embedded store's storage layer on its own: key mapping safety, atomic
 * writes, listing order and paging, the lock, what survives a restart.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { S3Error, StartupError } from '../../src/embedded/errors.js';
import { compareKeys, KeyIndex, listIndex, type ListItem } from '../../src/embedded/storage/key-index.js';
import { isValidBucketName, validateKey } from '../../src/embedded/storage/layout.js';
import type { OpenedObject } from '../../src/embedded/storage/objects.js';
import { Storage } from '../../src/embedded/storage/storage.js';

const MiB = 1024 * 1024;
const TEXT = { contentType: 'text/plain', metadata: {} };

let root: string;
let dataDir: string;
let storage: Storage;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'embedded-storage-'));
  dataDir = join(root, 'data');
  storage = await Storage.open(dataDir);
  await storage.createBucket('bucket');
});

afterEach(async () => {
  await storage.close();
  await rm(root, { recursive: true, force: true });
});

function body(content: string | Buffer): Readable {
  return Readable.from([typeof content === 'string' ? Buffer.from(content) : content]);
}

async function readAll(object: OpenedObject): Promise<Buffer> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  // writeTo reuses its buffers once a write is done: keep copies.
  sink.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
  await object.writeTo(sink, 0, object.meta.size - 1);
  return Buffer.concat(chunks);
}

async function get(bucket: string, key: string): Promise<Buffer> {
  return readAll(await storage.openObject(bucket, key));
}

async function listAll(query: { prefix?: string; delimiter?: string; maxKeys: number }): Promise<string[]> {
  const out: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await storage.listObjects('bucket', {
      prefix: query.prefix ?? '',
      delimiter: query.delimiter ?? '',
      maxKeys: query.maxKeys,
      ...(after !== undefined ? { after } : {}),
    });
    const names = page.items.map(itemName);
    out.push(...names);
    if (!page.truncated) return out;
    expect(names.length).toBe(query.maxKeys);
    after = names[names.length - 1];
  }
}

function itemName(item: ListItem): string {
  return item.type === 'object' ? item.entry.key : item.prefix;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

async function s3Code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof S3Error) return err.code;
    throw err;
  }
  return 'OK';
}

describe('keys and bucket names', () => {
  it('compares keys in UTF-8 byte order, not UTF-16 order', () => {
    const keys = [
      'a',
      'a-c',
      'a/b',
      'a0',
      'A',
      '\u00e9',
      '\uff5e',
      '\ufffd',
      '\u{1f600}',
      '\u{10400}',
      'z',
      '',
      'a\u0000',
    ];
    expect([...keys].sort(compareKeys)).toEqual([...keys].sort(byteOrder));
    expect(compareKeys('\ufffd', '\u{1f600}')).toBeLessThan(0);
    expect('\ufffd' < '\u{1f600}').toBe(false);
  });

  it('accepts keys up to 1024 UTF-8 bytes and refuses longer, empty or malformed ones', () => {
    expect(() => validateKey('x'.repeat(1024))).not.toThrow();
    expect(() => validateKey('\u00e9'.repeat(512))).not.toThrow();
    for (const [key, code] of [
      ['x'.repeat(1025), 'KeyTooLongError'],
      ['\u00e9'.repeat(513), 'KeyTooLongError'],
      ['', 'InvalidArgument'],
      ['a\ud800b', 'InvalidArgument'],
    ] as const) {
      let thrown: unknown;
      try {
        validateKey(key);
      } catch (err) {
        thrown = err;
      }
      expect((thrown as S3Error).code).toBe(code);
    }
  });

  it('follows S3 bucket naming rules', () => {
    for (const name of ['abc', 'my-bucket.data', 'a'.repeat(63), '1bucket']) expect(isValidBucketName(name)).toBe(true);
    for (const name of [
      'ab',
      'a'.repeat(64),
      'Upper',
      'under_score',
      '-dash',
      'dash-',
      'a..b',
      'a.-b',
      '192.168.1.1',
      'xn--abc',
      'x-s3alias',
      '../x',
      'a/b',
    ]) {
      expect(isValidBucketName(name)).toBe(false);
    }
  });
});

describe('key mapping', () => {
  const hostile = [
    '../../../../etc/passwd',
    '/etc/passwd',
    'a/../../b',
    '..',
    '.',
    'nul\u0000byte',
    'C:\\Windows\\system32',
    '%2e%2e%2f%2e%2e',
    'new\nline',
    'x'.repeat(1024),
    `${'../'.repeat(340)}abcd`,
  ];

  it('stores every key, however hostile, as a hash-named file inside its bucket, and gives it back', async () => {
    for (const [i, key] of hostile.entries()) await storage.putObject('bucket', key, body(`content ${i}`), TEXT);
    for (const [i, key] of hostile.entries()) expect((await get('bucket', key)).toString()).toBe(`content ${i}`);
    expect(await listAll({ maxKeys: 1000 })).toEqual([...hostile].sort(byteOrder));

    expect(await readdir(root)).toEqual(['data']);
    const objectFiles = (await filesUnder(dataDir))
      .map((path) => relative(dataDir, path).split(sep))
      .filter((parts) => parts[0] === 'buckets' && parts[2] === 'objects');
    expect(objectFiles).toHaveLength(hostile.length);
    for (const parts of objectFiles) {
      expect(parts).toHaveLength(5);
      expect(parts[1]).toBe('bucket');
      expect(parts[4]).toMatch(/^[0-9a-f]{64}$/);
      expect(parts[4]!.startsWith(parts[3]!)).toBe(true);
    }
  });

  it('refuses a key over 1024 bytes before writing anything', async () => {
    expect(await s3Code(storage.putObject('bucket', 'y'.repeat(1025), body('x'), TEXT))).toBe('KeyTooLongError');
    expect(await listAll({ maxKeys: 1000 })).toEqual([]);
  });

  it('answers NoSuchBucket and NoSuchKey', async () => {
    expect(await s3Code(storage.putObject('missing', 'k', body('x'), TEXT))).toBe('NoSuchBucket');
    expect(await s3Code(storage.openObject('bucket', 'missing'))).toBe('NoSuchKey');
    expect(await s3Code(storage.createBucket('bucket'))).toBe('BucketAlreadyOwnedByYou');
    expect(await s3Code(storage.createBucket('Bad_Name'))).toBe('InvalidBucketName');
  });
});

describe('atomic writes', () => {
  it('a reader that opened the object keeps reading the old version after an overwrite', async () => {
    const first = Buffer.alloc(3 * MiB + 17, 'a');
    const second = Buffer.alloc(MiB, 'b');
    await storage.putObject('bucket', 'k', body(first), TEXT);
    const opened = await storage.openObject('bucket', 'k');
    const written = await storage.putObject('bucket', 'k', body(second), TEXT);
    expect(written.etag).toBe(createHash('md5').update(second).digest('hex'));
    expect((await readAll(opened)).equals(first)).toBe(true);
    expect((await get('bucket', 'k')).equals(second)).toBe(true);
  });

  it('a failed write (body error, bad digest, too short) leaves the old object and no temp file', async () => {
    await storage.putObject('bucket', 'k', body('old'), TEXT);
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(MiB, 'x'));
        this.destroy(new Error('client went away'));
      },
    });
    await expect(storage.putObject('bucket', 'k', failing, TEXT)).rejects.toThrow('client went away');
    const wrongMd5 = createHash('md5').update('something else').digest();
    expect(await s3Code(storage.putObject('bucket', 'k', body('new'), TEXT, { contentMd5: wrongMd5 }))).toBe(
      'BadDigest',
    );
    expect(await s3Code(storage.putObject('bucket', 'k', body('new'), TEXT, { expectedSize: 10 }))).toBe(
      'IncompleteBody',
    );
    expect((await get('bucket', 'k')).toString()).toBe('old');
    expect(await readdir(join(dataDir, 'tmp'))).toEqual([]);
  });

  it('two writes of one key at once end with one whole object', async () => {
    const a = Buffer.alloc(2 * MiB, 'a');
    const b = Buffer.alloc(2 * MiB + 5, 'b');
    for (let round = 0; round < 3; round++) {
      const [ma, mb] = await Promise.all([
        storage.putObject('bucket', 'race', body(a), TEXT),
        storage.putObject('bucket', 'race', body(b), TEXT),
      ]);
      const opened = await storage.openObject('bucket', 'race');
      const content = await readAll(opened);
      expect([ma.etag, mb.etag]).toContain(opened.meta.etag);
      expect(content.equals(opened.meta.etag === ma.etag ? a : b)).toBe(true);
      const page = await storage.listObjects('bucket', { prefix: '', delimiter: '', maxKeys: 10 });
      expect(page.items).toEqual([
        { type: 'object', entry: expect.objectContaining({ key: 'race', etag: opened.meta.etag }) },
      ]);
    }
    expect(await readdir(join(dataDir, 'tmp'))).toEqual([]);
  });

  it('removes stale temp files at start', async () => {
    await writeFile(join(dataDir, 'tmp', 'half-written'), 'partial');
    await mkdir(join(dataDir, 'tmp', 'half-made-bucket'));
    await storage.close();
    storage = await Storage.open(dataDir);
    expect(await readdir(join(dataDir, 'tmp'))).toEqual([]);
  });

  it('keeps metadata with the bytes', async () => {
    const headers = {
      contentType: 'image/png',
      contentEncoding: 'gzip',
      contentDisposition: 'attachment; filename="x.png"',
      cacheControl: 'max-age=60',
      metadata: { owner: 'me', 'two-words': 'a b' },
    };
    await storage.putObject('bucket', 'meta', body('png'), headers);
    expect(await storage.headObject('bucket', 'meta')).toMatchObject({ ...headers, key: 'meta', size: 3 });
  });
});

describe('listing', () => {
  const keys = [
    'a',
    'a-c',
    'a/b',
    'a/c/d',
    'a0',
    'b',
    'Z',
    'a b',
    '\u00e9t\u00e9',
    '\ufffd',
    '\u{1f600}',
    'photos/2024/x.jpg',
    'photos/2025/y.jpg',
    'photos/top.jpg',
  ];

  beforeEach(async () => {
    for (const key of keys) await storage.putObject('bucket', key, body(key), TEXT);
  });

  it('lists keys in UTF-8 byte order with size and ETag', async () => {
    const page = await storage.listObjects('bucket', { prefix: '', delimiter: '', maxKeys: 1000 });
    expect(page.truncated).toBe(false);
    expect(page.items.map(itemName)).toEqual([...keys].sort(byteOrder));
    const entry = page.items.find((i) => itemName(i) === 'a/b');
    expect(entry).toMatchObject({
      type: 'object',
      entry: { size: 3, etag: createHash('md5').update('a/b').digest('hex') },
    });
  });

  it('rolls keys up into common prefixes under a prefix', async () => {
    expect(await listAll({ delimiter: '/', maxKeys: 1000 })).toEqual([
      'Z',
      'a',
      'a b',
      'a-c',
      'a/',
      'a0',
      'b',
      'photos/',
      '\u00e9t\u00e9',
      '\ufffd',
      '\u{1f600}',
    ]);
    expect(await listAll({ prefix: 'photos/', delimiter: '/', maxKeys: 1000 })).toEqual([
      'photos/2024/',
      'photos/2025/',
      'photos/top.jpg',
    ]);
    expect(await listAll({ prefix: 'a', delimiter: '/', maxKeys: 1000 })).toEqual(['a', 'a b', 'a-c', 'a/', 'a0']);
    expect(await listAll({ prefix: 'photos/2', maxKeys: 1000 })).toEqual(['photos/2024/x.jpg', 'photos/2025/y.jpg']);
    expect(await listAll({ prefix: 'nothing', delimiter: '/', maxKeys: 1000 })).toEqual([]);
  });

  it('pages give every item once, whatever the page size, prefix groups included', async () => {
    for (const delimiter of ['', '/']) {
      const whole = await listAll({ delimiter, maxKeys: 1000 });
      for (const maxKeys of [1, 2, 3, 5]) expect(await listAll({ delimiter, maxKeys })).toEqual(whole);
    }
    expect(await storage.listObjects('bucket', { prefix: '', delimiter: '', maxKeys: 0 })).toEqual({
      items: [],
      truncated: false,
    });
  });

  it('starts after a key that does not exist', async () => {
    const page = await storage.listObjects('bucket', { prefix: '', delimiter: '', maxKeys: 3, after: 'a.' });
    expect(page.items.map(itemName)).toEqual(['a/b', 'a/c/d', 'a0']);
  });

  it('rebuilds the same index from disk after a restart, and keeps it current', async () => {
    await storage.deleteObject('bucket', 'b');
    const before = await listAll({ maxKeys: 1000 });
    await storage.close();
    storage = await Storage.open(dataDir);
    expect(await listAll({ maxKeys: 1000 })).toEqual(before);
    await storage.putObject('bucket', 'added', body('x'), TEXT);
    await storage.deleteObjects('bucket', ['a', 'missing']);
    expect(await listAll({ maxKeys: 1000 })).toEqual([...before.filter((k) => k !== 'a'), 'added'].sort(byteOrder));
  });
});

describe('KeyIndex', () => {
  it('matches a sorted array through thousands of inserts and deletes', () => {
    const index = new KeyIndex();
    const reference = new Map<string, number>();
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const alphabet = ['a', 'b', '/', '-', '0', '\u00e9', '\ufffd', '\u{1f600}'];
    const randomKey = () =>
      Array.from({ length: 1 + (random() % 6) }, () => alphabet[random() % alphabet.length]).join('');
    for (let i = 0; i < 6000; i++) {
      const key = randomKey();
      if (random() % 4 === 0) {
        expect(index.delete(key)).toBe(reference.delete(key));
      } else {
        index.set({ key, size: i, etag: 'e', lastModified: 0 });
        reference.set(key, i);
      }
    }
    const expected = [...reference.keys()].sort(byteOrder);
    expect(index.size).toBe(expected.length);
    const page = listIndex(index, { prefix: '', delimiter: '', maxKeys: 100_000 });
    expect(page.items.map(itemName)).toEqual(expected);
    expect(index.get(expected[10]!)?.size).toBe(reference.get(expected[10]!));
    const grouped = listIndex(index, { prefix: 'a', delimiter: '/', maxKeys: 100_000 }).items.map(itemName);
    const naive = [
      ...new Set(
        expected
          .filter((k) => k.startsWith('a'))
          .map((k) => {
            const at = k.indexOf('/', 1);
            return at === -1 ? k : k.slice(0, at + 1);
          }),
      ),
    ];
    expect(grouped).toEqual(naive);
    for (const key of expected) index.delete(key);
    expect(index.size).toBe(0);
    expect(listIndex(index, { prefix: '', delimiter: '', maxKeys: 10 }).items).toEqual([]);
  });
});

describe('the data dir', () => {
  it('belongs to one store at a time', async () => {
    const second = await Storage.open(dataDir).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(second).toBeInstanceOf(StartupError);
    expect((second as StartupError).code).toBe('ELOCKED');
    expect((second as StartupError).message).toContain(`DATA_DIR ${dataDir} is in use`);
    await storage.close();
    storage = await Storage.open(dataDir);
    expect(storage.listBuckets().map((b) => b.name)).toEqual(['bucket']);
  });

  it('takes over the lock of a process that is gone', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    await storage.close();
    await writeFile(join(dataDir, '.lock'), `${dead.stdout}\n`);
    storage = await Storage.open(dataDir);
    expect(storage.hasBucket('bucket')).toBe(true);
  });

  it('reports a data dir it cannot create', async () => {
    await writeFile(join(root, 'a-file'), 'x');
    const err = await Storage.open(join(root, 'a-file', 'data'), { displayDir: './a-file/data' }).then(
      () => undefined,
      (e: unknown) => e as StartupError,
    );
    expect(err?.message).toBe('DATA_DIR ./a-file/data cannot be created: a parent is not a directory');
    expect(err?.code).toBe('ENOTDIR');
  });

  it('keeps buckets, CORS and open uploads across a restart; deleting a bucket removes its uploads', async () => {
    await storage.putBucketCors('bucket', [
      { allowedOrigins: ['https://a.example'], allowedMethods: ['GET'], allowedHeaders: [], exposeHeaders: ['ETag'] },
    ]);
    const upload = await storage.createMultipartUpload('bucket', 'big', {
      contentType: 'video/mp4',
      metadata: { a: '1' },
    });
    await storage.uploadPart('bucket', 'big', upload.uploadId, 3, body('part three'));
    await storage.close();
    storage = await Storage.open(dataDir);
    expect(storage.getBucketCors('bucket')?.[0]?.allowedOrigins).toEqual(['https://a.example']);
    const uploads = storage.listMultipartUploads('bucket', { prefix: '', delimiter: '', maxUploads: 10 });
    expect(uploads.uploads).toEqual([expect.objectContaining({ uploadId: upload.uploadId, key: 'big' })]);
    const parts = await storage.listParts('bucket', 'big', upload.uploadId, { partNumberMarker: 0, maxParts: 10 });
    expect(parts.parts).toEqual([expect.objectContaining({ partNumber: 3, size: 10 })]);
    expect(parts.upload.headers).toEqual({ contentType: 'video/mp4', metadata: { a: '1' } });

    await storage.deleteBucket('bucket');
    expect(storage.hasBucket('bucket')).toBe(false);
    expect(await readdir(join(dataDir, 'buckets'))).toEqual([]);
    await expect(stat(join(dataDir, 'tmp'))).resolves.toBeTruthy();
    expect(await readdir(join(dataDir, 'tmp'))).toEqual([]);
  });

  it('refuses to delete a bucket with objects', async () => {
    await storage.putObject('bucket', 'k', body('x'), TEXT);
    expect(await s3Code(storage.deleteBucket('bucket'))).toBe('BucketNotEmpty');
    await storage.deleteObject('bucket', 'k');
    await storage.deleteBucket('bucket');
    expect(storage.listBuckets()).toEqual([]);
  });
});

describe('multipart', () => {
  it('assembles parts in order into one object with the multipart ETag', async () => {
    const upload = await storage.createMultipartUpload('bucket', 'mp', {
      contentType: 'text/csv',
      metadata: { k: 'v' },
    });
    const one = Buffer.alloc(5 * MiB, 1);
    const two = Buffer.from('two');
    const [p2, p1] = await Promise.all([
      storage.uploadPart('bucket', 'mp', upload.uploadId, 2, body(two)),
      storage.uploadPart('bucket', 'mp', upload.uploadId, 1, body(one)),
    ]);
    const meta = await storage.completeMultipartUpload('bucket', 'mp', upload.uploadId, [
      { partNumber: 1, etag: `"${p1.etag}"` },
      { partNumber: 2, etag: p2.etag },
    ]);
    const combined = createHash('md5').update(
      Buffer.concat([Buffer.from(p1.etag, 'hex'), Buffer.from(p2.etag, 'hex')]),
    );
    expect(meta.etag).toBe(`${combined.digest('hex')}-2`);
    expect(meta).toMatchObject({
      contentType: 'text/csv',
      metadata: { k: 'v' },
      size: one.length + 3,
      partSizes: [one.length, 3],
    });
    expect((await get('bucket', 'mp')).equals(Buffer.concat([one, two]))).toBe(true);
    expect(await s3Code(storage.listParts('bucket', 'mp', upload.uploadId, { partNumberMarker: 0, maxParts: 1 }))).toBe(
      'NoSuchUpload',
    );
    expect(await readdir(join(dataDir, 'buckets', 'bucket', 'uploads'))).toEqual([]);
  });

  it('checks the part list before assembling anything', async () => {
    const upload = await storage.createMultipartUpload('bucket', 'mp', TEXT);
    const small = await storage.uploadPart('bucket', 'mp', upload.uploadId, 1, body('small'));
    const last = await storage.uploadPart('bucket', 'mp', upload.uploadId, 2, body('last'));
    const complete = (parts: Array<{ partNumber: number; etag: string }>) =>
      s3Code(storage.completeMultipartUpload('bucket', 'mp', upload.uploadId, parts));
    expect(
      await complete([
        { partNumber: 2, etag: last.etag },
        { partNumber: 1, etag: small.etag },
      ]),
    ).toBe('InvalidPartOrder');
    expect(await complete([{ partNumber: 1, etag: last.etag }])).toBe('InvalidPart');
    expect(await complete([{ partNumber: 3, etag: last.etag }])).toBe('InvalidPart');
    expect(
      await complete([
        { partNumber: 1, etag: small.etag },
        { partNumber: 2, etag: last.etag },
      ]),
    ).toBe('EntityTooSmall');
    expect(await complete([])).toBe('MalformedXML');
    await storage.completeMultipartUpload('bucket', 'mp', upload.uploadId, [{ partNumber: 2, etag: last.etag }]);
    expect((await get('bucket', 'mp')).toString()).toBe('last');
    expect(await complete([{ partNumber: 2, etag: last.etag }])).toBe('NoSuchUpload');
  });

  it('abort removes the upload; its id is unknown afterwards', async () => {
    const upload = await storage.createMultipartUpload('bucket', 'mp', TEXT);
    await storage.uploadPart('bucket', 'mp', upload.uploadId, 1, body('x'));
    await storage.abortMultipartUpload('bucket', 'mp', upload.uploadId);
    expect(await s3Code(storage.uploadPart('bucket', 'mp', upload.uploadId, 1, body('x')))).toBe('NoSuchUpload');
    expect(await s3Code(storage.abortMultipartUpload('bucket', 'mp', upload.uploadId))).toBe('NoSuchUpload');
    expect(
      await s3Code(storage.listParts('bucket', 'other-key', upload.uploadId, { partNumberMarker: 0, maxParts: 1 })),
    ).toBe('NoSuchUpload');
    expect(await readdir(join(dataDir, 'buckets', 'bucket', 'uploads'))).toEqual([]);
  });
});
