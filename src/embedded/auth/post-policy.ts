/**
 * The POST policy of a browser form upload (S3 POST Object with SigV4): the
 * signature over the base64 policy document, with the signing key of the
 * form's x-amz-credential; the policy's expiration; and every condition,
 * which every form field must be covered by.
 *
 * See https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html
 */
import { timingSafeEqual } from 'node:crypto';
import { MAX_OBJECT_SIZE } from '../../core/s3-rules.js';
import type { StoreCredentials } from '../credentials.js';
import { errors, S3Error } from '../errors.js';
import {
  ALGORITHM,
  HEX_256,
  checkAccessKey,
  checkRegion,
  parseCredential,
  parseIsoBasic,
  policySignature,
  toIsoBasic,
  type Credential,
} from './signature.js';

/** What a form sends before its file, and where it goes. */
export interface PostForm {
  /** The fields before the file, by lower-case name. */
  fields: ReadonlyMap<string, string>;
  /** The bucket of the request's URL. */
  bucket: string;
  /** The key the file is stored at: the `key` field with `${filename}` replaced. */
  key: string;
}

/** The content-length-range the file must fall in, in bytes. */
export interface SizeRange {
  min: number;
  max: number;
}

/** Fields no condition needs to name (S3's rule); `file` is the file itself. */
const UNCOVERED = new Set(['file', 'policy', 'x-amz-signature']);
const IGNORED_PREFIX = 'x-ignore-';

type Condition =
  | { op: 'eq' | 'starts-with'; field: string; value: string; text: string }
  | { op: 'content-length-range'; min: number; max: number; text: string };

const denied = (reason: string) => new S3Error('AccessDenied', `Invalid according to Policy: ${reason}`);
const invalidPolicy = (reason: string) => new S3Error('InvalidPolicyDocument', `Invalid Policy: ${reason}`);

