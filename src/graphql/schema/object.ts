import * as objects from '../resolvers/object.js';
import type { ObjectValue } from '../resolvers/object.js';
import { builder, fieldAccess, objectData, typeAccess } from './builder.js';
import './scalars.js';
import { MAX_DELETE_KEYS, MAX_KEY_BYTES, MAX_PRESIGN_EXPIRES_SECONDS } from '../../core/s3-rules.js';
import { DEFAULT_EXPIRES_IN } from '../../core/validation.js';

/** How long a presigned URL lives, as its `expiresIn` argument says. */
export const URL_LIFETIME = `Lifetime of the URL in seconds, 1..${MAX_PRESIGN_EXPIRES_SECONDS}.`;

/** An object, from a listing (key, size, ETag, date) or a HEAD (with content type and metadata). */
export const ObjectRef = builder.objectRef<ObjectValue>('Object');

export const MetadataEntryRef = builder.simpleObject('MetadataEntry', {
  description: 'One user-metadata entry (x-amz-meta-<key>), or one HTTP header.',
  fields: (t) => ({
    key: t.string({ description: 'The name, lower-case for user metadata.' }),
    value: t.string({ description: 'The value.' }),
  }),
});

export const MetadataInputRef = builder.inputType('MetadataInput', {
  description:
    'One user-metadata entry to store with an object. Keys are HTTP token characters and are stored lower-case; values are printable US-ASCII; keys and values together take at most 2 KiB.',
  fields: (t) => ({
    key: t.string({ required: true, description: 'The name, without the x-amz-meta- prefix.' }),
    value: t.string({ required: true, description: 'The value.' }),
  }),
});

ObjectRef.implement({
  description: 'An object (a file) in a bucket.',
  authScopes: typeAccess('Object'),
  fields: (t) => ({
    id: t.id({
      description: 'Stable id for client caches, unique across buckets.',
      ...objectData('Object', objects.objectIdOf),
    }),
    key: t.string({
      description: `The object key: 1 to ${MAX_KEY_BYTES} bytes of UTF-8, "/" is an ordinary character.`,
      ...objectData('Object', (object: ObjectValue) => object.key),
    }),
    size: t.field({
      type: 'SafeInt',
      description: 'Size in bytes.',
      ...objectData('Object', (object: ObjectValue) => object.size),
    }),
    etag: t.string({
      description:
        'The entity tag, without quotes: the MD5 of the bytes for single-part uploads, "<md5>-<parts>" for multipart ones.',
      ...objectData('Object', (object: ObjectValue) => object.etag),
    }),
    lastModified: t.field({
      type: 'DateTime',
      description: 'When the object was last written.',
      ...objectData('Object', (object: ObjectValue) => object.lastModified),
    }),
    contentType: t.string({
      nullable: true,
      description: 'The stored Content-Type.',
      resolve: (object, _args, ctx) => objects.objectContentType(object, ctx),
    }),
    metadata: t.field({
      type: [MetadataEntryRef],
      description: 'User metadata (x-amz-meta-*), keys lower-case.',
      resolve: (object, _args, ctx) => objects.objectMetadata(object, ctx),
    }),
    storageClass: t.string({
      nullable: true,
      description: 'The storage class (e.g. STANDARD), when the store reports one.',
      ...objectData('Object', (object: ObjectValue) => object.storageClass ?? null),
    }),
    url: t.string({
      description: `A presigned GET URL, valid for expiresIn seconds (1..${MAX_PRESIGN_EXPIRES_SECONDS}).`,
      args: {
        expiresIn: t.arg.int({ defaultValue: DEFAULT_EXPIRES_IN, description: URL_LIFETIME }),
      },
      resolve: (object, args, ctx) => objects.objectUrl(object, args, ctx),
    }),
    downloadPath: t.string({
      description:
        "Path of this object on this server's download route (GET /objects/{bucket}/{key}, with the same Authorization header), relative to the server's address.",
      ...objectData('Object', objects.objectDownloadPath),
    }),
  }),
});

