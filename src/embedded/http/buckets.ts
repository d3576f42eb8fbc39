/**
 * The service and its buckets: ListBuckets, CreateBucket, HeadBucket,
 * DeleteBucket, GetBucketLocation, ListObjects (v1 and v2) and DeleteObjects.
 */
import { MAX_LIST_BUCKETS, MAX_LIST_KEYS } from '../../core/s3-rules.js';
import { DEFAULT_REGION } from '../auth/signature.js';
import { errors, S3Error } from '../errors.js';
import type { ListItem } from '../storage/key-index.js';
import { isValidBucketName } from '../storage/layout.js';
import { readDocument, requireBucket, send, sendXml, type Ctx } from './context.js';
import { isoDate, quoted, requireIntegrityHeader } from './headers.js';
import { decodeToken, encodeToken, encodingType, parseIntParam } from './query.js';
import { parseCreateBucketConfiguration, parseDelete, urlEncodeKey, type XmlElement } from './xml.js';

/** CreateBucketConfiguration is small; 1000 keys to delete are not. */
const CREATE_DOC_LIMIT = 64 * 1024;
const DELETE_DOC_LIMIT = 4 * 1024 * 1024;

export async function listBuckets(ctx: Ctx): Promise<void> {
  const prefix = ctx.query.get('prefix') ?? '';
  const max = parseIntParam(ctx.query, 'max-buckets', MAX_LIST_BUCKETS, 1, MAX_LIST_BUCKETS);
  const token = ctx.query.get('continuation-token');
  const after = token === null ? undefined : decodeToken(token);
  const all = ctx.store.storage
    .listBuckets()
    .filter((b) => b.name.startsWith(prefix) && (after === undefined || b.name > after));
  const page = all.slice(0, max);
  const truncated = all.length > page.length;
  sendXml(ctx, 'ListAllMyBucketsResult', {
    Owner: ctx.store.owner,
    Buckets: {
      Bucket: page.map((b) => ({
        Name: b.name,
        CreationDate: b.creationDate.toISOString(),
        BucketRegion: b.locationConstraint ?? ctx.store.region,
      })),
    },
    ContinuationToken: truncated ? encodeToken(page[page.length - 1]!.name) : undefined,
    Prefix: ctx.query.has('prefix') ? prefix : undefined,
  });
}

export async function createBucket(ctx: Ctx): Promise<void> {
  const bucket = ctx.bucket!;
  if (!isValidBucketName(bucket)) {
    throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', { BucketName: bucket });
  }
  const config = parseCreateBucketConfiguration(await readDocument(ctx, CREATE_DOC_LIMIT));
  await ctx.store.storage.createBucket(bucket, config.locationConstraint);
  send(ctx, 200, undefined, { Location: `/${bucket}` });
}

export async function headBucket(ctx: Ctx): Promise<void> {
  const info = ctx.store.storage.headBucket(ctx.bucket!);
  send(ctx, 200, undefined, { 'x-amz-bucket-region': info.locationConstraint ?? ctx.store.region });
}

export async function deleteBucket(ctx: Ctx): Promise<void> {
  await ctx.store.storage.deleteBucket(ctx.bucket!);
  send(ctx, 204);
}

export async function getBucketLocation(ctx: Ctx): Promise<void> {
  const info = ctx.store.storage.headBucket(ctx.bucket!);
  const { region } = ctx.store;
  // A bucket in us-east-1 has the empty constraint, as on S3.
  const location = info.locationConstraint ?? (region === DEFAULT_REGION ? '' : region);
  sendXml(ctx, 'LocationConstraint', { '#text': location });
}

export async function invalidListType(ctx: Ctx): Promise<void> {
  throw errors.invalidArgument('Invalid List Type specified in Request', 'list-type', ctx.query.get('list-type') ?? '');
}

function contents(
  ctx: Ctx,
  item: Extract<ListItem, { type: 'object' }>,
  encode: (s: string) => string,
  owner: boolean,
): XmlElement {
  const { entry } = item;
  return {
    Key: encode(entry.key),
    LastModified: isoDate(entry.lastModified),
    ETag: quoted(entry.etag),
    Size: entry.size,
    ...(owner ? { Owner: ctx.store.owner } : {}),
    StorageClass: 'STANDARD',
  };
}

