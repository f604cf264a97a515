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
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AwsApiError } from '../client/awsClient.js';
import { LOGS_LIMITS } from '../logsLimits.js';
import { writeAtomic } from './files.js';

/** Where one container's lines go. */
export interface LogDestination {
  group: string;
  stream: string;
  /** Create the group if it does not exist (awslogs-create-group). */
  createGroup: boolean;
}

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

type CallLogs = <T = Record<string, unknown>>(operation: string, input: unknown) => Promise<T>;

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

/** A queued line, its message as it will be sent. */
interface Queued {
  timestamp: number;
  message: string;
  bytes: number;
  source: string;
  cursor?: string;
}

/** A batch that may have landed: what a restart or a doubtful answer must resolve. */
interface InFlight {
  /** Per source: its lines in the batch and the cursor after its last one. */
  sources: Record<string, { count: number; cursor?: string }>;
  /** Newest event time in the batch. */
  maxTs: number;
  /** [time (epoch ms), events of that time the stream held before the batch]. */
  evidence: Array<[number, number]>;
}

/** The state file's content. */
interface StreamFile {
  v: 1;
  group: string;
  stream: string;
  /** Per source, the cursor of the last acknowledged line. */
  acked: Record<string, string>;
  /** Newest acknowledged event time (null: none). */
  maxAckedTs: number | null;
  inflight?: InFlight;
}

/**
 * How many acknowledged events a stream holds per millisecond, for the newest ones: at most
 * RECENT_MAX events, and none older than `floor` (below it a count may be short, so no evidence
 * is taken from there).
 */
class RecentEvents {
  private readonly counts = new Map<number, number>();
  private readonly order: number[] = [];
  private head = 0;

  constructor(public floor: number) {}

  add(ts: number): void {
    if (ts < this.floor) return;
    this.counts.set(ts, (this.counts.get(ts) ?? 0) + 1);
    this.order.push(ts);
    while (this.order.length - this.head > RECENT_MAX) {
      const old = this.order[this.head++]!;
      const n = this.counts.get(old)! - 1;
      if (n > 0) this.counts.set(old, n);
      else this.counts.delete(old);
      this.floor = Math.max(this.floor, old + 1);
    }
    if (this.head > RECENT_MAX) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }

  /** How many acknowledged events have this time, or undefined when that is not known. */
  count(ts: number): number | undefined {
    return ts < this.floor ? undefined : (this.counts.get(ts) ?? 0);
  }
}

/** Everything about one stream. */
interface Stream {
  id: string;
  dest: LogDestination;
  file?: string;
  queue: Queued[];
  queuedBytes: number;
  ready: boolean;
  /** The stream's creation, while under way. */
  opening?: Promise<void>;
  acked: Record<string, string>;
  maxAckedTs: number;
  recent: RecentEvents;
  /** A batch whose fate is not known: resolve before sending anything. */
  inflight?: InFlight;
  /** Set while `inflight` is the queue's head, sent in this process. */
  inflightQueued: boolean;
  /** Per source, lines still to drop as they come again (their batch landed before a restart). */
  skip: Record<string, number>;
  /** The cursor each skipped run must end at (checked, for the log). */
  skipUntil: Record<string, string | undefined>;
  /** Per source, the cursor of the last line taken into the queue. */
  tail: Record<string, string | undefined>;
  /** Sources not taking lines (the stream is full): read again after `tail[source]` once it drains. */
  stalled: Set<string>;
  /** Lines lost for lack of a rereader, not yet reported. */
  dropped: number;
  released: boolean;
  /** The state file is behind memory. */
  dirty: boolean;
}

