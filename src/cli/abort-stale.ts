import { runAbortStale } from './stale-command.js';

/** `npm run abort-stale -- --older-than 24h [--bucket b] [--prefix p] [--dry-run]`: see ./stale-command.ts. */

// Cron mails whatever reaches stderr: the SDK's notice about Node versions it
// will drop is not news about this run (the variable is the SDK's own switch).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

runAbortStale(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}).then(
  (status) => {
    process.exitCode = status;
  },
  (err: unknown) => {
    process.stderr.write(`abort-stale: unexpected failure: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
