import {
  GraphQLError,
  Kind,
  parse,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type GraphQLType,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ErrorCode } from '../../core/errors.js';

/**
 * Limits on the GraphQL document of a request, checked while it is parsed
 * and validated, so a refused operation executes nothing.
 */
export interface DocumentLimits {
  /** Deepest field nesting of one operation (a top-level field is depth 1). MAX_QUERY_DEPTH. */
  maxDepth: number;
  /** Aliased fields in one operation, fragments counted where they are spread. MAX_QUERY_ALIASES. */
  maxAliases: number;
  /** Directives in one operation, fragments counted where they are spread. MAX_QUERY_DIRECTIVES. */
  maxDirectives: number;
  /** Lexical tokens in the whole document (graphql's own parser limit). MAX_QUERY_TOKENS. */
  maxTokens: number;
}

/**
 * Fields that list a bucket (a page of up to 1000 objects, or every open
 * upload), and the fields that lead back from one of the listed things to
 * its bucket. A listing under a back reference runs once per listed thing
 * (`bucket { objects { edges { node { bucket { objects ... } } } } }` is a
 * thousand listings of a thousand objects), so it is refused.
 */
const LISTINGS = new Set(['Bucket.objects', 'Bucket.multipartUploads']);
const BACK_REFERENCES = new Set(['Object.bucket', 'MultipartUpload.bucket']);

/** Depth, aliases and directives of one selection set, fragments included. */
interface Measure {
  depth: number;
  aliases: number;
  directives: number;
  /** The selection set itself selects one of the LISTINGS. */
  lists: boolean;
  /** Somewhere inside, a back reference selects one of the LISTINGS. */
  listsThroughBackReference: boolean;
}

const ZERO: Measure = { depth: 0, aliases: 0, directives: 0, lists: false, listsThroughBackReference: false };

/** The named type under any list and non-null wrappers, without `instanceof` (see yoga.ts on copies of graphql). */
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

/**
 * Measures operations. A fragment is measured once and its result reused
 * wherever it is spread (so fragments spread many times cost nothing more
 * to measure); a fragment that spreads itself (which validation refuses
 * anyway) counts as empty where it recurs, so measuring always ends.
 */
class Measurer {
  private readonly fragments = new Map<string, Measure | 'measuring'>();
  private readonly schema: GraphQLSchema;

  constructor(private readonly context: ValidationContext) {
    this.schema = context.getSchema();
  }

  /** Measures `set`, whose fields belong to `type` (undefined where the document names no known type). */
  selectionSet(set: SelectionSetNode | undefined, type: GraphQLNamedType | undefined): Measure {
    if (!set) return ZERO;
    const m = { ...ZERO };
    for (const selection of set.selections) {
      m.directives += selection.directives?.length ?? 0;
      if (selection.kind === Kind.FIELD) {
        const coordinate = `${type?.name}.${selection.name.value}`;
        const inner = this.selectionSet(selection.selectionSet, fieldType(type, selection.name.value));
        m.depth = Math.max(m.depth, 1 + inner.depth);
        m.aliases += (selection.alias ? 1 : 0) + inner.aliases;
        m.directives += inner.directives;
        m.lists ||= LISTINGS.has(coordinate);
        m.listsThroughBackReference ||= inner.listsThroughBackReference || (BACK_REFERENCES.has(coordinate) && inner.lists);
      } else {
        const inner =
          selection.kind === Kind.INLINE_FRAGMENT
            ? this.selectionSet(selection.selectionSet, selection.typeCondition ? this.schema.getType(selection.typeCondition.name.value) ?? undefined : type)
            : this.fragment(selection.name.value);
        m.depth = Math.max(m.depth, inner.depth);
        m.aliases += inner.aliases;
        m.directives += inner.directives;
        m.lists ||= inner.lists;
        m.listsThroughBackReference ||= inner.listsThroughBackReference;
      }
    }
    return m;
  }

  private fragment(name: string): Measure {
    const known = this.fragments.get(name);
    if (known === 'measuring') return ZERO;
    if (known) return known;
    const definition: FragmentDefinitionNode | null | undefined = this.context.getFragment(name);
    if (!definition) return ZERO;
    this.fragments.set(name, 'measuring');
    const measured = this.selectionSet(definition.selectionSet, this.schema.getType(definition.typeCondition.name.value) ?? undefined);
    const withOwn = { ...measured, directives: measured.directives + (definition.directives?.length ?? 0) };
    this.fragments.set(name, withOwn);
    return withOwn;
  }
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
 * A validation rule refusing operations deeper, or with more aliases or
 * directives, than the limits, and operations that list a bucket through a
 * back reference (see LISTINGS).
 */
export function documentLimitsRule(limits: Omit<DocumentLimits, 'maxTokens'>): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const measurer = new Measurer(context);
    return {
      OperationDefinition(operation) {
        const root = context.getSchema().getRootType(operation.operation) ?? undefined;
        const m = measurer.selectionSet(operation.selectionSet, root);
        const directives = m.directives + (operation.directives?.length ?? 0);
        const name = operationName(operation);
        if (m.depth > limits.maxDepth) {
          context.reportError(
            limitError(`${name} nests fields ${m.depth} levels deep; this server allows ${limits.maxDepth}.`, 'MAX_QUERY_DEPTH', operation),
          );
        }
        if (m.aliases > limits.maxAliases) {
          context.reportError(
            limitError(`${name} has ${m.aliases} aliases; this server allows ${limits.maxAliases}.`, 'MAX_QUERY_ALIASES', operation),
          );
        }
        if (directives > limits.maxDirectives) {
          context.reportError(
            limitError(`${name} has ${directives} directives; this server allows ${limits.maxDirectives}.`, 'MAX_QUERY_DIRECTIVES', operation),
          );
        }
        if (m.listsThroughBackReference) {
          context.reportError(
            limitError(
              `${name} lists a bucket (objects or multipartUploads) reached from an object or an upload (Object.bucket, MultipartUpload.bucket), which would list it once for every one of them; ask for that bucket itself instead.`,
              'NESTED_LISTING',
              operation,
            ),
          );
        }
        return false;
      },
    };
  };
}

/**
 * The Yoga plugin: documents are parsed with graphql's `maxTokens` (parsing
 * stops at the first token over the limit, so an oversized document costs
 * no more than the limit), and validated with `documentLimitsRule`.
 */
export function useDocumentLimits<TContext extends Record<string, any> = {}>(limits: DocumentLimits): Plugin<TContext> {
  const rule = documentLimitsRule(limits);
  return {
    onParse({ setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parse(source, { ...options, maxTokens: limits.maxTokens });
        } catch (err) {
          // graphql 16 words it "Document contains more that N tokens".
          if (err instanceof Error && /Document contains more (?:than|that) \d+ tokens/.test(err.message)) {
            throw new GraphQLError(`The document has more than ${limits.maxTokens} tokens, the limit of this server.`, {
              extensions: { code: 'BAD_USER_INPUT' satisfies ErrorCode, limit: 'MAX_QUERY_TOKENS' },
            });
          }
          throw err;
        }
      });
    },
    onValidate({ addValidationRule }) {
      addValidationRule(rule);
    },
  };
}
