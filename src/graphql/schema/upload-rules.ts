import type { UploadRule } from '../../core/upload-rules.js';
import * as uploadRules from '../resolvers/upload-rules.js';
import { BucketRef } from './bucket.js';
import { builder } from './builder.js';
import './scalars.js';

const UploadRulesRef = builder.objectRef<UploadRule>('UploadRules').implement({
  description:
    'What a bucket takes from UPLOAD_RULES: its own rule, else the rule for *, whole (the two are not merged). Every way in holds it: uploadObject, multipart uploads, copyObject into the bucket and presigned uploads.',
  fields: (t) => ({
    maxBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'Largest object that may be stored by any way in, in bytes; null for no limit of its own.',
      resolve: (rule) => rule.maxBytes,
    }),
    contentTypes: t.stringList({
      description: 'Allowed content types (exact, or type/*); empty for any.',
      resolve: (rule) => [...rule.contentTypes],
    }),
  }),
});

builder.objectField(BucketRef, 'uploadRules', (t) =>
  t.field({
    type: UploadRulesRef,
    nullable: true,
    description: 'The upload rules that hold for this bucket (from UPLOAD_RULES), or null when none does.',
    resolve: (bucket, _args, ctx) => uploadRules.bucketUploadRules(bucket, ctx),
  }),
);
