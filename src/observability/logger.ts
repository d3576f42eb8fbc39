/**
 * Observability: the log (this file: pino, one JSON line per event, errors
 * without stacks, secrets scrubbed) and the Prometheus metrics (metrics.ts).
 * The app builds one of each at start-up and hands them down.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/index.js';
import { currentRequestScope } from '../core/request-scope.js';

/** What stands in a log line where a secret was. */
const REDACTED = '[redacted]';

/** A bearer token in any text: `Bearer <token>`. */
const BEARER = /(\bBearer\s+)[^\s",\\]+/gi;

/** Secrets shorter than this are not scrubbed from text (they would match ordinary words). */
const MIN_SECRET_LENGTH = 8;

/**
 * The last line of defence for secrets in the log: every line written is
 * searched for the secrets it knows (the store's secret key, the API
 * tokens, the cursor secret, REDIS_URL and the passwords in it and in the
 * OTLP endpoint) and for bearer tokens, which are replaced by `[redacted]`.
 * The logger never logs headers or stacks to begin with.
 */
export class SecretScrubber {
  private readonly secrets = new Set<string>();

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const secret of secrets) this.add(secret);
  }

  /** One more value never to write, e.g. the embedded store's generated secret key. */
  add(secret: string | undefined): void {
    if (secret !== undefined && secret.length >= MIN_SECRET_LENGTH) {
      this.secrets.add(secret);
      // As it appears inside a JSON string of the log line.
      this.secrets.add(JSON.stringify(secret).slice(1, -1));
    }
  }

  scrub(text: string): string {
    let out = text.replace(BEARER, `$1${REDACTED}`);
    for (const secret of this.secrets) {
      if (out.includes(secret)) out = out.replaceAll(secret, REDACTED);
    }
    return out;
  }
}

type SecretSettings = Pick<Config, 'store' | 'apiKeys' | 'cursorSecret' | 'redisUrl' | 'tracing'>;

/** The secrets a configuration holds. */
function configSecrets(config: SecretSettings): string[] {
  const secrets: string[] = [];
  if (config.store.secretAccessKey !== undefined) secrets.push(config.store.secretAccessKey);
  if (config.cursorSecret !== undefined) secrets.push(config.cursorSecret);
  for (const key of config.apiKeys) if (key.token !== undefined) secrets.push(key.token);
  if (config.redisUrl !== undefined) secrets.push(config.redisUrl, ...urlPasswords(config.redisUrl));
  if (config.tracing.otlpEndpoint !== undefined) secrets.push(...urlPasswords(config.tracing.otlpEndpoint));
  return secrets;
}

/** A URL's password as written in it (percent-encoded) and as its client sends it (decoded). */
function urlPasswords(url: string): string[] {
  const { password } = new URL(url);
  if (password === '') return [];
  try {
    return [password, decodeURIComponent(password)];
  } catch {
    return [password];
  }
}

/** Header paths pino never writes, wherever a request or response object is logged. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  'authorization',
  '*.authorization',
  'secretAccessKey',
  '*.secretAccessKey',
  'token',
  '*.token',
];

export interface LoggerOptions {
  /** Where lines go: standard output when left out. */
  destination?: DestinationStream;
  /** Secrets to scrub from every line; the configuration's are added. */
  scrubber?: SecretScrubber;
}

/**
 * `requestId` of the request the running code serves (src/core/request-scope.ts),
 * for lines written by loggers that do not carry it already: the S3 client's
 * store-call lines, and any other component's lines written while a request
 * is served. A logger made with `child({ requestId })` keeps its own.
 */
function requestIdMixin(_line: object, _level: number, logger: Logger): object {
  const requestId = currentRequestScope()?.requestId;
  if (requestId === undefined) return {};
  const bindings = (logger as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym];
  return typeof bindings === 'string' && bindings.includes('"requestId":') ? {} : { requestId };
}

/**
 * The server's logger: JSON lines at `config.logLevel`, each written while
 * serving a request with that request's `requestId`; errors logged as
 * `err` keep their name, message, code and causes but no stack; the
 * Authorization header, tokens and secret keys are censored by path; and
 * every line passes through a `SecretScrubber`.
 */
export function createLogger(config: Pick<Config, 'logLevel'> & SecretSettings, options: LoggerOptions = {}): Logger {
  const scrubber = options.scrubber ?? new SecretScrubber();
  for (const secret of configSecrets(config)) scrubber.add(secret);
  return pino(
    {
      level: config.logLevel,
      mixin: requestIdMixin,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      // `err` is ours; the store client's SDK logs its failures as `error`.
      serializers: { err: (err: unknown) => errorDetails(err), error: (err: unknown) => errorDetails(err) },
      hooks: { streamWrite: (line) => scrubber.scrub(line) },
    },
    options.destination,
  );
}

/** Already the output of `errorDetails` (the logger's `err` serializer applies it again). */
const isDetails = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  Object.getPrototypeOf(value) === Object.prototype &&
  typeof (value as { type?: unknown }).type === 'string' &&
  typeof (value as { message?: unknown }).message === 'string';

/** Causes followed by `errorDetails`; deeper ones are left out. */
const MAX_CAUSES = 4;

/**
 * What the log keeps of an error: its name, message and code, the store's
 * error code and HTTP status when it is a store error, and the same of its
 * causes. Never a stack trace (it could carry arguments and paths into the
 * log) and never request headers.
 */
export function errorDetails(err: unknown, depth = 0): Record<string, unknown> {
  if (isDetails(err)) return err;
  if (!(err instanceof Error)) return { value: typeof err === 'string' ? err : typeof err };
  const e = err as Error & { code?: unknown; Code?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const out: Record<string, unknown> = { type: err.name, message: err.message };
  // An AppError's `code`, a store error's `Code`, a system error's `code` (no import of AppError: the store's
  // worker thread logs through this too, and AppError would load graphql-js there).
  const code = e.Code ?? e.code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (typeof e.$metadata?.httpStatusCode === 'number') out.status = e.$metadata.httpStatusCode;
  if (err.cause !== undefined && depth < MAX_CAUSES) out.cause = errorDetails(err.cause, depth + 1);
  return out;
}
