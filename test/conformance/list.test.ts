/**
 * S3 conformance: ListObjectsV2 (prefix, delimiter, paging, StartAfter, key
 * order), asserted as AWS documents it, against every store in `testStores()`.
 */
import {
  ListObjectsV2Command,
  PutObjectCommand,
  type ListObjectsV2CommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../support/data.js';
import { createTestBucket, outcomeOf, removeBucket, s3Client, testStores, uniqueBucket } from '../support/stores.js';

/**
 * Every key, in the order AWS lists them: by UTF-8 bytes. '-' (0x2d) < '/'
 * (0x2f) < '0' (0x30) < 'é' (c3 a9) < 'Ａ' U+FF21 (ef bc a1) < '😀' U+1F600
 * (f0 9f 98 80). UTF-16 order (JavaScript's default sort) would put the emoji,
 * a surrogate pair starting 0xd83d, before 'Ａ' (0xff21).
 */
const KEYS_IN_ORDER = [
  'a-c',
  'a/b',
  'a0',
  'aé',
  'aＡ',
  'a😀',
  'photos/2024/feb.jpg',
  'photos/2024/jan.jpg',
  'photos/2025/mar.jpg',
  'photos/top.jpg',
  'zeta',
];

interface Listed {
  keys: string[];
  prefixes: string[];
  pages: Array<{ keyCount: number | undefined; contents: number; prefixes: number; truncated: boolean | undefined }>;
}

/** Lists with `input`, following NextContinuationToken to the end. */
async function listAll(s3: S3Client, input: ListObjectsV2CommandInput): Promise<Listed> {
  const listed: Listed = { keys: [], prefixes: [], pages: [] };
  let ContinuationToken: string | undefined;
  for (let page = 0; page < 100; page++) {
    const out = await s3.send(new ListObjectsV2Command({ ...input, ContinuationToken }));
    listed.keys.push(...(out.Contents ?? []).map((o) => o.Key!));
    listed.prefixes.push(...(out.CommonPrefixes ?? []).map((p) => p.Prefix!));
    listed.pages.push({
      keyCount: out.KeyCount,
      contents: out.Contents?.length ?? 0,
      prefixes: out.CommonPrefixes?.length ?? 0,
      truncated: out.IsTruncated,
    });
    if (!out.IsTruncated) return listed;
    expect(out.NextContinuationToken).toBeTruthy();
    ContinuationToken = out.NextContinuationToken;
  }
  throw new Error('listing did not end within 100 pages');
}

describe.each(testStores())('ListObjectsV2 on $name', (store) => {
  const s3 = s3Client(store);
  let bucket: string;
  beforeAll(async () => {
    bucket = await createTestBucket(s3, 'list');
    // Put in reverse order so an insertion-ordered store cannot pass by accident.
    for (const Key of [...KEYS_IN_ORDER].reverse())
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }));
  });
  afterAll(async () => {
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  it('lists every key in UTF-8 byte order, with Size, ETag and LastModified', async () => {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(out.IsTruncated).toBe(false);
    expect(out.KeyCount).toBe(KEYS_IN_ORDER.length);
    expect(out.Contents!.map((o) => o.Key)).toEqual(KEYS_IN_ORDER);
    const byteOrder = [...KEYS_IN_ORDER].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(byteOrder).toEqual(KEYS_IN_ORDER);
    const emoji = out.Contents!.find((o) => o.Key === 'a😀')!;
    expect(emoji.Size).toBe(Buffer.byteLength('a😀'));
    expect(emoji.ETag).toBe(`"${digestOf('a😀').md5}"`);
    expect(emoji.LastModified).toBeInstanceOf(Date);
  });

  it('Prefix narrows the listing', async () => {
    const out = await listAll(s3, { Bucket: bucket, Prefix: 'photos/' });
    expect(out.keys).toEqual(KEYS_IN_ORDER.filter((k) => k.startsWith('photos/')));
    expect(out.prefixes).toEqual([]);
    const none = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'nothing/' }));
    expect(none.KeyCount).toBe(0);
    expect(none.Contents ?? []).toEqual([]);
  });

  it('Delimiter groups keys into CommonPrefixes, and KeyCount counts both', async () => {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
    expect(out.Contents!.map((o) => o.Key)).toEqual(['a-c', 'a0', 'aé', 'aＡ', 'a😀', 'zeta']);
    expect(out.CommonPrefixes!.map((p) => p.Prefix)).toEqual(['a/', 'photos/']);
    // AWS: "KeyCount is the number of keys returned with this request. KeyCount will always
    // be less than or equal to the MaxKeys field" — CommonPrefixes count as keys.
    expect(out.KeyCount).toBe(8);
    expect(out.Delimiter).toBe('/');
  });

  it('Prefix with Delimiter lists one level of a "folder"', async () => {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'photos/', Delimiter: '/' }));
    expect(out.Contents!.map((o) => o.Key)).toEqual(['photos/top.jpg']);
    expect(out.CommonPrefixes!.map((p) => p.Prefix)).toEqual(['photos/2024/', 'photos/2025/']);
    expect(out.KeyCount).toBe(3);
    expect(out.Prefix).toBe('photos/');
  });

  it('MaxKeys pages, followed with ContinuationToken to the end, give every key once in order', async () => {
    const out = await listAll(s3, { Bucket: bucket, MaxKeys: 2 });
    expect(out.keys).toEqual(KEYS_IN_ORDER);
    expect(out.pages).toHaveLength(Math.ceil(KEYS_IN_ORDER.length / 2));
    for (const [i, page] of out.pages.entries()) {
      expect(page.keyCount).toBe(page.contents);
      expect(page.contents).toBe(i < out.pages.length - 1 ? 2 : KEYS_IN_ORDER.length % 2 || 2);
      expect(page.truncated).toBe(i < out.pages.length - 1);
    }
  });

  it('MaxKeys pages with a Delimiter count CommonPrefixes towards MaxKeys', async () => {
    const out = await listAll(s3, { Bucket: bucket, Delimiter: '/', MaxKeys: 3 });
    expect(out.keys).toEqual(['a-c', 'a0', 'aé', 'aＡ', 'a😀', 'zeta']);
    expect(out.prefixes).toEqual(['a/', 'photos/']);
    for (const page of out.pages) {
      expect(page.contents + page.prefixes).toBeLessThanOrEqual(3);
      expect(page.keyCount).toBe(page.contents + page.prefixes);
    }
    expect(out.pages).toHaveLength(3);
  });

  it('StartAfter starts after a key, by byte order, also after a non-ASCII key', async () => {
    const afterA0 = await listAll(s3, { Bucket: bucket, StartAfter: 'a0' });
    expect(afterA0.keys).toEqual(KEYS_IN_ORDER.slice(KEYS_IN_ORDER.indexOf('a0') + 1));
    const afterE = await listAll(s3, { Bucket: bucket, StartAfter: 'aé' });
    expect(afterE.keys).toEqual(KEYS_IN_ORDER.slice(KEYS_IN_ORDER.indexOf('aé') + 1));
    const afterMissing = await listAll(s3, { Bucket: bucket, StartAfter: 'photos/2024/g', MaxKeys: 1 });
    expect(afterMissing.keys).toEqual(['photos/2024/jan.jpg', 'photos/2025/mar.jpg', 'photos/top.jpg', 'zeta']);
  });

  it('an empty bucket lists nothing; a missing bucket is 404 NoSuchBucket', async () => {
    const empty = await createTestBucket(s3, 'list-empty');
    try {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: empty }));
      expect(out.KeyCount).toBe(0);
      expect(out.IsTruncated).toBe(false);
      expect(out.Contents ?? []).toEqual([]);
    } finally {
      await removeBucket(s3, empty);
    }
    expect(await outcomeOf(s3.send(new ListObjectsV2Command({ Bucket: uniqueBucket('list-missing') })))).toEqual({
      ok: false,
      status: 404,
      code: 'NoSuchBucket',
    });
  });
});
