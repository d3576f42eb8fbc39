import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin, { AuthScopeFailureType, type AuthFailure } from '@pothos/plugin-scope-auth';
import SimpleObjectsPlugin from '@pothos/plugin-simple-objects';
import TracingPlugin, { isRootField } from '@pothos/plugin-tracing';
import { createOpenTelemetryWrapper } from '@pothos/tracing-opentelemetry';
import type { FileUpload } from 'graphql-upload-minimal';
import { forbidden, POLICY, unmet, type InputOf, type Need, type Operation } from '../../security/access.js';
import type { Context } from '../context.js';
import { AppError } from '../../core/errors.js';
import { graphqlTracer } from '../plugins/use-operation-span.js';

/**
 * The one Pothos builder: its plugins, scalar shapes and the root types.
 * Type files (`bucket.ts`, `object.ts`, ...) add to it; `index.ts` calls
 * `toSchema()` once they are all loaded. This file imports no type file.
 *
 * Fields are non-null unless they say `nullable: true`; arguments are
 * optional unless they say `required: true`.
 *
 * Access control is Pothos scope-auth with one scope, `access`: the needs
 * (a role on a bucket) that the rule of `src/security/access.ts` gives for the
 * field's arguments, or for the object of a type. Every root and group
 * field says `authScopes: fieldAccess('Type.field')`, and Bucket, Object
 * and MultipartUpload say `authScopes: typeAccess('Type')`, which covers
 * each of their fields; a field of theirs that needs more says
 * `authScopes: typeAccess('Type.field')` too (both rules apply). Fields of Object that only read the
 * object (key, size, ...) apply the type's rule themselves (`objectData`), which is cheaper per field of
 * a listing. The check runs before the resolver, so a denied field sends nothing to the store; it fails
 * with FORBIDDEN.
 */
export interface SchemaTypes {
  Context: Context;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    SafeInt: { Input: number; Output: number };
    /** The promise graphql-upload-minimal resolves with the file once its part arrives. */
    Upload: { Input: Promise<FileUpload>; Output: never };
  };
  AuthScopes: {
    access: readonly Need[];
  };
  Tracing: boolean;
}

/**
 * The fields besides the root fields whose resolvers reach the store
 * (directly, or through the request's loaders): each gets a resolver span
 * when tracing is on (src/observability/tracing.ts). Fields that only read
 * their parent get none, so a listing of a thousand objects is not a
 * thousand spans.
 */
const STORE_FIELDS = new Set([
  'Bucket.createdAt',
  'Bucket.objects',
  'Bucket.object',
  'Bucket.multipartUploads',
  'Object.contentType',
  'Object.metadata',
  'MultipartUpload.parts',
  'MultipartMutations.create',
  'MultipartMutations.uploadPart',
  'MultipartMutations.complete',
  'MultipartMutations.abort',
  'MultipartMutations.abortStale',
]);

/** A resolver span (`graphql.resolve`, with the field's name, path and type), without arguments or source text. */
const traceResolver = createOpenTelemetryWrapper(graphqlTracer(), { includeArgs: false, includeSource: false });

/** The needs of the first `access` scope that failed. */
function failedNeeds(failure: AuthFailure): readonly Need[] | undefined {
  switch (failure.kind) {
    case AuthScopeFailureType.AuthScope:
      return failure.scope === 'access' ? (failure.parameter as readonly Need[]) : undefined;
    case AuthScopeFailureType.AnyAuthScopes:
    case AuthScopeFailureType.AllAuthScopes:
      for (const child of failure.failures) {
        const needs = failedNeeds(child);
        if (needs) return needs;
      }
      return undefined;
    default:
      return undefined;
  }
}

export const builder = new SchemaBuilder<SchemaTypes>({
  plugins: [ScopeAuthPlugin, SimpleObjectsPlugin, TracingPlugin],
  defaultFieldNullability: false,
  tracing: {
    default: (config) => isRootField(config) || STORE_FIELDS.has(`${config.parentType}.${config.name}`),
    wrap: (resolver, options) => traceResolver(resolver, options),
  },
  scopeAuth: {
    authScopes: (ctx) => ({
      access: (needs) => unmet(ctx.caller, needs) === undefined,
    }),
    // The same needs asked twice in a request (a listing's objects, aliases) are checked once.
    cacheKey: (value) => JSON.stringify(value),
    unauthorizedError: (_parent, ctx, _info, result) => {
      const needs = failedNeeds(result.failure);
      const need = needs && unmet(ctx.caller, needs);
      return need ? forbidden(need) : new AppError('FORBIDDEN', 'This API key may not do this.');
    },
  },
});

/** Fields of guarded types with a rule of their own, which applies to the object (like the type's). */
type ObjectFieldOperation = Extract<Operation, 'Bucket.cors'>;
/** Operations whose rule applies to a field's arguments. */
type FieldOperation = Exclude<Extract<Operation, `${string}.${string}`>, ObjectFieldOperation>;
/** Operations whose rule applies to every field of a type (or to one field), given the object. */
type TypeOperation = Extract<Operation, 'Bucket' | 'Object' | 'MultipartUpload'> | ObjectFieldOperation;

/** `authScopes` of a root or group field: the rule of `operation` in `src/security/access.ts`, applied to the field's arguments. */
export const fieldAccess =
  <Op extends FieldOperation>(operation: Op) =>
  (_parent: unknown, args: InputOf<Op>) => ({
    access: (POLICY[operation] as (input: InputOf<Op>) => Need[])(args),
  });

/** `authScopes` of a type (or of a field of it): the rule of `operation` in `src/security/access.ts`, applied to the object. */
export const typeAccess =
  <Op extends TypeOperation>(operation: Op) =>
  (parent: InputOf<Op>) => ({
    access: (POLICY[operation] as (input: InputOf<Op>) => Need[])(parent),
  });

/**
 * A field of a guarded type that only reads its object (a listed object's key, size, ETag, date): it
 * skips scope-auth's per-field wrapper (`skipTypeScopes`) and applies the type's rule itself, before
 * it reads. A 1000-object listing asks for thousands of these fields, and the wrapper (its steps,
 * closures and request-cache lookups, per field of every object) was about a tenth of the server's
 * CPU per listing. The check is the same rule on the same object, synchronous like scope-auth's, and
 * a denied field fails with the same FORBIDDEN error at its own path (`unauthorizedError` above).
 */
export function objectData<Op extends TypeOperation, Parent extends InputOf<Op>, Result>(
  operation: Op,
  read: (parent: Parent) => Result,
) {
  const rule = POLICY[operation] as (input: Parent) => Need[];
  return {
    skipTypeScopes: true,
    resolve: (parent: Parent, _args: object, ctx: Context): Result => {
      const need = unmet(ctx.caller, rule(parent));
      if (need) throw forbidden(need);
      return read(parent);
    },
  } as const;
}

builder.queryType({
  description: 'Reads: buckets, objects and their listings.',
});

builder.mutationType({
  description: 'Writes. Top-level mutation fields run one after another, in the order given.',
});
