/**
 * Ships container output to CloudWatch Logs over the network (PutLogEvents), the way the
 * awslogs driver does: one stream per container, batched, in order, retried while the control
 * plane is unreachable; and exactly once, across agent restarts and crashes.
 *
 * Exactly once, per stream:
 * - Every line comes with its source (the container) and the driver's cursor just after it
 *   (src/agent/drivers/driver.ts): re-reading a container from a cursor gives the same lines.
 * - Lines queue in push order; a batch is the queue's head (PutLogEvents gets it sorted by
 *   time, but what it acknowledges is a prefix of the push order), cut by the PutLogEvents
 *   quotas (src/logsLimits.ts: events, bytes, and a span of at most 24 h).
 * - Before a batch is sent, the stream's state file records it as in flight: how many lines of
 *   each source it holds, the cursor after each source's last one, and evidence to recognise it
 *   by: a few of its events' times, each with how many events of that very millisecond the
 *   stream held before. Once PutLogEvents answers, the batch's cursors are the acknowledged ones.
 * - An answer that may or may not have been processed (the connection failed or timed out, a
 *   5xx), or an in-flight record found after a restart, is resolved before anything else is sent:
 *   the stream's events in the evidence's time window are read back (GetLogEvents), and the
 *   batch landed if the stream holds more events of one of those milliseconds than it did before.
 *   (Counts, not contents: identical lines of one millisecond are told apart, and no message,
 *   nor anything derived from one, is written to disk.) If it landed its lines are dropped as
 *   they come again, otherwise they are sent again.
 * - A restarted agent resumes each container's output from the acknowledged cursor (`restore`),
 *   so a line CloudWatch has is never read again and a line it lacks is read again: nothing is
 *   lost with the memory of a crashed agent, and nothing is shipped twice.
 * - Memory is bounded: a stream holding more than `maxBufferBytes` stops taking its sources'
 *   lines, and once it has drained to half asks them (the rereader of `setRereader`) to read
 *   again from the last line it took. Only a source without a rereader (no cursor) loses lines
 *   then, and says so.
 *
 * What this relies on: the agent is the only writer of its streams; the drivers' cursors are
 * exact; and a millisecond is usable as evidence only while the shipper knows how many events of
 * it the stream holds (it remembers the times of the last `RECENT_MAX` acknowledged lines, and
 * knows that nothing is newer than the newest acknowledged time). A batch with no usable evidence,
 * or whose every event PutLogEvents skipped (more than 14 days old, 2 h ahead, past the group's
 * retention), is sent again when in doubt: a possible duplicate, never a loss.
 *
 * State files: `<stateDir>/<hash of group and stream>.json`, mode 0600, written atomically; they
 * hold cursors, counts and times, never a message. Without a state dir nothing is
 * persisted (lines queued at a crash are then lost, as with any in-memory buffer).
 *
 * Here: the shipper, its streams and what it does per step. One stream's bookkeeping (the queue,
 * the batch in flight, acknowledged cursors) is in logStream.ts, its state file in
 * logStreamFile.ts, the batches and the read-back in logBatch.ts.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { AwsApiError } from '../client/awsClient.js';
import { LOGS_LIMITS } from '../logsLimits.js';
import { batchLength, fitMessage, storedEventCounts, type CallLogs } from './logBatch.js';
import { countOf, inFlightOf, landed, newStream, notStored, RecentEvents, skipOne, type LogDestination, type Stream } from './logStream.js';
import { readStreamFile, removeStreamFilesExcept, streamFilePath, writeStreamFile } from './logStreamFile.js';

/** One line for a destination. */
export interface ShippedLine {
  /** Epoch ms. */
  timestamp: number;
  message: string;
  /** Which container of the stream it comes from (a stream may hold several); default ''. */
  source?: string;
  /** The driver's cursor just after the line; without one the line cannot be read again. */
  cursor?: string;
}

