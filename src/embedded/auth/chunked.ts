/**
 * Request bodies of the embedded S3 store: `aws-chunked` framing (signed and
 * unsigned chunks, trailing headers), flexible checksums and payload hashes.
 *
 * Everything here streams: a body is never held in memory. Per request the
 * decoder keeps one chunk-header or trailer line (at most MAX_LINE_BYTES),
 * the running hash states and whatever the stream buffers hold (their
 * highWaterMark), whatever the size of the upload.
 */
import { createHash, createHmac, timingSafeEqual, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';

/** S3 error codes this store raises, with the HTTP status S3 uses. */
export class S3AuthError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** Extra elements of the error document (Region, ...). */
    readonly details: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'S3AuthError';
  }
}

/** Longest chunk-header or trailer line accepted, CRLF included. */
export const MAX_LINE_BYTES = 4096;
/** Most trailing header lines accepted after the last chunk. */
const MAX_TRAILER_LINES = 16;

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

// ---------------------------------------------------------------------------
// Checksums

interface Digester {
  update(data: Buffer): void;
  digest(): Buffer;
}

function makeCrcTable32(poly: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

const CRC32C_TABLE = makeCrcTable32(0x82f63b78);

/** CRC-32C (Castagnoli), as S3's x-amz-checksum-crc32c. */
export function crc32c(data: Uint8Array, previous = 0): number {
  let crc = ~previous >>> 0;
  for (let i = 0; i < data.length; i++) {
    crc = CRC32C_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  }
  return ~crc >>> 0;
}

/** The reflected CRC-64/NVME polynomial 0x9a6c9329ac4bc9b5 as two 32-bit tables. */
const CRC64_TABLE_HI = new Uint32Array(256);
const CRC64_TABLE_LO = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let hi = 0;
  let lo = n;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) {
      hi = (hi ^ 0x9a6c9329) >>> 0;
      lo = (lo ^ 0xac4bc9b5) >>> 0;
    }
  }
  CRC64_TABLE_HI[n] = hi;
  CRC64_TABLE_LO[n] = lo;
}

class Crc64Nvme implements Digester {
  private hi = 0xffffffff;
  private lo = 0xffffffff;
  update(data: Buffer): void {
    let { hi, lo } = this;
    for (let i = 0; i < data.length; i++) {
      const index = (lo ^ data[i]!) & 0xff;
      lo = (((lo >>> 8) | (hi << 24)) ^ CRC64_TABLE_LO[index]!) >>> 0;
      hi = ((hi >>> 8) ^ CRC64_TABLE_HI[index]!) >>> 0;
    }
    this.hi = hi;
    this.lo = lo;
  }
  digest(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32BE(~this.hi >>> 0, 0);
    out.writeUInt32BE(~this.lo >>> 0, 4);
    return out;
  }
}

class Crc32Digester implements Digester {
  private value = 0;
  constructor(private readonly fn: (data: Buffer, previous: number) => number) {}
  update(data: Buffer): void {
    this.value = this.fn(data, this.value);
  }
  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.value >>> 0, 0);
    return out;
  }
}

class HashDigester implements Digester {
  private readonly hash: Hash;
  constructor(algorithm: string) {
    this.hash = createHash(algorithm);
  }
  update(data: Buffer): void {
    this.hash.update(data);
  }
  digest(): Buffer {
    return this.hash.digest();
  }
}

interface ChecksumKind {
  /** Name S3 uses in messages, e.g. CRC32. */
  label: string;
  bytes: number;
  create(): Digester;
}

