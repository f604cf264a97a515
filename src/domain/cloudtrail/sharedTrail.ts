/**
 * The audit trail shared by the replicas of a PostgreSQL-backed Berth. Each replica writes the
 * records of the calls it answered into its own audit log (./auditLog.ts) and also publishes
 * them to the shared store, as batch records of kind `cloudtrail-batch`; every replica follows
 * the store's change feed and stores the other replicas' batches in its audit log. So
 * LookupEvents and `berth audit -f` on any replica see the calls made on all of them (within the
 * change feed's delay), and a replica that starts later first reads every batch still kept.
 *
 * Off the request path and bounded: batches wait at most {@link PUBLISH_DELAY_MS} and are
 * published in one commit; at most {@link MAX_UNPUBLISHED} records wait (a store that does not
 * answer makes the oldest be dropped and counted, never memory grow); a batch record holds at
 * most {@link MAX_BATCH_ROWS} records. In the store, batches are kept by the same bounds as the
 * audit log (age and count): {@link SharedAuditTrail.prune}, run as one replica's duty, deletes
 * the batches whose records are all past them. Batch keys begin with their newest record's time,
 * so the oldest batches come first in key order.
 */
import type { Store } from '../../store/types.js';
import type { AuditLog, AuditRow } from './auditLog.js';

/** The store kind of the shared batches. */
export const AUDIT_BATCH_KIND = 'cloudtrail-batch';
/** How long a written batch waits before it is published (more records join it meanwhile). */
export const PUBLISH_DELAY_MS = 200;
/** Most records waiting to be published. */
export const MAX_UNPUBLISHED = 10_000;
/** Most records in one batch record. */
export const MAX_BATCH_ROWS = 200;
/** Batches read per page when catching up or pruning (each holds up to MAX_BATCH_ROWS records). */
const PAGE = 20;

interface BatchValue {
  replica: string;
  rows: AuditRow[];
}

/** The time a batch key begins with (its newest record's), or NaN for a key not of this format. */
function timeOfKey(key: string): number {
  const m = /^(\d{15})-/.exec(key);
  return m ? Number(m[1]) : NaN;
}

/** Rows of a batch value as read from the store, keeping only well-formed ones. */
function rowsOf(value: unknown): AuditRow[] {
  const rows = (value as Partial<BatchValue> | null)?.rows;
  if (!Array.isArray(rows)) return [];
  return rows.filter(
    (r): r is AuditRow =>
      !!r && typeof r === 'object' && typeof r.time === 'number' && typeof r.eventId === 'string' && typeof r.eventName === 'string' && typeof r.eventSource === 'string' && typeof r.record === 'string' && Array.isArray(r.resources),
  );
}

/** Publishes this replica's audit records and takes in the other replicas'. */
export class SharedAuditTrail {
  private unpublished: AuditRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private publishing: Promise<void> = Promise.resolve();
  private unwatch: (() => void) | undefined;
  private counter = 0;
  private stopped = false;
  /** Records dropped because too many waited to be published. */
  dropped = 0;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly replicaId: string,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** Reads the batches kept in the store, follows new ones, and starts publishing this replica's. */
  async start(): Promise<void> {
    const rev = await this.store.revision();
    let after: string | undefined;
    for (;;) {
      const page = await this.store.list<BatchValue>(AUDIT_BATCH_KIND, { after, limit: PAGE });
      for (const b of page) if (b.value?.replica !== this.replicaId) this.audit.ingest(rowsOf(b.value));
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.key;
    }
    this.unwatch = this.store.watch(rev, (c) => {
      if (c.kind !== AUDIT_BATCH_KIND || c.value === null || (c.value as Partial<BatchValue>).replica === this.replicaId) return;
      try {
        this.audit.ingest(rowsOf(c.value));
      } catch (e) {
        this.onError(e);
      }
    });
    this.audit.onWritten = (rows) => this.queue(rows);
  }

  private queue(rows: AuditRow[]): void {
    if (this.stopped) return;
    this.unpublished.push(...rows);
    const over = this.unpublished.length - MAX_UNPUBLISHED;
    if (over > 0) {
      this.unpublished.splice(0, over);
      this.dropped += over;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => void this.publish(), PUBLISH_DELAY_MS);
      this.timer.unref();
    }
  }

  /** Publishes what waits (one commit); on failure the records wait for the next attempt. */
  publish(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.publishing = this.publishing.then(async () => {
      if (this.unpublished.length === 0) return;
      const rows = this.unpublished;
      this.unpublished = [];
      const writes = [];
      for (let i = 0; i < rows.length; i += MAX_BATCH_ROWS) {
        const chunk = rows.slice(i, i + MAX_BATCH_ROWS);
        const newest = Math.max(...chunk.map((r) => r.time));
        const key = `${String(Math.max(0, Math.floor(newest))).padStart(15, '0')}-${this.replicaId}-${(++this.counter).toString(36)}`;
        writes.push({ kind: AUDIT_BATCH_KIND, key, value: { replica: this.replicaId, rows: chunk } satisfies BatchValue });
      }
      try {
        await this.store.commit(writes);
      } catch (e) {
        this.onError(e);
        if (!this.stopped) this.queue(rows);
      }
    });
    return this.publishing;
  }

  /**
   * Deletes the batches whose records are all past the audit log's bounds (see
   * AuditLog.retentionCutoff); returns how many went. Run by one replica at a time.
   */
  async prune(store: Store = this.store): Promise<number> {
    const cutoff = this.audit.retentionCutoff();
    let removed = 0;
    for (;;) {
      const page = await store.list<BatchValue>(AUDIT_BATCH_KIND, { limit: PAGE });
      const old = page.filter((b) => !(timeOfKey(b.key) >= cutoff));
      if (old.length === 0) return removed;
      await store.commit(old.map((b) => ({ kind: AUDIT_BATCH_KIND, key: b.key, value: null })));
      removed += old.length;
      if (old.length < page.length) return removed;
    }
  }

  /** Publishes what waits and stops following the store. */
  async stop(): Promise<void> {
    this.audit.onWritten = undefined;
    this.unwatch?.();
    await this.publish().catch(() => undefined);
    this.stopped = true;
  }
}
