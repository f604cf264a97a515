/**
 * Reading a container's output from the engine's logs endpoint (`timestamps=1`) as lines with
 * exact cursors. Pure: it turns the bytes of one answer ("a pass") into lines; the driver
 * (./docker.ts) makes the requests and decides when a pass is the last.
 *
 * What the engine sends: its multiplexed stream (./dockerApi.ts Demuxer), one frame per log
 * message, each message `<RFC 3339 time with ns> <bytes>`. A message ends with `\n` when it ends
 * a line; a line longer than the engine's buffer (16 KiB for dockerd) comes as several messages,
 * each with its own time, only the last ending with `\n`; a container's last output without a
 * newline is a message without one.
 *
 * The cursor: per stream, the engine time (ns) of the last message consumed and how many
 * messages of exactly that time were consumed, `<stdout ns>.<count>:<stderr ns>.<count>`. A pass
 * may repeat what an earlier one gave (the driver re-reads after a dropped connection, and
 * `since` only has whole seconds): a message is new when its time is after the cursor's for its
 * stream, or equal to it with more such messages seen in this pass than the cursor counts. The
 * engine returns a container's messages in the same order on every read, so this is exact,
 * same-nanosecond messages included, as long as the engine's clock does not go back (a message
 * stamped before the cursor's time after it was read is taken as read).
 *
 * Lines are decoded from their whole bytes (fragments joined first), so a UTF-8 character cut
 * between two messages or frames is never mangled.
 */

type StreamName = 'stdout' | 'stderr';

/** An RFC 3339 timestamp with up to nanosecond fraction, as epoch nanoseconds (undefined if unparsable). */
export function parseNs(s: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return undefined;
  const secs = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(secs) || secs < 0) return undefined;
  return BigInt(secs) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** Where a stream has been read up to: the last message's engine time and how many messages of that time. */
interface StreamPos {
  ns: bigint;
  count: number;
}

/** Both streams' positions; `ns` 0 with count 0 means "nothing read yet". */
export interface DockerLogPosition {
  stdout: StreamPos;
  stderr: StreamPos;
}

/** The position before the first line. */
export function startPosition(): DockerLogPosition {
  return { stdout: { ns: 0n, count: 0 }, stderr: { ns: 0n, count: 0 } };
}

/** A position as the cursor string of the driver. */
export function formatCursor(p: DockerLogPosition): string {
  return `${p.stdout.ns}.${p.stdout.count}:${p.stderr.ns}.${p.stderr.count}`;
}

/** The position a cursor stands for, or the start for anything that is not one of ours. */
export function parseCursor(cursor: string | undefined): DockerLogPosition {
  const m = cursor === undefined ? null : /^(\d{1,20})\.(\d{1,9}):(\d{1,20})\.(\d{1,9})$/.exec(cursor);
  if (!m) return startPosition();
  return { stdout: { ns: BigInt(m[1]!), count: Number(m[2]) }, stderr: { ns: BigInt(m[3]!), count: Number(m[4]) } };
}

/** The `since` (whole seconds) a read from `p` may use without missing anything: the earlier stream's. */
export function sinceSeconds(p: DockerLogPosition): number | undefined {
  if (p.stdout.count === 0 || p.stderr.count === 0) return undefined;
  const ns = p.stdout.ns < p.stderr.ns ? p.stdout.ns : p.stderr.ns;
  return Number(ns / 1_000_000_000n);
}

/** A line found by a pass. */
export interface DockerLine {
  stream: StreamName;
  /** Epoch ms of the line's first message. */
  timestamp: number;
  line: string;
  cursor: string;
}

/** A message being received: its time and bytes so far. */
interface OpenMessage {
  ns: bigint;
  parts: Buffer[];
}

/**
 * One pass over one answer of the logs endpoint. Feed it the demuxed frames (`frame`), then call
 * `end(final)`: with `final` (the container has exited and this answer was read to its end) a
 * last line without a newline is delivered too; otherwise it is left for the next pass. The
 * shared `position` advances as lines are delivered.
 */
