import { GraphQLError, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface IntrospectionOptions {
  /**
   * Whether the schema may be introspected. INTROSPECTION.
   * @default true
   */
  enabled?: boolean;
}

/**
 * Refuses the introspection meta-fields `__schema` and `__type` (what
 * graphql's NoSchemaIntrospectionCustomRule does, judged by field name alone:
 * that rule checks types with `instanceof`, which fails when a loader gives
 * it another copy of `graphql` than the schema's).
 */
const noIntrospection: ValidationRule = (context) => ({
  Field(node) {
    const name = node.name.value;
    if (name === '__schema' || name === '__type') {
      context.reportError(
        new GraphQLError(`GraphQL introspection is disabled on this server, but the operation asks for "${name}".`, {
          nodes: node,
        }),
      );
    }
  },
});

/** graphql's "Did you mean ...?" hints, which name fields, arguments and types of the schema. */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/**
 * The introspection switch. With introspection off, `__schema` and `__type`
 * are refused at validation, and the schema is not revealed through the
 * suggestions of validation errors either; with it on, this does nothing.
 */
export function useIntrospection<TContext extends object = object>(
  options: IntrospectionOptions = {},
): Plugin<TContext> {
  if (options.enabled ?? true) return {};
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(noIntrospection);
      return ({ valid, result }) => {
        if (valid) return;
        for (const error of result) error.message = error.message.replace(SUGGESTION, '');
      };
    },
  };
}
