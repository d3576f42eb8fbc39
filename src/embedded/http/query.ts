/**
 * Query parameters as S3 reads them: bounded integers, encoding-type,
 * continuation tokens, versionId (this store keeps no versions).
 */
import { errors } from '../errors.js';

export function parseIntParam(
  query: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw.trim()))
    throw errors.invalidArgument(`Provided ${name} not an integer or within integer range`, name, raw);
  const value = Number(raw.trim());
  if (value < min)
    throw errors.invalidArgument(`Argument ${name} must be an integer between ${min} and ${max}`, name, raw);
  return Math.min(value, max);
}

/** Whether keys are to be URL-encoded (encoding-type=url); any other value is refused. */
export function encodingType(query: URLSearchParams): boolean {
  const value = query.get('encoding-type');
  if (value === null) return false;
  if (value.toLowerCase() !== 'url')
    throw errors.invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', value);
  return true;
}

export function encodeToken(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

export function decodeToken(token: string): string {
  const value = Buffer.from(token, 'base64url').toString('utf8');
  if (token === '' || encodeToken(value) !== token) {
    throw errors.invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
  }
  return value;
}

/** Only the null version exists. */
export function checkVersionId(query: URLSearchParams): void {
  const versionId = query.get('versionId');
  if (versionId !== null && versionId !== 'null') {
    throw errors.invalidArgument('Invalid version id specified', 'versionId', versionId);
  }
}
