/**
 * The spool behind `multipart.uploadPart` (src/s3/spool.ts), in-process: where
 * a body goes (memory or a private 0600 file), the exact size limit, and
 * that nothing is left on disk after dispose() or after any failure.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { SPOOL_DIR_PREFIX, spool } from '../../src/s3/spool.js';
import { KiB, randomBytes, randomStream, sha256Of } from '../support/data.js';

describe('spool', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'spool-test-'));
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));
  afterEach(async () => {
    expect(await readdir(directory)).toEqual([]);
  });

  const expected = async (size: number, seed: string) => (await sha256Of(randomStream(size, seed))).sha256;

  it('keeps a body within memoryBytes in memory and gives it back, as often as asked', async () => {
    const spooled = await spool(randomStream(100 * KiB, 'mem'), {
      maxBytes: 1024 * KiB,
      memoryBytes: 100 * KiB,
      directory,
    });
    expect({ length: spooled.length, onDisk: spooled.onDisk }).toEqual({ length: 100 * KiB, onDisk: false });
    expect(await readdir(directory)).toEqual([]);
    const want = await expected(100 * KiB, 'mem');
    expect((await sha256Of(spooled.open())).sha256).toBe(want);
    expect((await sha256Of(spooled.open())).sha256).toBe(want);
    await spooled.dispose();
  });

  it('moves a longer body to a 0600 file in a private 0700 directory, removed by dispose()', async () => {
    const size = 300 * KiB + 7;
    const spooled = await spool(randomStream(size, 'disk'), { maxBytes: size, memoryBytes: 100 * KiB, directory });
    expect({ length: spooled.length, onDisk: spooled.onDisk }).toEqual({ length: size, onDisk: true });
    const [dir] = await readdir(directory);
    expect(dir!.startsWith(SPOOL_DIR_PREFIX)).toBe(true);
    expect((await stat(join(directory, dir!))).mode & 0o777).toBe(0o700);
    const file = await stat(join(directory, dir!, 'part'));
    expect({ size: file.size, mode: file.mode & 0o777 }).toEqual({ size, mode: 0o600 });
    expect((await sha256Of(spooled.open())).sha256).toBe(await expected(size, 'disk'));
    await spooled.dispose();
    await spooled.dispose();
  });

  it('accepts exactly maxBytes and an empty body', async () => {
    const exact = await spool(randomStream(64 * KiB, 'exact'), {
      maxBytes: 64 * KiB,
      memoryBytes: 16 * KiB,
      directory,
    });
    expect(exact.length).toBe(64 * KiB);
    await exact.dispose();
    const empty = await spool(Readable.from([]), { maxBytes: 1, directory });
    expect(empty.length).toBe(0);
    expect((await sha256Of(empty.open())).bytes).toBe(0);
    await empty.dispose();
  });

  for (const [where, memoryBytes] of [
    ['memory', 1024 * KiB],
    ['a file', 16 * KiB],
  ] as const) {
    it(`fails one byte over maxBytes with PAYLOAD_TOO_LARGE (in ${where}) and leaves nothing`, async () => {
      const source = randomStream(64 * KiB + 1, 'over');
      const failure = await spool(source, { maxBytes: 64 * KiB, memoryBytes, directory }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(AppError);
      expect((failure as AppError).code).toBe('PAYLOAD_TOO_LARGE');
      expect(source.destroyed).toBe(true);
    });
  }

  it('fails with the source’s error when the source fails midway (client gone) and leaves nothing', async () => {
    const source = new PassThrough();
    const pending = spool(source, { maxBytes: 1024 * KiB, memoryBytes: 16 * KiB, directory });
    source.write(await randomBytes(40 * KiB, 'midway'));
    // Wait until the spool has its file, then fail the source.
    for (let i = 0; i < 100 && (await readdir(directory)).length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect((await readdir(directory)).length).toBe(1);
    const gone = new Error('client disconnected');
    source.destroy(gone);
    await expect(pending).rejects.toBe(gone);
  });

  it('fails cleanly when the source fails before the file exists', async () => {
    const source = new PassThrough();
    const pending = spool(source, { maxBytes: 1024 * KiB, memoryBytes: 16 * KiB, directory });
    source.write(Buffer.alloc(17 * KiB));
    source.destroy(new Error('at once'));
    await expect(pending).rejects.toThrow('at once');
  });
});
