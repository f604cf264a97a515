/**
 * In-process entry points to CloudWatch Logs for the rest of Berth: the agent appends container
 * output with {@link appendLogEvents}, and `berth logs` follows streams with
 * {@link readLogEventsAfter}. Both use the same store and rules as the AWS API.
 */
import type { Platform } from '../../domain/platform.js';
import { LIMITS, logStoreFor, putEvents, type RejectedInfo } from './core.js';
import type { NewEvent } from './eventStore.js';

/**
 * The log group Berth uses for a cluster's container output when a task definition names
 * none: `/berth/<cluster>` (streams are `<prefix>/<container>/<task-id>`, as awslogs writes).
 */
export function defaultLogGroupFor(cluster: string): string {
  return `/berth/${cluster}`;
}

/** Thrown by the helpers when the log group is missing and may not be created. */
export class LogGroupMissingError extends Error {
  constructor(readonly region: string, readonly group: string) {
    super(`Log group '${group}' does not exist in ${region}; create it (aws logs create-log-group) or enable awslogs-create-group.`);
    this.name = 'LogGroupMissingError';
  }
}

export interface AppendResult {
  /** Events stored. */
  accepted: number;
  /** Events skipped as too old, too new or past retention (see PutLogEvents). */
  rejected: number;
}

/**
 * Appends events to `group`/`stream` in `region`, creating the stream if it does not exist
 * (and the group too with `createGroup`). Events are sorted by timestamp, split into batches
 * that satisfy PutLogEvents' limits, and messages longer than the per-event maximum are
 * truncated rather than failing the whole append. Empty messages are dropped.
 */
export function appendLogEvents(
  platform: Platform,
  region: string,
  group: string,
  stream: string,
  events: NewEvent[],
  opts: { createGroup?: boolean } = {},
): AppendResult {
  const store = logStoreFor(platform);
  const now = platform.clock.now();
  let g = store.getGroup(region, group);
  if (!g) {
    if (!opts.createGroup) throw new LogGroupMissingError(region, group);
    g = store.createGroup({ region, name: group, creationTime: now, logGroupClass: 'STANDARD', deletionProtection: false, tags: {} }) ?? store.getGroup(region, group)!;
  }
  let s = store.getStream(g.id, stream) ?? store.createStream(g.id, stream, now) ?? store.getStream(g.id, stream)!;
  const maxMessage = LIMITS.maxEventBytes - LIMITS.perEventOverhead;
  const sorted = events
    .filter((e) => e.message.length > 0)
    .map((e) => ({ timestamp: Math.max(0, Math.floor(e.timestamp)), message: truncateUtf8(e.message, maxMessage) }))
    .sort((a, b) => a.timestamp - b.timestamp);
  let accepted = 0;
  let rejected = 0;
  let i = 0;
  while (i < sorted.length) {
    const batch: NewEvent[] = [];
    let bytes = 0;
    const first = sorted[i]!.timestamp;
    while (i < sorted.length && batch.length < LIMITS.maxEvents) {
      const e = sorted[i]!;
      const size = Buffer.byteLength(e.message, 'utf8') + LIMITS.perEventOverhead;
      if (bytes + size > LIMITS.maxBatchBytes || e.timestamp - first > LIMITS.maxSpanMs) break;
      batch.push(e);
      bytes += size;
      i++;
    }
    const r = putEvents(store, now, g, s, batch);
    s = r.stream;
    const skipped = countRejected(r.rejected, batch.length);
    rejected += skipped;
    accepted += batch.length - skipped;
  }
  return { accepted, rejected };
}

function countRejected(r: RejectedInfo | undefined, n: number): number {
  if (!r) return 0;
  const old = Math.max(r.tooOldLogEventEndIndex ?? -1, r.expiredLogEventEndIndex ?? -1) + 1;
  const young = r.tooNewLogEventStartIndex !== undefined ? n - r.tooNewLogEventStartIndex : 0;
  return old + young;
}

function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  return Buffer.from(s, 'utf8').subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
}

/** An event as the follow helper returns it. */
export interface FollowedEvent {
  logStreamName: string;
  timestamp: number;
  ingestionTime: number;
  message: string;
}

/**
 * Reads events stored after `cursor` (in ingestion order) from the group's streams: those named
 * in `streams.names`, those starting with `streams.prefix`, or all. Pass the returned cursor
 * to the next call to follow; start with `undefined`. Streams created later are picked up
 * because they are resolved on every call. Throws LogGroupMissingError if the group is missing.
 */
export function readLogEventsAfter(
  platform: Platform,
  region: string,
  group: string,
  streams: { names?: string[]; prefix?: string },
  cursor: string | undefined,
  limit = 1000,
): { events: FollowedEvent[]; cursor: string } {
  const store = logStoreFor(platform);
  const g = store.getGroup(region, group);
  if (!g) throw new LogGroupMissingError(region, group);
  const after = cursor ? Number(cursor) : 0;
  if (!Number.isSafeInteger(after) || after < 0) throw new Error(`Invalid log cursor '${cursor}'.`);
  const ids = streams.names
    ? streams.names.flatMap((n) => store.getStream(g.id, n)?.id ?? [])
    : store.streamsByPrefix(g.id, streams.prefix ?? '').map((s) => s.id);
  const rows = store.readAfter(ids, after, limit);
  return {
    events: rows.map((e) => ({ logStreamName: e.streamName, timestamp: e.timestamp, ingestionTime: e.ingestionTime, message: e.message })),
    cursor: String(rows.length ? rows[rows.length - 1]!.seq : after),
  };
}
