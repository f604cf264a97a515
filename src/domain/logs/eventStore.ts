/**
 * Storage for CloudWatch Logs: log groups, log streams and their events, in a SQLite database
 * of its own (`<dataDir>/logs.db`, WAL, mode 0600) rather than in the generic KV store. The
 * composition root (src/berth.ts) opens one per running Berth with {@link openLogEventStore} and
 * hands it to the logs API and the retention loop; nothing else opens it.
 *
 * Why a separate database, with group and stream metadata in it too:
 * - events arrive in batches of up to 10,000; one KV record per event would write a change-feed
 *   entry per event and make every read a JSON decode. Here a batch is one transaction of plain
 *   row inserts.
 * - every PutLogEvents also moves the stream's counters (first/last event time, stored bytes) and
 *   the group's stored bytes; keeping them in the same database makes events and counters change
 *   in one transaction, so they can never disagree, and keeps per-batch noise out of the change
 *   feed that controllers watch.
 *
 * Layout: `events(seq INTEGER PRIMARY KEY, stream_id, group_id, ts, ingest, bytes, message)`
 * with indexes on (stream_id, ts, seq) for GetLogEvents and (group_id, ts, seq) for
 * FilterLogEvents. `seq` is the ingestion order, unique across the database; an event's position
 * in a stream is (ts, seq). No full-text index: measured on 1M ~110-byte events, an FTS5 trigram
 * index cut raw insert throughput from ~300k to ~60k rows/s, while a plain scan with SQLite's
 * `instr` over the group index finds a rare term in ~0.2 s. Literal terms of a filter pattern are
 * therefore pushed down as `instr(message, term) > 0` and the full pattern is applied in JS to the
 * rows that pass.
 */
import { ensurePrivateFile } from '../../privateFiles.js';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LIMITS } from './limits.js';

/** The file name of the event store in the data dir. */
export const LOG_DB_FILE = 'logs.db';

/** A log group as stored. `tags` is the resource's tag map. */
export interface LogGroupRow {
  id: number;
  region: string;
  name: string;
  creationTime: number;
  retentionInDays?: number;
  kmsKeyId?: string;
  logGroupClass: string;
  deletionProtection: boolean;
  tags: Record<string, string>;
  storedBytes: number;
}

/** A log stream as stored. Timestamps are epoch ms; absent until the first event. */
export interface LogStreamRow {
  id: number;
  groupId: number;
  name: string;
  creationTime: number;
  firstEventTimestamp?: number;
  lastEventTimestamp?: number;
  lastIngestionTime?: number;
  storedBytes: number;
  /** Count of accepted PutLogEvents batches; the upload sequence token is derived from it. */
  uploads: number;
}

/** One stored event. `seq` is the global ingestion order (also the event id). */
export interface StoredEvent {
  seq: number;
  streamId: number;
  streamName: string;
  timestamp: number;
  ingestionTime: number;
  message: string;
}

/** A position between events of a stream or group: events are ordered by (ts, seq). */
export interface EventPosition {
  ts: number;
  seq: number;
}

/** An event to append, as PutLogEvents takes it. */
export interface NewEvent {
  timestamp: number;
  message: string;
}

/** Filters and paging for listing a region's log groups (name order). */
export interface ListGroupsOptions {
  prefix?: string;
  /** Case-sensitive substring of the name (DescribeLogGroups' logGroupNamePattern). */
  pattern?: string;
  /** Only names strictly after this one (pagination). */
  after?: string;
  limit: number;
}

/** Filters, order and paging for listing a group's streams. */
export interface ListStreamsOptions {
  prefix?: string;
  orderBy: 'LogStreamName' | 'LastEventTime';
  descending: boolean;
  /** Resume after this stream (pagination), in the chosen order. */
  after?: { name: string; lastTs: number };
  limit: number;
}

