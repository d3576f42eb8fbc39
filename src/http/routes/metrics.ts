import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../../observability/metrics.js';

/** `/metrics`: the Prometheus exposition of `metrics`, never cached; a HEAD request gets the headers only. */
export async function metricsRoute(req: IncomingMessage, res: ServerResponse, metrics: Metrics): Promise<void> {
  const text = await metrics.exposition();
  res.writeHead(200, {
    'content-type': metrics.contentType,
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : text);
}
