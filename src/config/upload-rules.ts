import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { bucketNameProblem } from '../core/s3-rules.js';
import { UploadRules, type UploadRuleSpec } from '../core/upload-rules.js';
import { parseByteSize } from './sizes.js';

/**
 * UPLOAD_RULES and UPLOAD_RULES_FILE: a JSON object keyed by bucket name or
 * `*`, each value `{ maxBytes?, contentTypes? }` (see src/core/upload-rules.ts
 * for what they mean and how a bucket's rule is found).
 */

const EXAMPLE = '{"photos":{"maxBytes":"10MiB","contentTypes":["image/*"]},"*":{"maxBytes":"1GiB"}}';

/** A media type token (RFC 6838 restricted-name characters). */
const TOKEN = '[a-z0-9!#$&^_.+-]+';
const CONTENT_TYPE = new RegExp(`^${TOKEN}/(?:${TOKEN}|\\*)$`, 'i');

const maxBytes = z
  .union([z.number(), z.string()], { error: 'must be a number of bytes or a size such as "10MiB"' })
  .transform((value, ctx) => {
    const bytes = typeof value === 'number' ? value : parseByteSize(value);
    if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes < 1) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a whole number of bytes of at least 1, or a size such as "10MiB" (got ${JSON.stringify(value)})`,
      });
      return z.NEVER;
    }
    return bytes;
  });

const contentType = z
  .string({ error: 'must be a string' })
  .trim()
  .refine((t) => CONTENT_TYPE.test(t), {
    error: (issue) => `${JSON.stringify(issue.input)} is not a media type "type/subtype" or "type/*"`,
  })
  .transform((t) => t.toLowerCase());

const ruleSchema = z.strictObject(
  {
    maxBytes: maxBytes.optional(),
    contentTypes: z.array(contentType, { error: 'must be a list of strings' }).optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}: a rule has only "maxBytes" and "contentTypes"`
        : 'must be an object {"maxBytes"?, "contentTypes"?}',
  },
);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The rules of the parsed JSON, each problem added to `problems` as `<where>: <what>`. */
function rulesOf(json: unknown, problems: string[]): Record<string, UploadRuleSpec> {
  if (!isObject(json)) {
    problems.push(`(root): must be a JSON object keyed by bucket name or "*", e.g. ${EXAMPLE}`);
    return {};
  }
  const rules: Record<string, UploadRuleSpec> = {};
  for (const [bucket, value] of Object.entries(json)) {
    const problem = bucket === '*' ? undefined : bucketNameProblem(bucket);
    if (problem) problems.push(`${bucket}: is not "*" or a bucket name: it ${problem}`);
    const parsed = ruleSchema.safeParse(value);
    if (parsed.success) rules[bucket] = parsed.data;
    else
      for (const issue of parsed.error.issues) problems.push(`${[bucket, ...issue.path].join('.')}: ${issue.message}`);
  }
  return rules;
}

/**
 * The rules of UPLOAD_RULES (JSON) or UPLOAD_RULES_FILE (a file holding that
 * JSON): none when neither is set; each problem is added to `problems`.
 */
export function readUploadRules(inline: string | undefined, file: string | undefined, problems: string[]): UploadRules {
  if (inline !== undefined && file !== undefined) {
    problems.push('UPLOAD_RULES and UPLOAD_RULES_FILE: set one of them, not both');
    return new UploadRules();
  }
  const variable = inline !== undefined ? 'UPLOAD_RULES' : 'UPLOAD_RULES_FILE';
  let text = inline;
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(`UPLOAD_RULES_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return new UploadRules();
    }
  }
  if (text === undefined || text.trim() === '') return new UploadRules();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push(`${variable}: not valid JSON (expected e.g. ${EXAMPLE})`);
    return new UploadRules();
  }
  const found: string[] = [];
  const rules = rulesOf(json, found);
  for (const problem of found) problems.push(`${variable}: ${problem}`);
  return found.length > 0 ? new UploadRules() : new UploadRules(rules);
}
