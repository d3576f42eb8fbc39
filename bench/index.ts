/**
 * Runs the benchmark groups and prints one markdown table of the results.
 *   npm run bench                      every group
 *   npm run bench -- embedded          one group by name
 *   npm run bench -- --rounds 3        fewer (or more) measured rounds
 *   npm run bench -- --before main     also the API server of that commit, where a group can
 * Progress goes to stderr; the table goes to stdout.
 */
import { cpus, platform, arch } from 'node:os';
import { parseArgs } from 'node:util';
import { group as api } from './api.js';
import { group as downloads } from './downloads.js';
import { group as embedded } from './embedded.js';
import { group as metadata } from './metadata.js';
import { group as footprint } from './footprint.js';
import { group as mixed } from './mixed.js';
import { group as multipart } from './multipart.js';
import { removeBuiltProject } from './support/build.js';
import { removeLeftovers } from './support/cleanup.js';
import { markdownTable, type BenchGroup, type Row } from './support/harness.js';

const groups: readonly BenchGroup[] = [embedded, api, metadata, downloads, multipart, mixed, footprint];

/** Set once Ctrl-C (or SIGTERM) arrived: the run is then only cleaning up, and prints no results. */
let interrupted = false;

async function main(): Promise<void> {
  // The SDK's notice about future Node versions says nothing about these measurements (children inherit this).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Ctrl-C reaches this process twice (from the terminal and relayed by tsx): the second must not kill it mid-cleanup.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      process.stderr.write(`${signal}: removing temporary directories\n`);
      void removeLeftovers().finally(() => process.exit(130));
    });
  }
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { rounds: { type: 'string', default: '5' }, before: { type: 'string' } },
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write('--rounds must be a whole number ≥ 1\n');
    process.exit(2);
  }
  const unknown = positionals.filter((name) => !groups.some((g) => g.name === name));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown group ${unknown.join(', ')}; the groups are ${groups.map((g) => g.name).join(', ')}\n`,
    );
    process.exit(2);
  }
  const selected = positionals.length === 0 ? groups : groups.filter((g) => positionals.includes(g.name));

  const rows: (Row & { group: string })[] = [];
  const failed: string[] = [];
  try {
    for (const group of selected) {
      if (interrupted) break;
      const log = (line: string) => process.stderr.write(`[${group.name}] ${line}\n`);
      log(`${group.description} (${rounds} rounds)`);
      try {
        for (const row of await group.run({ rounds, before: values.before, log }))
          rows.push({ ...row, group: group.name });
      } catch (error) {
        if (interrupted) break;
        // One broken group must not cost the others' results.
        log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        failed.push(group.name);
      }
    }
  } finally {
    await removeBuiltProject();
  }
  if (interrupted) return;
  const cpu = cpus();
  process.stdout.write(
    `Node ${process.version}, ${platform()} ${arch()}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}; ` +
      `medians of ${rounds} rounds\n\n${markdownTable(rows)}\n`,
  );
  if (failed.length > 0) {
    process.stderr.write(`failed groups: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
