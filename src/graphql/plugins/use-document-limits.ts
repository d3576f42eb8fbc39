import {
  GraphQLError,
  Kind,
  parse,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import {
  DEFAULT_MAX_QUERY_ALIASES,
  DEFAULT_MAX_QUERY_DEPTH,
  DEFAULT_MAX_QUERY_DIRECTIVES,
  DEFAULT_MAX_QUERY_TOKENS,
} from '../../config/index.js';
import type { ErrorCode } from '../../core/errors.js';
import { fieldType, limitError, operationName } from '../documents.js';

/*
 * The counting is ours, not graphql-armor's: its max-depth, max-aliases and
 * max-directives rules (2.x) were tried in its place and break the limits
 * tests. Where a fragment spreads itself, armor adds its "being measured"
 * mark, -1, to the count (`{ ...A } fragment A on Query { a0: x a1: x ...B }
 * fragment B on Query { b0: x b1: x ...A }` has 3 aliases, not 4); a fragment
 * spread it has measured before loses the spread's own directives (`{ ...F
 * @include(if: true) ...F @skip(if: false) }` counts one short); and its
 * errors name no operation and give the count only in their message text.
 * The token limit is graphql's own parser option (`maxTokens`), which armor's
 * max-tokens re-implements around the lexer.
 */

/**
 * Limits on the GraphQL document of a request, checked while it is parsed
 * and validated, so a refused operation executes nothing.
 */
export interface DocumentLimitsOptions {
  /**
   * Deepest field nesting of one operation (a top-level field is depth 1). MAX_QUERY_DEPTH.
   * @default DEFAULT_MAX_QUERY_DEPTH (15)
   */
  maxDepth?: number;
  /**
   * Aliased fields in one operation, fragments counted where they are spread. MAX_QUERY_ALIASES.
   * @default DEFAULT_MAX_QUERY_ALIASES (30)
   */
  maxAliases?: number;
  /**
   * Directives in one operation, fragments counted where they are spread. MAX_QUERY_DIRECTIVES.
   * @default DEFAULT_MAX_QUERY_DIRECTIVES (50)
   */
  maxDirectives?: number;
  /**
   * Lexical tokens in the whole document (graphql's own parser limit). MAX_QUERY_TOKENS.
   * @default DEFAULT_MAX_QUERY_TOKENS (10000)
   */
  maxTokens?: number;
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
        m.listsThroughBackReference ||=
          inner.listsThroughBackReference || (BACK_REFERENCES.has(coordinate) && inner.lists);
      } else {
        const inner =
          selection.kind === Kind.INLINE_FRAGMENT
            ? this.selectionSet(
                selection.selectionSet,
                selection.typeCondition ? (this.schema.getType(selection.typeCondition.name.value) ?? undefined) : type,
              )
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
    const measured = this.selectionSet(
      definition.selectionSet,
      this.schema.getType(definition.typeCondition.name.value) ?? undefined,
    );
    const withOwn = { ...measured, directives: measured.directives + (definition.directives?.length ?? 0) };
    this.fragments.set(name, withOwn);
    return withOwn;
  }
}

/**
 * A validation rule refusing operations deeper, or with more aliases or
 * directives, than the limits, and operations that list a bucket through a
 * back reference (see LISTINGS).
 */
function documentLimitsRule(limits: Required<Omit<DocumentLimitsOptions, 'maxTokens'>>): ValidationRule {
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
            limitError(
              `${name} nests fields ${m.depth} levels deep; this server allows ${limits.maxDepth}.`,
              'MAX_QUERY_DEPTH',
              operation,
            ),
          );
        }
        if (m.aliases > limits.maxAliases) {
          context.reportError(
            limitError(
              `${name} has ${m.aliases} aliases; this server allows ${limits.maxAliases}.`,
              'MAX_QUERY_ALIASES',
              operation,
            ),
          );
        }
        if (directives > limits.maxDirectives) {
          context.reportError(
            limitError(
              `${name} has ${directives} directives; this server allows ${limits.maxDirectives}.`,
              'MAX_QUERY_DIRECTIVES',
              operation,
            ),
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
 * graphql-js gives up validating a document whose fields would take too long
 * to compare with each other (OverlappingFieldsCanBeMergedRule's work budget:
 * about 800 fields of one name in one selection, well under MAX_QUERY_TOKENS)
 * and says only "Validation aborted.".
 */
const isValidationAborted = (error: Error) => error.message === 'Validation aborted.';

const tooMuchValidationWork = () =>
  new GraphQLError(
    'The document is too complex to validate: it selects too many fields that must be compared with each other (such as hundreds of fields of the same name in one selection). Ask for fewer fields.',
    { extensions: { code: 'BAD_USER_INPUT' satisfies ErrorCode, limit: 'VALIDATION_WORK' } },
  );

/**
 * The Yoga plugin: documents are parsed with graphql's `maxTokens` (parsing
 * stops at the first token over the limit, so an oversized document costs
 * no more than the limit), and validated with `documentLimitsRule`. Each
 * refusal is BAD_USER_INPUT with `extensions.limit` naming the setting
 * (MAX_QUERY_TOKENS, MAX_QUERY_DEPTH, MAX_QUERY_ALIASES, MAX_QUERY_DIRECTIVES),
 * NESTED_LISTING, or VALIDATION_WORK (graphql-js's own budget, above).
 */
export function useDocumentLimits<TContext extends object = object>(
  options: DocumentLimitsOptions = {},
): Plugin<TContext> {
  const limits = {
    maxDepth: options.maxDepth ?? DEFAULT_MAX_QUERY_DEPTH,
    maxAliases: options.maxAliases ?? DEFAULT_MAX_QUERY_ALIASES,
    maxDirectives: options.maxDirectives ?? DEFAULT_MAX_QUERY_DIRECTIVES,
    maxTokens: options.maxTokens ?? DEFAULT_MAX_QUERY_TOKENS,
  };
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
      return ({ valid, result, setResult }) => {
        if (valid || !result.some(isValidationAborted)) return;
        setResult(result.map((error) => (isValidationAborted(error) ? tooMuchValidationWork() : error)));
      };
    },
  };
}
