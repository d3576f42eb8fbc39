/**
 * The lean ListObjectsV2 and HeadObject (src/s3/lean-reads.ts) against every
 * real store of the harness: what they read must be what the SDK reads from
 * the same store, keys that need XML escaping and URL encoding included,
 * and anything but a plain success must be left to the SDK.
 */
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { StoreCallBudget, withStoreCallBudget } from '../../src/core/store-call-budget.js';
import { createS3Client } from '../../src/s3/client.js';
import { toAppError } from '../../src/s3/errors.js';
import type { StoreCallEvent } from '../../src/s3/instrumentation.js';
import { createLeanReads, type LeanReads, type ListInput } from '../../src/s3/lean-reads.js';
import { parseListBucketResult } from '../../src/s3/list-xml.js';
import { Store } from '../../src/s3/store.js';
import { startStoreProxy } from '../support/servers.js';
import {
  createTestBucket,
  removeBucket,
  s3Client,
  storeSettingsFor,
  testStores,
  uniqueBucket,
  type StoreUnderTest,
} from '../support/stores.js';

const KEYS = [
  'plain.txt',
  'dir/sub/deep.bin',
  'dir/two & three <four>.txt',
  `dir/"quoted" and 'apos'`,
  'ünïcødé/😀 emoji',
  ' leading and trailing spaces ',
  'plus+percent%25equals=question?hash#',
  'brackets[](){}!*~',
];

/** What the SDK reads of one ListObjectsV2 page, in the lean reads' shape. */
async function sdkPage(client: S3Client, input: ListInput) {
  const page = await client.send(
    new ListObjectsV2Command({
      Bucket: input.bucket,
      Prefix: input.prefix,
      Delimiter: input.delimiter,
      MaxKeys: input.maxKeys,
      ContinuationToken: input.continuationToken,
      StartAfter: input.startAfter,
    }),
  );
  return {
    objects: (page.Contents ?? []).map((o) => ({
      key: o.Key,
      size: o.Size,
      etag: o.ETag,
      lastModified: o.LastModified,
      storageClass: o.StorageClass,
    })),
    prefixes: (page.CommonPrefixes ?? []).map((p) => p.Prefix),
    isTruncated: page.IsTruncated === true,
    nextContinuationToken: page.NextContinuationToken,
  };
}

