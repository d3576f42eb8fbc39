import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { HeadObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { HttpRequest, type HttpResponse } from '@smithy/protocol-http';
import { isClockSkewError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, FinalizeHandler, InitializeHandler, MetadataBearer, SourceData } from '@smithy/types';
import { readAtMost } from '../core/read-body.js';
import type { ResolvedStoreSettings } from './client.js';
import { around, HandedToSdk, storeCallMiddleware, type StoreCallEvent } from './instrumentation.js';
import { parseErrorAnswer, parseListBucketResult, type ListBucketResult } from './list-xml.js';

/**
 * ListObjectsV2 and HeadObject, the calls behind every listing and every
 * `object { … }`, sent without the SDK's command pipeline: signed with the
 * SDK's own SigV4 signer and sent through the client's own request handler
 * (its socket pool and timeouts), and read by ./list-xml.ts. Profiled, the
 * SDK's endpoint rules, schema serde and XML parser cost a 100-object
 * listing about 1.2 ms of CPU, about a third of the server's whole work on
 * the query; this path costs a fraction of that.
 *
 * It takes the plain success, and a listing's refusal (4xx with an S3 error
 * code, such as NoSuchBucket), which it throws shaped as the SDK throws it,
 * so ./errors.ts maps it alike. Anything the SDK would retry or read
 * differently (a 5xx, a throttle, a clock-skew refusal, a redirect), a
 * network failure, a HEAD refused with anything but 404, or a body it does
 * not know, is handed back as "ask the SDK", which then makes the call again
 * with its retries and error mapping.
 * It goes through the same budget, metrics and tracing middleware as an SDK
 * command (./instrumentation.ts).
 */
export interface LeanReads {
  listObjectsV2(input: ListInput): Promise<ListBucketResult | undefined>;
  /** 'missing': the store answered 404 (no such key, or no such bucket). */
  headObject(bucket: string, key: string): Promise<HeadResult | 'missing' | undefined>;
}

export interface ListInput {
  bucket: string;
  prefix?: string;
  delimiter?: string;
  maxKeys: number;
  continuationToken?: string;
  startAfter?: string;
}

/** What the server reads of HeadObject's output, in the SDK's own shape. */
export type HeadResult = Pick<
  HeadObjectCommandOutput,
  | 'ContentLength'
  | 'ETag'
  | 'LastModified'
  | 'StorageClass'
  | 'ContentType'
  | 'Metadata'
  | 'ContentDisposition'
  | 'CacheControl'
  | 'ContentEncoding'
>;

/** A listing page is at most 1000 entries of keys up to 1 KiB: more than this is not a page this path reads. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** SHA-256 and its HMAC from node:crypto, in the shape the SDK's signer takes. */
class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }

  update(data: Uint8Array): void {
    this.hash.update(data);
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }
}