const ObjectEdgeRef = builder.simpleObject('ObjectEdge', {
  description: 'One object in a listing, with its cursor.',
  fields: (t) => ({
    cursor: t.string({ description: 'Pass as `after` to list the objects that follow this one.' }),
    node: t.field({ type: ObjectRef, description: 'The object.' }),
  }),
});

const PageInfoRef = builder.simpleObject('PageInfo', {
  description: 'Where a page sits in a listing.',
  fields: (t) => ({
    hasNextPage: t.boolean({ description: 'More objects follow: pass endCursor as `after` to get them.' }),
    hasPreviousPage: t.boolean({ description: 'True when this page was asked for with `after`.' }),
    startCursor: t.string({ nullable: true, description: 'Cursor of the first edge; null when the page has none.' }),
    endCursor: t.string({
      nullable: true,
      description: 'Cursor to continue after this page; null when the page is empty and the listing is over.',
    }),
  }),
});

export const ObjectConnectionRef = builder.simpleObject('ObjectConnection', {
  description: 'One page of a listing (one ListObjectsV2 request).',
  fields: (t) => ({
    edges: t.field({ type: [ObjectEdgeRef], description: 'The objects of this page, in key order.' }),
    prefixes: t.stringList({ description: 'Common prefixes at this level, when a delimiter was given.' }),
    pageInfo: t.field({ type: PageInfoRef, description: 'Whether more pages follow, and the cursors to get them.' }),
  }),
});

const PresignMethodRef = builder.enumType('PresignMethod', {
  description: 'The HTTP method a presigned URL is for.',
  values: {
    GET: { description: 'Download the object.' },
    PUT: { description: 'Upload the object (one request, up to 5 GiB).' },
  } as const,
});

export const PresignedUrlRef = builder.simpleObject('PresignedUrl', {
  description: 'A URL the client uses straight against the store, without going through this server.',
  fields: (t) => ({
    url: t.string({ description: 'The presigned URL.' }),
    method: t.field({ type: PresignMethodRef, description: 'The HTTP method to use with it.' }),
    expiresAt: t.field({ type: 'DateTime', description: 'When the URL stops working.' }),
    headers: t.field({
      type: [MetadataEntryRef],
      description: 'Headers the client must send with the request (e.g. Content-Type for a PUT).',
    }),
  }),
});

const DeleteObjectErrorRef = builder.simpleObject('DeleteObjectError', {
  description: 'A key the store refused to delete.',
  fields: (t) => ({
    key: t.string({ description: 'The key.' }),
    code: t.string({ description: "The store's error code, e.g. AccessDenied." }),
    message: t.string({ description: "The store's explanation." }),
  }),
});

const DeleteObjectsResultRef = builder.simpleObject('DeleteObjectsResult', {
  description: 'What a bulk delete did.',
  fields: (t) => ({
    deleted: t.stringList({ description: 'Keys deleted (including keys that did not exist, as in S3).' }),
    errors: t.field({ type: [DeleteObjectErrorRef], description: 'Keys that could not be deleted, and why.' }),
  }),
});

builder.queryFields((t) => ({
  object: t.field({
    authScopes: fieldAccess('Query.object'),
    type: ObjectRef,
    nullable: true,
    description: "One object's metadata (a HEAD request), or null when the key does not exist.",
    args: {
      bucket: t.arg.string({ required: true, description: 'The bucket name.' }),
      key: t.arg.string({ required: true, description: 'The object key.' }),
    },
    resolve: (_root, args, ctx) => objects.getObject(args, ctx),
  }),
}));

