/**
 * Sending one file: up to MULTIPART_THRESHOLD through `uploadObject` (one
 * GraphQL multipart request), larger ones through the `multipart` group:
 * `create`, then PART_CONCURRENCY parts at a time, each PUT straight to the
 * store at its presigned URL, or through `uploadPart` when that fails (a
 * store on another origin: the page's policy and CORS stop the PUT; its
 * ETag unreadable), then `complete`. Cancelling (or a failure) aborts the
 * multipart upload, so nothing is left behind.
 */
import type { Client } from './api';
import {
  MULTIPART_ABORT,
  MULTIPART_COMPLETE,
  MULTIPART_CREATE,
  MULTIPART_PRESIGN,
  MULTIPART_UPLOAD_PART,
  UPLOAD_OBJECT,
} from './operations';
import { NetworkError, xhrFetch } from './xhr-fetch';

const MiB = 1024 * 1024;
/** Files above this go in parts (the server's UPLOAD_PART_SIZE default, so small files never need a multipart upload). */
const MULTIPART_THRESHOLD = 8 * MiB;
const PART_SIZE = 8 * MiB;
const PART_CONCURRENCY = 4;

export interface UploadJob {
  bucket: string;
  key: string;
  file: File;
  /** Bytes sent so far (it can go back when a part is sent again another way). */
  onProgress: (loaded: number) => void;
  signal: AbortSignal;
}

/**
 * Whether parts may go straight to the store: until a direct PUT fails in
 * this tab, then through the server for the rest of the tab's life.
 */
let directParts = true;

export async function uploadFile(client: Client, job: UploadJob): Promise<void> {
  if (job.file.size <= MULTIPART_THRESHOLD) {
    await client.mutate({
      mutation: UPLOAD_OBJECT,
      variables: { bucket: job.bucket, key: job.key, file: job.file, contentType: job.file.type || null },
      context: { fetchOptions: { onProgress: job.onProgress, signal: job.signal } },
    });
    return;
  }
  await uploadInParts(client, job);
}

async function uploadInParts(client: Client, job: UploadJob): Promise<void> {
  const { bucket, key, file, signal } = job;
  const created = await client.mutate({
    mutation: MULTIPART_CREATE,
    variables: { bucket, key, contentType: file.type || null },
  });
  const uploadId = created.data!.multipart.create.uploadId;
  const target = { bucket, key, uploadId };
  const count = Math.ceil(file.size / PART_SIZE);
  const loaded = new Array<number>(count).fill(0);
  const report = (index: number, bytes: number) => {
    loaded[index] = bytes;
    job.onProgress(loaded.reduce((a, b) => a + b, 0));
  };
  const etags = new Array<string>(count);
  let next = 0;

  async function sendPart(index: number) {
    const blob = file.slice(index * PART_SIZE, Math.min(file.size, (index + 1) * PART_SIZE));
    const partNumber = index + 1;
    const onProgress = (bytes: number) => report(index, bytes);
    if (directParts) {
      const etag = await putDirect(client, { ...target, partNumber }, blob, onProgress, signal);
      if (etag !== undefined) {
        etags[index] = etag;
        return;
      }
      directParts = false;
      report(index, 0);
    }
    const sent = await client.mutate({
      mutation: MULTIPART_UPLOAD_PART,
      variables: { ...target, partNumber, file: blob, size: blob.size },
      context: { fetchOptions: { onProgress, signal } },
    });
    etags[index] = sent.data!.multipart.uploadPart.etag;
  }

  async function worker() {
    while (next < count) {
      signal.throwIfAborted();
      const index = next++;
      await sendPart(index);
      report(index, Math.min(PART_SIZE, file.size - index * PART_SIZE));
    }
  }

  try {
    await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, count) }, worker));
    signal.throwIfAborted();
    await client.mutate({
      mutation: MULTIPART_COMPLETE,
      variables: { ...target, parts: etags.map((etag, i) => ({ partNumber: i + 1, etag })) },
    });
  } catch (err) {
    // Abort whatever the failure or cancel: the parts sent so far would otherwise stay in the store.
    await client.mutate({ mutation: MULTIPART_ABORT, variables: target }).catch(() => undefined);
    throw err;
  }
}

/** PUTs one part at its presigned URL; its ETag, or undefined when the store could not be reached or read. */
async function putDirect(
  client: Client,
  part: { bucket: string; key: string; uploadId: string; partNumber: number },
  blob: Blob,
  onProgress: (loaded: number) => void,
  signal: AbortSignal,
): Promise<string | undefined> {
  const presigned = (await client.mutate({ mutation: MULTIPART_PRESIGN, variables: part })).data!.multipart.presignPart;
  const headers = Object.fromEntries(presigned.headers.map(({ key, value }) => [key, value]));
  try {
    const res = await xhrFetch(presigned.url, { method: 'PUT', headers, body: blob, onProgress, signal });
    const etag = res.headers.get('etag');
    return res.ok && etag ? etag : undefined;
  } catch (err) {
    if (err instanceof NetworkError && !err.aborted) return undefined;
    throw err;
  }
}
