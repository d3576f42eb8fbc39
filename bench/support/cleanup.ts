/**
 * Temporary directories to remove even when a run is interrupted (Ctrl-C):
 * each is registered while it exists, and the runner removes what is left
 * on SIGINT or SIGTERM. (The child servers stop by themselves: they share the
 * terminal's signal, and their stdin closes when the runner exits.)
 */
const pending = new Set<() => Promise<void>>();

/** Registers a removal; call the returned function once it has been done normally. */
export function onInterrupt(remove: () => Promise<void>): () => void {
  pending.add(remove);
  return () => pending.delete(remove);
}

/** Runs every registered removal (used by the runner's signal handler). */
export async function removeLeftovers(): Promise<void> {
  const removals = [...pending];
  pending.clear();
  await Promise.allSettled(removals.map((remove) => remove()));
}
