import { GraphQLError, type GraphQLNamedType, type GraphQLType, type OperationDefinitionNode } from 'graphql';
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
