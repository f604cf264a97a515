/**
 * The audit log: one record per API call Berth answered (who, from where, what, on which
 * resources, and how it ended), kept in a SQLite database of its own (`<dataDir>/audit.db`, WAL,
 * mode 0600) and read back through CloudTrail's `LookupEvents` (src/services/cloudtrail/).
 *
 * Off the request path: `record` only appends to a bounded in-memory queue; the queue is written
 * in one transaction shortly after (or when it fills, or before any read), so a request never
 * waits for the disk. A burst beyond the queue's bound drops the oldest pending records and
 * counts them (`dropped`), rather than growing without bound.
 *
 * Bounded on disk: records older than `maxAgeMs` (default 90 days, CloudTrail's event history)
 * and all but the newest `maxEvents` (default 1,000,000) are deleted as writes go.
 *
 * Replicas of a PostgreSQL-backed Berth share their records through the store
 * (./sharedTrail.ts): each replica's database holds every replica's calls, so any of them answers
 * LookupEvents for all. Records are keyed by their event id, so one arriving twice is kept once.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { ensurePrivateFile } from '../../privateFiles.js';
import type { Clock } from '../../clock.js';
import type { CallerPrincipal } from '../iam/credentials.js';

/** The file name of the audit log in the data dir. */
export const AUDIT_DB_FILE = 'audit.db';

/** Default age past which records are deleted (CloudTrail keeps 90 days of event history). */
export const DEFAULT_AUDIT_MAX_AGE_MS = 90 * 24 * 3600 * 1000;
/** Default count of records kept. */
export const DEFAULT_AUDIT_MAX_EVENTS = 1_000_000;
/** Most records waiting to be written; beyond it the oldest waiting are dropped. */
export const MAX_PENDING = 10_000;
/** How soon after a call its record is written (the batch window). */
const FLUSH_DELAY_MS = 50;
/** Most resources kept per record. */
const MAX_RESOURCES = 20;

/** One answered API call, as the gateway reports it. */
export interface AuditEntry {
  /** When the call arrived (epoch ms). */
  time: number;
  requestId: string;
  /** The API's endpoint prefix (`ecs`, `iam`, `elasticloadbalancing`...): the event source is `<prefix>.amazonaws.com`. */
  service: string;
  /** The operation (`DescribeClusters`), or what the request claimed when it was refused early. */
  operation: string;
  region: string;
  /** Who called (absent when the caller could not be told). */
  principal?: CallerPrincipal;
  /** The access key the request was signed with. */
  accessKeyId?: string;
  sourceIp: string;
  userAgent?: string;
  /** ARNs the call acted on (its authorization resources). */
  resources: string[];
  /** The error code of a refused or failed call; absent when it succeeded. */
  errorCode?: string;
  errorMessage?: string;
}

/** A record as written: the columns LookupEvents filters on and the CloudTrail record (what replicas share). */
export interface AuditRow {
  time: number;
  eventId: string;
  eventName: string;
  eventSource: string;
  username?: string;
  accessKeyId?: string;
  readOnly: boolean;
  resources: Array<{ type: string; name: string; arn: string }>;
  /** The CloudTrail record (JSON). */
  record: string;
}

/** A stored record, as LookupEvents lists it. */
export interface AuditEvent {
  seq: number;
  eventId: string;
  eventTime: number;
  eventName: string;
  eventSource: string;
  username?: string;
  accessKeyId?: string;
  readOnly: boolean;
  resources: Array<{ type: string; name: string }>;
  /** The whole record in CloudTrail's format (JSON). */
  record: string;
}

/** The LookupEvents attribute keys, as columns. */
export type AuditAttribute = 'EventId' | 'EventName' | 'ReadOnly' | 'Username' | 'ResourceType' | 'ResourceName' | 'EventSource' | 'AccessKeyId';

/** A search: newest first, at most `limit`, optionally one attribute, a time range and a cursor. */
export interface AuditQuery {
  attribute?: { key: AuditAttribute; value: string };
  /** Inclusive, epoch ms. */
  startTime?: number;
  endTime?: number;
  /** Only records older than this sequence number (the previous page's last). */
  beforeSeq?: number;
  limit: number;
}

