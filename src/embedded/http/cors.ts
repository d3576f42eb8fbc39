/**
 * CORS: preflights (OPTIONS), the CORS headers of actual requests, and the
 * bucket CORS configuration (GetBucketCors, PutBucketCors, DeleteBucketCors).
 *
 * As on S3, a bucket's rules are the only grant: a bucket without rules
 * refuses every preflight (403) and its answers carry no CORS header, so a
 * page on another origin can use presigned URLs only once an operator has
 * allowed its origin (setBucketCors in the API, or PutBucketCors). Nothing is
 * reachable without a signature or a presigned URL either way. CORS is
 * answered before authentication, so a missing bucket answers as a bucket
 * without rules: a preflight must not tell which buckets exist.
 */
import type { ServerResponse } from 'node:http';
import { MAX_CORS_CONFIG_BYTES } from '../../core/s3-rules.js';
import { S3Error } from '../errors.js';
import type { CorsRule } from '../storage/records.js';
import { readDocument, requireBucket, send, type Ctx } from './context.js';
import { headerValue, requireIntegrityHeader } from './headers.js';
import { corsConfigurationXml, parseCorsConfiguration } from './xml.js';

function wildcardMatch(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star === -1) return pattern === value;
  const head = pattern.slice(0, star);
  const tail = pattern.slice(star + 1);
  return value.length >= head.length + tail.length && value.startsWith(head) && value.endsWith(tail);
}

function corsRuleFor(
  rules: CorsRule[],
  origin: string,
  method: string,
  requestHeaders: string[],
): CorsRule | undefined {
  return rules.find(
    (rule) =>
      rule.allowedOrigins.some((o) => wildcardMatch(o, origin)) &&
      rule.allowedMethods.includes(method) &&
      requestHeaders.every((h) => rule.allowedHeaders.some((p) => wildcardMatch(p.toLowerCase(), h))),
  );
}

function setCorsOrigin(res: ServerResponse, rule: CorsRule, origin: string): void {
  const any = rule.allowedOrigins.includes('*');
  res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
  if (!any) res.setHeader('Access-Control-Allow-Credentials', 'true');
  if (rule.exposeHeaders.length > 0) res.setHeader('Access-Control-Expose-Headers', rule.exposeHeaders.join(', '));
  res.setHeader('Vary', 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method');
}

/** The bucket's rules; a missing bucket answers as a bucket without rules. */
function corsRules(ctx: Ctx, bucket: string): CorsRule[] | undefined {
  const { storage } = ctx.store;
  return storage.hasBucket(bucket) ? storage.getBucketCors(bucket) : undefined;
}

/** Sets the CORS headers of an actual (not preflight) request from an allowed origin. */
export function applyCors(ctx: Ctx): void {
  const origin = headerValue(ctx.req, 'origin');
  if (origin === undefined || ctx.bucket === undefined) return;
  const rule = corsRuleFor(corsRules(ctx, ctx.bucket) ?? [], origin, ctx.method, []);
  if (rule) setCorsOrigin(ctx.res, rule, origin);
}

/** Answers an OPTIONS request (no signature needed). */
export function preflight(ctx: Ctx): void {
  const origin = headerValue(ctx.req, 'origin');
  const method = headerValue(ctx.req, 'access-control-request-method');
  if (origin === undefined || method === undefined) {
    throw new S3Error(
      'BadRequest',
      'Insufficient information. Origin request header and Access-Control-Request-Method needed.',
    );
  }
  if (ctx.bucket === undefined) {
    throw new S3Error('AccessForbidden', 'CORSResponse: CORS is not enabled for this endpoint.');
  }
  const rules = corsRules(ctx, ctx.bucket);
  if (!rules) throw new S3Error('AccessForbidden', 'CORSResponse: CORS is not enabled for this bucket.');
  const requested = (headerValue(ctx.req, 'access-control-request-headers') ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  const rule = corsRuleFor(rules, origin, method, requested);
  if (!rule) {
    throw new S3Error(
      'AccessForbidden',
      "CORSResponse: This CORS request is not allowed. This is usually because the evaluation of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
      { Method: method, ResourceType: ctx.key === undefined ? 'BUCKET' : 'OBJECT' },
    );
  }
  setCorsOrigin(ctx.res, rule, origin);
  ctx.res.setHeader('Access-Control-Allow-Methods', rule.allowedMethods.join(', '));
  if (requested.length > 0) ctx.res.setHeader('Access-Control-Allow-Headers', requested.join(', '));
  if (rule.maxAgeSeconds !== undefined) ctx.res.setHeader('Access-Control-Max-Age', String(rule.maxAgeSeconds));
  send(ctx, 200);
}

export async function getBucketCors(ctx: Ctx): Promise<void> {
  const rules = ctx.store.storage.getBucketCors(ctx.bucket!);
  if (!rules) {
    throw new S3Error('NoSuchCORSConfiguration', 'The CORS configuration does not exist', { BucketName: ctx.bucket! });
  }
  send(ctx, 200, corsConfigurationXml(rules));
}

export async function putBucketCors(ctx: Ctx): Promise<void> {
  requireBucket(ctx);
  requireIntegrityHeader(ctx.req);
  const rules = parseCorsConfiguration(await readDocument(ctx, MAX_CORS_CONFIG_BYTES));
  await ctx.store.storage.putBucketCors(ctx.bucket!, rules);
  send(ctx, 200);
}

export async function deleteBucketCors(ctx: Ctx): Promise<void> {
  await ctx.store.storage.putBucketCors(ctx.bucket!, undefined);
  send(ctx, 204);
}
