import { z } from 'zod';
import { KIB, parseByteSize } from './sizes.js';

/** The environment variables the server reads, each with its syntax, range and default. */

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
  z.string().trim().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

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

/**
 * Parts of one `uploadObject` in flight by default (UPLOAD_QUEUE_SIZE), each
 * holding an UPLOAD_PART_SIZE buffer. A store across a network needs several
 * parts on the wire to keep its link busy; the embedded store, on loopback
 * and writing to this machine's disk, takes a 1 GiB upload as fast with 2 as
 * with 4, and 2 hold 16 MiB less at the peak.
 */
export const DEFAULT_UPLOAD_QUEUE_SIZE = 4;
export const EMBEDDED_UPLOAD_QUEUE_SIZE = 2;

/** Aliased fields in one operation by default (MAX_QUERY_ALIASES). */
export const DEFAULT_MAX_QUERY_ALIASES = 30;
/** Directives in one operation by default (MAX_QUERY_DIRECTIVES). */
export const DEFAULT_MAX_QUERY_DIRECTIVES = 50;
/** Lexical tokens in one document by default (MAX_QUERY_TOKENS). */
export const DEFAULT_MAX_QUERY_TOKENS = 10_000;
/** Operations in one batched request by default (MAX_BATCH_OPERATIONS). */
export const DEFAULT_MAX_BATCH_OPERATIONS = 10;
/** Store calls the operations of one request may make by default (MAX_STORE_CALLS_PER_REQUEST). */
export const DEFAULT_MAX_STORE_CALLS_PER_REQUEST = 1000;

export const envSchema = z.object({
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
  /** Default: DEFAULT_UPLOAD_QUEUE_SIZE, or EMBEDDED_UPLOAD_QUEUE_SIZE with the embedded store. */
  UPLOAD_QUEUE_SIZE: int(1, 64).optional(),
  MAX_PART_BYTES: byteSize(5 * KIB ** 2).default(5 * KIB ** 3),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  API_KEYS: z.string().optional(),
  API_KEYS_FILE: z.string().optional(),
  ALLOW_ANONYMOUS: boolean.default(false),
  GRAPHIQL: boolean.optional(),
  CONSOLE: boolean.default(true),
  INTROSPECTION: boolean.optional(),
  MAX_JSON_BODY_BYTES: byteSize(KIB).default(KIB ** 2),
  MAX_FILES_PER_REQUEST: int(1, 1000).default(10),
  MAX_BATCH_OPERATIONS: int(1, 100).default(DEFAULT_MAX_BATCH_OPERATIONS),
  MAX_QUERY_DEPTH: int(1, 100).default(DEFAULT_MAX_QUERY_DEPTH),
  MAX_QUERY_ALIASES: int(0, 10_000).default(DEFAULT_MAX_QUERY_ALIASES),
  MAX_QUERY_DIRECTIVES: int(0, 10_000).default(DEFAULT_MAX_QUERY_DIRECTIVES),
  MAX_QUERY_TOKENS: int(1, 1_000_000).default(DEFAULT_MAX_QUERY_TOKENS),
  MAX_STORE_CALLS_PER_REQUEST: int(1, 100_000_000).default(DEFAULT_MAX_STORE_CALLS_PER_REQUEST),
  RATE_LIMIT_PER_MINUTE: int(0, 1_000_000).optional(),
  HEADERS_TIMEOUT_MS: int(100, 600_000).default(60_000),
  MIN_UPLOAD_BYTES_PER_SECOND: byteSize(0).default(KIB),
  UPLOAD_RATE_WINDOW_MS: int(1_000, 600_000).default(30_000),
  MAX_CONNECTIONS: int(1, 1_000_000).default(1024),
  MAX_CONNECTIONS_PER_CLIENT: int(0, 1_000_000).default(64),
  PUBLIC_URL: z.string().optional(),
  CORS_ORIGINS: z.string().optional(),
  UPLOAD_RULES: z.string().optional(),
  UPLOAD_RULES_FILE: z.string().optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: url.optional(),
  OTEL_SERVICE_NAME: z.string().min(1).max(200).default('s3-graphql'),
  CURSOR_SECRET: z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -base64 32`)').optional(),
  REDIS_URL: z
    .string()
    .trim()
    .pipe(z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379' }))
    .optional(),
  SHUTDOWN_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
});

/** Older names still read, each for the variable it stands for. */
export const ALIASES: Record<string, string> = {
  RUSTFS_ENDPOINT: 'S3_ENDPOINT',
  RUSTFS_ACCESS_KEY: 'S3_ACCESS_KEY_ID',
  RUSTFS_SECRET_KEY: 'S3_SECRET_ACCESS_KEY',
};
