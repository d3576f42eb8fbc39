/**
 * The server's settings. This folder is the only code that reads the
 * environment (`loadConfig`): everything else receives a `Config`. Every
 * problem is reported at once, one line per variable, and no secret value is
 * ever echoed back. The variables are in env.ts, API keys in api-keys.ts,
 * upload rules in upload-rules.ts.
 */
import { isLoopbackHost } from '../core/loopback.js';
import { readApiKeys, type ApiKeyConfig } from './api-keys.js';
import {
  ALIASES,
  DEFAULT_RATE_LIMIT_PER_MINUTE,
  DEFAULT_UPLOAD_QUEUE_SIZE,
  EMBEDDED_UPLOAD_QUEUE_SIZE,
  envSchema,
} from './env.js';
import { readCorsOrigins, readPublicUrl } from './origins.js';
import { readUploadRules } from './upload-rules.js';
import { withoutUserinfo } from './userinfo.js';
import type { UploadRules } from '../core/upload-rules.js';

export type { ApiKeyConfig } from './api-keys.js';
export {
  DEFAULT_MAX_BATCH_OPERATIONS,
  DEFAULT_MAX_QUERY_ALIASES,
  DEFAULT_MAX_QUERY_DEPTH,
  DEFAULT_MAX_QUERY_DIRECTIVES,
  DEFAULT_MAX_QUERY_TOKENS,
  DEFAULT_MAX_STORE_CALLS_PER_REQUEST,
  DEFAULT_RATE_LIMIT_PER_MINUTE,
} from './env.js';

export interface StoreSettings {
  /** undefined: start the embedded store. */
  endpoint: string | undefined;
  /** The store's address as clients reach it, for presigned URLs; undefined: the endpoint. */
  publicEndpoint: string | undefined;
  region: string;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  forcePathStyle: boolean;
  checksum: 'when_required' | 'when_supported';
  maxSockets: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxAttempts: number;
}

export interface TracingSettings {
  /** The OTLP/HTTP endpoint (spans go to `<endpoint>/v1/traces`); undefined: no tracing. */
  otlpEndpoint: string | undefined;
  /** `service.name` of every span. */
  serviceName: string;
}

export interface Config {
  port: number;
  host: string;
  store: StoreSettings;
  dataDir: string;
  embeddedPort: number;
  maxUploadBytes: number;
  uploadPartSize: number;
  uploadQueueSize: number;
  maxPartBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  apiKeys: ApiKeyConfig[];
  allowAnonymous: boolean;
  graphiql: boolean;
  /** Serve the web console on `/`. */
  console: boolean;
  introspection: boolean;
  /** Largest JSON (or application/graphql) request body, and largest `operations` field of an upload. */
  maxJsonBodyBytes: number;
  /** Most files in one multipart request. */
  maxFilesPerRequest: number;
  /** Most operations in one batched request; 1 turns batching off. */
  maxBatchOperations: number;
  maxQueryDepth: number;
  maxQueryAliases: number;
  maxQueryDirectives: number;
  maxQueryTokens: number;
  /** Most store calls the operations of one HTTP request may make, as estimated before they run (see src/graphql/cost.ts). */
  maxStoreCallsPerRequest: number;
  /** Store calls a minute per API key (per client address for anonymous callers), each request counting its estimated calls and at least one per operation; 0: no limit. */
  rateLimitPerMinute: number;
  /** Where the rate limit is counted for every replica together (src/security/shared-rate-limit.ts); undefined: in this process's memory. */
  redisUrl: string | undefined;
  /** How long a SIGTERM lets uploads and downloads in flight run before they are cut (src/http/drain.ts). */
  shutdownTimeoutMs: number;
  /** How long a client may take to send a request's headers before it gets 408 and the connection is closed. */
  headersTimeoutMs: number;
  /** The slowest request body accepted, in bytes a second over `uploadRateWindowMs`; 0: no minimum. */
  minUploadBytesPerSecond: number;
  uploadRateWindowMs: number;
  /** Open connections at once, in all. */
  maxConnections: number;
  /** Open connections at once from one client address; 0: no cap. */
  maxConnectionsPerClient: number;
  /**
   * What listing cursors are signed with; undefined: the store's secret access
   * key (every replica has it, so each takes the others' cursors).
   */
  cursorSecret: string | undefined;
  /** OpenTelemetry tracing (src/observability/tracing.ts): on when an OTLP endpoint is set. */
  tracing: TracingSettings;
  /**
   * The API's origin as clients reach it (PUBLIC_URL); undefined: the
   * listening address. Presigned URLs of the embedded store point at its `/s3`.
   */
  publicUrl: string | undefined;
  /** Origins granted CORS on /graphql and /objects (exact, as browsers send them), or `['*']`; empty: none. */
  corsOrigins: string[];
  /** Per-bucket upload rules (UPLOAD_RULES / UPLOAD_RULES_FILE); `ruleFor(bucket)` finds a bucket's. */
  uploadRules: UploadRules;
}

