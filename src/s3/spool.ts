import { createReadStream, type WriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { partTooLarge } from '../core/errors.js';

/**
 * Turns a stream of unknown length into a body of known length, which S3's
 * UploadPart needs up front (the GraphQL multipart request spec does not send
 * a file's size).
 *
 * The first `memoryBytes` are kept in memory; a stream that ends within them
 * is returned from memory. A longer one is written, with what was kept, to a
 * file in a private directory (`mkdtemp`, mode 0700) under the temporary
 * directory (`os.tmpdir()`, i.e. `TMPDIR`), file mode 0600, and read back
 * from there. So the memory one spool holds is at most `memoryBytes` plus
 * the streams' buffers (64 KiB each way), whatever the part's size; the disk
 * it holds is the part's size, until `dispose()`.
 *
 * More than `maxBytes` bytes fail with PAYLOAD_TOO_LARGE; a failing source
 * (the client disconnected) fails with the source's error. In every failed
 * case the file and its directory are removed before the promise rejects.
 */

/** Bytes a spool keeps in memory before it moves to a temporary file. */
export const SPOOL_MEMORY_BYTES = 8 * 1024 * 1024;

/** The name of each spool directory begins with this, in the temporary directory. */
export const SPOOL_DIR_PREFIX = 's3-graphql-part-';

export interface SpoolOptions {
  /** Largest body accepted; one byte more fails with PAYLOAD_TOO_LARGE. */
  maxBytes: number;
  /** Bytes kept in memory before spilling to a file (default SPOOL_MEMORY_BYTES). */
  memoryBytes?: number;
  /** Where the private spool directory is made (default: `os.tmpdir()`, read at each call). */
  directory?: string;
}

/** A body of known length, readable once or more, until `dispose()`. */
export interface Spooled {
  /** Exactly how many bytes `open()` streams. */
  readonly length: number;
  /** True when the body was written to a temporary file. */
  readonly onDisk: boolean;
  /** A new stream of the body. */
  open(): Readable;
  /** Deletes the temporary file and its directory (if any); safe to call more than once. */
  dispose(): Promise<void>;
}

/** Reads `source` to its end (see the module comment) and returns it as a body of known length. */
export async function spool(source: Readable, options: SpoolOptions): Promise<Spooled> {
  const memoryBytes = options.memoryBytes ?? SPOOL_MEMORY_BYTES;
  const { maxBytes } = options;
  let kept: Buffer[] = [];
  let length = 0;
  let dir: string | undefined;
  let file: WriteStream | undefined;
  const removeDir = async () => {
    if (dir !== undefined) {
      const path = dir;
      dir = undefined;
      await rm(path, { recursive: true, force: true });
    }
  };

  const sink = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      length += chunk.length;
      if (length > maxBytes) {
        callback(partTooLarge(maxBytes));
        return;
      }
      if (file === undefined && length <= memoryBytes) {
        kept.push(chunk);
        callback();
        return;
      }
      const write = (stream: WriteStream) => {
        if (stream.write(chunk)) callback();
        else stream.once('drain', () => callback());
      };
      if (file !== undefined) {
        write(file);
        return;
      }
      opening ??= openFile();
      opening.then(
        (stream) => {
          for (const buffer of kept) stream.write(buffer);
          kept = [];
          write(stream);
        },
        (err: unknown) => callback(err as Error),
      );
    },
    final(callback) {
      if (file === undefined) {
        callback();
        return;
      }
      file.end(() => callback());
    },
    destroy(err, callback) {
      if (file !== undefined && !file.destroyed) file.destroy();
      callback(err);
    },
  });

  let filePath: string | undefined;
  let opening: Promise<WriteStream> | undefined;
  const openFile = async (): Promise<WriteStream> => {
    dir = await mkdtemp(join(options.directory ?? tmpdir(), SPOOL_DIR_PREFIX));
    filePath = join(dir, 'part');
    const handle = await open(filePath, 'wx', 0o600);
    const stream = handle.createWriteStream({ highWaterMark: 64 * 1024 });
    stream.on('error', (err) => sink.destroy(err));
    file = stream;
    return stream;
  };

  try {
    await pipeline(source, sink);
    if (file !== undefined && !file.closed) await new Promise<void>((resolve) => file!.once('close', () => resolve()));
  } catch (err) {
    if (!source.destroyed) source.destroy();
    // A file being created as the source failed is removed too.
    await opening?.catch(() => undefined);
    if (file !== undefined && !file.closed) {
      const stream = file;
      await new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        stream.destroy();
      });
    }
    await removeDir();
    throw err;
  }

  if (filePath === undefined) {
    const body = kept;
    return {
      length,
      onDisk: false,
      open: () => Readable.from(body, { objectMode: false }),
      dispose: async () => {
        body.length = 0;
      },
    };
  }
  const path = filePath;
  return {
    length,
    onDisk: true,
    open: () => createReadStream(path, { highWaterMark: 64 * 1024 }),
    dispose: removeDir,
  };
}
