import { DeleteBucketCorsCommand, GetBucketCorsCommand, PutBucketCorsCommand, type CORSRule } from '@aws-sdk/client-s3';
import { call, s3ErrorName } from './errors.js';
import type { StoreContext } from './shared.js';
import type { CorsRule } from './types.js';

/** Bucket CORS calls: the rules a bucket's browsers are held to at the store. */

const fromSdk = (rule: CORSRule): CorsRule => ({
  allowedOrigins: rule.AllowedOrigins ?? [],
  allowedMethods: rule.AllowedMethods ?? [],
  allowedHeaders: rule.AllowedHeaders ?? [],
  exposeHeaders: rule.ExposeHeaders ?? [],
  ...(rule.MaxAgeSeconds === undefined ? {} : { maxAgeSeconds: rule.MaxAgeSeconds }),
});

const toSdk = (rule: CorsRule): CORSRule => ({
  AllowedOrigins: rule.allowedOrigins,
  AllowedMethods: rule.allowedMethods,
  ...(rule.allowedHeaders.length > 0 ? { AllowedHeaders: rule.allowedHeaders } : {}),
  ...(rule.exposeHeaders.length > 0 ? { ExposeHeaders: rule.exposeHeaders } : {}),
  ...(rule.maxAgeSeconds === undefined ? {} : { MaxAgeSeconds: rule.maxAgeSeconds }),
});

/** The bucket's rules; none (NoSuchCORSConfiguration) is an empty list. */
export function getBucketCors(s3: StoreContext, bucket: string): Promise<CorsRule[]> {
  return call({ bucket }, async () => {
    try {
      const out = await s3.client.send(new GetBucketCorsCommand({ Bucket: bucket }));
      return (out.CORSRules ?? []).map(fromSdk);
    } catch (e) {
      if (s3ErrorName(e) === 'NoSuchCORSConfiguration') return [];
      throw e;
    }
  });
}

export function putBucketCors(s3: StoreContext, bucket: string, rules: readonly CorsRule[]): Promise<void> {
  return call({ bucket }, async () => {
    await s3.client.send(
      new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: rules.map(toSdk) } }),
    );
  });
}

/** Removes the bucket's rules; a bucket without rules succeeds, as in S3. */
export function deleteBucketCors(s3: StoreContext, bucket: string): Promise<void> {
  return call({ bucket }, async () => {
    await s3.client.send(new DeleteBucketCorsCommand({ Bucket: bucket }));
  });
}
