/**
 * One log stream's exactly-once bookkeeping, as the LogShipper (logShipper.ts, whose module
 * comment says how exactly once works) keeps it: where the stream is (`LogDestination`), its
 * lines queued in push order, the batch in flight and the evidence to recognise it by, the
 * acknowledged cursors, and the lines to drop as they are read again once their batch landed.
 * Nothing here talks to the network or the disk.
 */

/** Where one container's lines go. */
export interface LogDestination {
  group: string;
  stream: string;
  /** Create the group if it does not exist (awslogs-create-group). */
  createGroup: boolean;
}

/** A queued line, its message as it will be sent. */
export interface Queued {
  timestamp: number;
  message: string;
  bytes: number;
  source: string;
  cursor?: string;
}

/** A batch that may have landed: what a restart or a doubtful answer must resolve. */
export interface InFlight {
  /** Per source: its lines in the batch and the cursor after its last one. */
  sources: Record<string, { count: number; cursor?: string }>;
  /** Newest event time in the batch. */
  maxTs: number;
  /** [time (epoch ms), events of that time the stream held before the batch]. */
  evidence: Array<[number, number]>;
}

/** Acknowledged events remembered per stream for evidence counts. */
const RECENT_MAX = 4096;
/** Evidence events recorded per batch. */
const EVIDENCE_MAX = 16;

/**
 * How many acknowledged events a stream holds per millisecond, for the newest ones: at most
 * RECENT_MAX events, and none older than `floor` (below it a count may be short, so no evidence
 * is taken from there).
 */
export class RecentEvents {
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
export interface Stream {
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

/** A stream nothing is known of yet: empty queue, nothing acknowledged, not created. */
export function newStream(id: string, dest: LogDestination, file: string | undefined): Stream {
  return {
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
}

/** The in-flight record of a batch about to be sent from the stream's queue head. */
export function inFlightOf(p: Stream, batch: Queued[]): InFlight {
  const sources: InFlight['sources'] = {};
  for (const e of batch) {
    const s = (sources[e.source] ??= { count: 0 });
    s.count++;
    s.cursor = e.cursor;
  }
  return { sources, maxTs: Math.max(...batch.map((e) => e.timestamp)), evidence: evidenceOf(p, batch) };
}

/** A batch's milliseconds worth recognising it by: its newest ones whose count in the stream is known. */
function evidenceOf(p: Stream, batch: Queued[]): InFlight['evidence'] {
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

/** The batch in flight is known not to be stored: its lines stay queued, to be sent again. */
export function notStored(p: Stream): void {
  p.inflight = undefined;
  p.inflightQueued = false;
  p.dirty = true;
}

/**
 * The batch in flight is stored: its cursors become the acknowledged ones and its lines leave
 * the queue (or, after a restart, are dropped as they are read again).
 */
export function landed(p: Stream, log: ((msg: string) => void) | undefined): void {
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
      skipOne(p, e.source, e.cursor, log);
      p.queuedBytes -= e.bytes;
      p.recent.add(e.timestamp);
    } else kept.push(e);
  }
  p.queue = kept;
}

/** Drops one line that was already stored (counted down in `skip`). */
export function skipOne(p: Stream, source: string, cursor: string | undefined, log: ((msg: string) => void) | undefined): void {
  const left = (p.skip[source] ?? 0) - 1;
  if (left > 0) {
    p.skip[source] = left;
    return;
  }
  delete p.skip[source];
  const until = p.skipUntil[source];
  delete p.skipUntil[source];
  if (until !== undefined && cursor !== undefined && until !== cursor) {
    log?.(`logs for ${p.dest.group}/${p.dest.stream}: lines read again after a restart do not match what was sent (cursor ${cursor}, expected ${until})`);
  }
}

/** How many lines the batch in flight holds. */
export function countOf(inf: InFlight): number {
  return Object.values(inf.sources).reduce((n, s) => n + s.count, 0);
}
