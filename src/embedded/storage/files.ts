/**
 * File primitives of the store: full reads and writes, streaming a body into
 * a file (counting, hashing and fsyncing on the way), atomic replacement.
 * Every write goes to a new file in tmp/ (same file system), is fsynced and
 * then renamed over the old one.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { bodyBytesDone } from '../../core/young-garbage.js';
import { errors } from '../errors.js';

/** Reads and writes move at most this much at a time (and a file sink buffers at most this much). */
export const IO_CHUNK = 1024 * 1024;
const SYNC_EVERY = 16 * 1024 * 1024;

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return err instanceof Error && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

export async function readFully(fh: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await fh.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) throw new Error('unexpected end of file');
    done += bytesRead;
  }
}

export async function writeFully(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let pending = buffers;
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await fh.writev(pending, at);
    if (bytesWritten === 0) throw new Error('write made no progress');
    at += bytesWritten;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const buf of pending) {
      if (skip >= buf.length) {
        skip -= buf.length;
      } else {
        rest.push(skip > 0 ? buf.subarray(skip) : buf);
        skip = 0;
      }
    }
    pending = rest;
  }
}

/**
 * Writes a stream into an open file from offset 0, counting and (optionally)
 * MD5-hashing on the way. Chunks that arrive while a write is in flight are
 * written together (writev), up to the 1 MiB high-water mark. Every
 * SYNC_EVERY bytes it starts an fdatasync in the background, so dirty pages
 * reach the disk while the body is still arriving and the final fsync only
 * has the tail left to flush.
 */
class FileSink extends Writable {
  size = 0;
  private readonly hash: Hash | undefined;
  private unsynced = 0;
  private syncing: Promise<void> | undefined;
  private syncError: Error | undefined;

  constructor(
    private readonly fh: FileHandle,
    private readonly maxSize: number,
    md5: boolean,
  ) {
    super({ highWaterMark: IO_CHUNK });
    this.hash = md5 ? createHash('md5') : undefined;
  }

  digest(): Buffer | undefined {
    return this.hash?.digest();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer | string }>, callback: (error?: Error | null) => void): void {
    const buffers: Buffer[] = [];
    let length = 0;
    for (const { chunk } of chunks) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      length += buffer.length;
      this.hash?.update(buffer);
      buffers.push(buffer);
    }
    if (this.size + length > this.maxSize) {
      callback(errors.entityTooLarge(this.maxSize));
      return;
    }
    if (this.syncError) {
      callback(this.syncError);
      return;
    }
    writeFully(this.fh, buffers, this.size).then(() => {
      this.size += length;
      this.unsynced += length;
      bodyBytesDone(length);
      if (this.unsynced >= SYNC_EVERY && !this.syncing) {
        this.unsynced = 0;
        this.syncing = this.fh.datasync().then(
          () => {
            this.syncing = undefined;
          },
          (err: Error) => {
            this.syncError = err;
            this.syncing = undefined;
          },
        );
      }
      callback();
    }, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    Promise.resolve(this.syncing).then(() => callback(this.syncError), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    Promise.resolve(this.syncing).then(
      () => callback(error),
      () => callback(error),
    );
  }
}

interface Sources {
  source: AsyncIterable<Buffer | string> | Readable;
  maxSize: number;
  md5: boolean;
}

/** Streams `source` into `fh` from offset 0; resolves with the size (and MD5) once all of it is written. */
export async function streamToFile(
  fh: FileHandle,
  { source, maxSize, md5 }: Sources,
): Promise<{ size: number; md5?: Buffer }> {
  const sink = new FileSink(fh, maxSize, md5);
  await pipeline(source, sink);
  const digest = sink.digest();
  return digest ? { size: sink.size, md5: digest } : { size: sink.size };
}

/**
 * Writes `text` to the new file `tmp` (created with `mode`), fsyncs it and
 * renames it to `path`: a reader sees the old file or the whole new one, and
 * `tmp` is gone either way.
 */
export async function writeFileAtomic(tmp: string, path: string, text: string, mode: number): Promise<void> {
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Moves a directory to `trash` (a new path in tmp/: atomic) and removes it from there; a missing dir is no error. */
export async function removeDir(dir: string, trash: string): Promise<void> {
  try {
    await rename(dir, trash);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  await rm(trash, { recursive: true, force: true });
}
