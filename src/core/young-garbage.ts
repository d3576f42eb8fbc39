/**
 * Minor collections for bodies that stream through a thread.
 *
 * A body arrives as 64 KiB socket reads: buffers outside V8's heap whose
 * JavaScript objects are tiny. The young generation fills so slowly that V8
 * collects the dead ones only when about 64 MiB of them have piled up (its
 * external-memory trigger), so a thread that copies or writes a body and
 * drops the reads held up to that much more memory under an upload. When the
 * process runs with `--expose-gc` (as `npm start` and the Docker image do),
 * `bodyBytesDone` runs a minor collection, a scavenge of the young generation
 * costing well under a millisecond, every COLLECT_EVERY bytes, and so frees
 * the reads while they are young. Without the flag it does nothing.
 *
 * The count is per thread (each has its own copy of this module): the
 * embedded store's worker counts what it writes to disk, the API thread what
 * `uploadObject` copies into its part buffers.
 */
const COLLECT_EVERY = 4 * 1024 * 1024;
let sinceCollection = 0;

/** `bytes` of a body were handled and their socket reads dropped. */
export function bodyBytesDone(bytes: number): void {
  sinceCollection += bytes;
  if (sinceCollection < COLLECT_EVERY) return;
  sinceCollection = 0;
  globalThis.gc?.({ type: 'minor' });
}
