import * as posts from '../resolvers/presign-post.js';
import type { PresignedPost } from '../resolvers/presign-post.js';
import { builder, fieldAccess } from './builder.js';
import { MetadataEntryRef, MetadataInputRef, URL_LIFETIME } from './object.js';
import './scalars.js';
import { MAX_KEY_BYTES } from '../../core/s3-rules.js';
import { DEFAULT_EXPIRES_IN } from '../../core/validation.js';

const PresignedPostRef = builder.objectRef<PresignedPost>('PresignedPost').implement({
  description:
    'A form upload straight to the store (S3 POST Object): POST multipart/form-data to `url` with `fields`, in order, then the file as the field `file`.',
  fields: (t) => ({
    url: t.exposeString('url', { description: 'Where the form goes (POST).' }),
    fields: t.field({
      type: [MetadataEntryRef],
      description: 'Form fields to send, in this order, before the file.',
      resolve: (post) => post.fields,
    }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'When the policy expires.' }),
    maxBytes: t.expose('maxBytes', { type: 'SafeInt', description: 'The largest file the store accepts, in bytes.' }),
  }),
});

builder.mutationFields((t) => ({
  presignPost: t.field({
    authScopes: fieldAccess('Mutation.presignPost'),
    type: PresignedPostRef,
    description: `A browser form upload straight to the store with an S3 POST policy that the store enforces: an exact key or a key prefix, at most maxBytes (never above the bucket's rule), a content type or type prefix. Send \`fields\` first, then the file as the form field \`file\`. The file must hold at least ${posts.POST_MIN_BYTES} byte; the store answers ${posts.POST_SUCCESS_STATUS} with S3's PostResponse XML. Needs write on the bucket; nothing is sent to the store.`,
    args: {
      bucket: t.arg.string({ required: true, description: 'The bucket to upload to.' }),
      key: t.arg.string({ description: `The exact key (1 to ${MAX_KEY_BYTES} bytes of UTF-8); or give keyPrefix.` }),
      keyPrefix: t.arg.string({
        description:
          'A non-empty key prefix: the form stores the file at <keyPrefix><file name>; or give key. The `key` field may be changed to any key under the prefix.',
      }),
      maxBytes: t.arg({
        type: 'SafeInt',
        required: true,
        description: 'The largest file the store accepts, in bytes: 1..MAX_UPLOAD_BYTES (at most 5 GiB).',
      }),
      contentType: t.arg.string({ description: 'The exact Content-Type the form must carry (it is in `fields`).' }),
      contentTypePrefix: t.arg.string({
        description:
          'The start the Content-Type must have, e.g. "image/"; the client adds a `Content-Type` field before the file.',
      }),
      metadata: t.arg({
        type: [MetadataInputRef],
        description: 'User metadata (x-amz-meta-*) the form must carry unchanged (it is in `fields`).',
      }),
      expiresIn: t.arg.int({ defaultValue: DEFAULT_EXPIRES_IN, description: URL_LIFETIME }),
    },
    resolve: (_root, args, ctx) => posts.presignPost(args, ctx),
  }),
}));
