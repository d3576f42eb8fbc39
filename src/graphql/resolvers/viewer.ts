import type { Context } from '../context.js';
import type { Caller } from '../../security/auth.js';

/** Query.viewer: the caller as authentication found it (its key's name and grants); no store call. */
export function viewer(_args: unknown, ctx: Context): Caller {
  return ctx.caller;
}
