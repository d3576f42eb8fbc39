/** Hand-built GraphQL multipart request bodies, for the cases no well-behaved client sends. */

export const BOUNDARY = 'test-boundary-7d1a';

export type Part = { name: string; value: string } | { name: string; filename: string; data: Buffer | string };

/** The multipart/form-data body of `parts`, closed with the final boundary unless `close` is false. */
export function multipartBody(parts: Part[], close = true): Uint8Array<ArrayBuffer> {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${BOUNDARY}\r\n`));
    if ('value' in part) {
      chunks.push(Buffer.from(`Content-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`));
    } else {
      chunks.push(
        Buffer.from(
          `Content-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\n` +
            'Content-Type: application/octet-stream\r\n\r\n',
        ),
        Buffer.from(part.data),
        Buffer.from('\r\n'),
      );
    }
  }
  if (close) chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return new Uint8Array(Buffer.concat(chunks));
}

/** The start of a body whose last part is a file still being sent: write its bytes after this. */
export function multipartHead(parts: Part[], fileName: string, filename: string): Uint8Array {
  return Buffer.concat([
    multipartBody(parts, false),
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${fileName}"; filename="${filename}"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    ),
  ]);
}

export const MULTIPART_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

export const UPLOAD_MUTATION =
  'mutation Upload($bucket: String!, $key: String!, $file: Upload!) { uploadObject(bucket: $bucket, key: $key, file: $file) { key size etag contentType } }';

/** The `operations` field of an uploadObject request. */
export const uploadOperations = (bucket: string, key: string) =>
  JSON.stringify({ query: UPLOAD_MUTATION, variables: { bucket, key, file: null } });
