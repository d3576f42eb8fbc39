/** Byte sizes as settings give them: a number of bytes, or one with a unit. */

export const KIB = 1024;
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
