/**
 * The shared store for several control-plane replicas: PostgreSQL through `pg`. Same
 * semantics as the SQLite store (see types.ts): commits are serialized on one row lock of the
 * revision counter, so revisions are gap-free and totally ordered across replicas; after each
 * commit a NOTIFY wakes every replica's watchers, which then read the change feed in order.
 */
import pg from 'pg';
import { ConflictError, type Change, type Guard, type ListOptions, type Store, type StoredRecord, type Write } from './types.js';

const CHANNEL = 'berth_changes';

interface ChangeRow {
  rev: string | number;
  kind: string;
  key: string;
  value: string | null;
}

function toChange(r: ChangeRow): Change {
  return { rev: Number(r.rev), kind: r.kind, key: r.key, value: r.value === null ? null : (JSON.parse(r.value) as unknown) };
}

/**
 * The schema's migrations, in order: migration N takes a database at version N-1 to N. Each is
 * idempotent SQL run in one transaction (a database made before versions were recorded is at
 * "version 0" with the version 1 tables already there).
 */
const MIGRATIONS: Array<(schema: string) => string> = [
  (schema) => `
    CREATE TABLE IF NOT EXISTS ${schema}.records (kind TEXT NOT NULL, key TEXT NOT NULL COLLATE "C", rev BIGINT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (kind, key));
    CREATE TABLE IF NOT EXISTS ${schema}.changes (rev BIGINT NOT NULL, seq INT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT, PRIMARY KEY (rev, seq));
    INSERT INTO ${schema}.meta (name, value) VALUES ('rev', 0) ON CONFLICT DO NOTHING;`,
];
/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The advisory-lock key of a schema's migrations (a stable 32-bit hash of its name). */
function schemaLockKey(schema: string): number {
  let h = 0x811c9dc5;
  for (const ch of `berth:${schema}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return h | 0;
}

/**
 * A session idle inside a transaction this long is ended by the server (its locks released). A
 * replica sends a commit's statements back to back, so only a paused or cut-off one gets near it.
 */
const IDLE_IN_TRANSACTION_MS = 2_500;
/**
 * Longest wait for a row or advisory lock before the statement fails (the caller retries). Well
 * past IDLE_IN_TRANSACTION_MS: the lock a waiter wants is held for a commit's few statements, or
 * by a session paused in one (SIGSTOP, a stalled host), which the server ends first. With equal
 * bounds (5 s each) the two timers raced, and a commit made just after another replica's pause
 * could fail.
 */
const LOCK_WAIT_MS = 2 * IDLE_IN_TRANSACTION_MS;
/** Longest a statement may run. */
const STATEMENT_MS = 60_000;

export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  private listener: pg.Client | undefined;
  private readonly watchers = new Set<{ from: number; fn: (c: Change) => void }>();
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private closed = false;

  private constructor(
    private readonly url: string,
    private readonly schema: string,
  ) {
    // Bounds on every session: a replica paused (SIGSTOP) or cut off in the middle of a
    // transaction would otherwise hold its row locks for ever and stall every other replica's
    // commits; PostgreSQL ends such a session (rolling it back) after IDLE_IN_TRANSACTION_MS, and
    // a statement waits at most LOCK_WAIT_MS for a lock and runs at most STATEMENT_MS.
    this.pool = new pg.Pool({
      connectionString: url,
      max: 8,
      // Client-side bounds too: over a link that drops packets the server never sees the query.
      connectionTimeoutMillis: 10_000,
      query_timeout: 30_000,
      options: `-c search_path=${schema} -c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_MS} -c lock_timeout=${LOCK_WAIT_MS} -c statement_timeout=${STATEMENT_MS}`,
    });
    // An idle connection the server closed (a PostgreSQL restart) is dropped by the pool, which
    // opens a new one at the next query; the error must not end the process.
    this.pool.on('error', () => undefined);
    // A connection checked out of the pool has no listener of the pool's: one the server ends
    // between two statements of a transaction (its idle_in_transaction timeout passed while this
    // process was paused; a restart) would emit an unhandled 'error' and end the process. The
    // next statement on it fails instead (the transaction is refused, the caller retries), and
    // the pool drops it when it is released.
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  /**
   * Connects and creates the tables if needed. `schema` lets several independent Berths (or
   * tests) share one database.
   */
  static async open(url: string, schema = 'berth'): Promise<PostgresStore> {
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name '${schema}'`);
    const s = new PostgresStore(url, schema);
    const c = await s.pool.connect();
    try {
      // Replicas may start at the same moment on an empty or older database: the schema is
      // created and migrated by one of them at a time, under a lock of this schema's own.
      // Replicas starting together wait here for whichever migrates first, however long it takes.
      await c.query('SET lock_timeout = 0');
      await c.query('SELECT pg_advisory_lock($1)', [schemaLockKey(schema)]);
      try {
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await c.query(`CREATE TABLE IF NOT EXISTS ${schema}.meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL)`);
        const v = await c.query<{ value: string }>(`SELECT value FROM ${schema}.meta WHERE name = 'schema_version'`);
        const version = v.rows[0] ? Number(v.rows[0].value) : 0;
        if (version > SCHEMA_VERSION) {
          throw new Error(`the database schema '${schema}' is at version ${version}, made by a newer Berth; this one knows up to ${SCHEMA_VERSION}: upgrade this replica`);
        }
        for (let next = version + 1; next <= SCHEMA_VERSION; next++) {
          await c.query('BEGIN');
          await c.query(MIGRATIONS[next - 1]!(schema));
          await c.query(`INSERT INTO ${schema}.meta (name, value) VALUES ('schema_version', $1) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`, [next]);
          await c.query('COMMIT');
        }
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [schemaLockKey(schema)]).catch(() => undefined);
        await c.query('RESET lock_timeout').catch(() => undefined);
      }
    } catch (e) {
      c.release();
      await s.pool.end().catch(() => undefined);
      throw e;
    }
    c.release();
    return s;
  }

  async get<T>(kind: string, key: string): Promise<StoredRecord<T> | undefined> {
    const r = await this.pool.query<{ rev: string; value: string }>(`SELECT rev, value FROM ${this.schema}.records WHERE kind = $1 AND key = $2`, [kind, key]);
    const row = r.rows[0];
    return row ? { kind, key, rev: Number(row.rev), value: JSON.parse(row.value) as T } : undefined;
  }

  async getMany<T>(kind: string, keys: string[]): Promise<Array<StoredRecord<T> | undefined>> {
    if (keys.length === 0) return [];
    const r = await this.pool.query<{ key: string; rev: string; value: string }>(
      `SELECT key, rev, value FROM ${this.schema}.records WHERE kind = $1 AND key = ANY($2::text[])`,
      [kind, keys],
    );
    const found = new Map(r.rows.map((row) => [row.key, row]));
    return keys.map((key) => {
      const row = found.get(key);
      return row ? { kind, key, rev: Number(row.rev), value: JSON.parse(row.value) as T } : undefined;
    });
  }

  async list<T>(kind: string, opts: ListOptions = {}): Promise<StoredRecord<T>[]> {
    const where = ['kind = $1'];
    const args: unknown[] = [kind];
    if (opts.prefix) {
      args.push(opts.prefix, `${opts.prefix}\uffff`);
      where.push(`key >= $${args.length - 1} AND key < $${args.length}`);
    }
    if (opts.after !== undefined) {
      args.push(opts.after);
      where.push(`key > $${args.length}`);
    }
    const limit = opts.limit ? ` LIMIT ${Math.max(0, Math.floor(opts.limit))}` : '';
    const r = await this.pool.query<{ key: string; rev: string; value: string }>(
      `SELECT key, rev, value FROM ${this.schema}.records WHERE ${where.join(' AND ')} ORDER BY key${limit}`,
      args,
    );
    return r.rows.map((row) => ({ kind, key: row.key, rev: Number(row.rev), value: JSON.parse(row.value) as T }));
  }

  async commit(writes: Write[], guards: readonly Guard[] = []): Promise<number> {
    if (writes.length === 0) return this.revision();
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const cur = await c.query<{ value: string }>(`SELECT value FROM ${this.schema}.meta WHERE name = 'rev' FOR UPDATE`);
      const rev = Number(cur.rows[0]!.value) + 1;
      // Commits are serialized on the revision row, so what is read here cannot change before COMMIT.
      for (const g of guards) {
        const r = await c.query<{ rev: string }>(`SELECT rev FROM ${this.schema}.records WHERE kind = $1 AND key = $2`, [g.kind, g.key]);
        const actual = r.rows[0] ? Number(r.rows[0].rev) : 0;
        if (actual !== g.rev) throw new ConflictError(g.kind, g.key, g.rev, actual);
      }
      for (const w of writes) {
        if (w.expectRev === undefined) continue;
        const r = await c.query<{ rev: string }>(`SELECT rev FROM ${this.schema}.records WHERE kind = $1 AND key = $2`, [w.kind, w.key]);
        const actual = r.rows[0] ? Number(r.rows[0].rev) : 0;
        if (actual !== w.expectRev) throw new ConflictError(w.kind, w.key, w.expectRev, actual);
      }
      for (const [seq, w] of writes.entries()) {
        const json = w.value === null ? null : JSON.stringify(w.value);
        if (json === null) await c.query(`DELETE FROM ${this.schema}.records WHERE kind = $1 AND key = $2`, [w.kind, w.key]);
        else {
          await c.query(
            `INSERT INTO ${this.schema}.records (kind, key, rev, value) VALUES ($1, $2, $3, $4) ON CONFLICT (kind, key) DO UPDATE SET rev = EXCLUDED.rev, value = EXCLUDED.value`,
            [w.kind, w.key, rev, json],
          );
        }
        await c.query(`INSERT INTO ${this.schema}.changes (rev, seq, kind, key, value) VALUES ($1, $2, $3, $4, $5)`, [rev, seq, w.kind, w.key, json]);
      }
      await c.query(`UPDATE ${this.schema}.meta SET value = $1 WHERE name = 'rev'`, [rev]);
      await c.query(`SELECT pg_notify($1, $2)`, [`${CHANNEL}_${this.schema}`, String(rev)]);
      await c.query('COMMIT');
      this.pump();
      return rev;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  async revision(): Promise<number> {
    const r = await this.pool.query<{ value: string }>(`SELECT value FROM ${this.schema}.meta WHERE name = 'rev'`);
    return Number(r.rows[0]!.value);
  }

  async changes(afterRev: number, limit = 10_000): Promise<Change[]> {
    const r = await this.pool.query<ChangeRow>(`SELECT rev, kind, key, value FROM ${this.schema}.changes WHERE rev > $1 ORDER BY rev, seq LIMIT $2`, [afterRev, limit]);
    const rows = r.rows;
    if (rows.length === limit && limit > 0) {
      const last = Number(rows[rows.length - 1]!.rev);
      const seen = rows.filter((x) => Number(x.rev) === last).length;
      const rest = await this.pool.query<ChangeRow>(`SELECT rev, kind, key, value FROM ${this.schema}.changes WHERE rev = $1 ORDER BY seq`, [last]);
      rows.push(...rest.rows.slice(seen));
    }
    return rows.map(toChange);
  }

  /**
   * Delivery is asynchronous here (the feed is read back from the database), but always in
   * revision order and without gaps, including changes committed by other replicas.
   */
  watch(afterRev: number, listener: (c: Change) => void): () => void {
    const w = { from: afterRev, fn: listener };
    this.watchers.add(w);
    void this.ensureListener().then(() => this.pump());
    return () => this.watchers.delete(w);
  }

  private async ensureListener(): Promise<void> {
    if (this.listener || this.closed) return;
    const client = new pg.Client({ connectionString: this.url });
    this.listener = client;
    let lost = false;
    // The listening connection lost (PostgreSQL restarted, the network cut): connect again,
    // then read the feed from where each watcher is, so nothing committed meanwhile is missed.
    const onLost = () => {
      if (lost) return;
      lost = true;
      if (this.listener === client) this.listener = undefined;
      client.end().catch(() => undefined);
      this.reconnectListener();
    };
    client.on('notification', () => this.pump());
    client.on('error', onLost);
    client.on('end', onLost);
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}_${this.schema}`);
    } catch {
      onLost();
      return;
    }
    this.pump();
  }

  private reconnecting: NodeJS.Timeout | undefined;
  private reconnectDelayMs = 100;

  private reconnectListener(): void {
    if (this.closed || this.reconnecting || this.watchers.size === 0) return;
    this.reconnecting = setTimeout(() => {
      this.reconnecting = undefined;
      this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, 2_000);
      void this.ensureListener().then(() => {
        if (this.listener) this.reconnectDelayMs = 100;
        this.pump();
      });
    }, this.reconnectDelayMs);
    this.reconnecting.unref();
  }

  private pump(): void {
    if (this.watchers.size === 0) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = (async () => {
      do {
        this.pumpAgain = false;
        // One read of the feed for every watcher (from the one furthest behind), not one each:
        // long polls each hold a watcher, and every commit wakes them all.
        for (;;) {
          const watchers = [...this.watchers];
          if (watchers.length === 0) break;
          const starts = watchers.map((w) => w.from);
          const batch = await this.changes(Math.min(...starts), 1000).catch(() => {
            // The database is out of reach: read again once the listener is back.
            this.reconnectListener();
            return [] as Change[];
          });
          watchers.forEach((w, i) => {
            for (const c of batch) {
              if (!this.watchers.has(w)) break;
              if (c.rev <= starts[i]!) continue;
              w.fn(c);
              w.from = c.rev;
            }
          });
          if (batch.length < 1000) break;
        }
      } while (this.pumpAgain && !this.closed);
    })().finally(() => {
      this.pumping = undefined;
    });
  }

  async reset(): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.schema}.records; DELETE FROM ${this.schema}.changes;`);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnecting);
    this.watchers.clear();
    await this.pumping?.catch(() => undefined);
    await this.listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}
