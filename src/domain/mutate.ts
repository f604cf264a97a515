/**
 * The one write primitive of the domain: optimistic read-decide-commit, retried on conflict.
 *
 * Every domain write reads what it depends on, decides, and commits with the revisions it read
 * (`expectRev`), so a concurrent writer (another request, a controller, another control-plane
 * replica) makes the commit fail whole and nothing is applied. `retrying` runs such an attempt
 * again, from its reads, up to `MAX_ATTEMPTS` times; after that it gives up with one error,
 * `ConcurrentModificationException` (409), whatever the record. Attempts must be safe to
 * repeat: they may not have effects outside their own commit.
 */
import { contentionError } from '../errors.js';
import { ConflictError, type StoredRecord, type Store, type Write } from '../store/types.js';

/** How many times one write is attempted before it fails with ConcurrentModificationException. */
export const MAX_ATTEMPTS = 30;

/** Runs `attempt` until it completes without a `ConflictError` from the store, at most MAX_ATTEMPTS times. */
export async function retrying<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      if (i >= MAX_ATTEMPTS) throw contentionError(what);
    }
  }
}

/**
 * What a change function returns: the new value, `null` to delete the record, or `undefined`
 * for "no change" (nothing is written).
 */
export type Change<T> = T | null | undefined;

/** The outcome of `mutate`: the record's value after it (undefined if absent or deleted) and whether anything was written. */
export interface Mutated<T> {
  value: T | undefined;
  /** The record before (undefined if it did not exist). */
  before: StoredRecord<T> | undefined;
  changed: boolean;
}

export interface MutateOptions<T> {
  /** A name for the record in the contention error (default `kind key`). */
  what?: string;
  /** More writes to commit atomically with the change (e.g. index entries), from before and after. */
  alsoWrite?: (before: T | undefined, after: T | null) => Write[];
}

/**
 * Read-modify-write of one record. `change` gets a private copy of the current value (undefined
 * when absent) and returns the new value, `null` to delete it or `undefined` to leave it; it may
 * throw (a `ServiceError`, say) to abort with nothing written. Retried on conflict.
 */
export async function mutate<T>(store: Store, kind: string, key: string, change: (current: T | undefined) => Change<T>, opts: MutateOptions<T> = {}): Promise<Mutated<T>> {
  return retrying(opts.what ?? `${kind} ${key}`, async () => {
    const before = await store.get<T>(kind, key);
    const next = change(before === undefined ? undefined : structuredClone(before.value));
    if (next === undefined) return { value: before?.value, before, changed: false };
    if (next === null && !before) return { value: undefined, before, changed: false };
    await store.commit([{ kind, key, value: next, expectRev: before?.rev ?? 0 }, ...(opts.alsoWrite?.(before?.value, next) ?? [])]);
    return { value: next ?? undefined, before, changed: true };
  });
}

/**
 * Deletes each record whose current revision is still the one read, skipping those changed
 * since (a newer write wins). For sweeps that remove what expired. Returns how many went.
 */
export async function deleteIfUnchanged(store: Store, records: ReadonlyArray<{ kind: string; key: string; rev: number }>): Promise<number> {
  let n = 0;
  for (const r of records) {
    try {
      await store.commit([{ kind: r.kind, key: r.key, value: null, expectRev: r.rev }]);
      n++;
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }
  }
  return n;
}
