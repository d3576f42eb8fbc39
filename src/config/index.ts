import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { bucketNameProblem } from '../core/s3-rules.js';

/**
 * The server's settings. This is the only module that reads the environment:
 * everything else receives a `Config`. Every problem is reported at once, one
 * line per variable, and no secret value is ever echoed back.
 */

const KIB = 1024;
const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: KIB,
  kb: 1000,
  kib: KIB,
  m: KIB ** 2,
  mb: 1000 ** 2,
  mib: KIB ** 2,
  g: KIB ** 3,
  gb: 1000 ** 3,
  gib: KIB ** 3,
  t: KIB ** 4,
  tb: 1000 ** 4,
  tib: KIB ** 4,
};

/** Parses "5368709120", "5GiB", "512 MiB", "10mb" into bytes. */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = SIZE_UNITS[match[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

const byteSize = (min: number) =>
  z
    .string()
    .transform((text, ctx) => {
      const bytes = parseByteSize(text);
      if (bytes === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a size in bytes, e.g. 5368709120 or 5GiB' });
        return z.NEVER;
      }
      return bytes;
    })
    .pipe(z.number().min(min, `must be at least ${min} bytes`));

const boolean = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const url = z
  .string()
  .trim()
  .pipe(z.url({ protocol: /^https?$/, error: 'must be an http or https URL such as http://127.0.0.1:9000' }))
  .transform((u) => u.replace(/\/+$/, ''));

/**
 * Deepest field nesting allowed by default: the deepest operation of the
 * schema is far shallower, and GraphiQL's introspection query (whose type
 * references nest 9 `ofType` levels) must fit while introspection is on.
 */
export const DEFAULT_MAX_QUERY_DEPTH = 15;

/**
 * Store calls a minute per client by default where the server is reachable by
 * others (API keys or a non-loopback HOST): the rate limit is charged by each
 * request's estimated store calls, and GraphiQL's example query alone is 101.
 */
export const DEFAULT_RATE_LIMIT_PER_MINUTE = 6000;

const roleSchema = z.enum(['read', 'write', 'admin']);
export type Role = z.infer<typeof roleSchema>;

const apiKeySchema = z
  .object({
    name: z.string().min(1),
    token: z.string().min(16, 'a token must be at least 16 characters').optional(),
    tokenSha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'tokenSha256 must be 64 hex characters')
      .transform((h) => h.toLowerCase())
      .optional(),
    grants: z
      .array(
        z.object({
          bucket: z.string().superRefine((bucket, ctx) => {
            const problem = bucket === '*' ? undefined : bucketNameProblem(bucket);
            if (problem) ctx.addIssue({ code: 'custom', message: `"${bucket}" is not "*" or a bucket name: it ${problem}` });
          }),
          role: roleSchema,
        }),
      )
      .min(1, 'a key needs at least one grant'),
  })
  .refine((k) => (k.token === undefined) !== (k.tokenSha256 === undefined), {
    message: 'give exactly one of token or tokenSha256',
  });

const apiKeysSchema = z.object({ keys: z.array(apiKeySchema) }).superRefine((v, ctx) => {
  const names = new Set<string>();
  for (const key of v.keys) {
    if (names.has(key.name)) ctx.addIssue({ code: 'custom', message: `key name "${key.name}" is used twice` });
    names.add(key.name);
  }
});
export type ApiKeyConfig = z.infer<typeof apiKeySchema>;

const envSchema = z.object({
  PORT: int(0, 65535).default(4000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  S3_ENDPOINT: url.optional(),
  S3_REGION: z.string().trim().min(1).default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: boolean.default(true),
  S3_PUBLIC_ENDPOINT: url.optional(),
  S3_CHECKSUM: z.enum(['when_required', 'when_supported']).default('when_required'),
  S3_MAX_SOCKETS: int(1, 10_000).default(64),
  S3_CONNECT_TIMEOUT_MS: int(1, 600_000).default(5_000),
  S3_REQUEST_TIMEOUT_MS: int(1, 3_600_000).default(120_000),
  S3_MAX_ATTEMPTS: int(1, 10).default(3),
  DATA_DIR: z.string().min(1).default('./data'),
  EMBEDDED_S3_PORT: int(0, 65535).default(9000),
  MAX_UPLOAD_BYTES: byteSize(1).default(5 * KIB ** 3),
  UPLOAD_PART_SIZE: byteSize(5 * KIB ** 2).default(8 * KIB ** 2),
  UPLOAD_QUEUE_SIZE: int(1, 64).default(4),
  MAX_PART_BYTES: byteSize(5 * KIB ** 2).default(5 * KIB ** 3),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  API_KEYS: z.string().optional(),
  API_KEYS_FILE: z.string().optional(),
  ALLOW_ANONYMOUS: boolean.default(false),
  GRAPHIQL: boolean.optional(),
  INTROSPECTION: boolean.optional(),
  MAX_JSON_BODY_BYTES: byteSize(KIB).default(KIB ** 2),
  MAX_FILES_PER_REQUEST: int(1, 1000).default(10),
  MAX_BATCH_OPERATIONS: int(1, 100).default(10),
  MAX_QUERY_DEPTH: int(1, 100).default(DEFAULT_MAX_QUERY_DEPTH),
  MAX_QUERY_ALIASES: int(0, 10_000).default(30),
  MAX_QUERY_DIRECTIVES: int(0, 10_000).default(50),
  MAX_QUERY_TOKENS: int(1, 1_000_000).default(10_000),
  MAX_STORE_CALLS_PER_REQUEST: int(1, 100_000_000).default(1000),
  RATE_LIMIT_PER_MINUTE: int(0, 1_000_000).optional(),
  HEADERS_TIMEOUT_MS: int(100, 600_000).default(60_000),
  MIN_UPLOAD_BYTES_PER_SECOND: byteSize(0).default(KIB),
  UPLOAD_RATE_WINDOW_MS: int(1_000, 600_000).default(30_000),
  MAX_CONNECTIONS: int(1, 1_000_000).default(1024),
  MAX_CONNECTIONS_PER_CLIENT: int(0, 1_000_000).default(64),
  CURSOR_SECRET: z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -base64 32`)').optional(),
});

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
  /** Most store calls the operations of one HTTP request may make, as estimated before they run (see src/graphql/plugins/cost.ts). */
  maxStoreCallsPerRequest: number;
  /** Store calls a minute per API key (per client address for anonymous callers), per instance, each request counting its estimated calls and at least one per operation; 0: no limit. */
  rateLimitPerMinute: number;
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
}

/** Thrown with every problem found, one line each, naming the variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

const ALIASES: Record<string, string> = {
  RUSTFS_ENDPOINT: 'S3_ENDPOINT',
  RUSTFS_ACCESS_KEY: 'S3_ACCESS_KEY_ID',
  RUSTFS_SECRET_KEY: 'S3_SECRET_ACCESS_KEY',
};

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i;
export const isLoopbackHost = (host: string) => LOOPBACK.test(host);

function readApiKeys(
  inline: string | undefined,
  file: string | undefined,
  problems: string[],
): ApiKeyConfig[] {
  if (inline !== undefined && file !== undefined) {
    problems.push('API_KEYS and API_KEYS_FILE: set one of them, not both');
    return [];
  }
  const variable = inline !== undefined ? 'API_KEYS' : 'API_KEYS_FILE';
  let text = inline;
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(`API_KEYS_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return [];
    }
  }
  if (text === undefined || text.trim() === '') return [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push(`${variable}: not valid JSON (expected {"keys":[{"name":…,"token":…,"grants":[…]}]})`);
    return [];
  }
  const parsed = apiKeysSchema.safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${variable}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    return [];
  }
  return parsed.data.keys;
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
      const secret = /SECRET|KEYS/.test(name);
      const got = secret || raw[name] === undefined ? '' : ` (got "${raw[name]}")`;
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
    uploadQueueSize: e.UPLOAD_QUEUE_SIZE,
    maxPartBytes: e.MAX_PART_BYTES,
    logLevel: e.LOG_LEVEL,
    apiKeys,
    allowAnonymous: e.ALLOW_ANONYMOUS,
    graphiql: e.GRAPHIQL ?? !locked,
    introspection: e.INTROSPECTION ?? !locked,
    maxJsonBodyBytes: e.MAX_JSON_BODY_BYTES,
    maxFilesPerRequest: e.MAX_FILES_PER_REQUEST,
    maxBatchOperations: e.MAX_BATCH_OPERATIONS,
    maxQueryDepth: e.MAX_QUERY_DEPTH,
    maxQueryAliases: e.MAX_QUERY_ALIASES,
    maxQueryDirectives: e.MAX_QUERY_DIRECTIVES,
    maxQueryTokens: e.MAX_QUERY_TOKENS,
    maxStoreCallsPerRequest: e.MAX_STORE_CALLS_PER_REQUEST,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE ?? (locked || !isLoopbackHost(e.HOST) ? DEFAULT_RATE_LIMIT_PER_MINUTE : 0),
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    minUploadBytesPerSecond: e.MIN_UPLOAD_BYTES_PER_SECOND,
    uploadRateWindowMs: e.UPLOAD_RATE_WINDOW_MS,
    maxConnections: e.MAX_CONNECTIONS,
    maxConnectionsPerClient: e.MAX_CONNECTIONS_PER_CLIENT,
    cursorSecret: e.CURSOR_SECRET,
  };
}
