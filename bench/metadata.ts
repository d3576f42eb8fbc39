/**
 * Small requests through the API server against the same requests sent
 * straight to the store (the embedded store in its own process, the API
 * server in another), in queries per second at 1 and at 4 clients:
 *  - a 100-object listing, `bucket { objects(first: 100) { … } }` vs ListObjectsV2;
 *  - one object's metadata, `object { size etag contentType }` vs HeadObject.
 * With `--before <ref>`, the API server of that commit runs as a third side.
 * Each API server's CPU time per query (from /proc, so on Linux) goes in the notes.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startApi, type Api } from './support/api.js';
import { expectCount } from './support/body.js';
import { median, Pairs, rotation, type BenchGroup, type Row } from './support/harness.js';
import { graphqlData, readJson, send } from './support/http.js';
import { createBucket, startStore } from './support/stores.js';

const BUCKET = 'bench-list';
const LIST_OBJECTS = 100;
const HEAD_KEY = 'object-000';
/** Each side of each measure sends requests for this long per round. */
const MEASURE_SECONDS = 1.5;
const CLIENTS = [1, 4] as const;

const LIST_QUERY = `query List($bucket: String!, $first: Int!) {
  bucket(name: $bucket) { objects(first: $first) { edges { node { key size etag lastModified } } } }
}`;

const HEAD_QUERY = `query Head($bucket: String!, $key: String!) {
  object(bucket: $bucket, key: $key) { size etag contentType }
}`;

type Call = () => Promise<void>;

interface Side {
  name: string;
  list: Call;
  head: Call;
  /** The API server's process, whose CPU time per query is measured; none for the direct side. */
  pid?: number;
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux); undefined elsewhere. */
function cpuMsOf(pid: number): number | undefined {
  try {
    // Fields 14 and 15 (utime, stime), in clock ticks of 1/100 s; the name in parentheses may hold spaces.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

interface Measured {
  /** Calls finished per second. */
  rate: number;
  /** CPU time of process `pid` per call, in ms, when there is one to measure. */
  cpuMs: number | undefined;
}

/** Sends `call` from `clients` loops at once for `seconds`; `pid`: the server whose CPU per call is measured. */
async function perSecond(seconds: number, clients: number, call: Call, pid?: number): Promise<Measured> {
  const cpuBefore = pid === undefined ? undefined : cpuMsOf(pid);
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let done = 0;
  const loop = async () => {
    while (process.hrtime.bigint() < deadline) {
      await call();
      done++;
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  const rate = done / (Number(process.hrtime.bigint() - start) / 1e9);
  const cpuAfter = pid === undefined ? undefined : cpuMsOf(pid);
  return { rate, cpuMs: cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) / done };
}

/** A GraphQL query as a keep-alive JSON POST; `check` looks at its data. */
function graphqlCall<T>(api: Api, agent: Agent, query: string, variables: object, check: (data: T) => void): Call {
  const body = Buffer.from(JSON.stringify({ query, variables }));
  const headers = {
    'content-type': 'application/json',
    'content-length': String(body.length),
    authorization: `Bearer ${api.token}`,
  };
  const once = async () => {
    const response = await send(api.url, { method: 'POST', headers, body, agent });
    check(graphqlData<T>(response, await readJson(response)));
  };
  return async () => {
    try {
      await once();
    } catch (error) {
      // A kept-alive socket the server closed just as it was reused (Node's documented race): send again.
      if ((error as { code?: unknown }).code !== 'ECONNRESET') throw error;
      await once();
    }
  };
}

function apiSide(name: string, api: Api, agent: Agent): Side {
  return {
    name,
    pid: api.child.pid,
    list: graphqlCall<{ bucket: { objects: { edges: unknown[] } } }>(
      api,
      agent,
      LIST_QUERY,
      { bucket: BUCKET, first: LIST_OBJECTS },
      (data) => expectCount(`${name} listing objects`, data.bucket.objects.edges.length, LIST_OBJECTS),
    ),
    head: graphqlCall<{ object: { size: number } | null }>(
      api,
      agent,
      HEAD_QUERY,
      { bucket: BUCKET, key: HEAD_KEY },
      (data) => expectCount(`${name} object size`, data.object?.size ?? -1, 1024),
    ),
  };
}

function directSide(client: S3Client): Side {
  return {
    name: 'direct',
    async list() {
      const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: LIST_OBJECTS }));
      expectCount('ListObjectsV2 objects', page.Contents?.length ?? 0, LIST_OBJECTS);
    },
    async head() {
      const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: HEAD_KEY }));
      expectCount('HeadObject size', head.ContentLength ?? -1, 1024);
    },
  };
}

