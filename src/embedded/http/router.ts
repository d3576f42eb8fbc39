/**
 * The router: one S3 operation per request, chosen by method, by whether the
 * target names a bucket and a key, and by the sub-resource in the query
 * (?uploads, ?cors, ?location, ...), as S3 dispatches.
 */
import { errors, S3Error } from '../errors.js';
import * as buckets from './buckets.js';
import type { Ctx, Handler } from './context.js';
import * as cors from './cors.js';
import * as multipart from './multipart.js';
import * as objects from './objects.js';
import { postObject } from './post-object.js';

/** Sub-resources S3 has and this store does not implement: NotImplemented rather than a wrong answer. */
const UNSUPPORTED = new Set([
  'accelerate',
  'acl',
  'analytics',
  'attributes',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'logging',
  'metadataTable',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'restore',
  'retention',
  'select',
  'tagging',
  'torrent',
  'versioning',
  'versions',
  'website',
]);

async function notImplemented(): Promise<void> {
  throw errors.notImplemented();
}

async function methodNotAllowed(ctx: Ctx): Promise<void> {
  throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', {
    Method: ctx.method,
    ResourceType: ctx.bucket === undefined ? 'SERVICE' : ctx.key === undefined ? 'BUCKET' : 'OBJECT',
  });
}

/** A browser form upload: authorised by its form's POST policy, not by a request signature. */
export const POST_OBJECT = 'PostObject';

/** The operation's name (for the log) and its handler. */
export function route(ctx: Ctx): [string, Handler] {
  const { method, query } = ctx;
  for (const name of query.keys()) {
    if (UNSUPPORTED.has(name)) return ['NotImplemented', notImplemented];
  }
  if (ctx.bucket === undefined) {
    if (method === 'GET') return ['ListBuckets', buckets.listBuckets];
    return ['MethodNotAllowed', methodNotAllowed];
  }
  const copy = ctx.req.headers['x-amz-copy-source'] !== undefined;
  if (ctx.key === undefined) {
    switch (method) {
      case 'GET':
        if (query.has('location')) return ['GetBucketLocation', buckets.getBucketLocation];
        if (query.has('cors')) return ['GetBucketCors', cors.getBucketCors];
        if (query.has('uploads')) return ['ListMultipartUploads', multipart.listMultipartUploads];
        if (query.get('list-type') === '2') return ['ListObjectsV2', buckets.listObjectsV2];
        if (query.has('list-type')) return ['InvalidArgument', buckets.invalidListType];
        return ['ListObjects', buckets.listObjectsV1];
      case 'HEAD':
        return ['HeadBucket', buckets.headBucket];
      case 'PUT':
        if (query.has('cors')) return ['PutBucketCors', cors.putBucketCors];
        return ['CreateBucket', buckets.createBucket];
      case 'DELETE':
        if (query.has('cors')) return ['DeleteBucketCors', cors.deleteBucketCors];
        return ['DeleteBucket', buckets.deleteBucket];
      case 'POST':
        if (query.has('delete')) return ['DeleteObjects', buckets.deleteObjects];
        return [POST_OBJECT, postObject];
      default:
        return ['MethodNotAllowed', methodNotAllowed];
    }
  }
  switch (method) {
    case 'GET':
      if (query.has('uploadId')) return ['ListParts', multipart.listParts];
      return ['GetObject', objects.getObject];
    case 'HEAD':
      return ['HeadObject', objects.getObject];
    case 'PUT':
      if (query.has('uploadId') || query.has('partNumber')) {
        return copy ? ['UploadPartCopy', multipart.uploadPartCopy] : ['UploadPart', multipart.uploadPart];
      }
      return copy ? ['CopyObject', objects.copyObject] : ['PutObject', objects.putObject];
    case 'DELETE':
      if (query.has('uploadId')) return ['AbortMultipartUpload', multipart.abortMultipartUpload];
      return ['DeleteObject', objects.deleteObject];
    case 'POST':
      if (query.has('uploads')) return ['CreateMultipartUpload', multipart.createMultipartUpload];
      if (query.has('uploadId')) return ['CompleteMultipartUpload', multipart.completeMultipartUpload];
      return ['MethodNotAllowed', methodNotAllowed];
    default:
      return ['MethodNotAllowed', methodNotAllowed];
  }
}
