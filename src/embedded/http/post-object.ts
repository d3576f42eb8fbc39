/**
 * POST Object: a browser form upload (`POST /<bucket>`, multipart/form-data)
 * authorised by the form's signed POST policy instead of a request
 * signature. The fields before the file are checked against the policy
 * (auth/post-policy.ts) before a byte of the file is read; the file then
 * streams through the storage layer's normal write (a temp file, fsynced,
 * renamed into place), held to the policy's content-length-range: past its
 * maximum the upload stops at once and the temp file is removed. Nothing is
 * stored on any failure.
 *
 * See https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html
 */
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { FILENAME_VARIABLE } from '../../core/s3-rules.js';
import { verifyPostPolicy, type SizeRange } from '../auth/post-policy.js';
import { errors, S3Error } from '../errors.js';
import { validateKey } from '../storage/layout.js';
import type { ObjectMeta } from '../storage/records.js';
import { requireBucket, send, startBody, type Ctx } from './context.js';
import { readForm, type FormFile } from './form.js';
import { headerText, objectHeaders, quoted } from './headers.js';
import { renderXml } from './xml.js';

/** The fields a form may store with the object, as the headers of a PutObject would. */
const STORED_FIELDS = ['content-type', 'cache-control', 'content-disposition', 'content-encoding', 'expires'];
const META_PREFIX = 'x-amz-meta-';
/** What S3 does with them (a redirect) is not implemented here. */
const REDIRECT_FIELDS = ['success_action_redirect', 'redirect'];

/** Counts the file's bytes: fails at once past the maximum, and at the end below the minimum. */
class SizeLimit extends Transform {
  private size = 0;

  constructor(private readonly range: SizeRange) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.range.max) {
      callback(
        new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
          MaxSizeAllowed: String(this.range.max),
        }),
      );
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.size < this.range.min) {
      callback(
        new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', {
          MinSizeAllowed: String(this.range.min),
          ProposedSize: String(this.size),
        }),
      );
      return;
    }
    callback();
  }
}

/** The object's headers from the form's fields, as header text (control characters refused). */
function storedHeaders(fields: ReadonlyMap<string, string>) {
  const headers: Record<string, string> = {};
  for (const [name, value] of fields) {
    if (STORED_FIELDS.includes(name) || (name.startsWith(META_PREFIX) && name.length > META_PREFIX.length)) {
      headers[name] = headerText(value, name);
    }
  }
  return objectHeaders({ headers });
}

async function storeFile(ctx: Ctx, bucket: string, { fields, stream, filename }: FormFile): Promise<ObjectMeta> {
  const keyField = fields.get('key');
  if (keyField === undefined) {
    throw errors.invalidArgument(
      "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
      'key',
      '',
    );
  }
  const key = keyField.replaceAll(FILENAME_VARIABLE, filename);
  const range = verifyPostPolicy({ fields, bucket, key }, ctx.store.credentials, { region: ctx.store.region });
  const redirect = REDIRECT_FIELDS.find((name) => fields.has(name));
  if (redirect !== undefined) throw errors.notImplemented({ Field: redirect });
  validateKey(key);
  const headers = storedHeaders(fields);
  // A file stream that is cut off (the client went away) fails `limited` too, and with it the write.
  const limited = pipeline(stream, new SizeLimit(range), () => undefined);
  return ctx.store.storage.putObject(bucket, key, limited, headers);
}

/**
 * The URL of the stored object, as S3's Location: the form's URL with the key
 * added, on the origin the client reached (behind a proxy, not the Host it
 * forwarded).
 */
function locationOf(ctx: Ctx, key: string): string {
  const path = (ctx.req.url ?? '/').split('?')[0]!.replace(/\/$/, '');
  const encodedKey = key.split('/').map(encodeURIComponent).join('/');
  return `${ctx.origin ?? `http://${ctx.req.headers.host ?? 'localhost'}`}${path}/${encodedKey}`;
}

export async function postObject(ctx: Ctx): Promise<void> {
  const bucket = requireBucket(ctx);
  startBody(ctx);
  let status = '';
  const meta = await readForm(ctx.req, (file) => {
    status = file.fields.get('success_action_status') ?? '';
    return storeFile(ctx, bucket, file);
  });
  const location = locationOf(ctx, meta.key);
  const headers = { ETag: quoted(meta.etag), Location: location };
  if (status === '201') {
    const body = { Location: location, Bucket: bucket, Key: meta.key, ETag: quoted(meta.etag) };
    send(ctx, 201, renderXml('PostResponse', body, false), headers);
    return;
  }
  // S3 answers 204 unless 200 or 201 is asked for (any other value too).
  send(ctx, status === '200' ? 200 : 204, undefined, headers);
}