/** Options of a LogShipper. */
export interface LogShipperOptions {
  /** Period of the background flush (default 100 ms). */
  intervalMs?: number;
  /** Every failed call, with its destination (network errors included: they are retried). */
  onError?: (e: unknown, dest: LogDestination) => void;
  /** Directory of the per-stream state files; without one nothing survives a restart. */
  stateDir?: string;
  /** Bytes a stream may hold before it stops taking lines (default 32 MiB). */
  maxBufferBytes?: number;
  /** Notable events (a batch refused for good, lines a source without rereader lost, a doubtful resolution). */
  log?: (msg: string) => void;
}

/** Streams sending at once. */
const CONCURRENT_STREAMS = 8;
const DEFAULT_MAX_BUFFER = 32 * 1024 * 1024;

/** Ships lines to CloudWatch Logs exactly once (see the module comment). */
export class LogShipper {
  private readonly streams = new Map<string, Stream>();
  /** Log groups seen to exist (created or used by this shipper). */
  private readonly knownGroups = new Set<string>();
  private readonly rereaders = new Map<string, (after: string | undefined) => void>();
  private readonly waiters = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private readonly maxBuffer: number;

  constructor(
    private readonly logs: CallLogs,
    private readonly opts: LogShipperOptions = {},
  ) {
    this.maxBuffer = opts.maxBufferBytes ?? DEFAULT_MAX_BUFFER;
    if (opts.stateDir) mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  }

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

  /**
   * Queues one line. Long lines are cut to the event size limit, empty ones become a space.
   * Lines a restarted stream already delivered (see `restore`) are dropped here, as are lines of
   * a source the stream does not take for now (it is full: the source is read again later).
   */
  push(dest: LogDestination, line: ShippedLine): void {
    const p = this.streamFor(dest);
    const source = line.source ?? '';
    if (p.stalled.has(source)) {
      if (!this.rereaders.has(rereaderKey(p, source))) p.dropped++;
      return;
    }
    if (p.inflight && !p.inflightQueued) {
      // Resolution pending after a restart: keep the lines; they are dropped if their batch landed.
    } else if ((p.skip[source] ?? 0) > 0) {
      skipOne(p, source, line.cursor, this.opts.log);
      return;
    }
    const message = fitMessage(line.message);
    const bytes = Buffer.byteLength(message) + LOGS_LIMITS.perEventOverhead;
    if (p.queuedBytes + bytes > this.maxBuffer && p.queue.length > 0) {
      // Full: stop taking this source's lines; they are read again once the stream has drained.
      p.stalled.add(source);
      if (!this.rereaders.has(rereaderKey(p, source))) p.dropped++;
      return;
    }
    p.queue.push({ timestamp: line.timestamp, message, bytes, source, cursor: line.cursor });
    p.queuedBytes += bytes;
    p.tail[source] = line.cursor;
  }

  /**
   * Says how to read a source of a stream again from a cursor (after it was stalled for a full
   * stream): the owner closes its reading and reads on from `after` (from the start if undefined).
   */
  setRereader(dest: LogDestination, source: string, reread: (after: string | undefined) => void): void {
    this.rereaders.set(rereaderKey(this.streamFor(dest), source), reread);
  }

  /**
   * After an agent restart: loads the stream's state file and returns, per source, the cursor
   * to read on from (the last acknowledged line's; absent: from the first line). A batch found
   * in flight is resolved before the stream sends anything; its lines, read again, are dropped if
   * it landed. A state file that cannot be read is reported and ignored (lines may then be sent
   * twice, never lost).
   */
  restore(dest: LogDestination): Record<string, string> {
    const p = this.streamFor(dest);
    if (!p.file) return {};
    const f = readStreamFile(p.file, dest);
    if (f === undefined) return { ...p.acked };
    if (!f) {
      this.opts.log?.(`logs for ${dest.group}/${dest.stream}: unreadable state file ${p.file} ignored; lines since the last acknowledged one may be sent twice`);
      return { ...p.acked };
    }
    p.acked = { ...f.acked };
    p.maxAckedTs = f.maxAckedTs ?? -Infinity;
    p.recent = new RecentEvents(Number.isFinite(p.maxAckedTs) ? p.maxAckedTs + 1 : -Infinity);
    p.inflight = f.inflight;
    p.inflightQueued = false;
    return { ...p.acked };
  }

