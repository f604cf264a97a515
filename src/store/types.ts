/**
 * Berth's state store: one interface for every backend (embedded SQLite; PostgreSQL, which
 * several control-plane replicas share), verified by one conformance suite (test/store).
 * Writes with optimistic concurrency go through the domain's one primitive, src/domain/mutate.ts.
 *
 * The model is a versioned key-value store, like etcd's:
 * - every record lives under (kind, key) and carries `rev`, the store revision of its last write;
 * - `commit` applies a batch of writes atomically; each write may demand the record's current
 *   `rev` (optimistic concurrency; 0 = "must not exist") and the whole batch fails with
 *   `ConflictError` if any demand is not met;
 * - each commit gets the next store revision, and the change feed lists every write after a
 *   revision, so controllers can watch from where they left off.
 * Values are JSON. A commit that returned has been made durable (it survives `kill -9`).
 */
export interface StoredRecord<T = unknown> {
  kind: string;
  key: string;
  rev: number;
  value: T;
}

export interface Write {
  kind: string;
  key: string;
  /** The new value; null deletes the record. */
  value: unknown | null;
  /** If set, the record's current rev must equal this (0: the record must not exist). */
  expectRev?: number;
}

/**
 * A condition a commit must meet without writing: the record's current `rev` (0: it must not
 * exist). Controllers fence their writes with one on their duty's lease token record, so a
 * replica that lost the lease cannot write any more (src/control/leadership.ts).
 */
export interface Guard {
  kind: string;
  key: string;
  rev: number;
}

export interface Change {
  rev: number;
  kind: string;
  key: string;
  /** The value written, or null for a delete. */
  value: unknown | null;
}

export interface ListOptions {
  /** Only keys starting with this. */
  prefix?: string;
  /** Only keys strictly after this (for pagination). */
  after?: string;
  limit?: number;
}

/** Thrown by `commit` when an expected revision does not match. */
export class ConflictError extends Error {
  constructor(readonly kind: string, readonly key: string, readonly expected: number, readonly actual: number) {
    super(`conflict on ${kind}/${key}: expected rev ${expected}, found ${actual}`);
    this.name = 'ConflictError';
  }
}

export interface Store {
  get<T>(kind: string, key: string): Promise<StoredRecord<T> | undefined>;
  /**
   * The records of a kind under each of `keys`, in the order asked (undefined where absent):
   * one read for many keys (an index's entries, say) instead of one `get` each.
   */
  getMany<T>(kind: string, keys: string[]): Promise<Array<StoredRecord<T> | undefined>>;
  /** Records of a kind in key order. */
  list<T>(kind: string, opts?: ListOptions): Promise<StoredRecord<T>[]>;
  /**
   * Applies the writes atomically and returns the new store revision; with `guards`, only if
   * every guarded record is at the revision given (else ConflictError, nothing written).
   */
  commit(writes: Write[], guards?: readonly Guard[]): Promise<number>;
  /** The latest store revision (0 for an empty store). */
  revision(): Promise<number>;
  /** Changes with rev > afterRev, oldest first. */
  changes(afterRev: number, limit?: number): Promise<Change[]>;
  /**
   * Calls `listener` for each change after `afterRev`, in order, now and as they happen.
   * Returns a function that stops watching.
   */
  watch(afterRev: number, listener: (c: Change) => void): () => void;
  /** Removes everything (for `berth up --ephemeral` resets between tests). */
  reset(): Promise<void>;
  close(): Promise<void>;
}