function bytes(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** The SDK's key encoding in a path: each segment URI-encoded, `!'()*` included. */
const encodeSegment = (segment: string) =>
  encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** A HEAD answered 404: the call's answer (counted, reported as the SDK's 404 is), with nothing to ask the SDK. */
class Missing extends Error {
  readonly $metadata: MetadataBearer['$metadata'] = { httpStatusCode: 404 };

  constructor() {
    super('the store answered 404');
  }
}

/** A store's refusal, with what ./errors.ts reads of the SDK's own exceptions: the code, the status, the fault. */
class StoreRefusal extends Error {
  readonly Code: string;
  readonly $fault = 'client';
  readonly $metadata: MetadataBearer['$metadata'];
  /** Never set; typed as the SDK's error classifiers take it. */
  declare readonly cause?: Error;

  constructor(code: string, message: string, status: number, requestId: string | undefined) {
    super(message);
    this.name = code;
    this.Code = code;
    this.$metadata = { httpStatusCode: status, requestId };
  }
}

/** Whether the SDK's retry strategy would try `refusal` again (a throttle, a clock skew, a timeout): left to it. */
const retriedBySdk = (refusal: StoreRefusal) =>
  isThrottlingError(refusal) || isClockSkewError(refusal) || isTransientError(refusal);

/**
 * The lean reads for a store addressed path-style (the default, and what
 * RustFS, MinIO, Ceph and the embedded store use), with debug logging off
 * (the SDK's logger middleware writes the per-call debug lines); undefined
 * otherwise, and every call goes through the SDK.
 */
export function createLeanReads(
  client: S3Client,
  settings: ResolvedStoreSettings,
  opts: { onCall?: (event: StoreCallEvent) => void; debug: boolean },
): LeanReads | undefined {
  if (!settings.forcePathStyle || opts.debug) return undefined;
  const endpoint = new URL(settings.endpoint);
  const basePath = endpoint.pathname.replace(/\/+$/, '');
  const signer = new SignatureV4({
    service: 's3',
    region: settings.region,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    sha256: NodeSha256,
    // The path is encoded once, here, as the SDK does for S3.
    uriEscapePath: false,
  });
  const handler = client.config.requestHandler;
  const chain = storeCallMiddleware(opts.onCall);

  /** One attempt: sign, add the traceparent, send; the answer, or HandedToSdk. */
  async function send(commandName: string, request: HttpRequest): Promise<HttpResponse> {
    // The SDK's estimate of how far this machine's clock is off the store's (learned from a clock-skew refusal).
    const signingDate = new Date(Date.now() + client.config.systemClockOffset);
    const signed = (await signer.sign(request, { signingDate })) as HttpRequest;
    const attempt = around<FinalizeHandler<object, MetadataBearer>>(
      chain.finalizeRequest,
      commandName,
      async (args) => {
        try {
          const { response } = await handler.handle(args.request as HttpRequest);
          return { output: { $metadata: {} }, response };
        } catch (e) {
          throw new HandedToSdk(undefined, e);
        }
      },
    );
    const { response } = await attempt({ input: {}, request: signed });
    return response as HttpResponse;
  }

  function request(path: string, method: string, query: Record<string, string>): HttpRequest {
    return new HttpRequest({
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      port: endpoint.port === '' ? undefined : Number(endpoint.port),
      method,
      path: `${basePath}${path}`,
      query,
      headers: { host: endpoint.host },
    });
  }

  /** Runs `run` as command `commandName` through the call middleware; undefined when the SDK is to be asked. */
  async function asCommand<T>(
    commandName: string,
    input: { Bucket: string },
    run: () => Promise<T>,
  ): Promise<T | undefined> {
    let result: T | undefined;
    const call = around<InitializeHandler<object, MetadataBearer>>(chain.initialize, commandName, async () => {
      result = await run();
      return { output: { $metadata: { httpStatusCode: 200 } }, response: undefined };
    });
    try {
      await call({ input });
      return result;
    } catch (e) {
      if (e instanceof Missing || e instanceof HandedToSdk) return undefined;
      throw e;
    }
  }

  return {
    listObjectsV2(input) {
      return asCommand('ListObjectsV2Command', { Bucket: input.bucket }, async () => {
        const query: Record<string, string> = { 'list-type': '2', 'max-keys': String(input.maxKeys) };
        if (input.prefix) query.prefix = input.prefix;
        if (input.delimiter) query.delimiter = input.delimiter;
        if (input.continuationToken) query['continuation-token'] = input.continuationToken;
        if (input.startAfter) query['start-after'] = input.startAfter;
        const response = await send('ListObjectsV2Command', request(`/${encodeSegment(input.bucket)}`, 'GET', query));
        const status = response.statusCode;
        // A body the network cut is retried by the SDK, as it retries the same failure before the headers.
        const body = await readAtMost(response.body as Readable, MAX_BODY_BYTES).catch((e: unknown) => {
          throw new HandedToSdk(status, e);
        });
        const text = body?.toString('utf8') ?? '';
        if (status !== 200) {
          const answer = status >= 400 && status < 500 ? parseErrorAnswer(text) : undefined;
          if (answer === undefined) throw new HandedToSdk(status);
          const refusal = new StoreRefusal(answer.code, answer.message, status, response.headers['x-amz-request-id']);
          if (retriedBySdk(refusal)) throw new HandedToSdk(status);
          throw refusal;
        }
        const page = parseListBucketResult(text);
        if (page === undefined) throw new HandedToSdk(200);
        return page;
      });
    },

    async headObject(bucket, key) {
      let missing = false;
      const head = await asCommand('HeadObjectCommand', { Bucket: bucket }, async () => {
        const path = `/${encodeSegment(bucket)}/${key.split('/').map(encodeSegment).join('/')}`;
        const response = await send('HeadObjectCommand', request(path, 'HEAD', {}));
        (response.body as Readable).resume();
        if (response.statusCode === 404) {
          missing = true;
          throw new Missing();
        }
        const head = response.statusCode === 200 ? headResult(response.headers) : undefined;
        if (head === undefined) throw new HandedToSdk(response.statusCode);
        return head;
      });
      return missing ? 'missing' : head;
    },
  };
}

/** The HEAD answer's headers as the SDK reads them; undefined (ask the SDK) for a length or date that does not parse. */
function headResult(headers: Record<string, string>): HeadResult | undefined {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('x-amz-meta-')) metadata[name.slice('x-amz-meta-'.length)] = value;
  }
  const modified = headers['last-modified'];
  const lastModified = modified === undefined ? undefined : new Date(modified);
  const length = Number(headers['content-length'] ?? 0);
  if (!Number.isSafeInteger(length) || (lastModified !== undefined && Number.isNaN(lastModified.getTime()))) {
    return undefined;
  }
  return {
    ContentLength: length,
    ETag: headers.etag,
    LastModified: lastModified,
    StorageClass: headers['x-amz-storage-class'] as HeadResult['StorageClass'],
    ContentType: headers['content-type'],
    Metadata: metadata,
    ContentDisposition: headers['content-disposition'],
    CacheControl: headers['cache-control'],
    ContentEncoding: headers['content-encoding'],
  };
}
