/**
 * The bare download baseline for `GET /objects`: a node:http server that
 * answers `GET /{bucket}/{key}` by piping the SDK's GetObject body to the
 * response, and nothing else (no auth, no headers beyond the length, no
 * metrics):
 *   run-proxy
 * with the store in S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY
 * (started by downloads.ts as transpiled JavaScript, see support/build.ts).
 * It speaks the child protocol of support/child.ts; its ready info is a
 * `ProxyInfo`.
 */
import { createServer } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { serveChild } from './support/child.js';

export interface ProxyInfo {
  /** http://127.0.0.1:PORT */
  endpoint: string;
}

async function main(): Promise<void> {
  const client = new S3Client({
    endpoint: process.env.S3_ENDPOINT,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID!, secretAccessKey: process.env.S3_SECRET_ACCESS_KEY! },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const server = createServer((req, res) => {
    const [bucket, ...key] = (req.url ?? '/').slice(1).split('/');
    client
      .send(new GetObjectCommand({ Bucket: bucket, Key: key.join('/') }))
      .then(async (object) => {
        res.writeHead(200, { 'content-length': String(object.ContentLength) });
        await pipeline(object.Body as Readable, res);
      })
      .catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(502).end(String(error));
        else res.destroy();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address');
  serveChild({ endpoint: `http://127.0.0.1:${address.port}` } satisfies ProxyInfo, async () => {
    server.close();
    client.destroy();
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`run-proxy: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
