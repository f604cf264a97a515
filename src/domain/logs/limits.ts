/**
 * CloudWatch Logs' documented quotas for PutLogEvents, as plain numbers. Kept apart from the
 * rules that apply them (./events.ts) and from the SQLite store so that a client that has to
 * batch its own events (the agent's log shipper) can use the same numbers without loading either.
 */

/** PutLogEvents limits (AWS's documented quotas). */
export const LIMITS = {
  /** Events per batch. */
  maxEvents: 10_000,
  /** Bytes per batch: the UTF-8 bytes of every message plus `perEventOverhead` per event. */
  maxBatchBytes: 1_048_576,
  /** What AWS counts for each event besides its message. */
  perEventOverhead: 26,
  /** Largest event: message bytes + 26. */
  maxEventBytes: 262_144,
  /** Widest span of timestamps within one batch. */
  maxSpanMs: 24 * 3600_000,
  /** Events further ahead of the clock than this are skipped (`tooNewLogEventStartIndex`). */
  maxFutureMs: 2 * 3600_000,
  /** Events older than this are skipped (`tooOldLogEventEndIndex`). */
  maxAgeMs: 14 * 24 * 3600_000,
} as const;

/** One day in milliseconds: retention periods are whole days. */
export const DAY_MS = 24 * 3600_000;
