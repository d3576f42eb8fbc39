/**
 * Security: who is calling (auth.ts: API keys and callers, roles.ts), what
 * they may do (this file: the one access policy table), CSRF (csrf.ts) and
 * the per-client rate limit (rate-limit.ts). The HTTP side and the schema
 * enter through `keyringOf` and `authorize` / `authorizeOperation`.
 */
import { forbiddenError, type Caller } from './auth.js';
import type { Role } from './roles.js';
import type { AppError } from '../core/errors.js';

/**
 * The access policy: which role every GraphQL field and every HTTP route
 * needs, in one table. The schema attaches each rule to its field with
 * Pothos scope-auth (`src/graphql/schema/builder.ts`), the `/objects` route applies
 * its rule itself; both check with `authorize`, before any store call.
 *
 * Roles nest (read < write < admin) and are granted per bucket or for `*`.
 * Authentication (a known token, or an anonymous caller where that is
 * allowed) happens before any rule runs.
 */

/** One thing an operation needs: a role on a bucket, or a role on at least one bucket. */
export type Need = { bucket: string; role: Role } | { anyBucket: true; role: Role };

/** A rule: what an operation needs, given its arguments (or, for a type rule, the object). */
export type Rule<Input> = (input: Input) => Need[];

const read = (bucket: string): Need => ({ bucket, role: 'read' });
const write = (bucket: string): Need => ({ bucket, role: 'write' });
const admin = (bucket: string): Need => ({ bucket, role: 'admin' });

interface BucketArg {
  bucket: string;
}

/**
 * A rule for the table. Writing rules through this function (and not as
 * `(fn) as Rule<Input>`) keeps their bodies ordinary code: type-checked
 * against `Input`, and open to mutation testing, which leaves the inside of
 * an `as` expression alone.
 */
const rule = <Input>(fn: Rule<Input>): Rule<Input> => fn;

const anyKey = rule<unknown>(() => []);
const readBucketArg = rule<BucketArg>((a) => [read(a.bucket)]);
const writeBucketArg = rule<BucketArg>((a) => [write(a.bucket)]);

/**
 * Every operation, by GraphQL coordinate (`Type.field`; a type name alone
 * covers every field of that type) or HTTP route. A field of the schema's
 * root or group types without an entry here fails the schema test. (No
 * `as const` here either, for the same reason as `rule`; `rule` keeps each
 * entry's input type.)
 */
export const POLICY = {
  /** Any key; the answer lists only the buckets the key holds a grant on. */
  'Query.buckets': anyKey,
  'Query.bucket': rule<{ name: string }>((a) => [read(a.name)]),
  'Query.object': readBucketArg,
  /** Any key (and anonymous access where it is allowed): the answer is the caller itself. */
  'Query.viewer': anyKey,

  'Mutation.createBucket': rule<{ name: string }>((a) => [admin(a.name)]),
  'Mutation.deleteBucket': rule<{ name: string }>((a) => [admin(a.name)]),
  /** A bucket's CORS rules decide which web pages may use its presigned URLs: the bucket's admins set them. */
  'Mutation.setBucketCors': rule<BucketArg>((a) => [admin(a.bucket)]),
  'Mutation.deleteBucketCors': rule<BucketArg>((a) => [admin(a.bucket)]),
  'Mutation.uploadObject': writeBucketArg,
  'Mutation.deleteObject': writeBucketArg,
  'Mutation.deleteObjects': writeBucketArg,
  'Mutation.deletePrefix': writeBucketArg,
  'Mutation.copyObject': rule<{ sourceBucket: string; bucket: string }>((a) => [read(a.sourceBucket), write(a.bucket)]),
  /** A presigned URL is given only to a key that may do what it presigns. */
  'Mutation.presign': rule<{ bucket: string; method?: string | null | undefined }>((a) => [
    a.method === 'PUT' ? write(a.bucket) : read(a.bucket),
  ]),
  /** A form upload is given only to a key that may write the bucket. */
  'Mutation.presignPost': writeBucketArg,
  /** The group itself touches nothing; each of its fields has its own rule. */
  'Mutation.multipart': anyKey,

  'MultipartMutations.create': writeBucketArg,
  'MultipartMutations.uploadPart': writeBucketArg,
  'MultipartMutations.presignPart': writeBucketArg,
  'MultipartMutations.complete': writeBucketArg,
  'MultipartMutations.abort': writeBucketArg,
  /** Without `bucket`: write on some bucket (and only those buckets are searched). */
  'MultipartMutations.abortStale': rule<{ bucket?: string | null | undefined }>((a) =>
    a.bucket === null || a.bucket === undefined ? [{ anyBucket: true, role: 'write' }] : [write(a.bucket)],
  ),

  /** Every field of a bucket (objects, object, multipartUploads, createdAt, ...). */
  Bucket: rule<{ name: string }>((b) => [read(b.name)]),
  /** On top of `Bucket`: its CORS rules are read by those who may set them. */
  'Bucket.cors': rule<{ name: string }>((b) => [admin(b.name)]),
  /** Every field of an object, the presigned GET `url` included. */
  Object: readBucketArg,
  /** Every field of an upload, `parts` included. */
  MultipartUpload: readBucketArg,

  'GET /objects/{bucket}/{key}': readBucketArg,
  'HEAD /objects/{bucket}/{key}': readBucketArg,
};

export type Operation = keyof typeof POLICY;

/** The input a rule of the table takes. */
export type InputOf<Op extends Operation> = (typeof POLICY)[Op] extends Rule<infer Input> ? Input : never;

/** The first need the caller does not meet, or undefined when it meets them all. */
export function unmet(caller: Caller, needs: readonly Need[]): Need | undefined {
  return needs.find((need) =>
    'anyBucket' in need ? !caller.hasAnyRole(need.role) : !caller.can(need.bucket, need.role),
  );
}

/** The FORBIDDEN error for a need the caller does not meet. */
export const forbidden = (need: Need): AppError => forbiddenError('anyBucket' in need ? null : need.bucket, need.role);

/** Throws FORBIDDEN unless the caller meets every need. */
export function authorize(caller: Caller, needs: readonly Need[]): void {
  const need = unmet(caller, needs);
  if (need) throw forbidden(need);
}

/** Applies one rule of the table: throws FORBIDDEN unless the caller may do `operation` with `input`. */
export function authorizeOperation<Op extends Operation>(caller: Caller, operation: Op, input: InputOf<Op>): void {
  authorize(caller, (POLICY[operation] as Rule<InputOf<Op>>)(input));
}
