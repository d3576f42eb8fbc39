/**
 * Forwards one request the API's server received under the store's mount
 * path (`/s3/…`) to the store's worker thread, on its loopback mount port,
 * and streams the answer back. The request goes on byte for byte as the
 * client signed it: the same method, target, Host and other headers (in
 * their order and case), and body; only the hop-by-hop headers of each
 * connection, and any the API's server took off the request, are left out.
 */
import { type Agent, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';

/** Headers about one connection, not the request (RFC 9110 §7.6.1); each side sets its own. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * The end-to-end headers of `raw`, in order and case; with `kept`, only
 * those still named in it (a header the API's server removed from the
 * request, such as a followed Bearer token, stays removed).
 */
function endToEnd(raw: readonly string[], kept?: IncomingMessage['headers']): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || (kept !== undefined && kept[name] === undefined)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** What an S3 client gets when the store cannot be reached at all. */
const UNAVAILABLE =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>' +
  '<Message>The embedded store is not answering.</Message></Error>';

export function forward(agent: Agent, port: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const upstream = request({
      agent,
      host: '127.0.0.1',
      port,
      method: req.method,
      path: req.url,
      headers: endToEnd(req.rawHeaders, req.headers),
    });
    let answered = false;
    const fail = () => {
      if (!res.headersSent) {
        res.writeHead(503, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(UNAVAILABLE) });
        res.end(UNAVAILABLE);
      } else res.destroy();
      resolve();
    };
    // After the answer has begun, a failure shows on the answer's own stream (the pipeline below).
    upstream.on('error', () => {
      if (!answered) fail();
    });
    upstream.once('response', (answer) => {
      answered = true;
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.rawHeaders));
      pipeline(answer, res).then(resolve, () => {
        res.destroy();
        resolve();
      });
    });
    // The client went away: so does the forwarded request (the store cleans up as after any cut connection).
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    // A store that answered before reading the whole body (a refusal) closes its side: its answer still goes out.
    pipeline(req, upstream).catch(() => {
      if (!answered) upstream.destroy();
    });
  });
}