  /** Removes the state files of streams nobody restored (their tasks are gone). Call once, after every restore. */
  pruneStateFiles(): void {
    const dir = this.opts.stateDir;
    if (!dir) return;
    removeStreamFilesExcept(dir, new Set([...this.streams.values()].map((p) => p.file)));
  }

  /**
   * Makes sure a destination can take lines before its container starts, so a missing log group
   * fails the task early (ECS's ResourceInitializationError). The first task of a group pays a
   * round trip (CreateLogGroup, or CreateLogStream, which fails if the group is missing); after
   * that the group is known and the stream is created in the background, off the task's start
   * path (lines queue until it exists). A group found missing later is checked again.
   */
  async prepare(dest: LogDestination): Promise<void> {
    const p = this.streamFor(dest);
    if (this.knownGroups.has(dest.group)) {
      if (!p.ready) void this.openStream(p).catch(() => undefined);
      return;
    }
    await this.openStream(p);
  }

  private streamFor(dest: LogDestination): Stream {
    const id = `${dest.group}\u0000${dest.stream}`;
    let p = this.streams.get(id);
    if (!p) {
      p = newStream(id, dest, this.opts.stateDir ? streamFilePath(this.opts.stateDir, id) : undefined);
      this.streams.set(id, p);
    }
    return p;
  }