function required(fields: ReadonlyMap<string, string>, name: string): string {
  const value = fields.get(name);
  if (value === undefined) {
    throw errors.invalidArgument(
      `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
      name,
      '',
    );
  }
  return value;
}

/** A credential problem is an InvalidArgument of the field (not the query's parameter error). */
function asFieldError<T>(name: string, value: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof S3Error && err.code !== 'InvalidAccessKeyId') {
      throw errors.invalidArgument(err.message, name, value);
    }
    throw err;
  }
}

/** Checks the algorithm, credential, date and signature fields; returns the decoded policy document. */
function verifySignature(
  fields: ReadonlyMap<string, string>,
  creds: StoreCredentials,
  region: string,
): { policy: unknown } {
  const policy = fields.get('policy');
  if (policy === undefined) throw new S3Error('AccessDenied', 'Access Denied');
  const algorithm = required(fields, 'x-amz-algorithm');
  const credentialValue = required(fields, 'x-amz-credential');
  const date = required(fields, 'x-amz-date');
  const signature = required(fields, 'x-amz-signature');
  if (algorithm !== ALGORITHM) {
    throw errors.invalidArgument(`X-Amz-Algorithm only supports "${ALGORITHM}"`, 'x-amz-algorithm', algorithm);
  }
  const credential: Credential = asFieldError('x-amz-credential', credentialValue, () => {
    const parsed = parseCredential(credentialValue, 'query');
    checkRegion(parsed, region, 'query');
    return parsed;
  });
  checkAccessKey(credential, creds);
  const signedAt = parseIsoBasic(date);
  if (signedAt === undefined || toIsoBasic(signedAt).slice(0, 8) !== credential.date) {
    throw errors.invalidArgument(
      "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", on the credential's date",
      'x-amz-date',
      date,
    );
  }
  const expected = policySignature(creds.secretAccessKey, credential, policy);
  if (!HEX_256.test(signature) || !timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    throw new S3Error(
      'AccessDenied',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  }
  try {
    return { policy: JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as unknown };
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
}

/** A whole number of bytes, as a JSON number or a string of digits. */
function byteCount(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function parseCondition(raw: unknown): Condition[] {
  const text = JSON.stringify(raw);
  const bad = () => invalidPolicy(`Invalid Condition: ${text}`);
  if (Array.isArray(raw)) {
    if (raw.length !== 3 || typeof raw[0] !== 'string') throw bad();
    const op = raw[0].toLowerCase();
    if (op === 'content-length-range') {
      const min = byteCount(raw[1]);
      const max = byteCount(raw[2]);
      if (min === undefined || max === undefined || min > max) throw bad();
      return [{ op, min, max, text }];
    }
    const [, name, value] = raw as unknown[];
    if ((op !== 'eq' && op !== 'starts-with') || typeof name !== 'string' || !name.startsWith('$')) throw bad();
    if (typeof value !== 'string') throw bad();
    return [{ op, field: name.slice(1).toLowerCase(), value, text }];
  }
  if (typeof raw !== 'object' || raw === null) throw bad();
  const entries = Object.entries(raw);
  if (entries.length === 0 || entries.some(([, value]) => typeof value !== 'string')) throw bad();
  return entries.map(([name, value]) => ({ op: 'eq', field: name.toLowerCase(), value: value as string, text }));
}

/** The policy document's conditions, once it is known not to have expired. */
function parsePolicy(document: unknown, now: Date): Condition[] {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw invalidPolicy('Invalid JSON.');
  }
  const { expiration, conditions } = document as { expiration?: unknown; conditions?: unknown };
  if (expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  const expiresAt = typeof expiration === 'string' ? Date.parse(expiration) : Number.NaN;
  if (Number.isNaN(expiresAt)) throw invalidPolicy(`Invalid 'expiration' value: ${JSON.stringify(expiration)}`);
  if (!Array.isArray(conditions)) throw invalidPolicy('Policy missing conditions.');
  if (now.getTime() > expiresAt) throw denied('Policy expired.');
  return conditions.flatMap(parseCondition);
}

/**
 * Verifies a form's policy: its signature, its expiration, every condition
 * (`bucket` against the URL's bucket, `key` against the key the file is
 * stored at, other names against the fields, a missing field counting as
 * empty), and that every field but file, policy, x-amz-signature and
 * x-ignore-* is named by a condition. Returns the size the file must have.
 * Throws S3Error: AccessDenied for a wrong signature, an expired policy, a
 * failed condition or an uncovered field (the message says which).
 */
export function verifyPostPolicy(
  form: PostForm,
  creds: StoreCredentials,
  { region, now = new Date() }: { region: string; now?: Date },
): SizeRange {
  const { fields } = form;
  const conditions = parsePolicy(verifySignature(fields, creds, region).policy, now);
  const formBucket = fields.get('bucket');
  if (formBucket !== undefined && formBucket !== form.bucket) {
    throw errors.invalidArgument('The bucket field does not name the bucket of the URL.', 'bucket', formBucket);
  }
  const valueNamed = (name: string) => (name === 'bucket' ? form.bucket : name === 'key' ? form.key : fields.get(name));
  const size: SizeRange = { min: 0, max: MAX_OBJECT_SIZE };
  const covered = new Set<string>();
  for (const condition of conditions) {
    if (condition.op === 'content-length-range') {
      size.min = Math.max(size.min, condition.min);
      size.max = Math.min(size.max, condition.max);
      continue;
    }
    covered.add(condition.field);
    const value = valueNamed(condition.field) ?? '';
    const holds = condition.op === 'eq' ? value === condition.value : value.startsWith(condition.value);
    if (!holds) throw denied(`Policy Condition failed: ${condition.text}`);
  }
  const extra = [...fields.keys()].filter(
    (name) => !UNCOVERED.has(name) && !name.startsWith(IGNORED_PREFIX) && !covered.has(name),
  );
  if (extra.length > 0) throw denied(`Extra input fields: ${extra.join(', ')}`);
  if (size.min > size.max) throw denied('Policy Condition failed: content-length-range');
  return size;
}
