/**
 * A verified request's body, read through the decoder of chunked.ts set up
 * from what the request announced (payload hash mode, trailers, checksums).
 */
import type { IncomingMessage } from 'node:http';
import { S3Error } from '../errors.js';
import { headerValue } from '../http/headers.js';
import { RequestBody, type BodyDecoderOptions } from './chunked.js';
import { isVerifiableChecksum, parseHeaderChecksum } from './checksums.js';
import { HEX_256 } from './signature.js';
import {
  chunkSigningOf,
  STREAMING_MODES,
  STREAMING_SIGNED,
  STREAMING_SIGNED_TRAILER,
  STREAMING_UNSIGNED_TRAILER,
  trailerNames,
  type VerifiedRequest,
} from './sigv4.js';

/**
 * The request body as the client meant it: aws-chunked framing decoded
 * (STREAMING-AWS4-HMAC-SHA256-PAYLOAD with per-chunk signatures verified,
 * STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER),
 * trailing and header x-amz-checksum-* (crc32, crc32c, crc64nvme, sha1, sha256,
 * sha512, md5) and Content-MD5 verified, a hex payload hash verified at the end
 * (XAmzContentSHA256Mismatch), x-amz-decoded-content-length checked. Errors are
 * emitted on the returned stream as S3Error; keep the data only once 'end'
 * has fired. Streams with bounded memory: backpressure respected, never the
 * whole body buffered, chunk-header and trailer lines at most MAX_LINE_BYTES.
 */
export function requestBody(req: IncomingMessage, verified: VerifiedRequest): RequestBody {
  const mode = verified.payloadHash;
  const streaming = STREAMING_MODES.has(mode);
  const signed = mode === STREAMING_SIGNED || mode === STREAMING_SIGNED_TRAILER;
  const signing = chunkSigningOf(verified);
  if (signed && !signing) {
    throw new TypeError('requestBody needs the very object verifyRequest returned for a request with signed chunks');
  }
  const decoded = headerValue(req, 'x-amz-decoded-content-length');
  const options: BodyDecoderOptions = {
    framing: streaming ? 'aws-chunked' : 'none',
    trailer: mode === STREAMING_SIGNED_TRAILER || mode === STREAMING_UNSIGNED_TRAILER,
    declaredTrailers: trailerNames(req),
    headerChecksums: [],
  };
  if (signed) options.signing = signing;
  if (streaming && decoded !== undefined) options.decodedLength = Number(decoded);
  if (HEX_256.test(mode)) options.expectedSha256 = mode;

  let early: S3Error | undefined;
  for (const name of Object.keys(req.headers)) {
    if (!isVerifiableChecksum(name)) continue;
    try {
      options.headerChecksums.push(parseHeaderChecksum(name, headerValue(req, name)!));
    } catch (error) {
      early = error as S3Error;
      break;
    }
  }

  const body = new RequestBody(options);
  if (early) {
    body.destroy(early);
    return body;
  }
  // A request that closes before its last byte (client gone, connection reset)
  // never ends the pipe: fail the body so the consumer discards what it has.
  const onClose = (): void => {
    if (!req.complete) body.destroy(new S3Error('IncompleteBody', 'The request body was cut off before its end.'));
  };
  req.on('close', onClose);
  body.once('close', () => req.off('close', onClose));
  req.pipe(body);
  return body;
}
