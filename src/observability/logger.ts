import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/index.js';
import { errorDetails } from '../http/respond.js';

/** What stands in a log line where a secret was. */
export const REDACTED = '[redacted]';

/** A bearer token in any text: `Bearer <token>`. */
const BEARER = /(\bBearer\s+)[^\s",\\]+/gi;

/** Secrets shorter than this are not scrubbed from text (they would match ordinary words). */
const MIN_SECRET_LENGTH = 8;

/**
 * The last line of defence for secrets in the log: every line written is
 * searched for the secrets it knows (the store's secret key, the API
 * tokens of the configuration) and for bearer tokens, which are replaced
 * by `[redacted]`. The logger never logs headers or stacks to begin with.
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

/** The secrets a configuration holds. */
export function configSecrets(config: Pick<Config, 'store' | 'apiKeys' | 'cursorSecret'>): string[] {
  const secrets: string[] = [];
  if (config.store.secretAccessKey !== undefined) secrets.push(config.store.secretAccessKey);
  if (config.cursorSecret !== undefined) secrets.push(config.cursorSecret);
  for (const key of config.apiKeys) if (key.token !== undefined) secrets.push(key.token);
  return secrets;
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
 * The server's logger: JSON lines at `config.logLevel`; errors logged as
 * `err` keep their name, message, code and causes but no stack; the
 * Authorization header, tokens and secret keys are censored by path; and
 * every line passes through a `SecretScrubber`.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'store' | 'apiKeys' | 'cursorSecret'>, options: LoggerOptions = {}): Logger {
  const scrubber = options.scrubber ?? new SecretScrubber();
  for (const secret of configSecrets(config)) scrubber.add(secret);
  return pino(
    {
      level: config.logLevel,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      // `err` is ours; the store client's SDK logs its failures as `error`.
      serializers: { err: (err: unknown) => errorDetails(err), error: (err: unknown) => errorDetails(err) },
      hooks: { streamWrite: (line) => scrubber.scrub(line) },
    },
    options.destination,
  );
}
