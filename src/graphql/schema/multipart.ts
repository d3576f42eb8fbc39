import * as multipart from '../resolvers/multipart.js';
import type {
  AbortStaleFailure,
  AbortStaleResult,
  MultipartGroup,
  MultipartUploadValue,
  UploadedPartValue,
} from '../resolvers/multipart.js';
import { BucketRef } from './bucket.js';
import { builder, fieldAccess, typeAccess } from './builder.js';
import { MetadataInputRef, ObjectRef, PresignedUrlRef, URL_LIFETIME } from './object.js';
import './scalars.js';
import { MAX_LIST_KEYS, MAX_PART_NUMBER } from '../../core/s3-rules.js';
import { DEFAULT_EXPIRES_IN } from '../../core/validation.js';

const PART_NUMBER = `The part number, 1..${MAX_PART_NUMBER}.`;

const CONCURRENT =
  'Fields inside `multipart` run concurrently within one operation (only top-level mutation fields run in order): send steps that depend on each other (create, then the parts, then complete) as separate operations.';

const MultipartUploadRef = builder.objectRef<MultipartUploadValue>('MultipartUpload');
const UploadedPartRef = builder.objectRef<UploadedPartValue>('UploadedPart');
const MultipartMutationsRef = builder.objectRef<MultipartGroup>('MultipartMutations');
const AbortStaleFailureRef = builder.objectRef<AbortStaleFailure>('AbortStaleFailure');
const AbortStaleResultRef = builder.objectRef<AbortStaleResult>('AbortStaleResult');

MultipartUploadRef.implement({
  description:
    'A multipart upload that was started and neither completed nor aborted (all its state lives in the store).',
  authScopes: typeAccess('MultipartUpload'),
  fields: (t) => ({
    id: t.id({
      description: 'Stable id for client caches, unique across buckets, keys and uploads.',
      resolve: (upload) => multipart.uploadIdOf(upload),
    }),
    bucket: t.field({
      type: BucketRef,
      description: 'The bucket the object will be in.',
      resolve: (upload) => multipart.uploadBucket(upload),
    }),
    key: t.exposeString('key', { description: 'The key the object will have.' }),
    uploadId: t.exposeString('uploadId', {
      description: "The store's id of the upload: pass it to the other `multipart` fields.",
    }),
    initiatedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When the upload was started, by the store’s clock; null where the store did not say (as in the answer to `create`).',
      resolve: (upload) => upload.initiatedAt ?? null,
    }),
    parts: t.field({
      type: [UploadedPartRef],
      description: `Parts uploaded so far (ListParts), in part-number order, every page of the listing (so more than ${MAX_LIST_KEYS} parts too).`,
      resolve: (upload, _args, ctx) => multipart.uploadParts(upload, ctx),
    }),
  }),
});

UploadedPartRef.implement({
  description: 'One part of a multipart upload, as the store has it.',
  fields: (t) => ({
    partNumber: t.exposeInt('partNumber', { description: PART_NUMBER }),
    etag: t.exposeString('etag', { description: "The part's ETag, without quotes: pass it to `complete`." }),
    size: t.expose('size', { type: 'SafeInt', description: 'Size in bytes.' }),
    lastModified: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the part was stored; null where the store did not say (as in the answer to `uploadPart`).',
      resolve: (part) => part.lastModified ?? null,
    }),
  }),
});

const CompletedPartInputRef = builder.inputType('CompletedPartInput', {
  description: 'A part to put into the object, as `uploadPart` or the part’s PUT returned it.',
  fields: (t) => ({
    partNumber: t.int({ required: true, description: PART_NUMBER }),
    etag: t.string({ required: true, description: "The part's ETag, with or without its quotes." }),
  }),
});

