import {
  getOperationAST,
  Kind,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { fieldType } from './documents.js';
import { MAX_LIST_KEYS as MAX_PAGE_SIZE } from '../core/s3-rules.js';
import { DEFAULT_PAGE_SIZE } from '../core/validation.js';

/**
 * The cost of an operation: how many calls to the store it may make, counted
 * from the document and its variables before anything runs. What the request
 * chooses is counted as the most it can be (every `first`, every alias, every
 * fragment where it is spread, fields under @skip and @include too); what only
 * the store knows (how many buckets there are, how many uploads are open, how
 * many objects lie under a prefix) is assumed, as the README's table says.
 * It is a refusal before anything runs, not the bound: the calls the store's
 * answers lead to beyond it are capped as they are sent
 * (src/core/store-call-budget.ts).
 */

/** Entries assumed in a listing whose length only the store knows (`buckets`, `multipartUploads`, `abortStale`'s uploads). */
const ASSUMED_ENTRIES = 100;

/** A field argument with the request's variables put in; undefined when it is not given. */
type Argument = (name: string) => unknown;

/** Where a selection set is resolved: how many edges a page has, and whether its objects come from a listing. */
interface Scope {
  /** The page size of the `objects` field this selection is under (the length of `edges`). */
  page: number;
  /** The objects are listing entries (no HEAD yet), not HEAD results. */
  listed: boolean;
}

const TOP: Scope = { page: 0, listed: false };

interface FieldRule {
  /** Store calls each time the field resolves. */
  calls?: number | ((arg: Argument) => number);
  /** Times its selection is resolved each time the field resolves (the length of a list). */
  each?: number | ((arg: Argument, scope: Scope) => number);
  /** The scope of its selection. */
  scope?: (arg: Argument) => Scope;
  /** It needs the request's bucket list: one ListBuckets, shared by the fields of a top-level field. */
  bucketList?: boolean | ((arg: Argument) => boolean);
  /** It needs the HEAD of its object (free when the object came from a HEAD). */
  head?: boolean;
}

const given = (value: unknown) => value !== undefined && value !== null;

/** The page `first` asks for; 0 when `objects` refuses it (outside 1..1000) before calling the store. */
function pageSize(first: unknown): number {
  if (!given(first)) return DEFAULT_PAGE_SIZE;
  return Number.isInteger(first) && (first as number) >= 1 && (first as number) <= MAX_PAGE_SIZE
    ? (first as number)
    : 0;
}

/**
 * What each field costs, by schema coordinate; fields not named here cost
 * nothing (they are read from their parent, or signed here like presigned
 * URLs). Calls whose number only the store knows are counted once (the first
 * page of a listing, the first batch of a delete).
 */
export const FIELD_COSTS: Readonly<Record<string, FieldRule>> = {
  'Query.bucket': { calls: 1 }, // HeadBucket, or the first page of the listing it asks for
  'Query.buckets': { bucketList: true, each: ASSUMED_ENTRIES },
  'Query.object': { calls: 1 }, // HeadObject
  'Bucket.createdAt': { bucketList: true },
  'Bucket.object': { calls: 1 },
  'Bucket.cors': { calls: 1 }, // GetBucketCors
  'Bucket.objects': {
    calls: (arg) => (pageSize(arg('first')) > 0 ? 1 : 0), // ListObjectsV2
    scope: (arg) => ({ page: pageSize(arg('first')), listed: false }),
  },
  'ObjectConnection.edges': { each: (_arg, scope) => scope.page },
  'ObjectEdge.node': { scope: () => ({ page: 0, listed: true }) },
  'Object.contentType': { head: true },
  'Object.metadata': { head: true },
  'Bucket.multipartUploads': { calls: 1, each: ASSUMED_ENTRIES },
  // The first page of ListParts (1000 parts); an upload of more parts takes up to 10, capped at run time.
  'MultipartUpload.parts': { calls: 1 },
  'Mutation.createBucket': { calls: 2 }, // HeadBucket, CreateBucket
  'Mutation.deleteBucket': { calls: (arg) => (arg('force') === true ? 4 : 1) }, // with force: ListMultipartUploads, ListObjectsV2, DeleteObjects, DeleteBucket
  'Mutation.setBucketCors': { calls: 1 }, // PutBucketCors
  'Mutation.deleteBucketCors': { calls: 1 }, // DeleteBucketCors
  'Mutation.deleteObject': { calls: 1 },
  'Mutation.deleteObjects': { calls: 1 },
  'Mutation.deletePrefix': { calls: 2 }, // ListObjectsV2, DeleteObjects
  'Mutation.copyObject': { calls: 3 }, // HeadObject, CopyObject, HeadObject
  'Mutation.uploadObject': { calls: 2 }, // PutObject, HeadObject
  'MultipartMutations.create': { calls: 1 },
  'MultipartMutations.uploadPart': { calls: 1 },
  'MultipartMutations.complete': { calls: 3 }, // ListParts (its first page without `parts`), CompleteMultipartUpload, HeadObject
  'MultipartMutations.abort': { calls: 1 },
  'MultipartMutations.abortStale': {
    // ListMultipartUploads in the bucket, or in every bucket of the bucket list.
    calls: (arg) => (given(arg('bucket')) ? 1 : ASSUMED_ENTRIES),
    bucketList: (arg) => !given(arg('bucket')),
  },
  'AbortStaleResult.aborted': { each: ASSUMED_ENTRIES },
  'AbortStaleResult.failed': { each: ASSUMED_ENTRIES },
};

interface Estimate {
  calls: number;
  /** A field of this selection set needs its object's HEAD. */
  head: boolean;
  /** Some field inside needs the bucket list. */
  bucketList: boolean;
}

const ZERO: Estimate = { calls: 0, head: false, bucketList: false };

/**
 * Estimates the operations of one document. A fragment is estimated once per
 * scope and reused wherever it is spread (so spreading fragments that spread
 * others many times over costs no more to estimate); a fragment that spreads
 * itself (which validation refuses) counts as nothing where it recurs.
 */
class Estimator {
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly estimated = new Map<string, Estimate | 'estimating'>();
  private readonly topLevel = new Map<string, number | 'estimating'>();

  constructor(
    private readonly schema: GraphQLSchema,
    document: DocumentNode,
    private readonly variables: Record<string, unknown>,
  ) {
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) this.fragments.set(definition.name.value, definition);
    }
  }

  /**
   * Store calls of the top-level fields of `set`, each with one ListBuckets
   * when it needs the bucket list (a mutation field may change it, so each
   * top-level field is counted its own).
   */
  operation(set: SelectionSetNode, type: GraphQLNamedType | undefined): number {
    let calls = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const e = this.field(selection, type, TOP);
        calls += e.calls + (e.bucketList ? 1 : 0);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        calls += this.operation(selection.selectionSet, this.typeNamed(selection.typeCondition?.name.value) ?? type);
      } else {
        calls += this.topLevelFragment(selection.name.value);
      }
    }
    return calls;
  }

  private topLevelFragment(name: string): number {
    const known = this.topLevel.get(name);
    if (known === 'estimating') return 0;
    if (known !== undefined) return known;
    const definition = this.fragments.get(name);
    if (!definition) return 0;
    this.topLevel.set(name, 'estimating');
    const calls = this.operation(definition.selectionSet, this.typeNamed(definition.typeCondition.name.value));
    this.topLevel.set(name, calls);
    return calls;
  }

  private typeNamed(name: string | undefined): GraphQLNamedType | undefined {
    return name === undefined ? undefined : (this.schema.getType(name) ?? undefined);
  }

  private argument(node: FieldNode): Argument {
    return (name) => {
      const arg = node.arguments?.find((a) => a.name.value === name);
      return arg ? valueFromASTUntyped(arg.value, this.variables) : undefined;
    };
  }

  private field(node: FieldNode, parent: GraphQLNamedType | undefined, scope: Scope): Estimate {
    const rule = FIELD_COSTS[`${parent?.name}.${node.name.value}`] ?? {};
    const arg = this.argument(node);
    const inner = rule.scope?.(arg) ?? TOP;
    const below = this.selectionSet(node.selectionSet, fieldType(parent, node.name.value), inner);
    const calls = typeof rule.calls === 'function' ? rule.calls(arg) : (rule.calls ?? 0);
    const each = typeof rule.each === 'function' ? rule.each(arg, scope) : (rule.each ?? 1);
    const bucketList = typeof rule.bucketList === 'function' ? rule.bucketList(arg) : (rule.bucketList ?? false);
    // One HEAD per listed object, however many of its fields need it (the request's loader makes it once).
    const perResolution = below.calls + (below.head && inner.listed ? 1 : 0);
    return {
      calls: calls + each * perResolution,
      head: rule.head === true,
      bucketList: bucketList || below.bucketList,
    };
  }

  private selectionSet(set: SelectionSetNode | undefined, type: GraphQLNamedType | undefined, scope: Scope): Estimate {
    if (!set) return ZERO;
    const total = { ...ZERO };
    for (const selection of set.selections) {
      const e =
        selection.kind === Kind.FIELD
          ? this.field(selection, type, scope)
          : selection.kind === Kind.INLINE_FRAGMENT
            ? this.selectionSet(
                selection.selectionSet,
                this.typeNamed(selection.typeCondition?.name.value) ?? type,
                scope,
              )
            : this.fragment(selection.name.value, scope);
      total.calls += e.calls;
      total.head ||= e.head;
      total.bucketList ||= e.bucketList;
    }
    return total;
  }

  private fragment(name: string, scope: Scope): Estimate {
    const id = `${name}\u0000${scope.page}\u0000${scope.listed}`;
    const known = this.estimated.get(id);
    if (known === 'estimating') return ZERO;
    if (known) return known;
    const definition = this.fragments.get(name);
    if (!definition) return ZERO;
    this.estimated.set(id, 'estimating');
    const e = this.selectionSet(definition.selectionSet, this.typeNamed(definition.typeCondition.name.value), scope);
    this.estimated.set(id, e);
    return e;
  }
}

/** The operation's variables: the request's values, else the defaults the operation declares. */
function variablesOf(operation: OperationDefinitionNode, values: unknown): Record<string, unknown> {
  const variables: Record<string, unknown> =
    values !== null && typeof values === 'object' && !Array.isArray(values) ? { ...values } : {};
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    if (variables[name] === undefined && definition.defaultValue)
      variables[name] = valueFromASTUntyped(definition.defaultValue);
  }
  return variables;
}

/**
 * Store calls the operation `operationName` of `document` may make with
 * `variables`; 0 when the document names no such operation (Yoga refuses it).
 */
export function estimateStoreCalls(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: unknown,
): number {
  const operation = getOperationAST(document, operationName ?? undefined);
  if (!operation) return 0;
  const estimator = new Estimator(schema, document, variablesOf(operation, variables));
  return estimator.operation(operation.selectionSet, schema.getRootType(operation.operation) ?? undefined);
}