/** Settings of the audit log. */
export interface AuditLogOptions {
  maxAgeMs?: number;
  maxEvents?: number;
}

const COLUMN: Record<Exclude<AuditAttribute, 'ResourceType' | 'ResourceName'>, string> = {
  EventId: 'event_id',
  EventName: 'event_name',
  ReadOnly: 'read_only',
  Username: 'username',
  EventSource: 'event_source',
  AccessKeyId: 'access_key_id',
};

/** CloudFormation's service names in resource types (`AWS::ECS::Cluster`), by ARN service. */
const TYPE_SERVICE: Record<string, string> = {
  ecs: 'ECS',
  iam: 'IAM',
  sts: 'STS',
  ssm: 'SSM',
  logs: 'Logs',
  elasticloadbalancing: 'ElasticLoadBalancingV2',
  ecr: 'ECR',
  ec2: 'EC2',
  cloudwatch: 'CloudWatch',
  cloudformation: 'CloudFormation',
};

/** Operations that only read (CloudTrail's `readOnly`). */
const READ_ONLY = /^(Describe|List|Get|Lookup|Head|Filter|Simulate|Batch?Get|Search|Discover|Poll|Test|StartQuery|StopQuery)/;

/** Whether an operation only reads. */
export function isReadOnly(operation: string): boolean {
  return READ_ONLY.test(operation);
}