describe.each(testStores())('lean reads on $name', (store: StoreUnderTest) => {
  let sdk: S3Client;
  let bucket: string;
  let lean: LeanReads;
  const events: StoreCallEvent[] = [];

  beforeAll(async () => {
    sdk = s3Client(store);
    bucket = await createTestBucket(sdk, 'lean');
    for (const [i, key] of KEYS.entries()) {
      await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x'.repeat(i * 10 + 1) }));
    }
    await sdk.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'described & more',
        Body: 'described',
        ContentType: 'text/plain; charset=utf-8',
        ContentDisposition: 'attachment; filename="d.txt"',
        CacheControl: 'max-age=60',
        ContentEncoding: 'identity',
        Metadata: { Owner: 'Ada', 'trip-id': '42' },
      }),
    );
    const settings = storeSettingsFor(store);
    lean = createLeanReads(createS3Client(settings), settings, { onCall: (e) => events.push(e), debug: false })!;
  });

  afterAll(async () => {
    await removeBucket(sdk, bucket);
    sdk.destroy();
  });

  it('reads every listing page as the SDK does: escaped keys, folders, paging to the end', async () => {
    const shapes: Omit<ListInput, 'bucket'>[] = [
      { maxKeys: 1000 },
      { maxKeys: 1000, delimiter: '/' },
      { maxKeys: 1000, prefix: 'dir/', delimiter: '/' },
      { maxKeys: 1000, startAfter: 'dir/' },
    ];
    for (const shape of shapes) {
      expect(await lean.listObjectsV2({ bucket, ...shape })).toEqual(await sdkPage(sdk, { bucket, ...shape }));
    }
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const input = { bucket, maxKeys: 3, continuationToken: token };
      const page = await lean.listObjectsV2(input);
      expect(page).toEqual(await sdkPage(sdk, input));
      seen.push(...page!.objects.map((o) => o.key));
      token = page!.isTruncated ? page!.nextContinuationToken : undefined;
    } while (token !== undefined);
    expect(seen.sort()).toEqual([...KEYS, 'described & more'].sort());
  });

  it('reads a HEAD as the SDK does, metadata and headers included', async () => {
    for (const key of ['described & more', ...KEYS]) {
      const fromSdk = await sdk.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(await lean.headObject(bucket, key)).toEqual({
        ContentLength: fromSdk.ContentLength,
        ETag: fromSdk.ETag,
        LastModified: fromSdk.LastModified,
        StorageClass: fromSdk.StorageClass,
        ContentType: fromSdk.ContentType,
        Metadata: fromSdk.Metadata,
        ContentDisposition: fromSdk.ContentDisposition,
        CacheControl: fromSdk.CacheControl,
        ContentEncoding: fromSdk.ContentEncoding,
      });
    }
  });

  it('throws a listing refusal as the SDK does, and reports each call like an SDK command', async () => {
    events.length = 0;
    expect(await lean.headObject(bucket, 'no such key')).toBe('missing');
    const missing = { bucket: uniqueBucket('lean-missing'), maxKeys: 10 };
    const fromLean = await lean.listObjectsV2(missing).catch((e: unknown) => e);
    const fromSdk = await sdkPage(sdk, missing).catch((e: unknown) => e);
    expect(fromLean).toMatchObject({ name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } });
    const mapped = (e: unknown) => {
      const { message, extensions } = toAppError(e);
      return { message, extensions };
    };
    expect(mapped(fromLean)).toEqual(mapped(fromSdk));
    expect(mapped(fromLean).extensions.code).toBe('NO_SUCH_BUCKET');
    await lean.listObjectsV2({ bucket, maxKeys: 1 });
    expect(events.map(({ operation, outcome }) => [operation, outcome])).toEqual([
      ['HeadObject', 'error'],
      ['ListObjectsV2', 'error'],
      ['ListObjectsV2', 'ok'],
    ]);
  });

  it("a HEAD answered 404 is one call of the request's budget, and a listing one", async () => {
    const budget = new StoreCallBudget(10);
    await withStoreCallBudget(budget, async () => {
      expect(await lean.headObject(bucket, 'no such key')).toBe('missing');
      await lean.listObjectsV2({ bucket, maxKeys: 1 });
    });
    expect(budget.calls).toBe(2);
  });

  // Only the embedded store checks the request's date (moto takes any signature): the test exists for it alone.
  if (store.name === 'embedded')
    it('signs with the clock offset the SDK learned from a clock-skew refusal', async () => {
      const dates: string[] = [];
      const proxy = await startStoreProxy(store.endpoint, async (req) => {
        dates.push(String(req.headers['x-amz-date']));
      });
      // This process's clock an hour ahead of the store's (Date only: the SDK's retry timers stay real).
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 3_600_000);
      const settings = storeSettingsFor(store, { endpoint: proxy.endpoint });
      const client = createS3Client(settings);
      try {
        const skewed = createLeanReads(client, settings, { debug: false })!;
        const through = new Store(client, client, {
          partSize: 5 * 1024 * 1024,
          queueSize: 1,
          maxUploadBytes: 1024,
          lean: skewed,
        });
        const all = [...KEYS, 'described & more'].sort();
        // Refused as skewed, handed to the SDK, refused again, and the SDK's retry corrects its clock.
        expect((await through.listObjects(bucket, { maxKeys: 1000 })).objects.map((o) => o.key).sort()).toEqual(all);
        expect(dates).toHaveLength(3);
        dates.length = 0;
        // From then on the lean call is signed with the SDK's correction, and answered at once.
        expect((await through.listObjects(bucket, { maxKeys: 1000 })).objects.map((o) => o.key).sort()).toEqual(all);
        expect(dates).toHaveLength(1);
      } finally {
        vi.useRealTimers();
        client.destroy();
        await proxy.close();
      }
    });

  it('leaves a call the network broke to the SDK, which makes it again', async () => {
    let requests = 0;
    const proxy = await startStoreProxy(store.endpoint, async () => {
      requests++;
      if (requests === 1) throw new Error('the first request is cut');
    });
    try {
      const settings = storeSettingsFor(store, { endpoint: proxy.endpoint });
      const client = createS3Client(settings);
      const cut = createLeanReads(client, settings, { debug: false })!;
      expect(await cut.listObjectsV2({ bucket, maxKeys: 1000 })).toBeUndefined();
      const through = new Store(client, client, {
        partSize: 5 * 1024 * 1024,
        queueSize: 1,
        maxUploadBytes: 1024,
        lean: cut,
      });
      requests = 0;
      const page = await through.listObjects(bucket, { maxKeys: 1000 });
      expect(page.objects.map((o) => o.key).sort()).toEqual([...KEYS, 'described & more'].sort());
      // The lean call was cut, and the SDK's made it again.
      expect(requests).toBe(2);
      client.destroy();
    } finally {
      await proxy.close();
    }
  });
});

