/**
 * A POST Object's multipart/form-data body, parsed as it streams with
 * @fastify/busboy: the fields before the file are collected (at most
 * MAX_PRE_DATA bytes of them, S3's limit), then the file part is handed on
 * as a stream, with backpressure, never buffered whole. Fields after the file
 * are ignored, as S3 ignores them.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { Busboy, type BusboyHeaders } from '@fastify/busboy';
import { errors, S3Error } from '../errors.js';
import { headerValue } from './headers.js';

/** S3's limit on the form fields that precede the file. */
const MAX_PRE_DATA = 20 * 1024;
/** Most fields before the file. */
const MAX_FIELDS = 1000;
/** What is read and dropped of a refused form, at most. */
const DISCARD_LIMIT = 1024 * 1024;
/** Busboy's own reads from the request: as the store's other bodies (1 MiB). */
const HIGH_WATER_MARK = 1024 * 1024;

const malformed = () =>
  new S3Error('MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.');

const preDataTooLarge = () =>
  new S3Error('MaxPostPreDataLengthExceeded', 'Your POST request fields preceding the upload file were too large.', {
    MaxPostPreDataLength: String(MAX_PRE_DATA),
  });

/**
 * Reads and drops what is left of a refused request, up to DISCARD_LIMIT
 * bytes, so that a browser still sending a small form reads the refusal
 * instead of a reset connection. Past the limit it stops reading: the answer
 * then closes the connection.
 */
function discardRest(req: IncomingMessage): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let left = DISCARD_LIMIT;
    const done = () => {
      req.off('data', onData);
      req.off('end', done);
      req.off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      left -= chunk.length;
      if (left < 0) {
        req.pause();
        done();
      }
    };
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.resume();
  });
}

/** The form's file: the fields before it (by lower-case name), its stream and the name the client gave it. */
export interface FormFile {
  fields: ReadonlyMap<string, string>;
  stream: Readable;
  filename: string;
}

/**
 * Reads the form of `req` until its `file` field, then resolves with what
 * `onFile` makes of it. Rejects with S3Error: MalformedPOSTRequest,
 * MaxPostPreDataLengthExceeded, InvalidArgument (a repeated field, no file),
 * IncompleteBody (the client went away), or whatever `onFile` rejects with.
 * On failure the file stream is destroyed and the rest of the request
 * dropped (discardRest) before the promise rejects.
 */
export function readForm<T>(req: IncomingMessage, onFile: (file: FormFile) => Promise<T>): Promise<T> {
  const type = headerValue(req, 'content-type') ?? '';
  if (!/^multipart\/form-data\s*;/i.test(type)) throw malformed();
  let parser: InstanceType<typeof Busboy>;
  try {
    parser = new Busboy({
      headers: req.headers as BusboyHeaders,
      highWaterMark: HIGH_WATER_MARK,
      fileHwm: HIGH_WATER_MARK,
      // S3's field names are case-insensitive; a `file` part is the file even without a file name.
      isPartAFile: (name) => name?.toLowerCase() === 'file',
      limits: { fieldSize: MAX_PRE_DATA, fields: MAX_FIELDS, files: 1 },
    });
  } catch {
    throw malformed();
  }
  return new Promise<T>((resolve, reject) => {
    const fields = new Map<string, string>();
    let preData = 0;
    let file: Readable | undefined;
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      file?.destroy();
      void discardRest(req).then(() => reject(err));
    };
    parser.on('field', (name, value, nameTruncated, valueTruncated) => {
      if (file) return;
      preData += Buffer.byteLength(name) + Buffer.byteLength(value);
      if (nameTruncated || valueTruncated || preData > MAX_PRE_DATA) return fail(preDataTooLarge());
      const lower = name.toLowerCase();
      if (fields.has(lower)) {
        return fail(errors.invalidArgument(`Bucket POST must contain at most one field named '${lower}'.`, lower, ''));
      }
      fields.set(lower, value);
    });
    parser.on('fieldsLimit', () => fail(preDataTooLarge()));
    parser.on('file', (_name, stream, filename) => {
      if (file || settled) {
        stream.resume();
        return;
      }
      file = stream;
      onFile({ fields, stream, filename: filename ?? '' }).then((result) => {
        settled = true;
        resolve(result);
      }, fail);
    });
    parser.on('finish', () => {
      if (!file) fail(errors.invalidArgument('POST requires exactly one file upload per request.', 'file', '0'));
    });
    parser.on('error', () => fail(malformed()));
    // A client that goes away mid-form never ends the parser: fail the file so its write is discarded.
    req.once('close', () => {
      if (!req.complete) fail(new S3Error('IncompleteBody', 'The request body was cut off before its end.'));
    });
    req.pipe(parser);
  });
}