/** Thrown with every problem found, one line each, naming the variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** Reads and validates the settings; throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    raw[key] = value === '' ? undefined : value;
  }
  for (const [alias, name] of Object.entries(ALIASES)) {
    const value = env[alias];
    if (value === undefined || value === '') continue;
    if (raw[name] !== undefined && raw[name] !== value) {
      problems.push(`${alias}: conflicts with ${name}; set only one of them`);
    }
    raw[name] ??= value;
  }

  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0]);
      const secret = /SECRET|KEYS|REDIS_URL/.test(name);
      const got = secret || raw[name] === undefined ? '' : ` (got "${withoutUserinfo(raw[name])}")`;
      problems.push(`${name}: ${issue.message}${got}`);
    }
    throw new ConfigError(problems);
  }
  const e = parsed.data;

  if (e.S3_ENDPOINT !== undefined) {
    if (e.S3_ACCESS_KEY_ID === undefined) problems.push('S3_ACCESS_KEY_ID: required when S3_ENDPOINT is set');
    if (e.S3_SECRET_ACCESS_KEY === undefined) {
      problems.push('S3_SECRET_ACCESS_KEY: required when S3_ENDPOINT is set');
    }
  } else if ((e.S3_ACCESS_KEY_ID === undefined) !== (e.S3_SECRET_ACCESS_KEY === undefined)) {
    problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY: set both or neither for the embedded store');
  }

  const apiKeys = readApiKeys(e.API_KEYS, e.API_KEYS_FILE, problems);
  if (apiKeys.length === 0 && !e.ALLOW_ANONYMOUS && !isLoopbackHost(e.HOST)) {
    problems.push(
      `HOST: ${e.HOST} is not a loopback address, and without API_KEYS anyone who reaches it could use the store's keys; configure API_KEYS or set ALLOW_ANONYMOUS=true`,
    );
  }
  const publicUrl = readPublicUrl(e.PUBLIC_URL, problems);
  const corsOrigins = readCorsOrigins(
    e.CORS_ORIGINS,
    { apiKeys: apiKeys.length, allowAnonymous: e.ALLOW_ANONYMOUS },
    problems,
  );
  const uploadRules = readUploadRules(e.UPLOAD_RULES, e.UPLOAD_RULES_FILE, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const locked = apiKeys.length > 0;
  return {
    port: e.PORT,
    host: e.HOST,
    store: {
      endpoint: e.S3_ENDPOINT,
      publicEndpoint: e.S3_PUBLIC_ENDPOINT ?? e.S3_ENDPOINT,
      region: e.S3_REGION,
      accessKeyId: e.S3_ACCESS_KEY_ID,
      secretAccessKey: e.S3_SECRET_ACCESS_KEY,
      forcePathStyle: e.S3_FORCE_PATH_STYLE,
      checksum: e.S3_CHECKSUM,
      maxSockets: e.S3_MAX_SOCKETS,
      connectTimeoutMs: e.S3_CONNECT_TIMEOUT_MS,
      requestTimeoutMs: e.S3_REQUEST_TIMEOUT_MS,
      maxAttempts: e.S3_MAX_ATTEMPTS,
    },
    dataDir: e.DATA_DIR,
    embeddedPort: e.EMBEDDED_S3_PORT,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    uploadPartSize: e.UPLOAD_PART_SIZE,
    uploadQueueSize:
      e.UPLOAD_QUEUE_SIZE ?? (e.S3_ENDPOINT === undefined ? EMBEDDED_UPLOAD_QUEUE_SIZE : DEFAULT_UPLOAD_QUEUE_SIZE),
    maxPartBytes: e.MAX_PART_BYTES,
    logLevel: e.LOG_LEVEL,
    apiKeys,
    allowAnonymous: e.ALLOW_ANONYMOUS,
    graphiql: e.GRAPHIQL ?? !locked,
    console: e.CONSOLE,
    introspection: e.INTROSPECTION ?? !locked,
    maxJsonBodyBytes: e.MAX_JSON_BODY_BYTES,
    maxFilesPerRequest: e.MAX_FILES_PER_REQUEST,
    maxBatchOperations: e.MAX_BATCH_OPERATIONS,
    maxQueryDepth: e.MAX_QUERY_DEPTH,
    maxQueryAliases: e.MAX_QUERY_ALIASES,
    maxQueryDirectives: e.MAX_QUERY_DIRECTIVES,
    maxQueryTokens: e.MAX_QUERY_TOKENS,
    maxStoreCallsPerRequest: e.MAX_STORE_CALLS_PER_REQUEST,
    rateLimitPerMinute:
      e.RATE_LIMIT_PER_MINUTE ?? (locked || !isLoopbackHost(e.HOST) ? DEFAULT_RATE_LIMIT_PER_MINUTE : 0),
    redisUrl: e.REDIS_URL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    minUploadBytesPerSecond: e.MIN_UPLOAD_BYTES_PER_SECOND,
    uploadRateWindowMs: e.UPLOAD_RATE_WINDOW_MS,
    maxConnections: e.MAX_CONNECTIONS,
    maxConnectionsPerClient: e.MAX_CONNECTIONS_PER_CLIENT,
    cursorSecret: e.CURSOR_SECRET,
    tracing: { otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: e.OTEL_SERVICE_NAME },
    publicUrl,
    corsOrigins,
    uploadRules,
  };
}
