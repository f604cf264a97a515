/**
 * The embedded store: SQLite through better-sqlite3, in WAL mode with synchronous=FULL so
 * that a commit that returned is on disk. All access is from the one server process; the
 * change feed is pushed to in-process watchers right after each commit.
 */
import Database from 'better-sqlite3';
import { ensurePrivateFile } from '../privateFiles.js';
import { ConflictError, type Change, type Guard, type ListOptions, type Store, type StoredRecord, type Write } from './types.js';

interface ChangeRow {
  rev: number;
  kind: string;
  key: string;
  value: string | null;
}

function toChange(r: ChangeRow): Change {
  return { rev: r.rev, kind: r.kind, key: r.key, value: r.value === null ? null : (JSON.parse(r.value) as unknown) };
}

/** How many change-feed entries are kept; older ones are pruned (watchers resync by listing). */
const CHANGE_RETENTION = 100_000;

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly watchers = new Set<(c: Change) => void>();
  private rev: number;
  private commitsSincePrune = 0;
  private readonly stmts;
  private readonly listStmts = new Map<string, Database.Statement>();

  /** Opens (creating if needed) the database at `path`; ':memory:' for a throwaway store. */
  constructor(path: string) {
    // Private before SQLite creates it (and its WAL), since records hold whatever clients sent.
    if (path !== ':memory:') ensurePrivateFile(path);
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL, rev INTEGER NOT NULL, value TEXT NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS changes (rev INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT, PRIMARY KEY (rev, seq)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT OR IGNORE INTO meta (name, value) VALUES ('rev', 0);
    `);
    this.stmts = {
      get: this.db.prepare<[string, string], { rev: number; value: string }>('SELECT rev, value FROM records WHERE kind = ? AND key = ?'),
      getMany: this.db.prepare<[string, string], { key: string; rev: number; value: string }>(
        'SELECT key, rev, value FROM records WHERE kind = ? AND key IN (SELECT value FROM json_each(?))',
      ),
      upsert: this.db.prepare('INSERT INTO records (kind, key, rev, value) VALUES (?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET rev = excluded.rev, value = excluded.value'),
      del: this.db.prepare('DELETE FROM records WHERE kind = ? AND key = ?'),
      change: this.db.prepare('INSERT INTO changes (rev, seq, kind, key, value) VALUES (?, ?, ?, ?, ?)'),
      setRev: this.db.prepare("UPDATE meta SET value = ? WHERE name = 'rev'"),
      changes: this.db.prepare<[number, number], ChangeRow>(
        'SELECT rev, kind, key, value FROM changes WHERE rev > ? ORDER BY rev, seq LIMIT ?',
      ),
      changesAll: this.db.prepare<[number], ChangeRow>('SELECT rev, kind, key, value FROM changes WHERE rev > ? ORDER BY rev, seq'),
      changesOfRev: this.db.prepare<[number], ChangeRow>('SELECT rev, kind, key, value FROM changes WHERE rev = ? ORDER BY seq'),
      prune: this.db.prepare('DELETE FROM changes WHERE rev <= ?'),
    };
    this.rev = (this.db.prepare("SELECT value FROM meta WHERE name = 'rev'").get() as { value: number }).value;
  }

  async get<T>(kind: string, key: string): Promise<StoredRecord<T> | undefined> {
    const row = this.stmts.get.get(kind, key);
    return row ? { kind, key, rev: row.rev, value: JSON.parse(row.value) as T } : undefined;
  }

  async getMany<T>(kind: string, keys: string[]): Promise<Array<StoredRecord<T> | undefined>> {
    if (keys.length === 0) return [];
    const found = new Map<string, { rev: number; value: string }>();
    for (const r of this.stmts.getMany.all(kind, JSON.stringify(keys))) found.set(r.key, r);
    return keys.map((key) => {
      const r = found.get(key);
      return r ? { kind, key, rev: r.rev, value: JSON.parse(r.value) as T } : undefined;
    });
  }

  async list<T>(kind: string, opts: ListOptions = {}): Promise<StoredRecord<T>[]> {
    const where = ['kind = ?'];
    const args: unknown[] = [kind];
    if (opts.prefix) {
      // Range scan instead of LIKE: prefix <= key < prefix + U+FFFF.
      where.push('key >= ? AND key < ?');
      args.push(opts.prefix, `${opts.prefix}\uffff`);
    }
    if (opts.after !== undefined) {
      where.push('key > ?');
      args.push(opts.after);
    }
    const limit = opts.limit ? ` LIMIT ${Math.max(0, Math.floor(opts.limit))}` : '';
    const sql = `SELECT key, rev, value FROM records WHERE ${where.join(' AND ')} ORDER BY key${limit}`;
    // Statements are prepared once per distinct query text (a handful: prefix/after/limit combos).
    let stmt = this.listStmts.get(sql);
    if (!stmt) {
      if (this.listStmts.size >= 64) this.listStmts.clear();
      this.listStmts.set(sql, (stmt = this.db.prepare(sql)));
    }
    const rows = stmt.all(...args) as Array<{
      key: string;
      rev: number;
      value: string;
    }>;
    return rows.map((r) => ({ kind, key: r.key, rev: r.rev, value: JSON.parse(r.value) as T }));
  }

  async commit(writes: Write[], guards: readonly Guard[] = []): Promise<number> {
    if (writes.length === 0) return this.rev;
    const changes: Change[] = [];
    const apply = this.db.transaction(() => {
      for (const g of guards) {
        const actual = this.stmts.get.get(g.kind, g.key)?.rev ?? 0;
        if (actual !== g.rev) throw new ConflictError(g.kind, g.key, g.rev, actual);
      }
      for (const w of writes) {
        if (w.expectRev !== undefined) {
          const actual = this.stmts.get.get(w.kind, w.key)?.rev ?? 0;
          if (actual !== w.expectRev) throw new ConflictError(w.kind, w.key, w.expectRev, actual);
        }
      }
      const rev = this.rev + 1;
      writes.forEach((w, seq) => {
        const json = w.value === null ? null : JSON.stringify(w.value);
        if (json === null) this.stmts.del.run(w.kind, w.key);
        else this.stmts.upsert.run(w.kind, w.key, rev, json);
        this.stmts.change.run(rev, seq, w.kind, w.key, json);
        changes.push({ rev, kind: w.kind, key: w.key, value: json === null ? null : (JSON.parse(json) as unknown) });
      });
      this.stmts.setRev.run(rev);
      return rev;
    });
    const rev = apply.immediate();
    this.rev = rev;
    if (++this.commitsSincePrune >= 1000) {
      this.commitsSincePrune = 0;
      this.stmts.prune.run(rev - CHANGE_RETENTION);
    }
    for (const c of changes) for (const w of this.watchers) w(c);
    return rev;
  }

  async revision(): Promise<number> {
    return this.rev;
  }

  async changes(afterRev: number, limit = 10_000): Promise<Change[]> {
    const rows = this.stmts.changes.all(afterRev, limit);
    // Never end a page in the middle of a revision: callers resume from the last rev seen.
    if (rows.length === limit && limit > 0) {
      const last = rows[rows.length - 1]!;
      const seen = rows.filter((r) => r.rev === last.rev).length;
      rows.push(...this.stmts.changesOfRev.all(last.rev).slice(seen));
    }
    return rows.map(toChange);
  }

  watch(afterRev: number, listener: (c: Change) => void): () => void {
    // Replay synchronously, then subscribe; commits are synchronous in this process, so no
    // change can fall between the replay and the subscription.
    for (const r of this.stmts.changesAll.iterate(afterRev)) listener(toChange(r));
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  async reset(): Promise<void> {
    this.db.exec('DELETE FROM records; DELETE FROM changes;');
  }

  async close(): Promise<void> {
    this.watchers.clear();
    if (this.db.open) this.db.close();
  }
}
