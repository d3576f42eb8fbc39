/**
 * Listing's per-bucket index, held in memory: every key with its size, ETag
 * and modification time, sorted in UTF-8 byte (code point) order. It is
 * built from the trailers the first time a bucket is listed (or deleted) and
 * kept up to date by every write and delete afterwards, which is why one
 * process owns a data dir (the lock file). Memory bound: roughly 160 bytes
 * plus the key's length (twice that for keys outside Latin-1) per object,
 * so about 200 MB for a million objects with 40-byte keys.
 */
import type { IndexEntry } from './records.js';

const INDEX_CHUNK = 512;

/**
 * Compares two keys in UTF-8 byte order, which is code point order. JavaScript's
 * `<` compares UTF-16 code units, which puts U+E000..U+FFFF after astral
 * characters; this fixes that up at the first difference.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

interface Cursor {
  c: number;
  i: number;
}

/**
 * The keys of one bucket in code point order: a list of sorted chunks of at
 * most 2 × 512 entries, so an insert or delete moves at most a chunk plus the
 * chunk list, and a lookup is two binary searches.
 */
export class KeyIndex {
  private chunks: IndexEntry[][] = [];
  private count = 0;

  constructor(entries: IndexEntry[] = []) {
    const sorted = [...entries].sort((a, b) => compareKeys(a.key, b.key));
    for (let i = 0; i < sorted.length; i += INDEX_CHUNK) this.chunks.push(sorted.slice(i, i + INDEX_CHUNK));
    this.count = sorted.length;
  }

  get size(): number {
    return this.count;
  }

  at(cursor: Cursor): IndexEntry | undefined {
    return this.chunks[cursor.c]?.[cursor.i];
  }

  next(cursor: Cursor): Cursor {
    const chunk = this.chunks[cursor.c];
    if (chunk && cursor.i + 1 < chunk.length) return { c: cursor.c, i: cursor.i + 1 };
    return { c: cursor.c + 1, i: 0 };
  }

  /** The first entry whose key makes `before` false; `before` must be monotone (true, ..., true, false, ...). */
  partitionPoint(before: (key: string) => boolean): Cursor {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (before(chunk[chunk.length - 1]!.key)) lo = mid + 1;
      else hi = mid;
    }
    const chunk = this.chunks[lo];
    if (!chunk) return { c: lo, i: 0 };
    let a = 0;
    let b = chunk.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (before(chunk[mid]!.key)) a = mid + 1;
      else b = mid;
    }
    return { c: lo, i: a };
  }

  /** First entry with key >= `key`. */
  lowerBound(key: string): Cursor {
    return this.partitionPoint((k) => compareKeys(k, key) < 0);
  }

  /** First entry with key > `key`. */
  upperBound(key: string): Cursor {
    return this.partitionPoint((k) => compareKeys(k, key) <= 0);
  }

  /** First entry that neither sorts before `prefix` nor starts with it. */
  pastPrefix(prefix: string): Cursor {
    return this.partitionPoint((k) => k.startsWith(prefix) || compareKeys(k, prefix) < 0);
  }

  get(key: string): IndexEntry | undefined {
    const entry = this.at(this.lowerBound(key));
    return entry?.key === key ? entry : undefined;
  }

  set(entry: IndexEntry): void {
    const cursor = this.lowerBound(entry.key);
    const chunk = this.chunks[cursor.c];
    if (!chunk) {
      const last = this.chunks[this.chunks.length - 1];
      if (last) last.push(entry);
      else this.chunks.push([entry]);
      this.count++;
      this.splitIfFull(Math.max(0, this.chunks.length - 1));
      return;
    }
    if (chunk[cursor.i]?.key === entry.key) {
      chunk[cursor.i] = entry;
      return;
    }
    chunk.splice(cursor.i, 0, entry);
    this.count++;
    this.splitIfFull(cursor.c);
  }

  delete(key: string): boolean {
    const cursor = this.lowerBound(key);
    const chunk = this.chunks[cursor.c];
    if (chunk?.[cursor.i]?.key !== key) return false;
    chunk.splice(cursor.i, 1);
    if (chunk.length === 0) this.chunks.splice(cursor.c, 1);
    this.count--;
    return true;
  }

  private splitIfFull(c: number): void {
    const chunk = this.chunks[c]!;
    if (chunk.length >= 2 * INDEX_CHUNK)
      this.chunks.splice(c, 1, chunk.slice(0, INDEX_CHUNK), chunk.slice(INDEX_CHUNK));
  }
}

export interface ListQuery {
  prefix: string;
  delimiter: string;
  /** List what sorts after this (a marker, start-after or decoded continuation token). */
  after?: string;
  maxKeys: number;
}

export type ListItem = { type: 'object'; entry: IndexEntry } | { type: 'prefix'; prefix: string };

export interface ListPage {
  items: ListItem[];
  truncated: boolean;
}

/**
 * One page of a listing, as S3 computes it: keys under `prefix`, those with
 * `delimiter` after the prefix rolled up into common prefixes, each common
 * prefix counting as one item. When `after` is itself a common prefix (the
 * last item of the previous page), everything under it is skipped.
 */
export function listIndex(index: KeyIndex, query: ListQuery): ListPage {
  const { prefix, delimiter, after, maxKeys } = query;
  if (maxKeys <= 0) return { items: [], truncated: false };
  let cursor = index.lowerBound(prefix);
  if (after !== undefined && compareKeys(after, prefix) >= 0) {
    const isGroup =
      delimiter !== '' &&
      after.startsWith(prefix) &&
      after.endsWith(delimiter) &&
      after.indexOf(delimiter, prefix.length) === after.length - delimiter.length;
    cursor = isGroup ? index.pastPrefix(after) : index.upperBound(after);
  }
  const items: ListItem[] = [];
  for (let entry = index.at(cursor); entry?.key.startsWith(prefix); entry = index.at(cursor)) {
    if (items.length === maxKeys) return { items, truncated: true };
    const at = delimiter === '' ? -1 : entry.key.indexOf(delimiter, prefix.length);
    if (at >= 0) {
      const common = entry.key.slice(0, at + delimiter.length);
      items.push({ type: 'prefix', prefix: common });
      cursor = index.pastPrefix(common);
    } else {
      items.push({ type: 'object', entry });
      cursor = index.next(cursor);
    }
  }
  return { items, truncated: false };
}
