/**
 * `fetch` made with XMLHttpRequest, for requests whose upload progress the
 * console shows (fetch has no upload progress events): apollo-upload-client
 * sends its requests through it, and parts go straight to the store with it.
 */

/** What a caller adds to a request's options: where upload progress goes. */
export interface ProgressOptions {
  onProgress?: (loaded: number) => void;
}

const headersOf = (xhr: XMLHttpRequest) => {
  const headers = new Headers();
  for (const line of xhr
    .getAllResponseHeaders()
    .trim()
    .split(/[\r\n]+/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return headers;
};

/** A network failure (refused, blocked by the page's policy, aborted): what fetch rejects with. */
export class NetworkError extends Error {
  constructor(
    message: string,
    readonly aborted = false,
  ) {
    super(message);
  }
}

export function xhrFetch(input: RequestInfo | URL, init: RequestInit & ProgressOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(init.method ?? 'GET', String(input));
    xhr.responseType = 'arraybuffer';
    new Headers(init.headers).forEach((value, name) => {
      xhr.setRequestHeader(name, value);
    });
    const { onProgress, signal } = init;
    if (onProgress) xhr.upload.onprogress = (event) => onProgress(event.loaded);
    const abort = () => xhr.abort();
    signal?.addEventListener('abort', abort, { once: true });
    xhr.onload = () => {
      signal?.removeEventListener('abort', abort);
      // A status Response cannot carry (1xx) is not an answer a caller can read anyway.
      const status = xhr.status >= 200 && xhr.status <= 599 ? xhr.status : 502;
      resolve(
        new Response(status === 204 || status === 304 ? null : xhr.response, { status, headers: headersOf(xhr) }),
      );
    };
    xhr.onerror = () => reject(new NetworkError('The request did not reach the server.'));
    xhr.onabort = () => reject(new NetworkError('Cancelled.', true));
    if (signal?.aborted) {
      reject(new NetworkError('Cancelled.', true));
      return;
    }
    xhr.send((init.body as XMLHttpRequestBodyInit | null | undefined) ?? null);
  });
}
