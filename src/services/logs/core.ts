/**
 * The logs operations shared by the API handlers and the in-process helpers (agent, CLI):
 * opening the per-platform event store, resolving groups and streams, and validating and
 * appending a batch of events with AWS's PutLogEvents rules.
 */
import { join } from 'node:path';
import { arn, parseArn } from '../../domain/common.js';
import type { Platform } from '../../domain/platform.js';
import { logsErrors } from './errors.js';
import { SqliteLogEventStore, type LogEventStore, type LogGroupRow, type LogStreamRow, type NewEvent } from './eventStore.js';

const stores = new WeakMap<Platform, LogEventStore>();

/** The event store of a running Berth (`<dataDir>/logs.db`), opened on first use. */
export function logStoreFor(platform: Platform): LogEventStore {
  let s = stores.get(platform);
  if (!s) {
    s = new SqliteLogEventStore(join(platform.dataDir, 'logs.db'));
    stores.set(platform, s);
  }
  return s;
}

/** Closes the platform's event store if it was opened (at shutdown). */
export function closeLogStore(platform: Platform): void {
  stores.get(platform)?.close();
  stores.delete(platform);
}

/** Retention values PutRetentionPolicy accepts, in days. */
export const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** PutLogEvents limits (AWS's documented quotas). */
export const LIMITS = {
  maxEvents: 10_000,
  maxBatchBytes: 1_048_576,
  perEventOverhead: 26,
  /** Largest event: message bytes + 26. */
  maxEventBytes: 262_144,
  maxSpanMs: 24 * 3600_000,
  maxFutureMs: 2 * 3600_000,
  maxAgeMs: 14 * 24 * 3600_000,
} as const;

const DAY_MS = 24 * 3600_000;

/** `arn:aws:logs:<region>:<acct>:log-group:<name>` (logGroupArn, the tagging ARN). */
export function groupArn(platform: Platform, region: string, name: string): string {
  return arn('logs', region, platform.accountId, `log-group:${name}`);
}

/** The stream's ARN, `...:log-group:<group>:log-stream:<stream>`. */
export function streamArn(platform: Platform, region: string, group: string, stream: string): string {
  return arn('logs', region, platform.accountId, `log-group:${group}:log-stream:${stream}`);
}

/** Resolves a logGroupName / logGroupIdentifier (name or ARN) pair as the APIs allow. */
export function groupNameOf(platform: Platform, region: string, name: string | undefined, identifier: string | undefined): string {
  if (name !== undefined && identifier !== undefined) {
    throw logsErrors.invalidParameter('LogGroup name and LogGroup ARN are mutually exclusive parameters.');
  }
  const ref = name ?? identifier;
  if (ref === undefined) throw logsErrors.invalidParameter('Either logGroupName or logGroupIdentifier must be specified.');
  return ref.startsWith('arn:') ? groupNameFromArn(platform, region, ref) : ref;
}

/** The log group name an ARN names (with or without the trailing `:*`), or throws ResourceNotFound. */
export function groupNameFromArn(platform: Platform, region: string, ref: string): string {
  const p = parseArn(ref);
  if (!p || p.service !== 'logs' || !p.resource.startsWith('log-group:')) {
    throw logsErrors.invalidParameter(`'${ref}' is not a log group ARN (arn:aws:logs:<region>:<account>:log-group:<name>).`);
  }
  if (p.region !== region || p.accountId !== platform.accountId) throw logsErrors.groupNotFound();
  let name = p.resource.slice('log-group:'.length);
  if (name.endsWith(':*')) name = name.slice(0, -2);
  return name;
}

/** The group, or ResourceNotFoundException. */
export function requireGroup(store: LogEventStore, region: string, name: string): LogGroupRow {
  const g = store.getGroup(region, name);
  if (!g) throw logsErrors.groupNotFound();
  return g;
}

/** The stream of `group`, or ResourceNotFoundException. */
export function requireStream(store: LogEventStore, group: LogGroupRow, name: string): LogStreamRow {
  const s = store.getStream(group.id, name);
  if (!s) throw logsErrors.streamNotFound();
  return s;
}

/** What PutLogEvents reports about events it accepted partially. */
export interface RejectedInfo {
  tooNewLogEventStartIndex?: number;
  tooOldLogEventEndIndex?: number;
  expiredLogEventEndIndex?: number;
}

/**
 * Validates a batch with AWS's PutLogEvents rules and appends the acceptable events.
 * Whole-batch violations (count, size, order, span, oversize event) throw
 * InvalidParameterException and store nothing; events too far in the future, older than 14
 * days or older than the group's retention are skipped and reported, as AWS does.
 */
export function putEvents(
  store: LogEventStore,
  now: number,
  group: LogGroupRow,
  stream: LogStreamRow,
  events: NewEvent[],
): { stream: LogStreamRow; rejected?: RejectedInfo } {
  if (events.length === 0) throw logsErrors.invalidParameter('logEvents must contain at least one event.');
  if (events.length > LIMITS.maxEvents) {
    throw logsErrors.invalidParameter(`A PutLogEvents batch can contain at most ${LIMITS.maxEvents} events; got ${events.length}.`);
  }
  let total = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (typeof e.message !== 'string' || e.message.length === 0) throw logsErrors.invalidParameter(`Log event ${i} has an empty message.`);
    if (!Number.isSafeInteger(e.timestamp) || e.timestamp < 0) throw logsErrors.invalidParameter(`Log event ${i} has an invalid timestamp.`);
    const size = Buffer.byteLength(e.message, 'utf8') + LIMITS.perEventOverhead;
    if (size > LIMITS.maxEventBytes) {
      throw logsErrors.invalidParameter(
        `Log event ${i} is too large: ${size} bytes (message plus ${LIMITS.perEventOverhead}); the maximum is ${LIMITS.maxEventBytes} bytes.`,
      );
    }
    total += size;
    if (i > 0 && e.timestamp < events[i - 1]!.timestamp) {
      throw logsErrors.invalidParameter('Log events in a single PutLogEvents request must be in chronological order.');
    }
  }
  if (total > LIMITS.maxBatchBytes) {
    throw logsErrors.invalidParameter(
      `The batch is ${total} bytes (messages in UTF-8 plus ${LIMITS.perEventOverhead} bytes per event); the maximum is ${LIMITS.maxBatchBytes} bytes.`,
    );
  }
  // Events are in timestamp order, so the rejected ones are a prefix (too old) and a suffix (too new).
  const tooOldBefore = now - LIMITS.maxAgeMs;
  const expiredBefore = group.retentionInDays ? now - group.retentionInDays * DAY_MS : -Infinity;
  const tooNewAfter = now + LIMITS.maxFutureMs;
  let start = 0;
  let tooOld: number | undefined;
  let expired: number | undefined;
  while (start < events.length && (events[start]!.timestamp < tooOldBefore || events[start]!.timestamp < expiredBefore)) {
    if (events[start]!.timestamp < expiredBefore) expired = start;
    if (events[start]!.timestamp < tooOldBefore) tooOld = start;
    start++;
  }
  let end = events.length;
  while (end > start && events[end - 1]!.timestamp > tooNewAfter) end--;
  const accepted = events.slice(start, end);
  if (accepted.length > 0 && accepted[accepted.length - 1]!.timestamp - accepted[0]!.timestamp > LIMITS.maxSpanMs) {
    throw logsErrors.invalidParameter('The log events in a single PutLogEvents request cannot span more than 24 hours.');
  }
  const rejected: RejectedInfo = {};
  if (end < events.length) rejected.tooNewLogEventStartIndex = end;
  if (tooOld !== undefined) rejected.tooOldLogEventEndIndex = tooOld;
  if (expired !== undefined) rejected.expiredLogEventEndIndex = expired;
  const updated = store.append(stream, accepted, now);
  return { stream: updated, rejected: Object.keys(rejected).length ? rejected : undefined };
}

/** The upload sequence token AWS-style clients expect (a long decimal string; accepted and ignored). */
export function sequenceToken(stream: LogStreamRow): string {
  return `49${String(stream.id).padStart(20, '0')}${String(stream.uploads).padStart(34, '0')}`;
}

/** Deletes events older than each group's retention; returns how many were removed. */
export function sweepRetention(platform: Platform): number {
  const store = logStoreFor(platform);
  const now = platform.clock.now();
  let n = 0;
  for (const g of store.groupsWithRetention()) n += store.deleteOlderThan(g.id, now - g.retentionInDays! * DAY_MS);
  return n;
}
