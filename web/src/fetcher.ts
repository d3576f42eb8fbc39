/**
 * GraphiQL's fetcher: JSON requests as usual, and a GraphQL multipart request
 * (https://github.com/jaydenseric/graphql-multipart-request-spec) when files
 * are bound to variables of the operation, which GraphiQL itself cannot send
 * (graphiql#3511).
 */
import type { GraphiQLProps } from 'graphiql';
import { Kind, parse } from 'graphql';

type Fetcher = GraphiQLProps['fetcher'];
type FetcherParams = Parameters<Fetcher>[0];

/** A file picked in the Files panel, for the variable at `path` (`file`, `files.0`, `input.file`). */
export interface FileBinding {
  path: string;
  file: File;
}

/** The variables the operation GraphiQL runs declares; none when the document does not parse (the server says why). */
function declaredVariables({ query, operationName }: FetcherParams): Set<string> {
  try {
    const operations = parse(query).definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
    return new Set(operation?.variableDefinitions?.map((v) => v.variable.name.value) ?? []);
  } catch {
    return new Set();
  }
}

/** Sets `variables` at the dotted `path` to null (the spec's placeholder), making objects and lists on the way. */
function placeNull(variables: Record<string, unknown>, path: string[]): void {
  let holder: Record<string, unknown> | unknown[] = variables;
  path.forEach((segment, i) => {
    const slot = holder as Record<string, unknown>;
    if (i === path.length - 1) {
      slot[segment] = null;
      return;
    }
    const next = slot[segment];
    if (typeof next !== 'object' || next === null) slot[segment] = /^\d+$/.test(path[i + 1]!) ? [] : {};
    holder = slot[segment] as Record<string, unknown>;
  });
}

/** The multipart body: `operations` (files as nulls), `map` (part name to variable path), then the files. */
function multipartBody(params: FetcherParams, files: FileBinding[]): FormData {
  const variables = structuredClone(params.variables ?? {}) as Record<string, unknown>;
  const map: Record<string, string[]> = {};
  files.forEach(({ path }, i) => {
    placeNull(variables, path.split('.'));
    map[String(i)] = [`variables.${path}`];
  });
  const body = new FormData();
  body.append('operations', JSON.stringify({ ...params, variables }));
  body.append('map', JSON.stringify(map));
  files.forEach(({ file }, i) => {
    body.append(String(i), file, file.name);
  });
  return body;
}

/** Reads an answer: JSON as GraphQL answers are; anything else becomes one error with the body's start. */
async function resultOf(res: Response) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return { errors: [{ message: `HTTP ${res.status}: ${text.slice(0, 500)}` }] };
  }
}

/**
 * A fetcher for `endpoint`. `files()` gives the current bindings; those whose
 * variable the operation declares go with it as a multipart request, with
 * the CSRF header the server asks of browser-simple requests. The headers
 * editor's headers go with every request.
 */
export function createFetcher(endpoint: string, files: () => FileBinding[]): Fetcher {
  return async (params, opts) => {
    const headers: Record<string, string> = {
      accept: 'application/graphql-response+json, application/json',
      ...(opts?.headers as Record<string, string> | undefined),
    };
    const declared = declaredVariables(params);
    const bound = files().filter(({ path }) => declared.has(path.split('.')[0]!));
    const init: RequestInit =
      bound.length > 0
        ? { body: multipartBody(params, bound), headers: { ...headers, 'x-graphql-csrf': '1' } }
        : { body: JSON.stringify(params), headers: { ...headers, 'content-type': 'application/json' } };
    const res = await fetch(endpoint, { ...init, method: 'POST', credentials: 'same-origin' });
    return resultOf(res);
  };
}