describe('lean reads: what they leave to the SDK', () => {
  let scripted: Server;
  let endpoint: string;
  /** Requests per bucket name. */
  const seen = new Map<string, number>();
  const listing =
    '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>1</Size><LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents></ListBucketResult>';

  beforeAll(async () => {
    // A store that answers by bucket name: a refusal, what the SDK retries, and what it reads its own way.
    scripted = createServer((req, res) => {
      const bucket = new URL(req.url ?? '/', 'http://x').pathname.split('/')[1] ?? '';
      const nth = (seen.get(bucket) ?? 0) + 1;
      seen.set(bucket, nth);
      if (bucket === 'cut-once' || bucket === 'busy-once') {
        if (nth === 1 && bucket === 'cut-once') {
          // Headers and half the body, then the connection breaks.
          res.writeHead(200, { 'content-type': 'application/xml', 'content-length': String(listing.length) });
          res.write(listing.slice(0, 100));
          setTimeout(() => res.socket?.destroy(), 20);
          return;
        }
        if (nth === 1) {
          res.writeHead(503, { 'content-type': 'application/xml' });
          return res.end('<Error><Code>SlowDown</Code><Message>later</Message></Error>');
        }
        res.writeHead(200, { 'content-type': 'application/xml' });
        return res.end(listing);
      }
      const answer = (status: number, code: string) => {
        res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': 'R1' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>said &amp; done</Message></Error>`,
        );
      };
      if (bucket === 'refused') return answer(403, 'AccessDenied');
      if (bucket === 'timed-out') return answer(400, 'RequestTimeout');
      if (bucket === 'skewed') return answer(403, 'RequestTimeTooSkewed');
      if (bucket === 'throttled') return answer(429, 'SlowDown');
      if (bucket === 'moved') return answer(301, 'PermanentRedirect');
      if (bucket === 'garbled') return answer(200, 'NotAListing');
      return answer(500, 'InternalError');
    });
    await new Promise<void>((resolve) => scripted.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(scripted.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    scripted.closeAllConnections();
    await new Promise((resolve) => scripted.close(resolve));
  });

  it('throws a refusal with its code, and hands back what the SDK retries or reads its own way', async () => {
    const [store] = testStores();
    const settings = storeSettingsFor(store!, { endpoint });
    const client = createS3Client(settings);
    const reported: StoreCallEvent[] = [];
    const lean = createLeanReads(client, settings, { debug: false, onCall: (e) => reported.push(e) })!;
    await expect(lean.listObjectsV2({ bucket: 'refused', maxKeys: 1 })).rejects.toMatchObject({
      name: 'AccessDenied',
      message: 'said & done',
      $metadata: { httpStatusCode: 403, requestId: 'R1' },
    });
    for (const bucket of ['timed-out', 'skewed', 'throttled', 'moved', 'garbled', 'broken']) {
      expect(await lean.listObjectsV2({ bucket, maxKeys: 1 }), bucket).toBeUndefined();
    }
    // The refusal is the call's answer; a call handed to the SDK is reported when the SDK has made it.
    expect(reported.map(({ operation, outcome }) => [operation, outcome])).toEqual([['ListObjectsV2', 'error']]);
    client.destroy();
  });

  it('leaves a listing whose body the network cut to the SDK, which reads it again', async () => {
    const [store] = testStores();
    const settings = storeSettingsFor(store!, { endpoint });
    const client = createS3Client(settings);
    const lean = createLeanReads(client, settings, { debug: false })!;
    const through = new Store(client, client, { partSize: 5 * 1024 * 1024, queueSize: 1, maxUploadBytes: 1024, lean });
    const page = await through.listObjects('cut-once', { maxKeys: 1000 });
    expect(page.objects.map((o) => o.key)).toEqual(['k']);
    expect(seen.get('cut-once')).toBe(2);
    client.destroy();
  });

  it("a call handed back to the SDK is one call of the request's budget, not two", async () => {
    const [store] = testStores();
    const settings = storeSettingsFor(store!, { endpoint });
    const client = createS3Client(settings);
    const lean = createLeanReads(client, settings, { debug: false })!;
    const through = new Store(client, client, { partSize: 5 * 1024 * 1024, queueSize: 1, maxUploadBytes: 1024, lean });
    const budget = new StoreCallBudget(1);
    const page = await withStoreCallBudget(budget, () => through.listObjects('busy-once', { maxKeys: 1000 }));
    expect(page.objects.map((o) => o.key)).toEqual(['k']);
    expect(seen.get('busy-once')).toBe(2);
    expect(budget.calls).toBe(1);
    client.destroy();
  });
});

describe('lean reads: when they are not used', () => {
  it('is off for virtual-hosted addressing and with debug logging, which the SDK path logs', () => {
    const [store] = testStores();
    const settings = storeSettingsFor(store!);
    const client = createS3Client(settings);
    expect(createLeanReads(client, { ...settings, forcePathStyle: false }, { debug: false })).toBeUndefined();
    expect(createLeanReads(client, settings, { debug: true })).toBeUndefined();
    expect(createLeanReads(client, settings, { debug: false })).toBeDefined();
    client.destroy();
  });

  it('gives up on a body it does not know, so the SDK reads it', () => {
    const head = '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name>';
    expect(parseListBucketResult(`${head}<Contents><Key>k</Key><Size>1</Size></ListBucketResult>`)).toBeUndefined();
    expect(parseListBucketResult(`${head}<Contents><Key><![CDATA[k]]></Key></Contents></ListBucketResult>`)).toBe(
      undefined,
    );
    expect(parseListBucketResult(`${head}<Contents><Key>k</Key><Size>many</Size></Contents></ListBucketResult>`)).toBe(
      undefined,
    );
    expect(parseListBucketResult(`${head}<Contents><Key>&#xFFFFFF;</Key></Contents></ListBucketResult>`)).toBe(
      undefined,
    );
    expect(parseListBucketResult('<Error><Code>NoSuchBucket</Code></Error>')).toBeUndefined();
    expect(
      parseListBucketResult(`${head}<Contents><Key xml:space="preserve">k</Key></Contents></ListBucketResult>`),
    ).toBe(undefined);
    expect(
      parseListBucketResult(
        `${head}<Contents><Key>k</Key><LastModified>2026-12-05T17:00:00.000</LastModified></Contents></ListBucketResult>`,
      ),
    ).toBeUndefined();
    for (const key of ['&nbsp;', 'a &amp b', '&#xZZ;']) {
      expect(parseListBucketResult(`${head}<Contents><Key>${key}</Key></Contents></ListBucketResult>`), key).toBe(
        undefined,
      );
    }
    expect(
      parseListBucketResult(
        `${head}<IsTruncated>true</IsTruncated><NextContinuationToken>a&amp;b</NextContinuationToken><Contents><Key>a&lt;&#38;&#x3e;</Key><LastModified>2026-12-05T17:00:00.000Z</LastModified><ETag>&quot;e&quot;</ETag><Size>7</Size></Contents><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>`,
      ),
    ).toEqual({
      objects: [
        {
          key: 'a<&>',
          size: 7,
          etag: '"e"',
          lastModified: new Date('2026-12-05T17:00:00.000Z'),
          storageClass: undefined,
        },
      ],
      prefixes: ['p/'],
      isTruncated: true,
      nextContinuationToken: 'a&b',
    });
  });
});
