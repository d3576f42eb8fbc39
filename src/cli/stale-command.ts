import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config/index.js';
import { CREDENTIALS_FILE } from '../embedded/index.js';
import { AppError } from '../core/errors.js';
import { createS3Client, type ResolvedStoreSettings } from '../s3/client.js';
import { Store } from '../s3/store.js';
import { abortStaleUploads } from '../s3/stale-uploads.js';
import { bucketNameProblem } from '../core/s3-rules.js';

/**
 * `npm run abort-stale -- --older-than 24h [--bucket b]... [--prefix p] [--dry-run]`
 *
 * Aborts the open multipart uploads started more than the given age ago, for
 * cron. It reads the server's settings (`loadConfig`, the same environment):
 * - with S3_ENDPOINT, it talks to that store with the configured keys;
 * - without, it talks to the embedded store of a running server at
 *   127.0.0.1:EMBEDDED_S3_PORT, with S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY
 *   when set, else the pair kept in DATA_DIR/.credentials.json. It never
 *   starts the embedded store itself: that would take the data dir's lock,
 *   and a server starting meanwhile would fail. With the server down, no
 *   upload can move anyway; the next run cleans up.
 *
 * Exit status: 0 done (or nothing to do), 1 a store failure or an upload
 * that could not be aborted, 2 a usage or settings problem.
 */

const USAGE = `usage: npm run abort-stale -- --older-than <age> [--bucket <name>]... [--prefix <p>] [--dry-run]

Aborts multipart uploads that were started more than <age> ago and neither
completed nor aborted, in the named buckets (default: every bucket).
  --older-than <age>   e.g. 90s, 30m, 24h, 7d, 2w (a plain number is seconds)
  --bucket <name>      only this bucket (may be given more than once)
  --prefix <p>         only uploads whose key starts with p
  --dry-run            list what would be aborted, abort nothing

Settings come from the same environment as the server (S3_ENDPOINT, keys,
or the running embedded store at 127.0.0.1:EMBEDDED_S3_PORT with the keys
in DATA_DIR).`;

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** "24h" → 86400; undefined for anything that is not a whole number with an optional s/m/h/d/w unit. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+)\s*([smhdw]?)\s*$/i.exec(text);
  if (!match) return undefined;
  const seconds = Number(match[1]) * UNITS[(match[2] || 's').toLowerCase()]!;
  return Number.isSafeInteger(seconds) ? seconds : undefined;
}

class UsageError extends Error {}

interface Options {
  olderThanSeconds: number;
  olderThanText: string;
  buckets: string[];
  prefix: string | undefined;
  dryRun: boolean;
}

/** The command line as node:util's parseArgs reads it; a wrong option is a UsageError. */
function parseArguments(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        'older-than': { type: 'string' },
        bucket: { type: 'string', multiple: true },
        prefix: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function parseOptions(argv: readonly string[]): Options | 'help' {
  const { values } = parseArguments(argv);
  if (values.help) return 'help';
  const olderThanText = values['older-than'];
  if (olderThanText === undefined) throw new UsageError('--older-than is required (e.g. --older-than 24h)');
  const olderThanSeconds = parseDuration(olderThanText);
  if (olderThanSeconds === undefined) {
    throw new UsageError(`--older-than: "${olderThanText}" is not an age such as 90s, 30m, 24h or 7d`);
  }
  const buckets = values.bucket ?? [];
  for (const bucket of buckets) {
    const problem = bucketNameProblem(bucket);
    if (problem) throw new UsageError(`--bucket: "${bucket}" ${problem}`);
  }
  return {
    olderThanSeconds,
    olderThanText,
    buckets,
    prefix: values.prefix || undefined,
    dryRun: values['dry-run'] ?? false,
  };
}

const credentialsShape = (value: unknown): value is { accessKeyId: string; secretAccessKey: string } =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Record<string, unknown>).accessKeyId === 'string' &&
  typeof (value as Record<string, unknown>).secretAccessKey === 'string';

