import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { processRequest, Upload, type FileUpload, type GraphQLOperation } from 'graphql-upload-minimal';
import { AppError, HTTP_STATUS, httpStatusOf, isPayloadTooLarge, type ErrorCode } from '../core/errors.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * After the answer is sent, how long the rest of an unread request body may
 * take to arrive (it is read and discarded) before the connection is closed.
 */
const DRAIN_GRACE_MS = 5_000;

export interface MultipartOptions {
  /** Largest file, in bytes (MAX_UPLOAD_BYTES). */
  maxFileSize: number;
  /** Most files in one request (MAX_FILES_PER_REQUEST): the `map` field may name no more. */
  maxFiles: number;
  /** Largest `operations` or `map` field (MAX_JSON_BODY_BYTES): the JSON is held in memory until parsed. */
  maxOperationsBytes: number;
  metrics: Metrics;
}

const SPEC_URL = /\s*\(https:\/\/github\.com\/jaydenseric\/graphql-multipart-request-spec\)/;

/**
 * A failed upload, with its code's HTTP status kept as
 * `extensions.http.status`, which Yoga applies to the response (and never
 * shows), and as `status`, the convention of HTTP error objects that stream
 * consumers (the store's upload) recognise (`httpStatusOf`).
 */
class UploadError extends AppError {
  readonly status: number;

  constructor(code: ErrorCode, message: string) {
    const status = HTTP_STATUS[code];
    super(code, message, { http: { status } });
    this.name = 'UploadError';
    this.status = status;
  }
}

const tooLarge = (max: number) =>
  new UploadError('PAYLOAD_TOO_LARGE', `The file is larger than the upload limit of ${max} bytes.`);

/**
 * Turns what graphql-upload-minimal or busboy reject with into an AppError
 * with an HTTP status (`extensions.http.status`, which Yoga applies to the
 * response and never shows): 413 PAYLOAD_TOO_LARGE for a file or field over
 * its limit, 400 BAD_USER_INPUT for every malformed request.
 */
export function uploadError(err: unknown, options: Pick<MultipartOptions, 'maxFileSize' | 'maxFiles'>): AppError {
  if (err instanceof AppError) return err;
  const status = httpStatusOf(err);
  const message = (err instanceof Error ? err.message : String(err)).replace(SPEC_URL, '');
  if (status === undefined) {
    // busboy's own parse errors ("Unexpected end of form", "Malformed part header", ...).
    return new UploadError('BAD_USER_INPUT', `Malformed multipart request: ${message.replace(/\.$/, '')}.`);
  }
  if (isPayloadTooLarge(err)) {
    if (/max file uploads exceeded/.test(message)) {
      return new UploadError('BAD_USER_INPUT', `A request may carry at most ${options.maxFiles} files.`);
    }
    if (/^File truncated/.test(message)) return tooLarge(options.maxFileSize);
    return new UploadError('PAYLOAD_TOO_LARGE', message);
  }
  if (status === 499) return new UploadError('BAD_USER_INPUT', 'The client disconnected during the upload.');
  if (/couldn't find any files or JSON/.test(message)) {
    return new UploadError('BAD_USER_INPUT', "The multipart request has no 'operations' and no 'map' field.");
  }
  return new UploadError('BAD_USER_INPUT', message);
}

/** Every Upload placed in the operations, found without recursion (the JSON may nest deeply). */
function findUploads(root: unknown): Set<Upload> {
  const found = new Set<Upload>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value instanceof Upload) found.add(value);
    else if (Array.isArray(value)) stack.push(...value);
    else if (typeof value === 'object' && value !== null) stack.push(...Object.values(value));
  }
  return found;
}

/** Passes bytes through, counts them into the metrics, and fails once more than `max` went by. */
class UploadCounter extends Transform {
  private bytes = 0;

  constructor(
    private readonly max: number,
    private readonly metrics: Metrics,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.max) {
      callback(tooLarge(this.max));
      return;
    }
    this.metrics.bytesUploaded(chunk.length);
    callback(null, chunk);
  }
}

interface TrackedFile {
  source: Readable | undefined;
  out: Transform | undefined;
  discard(): void;
}

/**
 * Takes over every file stream of one request as soon as it exists, so that:
 * - a resolver's `createReadStream()` gets a stream that either ends with the
 *   complete file or fails with an AppError (never ends early on a truncated
 *   file, as a bare busboy stream over its limit does);
 * - uploaded bytes are counted;
 * - whatever nobody reads is read and discarded, so the request body never
 *   stalls on a file a resolver did not take (or gave up on).
 */
