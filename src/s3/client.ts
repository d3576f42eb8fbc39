import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { StoreSettings } from '../config/index.js';
import { isLoopbackHost } from '../core/loopback.js';
import { storeCallMiddleware, type StoreCallEvent } from './instrumentation.js';
import { quietSdkNodeWarning } from './node-support.js';

export type ResolvedStoreSettings = StoreSettings & {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
};

export interface CreateS3ClientOptions {
  /** Called once per command sent (not for presigning, which sends nothing). */
  onCall?: (event: StoreCallEvent) => void;
  /**
   * A client only used to presign URLs: it signs for `publicEndpoint`, the
   * host clients use (the Host header is part of the signature).
   */
  forPresign?: boolean;
  /**
   * With `forPresign`: the public endpoint when it is known only once the API
   * listens (the embedded store under `/s3` of the API's own address);
   * it wins over `publicEndpoint`.
   */
  publicEndpoint?: () => string;
  /**
   * Where the SDK and its HTTP handler write warnings (socket pool exhausted,
   * a streamed request that cannot be retried). Default: dropped, so nothing
   * reaches the console outside the server's own log.
   */
  logger?: StoreLogger;
}

/** The SDK's logger shape; a pino logger fits it. */
interface StoreLogger {
  /** pino's: whether a level is logged at all. */
  isLevelEnabled?(level: string): boolean;
  debug(...content: unknown[]): void;
  info(...content: unknown[]): void;
  warn(...content: unknown[]): void;
  error(...content: unknown[]): void;
}

const silentLogger: StoreLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** What a log line keeps of one SDK log entry: the call, never its input or output bodies. */
function callSummary(entry: unknown): Record<string, unknown> {
  if (typeof entry !== 'object' || entry === null) return { sdk: String(entry) };
  const { commandName, input, metadata, error } = entry as {
    commandName?: unknown;
    input?: { Bucket?: unknown; Key?: unknown; UploadId?: unknown; PartNumber?: unknown };
    metadata?: { httpStatusCode?: unknown; requestId?: unknown; attempts?: unknown };
    error?: { name?: unknown };
  };
  return {
    command: commandName,
    bucket: input?.Bucket,
    key: input?.Key,
    uploadId: input?.UploadId,
    partNumber: input?.PartNumber,
    status: metadata?.httpStatusCode,
    storeRequestId: metadata?.requestId,
    attempts: metadata?.attempts,
    storeError: error?.name,
  };
}

/**
 * The SDK logs every command at info with its whole input and output: an
 * 8 MiB part as a JSON array of numbers, a download's socket object. Its
 * warnings (a full socket pool, a stream that cannot be retried) pass
 * through; each command's success or failure goes to debug as a summary, since
 * the server already answers, counts and logs failures where they matter
 * (an expected NoSuchKey is no error).
 */
function sdkLogger(logger: StoreLogger): StoreLogger {
  return {
    debug: () => undefined,
    info: (entry: unknown) => logger.debug(callSummary(entry), 'store call'),
    // Said before every failed streaming upload (a part of the wrong size, an unknown upload id), which the
    // server already answers and logs with the request's id: debug, not a context-free warning.
    warn: (...content: unknown[]) =>
      typeof content[0] === 'string' && content[0].includes('non-retryable streaming request')
        ? logger.debug({ sdk: content[0] }, 'store call failed')
        : logger.warn(...content),
    error: (entry: unknown) => logger.debug(callSummary(entry), 'store call failed'),
  };
}

/**
 * The S3 client: path-style addressing, static credentials, a keep-alive
 * socket pool of `maxSockets`, connect/request/idle timeouts, the SDK's
 * standard retries with backoff, and checksum behaviour from the settings
 * (`WHEN_REQUIRED` by default, which stores without aws-chunked support need).
 */
