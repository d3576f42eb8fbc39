/** Errors as sentences for people: the server's error codes (schema contract) mapped to what to do about them. */
import { CombinedGraphQLErrors, ServerError } from '@apollo/client';
import { NetworkError } from './xhr-fetch';

export const SENTENCES: Record<string, string> = {
  UNAUTHENTICATED: 'Your API key is missing or not accepted. Sign in again with a valid key.',
  FORBIDDEN: 'Your API key does not allow this here.',
  NO_SUCH_BUCKET: 'This bucket does not exist (any more).',
  NO_SUCH_KEY: 'This object does not exist (any more).',
  NO_SUCH_UPLOAD: 'This upload is no longer open: it was completed or aborted.',
  BUCKET_ALREADY_EXISTS: 'A bucket with this name already exists (bucket names are shared by every user of the store).',
  BUCKET_NOT_EMPTY: 'The bucket is not empty.',
  INVALID_PART: 'The store refused a part of the upload. Try the upload again.',
  PAYLOAD_TOO_LARGE: 'The file is larger than this server accepts.',
  RATE_LIMITED: 'Too many requests for now. Wait a moment and try again.',
  BACKEND_UNAVAILABLE: 'The storage behind this server does not answer. Try again in a moment.',
  INTERNAL_SERVER_ERROR: 'The server failed unexpectedly. Try again; if it persists, check its log.',
};

/** The contract code of an error (from a GraphQL answer), if it has one. */
export function codeOf(error: unknown): string | undefined {
  if (CombinedGraphQLErrors.is(error)) {
    const code = error.errors[0]?.extensions?.code;
    return typeof code === 'string' ? code : undefined;
  }
  if (ServerError.is(error)) {
    try {
      const code = JSON.parse(error.bodyText)?.errors?.[0]?.extensions?.code;
      return typeof code === 'string' ? code : undefined;
    } catch {
      return undefined;
    }
  }
  return (error as { code?: unknown } | null)?.code === undefined
    ? undefined
    : String((error as { code: unknown }).code);
}

/** What the console's own arguments are called in a sentence (the server names them as in the schema). */
const ARGUMENTS: Record<string, string> = {
  name: 'The bucket name',
  bucket: 'The bucket name',
  key: 'The key',
  sourceKey: 'The key',
  prefix: 'The prefix',
  keys: 'The selection',
  contentType: 'The content type',
};

/**
 * The server's message for bad input ("name: must not contain two adjacent
 * dots", the argument then the rule) as a sentence: "The bucket name must
 * not contain two adjacent dots."
 */
function badInputSentence(message: string, argument: unknown): string {
  const prefix = `${String(argument)}: `;
  if (typeof argument !== 'string' || !message.startsWith(prefix)) return message;
  const rule = message.slice(prefix.length);
  const label = ARGUMENTS[argument];
  const sentence = label && /^(must|may|is|are) /.test(rule) ? `${label} ${rule}` : rule;
  return `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}${/[.!?]$/.test(sentence) ? '' : '.'}`;
}

/** One sentence saying what went wrong. Bad input keeps the server's rule, which says what to change. */
export function messageOf(error: unknown): string {
  const code = codeOf(error);
  if (code === 'BAD_USER_INPUT' && CombinedGraphQLErrors.is(error)) {
    const first = error.errors[0];
    return first ? badInputSentence(first.message, first.extensions?.argument) : 'Invalid input.';
  }
  if (code && SENTENCES[code]) return SENTENCES[code];
  if (error instanceof NetworkError) return 'The server could not be reached. Check your connection and try again.';
  if (ServerError.is(error)) return `The server answered HTTP ${error.statusCode}.`;
  return error instanceof Error ? error.message : String(error);
}

/** An error of ours with a contract code (e.g. an HTTP answer of /objects). */
export class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The error of a failed `/objects` answer (its body is `{"errors": [...]}` as GraphQL's). */
export async function httpError(res: Response): Promise<CodedError> {
  try {
    const body = (await res.json()) as { errors?: { message: string; extensions?: { code?: string } }[] };
    const first = body.errors?.[0];
    const code = first?.extensions?.code ?? 'INTERNAL_SERVER_ERROR';
    return new CodedError(code, SENTENCES[code] ?? first?.message ?? `HTTP ${res.status}`);
  } catch {
    return new CodedError('INTERNAL_SERVER_ERROR', `The server answered HTTP ${res.status}.`);
  }
}
