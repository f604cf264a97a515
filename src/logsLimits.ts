/**
 * CloudWatch Logs' documented quotas for PutLogEvents, as plain numbers: the one definition both
 * sides use. The logs domain (src/domain/logs/events.ts) enforces them on every batch it is sent;
 * the agent's log shipper (src/agent/logShipper.ts) batches by them, so that what it sends is
 * never refused for its shape. A kernel module (no imports, no behaviour), so that the agent,
 * which may not import server code, and the domain, which may not import the client, share it.
 */

/** PutLogEvents limits (AWS's documented quotas). */
export const LOGS_LIMITS = {
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
