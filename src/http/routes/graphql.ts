import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../../config/index.js';
import { readAtMost } from '../../core/read-body.js';
import type { ServerContext } from '../../graphql/context.js';
import type { Metrics } from '../../observability/metrics.js';
import { CSRF_MESSAGE, isCsrfSuspect, mediaType } from '../../security/csrf.js';
import type { Admission } from '../admission.js';
import { errorBody, sendJson } from '../respond.js';
import { type GraphiQL, wantsPage } from './graphiql.js';
import { parseMultipart } from '../upload.js';

export const GRAPHQL_PATH = '/graphql';

/** The request body types Yoga reads on POST /graphql, and multipart uploads (parsed here). */
const GRAPHQL_POST_TYPES = new Set([
  'application/json',
  'application/graphql+json',
  'application/graphql',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
]);

/**
 * What the route needs of the Yoga instance: `handle(req, res, context)`
 * answers a Node request (it writes the response) with `context` merged
 * into Yoga's server context.
 */
export interface GraphQLHandler {
  handle(req: IncomingMessage, res: ServerResponse, context: ServerContext): Promise<void> | void;
}

export interface GraphQLRouteDeps {
  config: Config;
  metrics: Metrics;
  yoga: GraphQLHandler;
  admission: Admission;
  /** GraphiQL's page, when GRAPHIQL is on. */
  graphiql: GraphiQL | undefined;
}

/** `header` (a Content-Type of `type`) as Yoga spells the type: Yoga compares the header to the types it reads exactly. */
function asYogaSpells(header: string, type: string): string {
  const cut = header.indexOf(';');
  return cut === -1 ? type : `${type}; ${header.slice(cut + 1).trim()}`;
}

/**
 * Reads the `operations` of a GraphQL multipart request (src/http/upload.ts)
 * and hands them to Yoga as the parsed request body, so files stream to the
 * resolvers instead of being buffered.
 */
async function preparseUpload(req: IncomingMessage, res: ServerResponse, deps: GraphQLRouteDeps): Promise<void> {
  const { config, metrics } = deps;
  res.once('close', metrics.uploadStarted());
  const operations = await parseMultipart(req, res, {
    maxFileSize: config.maxUploadBytes,
    maxFiles: config.maxFilesPerRequest,
    maxOperationsBytes: config.maxJsonBodyBytes,
    metrics,
  });
  // whatwg-node takes a parsed `body` as the JSON request (Upload values and all).
  (req as IncomingMessage & { body?: unknown }).body = operations;
  // Yoga must not judge the request by the size of the files it carries.
  delete req.headers['content-length'];
}

/** JSON bodies this route reads itself (Yoga reads the rest: `application/graphql`, forms). */
const JSON_TYPES = new Set(['application/json', 'application/graphql+json']);

/**
 * Reads a JSON body of at most `limit` bytes and hands it to Yoga parsed, as
 * the upload path does: Yoga would otherwise wrap every body in a counting
 * TransformStream, a second Request and a stream pipeline whose AbortSignal
 * ends in a DOMException, which cost a small query a tenth of its CPU time.
 * A body that does not parse as a JSON object or list goes to Yoga as text,
 * so Yoga answers it as before. False: the body passed `limit` and the
 * request was answered.
 */
async function preparseJson(req: IncomingMessage, res: ServerResponse, limit: number): Promise<boolean> {
  const declared = req.headers['content-length'];
  // Yoga refuses a declared length past the limit (or a malformed one) before reading: its answer, unchanged.
  if (declared === undefined ? false : !/^\d+$/.test(declared) || Number(declared) > limit) return true;
  let body: Buffer | undefined;
  try {
    body = await readAtMost(req as AsyncIterable<Buffer>, limit);
  } catch (e) {
    // The client went away mid-body: nobody to answer, and no server error (the request line logs it as aborted).
    if (req.destroyed) return false;
    throw e;
  }
  if (body === undefined) {
    sendJson(res, 413, errorBody('PAYLOAD_TOO_LARGE', 'Request body too large'), { connection: 'close' });
    return false;
  }
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const usable = typeof parsed === 'object' && parsed !== null && Object.keys(parsed).length > 0;
  // whatwg-node takes a parsed object as the JSON request, and a string as the body to parse.
  (req as IncomingMessage & { body?: unknown }).body = usable ? parsed : text;
  return true;
}

/**
 * `/graphql`: CSRF is checked before any body byte is read, then the request
 * is admitted (authenticated and charged one to its client's rate limit; the
 * rest of its estimated cost is charged by `chargeOperations` once Yoga has
 * read it, and Yoga runs it inside its store-call budget, which charges the
 * calls made beyond the estimate at the end).
 * A POST must carry a body type Yoga reads (else 415); multipart uploads are
 * parsed here (a bad key is refused before a byte of the upload is read),
 * everything else is Yoga's, which answers a bad key when it builds the
 * context. A browser's GET (Accept: text/html) gets GraphiQL's page instead,
 * which needs no key.
 */
export async function graphqlRoute(
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  deps: GraphQLRouteDeps,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (isCsrfSuspect(method, req.headers)) {
    return sendJson(res, 403, errorBody('FORBIDDEN', CSRF_MESSAGE));
  }
  const admitted = await deps.admission.admit(req, 'graphql');
  const { identity } = admitted;
  const context: ServerContext = {
    requestId,
    caller: identity.caller,
    chargeOperations: (count) => admitted.charge(count),
  };
  if (deps.graphiql && wantsPage(req)) return deps.graphiql.sendPage(res);
  if (method === 'POST') {
    // Some clients send a list; Yoga reads its first entry, and so does this check.
    const header = req.headers['content-type']?.split(',')[0];
    const type = header === undefined ? undefined : mediaType(header);
    if (header === undefined || type === undefined || !GRAPHQL_POST_TYPES.has(type)) {
      // Yoga would answer 415 with an empty body.
      return sendJson(
        res,
        415,
        errorBody(
          'BAD_USER_INPUT',
          `POST /graphql takes application/json, or multipart/form-data for uploads; this request is ${type ?? 'without a valid content type'}.`,
        ),
      );
    }
    if (type === 'multipart/form-data') {
      // Known before a byte of the upload is read: a bad key costs no body.
      if (identity.error) throw identity.error;
      await preparseUpload(req, res, deps);
    } else {
      req.headers['content-type'] = asYogaSpells(header, type);
      if (JSON_TYPES.has(type) && !(await preparseJson(req, res, deps.config.maxJsonBodyBytes))) return;
    }
  }
  await admitted.budgeted(async () => deps.yoga.handle(req, res, context));
}
