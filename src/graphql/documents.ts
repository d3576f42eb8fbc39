import { GraphQLError, type GraphQLNamedType, type GraphQLType, type OperationDefinitionNode } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { ErrorCode } from '../core/errors.js';

/**
 * Reading a GraphQL document against the schema before it runs, for the
 * document limits (`plugins/use-document-limits.ts`) and the store-call
 * estimate (`cost.ts`): the types of fields, and how a refusal names the
 * operation and the limit.
 */

/** The named type under any list and non-null wrappers, without `instanceof` (see errors.ts on copies of graphql). */
function namedType(type: GraphQLType): GraphQLNamedType {
  let current: GraphQLType = type;
  while ('ofType' in current && current.ofType) current = current.ofType as GraphQLType;
  return current as GraphQLNamedType;
}

/** The type of field `name` of `parent`, when `parent` has fields and that one exists. */
export function fieldType(parent: GraphQLNamedType | undefined, name: string): GraphQLNamedType | undefined {
  if (!parent || !('getFields' in parent)) return undefined;
  const field = (parent.getFields() as Record<string, { type: GraphQLType } | undefined>)[name];
  return field ? namedType(field.type) : undefined;
}

/** How an error message names an operation. */
export const operationName = (operation: OperationDefinitionNode) =>
  operation.name ? `operation "${operation.name.value}"` : 'the operation';

/** A refused operation: BAD_USER_INPUT, with `extensions.limit` naming the limit (its setting, or its kind). */
export function limitError(message: string, setting: string, operation: OperationDefinitionNode): GraphQLError {
  return new GraphQLError(message, {
    nodes: operation,
    extensions: { code: 'BAD_USER_INPUT' satisfies ErrorCode, limit: setting },
  });
}

/**
 * Heap a cached document holds per character of its text, counted high: a
 * dense document (`{ a a a … }`, MAX_QUERY_TOKENS tokens in 20 KB) parses to
 * about 92 bytes of tree per character, and Yoga's validation result for it
 * (kept as long as the tree) more than doubles that.
 */
const CACHED_BYTES_PER_CHAR = 256;

/** Heap all the documents of one cache may hold: 64 MiB, 250 documents of 1 KiB, but 12 of MAX_QUERY_TOKENS. */
const DOCUMENT_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * A cache of parsed documents by their text, bounded by the heap their trees
 * take rather than by their number alone: anyone who reaches /graphql, a
 * wrong key included, has documents parsed, and a bound of 1024 documents
 * would let 1024 dense ones (20 MB of requests) keep gigabytes.
 */
export function documentCache<T extends NonNullable<unknown>>(): LRUCache<string, T> {
  return new LRUCache<string, T>({
    max: 1024,
    maxSize: DOCUMENT_CACHE_BYTES,
    sizeCalculation: (_value, text) => (text.length + 1) * CACHED_BYTES_PER_CHAR,
  });
}
