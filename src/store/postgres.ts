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
    this.pool = new pg.Pool({ connectionString: url, max: 8, options: `-c search_path=${schema}` });
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
    await client.connect();
    client.on('notification', () => this.pump());
    client.on('error', () => undefined);
    await client.query(`LISTEN ${CHANNEL}_${this.schema}`);
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
        for (const w of [...this.watchers]) {
          for (;;) {
            const batch = await this.changes(w.from, 1000).catch(() => [] as Change[]);
            for (const c of batch) {
              if (!this.watchers.has(w)) break;
              w.fn(c);
              w.from = c.rev;
            }
            if (batch.length < 1000) break;
          }
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
    this.watchers.clear();
    await this.pumping?.catch(() => undefined);
    await this.listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}
