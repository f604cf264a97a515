/**
 * Log events: appending a batch with AWS's PutLogEvents rules, and searching a group with a
 * filter pattern. Events live in the event store (./eventStore.ts); a batch is appended in one
 * transaction together with its stream's and group's counters, so they never disagree.
 */
import { logsErrors } from './errors.js';
import type { EventPosition, LogEventStore, LogGroupRow, LogStreamRow, NewEvent, StoredEvent } from './eventStore.js';
import { FilterPatternError, compileFilterPattern, type CompiledPattern } from './filterPattern.js';
import { LIMITS } from './limits.js';
import { retentionCutoff } from './retention.js';

/** What PutLogEvents reports about events it skipped (indexes into the batch). */
export interface RejectedInfo {
  tooNewLogEventStartIndex?: number;
  tooOldLogEventEndIndex?: number;
  expiredLogEventEndIndex?: number;
}

/**
 * Validates a batch with AWS's PutLogEvents rules and appends the acceptable events to `stream`
 * at ingestion time `now`. Whole-batch violations (no events, too many, too many bytes, an
 * oversize or empty event, timestamps out of order or spanning more than 24 h) throw
 * InvalidParameterException and store nothing. Events more than 2 h ahead, older than 14 days
 * or older than the group's retention are skipped and reported, as AWS does. Returns the
 * stream as it is afterwards (its counters moved).
 */
export function putLogEvents(
  events: LogEventStore,
  now: number,
  group: LogGroupRow,
  stream: LogStreamRow,
  batch: readonly NewEvent[],
): { stream: LogStreamRow; rejected?: RejectedInfo } {
  if (batch.length === 0) throw logsErrors.invalidParameter('logEvents must contain at least one event.');
  if (batch.length > LIMITS.maxEvents) {
    throw logsErrors.invalidParameter(`A PutLogEvents batch can contain at most ${LIMITS.maxEvents} events; got ${batch.length}.`);
  }
  let total = 0;
  for (let i = 0; i < batch.length; i++) {
    const e = batch[i]!;
    if (typeof e.message !== 'string' || e.message.length === 0) throw logsErrors.invalidParameter(`Log event ${i} has an empty message.`);
    if (!Number.isSafeInteger(e.timestamp) || e.timestamp < 0) throw logsErrors.invalidParameter(`Log event ${i} has an invalid timestamp.`);
    const size = Buffer.byteLength(e.message, 'utf8') + LIMITS.perEventOverhead;
    if (size > LIMITS.maxEventBytes) {
      throw logsErrors.invalidParameter(
        `Log event ${i} is too large: ${size} bytes (message plus ${LIMITS.perEventOverhead}); the maximum is ${LIMITS.maxEventBytes} bytes.`,
      );
    }
    total += size;
    if (i > 0 && e.timestamp < batch[i - 1]!.timestamp) {
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
  const expiredBefore = retentionCutoff(group, now);
  const tooNewAfter = now + LIMITS.maxFutureMs;
  let start = 0;
  let tooOld: number | undefined;
  let expired: number | undefined;
  while (start < batch.length && (batch[start]!.timestamp < tooOldBefore || batch[start]!.timestamp < expiredBefore)) {
    if (batch[start]!.timestamp < expiredBefore) expired = start;
    if (batch[start]!.timestamp < tooOldBefore) tooOld = start;
    start++;
  }
  let end = batch.length;
  while (end > start && batch[end - 1]!.timestamp > tooNewAfter) end--;
  const accepted = batch.slice(start, end);
  if (accepted.length > 0 && accepted[accepted.length - 1]!.timestamp - accepted[0]!.timestamp > LIMITS.maxSpanMs) {
    throw logsErrors.invalidParameter('The log events in a single PutLogEvents request cannot span more than 24 hours.');
  }
  const rejected: RejectedInfo = {};
  if (end < batch.length) rejected.tooNewLogEventStartIndex = end;
  if (tooOld !== undefined) rejected.tooOldLogEventEndIndex = tooOld;
  if (expired !== undefined) rejected.expiredLogEventEndIndex = expired;
  const updated = events.append(stream, accepted, now);
  return { stream: updated, rejected: Object.keys(rejected).length ? rejected : undefined };
}

/**
 * The upload sequence token AWS-style clients expect (a long decimal string). It moves with
 * every accepted batch; PutLogEvents accepts and ignores tokens, as AWS has since 2023.
 */
export function sequenceToken(stream: LogStreamRow): string {
  return `49${String(stream.id).padStart(20, '0')}${String(stream.uploads).padStart(34, '0')}`;
}

/** Compiles a filter pattern, a malformed one being the caller's InvalidParameterException. */
export function compilePattern(pattern: string | undefined): CompiledPattern {
  try {
    return compileFilterPattern(pattern);
  } catch (e) {
    if (e instanceof FilterPatternError) throw logsErrors.invalidParameter(e.message);
    throw e;
  }
}

/** A search over one group's events (FilterLogEvents). */
export interface EventSearch {
  /** Only these streams (names that do not exist match nothing). */
  streamNames?: readonly string[];
  /** Only streams whose name starts with this. */
  streamNamePrefix?: string;
  /** Inclusive bounds on the event timestamp. */
  startTime?: number;
  endTime?: number;
  /** Resume after this position (the `last` of the previous page). */
  after?: EventPosition;
  /** A filter pattern (see ./filterPattern.ts); absent or empty matches every event. */
  pattern?: string;
  limit: number;
  /** Stop once the events returned add up to this many bytes (at least one is returned). */
  maxBytes: number;
}

/**
 * Events of `group` matching `search`, in (timestamp, ingestion) order across its streams. `last`
 * is set when more may follow: the position to resume after.
 */
export function searchLogEvents(events: LogEventStore, group: LogGroupRow, search: EventSearch): { events: StoredEvent[]; last?: EventPosition } {
  const pattern = compilePattern(search.pattern);
  let streamIds: number[] | undefined;
  if (search.streamNames) streamIds = search.streamNames.flatMap((n) => events.getStream(group.id, n)?.id ?? []);
  else if (search.streamNamePrefix !== undefined) streamIds = events.streamsByPrefix(group.id, search.streamNamePrefix).map((s) => s.id);
  return events.filter(group.id, {
    streamIds,
    startTime: search.startTime,
    endTime: search.endTime,
    after: search.after,
    requiredLiterals: pattern.requiredLiterals,
    match: pattern.matches,
    limit: search.limit,
    maxBytes: search.maxBytes,
  });
}
