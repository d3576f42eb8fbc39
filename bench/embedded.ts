/**
 * The embedded store against s3rver 3.7.1: PutObject and GetObject of a
 * 256 MiB object through @aws-sdk/client-s3, and each store's peak memory.
 * Each store runs in its own process; the client streams a generated body up
 * and drains the download, so neither object is ever held in memory.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { drain, expectCount, generatedStream } from './support/body.js';
import { MiB, Pairs, rotation, timed, type BenchGroup, type Row } from './support/harness.js';
import { createBucket, startStores, type ChecksumMode, type RunningStore } from './support/stores.js';

const SIZE = 256 * MiB;
const WARM_UP_SIZE = 32 * MiB;
const BUCKET = 'bench';

interface Side {
  name: string;
  key: string;
  client: S3Client;
}

async function put(side: Side, size: number): Promise<number> {
  const { seconds } = await timed(() =>
    side.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: side.key, Body: generatedStream(size), ContentLength: size }),
    ),
  );
  return size / MiB / seconds;
}

async function get(side: Side, size: number): Promise<number> {
  const { seconds, result: bytes } = await timed(async () => {
    const response = await side.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: side.key }));
    if (!response.Body) throw new Error(`${side.name}: GetObject returned no body`);
    return drain(response.Body as AsyncIterable<Uint8Array>);
  });
  expectCount(`${side.name} GetObject bytes`, bytes, size);
  return size / MiB / seconds;
}

export const group: BenchGroup = {
  name: 'embedded',
  description: 'embedded store vs s3rver 3.7.1: PutObject/GetObject 256 MiB, peak RSS',
  async run({ rounds, log }) {
    const [embedded, s3rver] = (await startStores(['embedded', 's3rver'])) as [RunningStore, RunningStore];
    const clients: S3Client[] = [];
    const client = (store: RunningStore, mode: ChecksumMode) => {
      const c = store.client(mode);
      clients.push(c);
      return c;
    };
    try {
      const ours: Side = { name: 'embedded', key: 'when-required', client: client(embedded, 'when-required') };
      const base: Side = { name: 's3rver', key: 'when-required', client: client(s3rver, 'when-required') };
      const oursDefault: Side = {
        name: 'embedded (SDK defaults)',
        key: 'sdk-default',
        client: client(embedded, 'sdk-default'),
      };
      const sides = [ours, base, oursDefault];
      await createBucket(ours.client, BUCKET);
      await createBucket(base.client, BUCKET);

      for (const side of sides) {
        await put(side, WARM_UP_SIZE);
        await get(side, WARM_UP_SIZE);
      }

      const putPairs = new Pairs();
      const getPairs = new Pairs();
      const putDefaultPairs = new Pairs();
      const getDefaultPairs = new Pairs();
      for (let round = 0; round < rounds; round++) {
        const putSpeed = new Map<Side, number>();
        for (const side of rotation(sides, round)) putSpeed.set(side, await put(side, SIZE));
        const getSpeed = new Map<Side, number>();
        for (const side of rotation(sides, round)) getSpeed.set(side, await get(side, SIZE));
        putPairs.add(putSpeed.get(ours)!, putSpeed.get(base)!);
        getPairs.add(getSpeed.get(ours)!, getSpeed.get(base)!);
        putDefaultPairs.add(putSpeed.get(oursDefault)!, putSpeed.get(base)!);
        getDefaultPairs.add(getSpeed.get(oursDefault)!, getSpeed.get(base)!);
        const show = (speeds: Map<Side, number>) =>
          sides.map((s) => `${s.name} ${speeds.get(s)!.toFixed(0)}`).join(', ');
        log(`round ${round + 1}/${rounds}: put MiB/s ${show(putSpeed)}; get MiB/s ${show(getSpeed)}`);
      }

      const rss = new Pairs();
      rss.add((await embedded.child.peakRssBytes()) / MiB, (await s3rver.child.peakRssBytes()) / MiB);

      const rows: Row[] = [
        putPairs.row('PutObject 256 MiB', 'MiB/s', 'both clients WHEN_REQUIRED checksums; target ratio ≥ 1'),
        getPairs.row('GetObject 256 MiB', 'MiB/s', 'both clients WHEN_REQUIRED checksums; target ratio ≥ 1'),
        putDefaultPairs.row(
          'PutObject 256 MiB, SDK default checksums',
          'MiB/s',
          'ours: aws-chunked body with CRC32 trailer; baseline: s3rver as above (it cannot take aws-chunked)',
        ),
        getDefaultPairs.row(
          'GetObject 256 MiB, SDK default checksums',
          'MiB/s',
          'ours: SDK validates the response checksum when the store sends one; baseline: s3rver as above',
        ),
        rss.row('store peak RSS', 'MiB', 'whole run, each store in its own process; target ours < 150 MiB, one sample'),
      ];
      return rows;
    } finally {
      for (const c of clients) c.destroy();
      await Promise.all([embedded.close(), s3rver.close()]);
    }
  },
};
