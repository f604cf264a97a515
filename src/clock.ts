/**
 * The source of time for everything time-driven in Berth: timestamps, and every background
 * loop (controller ticks, the agent-timeout sweep, retention sweeps, health checks, draining).
 * One object is injected everywhere, so tests drive time explicitly with a `ManualClock`
 * instead of sleeping, and a loop that forgets to use it is a bug.
 *
 * Waits that bound network I/O (a long poll's deadline, an HTTP idle timeout) are not "time"
 * in this sense and use real timers.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `fn` once, `ms` from now. The timer never keeps the process alive. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Calls `fn` every `ms` from now on, until cancelled. Never keeps the process alive. */
  setInterval(fn: () => void, ms: number): Timer;
  /** Resolves `ms` from now, or at once when `signal` is (or becomes) aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** A pending timer of a `Clock`; cancelling twice, or after it fired, is harmless. */
export interface Timer {
  cancel(): void;
}

function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      timer.cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The wall clock, on the process's own timers (unref'd). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, Math.max(1, ms));
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
  sleep(ms, signal) {
    return sleepOn(systemClock, ms, signal);
  },
};

interface ManualTimer {
  due: number;
  seq: number;
  every?: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to, for tests of time-driven logic. `advance(ms)` moves
 * time forward and fires every timer that falls due on the way, in order of due time, with
 * `now()` set to each one's due time while it runs; a timer set by a firing callback fires in
 * the same advance if it falls due within it. An interval that falls due several times within
 * one advance fires at its first and last due times only.
 */
export class ManualClock implements Clock {
  /** Most timer firings one `advance` makes before it gives up (a runaway timer chain is a bug). */
  static readonly MAX_FIRINGS = 10_000;
  private timers: ManualTimer[] = [];
  private seq = 0;

  constructor(private t = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, Math.max(0, ms));
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, Math.max(1, ms), Math.max(1, ms));
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** How many timers are waiting (for tests that check a loop is scheduled, or stopped). */
  get pendingTimers(): number {
    return this.timers.filter((x) => !x.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, firing the timers that fall due. Returns after their callbacks
   * ran and the promise jobs they queued settled (one macrotask turn), so asynchronous loops
   * get to run their next step.
   */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (let fired = 0; ; fired++) {
      const next = this.nextDue(end);
      if (!next) break;
      if (fired >= ManualClock.MAX_FIRINGS) {
        throw new Error(`ManualClock.advance(${ms}): more than ${ManualClock.MAX_FIRINGS} timers fell due; a timer re-arms itself faster than time moves (use setInterval for periodic work)`);
      }
      this.t = Math.max(this.t, next.due);
      if (next.every !== undefined) {
        // An interval that falls due many times in one advance fires at its first and its last
        // due time only (as a busy process skips ticks): sweeps are idempotent, and advancing a
        // day must not take a million turns.
        const periods = Math.floor((end - next.due) / next.every);
        next.due += Math.max(1, periods) * next.every;
      } else {
        next.cancelled = true;
      }
      next.fn();
      await new Promise<void>((r) => setImmediate(r));
    }
    this.t = Math.max(this.t, end);
    this.timers = this.timers.filter((x) => !x.cancelled);
    await new Promise<void>((r) => setImmediate(r));
  }

  /**
   * Moves time forward by `ms` without firing anything, as a starved process sees it (its event
   * loop held up): the timers that fell due meanwhile fire late, at the next `advance`, with
   * `now()` past their due time.
   */
  stall(ms: number): void {
    this.t += Math.max(0, ms);
  }

  /**
   * Jumps to another time without firing anything: pending timers keep the delay they had
   * left (so setting the clock back to real time after a long advance leaves the loops running
   * at their usual period).
   */
  set(ms: number): void {
    const delta = ms - this.t;
    for (const x of this.timers) x.due += delta;
    this.t = ms;
  }

  private add(fn: () => void, ms: number, every?: number): Timer {
    const timer: ManualTimer = { due: this.t + ms, seq: this.seq++, every, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  private nextDue(end: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const x of this.timers) {
      if (x.cancelled || x.due > end) continue;
      if (!best || x.due < best.due || (x.due === best.due && x.seq < best.seq)) best = x;
    }
    return best;
  }
}