builder.mutationFields((t) => ({
  uploadObject: t.field({
    authScopes: fieldAccess('Mutation.uploadObject'),
    type: ObjectRef,
    description:
      'Streams one file into an object. Large files go to the store in parts; a failed upload leaves nothing behind.',
    args: {
      bucket: t.arg.string({ required: true, description: 'The bucket to write to.' }),
      key: t.arg.string({ required: true, description: `The object key: 1 to ${MAX_KEY_BYTES} bytes of UTF-8.` }),
      file: t.arg({ type: 'Upload', required: true, description: 'The file (GraphQL multipart request spec).' }),
      contentType: t.arg.string({
        description: "The Content-Type to store; wins over the file part's own type.",
      }),
      metadata: t.arg({
        type: [MetadataInputRef],
        description: 'User metadata to store (x-amz-meta-*), at most 2 KiB in all.',
      }),
    },
    resolve: (_root, args, ctx) => objects.uploadObject(args, ctx),
  }),
  deleteObject: t.boolean({
    authScopes: fieldAccess('Mutation.deleteObject'),
    description: 'Deletes one object. Deleting a key that does not exist succeeds, as in S3.',
    args: {
      bucket: t.arg.string({ required: true, description: 'The bucket name.' }),
      key: t.arg.string({ required: true, description: 'The object key.' }),
    },
    resolve: (_root, args, ctx) => objects.deleteObject(args, ctx),
  }),
  deleteObjects: t.field({
    authScopes: fieldAccess('Mutation.deleteObjects'),
    type: DeleteObjectsResultRef,
    description: `Deletes up to ${MAX_DELETE_KEYS} keys in one request.`,
    args: {
      bucket: t.arg.string({ required: true, description: 'The bucket name.' }),
      keys: t.arg.stringList({ required: true, description: `1 to ${MAX_DELETE_KEYS} keys.` }),
    },
    resolve: (_root, args, ctx) => objects.deleteObjects(args, ctx),
  }),
  deletePrefix: t.field({
    authScopes: fieldAccess('Mutation.deletePrefix'),
    type: DeleteObjectsResultRef,
    description:
      "Deletes every object whose key starts with prefix (a 'folder'), however many; prefix must not be empty.",
    args: {
      bucket: t.arg.string({ required: true, description: 'The bucket name.' }),
      prefix: t.arg.string({ required: true, description: 'A non-empty key prefix, e.g. "photos/2024/".' }),
    },
    resolve: (_root, args, ctx) => objects.deletePrefix(args, ctx),
  }),
  copyObject: t.field({
    authScopes: fieldAccess('Mutation.copyObject'),
    type: ObjectRef,
    description:
      'Copies an object inside the store (no bytes pass through this server), with its content type and metadata. Needs read on the source bucket and write on the target.',
    args: {
      sourceBucket: t.arg.string({ required: true, description: 'The bucket to copy from.' }),
      sourceKey: t.arg.string({ required: true, description: 'The key to copy.' }),
      bucket: t.arg.string({ required: true, description: 'The bucket to copy to.' }),
      key: t.arg.string({ required: true, description: 'The key of the copy.' }),
    },
    resolve: (_root, args, ctx) => objects.copyObject(args, ctx),
  }),
  presign: t.field({
    authScopes: fieldAccess('Mutation.presign'),
    type: PresignedUrlRef,
    description: `A presigned URL: GET to download, PUT to upload straight to the store. expiresIn is 1..${MAX_PRESIGN_EXPIRES_SECONDS} seconds. A PUT cannot limit its size: in a bucket whose upload rule has maxBytes it is refused (use presignPost); with content types, contentType is required and must be allowed.`,
    args: {
      bucket: t.arg.string({ required: true, description: 'The bucket name.' }),
      key: t.arg.string({ required: true, description: 'The object key.' }),
      method: t.arg({
        type: PresignMethodRef,
        defaultValue: 'GET',
        description: 'GET (needs read) or PUT (needs write).',
      }),
      expiresIn: t.arg.int({ defaultValue: DEFAULT_EXPIRES_IN, description: URL_LIFETIME }),
      contentType: t.arg.string({
        description: 'For PUT only: the Content-Type the upload must carry (it becomes part of the signature).',
      }),
    },
    resolve: (_root, args, ctx) => objects.presign(args, ctx),
  }),
}));
