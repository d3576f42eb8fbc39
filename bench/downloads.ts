/**
 * Downloads of one 256 MiB object (the embedded store in its own process, the
 * API server and the bare proxy in others), side by side in every round:
 *  - `GET /objects/{bucket}/{key}` through the API server;
 *  - the same bytes through a bare node:http proxy piping the SDK's GetObject
 *    (run-proxy.ts): the floor for any server that passes bytes through;
 *  - `GET /objects/{bucket}/{key}?redirect=1`, the client following the 307
 *    to the store itself;
 *  - GetObject straight from the store.
 * With `--before <ref>`, `/objects` of that commit's API server as well.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ProxyInfo } from './run-proxy.js';
import { startApi, type Api } from './support/api.js';
import { drain, expectCount, generatedStream } from './support/body.js';
import { startChild, type ChildServer } from './support/child.js';
import { MiB, Pairs, rotation, timed, type BenchGroup, type Row } from './support/harness.js';
import { send } from './support/http.js';
import { createBucket, startStore, type RunningStore } from './support/stores.js';

const SIZE = 256 * MiB;
const BUCKET = 'bench';
const KEY = 'download';

type Download = () => Promise<void>;

async function drainAll(url: string, headers: Record<string, string> = {}): Promise<void> {
  const response = await send(url, { method: 'GET', headers });
  if (response.status !== 200) throw new Error(`GET ${url}: HTTP ${response.status}`);
  expectCount(`GET ${new URL(url).pathname} bytes`, await drain(response.body), SIZE);
}

const viaObjects =
  (api: Api): Download =>
  () =>
    drainAll(`${api.child.info.endpoint}/objects/${BUCKET}/${KEY}`, { authorization: `Bearer ${api.token}` });

function viaRedirect(api: Api): Download {
  return async () => {
    const response = await send(`${api.child.info.endpoint}/objects/${BUCKET}/${KEY}?redirect=1`, {
      method: 'GET',
      headers: { authorization: `Bearer ${api.token}` },
    });
    response.body.resume();
    const location = response.headers.location;
    if (response.status !== 307 || location === undefined) throw new Error(`redirect: HTTP ${response.status}`);
    await drainAll(location);
  };
}

function direct(client: S3Client): Download {
  return async () => {
    const response = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }));
    expectCount('GetObject bytes', await drain(response.Body as AsyncIterable<Uint8Array>), SIZE);
  };
}

function startProxy(store: RunningStore): Promise<ChildServer<ProxyInfo>> {
  return startChild<ProxyInfo>('run-proxy.ts', [], {
    PATH: process.env.PATH,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    S3_ENDPOINT: store.info.endpoint,
    S3_ACCESS_KEY_ID: store.info.accessKeyId,
    S3_SECRET_ACCESS_KEY: store.info.secretAccessKey,
  });
}

export const group: BenchGroup = {
  name: 'downloads',
  description: 'a 256 MiB download: /objects vs a bare proxy, ?redirect=1 vs GetObject',
  async run({ rounds, before, log }) {
    const store = await startStore('embedded');
    const client = store.client('when-required');
    const children: { close(): Promise<void> }[] = [];
    try {
      await createBucket(client, BUCKET);
      await client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: generatedStream(SIZE), ContentLength: SIZE }),
      );
      const api = await startApi(store);
      children.push(api.child);
      const proxy = await startProxy(store);
      children.push(proxy);
      const sides: [string, Download][] = [
        ['/objects', viaObjects(api)],
        ['proxy', () => drainAll(`${proxy.info.endpoint}/${BUCKET}/${KEY}`)],
        ['redirect', viaRedirect(api)],
        ['GetObject', direct(client)],
      ];
      if (before !== undefined) {
        const old = await startApi(store, before);
        children.push(old.child);
        sides.push([`/objects before (${before})`, viaObjects(old)]);
      }
      for (const [, download] of sides) await download();

      const seconds = new Map<string, number[]>(sides.map(([name]) => [name, []]));
      for (let round = 0; round < rounds; round++) {
        for (const [name, download] of rotation(sides, round)) {
          seconds.get(name)!.push((await timed(download)).seconds);
        }
        log(
          `round ${round + 1}/${rounds} (s): ${sides.map(([name]) => `${name} ${seconds.get(name)!.at(-1)!.toFixed(2)}`).join(', ')}`,
        );
      }
      const row = (ours: string, baseline: string, measure: string, notes: string): Row => {
        const pairs = new Pairs();
        for (const [i, value] of seconds.get(ours)!.entries()) pairs.add(value, seconds.get(baseline)![i]!);
        return pairs.row(measure, 's', notes);
      };
      const rows = [
        row('/objects', 'proxy', 'download 256 MiB: GET /objects vs a bare node:http proxy (time)', 'aim ratio ≤ 1.10'),
        row('/objects', 'GetObject', 'download 256 MiB: GET /objects vs GetObject (time)', 'the third process costs'),
        row(
          'redirect',
          'GetObject',
          'download 256 MiB: GET /objects?redirect=1, followed, vs GetObject (time)',
          'one 307 from the API, then the store',
        ),
      ];
      if (before !== undefined) {
        rows.push(
          row(`/objects before (${before})`, 'proxy', `download 256 MiB: GET /objects at ${before} vs the proxy`, ''),
        );
      }
      return rows;
    } finally {
      for (const child of children) await child.close();
      client.destroy();
      await store.close();
    }
  },
};
