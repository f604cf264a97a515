/**
 * Ships container output to CloudWatch Logs over the network (PutLogEvents), the way the
 * awslogs driver does: one stream per container, batched, in order, retried while the control
 * plane is unreachable. Lines are buffered in memory (bounded) until they are accepted.
 */
import { AwsApiError } from '../client/awsClient.js';

/** Where one container's lines go. */
export interface LogDestination {
  group: string;
  stream: string;
  /** Create the group if it does not exist (awslogs-create-group). */
  createGroup: boolean;
}

type CallLogs = <T = Record<string, unknown>>(operation: string, input: unknown) => Promise<T>;

interface Pending {
  dest: LogDestination;
  events: Array<{ timestamp: number; message: string }>;
  bytes: number;
  ready: boolean;
  /** The stream's creation, while under way. */
  opening?: Promise<void>;
}

/** AWS limits per PutLogEvents batch. */
const MAX_BATCH_EVENTS = 10_000;
const MAX_BATCH_BYTES = 1_048_576;
const EVENT_OVERHEAD = 26;
/** At most this many bytes are held per stream while the server is unreachable; older lines are dropped past it. */
const MAX_BUFFER_BYTES = 32 * 1024 * 1024;
const MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD;

export class LogShipper {
  private readonly streams = new Map<string, Pending>();
  /** Log groups seen to exist (created or used by this shipper). */
  private readonly knownGroups = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly logs: CallLogs,
    private readonly opts: { intervalMs?: number; onError?: (e: unknown, dest: LogDestination) => void } = {},
  ) {}

  /** Starts the periodic flush. */
  start(): void {
    const tick = () => {
      this.timer = setTimeout(async () => {
        await this.flush().catch(() => undefined);
        if (!this.closed) tick();
      }, this.opts.intervalMs ?? 100);
      this.timer.unref?.();
    };
    tick();
  }

  /** Queues one line for a destination. Long lines are cut to the event size limit. */
  push(dest: LogDestination, timestamp: number, message: string): void {
    const p = this.pendingFor(dest);
    let msg = message;
    if (Buffer.byteLength(msg) > MAX_EVENT_BYTES) msg = Buffer.from(msg).subarray(0, MAX_EVENT_BYTES).toString('utf8');
    p.events.push({ timestamp, message: msg.length ? msg : ' ' });
    p.bytes += Buffer.byteLength(msg) + EVENT_OVERHEAD;
    while (p.bytes > MAX_BUFFER_BYTES && p.events.length > 1) {
      const dropped = p.events.shift()!;
      p.bytes -= Buffer.byteLength(dropped.message) + EVENT_OVERHEAD;
    }
  }

  /**
   * Makes sure a destination can take lines before its container starts, so a missing log group
   * fails the task early (ECS's ResourceInitializationError). The first task of a group pays a
   * round trip (CreateLogGroup, or CreateLogStream, which fails if the group is missing); after
   * that the group is known and the stream is created in the background, off the task's start
   * path (lines queue until it exists). A group found missing later is checked again.
   */
  async prepare(dest: LogDestination): Promise<void> {
    const p = this.pendingFor(dest);
    if (this.knownGroups.has(dest.group)) {
      if (!p.ready) void this.openStream(p).catch(() => undefined);
      return;
    }
    await this.openStream(p);
  }

  private pendingFor(dest: LogDestination): Pending {
    const id = `${dest.group}\u0000${dest.stream}`;
    let p = this.streams.get(id);
    if (!p) this.streams.set(id, (p = { dest, events: [], bytes: 0, ready: false }));
    return p;
  }

  /** Creates the group (when asked to) and the stream; concurrent calls for one stream share one attempt. */
  private openStream(p: Pending): Promise<void> {
    p.opening ??= (async () => {
      const dest = p.dest;
      if (dest.createGroup && !this.knownGroups.has(dest.group)) {
        await this.logs('CreateLogGroup', { logGroupName: dest.group }).catch((e) => {
          if (!(e instanceof AwsApiError && e.code === 'ResourceAlreadyExistsException')) throw e;
        });
      }
      await this.logs('CreateLogStream', { logGroupName: dest.group, logStreamName: dest.stream }).catch((e) => {
        if (e instanceof AwsApiError && e.code === 'ResourceNotFoundException') this.knownGroups.delete(dest.group);
        if (!(e instanceof AwsApiError && e.code === 'ResourceAlreadyExistsException')) throw e;
      });
      this.knownGroups.add(dest.group);
      p.ready = true;
    })().finally(() => {
      p.opening = undefined;
    });
    return p.opening;
  }

  /** Sends everything buffered. Concurrent calls share one flush. */
  flush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.flushAll().finally(() => {
        this.flushing = undefined;
      });
    }
    return this.flushing;
  }

  private async flushAll(): Promise<void> {
    for (const p of this.streams.values()) {
      while (p.events.length > 0) {
        if (!p.ready) {
          try {
            await this.openStream(p);
          } catch (e) {
            this.opts.onError?.(e, p.dest);
            break;
          }
        }
        // Events must be in timestamp order within a batch and span at most 24 h.
        let n = 0;
        let bytes = 0;
        while (n < p.events.length && n < MAX_BATCH_EVENTS) {
          const size = Buffer.byteLength(p.events[n]!.message) + EVENT_OVERHEAD;
          if (bytes + size > MAX_BATCH_BYTES) break;
          bytes += size;
          n++;
        }
        const batch = p.events.slice(0, n).sort((a, b) => a.timestamp - b.timestamp);
        try {
          await this.logs('PutLogEvents', { logGroupName: p.dest.group, logStreamName: p.dest.stream, logEvents: batch });
          p.events.splice(0, n);
          p.bytes -= bytes;
        } catch (e) {
          if (e instanceof AwsApiError && e.code === 'ResourceNotFoundException') {
            p.ready = false;
            this.knownGroups.delete(p.dest.group);
          }
          this.opts.onError?.(e, p.dest);
          break;
        }
      }
    }
  }

  /** Forgets a destination once everything for it has been shipped (its container is gone). */
  release(dest: LogDestination): void {
    const id = `${dest.group}\u0000${dest.stream}`;
    if (this.streams.get(id)?.events.length === 0) this.streams.delete(id);
  }

  /** Flushes what it can and stops. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.flush().catch(() => undefined);
  }
}
