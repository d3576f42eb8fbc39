/**
 * The API server against direct SDK calls to the same store (the embedded
 * store, in its own process; the API server in another):
 *  - upload 256 MiB through the GraphQL `uploadObject` mutation vs
 *    @aws-sdk/lib-storage `Upload` with the server's default part size and queue;
 *  - download 256 MiB from `GET /objects/{bucket}/{key}` vs GetObject;
 *  - the API server's peak RSS for an upload of 64 MiB and of 1 GiB;
 *  - a 100-object listing through GraphQL vs ListObjectsV2, per second.
 */
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { loadConfig } from '../src/config/index.js';
import { startApi, type Api } from './support/api.js';
import { drain, expectCount, generatedStream } from './support/body.js';
import { MiB, Pairs, median, rotation, timed, type BenchGroup, type Row } from './support/harness.js';
import { graphqlData, multipartRequest, readJson, send } from './support/http.js';
import { createBucket, startStore, type RunningStore } from './support/stores.js';

const TRANSFER_SIZE = 256 * MiB;
const WARM_UP_SIZE = 32 * MiB;
const RSS_SIZES = [64 * MiB, 1024 * MiB] as const;
/** Peak-RSS rounds start a fresh server per upload; three are plenty for a measure this stable. */
const MAX_RSS_ROUNDS = 3;
const LIST_OBJECTS = 100;
const LIST_REQUESTS = 200;
const LIST_CONCURRENCY = 4;

const BUCKET = 'bench';
const LIST_BUCKET = 'bench-list';
const DOWNLOAD_KEY = 'download';

/** The server's own defaults for streaming uploads to the store (UPLOAD_PART_SIZE, UPLOAD_QUEUE_SIZE). */
const serverDefaults = loadConfig({});

const UPLOAD_MUTATION = `mutation Upload($bucket: String!, $key: String!, $file: Upload!) {
  uploadObject(bucket: $bucket, key: $key, file: $file) { key size etag }
}`;