/** The checksums this store verifies, by the header or trailer that carries them. */
const CHECKSUMS: Record<string, ChecksumKind> = {
  'x-amz-checksum-crc32': { label: 'CRC32', bytes: 4, create: () => new Crc32Digester(crc32) },
  'x-amz-checksum-crc32c': { label: 'CRC32C', bytes: 4, create: () => new Crc32Digester(crc32c) },
  'x-amz-checksum-crc64nvme': { label: 'CRC64NVME', bytes: 8, create: () => new Crc64Nvme() },
  'x-amz-checksum-sha1': { label: 'SHA1', bytes: 20, create: () => new HashDigester('sha1') },
  'x-amz-checksum-sha256': { label: 'SHA256', bytes: 32, create: () => new HashDigester('sha256') },
  'x-amz-checksum-sha512': { label: 'SHA512', bytes: 64, create: () => new HashDigester('sha512') },
  'x-amz-checksum-md5': { label: 'MD5', bytes: 16, create: () => new HashDigester('md5') },
  'content-md5': { label: 'Content-MD5', bytes: 16, create: () => new HashDigester('md5') },
};

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function invalidChecksum(name: string, where: 'header' | 'trailing header'): S3AuthError {
  if (name === 'content-md5') {
    return new S3AuthError('InvalidDigest', 'The Content-MD5 you specified is not valid.', 400);
  }
  return new S3AuthError('InvalidRequest', `Value for ${name} ${where} is invalid.`, 400);
}

function badDigest(name: string): S3AuthError {
  if (name === 'content-md5') {
    return new S3AuthError('BadDigest', 'The Content-MD5 you specified did not match what we received.', 400);
  }
  const label = CHECKSUMS[name]?.label ?? name;
  return new S3AuthError('BadDigest', `The ${label} you specified did not match the calculated checksum.`, 400);
}

/** Whether `name` (lower case) is a checksum this module computes. */
export function isVerifiableChecksum(name: string): boolean {
  return Object.hasOwn(CHECKSUMS, name);
}

/** A checksum the client declared in a request header, decoded. Throws S3AuthError when malformed. */
export function parseHeaderChecksum(name: string, value: string): { name: string; expected: Buffer } {
  const kind = CHECKSUMS[name];
  if (!kind) throw new TypeError(`not a verifiable checksum: ${name}`);
  const trimmed = value.trim();
  const expected = Buffer.from(trimmed, 'base64');
  if (!BASE64.test(trimmed) || expected.length !== kind.bytes) throw invalidChecksum(name, 'header');
  return { name, expected };
}

// ---------------------------------------------------------------------------
// The decoder

/** What requestBody needs to check chunk signatures (from the verified seed signature). */
export interface ChunkSigning {
  signingKey: Buffer;
  /** The request timestamp, ISO 8601 basic (20130524T000000Z). */
  longDate: string;
  /** The credential scope, date/region/s3/aws4_request. */
  scope: string;
  /** The signature of the request itself, hex. */
  seedSignature: string;
}

export interface BodyDecoderOptions {
  /** 'none': the body is the payload; 'aws-chunked': chunk framing to decode. */
  framing: 'none' | 'aws-chunked';
  /** Present for STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER): every chunk and the trailer carry signatures. */
  signing?: ChunkSigning;
  /** Whether trailing headers follow the last chunk (the *-TRAILER modes). */
  trailer: boolean;
  /** Lower-case trailer names announced in x-amz-trailer. */
  declaredTrailers: string[];
  /** x-amz-decoded-content-length, when the client sent it. */
  decodedLength?: number;
  /** A hex x-amz-content-sha256 the payload must hash to. */
  expectedSha256?: string;
  /** Checksums the client sent as request headers (x-amz-checksum-*, Content-MD5). */
  headerChecksums: { name: string; expected: Buffer }[];
}

type State = 'chunk-header' | 'chunk-data' | 'chunk-data-end' | 'final-crlf' | 'trailer' | 'done';

const CR = 0x0d;
const LF = 0x0a;
const SIGNED_CHUNK_HEADER = /^([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})$/;
const UNSIGNED_CHUNK_HEADER = /^([0-9a-fA-F]{1,16})(?:;.*)?$/;
const TRAILER_LINE = /^([A-Za-z0-9-]+)\s*:\s*(.*?)\s*$/;