  /** Creates the group (when asked to) and the stream; concurrent calls for one stream share one attempt. */
  private openStream(p: Stream): Promise<void> {
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

  /** Sends everything queued (and resolves what is in doubt). Concurrent calls share one flush. */
  flush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.flushAll().finally(() => {
        this.flushing = undefined;
        this.notify();
      });
    }
    return this.flushing;
  }

  private async flushAll(): Promise<void> {
    // Rounds of one step per stream, a few streams at a time, so a busy stream starves no other.
    for (;;) {
      const work = [...this.streams.values()].filter((p) => p.queue.length > 0 || p.inflight);
      if (work.length === 0) return;
      let progress = false;
      for (let i = 0; i < work.length; i += CONCURRENT_STREAMS) {
        const results = await Promise.all(work.slice(i, i + CONCURRENT_STREAMS).map((p) => this.step(p)));
        if (results.some(Boolean)) progress = true;
      }
      this.notify();
      if (!progress) return;
    }
  }

  /** One step for a stream: resolve its batch in doubt, or send its next batch. True when it moved on. */
  private async step(p: Stream): Promise<boolean> {
    try {
      if (!p.ready) await this.openStream(p);
      if (p.inflight) {
        await this.resolve(p);
        return true;
      }
      if (p.queue.length === 0) return false;
      await this.send(p);
      return true;
    } catch (e) {
      if (e instanceof AwsApiError && e.code === 'ResourceNotFoundException') {
        p.ready = false;
        this.knownGroups.delete(p.dest.group);
      }
      this.opts.onError?.(e, p.dest);
      return false;
    } finally {
      this.afterStep(p);
    }
  }

  /** Sends the queue's head as one batch; see the module comment for the in-flight record. */
  private async send(p: Stream): Promise<void> {
    const n = batchLength(p.queue);
    const batch = p.queue.slice(0, n);
    p.inflight = inFlightOf(p, batch);
    p.inflightQueued = true;
    this.writeState(p);
    const sorted = batch.map((e) => ({ timestamp: e.timestamp, message: e.message })).sort((a, b) => a.timestamp - b.timestamp);
    try {
      await this.logs('PutLogEvents', { logGroupName: p.dest.group, logStreamName: p.dest.stream, logEvents: sorted });
    } catch (e) {
      if (e instanceof AwsApiError && e.status < 500) {
        // Answered and refused: nothing of it was stored.
        if (e.code === 'InvalidParameterException') {
          // The same batch would be refused forever: say so and go on without it.
          this.opts.log?.(`logs for ${p.dest.group}/${p.dest.stream}: ${n} line(s) refused for good (${e.message}); they are skipped`);
          landed(p, this.opts.log);
          return;
        }
        notStored(p);
      }
      // Otherwise it may have been stored: `inflight` stays, and is resolved before anything else is sent.
      throw e;
    }
    landed(p, this.opts.log);
  }

  /**
   * Decides whether the batch in flight landed: reads back the stream's events in the
   * evidence's time window and compares counts (see the module comment).
   */
  private async resolve(p: Stream): Promise<void> {
    const inf = p.inflight!;
    let stored = false;
    if (inf.evidence.length === 0) {
      this.opts.log?.(`logs for ${p.dest.group}/${p.dest.stream}: cannot tell whether a batch of ${countOf(inf)} line(s) was stored; sending it again (it may appear twice)`);
    } else {
      const { counts, complete } = await storedEventCounts(this.logs, p.dest, inf.evidence.map(([ts]) => ts));
      stored = inf.evidence.some(([ts, prior]) => (counts.get(ts) ?? 0) > prior);
      if (!complete && !stored) {
        this.opts.log?.(`logs for ${p.dest.group}/${p.dest.stream}: too many events to tell whether a batch of ${countOf(inf)} line(s) was stored; sending it again (it may appear twice)`);
      }
    }
    if (stored) landed(p, this.opts.log);
    else notStored(p);
  }

  /** Bookkeeping after each step: the state file, lines lost, stalled sources, released streams. */
  private afterStep(p: Stream): void {
    if (p.dirty && p.queue.length === 0 && !p.inflight) this.writeState(p);
    if (p.dropped > 0) {
      this.opts.log?.(`logs for ${p.dest.group}/${p.dest.stream}: ${p.dropped} line(s) dropped, more than ${this.maxBuffer} bytes waiting to be shipped`);
      p.dropped = 0;
    }
    if (p.stalled.size && p.queuedBytes <= this.maxBuffer / 2) {
      for (const source of [...p.stalled]) {
        p.stalled.delete(source);
        this.rereaders.get(rereaderKey(p, source))?.(p.tail[source] ?? p.acked[source]);
      }
    }
    if (p.released) this.forgetIfDone(p);
  }

  private writeState(p: Stream): void {
    p.dirty = false;
    if (!p.file) return;
    try {
      writeStreamFile(p.file, p);
    } catch (e) {
      p.dirty = true;
      this.opts.log?.(`logs for ${p.dest.group}/${p.dest.stream}: cannot write ${p.file}: ${(e as Error).message}`);
    }
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** True when nothing of the destination waits to be shipped or resolved. */
  private isDrained(dest: LogDestination): boolean {
    const p = this.streams.get(`${dest.group}\u0000${dest.stream}`);
    return !p || (p.queue.length === 0 && !p.inflight && p.stalled.size === 0);
  }

  /**
   * Resolves once every line queued for these destinations is acknowledged, or after
   * `timeoutMs` (a stopped task waits here before its containers, and their output, go).
   */
  drained(dests: LogDestination[], timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!dests.every((d) => this.isDrained(d))) return;
        done();
      };
      const timer = setTimeout(() => done(), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
      check();
      void this.flush().catch(() => undefined);
    });
  }

  /**
   * The destination's container is gone: once everything for it has been shipped, the shipper
   * forgets it and removes its state file.
   */
  release(dest: LogDestination): void {
    const p = this.streams.get(`${dest.group}\u0000${dest.stream}`);
    if (!p) return;
    p.released = true;
    this.forgetIfDone(p);
  }

  private forgetIfDone(p: Stream): void {
    if (p.queue.length > 0 || p.inflight || p.stalled.size > 0) return;
    this.streams.delete(p.id);
    for (const k of [...this.rereaders.keys()]) if (k.startsWith(`${p.id}\u0000`)) this.rereaders.delete(k);
    if (p.file) rmSync(p.file, { force: true });
  }

  /** Flushes what it can and stops; state files stay for the next agent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.flush().catch(() => undefined);
    for (const p of this.streams.values()) if (p.dirty) this.writeState(p);
  }
}

function rereaderKey(p: Stream, source: string): string {
  return `${p.id}\u0000${source}`;
}