export function createS3Client(settings: ResolvedStoreSettings, opts: CreateS3ClientOptions = {}): S3Client {
  const checksum = settings.checksum === 'when_supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
  const agentOptions = { keepAlive: true, maxSockets: settings.maxSockets };
  const later = opts.forPresign ? opts.publicEndpoint : undefined;
  const endpoint = later
    ? async () => ({ url: new URL(later()) })
    : opts.forPresign
      ? (settings.publicEndpoint ?? settings.endpoint)
      : settings.endpoint;
  const logger = opts.logger ? sdkLogger(opts.logger) : silentLogger;
  // Before the first command: the SDK checks the Node version then (the server's own notice is in src/main.ts).
  quietSdkNodeWarning();

  const client = new S3Client({
    endpoint,
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    maxAttempts: settings.maxAttempts,
    retryMode: 'standard',
    logger,
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: settings.connectTimeoutMs,
      // Until the response headers arrive (a streamed body is not limited by it).
      requestTimeout: settings.requestTimeoutMs,
      throwOnRequestTimeout: true,
      // No byte in either direction for this long: the connection is dead.
      socketTimeout: settings.requestTimeoutMs,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      logger,
    }),
  });

  // The SDK's logger middleware filters every command's input and output for its log line (a listing's
  // 1000 entries walked one by one) before our logger sees it; its lines are debug summaries, so
  // when debug is off the middleware goes. Warnings (a full socket pool, a failed stream) still pass.
  if (!opts.logger?.isLevelEnabled?.('debug')) client.middlewareStack.remove('loggerMiddleware');
  addDeleteObjectsContentMd5(client);
  if (!opts.forPresign) {
    if (payloadNeedsNoSignature(settings.endpoint)) addUnsignedPayload(client);
    const chain = storeCallMiddleware(opts.onCall);
    for (const { name, middleware } of chain.initialize)
      client.middlewareStack.add(middleware, { step: 'initialize', name, priority: 'high' });
    for (const { name, middleware } of chain.finalizeRequest)
      client.middlewareStack.add(middleware, { step: 'finalizeRequest', name, priority: 'low' });
  }
  return client;
}

/** Commands whose body is an object's bytes, which the signer would hash whole when they are a Buffer. */
const BODY_COMMANDS = new Set(['PutObjectCommand', 'UploadPartCommand']);

/**
 * Whether the bytes on the way to the store are already safe from change:
 * over TLS, or over loopback (the embedded store, a store beside the server).
 */
function payloadNeedsNoSignature(endpoint: string): boolean {
  const { protocol, hostname } = new URL(endpoint);
  return protocol === 'https:' || isLoopbackHost(hostname);
}

/**
 * Uploads sent as UNSIGNED-PAYLOAD, as the SDK already sends streamed ones:
 * for a Buffer body (the part pool's parts, a small file's one PutObject) the
 * signer would otherwise hash every byte with SHA-256, and the store hash
 * them again to check it, about 3 ms of CPU per MiB between the two, for an
 * integrity TLS or loopback already gives. Plain HTTP to another host keeps
 * the signed payload.
 */
function addUnsignedPayload(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (BODY_COMMANDS.has(context.commandName ?? '') && HttpRequest.isInstance(args.request)) {
        args.request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    { step: 'build', name: 's3GraphqlUnsignedPayload', priority: 'low' },
  );
}

/**
 * DeleteObjects must carry Content-MD5 on MinIO and other stores, but the SDK
 * only sends a CRC32 checksum now (aws-sdk-js-v3#6819, minio#20849). This
 * adds the MD5 of the serialised body before the request is signed.
 */
function addDeleteObjectsContentMd5(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request;
      if (context.commandName === 'DeleteObjectsCommand' && HttpRequest.isInstance(request)) {
        const body: unknown = request.body;
        if (typeof body === 'string' || body instanceof Uint8Array) {
          const hasMd5 = Object.keys(request.headers).some((h) => h.toLowerCase() === 'content-md5');
          if (!hasMd5) request.headers['content-md5'] = createHash('md5').update(body).digest('base64');
        }
      }
      return next(args);
    },
    { step: 'build', name: 's3GraphqlDeleteObjectsContentMd5', priority: 'low' },
  );
}
