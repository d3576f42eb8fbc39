/** What the caller may do where, from `viewer.grants` (roles nest: READ < WRITE < ADMIN). */
import type { Role, Viewer } from './operations';

const RANK: Record<Role, number> = { READ: 1, WRITE: 2, ADMIN: 3 };

/** The highest role the viewer holds on `bucket` (a grant on it or on `*`); 0 when none. */
function rankOn(viewer: Viewer, bucket: string): number {
  return Math.max(0, ...viewer.grants.filter((g) => g.bucket === '*' || g.bucket === bucket).map((g) => RANK[g.role]));
}

export interface Abilities {
  /** Upload, copy, rename and delete objects. */
  write: boolean;
  /** Delete the bucket. */
  admin: boolean;
}

export const abilitiesOn = (viewer: Viewer, bucket: string): Abilities => ({
  write: rankOn(viewer, bucket) >= RANK.WRITE,
  admin: rankOn(viewer, bucket) >= RANK.ADMIN,
});

/** Creating a bucket needs ADMIN on its name: offered when the viewer is ADMIN anywhere. */
export const canCreateBuckets = (viewer: Viewer) => viewer.grants.some((g) => g.role === 'ADMIN');
