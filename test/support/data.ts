/**
 * Test data helpers: deterministic pseudo-random bytes of any length produced
 * as a stream (never held whole in memory), and SHA-256 digests of streams.
 *
 * The bytes are the AES-256-CTR keystream of a key derived from a seed string,
 * so the same (seed, size) always gives the same bytes, fast, from native code.
 * Memory use is one chunk (64 KiB) at a time.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const CHUNK = 64 * 1024;
const ZEROS = Buffer.alloc(CHUNK);

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Async generator of `size` deterministic bytes for `seed`, in chunks of at most 64 KiB. */
export async function* randomChunks(size: number, seed: string): AsyncGenerator<Buffer> {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size must be a whole number >= 0, got ${size}`);
  const key = createHash('sha256').update(`key:${seed}`).digest();
  const iv = createHash('sha256').update(`iv:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  let left = size;
  while (left > 0) {
    const n = Math.min(left, CHUNK);
    yield cipher.update(n === CHUNK ? ZEROS : ZEROS.subarray(0, n));
    left -= n;
  }
}

/**
 * A Readable of `size` deterministic bytes for `seed`. Pass it as an S3 `Body`
 * together with `ContentLength: size` (the SDK needs the length of a stream).
 */
export function randomStream(size: number, seed: string): Readable {
  return Readable.from(randomChunks(size, seed), { objectMode: false });
}

/** The same bytes as `randomStream(size, seed)`, whole, for small cases only. */
export async function randomBytes(size: number, seed: string): Promise<Buffer> {
  if (size > 16 * MiB) throw new RangeError('randomBytes is for small bodies: stream larger ones with randomStream');
  const parts: Buffer[] = [];
  for await (const chunk of randomChunks(size, seed)) parts.push(chunk);
  return Buffer.concat(parts);
}

export interface Digest {
  /** Lower-case hex SHA-256. */
  sha256: string;
  /** Lower-case hex MD5: a single-part S3 object's ETag, without the quotes. */
  md5: string;
  /** Number of bytes read. */
  bytes: number;
}

/** SHA-256, MD5 and length of whatever an async iterable of bytes yields (a Readable, a web stream, an SDK body). */
export async function sha256Of(source: AsyncIterable<Uint8Array | string>): Promise<Digest> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  let bytes = 0;
  for await (const chunk of source) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    sha256.update(buf);
    md5.update(buf);
    bytes += buf.byteLength;
  }
  return { sha256: sha256.digest('hex'), md5: md5.digest('hex'), bytes };
}

/** Digest of `randomStream(size, seed)`, computed by streaming it again. */
export function expectedDigest(size: number, seed: string): Promise<Digest> {
  return sha256Of(randomChunks(size, seed));
}

/** Digest of bytes already in memory. */
export function digestOf(data: Uint8Array | string): Digest {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  return {
    sha256: createHash('sha256').update(buf).digest('hex'),
    md5: createHash('md5').update(buf).digest('hex'),
    bytes: buf.byteLength,
  };
}

/**
 * The multipart ETag S3 gives a completed upload: the MD5 of the concatenated
 * binary MD5s of the parts, then `-<number of parts>`, in double quotes.
 */
export function multipartEtag(partEtags: readonly string[]): string {
  const hash = createHash('md5');
  for (const etag of partEtags) hash.update(Buffer.from(etag.replaceAll('"', ''), 'hex'));
  return `"${hash.digest('hex')}-${partEtags.length}"`;
}

/** The bytes of several `randomChunks` sources one after another, e.g. the parts of a multipart upload. */
export async function* concatenated(...sources: Array<AsyncIterable<Uint8Array>>): AsyncGenerator<Uint8Array> {
  for (const source of sources) yield* source;
}