/** A window of one stream's events, read from either end. */
export interface ReadStreamOptions {
  startTime?: number;
  /** Exclusive, as on AWS. */
  endTime?: number;
  /** Only events after this position (forward reads). */
  after?: EventPosition;
  /** Only events before this position (backward reads). */
  before?: EventPosition;
  /** 'forward' returns the first events of the range, 'backward' the last; both in ascending order. */
  direction: 'forward' | 'backward';
  limit: number;
  /** Stop once the messages returned add up to this many bytes (at least one event is returned). */
  maxBytes: number;
}

/** A search over a group's events in (timestamp, seq) order. */
export interface FilterOptions {
  /** Restrict to these streams; undefined means every stream of the group. */
  streamIds?: number[];
  startTime?: number;
  endTime?: number;
  after?: EventPosition;
  /** Substrings every matching message must contain (pushed down to SQL). */
  requiredLiterals: string[];
  /** The full pattern, applied to rows that pass the literals. */
  match: (message: string) => boolean;
  limit: number;
  maxBytes: number;
}

/**
 * The logs domain's storage. Its queries are what the API reads; its writes apply no rules of
 * their own (the functions of ./groups.ts, ./events.ts and ./retention.ts do, and are the only
 * writers). Every call is synchronous on one connection, so a read-check-write made of several
 * calls in one turn of the event loop cannot interleave with another request's.
 */
export interface LogEventStore {
  createGroup(g: Omit<LogGroupRow, 'id' | 'storedBytes'>): LogGroupRow | undefined;
  getGroup(region: string, name: string): LogGroupRow | undefined;
  listGroups(region: string, opts: ListGroupsOptions): LogGroupRow[];
  /** Every group with a retention policy, across regions (for the sweep). */
  groupsWithRetention(): LogGroupRow[];
  setRetention(groupId: number, days: number | undefined): void;
  setTags(groupId: number, tags: Record<string, string>): void;
  /** Deletes the group with its streams and events. */
  deleteGroup(groupId: number): void;

  createStream(groupId: number, name: string, now: number): LogStreamRow | undefined;
  getStream(groupId: number, name: string): LogStreamRow | undefined;
  listStreams(groupId: number, opts: ListStreamsOptions): LogStreamRow[];
  streamsByPrefix(groupId: number, prefix: string): LogStreamRow[];
  deleteStream(streamId: number): void;

  /** Appends events (already validated) in one transaction and updates the counters. */
  append(stream: LogStreamRow, events: NewEvent[], ingestionTime: number): LogStreamRow;
  readStream(streamId: number, opts: ReadStreamOptions): StoredEvent[];
  filter(groupId: number, opts: FilterOptions): { events: StoredEvent[]; last?: EventPosition };
  /**
   * Deletes up to `maxRows` of the group's events with timestamp < cutoff (oldest first, in one
   * transaction, so a large backlog never blocks for long); returns how many went.
   */
  deleteOlderThan(groupId: number, cutoff: number, maxRows?: number): number;
  /** Removes everything. */
  /** Events of a group ingested after `seq` (ingestion order), at most `limit`, stopping near `maxBytes`. */
  readAfterSeq(groupId: number, seq: number, limit: number, maxBytes: number): StoredEvent[];
  /** The last seq of a group's events ingested before `time` (0 when none): where a new subscription starts. */
  lastSeqIngestedBefore(groupId: number, time: number): number;
  /** A subscription's delivery cursor (last seq delivered) in this store, if set. */
  getCursor(groupId: number, subscription: string): number | undefined;
  /** Records a subscription's delivery cursor. */
  setCursor(groupId: number, subscription: string, seq: number): void;
  /** Forgets the cursors of a group not in `keep`. */
  pruneCursors(groupId: number, keep: readonly string[]): void;
  reset(): void;
  close(): void;
}

interface GroupDbRow {
  id: number;
  region: string;
  name: string;
  created: number;
  retention: number | null;
  kms: string | null;
  class: string;
  protection: number;
  tags: string;
  bytes: number;
}

