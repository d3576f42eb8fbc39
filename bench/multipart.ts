/**
 * Multipart uploads of 1 GiB (8 parts of 128 MiB, all 8 in parallel) into the
 * embedded store (its own process), with the API server in another process:
 *  - through the server with `multipart.uploadPart` (each part spooled to a
 *    temporary file, since the multipart request does not say its length),
 *  - the same with `uploadPart(size:)` (each part streamed straight through),
 *  - vs straight to the store: `multipart.presignPart`, then a PUT of the part
 *    to the presigned URL, as a browser uploader does.
 * Each side creates and completes its upload through GraphQL. Reported as
 * throughput and the ratio to the presigned side, with the server's peak RSS.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startApi, type Api } from './support/api.js';
import { drain, expectCount, generatedStream } from './support/body.js';
import { MiB, Pairs, rotation, timed, type BenchGroup, type Row } from './support/harness.js';
import { graphqlData, multipartRequest, readJson, send } from './support/http.js';
import { createBucket, startStore } from './support/stores.js';

const PARTS = 8;
const PART_SIZE = 128 * MiB;
const TOTAL = PARTS * PART_SIZE;
const WARM_UP_PART_SIZE = 8 * MiB;
/** Every round moves 3 GiB; three rounds give a stable median on a small machine. */
const MAX_ROUNDS = 3;
const BUCKET = 'bench-multipart';

const CREATE = `mutation Create($bucket: String!, $key: String!) {
  multipart { create(bucket: $bucket, key: $key) { uploadId } }
}`;
const UPLOAD_PART = `mutation Part($bucket: String!, $key: String!, $uploadId: String!, $partNumber: Int!, $file: Upload!, $size: SafeInt) {
  multipart { uploadPart(bucket: $bucket, key: $key, uploadId: $uploadId, partNumber: $partNumber, file: $file, size: $size) { partNumber etag size } }
}`;
const PRESIGN_PART = `mutation Presign($bucket: String!, $key: String!, $uploadId: String!, $partNumber: Int!) {
  multipart { presignPart(bucket: $bucket, key: $key, uploadId: $uploadId, partNumber: $partNumber, expiresIn: 600) { url } }
}`;
const COMPLETE = `mutation Complete($bucket: String!, $key: String!, $uploadId: String!, $parts: [CompletedPartInput!]) {
  multipart { complete(bucket: $bucket, key: $key, uploadId: $uploadId, parts: $parts) { size etag } }
}`;

async function gql<T>(api: Api, query: string, variables: Record<string, unknown>): Promise<T> {
  const body = Buffer.from(JSON.stringify({ query, variables }));
  const response = await send(api.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-length': String(body.length),
      authorization: `Bearer ${api.token}`,
    },
    body,
  });
  return graphqlData<T>(response, await readJson(response));
}

interface Part {
  partNumber: number;
  etag: string;
}

type PartSender = (api: Api, key: string, uploadId: string, partNumber: number, size: number) => Promise<Part>;

