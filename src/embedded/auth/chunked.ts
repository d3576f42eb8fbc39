/**
 * The request body decoder of the embedded S3 store: `aws-chunked` framing
 * (signed and unsigned chunks, trailing headers), flexible checksums
 * (checksums.ts) and payload hashes.
 *
 * Everything here streams: a body is never held in memory. Per request the
 * decoder keeps one chunk-header or trailer line (at most MAX_LINE_BYTES),
 * the running hash states and whatever the stream buffers hold (their
 * highWaterMark), whatever the size of the upload.
 */
import { createHash, createHmac, timingSafeEqual, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from '../errors.js';
import { badDigest, createChecksum, isVerifiableChecksum, parseTrailerChecksum, type Checksum } from './checksums.js';

/** Longest chunk-header or trailer line accepted, CRLF included. */
export const MAX_LINE_BYTES = 4096;
/** Most trailing header lines accepted after the last chunk. */
const MAX_TRAILER_LINES = 16;

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

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

function malformed(message: string): S3Error {
  return new S3Error('InvalidRequest', message);
}

function incomplete(message: string): S3Error {
  return new S3Error('IncompleteBody', message);
}

function signatureMismatch(message: string): S3Error {
  return new S3Error('SignatureDoesNotMatch', message);
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
  private readonly digesters = new Map<string, Checksum>();
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
    for (const { name } of options.headerChecksums) this.digesters.set(name, createChecksum(name));
    if (options.trailer) {
      for (const name of options.declaredTrailers) {
        if (isVerifiableChecksum(name) && !this.digesters.has(name)) this.digesters.set(name, createChecksum(name));
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
    this.finish().then(() => callback(), callback);
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
          if (chunk[pos] !== expected)
            throw malformed('Malformed aws-chunked body: chunk data is not followed by CRLF.');
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
      throw malformed(
        `Malformed aws-chunked body: a chunk header or trailer line is longer than ${MAX_LINE_BYTES} bytes.`,
      );
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
    if (++this.trailerLines > MAX_TRAILER_LINES)
      throw malformed('Malformed aws-chunked body: too many trailing headers.');
    const match = TRAILER_LINE.exec(text);
    if (!match) throw malformed('Malformed aws-chunked body: a trailing header is not "name:value".');
    const name = match[1]!.toLowerCase();
    const value = match[2]!;
    if (name === 'x-amz-trailer-signature') {
      if (this.trailerSignature !== undefined)
        throw malformed('Malformed aws-chunked body: more than one trailer signature.');
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

  private async finish(): Promise<void> {
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
      throw new S3Error(
        'XAmzContentSHA256Mismatch',
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
      );
    }
    const sums = new Map<string, Buffer>();
    for (const [name, checksum] of this.digesters) sums.set(name, Buffer.from(await checksum.digest()));
    for (const { name, expected } of this.options.headerChecksums) {
      if (!sums.get(name)!.equals(expected)) throw badDigest(name);
      this.checksums[name] = expected.toString('base64');
    }
    for (const [name, value] of Object.entries(this.trailers)) {
      if (!isVerifiableChecksum(name)) continue;
      if (!sums.get(name)!.equals(parseTrailerChecksum(name, value))) throw badDigest(name);
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
    if (this.trailerSignature === undefined)
      throw signatureMismatch('The trailing headers carry no x-amz-trailer-signature.');
    const canonicalHash = createHash('sha256').update(this.trailerCanonical.join(''), 'utf8').digest('hex');
    const stringToSign = [
      'AWS4-HMAC-SHA256-TRAILER',
      signing.longDate,
      signing.scope,
      this.previousSignature,
      canonicalHash,
    ].join('\n');
    if (
      !/^[0-9a-f]{64}$/.test(this.trailerSignature) ||
      !sameHex(hmacHex(signing.signingKey, stringToSign), this.trailerSignature)
    ) {
      throw signatureMismatch('The trailer signature we calculated does not match the signature you provided.');
    }
  }
}
