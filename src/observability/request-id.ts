import { randomUUID } from 'node:crypto';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The id a request is logged and answered under: a well-formed `x-request-id` header, else a new UUID. */
export function requestIdFrom(header: string | null | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}