function malformed(message: string): S3AuthError {
  return new S3AuthError('InvalidRequest', message, 400);
}

function incomplete(message: string): S3AuthError {
  return new S3AuthError('IncompleteBody', message, 400);
}

function signatureMismatch(message: string): S3AuthError {
  return new S3AuthError('SignatureDoesNotMatch', message, 403);
}

function hmacHex(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
}

function sameHex(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(provided, 'hex');
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}

/**
 * The decoded request body. Data flows as it arrives; the checks that need the
 * whole body (payload hash, checksums, decoded length, the last signatures)
 * run before 'end', so a body that fails them errors instead of ending. A
 * consumer must therefore keep what it read only once 'end' has fired.
 */
export class RequestBody extends Transform {
  /** The x-amz-checksum-* (or content-md5) values that were verified against the payload, base64. Complete after 'end'. */
  readonly checksums: Record<string, string> = {};
  /** Trailing headers received after the last chunk (lower-case names, signature excluded). Complete after 'end'. */
  readonly trailers: Record<string, string> = {};
  private received = 0;

  /** Payload bytes passed on so far. */
  get bytes(): number {
    return this.received;
  }

  private readonly options: BodyDecoderOptions;
  private readonly payloadSha256: Hash | undefined;
  private readonly digesters = new Map<string, Digester>();
  private state: State = 'chunk-header';
  private readonly line = Buffer.alloc(MAX_LINE_BYTES);
  private lineLength = 0;
  private chunkRemaining = 0;
  private chunkSignature = '';
  private chunkHash: Hash | undefined;
  private previousSignature = '';
  private crlfSeen = 0;
  private trailerLines = 0;
  private trailerSignature: string | undefined;
  private readonly trailerCanonical: string[] = [];
  private slackAfterEnd = 0;

  constructor(options: BodyDecoderOptions) {
    super();
    this.options = options;
    if (options.expectedSha256 !== undefined) this.payloadSha256 = createHash('sha256');
    for (const { name } of options.headerChecksums) this.digesters.set(name, CHECKSUMS[name]!.create());
    if (options.trailer) {
      for (const name of options.declaredTrailers) {
        const kind = CHECKSUMS[name];
        if (kind && !this.digesters.has(name)) this.digesters.set(name, kind.create());
      }
    }
    if (options.signing) this.previousSignature = options.signing.seedSignature;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      if (this.options.framing === 'none') this.emitPayload(chunk);
      else this.decode(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.finish();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  private emitPayload(data: Buffer): void {
    if (data.length === 0) return;
    this.received += data.length;
    const { decodedLength } = this.options;
    if (decodedLength !== undefined && this.received > decodedLength) {
      throw malformed('The aws-chunked body carries more data than x-amz-decoded-content-length announced.');
    }
    this.payloadSha256?.update(data);
    this.chunkHash?.update(data);
    for (const digester of this.digesters.values()) digester.update(data);
    this.push(data);
  }

  private decode(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.state) {
        case 'chunk-data': {
          const take = Math.min(this.chunkRemaining, chunk.length - pos);
          this.emitPayload(chunk.subarray(pos, pos + take));
          pos += take;
          this.chunkRemaining -= take;
          if (this.chunkRemaining === 0) {
            this.state = 'chunk-data-end';
            this.crlfSeen = 0;
          }
          break;
        }
        case 'chunk-data-end':
        case 'final-crlf': {
          const expected = this.crlfSeen === 0 ? CR : LF;
          if (chunk[pos] !== expected) throw malformed('Malformed aws-chunked body: chunk data is not followed by CRLF.');
          pos++;
          if (++this.crlfSeen === 2) {
            if (this.state === 'final-crlf') this.state = 'done';
            else {
              this.verifyChunkSignature();
              this.state = 'chunk-header';
            }
          }
          break;
        }
        case 'done': {
          // Tolerate stray line ends some clients add after the final empty line.
          for (; pos < chunk.length; pos++) {
            const byte = chunk[pos];
            if ((byte !== CR && byte !== LF) || ++this.slackAfterEnd > 4) {
              throw malformed('Malformed aws-chunked body: data after the final chunk.');
            }
          }
          break;
        }
        case 'chunk-header':
        case 'trailer': {
          const newline = chunk.indexOf(LF, pos);
          const end = newline === -1 ? chunk.length : newline;
          this.appendLine(chunk, pos, end);
          pos = end;
          if (newline !== -1) {
            pos++;
            const line = this.takeLine();
            if (this.state === 'chunk-header') this.onChunkHeader(line);
            else this.onTrailerLine(line);
          }
          break;
        }
      }
    }
  }

