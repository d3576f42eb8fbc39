/**
 * What every benchmark group shares: the row it reports, the group shape the
 * runner loads, and the statistics (medians over interleaved rounds).
 */

/** One line of the results table. */
export interface Row {
  /** What is measured, e.g. "PutObject 256 MiB". */
  measure: string;
  /** Unit of `ours` and `baseline`, e.g. "MiB/s", "MiB", "s", "queries/s". */
  unit: string;
  /** Median over the rounds for this project's side. */
  ours: number;
  /** Median over the same rounds for the alternative; undefined when there is none. */
  baseline: number | undefined;
  /** Median of the per-round ratios ours / baseline (each round runs both sides back to back). */
  ratio: number | undefined;
  /** The target and anything a reader needs to interpret the numbers. */
  notes: string;
}

interface RunOptions {
  /** Measured rounds per measure (after one warm-up round). */
  rounds: number;
  /** `--before <git ref>`: groups that can also run the API server of that commit, next to this one. */
  before: string | undefined;
  /** Progress lines go here (stderr), never into the results table. */
  log(line: string): void;
}

/** A benchmark group: one file `bench/<name>.ts` exporting `group`. */
export interface BenchGroup {
  name: string;
  description: string;
  run(options: RunOptions): Promise<Row[]>;
}

export const MiB = 1024 * 1024;

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Paired samples of one measure: ours and the baseline taken in the same round. */
export class Pairs {
  readonly ours: number[] = [];
  readonly baseline: number[] = [];

  add(ours: number, baseline: number): void {
    this.ours.push(ours);
    this.baseline.push(baseline);
  }

  row(measure: string, unit: string, notes: string): Row {
    return {
      measure,
      unit,
      ours: median(this.ours),
      baseline: median(this.baseline),
      ratio: median(this.ours.map((o, i) => o / this.baseline[i]!)),
      notes,
    };
  }
}

/** Runs `fn` and returns its duration in seconds along with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; result: T }> {
  const start = process.hrtime.bigint();
  const result = await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result };
}

/**
 * The order in which to run the sides of round `round`: rotated every round,
 * so no side always runs first (after another side's disk write-back, or on a
 * freshly idle machine).
 */
export function rotation<T>(sides: readonly T[], round: number): T[] {
  const shift = round % sides.length;
  return [...sides.slice(shift), ...sides.slice(0, shift)];
}

function formatNumber(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** The results as a markdown table: group, measure, ours, baseline, ratio, notes. */
export function markdownTable(rows: readonly (Row & { group: string })[]): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const lines = ['| group | measure | ours | baseline | ratio | notes |', '| --- | --- | ---: | ---: | ---: | --- |'];
  for (const row of rows) {
    const ours = `${formatNumber(row.ours)} ${row.unit}`;
    const baseline = row.baseline === undefined ? '–' : `${formatNumber(row.baseline)} ${row.unit}`;
    const ratio = row.ratio === undefined ? '–' : row.ratio.toFixed(2);
    lines.push(`| ${row.group} | ${cell(row.measure)} | ${ours} | ${baseline} | ${ratio} | ${cell(row.notes)} |`);
  }
  return lines.join('\n');
}