const measures = [
  ...CLIENTS.map((clients) => ({
    what: 'list' as const,
    clients,
    label: `list ${LIST_OBJECTS} objects, ${clients} client${clients > 1 ? 's' : ''}: objects(first: ${LIST_OBJECTS}) vs ListObjectsV2`,
  })),
  ...CLIENTS.map((clients) => ({
    what: 'head' as const,
    clients,
    label: `object metadata, ${clients} client${clients > 1 ? 's' : ''}: object { size etag contentType } vs HeadObject`,
  })),
];

export const group: BenchGroup = {
  name: 'metadata',
  description: 'listings and object metadata through GraphQL vs ListObjectsV2 and HeadObject, 1 and 4 clients',
  async run({ rounds, before, log }) {
    const store = await startStore('embedded');
    const client = store.client('when-required');
    const apis: Api[] = [];
    const agent = new Agent({ keepAlive: true, maxSockets: Math.max(...CLIENTS) });
    try {
      await createBucket(client, BUCKET);
      for (let i = 0; i < LIST_OBJECTS; i++) {
        const key = `object-${String(i).padStart(3, '0')}`;
        await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: randomBytes(1024) }));
      }
      apis.push(await startApi(store));
      const sides = [apiSide('ours', apis[0]!, agent), directSide(client)];
      if (before !== undefined) {
        apis.push(await startApi(store, before));
        sides.push(apiSide(`before (${before})`, apis[1]!, agent));
      }
      for (const side of sides) for (const m of measures) await perSecond(0.5, m.clients, side[m.what]);

      const results = measures.map(() => new Map<Side, Measured[]>(sides.map((side) => [side, []])));
      for (let round = 0; round < rounds; round++) {
        const line: string[] = [];
        for (const [i, m] of measures.entries()) {
          for (const side of rotation(sides, round)) {
            results[i]!.get(side)!.push(await perSecond(MEASURE_SECONDS, m.clients, side[m.what], side.pid));
          }
          const last = sides.map((s) => results[i]!.get(s)!.at(-1)!);
          const cpu = last.flatMap((r) => (r.cpuMs === undefined ? [] : [r.cpuMs.toFixed(2)]));
          line.push(`${m.what}×${m.clients} ${last.map((r) => r.rate.toFixed(0)).join('/')} (${cpu.join('/')} ms)`);
        }
        log(
          `round ${round + 1}/${rounds} (q/s ${sides.map((s) => s.name).join('/')}, API CPU per query): ${line.join('; ')}`,
        );
      }

      const direct = sides[1]!;
      const rows: Row[] = [];
      for (const [i, m] of measures.entries()) {
        for (const side of sides.filter((s) => s !== direct)) {
          const pairs = new Pairs();
          const measured = results[i]!.get(side)!;
          for (const [r, value] of measured.entries()) pairs.add(value.rate, results[i]!.get(direct)![r]!.rate);
          const cpu = measured.flatMap((r) => (r.cpuMs === undefined ? [] : [r.cpuMs]));
          const cpuNote = cpu.length > 0 ? `; API process CPU ${median(cpu).toFixed(2)} ms per query` : '';
          rows.push(
            pairs.row(
              side.name === 'ours' ? m.label : `${m.label} [${side.name}]`,
              'queries/s',
              `aim ratio ≥ 0.8; ${m.clients} keep-alive connection${m.clients > 1 ? 's' : ''}, ${MEASURE_SECONDS} s per side per round${cpuNote}`,
            ),
          );
        }
      }
      return rows;
    } finally {
      agent.destroy();
      for (const api of apis) await api.child.close();
      client.destroy();
      await store.close();
    }
  },
};
