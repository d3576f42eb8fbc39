import type { BucketInfo } from '../loaders.js';
import * as buckets from '../resolvers/bucket.js';
import * as objects from '../resolvers/object.js';
import { builder, fieldAccess, typeAccess } from './builder.js';
import { ObjectConnectionRef, ObjectRef } from './object.js';
import './scalars.js';
import { MAX_LIST_KEYS } from '../../core/s3-rules.js';
import { DEFAULT_PAGE_SIZE } from '../../core/validation.js';

export const BucketRef = builder.objectRef<BucketInfo>('Bucket');

BucketRef.implement({
  description: 'A bucket: a named container of objects.',
  authScopes: typeAccess('Bucket'),
  fields: (t) => ({
    id: t.id({
      description: 'Stable id for client caches: the bucket name.',
      resolve: (bucket) => bucket.name,
    }),
    name: t.exposeString('name', { description: 'The bucket name (3 to 63 characters, S3 naming rules).' }),
    createdAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the bucket was created, as the store reports it; null when it does not say.',
      resolve: (bucket, _args, ctx) => buckets.bucketCreatedAt(bucket, ctx),
    }),
    objects: t.field({
      type: ObjectConnectionRef,
      description: [
        'Objects in key order (ListObjectsV2). With a delimiter, keys that share a',
        'prefix up to the delimiter are folded into `prefixes` ("folders").',
        `\`first\` is 1..${MAX_LIST_KEYS}; \`after\` is a cursor from a previous page.`,
      ].join('\n'),
      args: {
        prefix: t.arg.string({ description: 'Only keys that start with this.' }),
        delimiter: t.arg.string({
          description: 'Fold keys that share a prefix up to this string (usually "/") into `prefixes`.',
        }),
        first: t.arg.int({ defaultValue: DEFAULT_PAGE_SIZE, description: `Page size, 1..${MAX_LIST_KEYS}.` }),
        after: t.arg.string({ description: 'An edge cursor or `endCursor` from a previous page of the same listing.' }),
      },
      resolve: (bucket, args, ctx) => buckets.listObjects(bucket, args, ctx),
    }),
    object: t.field({
      type: ObjectRef,
      nullable: true,
      description: 'One object in this bucket, or null when the key does not exist.',
      args: {
        key: t.arg.string({ required: true, description: 'The object key.' }),
      },
      resolve: (bucket, args, ctx) => buckets.bucketObject(bucket, args, ctx),
    }),
  }),
});

builder.objectField(ObjectRef, 'bucket', (t) =>
  t.field({
    type: BucketRef,
    description: 'The bucket that holds this object.',
    resolve: (object) => objects.objectBucket(object),
  }),
);

builder.queryFields((t) => ({
  buckets: t.field({
    authScopes: fieldAccess('Query.buckets'),
    type: [BucketRef],
    description: 'Every bucket the caller may see, by name.',
    resolve: (_root, args, ctx) => buckets.listBuckets(args, ctx),
  }),
  bucket: t.field({
    authScopes: fieldAccess('Query.bucket'),
    type: BucketRef,
    nullable: true,
    description: 'One bucket, or null when no bucket has that name.',
    args: {
      name: t.arg.string({ required: true, description: 'The bucket name.' }),
    },
    resolve: (_root, args, ctx, info) => buckets.getBucket(args, ctx, info),
  }),
}));

builder.mutationFields((t) => ({
  createBucket: t.field({
    authScopes: fieldAccess('Mutation.createBucket'),
    type: BucketRef,
    description: 'Creates a bucket (S3 naming rules). BUCKET_ALREADY_EXISTS when the name is taken, by anyone.',
    args: {
      name: t.arg.string({ required: true, description: 'The new bucket name.' }),
    },
    resolve: (_root, args, ctx) => buckets.createBucket(args, ctx),
  }),
  deleteBucket: t.boolean({
    authScopes: fieldAccess('Mutation.deleteBucket'),
    description: 'Deletes a bucket. With force, first deletes every object in it and aborts its multipart uploads.',
    args: {
      name: t.arg.string({ required: true, description: 'The bucket name.' }),
      force: t.arg.boolean({
        defaultValue: false,
        description: 'Empty the bucket first; without it a non-empty bucket gives BUCKET_NOT_EMPTY.',
      }),
    },
    resolve: (_root, args, ctx) => buckets.deleteBucket(args, ctx),
  }),
}));
