import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { bucketNameProblem } from '../core/s3-rules.js';
import { ROLES } from '../security/roles.js';

/** API_KEYS and API_KEYS_FILE: named tokens (or their SHA-256), each with its grants of a role on a bucket or on `*`. */

const apiKeySchema = z
  .object({
    name: z.string().min(1),
    token: z.string().min(16, 'a token must be at least 16 characters').optional(),
    tokenSha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'tokenSha256 must be 64 hex characters')
      .transform((h) => h.toLowerCase())
      .optional(),
    grants: z
      .array(
        z.object({
          bucket: z.string().superRefine((bucket, ctx) => {
            const problem = bucket === '*' ? undefined : bucketNameProblem(bucket);
            if (problem)
              ctx.addIssue({ code: 'custom', message: `"${bucket}" is not "*" or a bucket name: it ${problem}` });
          }),
          role: z.enum(ROLES),
        }),
      )
      .min(1, 'a key needs at least one grant'),
  })
  .refine((k) => (k.token === undefined) !== (k.tokenSha256 === undefined), {
    message: 'give exactly one of token or tokenSha256',
  });

const apiKeysSchema = z.object({ keys: z.array(apiKeySchema) }).superRefine((v, ctx) => {
  const names = new Set<string>();
  for (const key of v.keys) {
    if (names.has(key.name)) ctx.addIssue({ code: 'custom', message: `key name "${key.name}" is used twice` });
    names.add(key.name);
  }
});
export type ApiKeyConfig = z.infer<typeof apiKeySchema>;

/**
 * The API keys of API_KEYS (JSON) or API_KEYS_FILE (a file holding that JSON):
 * an empty list when neither is set; each problem is added to `problems`.
 */
export function readApiKeys(inline: string | undefined, file: string | undefined, problems: string[]): ApiKeyConfig[] {
  if (inline !== undefined && file !== undefined) {
    problems.push('API_KEYS and API_KEYS_FILE: set one of them, not both');
    return [];
  }
  const variable = inline !== undefined ? 'API_KEYS' : 'API_KEYS_FILE';
  let text = inline;
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(`API_KEYS_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return [];
    }
  }
  if (text === undefined || text.trim() === '') return [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push(`${variable}: not valid JSON (expected {"keys":[{"name":…,"token":…,"grants":[…]}]})`);
    return [];
  }
  const parsed = apiKeysSchema.safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${variable}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    return [];
  }
  return parsed.data.keys;
}