/** One part through `uploadPart`, as a GraphQL multipart request; with `declared`, its size is given. */
const throughServer =
  (declared: boolean): PartSender =>
  async (api, key, uploadId, partNumber, size) => {
    const variables = { bucket: BUCKET, key, uploadId, partNumber, size: declared ? size : null };
    const { body, headers } = multipartRequest({ query: UPLOAD_PART, variables }, size);
    const response = await send(api.url, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${api.token}`, 'x-graphql-csrf': '1' },
      body,
    });
    const data = graphqlData<{ multipart: { uploadPart: Part & { size: number } } }>(
      response,
      await readJson(response),
    );
    expectCount('uploadPart size', data.multipart.uploadPart.size, size);
    return { partNumber, etag: data.multipart.uploadPart.etag };
  };

/** One part straight to the store: presigned just before the PUT, as a browser uploader does. */
const presigned: PartSender = async (api, key, uploadId, partNumber, size) => {
  const signed = await gql<{ multipart: { presignPart: { url: string } } }>(api, PRESIGN_PART, {
    bucket: BUCKET,
    key,
    uploadId,
    partNumber,
  });
  const response = await send(signed.multipart.presignPart.url, {
    method: 'PUT',
    headers: { 'content-length': String(size) },
    body: generatedStream(size),
  });
  await drain(response.body);
  const etag = response.headers.etag;
  if (response.status !== 200 || etag === undefined) throw new Error(`presigned part PUT: HTTP ${response.status}`);
  return { partNumber, etag };
};

/** create, PARTS parts in parallel, complete; then the object is deleted again. */
async function upload(api: Api, client: S3Client, key: string, partSize: number, sendPart: PartSender): Promise<void> {
  const created = await gql<{ multipart: { create: { uploadId: string } } }>(api, CREATE, { bucket: BUCKET, key });
  const { uploadId } = created.multipart.create;
  const parts = await Promise.all(
    Array.from({ length: PARTS }, (_, i) => sendPart(api, key, uploadId, i + 1, partSize)),
  );
  const done = await gql<{ multipart: { complete: { size: number; etag: string } } }>(api, COMPLETE, {
    bucket: BUCKET,
    key,
    uploadId,
    parts,
  });
  expectCount('completed object size', done.multipart.complete.size, PARTS * partSize);
  if (!done.multipart.complete.etag.endsWith(`-${PARTS}`))
    throw new Error(`unexpected ETag ${done.multipart.complete.etag}`);
  await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
}

interface Side {
  name: string;
  key: string;
  sendPart: PartSender;
}

export const group: BenchGroup = {
  name: 'multipart',
  description: `multipart 1 GiB (${PARTS} × ${PART_SIZE / MiB} MiB parts in parallel): uploadPart through the server vs presigned part PUTs straight to the store`,
  async run({ rounds, log }) {
    const measured = Math.min(rounds, MAX_ROUNDS);
    const store = await startStore('embedded');
    const client = store.client('when-required');
    let api: Api | undefined;
    try {
      await createBucket(client, BUCKET);
      api = await startApi(store);
      const spooled: Side = { name: 'uploadPart', key: 'through-server', sendPart: throughServer(false) };
      const sized: Side = { name: 'uploadPart(size)', key: 'through-server-sized', sendPart: throughServer(true) };
      const direct: Side = { name: 'presigned', key: 'presigned', sendPart: presigned };
      const sides = [spooled, sized, direct];
      for (const side of sides) await upload(api, client, side.key, WARM_UP_PART_SIZE, side.sendPart);

      const spooledPairs = new Pairs();
      const sizedPairs = new Pairs();
      for (let round = 0; round < measured; round++) {
        const speed = new Map<Side, number>();
        for (const side of rotation(sides, round)) {
          const { seconds } = await timed(() => upload(api!, client, side.key, PART_SIZE, side.sendPart));
          speed.set(side, TOTAL / MiB / seconds);
        }
        spooledPairs.add(speed.get(spooled)!, speed.get(direct)!);
        sizedPairs.add(speed.get(sized)!, speed.get(direct)!);
        log(
          `round ${round + 1}/${measured}: MiB/s ${sides.map((s) => `${s.name} ${speed.get(s)!.toFixed(0)}`).join(', ')}`,
        );
      }
      const peak = await api.child.peakRssBytes();
      const rss: Row = {
        measure: 'API server peak RSS',
        unit: 'MiB',
        ours: peak / MiB,
        baseline: undefined,
        ratio: undefined,
        notes: `whole run (8 parts of ${PART_SIZE / MiB} MiB at once through uploadPart); spool keeps ≤ 8 MiB of a part in memory, the rest on disk`,
      };
      return [
        spooledPairs.row(
          'multipart 1 GiB via uploadPart',
          'MiB/s',
          'ours: parts through the server, each spooled to a temp file first; baseline: presigned part PUTs to the store; create/complete via GraphQL on both',
        ),
        sizedPairs.row(
          'multipart 1 GiB via uploadPart(size)',
          'MiB/s',
          'ours: parts through the server with their size given, streamed straight to the store; baseline as above',
        ),
        rss,
      ];
    } finally {
      client.destroy();
      await api?.child.close();
      await store.close();
    }
  },
};
