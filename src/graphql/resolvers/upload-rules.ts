import type { Context } from '../context.js';
import type { BucketInfo } from '../loaders.js';
import type { UploadRule } from '../../core/upload-rules.js';

/** Bucket.uploadRules: the bucket's own rule, else the `*` rule, else null; read from the settings, no store call. */
export function bucketUploadRules(bucket: BucketInfo, ctx: Context): UploadRule | null {
  return ctx.config.uploadRules.ruleFor(bucket.name) ?? null;
}
