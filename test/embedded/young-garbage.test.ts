/**
 * The embedded store's writes run a minor collection every 4 MiB when the
 * process has `gc` (npm start's --expose-gc), so the 64 KiB socket reads of a
 * body are freed while young (src/core/young-garbage.ts, called by
 * src/embedded/storage/files.ts; test/s3/part-upload.test.ts checks the API
 * side). Here `gc` is a recording stand-in: vitest's workers run without the
 * flag.
 */
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { streamToFile } from '../../src/embedded/storage/files.js';
import { MiB, randomStream } from '../support/data.js';

describe('minor collections while the store writes', () => {
  const realGc = globalThis.gc;
  afterEach(() => {
    globalThis.gc = realGc;
  });

  it('runs one minor collection per 4 MiB written, and none without gc', async () => {
    const dir = await mkdtemp(join(tmpdir(), 's3-graphql-young-'));
    const calls: unknown[] = [];
    try {
      globalThis.gc = ((options?: unknown) => {
        calls.push(options);
      }) as NodeJS.GCFunction;
      const fh = await open(join(dir, 'body'), 'w');
      const written = await streamToFile(fh, { source: randomStream(18 * MiB, 'young'), maxSize: 64 * MiB, md5: true });
      await fh.close();
      expect(written.size).toBe(18 * MiB);
      expect((await stat(join(dir, 'body'))).size).toBe(18 * MiB);
      // 18 MiB: four full 4 MiB steps (the counter is the store's, so an earlier write may have started one).
      expect(calls.length).toBeGreaterThanOrEqual(4);
      expect(calls.length).toBeLessThanOrEqual(5);
      expect(calls.every((c) => JSON.stringify(c) === '{"type":"minor"}')).toBe(true);

      globalThis.gc = undefined;
      const plain = await open(join(dir, 'plain'), 'w');
      await streamToFile(plain, { source: randomStream(9 * MiB, 'plain'), maxSize: 64 * MiB, md5: false });
      await plain.close();
      expect((await stat(join(dir, 'plain'))).size).toBe(9 * MiB);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