export class DockerLogPass {
  /** The position when the pass began: what it skips. */
  private readonly from: DockerLogPosition;
  /** Messages of exactly `from[s].ns` seen in this pass. */
  private readonly seenAtFrom: Record<StreamName, number> = { stdout: 0, stderr: 0 };
  /** The position after the last message consumed in this pass (committed to `position` when its line completes). */
  private readonly scan: DockerLogPosition;
  /** A message whose end has not been seen yet (its frame may be followed by more of it). */
  private readonly open: Record<StreamName, OpenMessage | undefined> = { stdout: undefined, stderr: undefined };
  /** Bytes of a timestamp cut by a frame boundary. */
  private readonly head: Record<StreamName, Buffer | undefined> = { stdout: undefined, stderr: undefined };
  /** Messages of a line whose end has not come yet, and the time of its first message. */
  private readonly line: Record<StreamName, { ns: bigint; parts: Buffer[] } | undefined> = { stdout: undefined, stderr: undefined };

  constructor(
    private readonly position: DockerLogPosition,
    private readonly deliver: (l: DockerLine) => void,
  ) {
    this.from = clonePos(position);
    this.scan = clonePos(position);
  }

  /** One demuxed frame of a stream. */
  frame(stream: StreamName, data: Buffer): void {
    let rest = data;
    // A frame that opens with a timestamp starts a new message: the open one ended with its frame.
    if (this.open[stream] && startsWithTime(rest)) this.finishMessage(stream, false);
    while (rest.length > 0) {
      let msg = this.open[stream];
      if (!msg) {
        const joined = this.head[stream] ? Buffer.concat([this.head[stream]!, rest]) : rest;
        this.head[stream] = undefined;
        const sp = joined.subarray(0, 64).indexOf(0x20);
        if (sp < 0) {
          if (joined.length < 64) {
            // The time goes on in the next frame.
            this.head[stream] = Buffer.from(joined);
            return;
          }
          rest = skipLine(joined); // not a message: drop up to the next line
          continue;
        }
        const ns = parseNs(joined.subarray(0, sp).toString('latin1'));
        if (ns === undefined) {
          rest = skipLine(joined);
          continue;
        }
        msg = this.open[stream] = { ns, parts: [] };
        rest = joined.subarray(sp + 1);
      }
      const nl = rest.indexOf(0x0a);
      if (nl < 0) {
        msg.parts.push(Buffer.from(rest));
        return;
      }
      msg.parts.push(Buffer.from(rest.subarray(0, nl)));
      rest = rest.subarray(nl + 1);
      this.finishMessage(stream, true);
    }
  }

  /**
   * The answer ended. Open messages end here (the engine frames each message); with `final`, a
   * line still waiting for its newline is the container's last output and is delivered.
   */
  end(final: boolean): void {
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.open[s]) this.finishMessage(s, false);
      if (final && this.line[s]) this.completeLine(s);
    }
  }

  private finishMessage(stream: StreamName, endsLine: boolean): void {
    const msg = this.open[stream]!;
    this.open[stream] = undefined;
    if (!this.isNew(stream, msg.ns)) return;
    const sc = this.scan[stream];
    if (msg.ns > sc.ns) {
      sc.ns = msg.ns;
      sc.count = 1;
    } else if (msg.ns === sc.ns) sc.count++;
    const line = (this.line[stream] ??= { ns: msg.ns, parts: [] });
    line.parts.push(...msg.parts);
    if (endsLine) this.completeLine(stream);
  }

  private isNew(stream: StreamName, ns: bigint): boolean {
    const f = this.from[stream];
    if (ns < f.ns) return false;
    if (ns === f.ns) return ++this.seenAtFrom[stream] > f.count;
    return true;
  }

  private completeLine(stream: StreamName): void {
    const line = this.line[stream]!;
    this.line[stream] = undefined;
    this.position[stream] = { ...this.scan[stream] };
    this.deliver({
      stream,
      timestamp: Number(line.ns / 1_000_000n),
      line: Buffer.concat(line.parts).toString('utf8'),
      cursor: formatCursor(this.position),
    });
  }
}

function clonePos(p: DockerLogPosition): DockerLogPosition {
  return { stdout: { ...p.stdout }, stderr: { ...p.stderr } };
}

/** Whether bytes open with `<RFC 3339 time> `. */
function startsWithTime(b: Buffer): boolean {
  const sp = b.subarray(0, 64).indexOf(0x20);
  return sp > 0 && parseNs(b.subarray(0, sp).toString('latin1')) !== undefined;
}

/** What follows the next newline (nothing if there is none). */
function skipLine(b: Buffer): Buffer {
  const nl = b.indexOf(0x0a);
  return nl < 0 ? Buffer.alloc(0) : b.subarray(nl + 1);
}