const LIST_QUERY = `query List($bucket: String!, $first: Int!) {
  bucket(name: $bucket) {
    objects(first: $first) {
      edges { node { key size etag lastModified } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

async function uploadViaGraphQL(api: Api, key: string, size: number): Promise<void> {
  const { body, headers } = multipartRequest({ query: UPLOAD_MUTATION, variables: { bucket: BUCKET, key } }, size);
  const response = await send(api.url, {
    method: 'POST',
    headers: { ...headers, authorization: `Bearer ${api.token}`, 'x-graphql-csrf': '1' },
    body,
  });
  const data = graphqlData<{ uploadObject: { size: number } }>(response, await readJson(response));
  expectCount('uploadObject size', data.uploadObject.size, size);
}

async function uploadDirect(client: S3Client, key: string, size: number): Promise<void> {
  await new Upload({
    client,
    params: { Bucket: BUCKET, Key: key, Body: generatedStream(size) },
    partSize: serverDefaults.uploadPartSize,
    queueSize: serverDefaults.uploadQueueSize,
  }).done();
}

async function downloadViaApi(api: Api, size: number): Promise<void> {
  const response = await send(`${api.child.info.endpoint}/objects/${BUCKET}/${DOWNLOAD_KEY}`, {
    method: 'GET',
    headers: { authorization: `Bearer ${api.token}` },
  });
  if (response.status !== 200) throw new Error(`GET /objects: HTTP ${response.status}`);
  expectCount('GET /objects bytes', await drain(response.body), size);
}

async function downloadDirect(client: S3Client, size: number): Promise<void> {
  const response = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: DOWNLOAD_KEY }));
  if (!response.Body) throw new Error('GetObject returned no body');
  expectCount('GetObject bytes', await drain(response.Body as AsyncIterable<Uint8Array>), size);
}

/** Runs `requests` calls of `call`, `concurrency` at a time, and returns calls per second. */
async function perSecond(requests: number, concurrency: number, call: () => Promise<void>): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < requests) {
      next++;
      await call();
    }
  };
  const { seconds } = await timed(() => Promise.all(Array.from({ length: concurrency }, worker)));
  return requests / seconds;
}

function listViaGraphQL(api: Api, agent: Agent): () => Promise<void> {
  const body = Buffer.from(
    JSON.stringify({ query: LIST_QUERY, variables: { bucket: LIST_BUCKET, first: LIST_OBJECTS } }),
  );
  return async () => {
    const response = await send(api.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': String(body.length),
        authorization: `Bearer ${api.token}`,
      },
      body,
      agent,
    });
    const data = graphqlData<{ bucket: { objects: { edges: unknown[] } } }>(response, await readJson(response));
    expectCount('GraphQL listing objects', data.bucket.objects.edges.length, LIST_OBJECTS);
  };
}

function listDirect(client: S3Client): () => Promise<void> {
  return async () => {
    const page = await client.send(new ListObjectsV2Command({ Bucket: LIST_BUCKET, MaxKeys: LIST_OBJECTS }));
    expectCount('ListObjectsV2 objects', page.Contents?.length ?? 0, LIST_OBJECTS);
  };
}

/** Upload throughput and time ratio, download throughput, listing rate, against one long-lived server. */
async function transfers(
  store: RunningStore,
  client: S3Client,
  rounds: number,
  log: (line: string) => void,
): Promise<Row[]> {
  const api = await startApi(store);
  const agent = new Agent({ keepAlive: true, maxSockets: LIST_CONCURRENCY });
  try {
    await createBucket(client, LIST_BUCKET);
    for (let i = 0; i < LIST_OBJECTS; i++) {
      const key = `object-${String(i).padStart(3, '0')}`;
      await client.send(new PutObjectCommand({ Bucket: LIST_BUCKET, Key: key, Body: randomBytes(1024) }));
    }
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: DOWNLOAD_KEY,
        Body: generatedStream(TRANSFER_SIZE),
        ContentLength: TRANSFER_SIZE,
      }),
    );

    const ours = {
      upload: (size: number) => uploadViaGraphQL(api, 'upload-graphql', size),
      download: () => downloadViaApi(api, TRANSFER_SIZE),
      list: listViaGraphQL(api, agent),
    };
    const direct = {
      upload: (size: number) => uploadDirect(client, 'upload-direct', size),
      download: () => downloadDirect(client, TRANSFER_SIZE),
      list: listDirect(client),
    };
    for (const side of [ours, direct]) {
      await side.upload(WARM_UP_SIZE);
      await side.download();
      await perSecond(20, LIST_CONCURRENCY, side.list);
    }

    const uploadTime = new Pairs();
    const uploadSpeed = new Pairs();
    const downloadTime = new Pairs();
    const downloadSpeed = new Pairs();
    const listing = new Pairs();
    for (let round = 0; round < rounds; round++) {
      const sides = rotation([ours, direct], round);
      const up = new Map<object, number>();
      for (const side of sides) up.set(side, (await timed(() => side.upload(TRANSFER_SIZE))).seconds);
      const down = new Map<object, number>();
      for (const side of sides) down.set(side, (await timed(() => side.download())).seconds);
      const qps = new Map<object, number>();
      for (const side of sides) qps.set(side, await perSecond(LIST_REQUESTS, LIST_CONCURRENCY, side.list));

      const speed = (seconds: number) => TRANSFER_SIZE / MiB / seconds;
      uploadTime.add(up.get(ours)!, up.get(direct)!);
      uploadSpeed.add(speed(up.get(ours)!), speed(up.get(direct)!));
      downloadTime.add(down.get(ours)!, down.get(direct)!);
      downloadSpeed.add(speed(down.get(ours)!), speed(down.get(direct)!));
      listing.add(qps.get(ours)!, qps.get(direct)!);
      log(
        `round ${round + 1}/${rounds}: upload s ${up.get(ours)!.toFixed(2)} vs ${up.get(direct)!.toFixed(2)}; ` +
          `download s ${down.get(ours)!.toFixed(2)} vs ${down.get(direct)!.toFixed(2)}; ` +
          `listing/s ${qps.get(ours)!.toFixed(0)} vs ${qps.get(direct)!.toFixed(0)}`,
      );
    }
    const part = `${serverDefaults.uploadPartSize / MiB} MiB parts, ${serverDefaults.uploadQueueSize} in flight`;
    return [
      uploadTime.row(
        'upload 256 MiB: uploadObject vs lib-storage Upload (time)',
        's',
        `aim ratio ≤ 1.15; both ${part}`,
      ),
      uploadSpeed.row(
        'upload 256 MiB: uploadObject vs lib-storage Upload (throughput)',
        'MiB/s',
        'same runs as the line above',
      ),
      downloadTime.row('download 256 MiB: GET /objects vs GetObject (time)', 's', 'aim ratio ≤ 1.10'),
      downloadSpeed.row(
        'download 256 MiB: GET /objects vs GetObject (throughput)',
        'MiB/s',
        'same runs as the line above',
      ),
      listing.row(
        `list ${LIST_OBJECTS} objects: GraphQL objects(first: ${LIST_OBJECTS}) vs ListObjectsV2`,
        'queries/s',
        `aim ratio ≥ 0.7; ${LIST_REQUESTS} requests, ${LIST_CONCURRENCY} at a time, keep-alive`,
      ),
    ];
  } finally {
    agent.destroy();
    await api.child.close();
  }
}

/** The API server's peak RSS for one upload of each size, a fresh server process per upload. */
async function uploadMemory(store: RunningStore, rounds: number, log: (line: string) => void): Promise<Row> {
  const peaks = new Map<number, number[]>(RSS_SIZES.map((size) => [size, []]));
  const idle: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const size of rotation(RSS_SIZES, round)) {
      const api = await startApi(store);
      try {
        idle.push((await api.child.peakRssBytes()) / MiB);
        await uploadViaGraphQL(api, 'upload-rss', size);
        peaks.get(size)!.push((await api.child.peakRssBytes()) / MiB);
      } finally {
        await api.child.close();
      }
    }
    log(
      `peak RSS round ${round + 1}/${rounds}: ${RSS_SIZES.map((s) => `${s / MiB} MiB upload ${peaks.get(s)!.at(-1)!.toFixed(0)} MiB`).join(', ')}`,
    );
  }
  const [small, large] = RSS_SIZES;
  const pairs = new Pairs();
  for (const [i, peak] of peaks.get(large)!.entries()) pairs.add(peak, peaks.get(small)![i]!);
  const growth = median(pairs.ours.map((peak, i) => peak - pairs.baseline[i]!));
  return pairs.row(
    'API server peak RSS: 1 GiB upload (ours) vs 64 MiB upload (baseline)',
    'MiB',
    `1 GiB − 64 MiB: ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MiB (aim: within 32 MiB, both under 200 MiB); ` +
      `idle after start ${median(idle).toFixed(0)} MiB; a fresh server per upload, ${rounds} rounds`,
  );
}

export const group: BenchGroup = {
  name: 'api',
  description: 'API server vs direct SDK calls, against the embedded store: upload, download, memory, listing',
  async run({ rounds, log }) {
    const store = await startStore('embedded');
    const client = store.client('when-required');
    try {
      await createBucket(client, BUCKET);
      const rows = await transfers(store, client, rounds, log);
      rows.push(await uploadMemory(store, Math.min(rounds, MAX_RSS_ROUNDS), log));
      return rows;
    } finally {
      client.destroy();
      await store.close();
    }
  },
};
