/**
 * A store whose every commit is fenced: it carries a guard on the record that proves the
 * writer still holds its lease (src/control/leadership.ts gives the guard), so a replica that
 * lost the lease, or was paused past it, cannot write any more, even if it does not know yet.
 * Reads and watches go straight through.
 */
import { ConflictError, type Guard, type Store } from './types.js';

/** A fenced commit from a replica that does not (or no longer) hold the lease. */
export class NotLeaderError extends Error {
  constructor(readonly duty: string) {
    super(`this replica does not hold the lease for ${duty}: the write was refused`);
    this.name = 'NotLeaderError';
  }
}

/**
 * `inner` with every commit guarded by `fence()` (undefined: no lease held, so nothing may be
 * written). A guard that fails means another replica took the lease: NotLeaderError, which the
 * domain's retry loop does not retry.
 */
export function fencedStore(inner: Store, duty: string, fence: () => Guard | undefined): Store {
  return {
    get: (kind, key) => inner.get(kind, key),
    getMany: (kind, keys) => inner.getMany(kind, keys),
    list: (kind, opts) => inner.list(kind, opts),
    revision: () => inner.revision(),
    changes: (afterRev, limit) => inner.changes(afterRev, limit),
    watch: (afterRev, listener) => inner.watch(afterRev, listener),
    reset: () => inner.reset(),
    close: () => inner.close(),
    async commit(writes, guards = []) {
      const g = fence();
      if (!g) throw new NotLeaderError(duty);
      try {
        return await inner.commit(writes, [...guards, g]);
      } catch (e) {
        if (e instanceof ConflictError && e.kind === g.kind && e.key === g.key) throw new NotLeaderError(duty);
        throw e;
      }
    },
  };
}