/** Acknowledged events remembered per stream for evidence counts. */
const RECENT_MAX = 4096;
/** Evidence events recorded per batch. */
const EVIDENCE_MAX = 16;
/** Pages read back when resolving a batch, at most. */
const RESOLVE_MAX_PAGES = 50;
/** Streams sending at once. */
const CONCURRENT_STREAMS = 8;
const DEFAULT_MAX_BUFFER = 32 * 1024 * 1024;
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
      this.skipOne(p, source, line.cursor);
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
    let raw: string;
    try {
      raw = readFileSync(p.file, 'utf8');
    } catch {
      return { ...p.acked };
    }
    const f = parseStreamFile(raw, dest);
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
    const kept = new Set([...this.streams.values()].map((p) => p.file));
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) if (n.endsWith('.json') && !kept.has(join(dir, n))) rmSync(join(dir, n), { force: true });
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
      const file = this.opts.stateDir ? join(this.opts.stateDir, `${createHash('sha256').update(id).digest('hex').slice(0, 32)}.json`) : undefined;
      p = {
        id,
        dest,
        file,
        queue: [],
        queuedBytes: 0,
        ready: false,
        acked: {},
        maxAckedTs: -Infinity,
        recent: new RecentEvents(-Infinity),
        inflightQueued: false,
        skip: {},
        skipUntil: {},
        tail: {},
        stalled: new Set(),
        dropped: 0,
        released: false,
        dirty: false,
      };
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
    const sources: InFlight['sources'] = {};
    for (const e of batch) {
      const s = (sources[e.source] ??= { count: 0 });
      s.count++;
      s.cursor = e.cursor;
    }
    p.inflight = { sources, maxTs: Math.max(...batch.map((e) => e.timestamp)), evidence: this.evidenceOf(p, batch) };
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
          this.landed(p);
          return;
        }
        p.inflight = undefined;
        p.inflightQueued = false;
        p.dirty = true;
      }
      // Otherwise it may have been stored: `inflight` stays, and is resolved before anything else is sent.
      throw e;
    }
    this.landed(p);
  }

  /** A batch's milliseconds worth recognising it by: its newest ones whose count in the stream is known. */
  private evidenceOf(p: Stream, batch: Queued[]): InFlight['evidence'] {
    const seen = new Map<number, number>();
    const byTime = [...batch].sort((a, b) => b.timestamp - a.timestamp);
    for (const e of byTime) {
      if (seen.size >= EVIDENCE_MAX) break;
      if (seen.has(e.timestamp)) continue;
      const prior = p.recent.count(e.timestamp);
      if (prior !== undefined) seen.set(e.timestamp, prior);
    }
    return [...seen.entries()];
  }

  /**
   * Decides whether the batch in flight landed: reads back the stream's events in the
   * evidence's time window and compares counts (see the module comment).
   */
  private async resolve(p: Stream): Promise<void> {
    const inf = p.inflight!;
    let landed = false;
    if (inf.evidence.length === 0) {
      this.opts.log?.(`logs for ${p.dest.group}/${p.dest.stream}: cannot tell whether a batch of ${countOf(inf)} line(s) was stored; sending it again (it may appear twice)`);
    } else {
      const startTime = Math.min(...inf.evidence.map((e) => e[0]));
      const endTime = Math.max(...inf.evidence.map((e) => e[0])) + 1;
      const wanted = new Map(inf.evidence.map(([ts]) => [ts, 0]));
      let token: string | undefined;
      let complete = false;
      try {
        for (let page = 0; page < RESOLVE_MAX_PAGES; page++) {
          const out = await this.logs<{ events?: Array<{ timestamp?: number }>; nextForwardToken?: string }>('GetLogEvents', {
            logGroupName: p.dest.group,
            logStreamName: p.dest.stream,
            startTime,
            endTime,
            startFromHead: true,
            nextToken: token,
          });
          const events = out.events ?? [];
          for (const e of events) {
            const n = e.timestamp === undefined ? undefined : wanted.get(e.timestamp);
            if (n !== undefined) wanted.set(e.timestamp!, n + 1);
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
      landed = inf.evidence.some(([ts, prior]) => (wanted.get(ts) ?? 0) > prior);
      if (!complete && !landed) {
        this.opts.log?.(`logs for ${p.dest.group}/${p.dest.stream}: too many events to tell whether a batch of ${countOf(inf)} line(s) was stored; sending it again (it may appear twice)`);
      }
    }
    if (landed) this.landed(p);
    else {
      p.inflight = undefined;
      p.inflightQueued = false;
      p.dirty = true;
    }
  }

  /**
   * The batch in flight is stored: its cursors become the acknowledged ones and its lines leave
   * the queue (or, after a restart, are dropped as they are read again).
   */
  private landed(p: Stream): void {
    const inf = p.inflight!;
    for (const [source, s] of Object.entries(inf.sources)) {
      if (s.cursor !== undefined) p.acked[source] = s.cursor;
      p.skip[source] = (p.skip[source] ?? 0) + s.count;
      p.skipUntil[source] = s.cursor;
    }
    p.maxAckedTs = Math.max(p.maxAckedTs, inf.maxTs);
    if (!p.inflightQueued) p.recent = new RecentEvents(p.maxAckedTs + 1);
    p.inflight = undefined;
    p.inflightQueued = false;
    p.dirty = true;
    // Its lines at the head of the queue (all of them, when it was sent from here).
    const kept: Queued[] = [];
    for (const e of p.queue) {
      if ((p.skip[e.source] ?? 0) > 0) {
        this.skipOne(p, e.source, e.cursor);
        p.queuedBytes -= e.bytes;
        p.recent.add(e.timestamp);
      } else kept.push(e);
    }
    p.queue = kept;
  }

  /** Drops one line that was already stored (counted down in `skip`). */
  private skipOne(p: Stream, source: string, cursor: string | undefined): void {
    const left = (p.skip[source] ?? 0) - 1;
    if (left > 0) {
      p.skip[source] = left;
      return;
    }
    delete p.skip[source];
    const until = p.skipUntil[source];
    delete p.skipUntil[source];
    if (until !== undefined && cursor !== undefined && until !== cursor) {
      this.opts.log?.(`logs for ${p.dest.group}/${p.dest.stream}: lines read again after a restart do not match what was sent (cursor ${cursor}, expected ${until})`);
    }
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
    const f: StreamFile = {
      v: 1,
      group: p.dest.group,
      stream: p.dest.stream,
      acked: p.acked,
      maxAckedTs: Number.isFinite(p.maxAckedTs) ? p.maxAckedTs : null,
      inflight: p.inflight,
    };
    try {
      writeAtomic(p.file, JSON.stringify(f));
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

function countOf(inf: InFlight): number {
  return Object.values(inf.sources).reduce((n, s) => n + s.count, 0);
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

/** A state file's content, or undefined when it is not one (damaged, or another version's). */
function parseStreamFile(raw: string, dest: LogDestination): StreamFile | undefined {
  let f: unknown;
  try {
    f = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const o = f as Partial<StreamFile> | null;
  if (!o || typeof o !== 'object' || o.v !== 1 || o.group !== dest.group || o.stream !== dest.stream) return undefined;
  if (!isCursorMap(o.acked)) return undefined;
  if (o.maxAckedTs !== null && !Number.isSafeInteger(o.maxAckedTs)) return undefined;
  if (o.inflight !== undefined) {
    const inf = o.inflight as Partial<InFlight> | null;
    if (!inf || typeof inf !== 'object' || !Number.isSafeInteger(inf.maxTs) || !Array.isArray(inf.evidence) || !inf.sources || typeof inf.sources !== 'object') return undefined;
    for (const e of inf.evidence) {
      if (!Array.isArray(e) || e.length !== 2 || !Number.isSafeInteger(e[0]) || !Number.isSafeInteger(e[1]) || (e[1] as number) < 0) return undefined;
    }
    for (const s of Object.values(inf.sources)) {
      if (!s || typeof s !== 'object' || !Number.isSafeInteger(s.count) || s.count < 0 || (s.cursor !== undefined && typeof s.cursor !== 'string')) return undefined;
    }
  }
  return o as StreamFile;
}

function isCursorMap(v: unknown): v is Record<string, string> {
  return !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((c) => typeof c === 'string');
}