  private appendLine(chunk: Buffer, start: number, end: number): void {
    const length = end - start;
    if (this.lineLength + length + 1 > MAX_LINE_BYTES) {
      throw malformed(`Malformed aws-chunked body: a chunk header or trailer line is longer than ${MAX_LINE_BYTES} bytes.`);
    }
    chunk.copy(this.line, this.lineLength, start, end);
    this.lineLength += length;
  }

  /** The buffered line without its LF; `cr` tells whether it ended in CRLF. */
  private takeLine(): { text: string; cr: boolean } {
    let length = this.lineLength;
    const cr = length > 0 && this.line[length - 1] === CR;
    if (cr) length--;
    this.lineLength = 0;
    return { text: this.line.toString('latin1', 0, length), cr };
  }

  private onChunkHeader({ text, cr }: { text: string; cr: boolean }): void {
    if (!cr) throw malformed('Malformed aws-chunked body: a chunk header does not end in CRLF.');
    let sizeHex: string;
    if (this.options.signing) {
      const match = SIGNED_CHUNK_HEADER.exec(text);
      if (!match) throw malformed('Malformed aws-chunked body: expected "<hex size>;chunk-signature=<signature>".');
      sizeHex = match[1]!;
      this.chunkSignature = match[2]!;
      this.chunkHash = createHash('sha256');
    } else {
      const match = UNSIGNED_CHUNK_HEADER.exec(text);
      if (!match) throw malformed('Malformed aws-chunked body: expected a hexadecimal chunk size.');
      sizeHex = match[1]!;
    }
    const size = Number.parseInt(sizeHex, 16);
    if (!Number.isSafeInteger(size)) throw malformed('Malformed aws-chunked body: chunk size out of range.');
    if (size > 0) {
      this.chunkRemaining = size;
      this.state = 'chunk-data';
      return;
    }
    this.verifyChunkSignature();
    if (this.options.trailer) this.state = 'trailer';
    else {
      this.state = 'final-crlf';
      this.crlfSeen = 0;
    }
  }

  /** Checks the signature of the chunk just read (no-op for unsigned chunks) and chains it. */
  private verifyChunkSignature(): void {
    const { signing } = this.options;
    if (!signing || !this.chunkHash) return;
    const stringToSign = [
      'AWS4-HMAC-SHA256-PAYLOAD',
      signing.longDate,
      signing.scope,
      this.previousSignature,
      EMPTY_SHA256,
      this.chunkHash.digest('hex'),
    ].join('\n');
    this.chunkHash = undefined;
    if (!sameHex(hmacHex(signing.signingKey, stringToSign), this.chunkSignature)) {
      throw signatureMismatch('The chunk signature we calculated does not match the signature you provided.');
    }
    this.previousSignature = this.chunkSignature;
  }

