import { AppError } from './errors.js';

/**
 * Per-bucket upload rules (UPLOAD_RULES): the largest object and the content
 * types a bucket takes, by whatever way the object gets in. The rule of a
 * bucket is the one configured under its name, else the one under `*`, whole:
 * a named rule is not merged with `*` (so `{}` under a name frees that
 * bucket from `*`). The resolvers check with the functions below; what they
 * throw carries the rule that refused, as `extensions.rule`.
 */

/** A rule as UPLOAD_RULES gives it, once src/config/upload-rules.ts has read it. */
export interface UploadRuleSpec {
  maxBytes?: number | undefined;
  /** Lower-case `type/subtype` or `type/*`. */
  contentTypes?: readonly string[] | undefined;
}

/** The rule that holds for a bucket. This object is also what a refusal shows as `extensions.rule`. */
export interface UploadRule {
  /** Where the rule is configured: the bucket's name, or `*`. */
  bucket: string;
  /** The largest object in bytes; null: no limit of the rule's own. */
  maxBytes: number | null;
  /** Allowed content types, exact or `type/*`; empty: any. */
  contentTypes: readonly string[];
}

export class UploadRules {
  private readonly rules = new Map<string, UploadRule>();

  /** `specs` keyed by bucket name or `*`. */
  constructor(specs: Readonly<Record<string, UploadRuleSpec>> = {}) {
    for (const [bucket, spec] of Object.entries(specs)) {
      this.rules.set(bucket, { bucket, maxBytes: spec.maxBytes ?? null, contentTypes: [...(spec.contentTypes ?? [])] });
    }
  }

  /** The rule of `bucket`: its own, else the `*` rule; undefined when neither is configured. */
  ruleFor(bucket: string): UploadRule | undefined {
    return this.rules.get(bucket) ?? this.rules.get('*');
  }
}

const ruleName = (rule: UploadRule) =>
  rule.bucket === '*' ? 'the upload rule "*"' : `the upload rule of "${rule.bucket}"`;

/** `type/subtype` of a Content-Type value, lower-case, without parameters (`; charset=…`). */
const mediaTypeOf = (contentType: string): string => contentType.split(';', 1)[0]!.trim().toLowerCase();

/** Whether `contentType` (parameters ignored, any case) is one the rule allows; any type when it lists none. */
function contentTypeAllowed(rule: UploadRule | undefined, contentType: string | undefined): boolean {
  if (rule === undefined || rule.contentTypes.length === 0) return true;
  if (contentType === undefined) return false;
  const type = mediaTypeOf(contentType);
  return rule.contentTypes.some((allowed) =>
    allowed.endsWith('/*') ? type.startsWith(allowed.slice(0, -1)) : type === allowed,
  );
}

/**
 * Throws BAD_USER_INPUT (with `argument` and `extensions.rule`) unless the
 * rule allows `contentType`. A rule with content types needs one given:
 * an object stored without would get the store's default type.
 */
export function checkContentType(
  rule: UploadRule | undefined,
  contentType: string | undefined,
  argument: string,
): void {
  if (rule === undefined || contentTypeAllowed(rule, contentType)) return;
  const allowed = rule.contentTypes.join(', ');
  const message =
    contentType === undefined
      ? `${argument}: a content type is required by ${ruleName(rule)} (${allowed})`
      : `${argument}: "${mediaTypeOf(contentType)}" is not allowed by ${ruleName(rule)} (${allowed})`;
  throw new AppError('BAD_USER_INPUT', message, { argument, rule });
}

/**
 * Throws BAD_USER_INPUT unless every type starting with `prefix` is one the
 * rule allows: only a `type/*` entry covers a prefix (`image/` or
 * `image/sv` under `image/*`), since a starts-with condition also lets
 * through types that merely begin like an exact entry.
 */
export function checkContentTypePrefix(rule: UploadRule | undefined, prefix: string, argument: string): void {
  if (rule === undefined || rule.contentTypes.length === 0) return;
  const start = prefix.toLowerCase();
  const covered = rule.contentTypes.some((allowed) => allowed.endsWith('/*') && start.startsWith(allowed.slice(0, -1)));
  if (covered) return;
  throw new AppError(
    'BAD_USER_INPUT',
    `${argument}: types starting with "${start}" are not all allowed by ${ruleName(rule)} (${rule.contentTypes.join(', ')})`,
    { argument, rule },
  );
}

/**
 * PAYLOAD_TOO_LARGE over the rule's maxBytes, naming `argument` (e.g. `file`,
 * `sourceKey`, `parts`), with `extensions.rule` and, when known, the `size`.
 */
export function ruleTooLarge(rule: UploadRule, argument: string, size?: number): AppError {
  const what = size === undefined ? 'larger' : `${size} bytes, more`;
  return new AppError(
    'PAYLOAD_TOO_LARGE',
    `${argument}: ${what} than ${ruleName(rule)} allows (${rule.maxBytes} bytes)`,
    {
      argument,
      rule,
    },
  );
}

/** Throws `ruleTooLarge` when `size` bytes are more than the rule allows. */
export function checkSize(rule: UploadRule | undefined, size: number, argument: string): void {
  if (rule?.maxBytes !== null && rule?.maxBytes !== undefined && size > rule.maxBytes)
    throw ruleTooLarge(rule, argument, size);
}

/** A byte limit and the error for passing it. */
export interface SizeLimit {
  maxBytes: number;
  tooLarge: () => AppError;
}

/**
 * The smaller of the server's own `limit` (with its error) and the rule's
 * maxBytes (with `ruleTooLarge` naming `argument`): what a stream into the
 * bucket may carry.
 */
export function sizeLimit(rule: UploadRule | undefined, limit: SizeLimit, argument: string): SizeLimit {
  if (rule?.maxBytes === null || rule?.maxBytes === undefined || rule.maxBytes > limit.maxBytes) return limit;
  return { maxBytes: rule.maxBytes, tooLarge: () => ruleTooLarge(rule, argument) };
}