AbortStaleFailureRef.implement({
  description: 'A stale upload the store refused to abort.',
  fields: (t) => ({
    upload: t.field({ type: MultipartUploadRef, description: 'The upload.', resolve: (f) => f.upload }),
    code: t.exposeString('code', { description: 'The error code, as in GraphQL errors (e.g. FORBIDDEN).' }),
    message: t.exposeString('message', { description: 'Why.' }),
  }),
});

AbortStaleResultRef.implement({
  description: 'What `abortStale` did.',
  fields: (t) => ({
    cutoff: t.expose('cutoff', { type: 'DateTime', description: 'Uploads started before this were stale.' }),
    dryRun: t.exposeBoolean('dryRun', { description: 'True when nothing was aborted, only found.' }),
    aborted: t.field({
      type: [MultipartUploadRef],
      description:
        'The stale uploads aborted (with dryRun: found), by bucket and key. Uploads completed or aborted meanwhile are left out.',
      resolve: (r) => r.aborted,
    }),
    failed: t.field({
      type: [AbortStaleFailureRef],
      description: 'Stale uploads that could not be aborted.',
      resolve: (r) => r.failed,
    }),
  }),
});

MultipartMutationsRef.implement({
  description: `Every step of a multipart upload. ${CONCURRENT}`,
  fields: (t) => {
    const bucket = () => t.arg.string({ required: true, description: 'The bucket name.' });
    const key = () => t.arg.string({ required: true, description: 'The object key.' });
    const uploadId = () => t.arg.string({ required: true, description: 'The upload id `create` returned.' });
    return {
      create: t.field({
        type: MultipartUploadRef,
        authScopes: fieldAccess('MultipartMutations.create'),
        description: `Starts a multipart upload; the object gets the content type and metadata given here. Needs write. ${CONCURRENT}`,
        args: {
          bucket: bucket(),
          key: key(),
          contentType: t.arg.string({ description: 'The Content-Type the object will have.' }),
          metadata: t.arg({
            type: [MetadataInputRef],
            description: 'User metadata (x-amz-meta-*), at most 2 KiB in all.',
          }),
        },
        resolve: (_group, args, ctx) => multipart.create(args, ctx),
      }),
      uploadPart: t.field({
        type: UploadedPartRef,
        authScopes: fieldAccess('MultipartMutations.uploadPart'),
        description: [
          `Uploads one part (1..${MAX_PART_NUMBER}) through the server. Every part but the last must be at least 5 MiB`,
          '(checked by `complete`); a part is at most MAX_PART_BYTES (default 5 GiB, S3’s maximum), and more is',
          'PAYLOAD_TOO_LARGE. Without `size` the part is spooled (up to 8 MiB in memory, beyond that in a temporary',
          'file deleted when the call ends) so that its length is known before it is sent to the store. Uploading a',
          `part number again replaces that part. ${CONCURRENT}`,
        ].join(' '),
        args: {
          bucket: bucket(),
          key: key(),
          uploadId: uploadId(),
          partNumber: t.arg.int({
            required: true,
            description: `The part number, 1..${MAX_PART_NUMBER}: parts are joined in this order.`,
          }),
          file: t.arg({
            type: 'Upload',
            required: true,
            description: 'The part’s bytes (GraphQL multipart request spec).',
          }),
          size: t.arg({
            type: 'SafeInt',
            description:
              'The part’s length in bytes, when the client knows it (a File’s `size`): the part then streams straight to the store without spooling; a file of another length fails with BAD_USER_INPUT and stores nothing.',
          }),
        },
        resolve: (_group, args, ctx) => multipart.uploadPart(args, ctx),
      }),
      presignPart: t.field({
        type: PresignedUrlRef,
        authScopes: fieldAccess('MultipartMutations.presignPart'),
        description: [
          'A presigned PUT URL for one part, for clients that send parts straight to the store. PUT the part’s',
          'bytes to it and keep the `ETag` response header for `complete` (a browser can read it only when the',
          'store’s CORS rule exposes ETag). Ask for each URL just before its part is sent, so it does not expire',
          'while queued. The store is not asked anything: an unknown upload id fails on the PUT. Under an upload',
          "rule with maxBytes, `complete` holds the parts' total to it (and aborts the upload when over).",
          CONCURRENT,
        ].join(' '),
        args: {
          bucket: bucket(),
          key: key(),
          uploadId: uploadId(),
          partNumber: t.arg.int({ required: true, description: PART_NUMBER }),
          expiresIn: t.arg.int({ defaultValue: DEFAULT_EXPIRES_IN, description: URL_LIFETIME }),
        },
        resolve: (_group, args, ctx) => multipart.presignPart(args, ctx),
      }),
      complete: t.field({
        type: ObjectRef,
        authScopes: fieldAccess('MultipartMutations.complete'),
        description: [
          'Completes the upload. Without parts, the server lists the uploaded parts itself (every page) and uses',
          'all of them. A wrong ETag, a missing part or a part under 5 MiB other than the last is INVALID_PART;',
          'then no object is written and the upload stays open to be fixed or aborted. An unknown, completed or',
          `aborted upload id is NO_SUCH_UPLOAD. ${CONCURRENT}`,
        ].join(' '),
        args: {
          bucket: bucket(),
          key: key(),
          uploadId: uploadId(),
          parts: t.arg({
            type: [CompletedPartInputRef],
            description:
              'The parts to join, each part number once (in any order; they are joined in part-number order).',
          }),
        },
        resolve: (_group, args, ctx) => multipart.complete(args, ctx),
      }),
      abort: t.boolean({
        authScopes: fieldAccess('MultipartMutations.abort'),
        description: `Aborts the upload: it and every part of it are gone afterwards. NO_SUCH_UPLOAD when it is unknown, completed or already aborted. ${CONCURRENT}`,
        args: { bucket: bucket(), key: key(), uploadId: uploadId() },
        resolve: (_group, args, ctx) => multipart.abort(args, ctx),
      }),
      abortStale: t.field({
        type: AbortStaleResultRef,
        authScopes: fieldAccess('MultipartMutations.abortStale'),
        description: [
          'Aborts abandoned uploads: every open upload started more than olderThanSeconds ago (by the store’s',
          'clock), in one bucket or, without `bucket`, in every bucket the caller may write to. A lifecycle rule',
          'with AbortIncompleteMultipartUpload does this inside the store and is the better choice where the store',
          `has it. ${CONCURRENT}`,
        ].join(' '),
        args: {
          bucket: t.arg.string({ description: 'One bucket; leave it out for every bucket the caller may write to.' }),
          olderThanSeconds: t.arg.int({
            required: true,
            description: 'Minimum age in seconds, 0 or more (0: every open upload, including ones in progress).',
          }),
          prefix: t.arg.string({ description: 'Only uploads whose key starts with this.' }),
          dryRun: t.arg.boolean({ defaultValue: false, description: 'Only list what would be aborted.' }),
        },
        resolve: (_group, args, ctx) => multipart.abortStale(args, ctx),
      }),
    };
  },
});

builder.objectField(BucketRef, 'multipartUploads', (t) =>
  t.field({
    type: [MultipartUploadRef],
    description:
      'Multipart uploads started in this bucket and neither completed nor aborted (ListMultipartUploads, every page), in key order.',
    args: {
      prefix: t.arg.string({ description: 'Only uploads whose key starts with this.' }),
    },
    resolve: (bucket, args, ctx) => multipart.bucketUploads(bucket, args, ctx),
  }),
);

builder.mutationFields((t) => ({
  multipart: t.field({
    type: MultipartMutationsRef,
    authScopes: fieldAccess('Mutation.multipart'),
    description: `The multipart-upload group, for large files: through the server (\`uploadPart\`) or straight to the store (\`presignPart\`). ${CONCURRENT}`,
    resolve: () => multipart.multipartGroup(),
  }),
}));
