/**
 * The LogShipper's (logShipper.ts) calls to CloudWatch Logs, batch by batch: what a line becomes
 * in a batch (`fitMessage`), how many lines of a queue make one PutLogEvents batch under the
 * quotas of src/logsLimits.ts (`batchLength`), and the read-back that tells whether a batch sent
 * in doubt was stored (`storedEventCounts`, GetLogEvents).
 */
import { AwsApiError } from '../client/awsClient.js';
import { LOGS_LIMITS } from '../logsLimits.js';
import type { LogDestination } from './logStream.js';

/** A CloudWatch Logs call (operation and input as on the wire), answering its output. */
export type CallLogs = <T = Record<string, unknown>>(operation: string, input: unknown) => Promise<T>;

/** Pages read back when resolving a batch, at most. */
const RESOLVE_MAX_PAGES = 50;
const MAX_MESSAGE_BYTES = LOGS_LIMITS.maxEventBytes - LOGS_LIMITS.perEventOverhead;

/** A message cut to the event size limit at a character boundary (never over it), and never empty. */
export function fitMessage(message: string): string {
  if (message.length === 0) return ' ';
  if (message.length * 3 <= MAX_MESSAGE_BYTES || Buffer.byteLength(message) <= MAX_MESSAGE_BYTES) return message;
  const b = Buffer.from(message).subarray(0, MAX_MESSAGE_BYTES);
  // Back up to the start of a character: continuation bytes are 10xxxxxx.
  let end = b.length;
  let i = end - 1;
  while (i > 0 && (b[i]! & 0xc0) === 0x80) i--;
  const lead = b[i]!;
  const need = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
  if (i + need > end) end = i;
  return b.subarray(0, end).toString('utf8');
}

/**
 * How many lines from the queue's head make the next batch: at most LOGS_LIMITS.maxEvents events
 * and maxBatchBytes bytes, spanning at most maxSpanMs (at least one line).
 */
export function batchLength(queue: ReadonlyArray<{ timestamp: number; bytes: number }>): number {
  let n = 0;
  let bytes = 0;
  let min = Infinity;
  let max = -Infinity;
  while (n < queue.length && n < LOGS_LIMITS.maxEvents) {
    const e = queue[n]!;
    const lo = Math.min(min, e.timestamp);
    const hi = Math.max(max, e.timestamp);
    if (n > 0 && (bytes + e.bytes > LOGS_LIMITS.maxBatchBytes || hi - lo > LOGS_LIMITS.maxSpanMs)) break;
    bytes += e.bytes;
    min = lo;
    max = hi;
    n++;
  }
  return n;
}

/**
 * How many events of each of these milliseconds (at least one) the stream holds, read back with
 * GetLogEvents over their time window, at most RESOLVE_MAX_PAGES pages; `complete` is false when
 * the window held more than that. A stream or group that is not there holds none.
 */
export async function storedEventCounts(logs: CallLogs, dest: LogDestination, times: number[]): Promise<{ counts: Map<number, number>; complete: boolean }> {
  const startTime = Math.min(...times);
  const endTime = Math.max(...times) + 1;
  const counts = new Map(times.map((ts) => [ts, 0]));
  let token: string | undefined;
  let complete = false;
  try {
    for (let page = 0; page < RESOLVE_MAX_PAGES; page++) {
      const out = await logs<{ events?: Array<{ timestamp?: number }>; nextForwardToken?: string }>('GetLogEvents', {
        logGroupName: dest.group,
        logStreamName: dest.stream,
        startTime,
        endTime,
        startFromHead: true,
        nextToken: token,
      });
      const events = out.events ?? [];
      for (const e of events) {
        const n = e.timestamp === undefined ? undefined : counts.get(e.timestamp);
        if (n !== undefined) counts.set(e.timestamp!, n + 1);
      }
      if (events.length === 0 || !out.nextForwardToken || out.nextForwardToken === token) {
        complete = true;
        break;
      }
      token = out.nextForwardToken;
    }
  } catch (e) {
    // A stream or group that is not there holds nothing of the batch.
    if (!(e instanceof AwsApiError && e.code === 'ResourceNotFoundException')) throw e;
    complete = true;
  }
  return { counts, complete };
}
