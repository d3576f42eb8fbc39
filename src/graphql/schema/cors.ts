import type { CorsRule } from '../../s3/store.js';
import * as cors from '../resolvers/cors.js';
import { BucketRef } from './bucket.js';
import { builder, fieldAccess, typeAccess } from './builder.js';

/** Bucket CORS: which web pages (origins) a browser lets use the bucket's presigned URLs, as the store enforces it. */

const CorsRuleRef = builder.objectRef<CorsRule>('CorsRule').implement({
  description: 'One bucket CORS rule: requests from these origins with these methods and headers are granted.',
  fields: (t) => ({
    allowedOrigins: t.exposeStringList('allowedOrigins', {
      description: 'Origins granted (scheme://host[:port]); `*` stands for any, or for part of one.',
    }),
    allowedMethods: t.exposeStringList('allowedMethods', {
      description: 'Methods granted: GET, PUT, POST, HEAD, DELETE.',
    }),
    allowedHeaders: t.exposeStringList('allowedHeaders', {
      description: 'Request headers a page may send (`*` for any); empty: only what browsers send unasked.',
    }),
    exposeHeaders: t.exposeStringList('exposeHeaders', {
      description: 'Response headers a page may read beyond the basic ones (e.g. ETag, for multipart uploads).',
    }),
    maxAgeSeconds: t.int({
      nullable: true,
      description: 'How long a browser may cache the answer to its preflight, in seconds.',
      resolve: (rule) => rule.maxAgeSeconds ?? null,
    }),
  }),
});

const CorsRuleInputRef = builder.inputType('CorsRuleInput', {
  description: [
    'One bucket CORS rule to set. Origins are `*` or as browsers send them (scheme://host[:port], no path), with at',
    'most one `*`; methods among GET PUT POST HEAD DELETE; header names (allowed ones may hold one `*`, `*` alone',
    'for any). At most 100 entries per list, 256 characters per entry; maxAgeSeconds 0..86400.',
  ].join('\n'),
  fields: (t) => ({
    allowedOrigins: t.stringList({ required: true, description: 'Origins granted (at least one).' }),
    allowedMethods: t.stringList({ required: true, description: 'Methods granted (at least one).' }),
    allowedHeaders: t.stringList({ description: 'Request headers a page may send; `*` for any.' }),
    exposeHeaders: t.stringList({ description: 'Response headers a page may read, e.g. ETag.' }),
    maxAgeSeconds: t.int({ description: 'How long a browser may cache a preflight answer, in seconds.' }),
  }),
});

builder.objectField(BucketRef, 'cors', (t) =>
  t.field({
    authScopes: typeAccess('Bucket.cors'),
    type: [CorsRuleRef],
    description: "The bucket's CORS rules at the store (admin).",
    resolve: (bucket, _args, ctx) => cors.bucketCors(bucket, ctx),
  }),
);

builder.mutationFields((t) => ({
  setBucketCors: t.field({
    authScopes: fieldAccess('Mutation.setBucketCors'),
    type: BucketRef,
    description: [
      "Replaces the bucket's CORS rules at the store (admin). Browsers use them for presigned URLs of the bucket:",
      'a page uploading straight to the store needs its origin, PUT (POST for form uploads) and ETag exposed.',
    ].join('\n'),
    args: {
      bucket: t.arg.string({ required: true, description: 'The bucket name.' }),
      rules: t.arg({ type: [CorsRuleInputRef], required: true, description: 'The rules, 1..100.' }),
    },
    resolve: (_root, args, ctx) => cors.setBucketCors(args, ctx),
  }),
  deleteBucketCors: t.field({
    authScopes: fieldAccess('Mutation.deleteBucketCors'),
    type: BucketRef,
    description: "Removes the bucket's CORS rules at the store (admin): no web page may use its presigned URLs then.",
    args: {
      bucket: t.arg.string({ required: true, description: 'The bucket name.' }),
    },
    resolve: (_root, args, ctx) => cors.deleteBucketCors(args, ctx),
  }),
}));