function listParams(ctx: Ctx) {
  const encode = encodingType(ctx.query);
  return {
    prefix: ctx.query.get('prefix') ?? '',
    delimiter: ctx.query.get('delimiter') ?? '',
    maxKeys: parseIntParam(ctx.query, 'max-keys', MAX_LIST_KEYS, 0, MAX_LIST_KEYS),
    encoded: encode,
    encode: encode ? urlEncodeKey : (s: string) => s,
  };
}

export async function listObjectsV2(ctx: Ctx): Promise<void> {
  const { prefix, delimiter, maxKeys, encoded, encode } = listParams(ctx);
  const token = ctx.query.get('continuation-token');
  const startAfter = ctx.query.get('start-after');
  const after = token !== null ? decodeToken(token) : (startAfter ?? undefined);
  const page = await ctx.store.storage.listObjects(requireBucket(ctx), {
    prefix,
    delimiter,
    maxKeys,
    ...(after !== undefined ? { after } : {}),
  });
  const last = page.items[page.items.length - 1];
  const owner = ctx.query.get('fetch-owner') === 'true';
  sendXml(ctx, 'ListBucketResult', {
    Name: ctx.bucket!,
    Prefix: encode(prefix),
    Delimiter: delimiter === '' ? undefined : encode(delimiter),
    MaxKeys: maxKeys,
    EncodingType: encoded ? 'url' : undefined,
    KeyCount: page.items.length,
    IsTruncated: page.truncated,
    ContinuationToken: token ?? undefined,
    NextContinuationToken:
      page.truncated && last ? encodeToken(last.type === 'object' ? last.entry.key : last.prefix) : undefined,
    StartAfter: startAfter === null ? undefined : encode(startAfter),
    Contents: page.items.flatMap((i) => (i.type === 'object' ? [contents(ctx, i, encode, owner)] : [])),
    CommonPrefixes: page.items.flatMap((i) => (i.type === 'prefix' ? [{ Prefix: encode(i.prefix) }] : [])),
  });
}

export async function listObjectsV1(ctx: Ctx): Promise<void> {
  const { prefix, delimiter, maxKeys, encoded, encode } = listParams(ctx);
  const marker = ctx.query.get('marker') ?? '';
  const page = await ctx.store.storage.listObjects(requireBucket(ctx), {
    prefix,
    delimiter,
    maxKeys,
    ...(marker !== '' ? { after: marker } : {}),
  });
  const last = page.items[page.items.length - 1];
  sendXml(ctx, 'ListBucketResult', {
    Name: ctx.bucket!,
    Prefix: encode(prefix),
    Marker: encode(marker),
    NextMarker:
      page.truncated && delimiter !== '' && last
        ? encode(last.type === 'object' ? last.entry.key : last.prefix)
        : undefined,
    MaxKeys: maxKeys,
    Delimiter: delimiter === '' ? undefined : encode(delimiter),
    EncodingType: encoded ? 'url' : undefined,
    IsTruncated: page.truncated,
    Contents: page.items.flatMap((i) => (i.type === 'object' ? [contents(ctx, i, encode, true)] : [])),
    CommonPrefixes: page.items.flatMap((i) => (i.type === 'prefix' ? [{ Prefix: encode(i.prefix) }] : [])),
  });
}

export async function deleteObjects(ctx: Ctx): Promise<void> {
  requireBucket(ctx);
  requireIntegrityHeader(ctx.req);
  const request = parseDelete(await readDocument(ctx, DELETE_DOC_LIMIT));
  const plain = request.objects.filter((o) => o.versionId === undefined || o.versionId === 'null');
  const results = await ctx.store.storage.deleteObjects(
    ctx.bucket!,
    plain.map((o) => o.key),
  );
  const failed = new Map(results.filter((r) => r.error).map((r) => [r.key, r.error!]));
  const deleted: XmlElement[] = [];
  const errorsOut: XmlElement[] = [];
  for (const object of request.objects) {
    const error =
      object.versionId !== undefined && object.versionId !== 'null'
        ? errors.invalidArgument('Invalid version id specified')
        : failed.get(object.key);
    if (error) {
      errorsOut.push({ Key: object.key, VersionId: object.versionId, Code: error.code, Message: error.message });
    } else if (!request.quiet) {
      deleted.push({ Key: object.key, VersionId: object.versionId });
    }
  }
  sendXml(ctx, 'DeleteResult', { Deleted: deleted, Error: errorsOut });
}