/** The CloudFormation-style type and the name of a resource ARN (`AWS::ECS::Cluster`, `prod`). */
export function describeResource(arn: string): { type: string; name: string } {
  const parts = arn.split(':');
  const service = parts[2] ?? '';
  const rest = parts.slice(5).join(':');
  const cut = rest.search(/[/:]/);
  const kind = cut < 0 ? rest : rest.slice(0, cut);
  const name = cut < 0 ? rest : rest.slice(rest.lastIndexOf('/') >= 0 ? rest.lastIndexOf('/') + 1 : cut + 1);
  const camel = kind
    .split(/[-_]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
  return { type: `AWS::${TYPE_SERVICE[service] ?? service.toUpperCase()}::${camel}`, name: name || arn };
}

/** The `userIdentity` block of a CloudTrail record, and the Username LookupEvents shows. */
function identityOf(p: CallerPrincipal | undefined, accessKeyId: string | undefined): { identity: Record<string, unknown>; username?: string } {
  if (!p) return { identity: { type: 'Unknown', ...(accessKeyId ? { accessKeyId } : {}) } };
  const base = { principalId: p.userId, arn: p.arn, accountId: p.accountId, accessKeyId: accessKeyId ?? p.accessKeyId };
  if (p.kind === 'root') return { identity: { type: 'Root', ...base }, username: 'root' };
  if (p.kind === 'user') {
    // A user's GetSessionToken session carries the user's name too.
    return { identity: { type: 'IAMUser', ...base, userName: p.userName }, username: p.userName };
  }
  const roleId = p.userId.split(':')[0];
  return {
    identity: {
      type: 'AssumedRole',
      ...base,
      sessionContext: { sessionIssuer: { type: 'Role', principalId: roleId, arn: p.roleArn, accountId: p.accountId, userName: p.roleName }, attributes: { mfaAuthenticated: 'false' } },
    },
    username: p.sessionName,
  };
}

export class AuditLog {
  private readonly db: Database.Database;
  private pending: AuditEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly maxAgeMs: number;
  private readonly maxEvents: number;
  private lastPrune = 0;
  private closed = false;
  /** Records dropped because the write queue was full. */
  dropped = 0;
  /** Told of each batch this replica wrote (the shared trail publishes it to the other replicas). */
  onWritten: ((rows: AuditRow[]) => void) | undefined;

  private constructor(
    path: string,
    private readonly clock: Clock,
    opts: AuditLogOptions,
    private readonly onError: (e: unknown) => void,
  ) {
    ensurePrivateFile(path);
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    ensurePrivateFile(path);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, event_id TEXT NOT NULL,
        event_name TEXT NOT NULL, event_source TEXT NOT NULL, username TEXT, access_key_id TEXT,
        read_only TEXT NOT NULL, resources TEXT NOT NULL, record TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS audit_time ON audit(time);
      CREATE INDEX IF NOT EXISTS audit_name ON audit(event_name, seq);
      CREATE INDEX IF NOT EXISTS audit_user ON audit(username, seq);
      CREATE INDEX IF NOT EXISTS audit_key ON audit(access_key_id, seq);
      CREATE INDEX IF NOT EXISTS audit_source ON audit(event_source, seq);
      CREATE UNIQUE INDEX IF NOT EXISTS audit_event_id ON audit(event_id);
      CREATE TABLE IF NOT EXISTS audit_resources (seq INTEGER NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS audit_res_name ON audit_resources(name, seq);
      CREATE INDEX IF NOT EXISTS audit_res_arn ON audit_resources(arn, seq);
      CREATE INDEX IF NOT EXISTS audit_res_type ON audit_resources(type, seq);
      CREATE INDEX IF NOT EXISTS audit_res_seq ON audit_resources(seq);
    `);
    this.maxAgeMs = opts.maxAgeMs ?? DEFAULT_AUDIT_MAX_AGE_MS;
    this.maxEvents = Math.max(1, opts.maxEvents ?? DEFAULT_AUDIT_MAX_EVENTS);
  }

  /** Opens (creating if needed) the audit log of a data dir. */
  static open(dataDir: string, clock: Clock, opts: AuditLogOptions = {}, onError: (e: unknown) => void = (e) => console.error('berth: audit log write failed:', e)): AuditLog {
    return new AuditLog(join(dataDir, AUDIT_DB_FILE), clock, opts, onError);
  }

  /** Queues one call's record; it is written shortly after, off the caller's path. */
  record(entry: AuditEntry): void {
    if (this.closed) return;
    if (this.pending.length >= MAX_PENDING) {
      this.pending.shift();
      this.dropped++;
    }
    this.pending.push(entry);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flushQuietly(), FLUSH_DELAY_MS);
      this.timer.unref();
    }
  }

  private flushQuietly(): void {
    try {
      this.flush();
    } catch (e) {
      this.onError(e);
    }
  }

  /** Writes every queued record now (one transaction), then applies retention if due. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed || this.pending.length === 0) return;
    const rows = this.pending.map(rowOf);
    this.pending = [];
    this.insert(rows);
    this.onWritten?.(rows);
    this.prune();
  }

  /** Stores records another replica wrote (those already here are skipped). */
  ingest(rows: AuditRow[]): void {
    if (this.closed || rows.length === 0) return;
    this.insert(rows);
    this.prune();
  }

  private insert(rows: AuditRow[]): void {
    const insert = this.db.prepare('INSERT OR IGNORE INTO audit (time, event_id, event_name, event_source, username, access_key_id, read_only, resources, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const insertResource = this.db.prepare('INSERT INTO audit_resources (seq, type, name, arn) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const r of rows) {
        const info = insert.run(r.time, r.eventId, r.eventName, r.eventSource, r.username ?? null, r.accessKeyId ?? null, r.readOnly ? 'true' : 'false', JSON.stringify(r.resources.map((x) => ({ type: x.type, name: x.arn }))), r.record);
        if (info.changes === 0) continue;
        for (const x of r.resources) insertResource.run(info.lastInsertRowid, x.type, x.name, x.arn);
      }
    })();
  }

  /**
   * The time before which records are past the bounds: the age bound, or, when more than
   * `maxEvents` are kept, the time of the newest record beyond that count if later.
   */
  retentionCutoff(): number {
    const byAge = this.clock.now() - this.maxAgeMs;
    const row = this.db.prepare('SELECT time FROM audit ORDER BY seq DESC LIMIT 1 OFFSET ?').get(this.maxEvents) as { time: number } | undefined;
    return row ? Math.max(byAge, row.time + 1) : byAge;
  }

  /** Deletes records past the age and count bounds (at most once a second of clock time). */
  prune(force = false): void {
    const now = this.clock.now();
    if (!force && now - this.lastPrune < 1000) return;
    this.lastPrune = now;
    const maxSeq = (this.db.prepare('SELECT max(seq) AS m FROM audit').get() as { m: number | null }).m ?? 0;
    const cutoffSeq = maxSeq - this.maxEvents;
    const oldTime = now - this.maxAgeMs;
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM audit_resources WHERE seq IN (SELECT seq FROM audit WHERE time < ? OR seq <= ?)').run(oldTime, cutoffSeq);
      this.db.prepare('DELETE FROM audit WHERE time < ? OR seq <= ?').run(oldTime, cutoffSeq);
    })();
  }

  /** Records matching `q`, newest first (queued records are written first). */
  lookup(q: AuditQuery): AuditEvent[] {
    this.flush();
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.startTime !== undefined) {
      where.push('a.time >= ?');
      args.push(q.startTime);
    }
    if (q.endTime !== undefined) {
      where.push('a.time <= ?');
      args.push(q.endTime);
    }
    if (q.beforeSeq !== undefined) {
      where.push('a.seq < ?');
      args.push(q.beforeSeq);
    }
    const attr = q.attribute;
    if (attr) {
      if (attr.key === 'ResourceName') {
        where.push('a.seq IN (SELECT seq FROM audit_resources WHERE name = ? OR arn = ?)');
        args.push(attr.value, attr.value);
      } else if (attr.key === 'ResourceType') {
        where.push('a.seq IN (SELECT seq FROM audit_resources WHERE type = ?)');
        args.push(attr.value);
      } else {
        where.push(`a.${COLUMN[attr.key]} = ?`);
        args.push(attr.value);
      }
    }
    const sql = `SELECT seq, time, event_id, event_name, event_source, username, access_key_id, read_only, resources, record FROM audit a ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT ?`;
    args.push(Math.max(1, Math.min(1000, q.limit)));
    const rows = this.db.prepare(sql).all(...args) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      seq: r.seq as number,
      eventId: r.event_id as string,
      eventTime: r.time as number,
      eventName: r.event_name as string,
      eventSource: r.event_source as string,
      username: (r.username as string | null) ?? undefined,
      accessKeyId: (r.access_key_id as string | null) ?? undefined,
      readOnly: r.read_only === 'true',
      resources: JSON.parse(r.resources as string) as Array<{ type: string; name: string }>,
      record: r.record as string,
    }));
  }

  /** How many records are stored (queued ones written first). */
  count(): number {
    this.flush();
    return (this.db.prepare('SELECT count(*) AS n FROM audit').get() as { n: number }).n;
  }

  /** Deletes every record (the operator's reset of an ephemeral Berth). */
  reset(): void {
    this.pending = [];
    this.db.exec('DELETE FROM audit; DELETE FROM audit_resources;');
  }

  /** Writes what is queued and closes the database. */
  close(): void {
    if (this.closed) return;
    this.flushQuietly();
    this.closed = true;
    this.db.close();
  }
}

/** The stored form of a call: its CloudTrail record and the columns searched. */
function rowOf(e: AuditEntry): AuditRow {
  const { identity, username } = identityOf(e.principal, e.accessKeyId);
  const eventId = eventIdOf(e);
  const eventSource = `${e.service}.amazonaws.com`;
  const readOnly = isReadOnly(e.operation);
  const resources = [...new Set(e.resources.filter((r) => r.startsWith('arn:')))].slice(0, MAX_RESOURCES).map((arn) => ({ ...describeResource(arn), arn }));
  const record = {
    eventVersion: '1.08',
    userIdentity: identity,
    eventTime: new Date(e.time).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource,
    eventName: e.operation,
    awsRegion: e.region,
    sourceIPAddress: e.sourceIp,
    userAgent: e.userAgent ?? '',
    ...(e.errorCode ? { errorCode: e.errorCode, errorMessage: e.errorMessage ?? '' } : {}),
    requestParameters: null,
    responseElements: null,
    requestID: e.requestId,
    eventID: eventId,
    readOnly,
    resources: resources.map((r) => ({ accountId: e.principal?.accountId, type: r.type, ARN: r.arn })),
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: e.principal?.accountId,
    eventCategory: 'Management',
  };
  return { time: e.time, eventId, eventName: e.operation, eventSource, username, accessKeyId: e.accessKeyId, readOnly, resources, record: JSON.stringify(record) };
}

/** A record's event id: a UUID derived from its request id (one record per request). */
function eventIdOf(e: AuditEntry): string {
  const h = createHash('sha256').update(`${e.requestId}\u0000${e.time}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