/** Where the store is and how to sign for it. Throws UsageError naming the setting that is missing. */
async function storeSettings(config: Config): Promise<ResolvedStoreSettings> {
  const s = config.store;
  if (s.endpoint !== undefined) return s as ResolvedStoreSettings;
  if (config.embeddedPort === 0) {
    throw new UsageError('EMBEDDED_S3_PORT is 0, so the embedded store cannot be found: set its port, or S3_ENDPOINT');
  }
  const endpoint = `http://127.0.0.1:${config.embeddedPort}`;
  if (s.accessKeyId !== undefined && s.secretAccessKey !== undefined) {
    return { ...s, endpoint, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
  }
  const path = join(config.dataDir, CREDENTIALS_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(
      `${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): start the server once with this DATA_DIR, or set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY`,
    );
  }
  let credentials: unknown;
  try {
    credentials = JSON.parse(text);
  } catch {
    credentials = undefined;
  }
  if (!credentialsShape(credentials)) throw new UsageError(`${path} does not hold the embedded store's key pair`);
  return { ...s, endpoint, accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey };
}

const describeUpload = (u: { bucket: string; key: string; uploadId: string; initiatedAt?: Date | undefined }) =>
  `bucket=${u.bucket} key=${JSON.stringify(u.key)} uploadId=${u.uploadId} initiated=${u.initiatedAt?.toISOString() ?? 'unknown'}`;

/** Runs the command; returns the exit status. */
export async function runAbortStale(argv: readonly string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  let options: Options;
  let settings: ResolvedStoreSettings;
  let config: Config;
  try {
    const parsed = parseOptions(argv);
    if (parsed === 'help') {
      io.out(USAGE);
      return 0;
    }
    options = parsed;
    config = loadConfig(env);
    settings = await storeSettings(config);
  } catch (err) {
    if (err instanceof ConfigError) for (const problem of err.problems) io.err(`abort-stale: ${problem}`);
    else if (err instanceof UsageError) io.err(`abort-stale: ${err.message}\n\n${USAGE}`);
    else throw err;
    return 2;
  }

  const client = createS3Client(settings);
  const store = new Store(client, client, {
    partSize: config.uploadPartSize,
    queueSize: config.uploadQueueSize,
    maxUploadBytes: config.maxUploadBytes,
  });
  const verb = options.dryRun ? 'would abort' : 'aborted';
  try {
    const buckets = options.buckets.length > 0 ? options.buckets : (await store.listBuckets()).map((b) => b.name);
    const result = await abortStaleUploads(store, {
      buckets,
      olderThanSeconds: options.olderThanSeconds,
      prefix: options.prefix,
      dryRun: options.dryRun,
      skipMissingBuckets: options.buckets.length === 0,
      onAborted: (u) => io.out(`${verb} ${describeUpload(u)}`),
      onFailed: (u, error) => io.err(`abort-stale: not aborted ${describeUpload(u)}: ${error.code}: ${error.message}`),
    });
    const summary = [
      `${result.aborted.length} upload${result.aborted.length === 1 ? '' : 's'} ${verb}`,
      `(started before ${result.cutoff.toISOString()}, older than ${options.olderThanText})`,
      `in ${buckets.length} bucket${buckets.length === 1 ? '' : 's'}`,
    ];
    if (result.failed.length > 0) summary.push(`; ${result.failed.length} could not be aborted`);
    if (result.undated > 0) summary.push(`; ${result.undated} without a start date left alone`);
    io.out(`abort-stale: ${summary.join(' ')}`);
    return result.failed.length > 0 ? 1 : 0;
  } catch (err) {
    const message =
      err instanceof AppError && err.code === 'BACKEND_UNAVAILABLE'
        ? `the store at ${settings.endpoint} does not answer${config.store.endpoint === undefined ? ' (is the server with its embedded store running?)' : ''}`
        : err instanceof AppError
          ? `${err.code}: ${err.message}`
          : 'unexpected failure';
    io.err(`abort-stale: ${message}`);
    return 1;
  } finally {
    client.destroy();
  }
}
