/**
 * A body read whole, up to `limit` bytes: its bytes, or undefined as soon as
 * it passes the limit. Leaving the loop early ends the iteration, which
 * destroys a Readable (a request, a response): nothing more of it is read.
 */
export async function readAtMost(body: AsyncIterable<Buffer>, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += chunk.length;
    if (length > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, length);
}