interface StreamDbRow {
  id: number;
  group_id: number;
  name: string;
  created: number;
  first_ts: number | null;
  last_ts: number | null;
  last_ingest: number | null;
  bytes: number;
  uploads: number;
}

interface EventDbRow {
  seq: number;
  stream_id: number;
  sname: string;
  ts: number;
  ingest: number;
  message: string;
  bytes: number;
}

function toGroup(r: GroupDbRow): LogGroupRow {
  return {
    id: r.id,
    region: r.region,
    name: r.name,
    creationTime: r.created,
    retentionInDays: r.retention ?? undefined,
    kmsKeyId: r.kms ?? undefined,
    logGroupClass: r.class,
    deletionProtection: r.protection === 1,
    tags: JSON.parse(r.tags) as Record<string, string>,
    storedBytes: r.bytes,
  };
}

function toStream(r: StreamDbRow): LogStreamRow {
  return {
    id: r.id,
    groupId: r.group_id,
    name: r.name,
    creationTime: r.created,
    firstEventTimestamp: r.first_ts ?? undefined,
    lastEventTimestamp: r.last_ts ?? undefined,
    lastIngestionTime: r.last_ingest ?? undefined,
    storedBytes: r.bytes,
    uploads: r.uploads,
  };
}

function toEvent(r: EventDbRow): StoredEvent {
  return { seq: r.seq, streamId: r.stream_id, streamName: r.sname, timestamp: r.ts, ingestionTime: r.ingest, message: r.message };
}

/** Range upper bound for a prefix scan on TEXT: every string starting with `p` sorts below. */
const prefixEnd = (p: string) => `${p}\uffff`;

const EVENT_COLS = 'e.seq, e.stream_id, s.name AS sname, e.ts, e.ingest, e.message, e.bytes';

/** Opens (creating if needed) the event store of a data dir, `<dataDir>/logs.db`. */
export function openLogEventStore(dataDir: string): SqliteLogEventStore {
  return new SqliteLogEventStore(join(dataDir, LOG_DB_FILE));
}

/** The SQLite implementation of {@link LogEventStore}. */
export class SqliteLogEventStore implements LogEventStore {
  private readonly db: Database.Database;
  private readonly s;

