import { Kind, type ValueNode } from 'graphql';
import type { FileUpload } from 'graphql-upload-minimal';
import { AppError } from '../../core/errors.js';
import { builder } from './builder.js';

const invalid = (message: string) => new AppError('BAD_USER_INPUT', message);

// ---- DateTime ----

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-](\d{2}):(\d{2}))$/;

/**
 * Parses an ISO-8601 date-time with seconds and an explicit offset
 * (`2026-11-26T18:00:00Z`, `2026-11-26T19:00:00.5+01:00`). Anything else,
 * including dates that do not exist (February 30), is rejected.
 */
export function parseDateTime(text: string): Date {
  const m = ISO_8601.exec(text);
  const reject = () =>
    invalid(
      `DateTime must be an ISO-8601 date-time with an offset, e.g. 2026-11-26T18:00:00.000Z (got "${text.slice(0, 64)}")`,
    );
  if (!m) throw reject();
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetH = m[9] === undefined ? 0 : Number(m[9]);
  const offsetM = m[10] === undefined ? 0 : Number(m[10]);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59 || offsetH > 23 || offsetM > 59)
    throw reject();
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (day < 1 || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) throw reject();
  const millis = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3));
  const sign = m[8] === 'Z' ? 0 : m[8]!.startsWith('-') ? -1 : 1;
  const time = Date.UTC(year, month - 1, day, hour, minute, second, millis) - sign * (offsetH * 60 + offsetM) * 60_000;
  const date = new Date(time);
  if (Number.isNaN(date.getTime())) throw reject();
  return date;
}

/** A Date (or an ISO string) as ISO-8601 in UTC with milliseconds. */
export function serializeDateTime(value: unknown): string {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new TypeError('DateTime cannot represent an invalid date');
  return date.toISOString();
}

builder.scalarType('DateTime', {
  description: 'An ISO-8601 date-time string in UTC, e.g. 2026-11-26T18:00:00.000Z.',
  serialize: serializeDateTime,
  parseValue: (value) => {
    if (typeof value !== 'string') throw invalid('DateTime must be a string');
    return parseDateTime(value);
  },
  parseLiteral: (node: ValueNode) => {
    if (node.kind !== Kind.STRING) throw invalid('DateTime must be a string');
    return parseDateTime(node.value);
  },
});

// ---- SafeInt ----

const SAFE_RANGE = `between -(2^53-1) and 2^53-1`;

/** A JavaScript safe integer, or BAD_USER_INPUT. */
export function parseSafeInt(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw invalid(`SafeInt must be an integer ${SAFE_RANGE}`);
  }
  return value;
}

builder.scalarType('SafeInt', {
  description: 'An integer between -(2^53-1) and 2^53-1: object and part sizes in bytes.',
  serialize: (value) => {
    if (!Number.isSafeInteger(value)) throw new TypeError(`SafeInt cannot represent ${String(value)}`);
    return value;
  },
  parseValue: parseSafeInt,
  parseLiteral: (node: ValueNode) => {
    if (node.kind !== Kind.INT) throw invalid(`SafeInt must be an integer ${SAFE_RANGE}`);
    return parseSafeInt(Number(node.value));
  },
});

// ---- Upload ----

/**
 * What graphql-upload-minimal's `processRequest` puts where a file was mapped
 * in the operation: an `Upload` whose `promise` resolves to the file once its
 * part of the multipart body arrives. A JSON request cannot produce one (it
 * has no functions), so a client cannot fake a file.
 */
function isUpload(value: unknown): value is { promise: Promise<FileUpload> } {
  if (typeof value !== 'object' || value === null || !('promise' in value)) return false;
  const { promise } = value as { promise: unknown };
  return (
    typeof promise === 'object' && promise !== null && typeof (promise as PromiseLike<unknown>).then === 'function'
  );
}

builder.scalarType('Upload', {
  description: 'A file sent with the GraphQL multipart request spec.',
  serialize: () => {
    throw new TypeError('Upload is an input-only scalar');
  },
  parseValue: (value) => {
    if (!isUpload(value)) {
      throw invalid(
        'Upload must be a file sent with the GraphQL multipart request spec (multipart/form-data with operations, map and the file)',
      );
    }
    return value.promise;
  },
  parseLiteral: () => {
    throw invalid(
      'Upload cannot be written in the query: send the file as a variable with the GraphQL multipart request spec',
    );
  },
});