class FileTracker {
  private readonly files: TrackedFile[] = [];

  constructor(private readonly options: MultipartOptions) {}

  adopt(upload: Upload): void {
    const received = upload.promise;
    upload.promise = received.then(
      (file) => this.wrap(file),
      (err: unknown) => {
        throw uploadError(err, this.options);
      },
    );
    upload.promise.catch(() => {});
  }

  private wrap(file: FileUpload): FileUpload {
    const { maxFileSize, metrics } = this.options;
    const tracked: TrackedFile = {
      source: undefined,
      out: undefined,
      discard: () => {
        const source = tracked.source;
        if (!source || source.readableEnded || source.destroyed) return;
        if (tracked.out) source.unpipe(tracked.out);
        source.resume();
      },
    };
    let failure: AppError | undefined;
    const fail = (err: AppError) => {
      failure ??= err;
      if (tracked.out && !tracked.out.destroyed) tracked.out.destroy(err);
      tracked.discard();
    };
    try {
      tracked.source = file.createReadStream();
    } catch (err) {
      failure = uploadError(err, this.options);
    }
    const source = tracked.source;
    if (source) {
      source.on('error', (err) => fail(uploadError(err, this.options)));
      // busboy stops the file at the limit and then ends it as if it were whole.
      source.once('limit', () => fail(tooLarge(maxFileSize)));
      this.files.push(tracked);
    }

    const upload: Omit<FileUpload, 'createReadStream'> & { createReadStream(): Readable } = {
      fieldName: file.fieldName,
      filename: file.filename,
      mimetype: file.mimetype,
      encoding: file.encoding,
      createReadStream() {
        if (failure) throw failure;
        if (!source) throw new UploadError('BAD_USER_INPUT', 'The file is missing from the request.');
        if (tracked.out) throw new Error('createReadStream() may be called only once per file');
        const out = new UploadCounter(maxFileSize, metrics);
        tracked.out = out;
        out.once('close', tracked.discard);
        source.pipe(out);
        return out;
      },
    };
    // FileUpload's type names fs.ReadStream; every consumer only needs a Readable.
    return upload as FileUpload;
  }

  /** The request is over: fail any stream still being read and discard what is left. */
  release(reason: AppError): void {
    for (const file of this.files) {
      if (file.out && !file.out.destroyed && !file.out.writableFinished) file.out.destroy(reason);
      file.discard();
    }
  }
}

/**
 * Reads the `operations` and `map` fields of a GraphQL multipart request
 * (graphql-upload-minimal's `processRequest`) and returns the operations with
 * an `Upload` wherever the map put a file. Files stream afterwards, while the
 * resolvers run; each one is at most `maxFileSize` bytes.
 *
 * Rejects with an AppError (400 BAD_USER_INPUT or 413 PAYLOAD_TOO_LARGE) for
 * a malformed request. When the response is over, unread file data is
 * discarded, and a body that still has not arrived after DRAIN_GRACE_MS
 * closes the connection.
 */
export async function parseMultipart(
  req: IncomingMessage,
  res: ServerResponse,
  options: MultipartOptions,
): Promise<GraphQLOperation | GraphQLOperation[]> {
  const tracker = new FileTracker(options);
  res.once('close', () => {
    tracker.release(new UploadError('BAD_USER_INPUT', 'The request ended before the upload was read.'));
    drainOrClose(req);
  });
  let operations: GraphQLOperation | GraphQLOperation[];
  try {
    operations = await processRequest(req, res, {
      maxFieldSize: options.maxOperationsBytes,
      // busboy reports its limit when a file reaches it, so allow one byte more than the largest file.
      maxFileSize: options.maxFileSize + 1,
      maxFiles: options.maxFiles,
    });
  } catch (err) {
    throw uploadError(err, options);
  }
  for (const upload of findUploads(operations)) tracker.adopt(upload);
  return operations;
}

function drainOrClose(req: IncomingMessage): void {
  if (req.readableEnded || req.destroyed) return;
  const timer = setTimeout(() => req.destroy(), DRAIN_GRACE_MS);
  timer.unref();
  const clear = () => clearTimeout(timer);
  req.once('end', clear);
  req.once('close', clear);
}