  private onTrailerLine({ text }: { text: string }): void {
    if (text === '') {
      this.state = 'done';
      return;
    }
    if (++this.trailerLines > MAX_TRAILER_LINES) throw malformed('Malformed aws-chunked body: too many trailing headers.');
    const match = TRAILER_LINE.exec(text);
    if (!match) throw malformed('Malformed aws-chunked body: a trailing header is not "name:value".');
    const name = match[1]!.toLowerCase();
    const value = match[2]!;
    if (name === 'x-amz-trailer-signature') {
      if (this.trailerSignature !== undefined) throw malformed('Malformed aws-chunked body: more than one trailer signature.');
      this.trailerSignature = value;
      return;
    }
    if (!this.options.declaredTrailers.includes(name)) {
      throw malformed(`The trailing header ${name} was not announced in x-amz-trailer.`);
    }
    if (Object.hasOwn(this.trailers, name)) throw malformed(`The trailing header ${name} was sent twice.`);
    this.trailers[name] = value;
    this.trailerCanonical.push(`${name}:${value}\n`);
  }

  private finish(): void {
    if (this.options.framing === 'aws-chunked') {
      // A missing final empty line is tolerated: everything it would close has been read.
      const atLineStart = this.lineLength === 0;
      const complete =
        this.state === 'done' ||
        (this.state === 'final-crlf' && this.crlfSeen === 0) ||
        (this.state === 'trailer' && atLineStart);
      if (!complete) throw incomplete('The aws-chunked body ended before its final chunk.');
      if (this.options.trailer) this.verifyTrailers();
    }
    const { decodedLength, expectedSha256 } = this.options;
    if (decodedLength !== undefined && this.received !== decodedLength) {
      throw incomplete(
        `You did not provide the number of bytes specified by x-amz-decoded-content-length (${decodedLength}); the body had ${this.received}.`,
      );
    }
    if (expectedSha256 !== undefined && this.payloadSha256!.digest('hex') !== expectedSha256.toLowerCase()) {
      throw new S3AuthError(
        'XAmzContentSHA256Mismatch',
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
        400,
      );
    }
    const sums = new Map<string, Buffer>();
    const digestOf = (name: string): Buffer => {
      let sum = sums.get(name);
      if (!sum) {
        sum = this.digesters.get(name)!.digest();
        sums.set(name, sum);
      }
      return sum;
    };
    for (const { name, expected } of this.options.headerChecksums) {
      if (!digestOf(name).equals(expected)) throw badDigest(name);
      this.checksums[name] = expected.toString('base64');
    }
    for (const [name, value] of Object.entries(this.trailers)) {
      const kind = CHECKSUMS[name];
      if (!kind) continue;
      const expected = Buffer.from(value, 'base64');
      if (!BASE64.test(value) || expected.length !== kind.bytes) throw invalidChecksum(name, 'trailing header');
      if (!digestOf(name).equals(expected)) throw badDigest(name);
      this.checksums[name] = value;
    }
  }

  private verifyTrailers(): void {
    for (const name of this.options.declaredTrailers) {
      if (!Object.hasOwn(this.trailers, name)) {
        throw incomplete(`The body did not end with the trailing header ${name} announced in x-amz-trailer.`);
      }
    }
    const { signing } = this.options;
    if (!signing) {
      if (this.trailerSignature !== undefined) throw malformed('An unsigned payload carries a trailer signature.');
      return;
    }
    if (this.trailerSignature === undefined) throw signatureMismatch('The trailing headers carry no x-amz-trailer-signature.');
    const canonicalHash = createHash('sha256').update(this.trailerCanonical.join(''), 'utf8').digest('hex');
    const stringToSign = [
      'AWS4-HMAC-SHA256-TRAILER',
      signing.longDate,
      signing.scope,
      this.previousSignature,
      canonicalHash,
    ].join('\n');
    if (!/^[0-9a-f]{64}$/.test(this.trailerSignature) || !sameHex(hmacHex(signing.signingKey, stringToSign), this.trailerSignature)) {
      throw signatureMismatch('The trailer signature we calculated does not match the signature you provided.');
    }
  }
}