  /** Opens (creating if needed, mode 0600) the database at `path`; ':memory:' for a throwaway one. */
  constructor(path: string) {
    if (path !== ':memory:') ensurePrivateFile(path);
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a crash can lose the last few batches but never corrupts the database;
    // FULL would fsync on every batch and cap ingestion at the disk's sync rate.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = OFF');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS groups (
        id INTEGER PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
        retention INTEGER, kms TEXT, class TEXT NOT NULL, protection INTEGER NOT NULL DEFAULT 0,
        tags TEXT NOT NULL DEFAULT '{}', bytes INTEGER NOT NULL DEFAULT 0, UNIQUE (region, name));
      CREATE TABLE IF NOT EXISTS streams (
        id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
        first_ts INTEGER, last_ts INTEGER, last_ingest INTEGER, bytes INTEGER NOT NULL DEFAULT 0,
        uploads INTEGER NOT NULL DEFAULT 0, UNIQUE (group_id, name));
      CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY, stream_id INTEGER NOT NULL, group_id INTEGER NOT NULL, ts INTEGER NOT NULL,
        ingest INTEGER NOT NULL, bytes INTEGER NOT NULL, message TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS events_by_stream ON events (stream_id, ts, seq);
      CREATE INDEX IF NOT EXISTS events_by_group ON events (group_id, ts, seq);
      CREATE TABLE IF NOT EXISTS cursors (
        group_id INTEGER NOT NULL, subscription TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (group_id, subscription));
    `);
    const db = this.db;
    this.s = {
      insGroup: db.prepare(
        'INSERT INTO groups (region, name, created, retention, kms, class, protection, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      getGroup: db.prepare<[string, string], GroupDbRow>('SELECT * FROM groups WHERE region = ? AND name = ?'),
      retGroups: db.prepare<[], GroupDbRow>('SELECT * FROM groups WHERE retention IS NOT NULL'),
      setRetention: db.prepare('UPDATE groups SET retention = ? WHERE id = ?'),
      setTags: db.prepare('UPDATE groups SET tags = ? WHERE id = ?'),
      delGroup: db.prepare('DELETE FROM groups WHERE id = ?'),
      delGroupStreams: db.prepare('DELETE FROM streams WHERE group_id = ?'),
      delGroupEvents: db.prepare('DELETE FROM events WHERE group_id = ?'),
      delGroupCursors: db.prepare('DELETE FROM cursors WHERE group_id = ?'),
      afterSeq: db.prepare<[number, number], EventDbRow>(
        `SELECT ${EVENT_COLS} FROM events e JOIN streams s ON s.id = e.stream_id WHERE e.seq > ? AND e.group_id = ? ORDER BY e.seq`,
      ),
      lastSeqBefore: db.prepare<[number, number], { seq: number | null }>('SELECT max(seq) AS seq FROM events WHERE group_id = ? AND ingest < ?'),
      getCursor: db.prepare<[number, string], { seq: number }>('SELECT seq FROM cursors WHERE group_id = ? AND subscription = ?'),
      setCursor: db.prepare('INSERT INTO cursors (group_id, subscription, seq) VALUES (?, ?, ?) ON CONFLICT (group_id, subscription) DO UPDATE SET seq = excluded.seq'),
      groupCursors: db.prepare<[number], { subscription: string }>('SELECT subscription FROM cursors WHERE group_id = ?'),
      delCursor: db.prepare('DELETE FROM cursors WHERE group_id = ? AND subscription = ?'),
      insStream: db.prepare('INSERT INTO streams (group_id, name, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      getStream: db.prepare<[number, string], StreamDbRow>('SELECT * FROM streams WHERE group_id = ? AND name = ?'),
      getStreamById: db.prepare<[number], StreamDbRow>('SELECT * FROM streams WHERE id = ?'),
      streamsByPrefix: db.prepare<[number, string, string], StreamDbRow>(
        'SELECT * FROM streams WHERE group_id = ? AND name >= ? AND name < ? ORDER BY name',
      ),
      delStream: db.prepare('DELETE FROM streams WHERE id = ?'),
      streamBytes: db.prepare<[number], { group_id: number; bytes: number }>('SELECT group_id, bytes FROM streams WHERE id = ?'),
      delStreamEvents: db.prepare('DELETE FROM events WHERE stream_id = ?'),
      subGroupBytes: db.prepare('UPDATE groups SET bytes = bytes - ? WHERE id = ?'),
      insEvent: db.prepare('INSERT INTO events (stream_id, group_id, ts, ingest, bytes, message) VALUES (?, ?, ?, ?, ?, ?)'),
      updStream: db.prepare(
        `UPDATE streams SET first_ts = CASE WHEN first_ts IS NULL OR first_ts > ? THEN ? ELSE first_ts END,
           last_ts = CASE WHEN last_ts IS NULL OR last_ts < ? THEN ? ELSE last_ts END,
           last_ingest = ?, bytes = bytes + ?, uploads = uploads + 1 WHERE id = ?`,
      ),
      addGroupBytes: db.prepare('UPDATE groups SET bytes = bytes + ? WHERE id = ?'),
      expired: db.prepare<[number, number, number], { stream_id: number; bytes: number }>(
        'SELECT stream_id, bytes FROM events WHERE group_id = ? AND ts < ? ORDER BY ts LIMIT ?',
      ),
      delExpired: db.prepare('DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE group_id = ? AND ts < ? ORDER BY ts LIMIT ?)'),
      subStreamBytes: db.prepare('UPDATE streams SET bytes = bytes - ? WHERE id = ?'),
      streamFirst: db.prepare<[number], { first_ts: number | null }>('SELECT min(ts) AS first_ts FROM events WHERE stream_id = ?'),
      setStreamFirst: db.prepare('UPDATE streams SET first_ts = ? WHERE id = ?'),
    };
  }

  createGroup(g: Omit<LogGroupRow, 'id' | 'storedBytes'>): LogGroupRow | undefined {
    const r = this.s.insGroup.run(g.region, g.name, g.creationTime, g.retentionInDays ?? null, g.kmsKeyId ?? null, g.logGroupClass, g.deletionProtection ? 1 : 0, JSON.stringify(g.tags));
    return r.changes === 1 ? this.getGroup(g.region, g.name) : undefined;
  }

  getGroup(region: string, name: string): LogGroupRow | undefined {
    const r = this.s.getGroup.get(region, name);
    return r ? toGroup(r) : undefined;
  }

  listGroups(region: string, opts: ListGroupsOptions): LogGroupRow[] {
    const where = ['region = ?'];
    const args: unknown[] = [region];
    if (opts.prefix) {
      where.push('name >= ? AND name < ?');
      args.push(opts.prefix, prefixEnd(opts.prefix));
    }
    if (opts.pattern) {
      where.push('instr(name, ?) > 0');
      args.push(opts.pattern);
    }
    if (opts.after !== undefined) {
      where.push('name > ?');
      args.push(opts.after);
    }
    args.push(opts.limit);
    const rows = this.db.prepare(`SELECT * FROM groups WHERE ${where.join(' AND ')} ORDER BY name LIMIT ?`).all(...args) as GroupDbRow[];
    return rows.map(toGroup);
  }

  groupsWithRetention(): LogGroupRow[] {
    return this.s.retGroups.all().map(toGroup);
  }

  setRetention(groupId: number, days: number | undefined): void {
    this.s.setRetention.run(days ?? null, groupId);
  }

  setTags(groupId: number, tags: Record<string, string>): void {
    this.s.setTags.run(JSON.stringify(tags), groupId);
  }

  deleteGroup(groupId: number): void {
    this.db.transaction(() => {
      this.s.delGroupEvents.run(groupId);
      this.s.delGroupStreams.run(groupId);
      this.s.delGroupCursors.run(groupId);
      this.s.delGroup.run(groupId);
    })();
  }

  createStream(groupId: number, name: string, now: number): LogStreamRow | undefined {
    const r = this.s.insStream.run(groupId, name, now);
    return r.changes === 1 ? this.getStream(groupId, name) : undefined;
  }

  getStream(groupId: number, name: string): LogStreamRow | undefined {
    const r = this.s.getStream.get(groupId, name);
    return r ? toStream(r) : undefined;
  }

  listStreams(groupId: number, opts: ListStreamsOptions): LogStreamRow[] {
    const where = ['group_id = ?'];
    const args: unknown[] = [groupId];
    if (opts.prefix) {
      where.push('name >= ? AND name < ?');
      args.push(opts.prefix, prefixEnd(opts.prefix));
    }
    const dir = opts.descending ? 'DESC' : 'ASC';
    const cmp = opts.descending ? '<' : '>';
    let order: string;
    if (opts.orderBy === 'LogStreamName') {
      if (opts.after) {
        where.push(`name ${cmp} ?`);
        args.push(opts.after.name);
      }
      order = `name ${dir}`;
    } else {
      // Streams without events sort as if their last event were at time 0.
      const key = 'coalesce(last_ts, 0)';
      if (opts.after) {
        where.push(`(${key} ${cmp} ? OR (${key} = ? AND name ${cmp} ?))`);
        args.push(opts.after.lastTs, opts.after.lastTs, opts.after.name);
      }
      order = `${key} ${dir}, name ${dir}`;
    }
    args.push(opts.limit);
    const rows = this.db.prepare(`SELECT * FROM streams WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ?`).all(...args) as StreamDbRow[];
    return rows.map(toStream);
  }

  streamsByPrefix(groupId: number, prefix: string): LogStreamRow[] {
    return this.s.streamsByPrefix.all(groupId, prefix, prefixEnd(prefix)).map(toStream);
  }

  deleteStream(streamId: number): void {
    this.db.transaction(() => {
      const cur = this.s.streamBytes.get(streamId);
      if (!cur) return;
      this.s.delStreamEvents.run(streamId);
      this.s.delStream.run(streamId);
      this.s.subGroupBytes.run(cur.bytes, cur.group_id);
    })();
  }

  append(stream: LogStreamRow, events: NewEvent[], ingestionTime: number): LogStreamRow {
    let bytes = 0;
    let minTs = Infinity;
    let maxTs = -Infinity;
    this.db.transaction(() => {
      for (const e of events) {
        const b = Buffer.byteLength(e.message, 'utf8');
        bytes += b;
        if (e.timestamp < minTs) minTs = e.timestamp;
        if (e.timestamp > maxTs) maxTs = e.timestamp;
        this.s.insEvent.run(stream.id, stream.groupId, e.timestamp, ingestionTime, b, e.message);
      }
      if (events.length === 0) {
        this.db.prepare('UPDATE streams SET uploads = uploads + 1 WHERE id = ?').run(stream.id);
        return;
      }
      this.s.updStream.run(minTs, minTs, maxTs, maxTs, ingestionTime, bytes, stream.id);
      this.s.addGroupBytes.run(bytes, stream.groupId);
    })();
    return toStream(this.s.getStreamById.get(stream.id)!);
  }

  readStream(streamId: number, opts: ReadStreamOptions): StoredEvent[] {
    const where = ['e.stream_id = ?'];
    const args: unknown[] = [streamId];
    if (opts.startTime !== undefined) {
      where.push('e.ts >= ?');
      args.push(opts.startTime);
    }
    if (opts.endTime !== undefined) {
      where.push('e.ts < ?');
      args.push(opts.endTime);
    }
    if (opts.after) {
      where.push('(e.ts > ? OR (e.ts = ? AND e.seq > ?))');
      args.push(opts.after.ts, opts.after.ts, opts.after.seq);
    }
    if (opts.before) {
      where.push('(e.ts < ? OR (e.ts = ? AND e.seq < ?))');
      args.push(opts.before.ts, opts.before.ts, opts.before.seq);
    }
    const dir = opts.direction === 'forward' ? 'ASC' : 'DESC';
    const stmt = this.db.prepare(
      `SELECT ${EVENT_COLS} FROM events e JOIN streams s ON s.id = e.stream_id WHERE ${where.join(' AND ')} ORDER BY e.ts ${dir}, e.seq ${dir}`,
    );
    const out: StoredEvent[] = [];
    let bytes = 0;
    for (const r of stmt.iterate(...args) as IterableIterator<EventDbRow>) {
      if (out.length >= opts.limit) break;
      if (out.length > 0 && bytes + r.bytes + LIMITS.perEventOverhead > opts.maxBytes) break;
      bytes += r.bytes + LIMITS.perEventOverhead;
      out.push(toEvent(r));
    }
    if (opts.direction === 'backward') out.reverse();
    return out;
  }

  filter(groupId: number, opts: FilterOptions): { events: StoredEvent[]; last?: EventPosition } {
    const where = ['e.group_id = ?'];
    const args: unknown[] = [groupId];
    if (opts.streamIds) {
      if (opts.streamIds.length === 0) return { events: [] };
      where.push(`e.stream_id IN (${opts.streamIds.map(() => '?').join(',')})`);
      args.push(...opts.streamIds);
    }
    if (opts.startTime !== undefined) {
      where.push('e.ts >= ?');
      args.push(opts.startTime);
    }
    if (opts.endTime !== undefined) {
      where.push('e.ts <= ?');
      args.push(opts.endTime);
    }
    if (opts.after) {
      where.push('(e.ts > ? OR (e.ts = ? AND e.seq > ?))');
      args.push(opts.after.ts, opts.after.ts, opts.after.seq);
    }
    for (const lit of opts.requiredLiterals) {
      where.push('instr(e.message, ?) > 0');
      args.push(lit);
    }
    const stmt = this.db.prepare(
      `SELECT ${EVENT_COLS} FROM events e INDEXED BY events_by_group JOIN streams s ON s.id = e.stream_id WHERE ${where.join(' AND ')} ORDER BY e.ts, e.seq`,
    );
    const out: StoredEvent[] = [];
    let bytes = 0;
    for (const r of stmt.iterate(...args) as IterableIterator<EventDbRow>) {
      if (!opts.match(r.message)) continue;
      if (out.length >= opts.limit || (out.length > 0 && bytes + r.bytes + LIMITS.perEventOverhead > opts.maxBytes)) {
        const lastEv = out[out.length - 1]!;
        return { events: out, last: { ts: lastEv.timestamp, seq: lastEv.seq } };
      }
      bytes += r.bytes + LIMITS.perEventOverhead;
      out.push(toEvent(r));
    }
    return { events: out };
  }

  deleteOlderThan(groupId: number, cutoff: number, maxRows = 50_000): number {
    return this.db.transaction(() => {
      const rows = this.s.expired.all(groupId, cutoff, maxRows);
      if (rows.length === 0) return 0;
      const perStream = new Map<number, number>();
      let bytes = 0;
      for (const r of rows) {
        perStream.set(r.stream_id, (perStream.get(r.stream_id) ?? 0) + r.bytes);
        bytes += r.bytes;
      }
      this.s.delExpired.run(groupId, cutoff, maxRows);
      for (const [streamId, b] of perStream) {
        this.s.subStreamBytes.run(b, streamId);
        // AWS keeps a stream's last event time; the first moves forward as events expire.
        const first = this.s.streamFirst.get(streamId)?.first_ts;
        if (first !== null && first !== undefined) this.s.setStreamFirst.run(first, streamId);
      }
      this.s.subGroupBytes.run(bytes, groupId);
      return rows.length;
    })();
  }

  readAfterSeq(groupId: number, seq: number, limit: number, maxBytes: number): StoredEvent[] {
    const out: StoredEvent[] = [];
    let bytes = 0;
    for (const r of this.s.afterSeq.iterate(seq, groupId) as IterableIterator<EventDbRow>) {
      if (out.length >= limit || (out.length > 0 && bytes + r.bytes + LIMITS.perEventOverhead > maxBytes)) break;
      bytes += r.bytes + LIMITS.perEventOverhead;
      out.push(toEvent(r));
    }
    return out;
  }

  lastSeqIngestedBefore(groupId: number, time: number): number {
    return this.s.lastSeqBefore.get(groupId, time)?.seq ?? 0;
  }

  getCursor(groupId: number, subscription: string): number | undefined {
    return this.s.getCursor.get(groupId, subscription)?.seq;
  }

  setCursor(groupId: number, subscription: string, seq: number): void {
    this.s.setCursor.run(groupId, subscription, seq);
  }

  pruneCursors(groupId: number, keep: readonly string[]): void {
    const k = new Set(keep);
    for (const r of this.s.groupCursors.all(groupId)) if (!k.has(r.subscription)) this.s.delCursor.run(groupId, r.subscription);
  }

  reset(): void {
    this.db.exec('DELETE FROM events; DELETE FROM streams; DELETE FROM groups; DELETE FROM cursors;');
  }

  close(): void {
    this.db.close();
  }
}
