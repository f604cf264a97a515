/**
 * Target health as ALB keeps it: a small pure state machine (`nextHealth`) and the checker that
 * drives it (`HealthChecker`), probing each checked target over HTTP(S) on the platform clock.
 *
 * State machine (per target registration):
 * - a new target is `initial` (Elb.RegistrationInProgress, then Elb.InitialHealthChecking once
 *   a check failed); one passing check makes it `healthy`;
 * - `UnhealthyThresholdCount` failures in a row make any target `unhealthy`, with the reason of
 *   the last failure (Target.ResponseCodeMismatch, Target.Timeout, Target.FailedHealthChecks);
 * - an unhealthy target needs `HealthyThresholdCount` passes in a row to be healthy again.
 *
 * Checker invariants:
 * - Health is kept per `targetIdentity`, so it survives recompiles of the routing table; it
 *   starts over (from `initial`) only when the target's check settings change, or when it stops
 *   being checked (draining, deregistered, its group no longer in use or checks disabled).
 * - Every check carries the generation of the table that scheduled it. A table that changes a
 *   target's check settings supersedes the checks scheduled before it: their results are
 *   dropped. A recompile that leaves them alone keeps the schedule, so frequent configuration
 *   changes (a rolling update) neither delay nor multiply checks.
 * - Intervals and timeouts run on the platform clock, scaled by `secondMs`; the next check is
 *   armed after the previous one answered, one interval after it started.
 * - A timeout measures the target, not this process: when the timeout timer fires late (the
 *   control plane's event loop was starved), the check gets the lost time back (at most one
 *   more timeout), and an answer already received is read before the check is aborted.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type * as ELB from '../generated/elbv2.js';
import type { Clock, Timer } from '../clock.js';
import type { CompiledTable, CompiledTarget, HealthCheckSpec } from './compile.js';

export type HealthState = 'initial' | 'healthy' | 'unhealthy';

/** One target's health, and the counts of consecutive passes and failures that move it. */
export interface TargetHealthStatus {
  readonly state: HealthState;
  readonly reason?: ELB.TargetHealthReasonEnum;
  readonly description?: string;
  /** Passing checks in a row. */
  readonly passes: number;
  /** Failing checks in a row. */
  readonly failures: number;
  /** Platform-clock time the target last became healthy (slow start counts from it); 0 = never. */
  readonly healthySince: number;
}

/** What one health check found. */
export type CheckOutcome = { ok: true } | { ok: false; reason: ELB.TargetHealthReasonEnum; description: string };

/** The health of a target no check has answered for yet. */
export const INITIAL_HEALTH: TargetHealthStatus = {
  state: 'initial',
  reason: 'Elb.RegistrationInProgress',
  description: 'Target registration is in progress',
  passes: 0,
  failures: 0,
  healthySince: 0,
};

/** The health after one more check (pure; see the module doc for the rules). */
export function nextHealth(
  current: TargetHealthStatus,
  outcome: CheckOutcome,
  thresholds: { healthyThreshold: number; unhealthyThreshold: number },
  now: number,
): TargetHealthStatus {
  if (outcome.ok) {
    const passes = current.passes + 1;
    if (current.state === 'initial' || (current.state === 'unhealthy' && passes >= thresholds.healthyThreshold)) {
      return { state: 'healthy', passes, failures: 0, healthySince: now };
    }
    return { ...current, passes, failures: 0 };
  }
  const failures = current.failures + 1;
  if (current.state === 'unhealthy' || failures >= thresholds.unhealthyThreshold) {
    return { state: 'unhealthy', reason: outcome.reason, description: outcome.description, passes: 0, failures, healthySince: current.healthySince };
  }
  if (current.state === 'initial') {
    return { ...current, reason: 'Elb.InitialHealthChecking', description: 'Initial health checks in progress', passes: 0, failures };
  }
  return { ...current, passes: 0, failures };
}

/**
 * Sends one health check to a target and says what it found. Must resolve (never reject) and
 * answer `Target.Timeout` promptly once `signal` aborts (the checker aborts at the timeout).
 */
export type HealthProbe = (target: CompiledTarget, spec: HealthCheckSpec, signal: AbortSignal) => Promise<CheckOutcome>;

/** A timer firing later than this (ms) means the process was starved, not the target slow. */
const STARVED_MS = 20;

const TIMED_OUT: CheckOutcome = { ok: false, reason: 'Target.Timeout', description: 'Request timed out' };
const FAILED: CheckOutcome = { ok: false, reason: 'Target.FailedHealthChecks', description: 'Health checks failed' };

/** The real probe: `GET <path>` on a fresh connection, as ELB-HealthChecker/2.0; the status must match. */
export const httpProbe: HealthProbe = (target, spec, signal) =>
  new Promise((resolve) => {
    let settled = false;
    const settle = (o: CheckOutcome) => {
      if (settled) return;
      settled = true;
      resolve(o);
    };
    if (signal.aborted) return settle(TIMED_OUT);
    try {
      const req = (spec.protocol === 'HTTPS' ? httpsRequest : httpRequest)(
        {
          host: target.id,
          port: spec.port ?? target.port,
          path: spec.path,
          method: 'GET',
          agent: false,
          rejectUnauthorized: false,
          headers: { 'user-agent': 'ELB-HealthChecker/2.0', connection: 'close' },
        },
        (res) => {
          res.resume();
          const code = res.statusCode ?? 0;
          settle(spec.matches(code) ? { ok: true } : { ok: false, reason: 'Target.ResponseCodeMismatch', description: `Health checks failed with these codes: [${code}]` });
        },
      );
      signal.addEventListener(
        'abort',
        () => {
          settle(TIMED_OUT);
          req.destroy();
        },
        { once: true },
      );
      req.on('error', () => settle(FAILED));
      req.end();
    } catch {
      // Options node refuses (say, an address it cannot parse): a failed check, not a crash.
      settle(FAILED);
    }
  });

/** One target being checked. */
interface Watched {
  target: CompiledTarget;
  spec: HealthCheckSpec;
  status: TargetHealthStatus;
  /** Generation of the table that last (re)set this target's check settings. */
  since: number;
  /** The next check, when none is in flight. */
  timer: Timer | undefined;
  /** The check in flight: the generation that scheduled it, and how to cancel it. */
  inFlight: { generation: number; abort: AbortController } | undefined;
}

export interface HealthCheckerOptions {
  clock: Clock;
  /** Real milliseconds in one health-check "second" (read at each check, so it can change). */
  secondMs: () => number;
  /** Called when a target's state changes (healthy/unhealthy/initial), with its target group. */
  onChange: (tgArn: string) => void;
  /** How a check is made (default: `httpProbe`). */
  probe?: HealthProbe;
}

/** Checks the targets the current table says to check; see the module doc. */
export class HealthChecker {
  private readonly watched = new Map<string, Watched>();
  private generation = 0;
  private stopped = false;
  private readonly probe: HealthProbe;

  constructor(private readonly opts: HealthCheckerOptions) {
    this.probe = opts.probe ?? httpProbe;
  }

  /**
   * Follows a new table: starts checking targets it newly asks to check (the first check at
   * once), starts over those whose check settings changed, and forgets those it no longer
   * checks (draining, gone, group unused or checks disabled).
   */
  adopt(table: CompiledTable): void {
    if (this.stopped) return;
    const generation = table.generation;
    this.generation = generation;
    const wanted = new Set<string>();
    for (const group of table.groups.values()) {
      const spec = group.healthCheck;
      if (!group.inUse || !spec) continue;
      for (const target of group.targets) {
        if (target.draining) continue;
        wanted.add(target.identity);
        const w = this.watched.get(target.identity);
        if (w && w.spec.signature === spec.signature) {
          w.target = target;
          w.spec = spec;
          continue;
        }
        if (!w) {
          const fresh: Watched = { target, spec, status: INITIAL_HEALTH, since: generation, timer: undefined, inFlight: undefined };
          this.watched.set(target.identity, fresh);
          this.check(fresh);
          continue;
        }
        // New settings: start over; checks scheduled before this generation are dropped.
        this.cancel(w);
        const was = w.status.state;
        Object.assign(w, { target, spec, status: INITIAL_HEALTH, since: generation });
        if (was !== 'initial') this.opts.onChange(target.tgArn);
        this.check(w);
      }
    }
    for (const [identity, w] of this.watched) {
      if (wanted.has(identity)) continue;
      this.cancel(w);
      this.watched.delete(identity);
    }
  }

  /** The health of a checked target, or undefined when it is not checked (yet). */
  status(identity: string): TargetHealthStatus | undefined {
    return this.watched.get(identity)?.status;
  }

  /** How many checks are waiting for their target's answer (diagnosis; tests on a ManualClock). */
  get inFlight(): number {
    let n = 0;
    for (const w of this.watched.values()) if (w.inFlight) n++;
    return n;
  }

  /** Cancels every check; nothing is checked after this. */
  stop(): void {
    this.stopped = true;
    for (const w of this.watched.values()) this.cancel(w);
    this.watched.clear();
  }

  private cancel(w: Watched): void {
    w.timer?.cancel();
    w.timer = undefined;
    w.inFlight?.abort.abort();
    w.inFlight = undefined;
  }

  private check(w: Watched): void {
    w.timer = undefined;
    if (this.stopped) return;
    const { clock, secondMs } = this.opts;
    const generation = this.generation;
    const abort = new AbortController();
    const inFlight = { generation, abort };
    w.inFlight = inFlight;
    const started = clock.now();
    const timeoutMs = w.spec.timeoutSeconds * secondMs();
    let due = started + timeoutMs;
    let extended = 0;
    const expire = () => {
      // The timer fired late: this process's own event loop was held up (a starved control
      // plane), and the answer may be waiting unread. That time does not count against the
      // target: the check gets it back (at most one more timeout in all).
      const late = clock.now() - due;
      if (late > STARVED_MS && extended < timeoutMs) {
        const more = Math.min(late, timeoutMs - extended);
        extended += more;
        due = clock.now() + more;
        timeout = clock.setTimeout(expire, more);
        return;
      }
      // Answers already received are read first (the poll phase runs before immediates).
      setImmediate(() => abort.abort());
    };
    let timeout = clock.setTimeout(expire, timeoutMs);
    let answer: Promise<CheckOutcome>;
    try {
      answer = this.probe(w.target, w.spec, abort.signal);
    } catch {
      answer = Promise.resolve(FAILED);
    }
    void answer
      .catch((): CheckOutcome => FAILED)
      .then((outcome) => {
        timeout.cancel();
        if (w.inFlight === inFlight) w.inFlight = undefined;
        // Dropped: checking stopped, the target is no longer checked, or a later table changed
        // its check settings (its schedule started over then).
        if (this.stopped || this.watched.get(w.target.identity) !== w || generation < w.since) return;
        const before = w.status.state;
        w.status = nextHealth(w.status, outcome, w.spec, clock.now());
        const wait = Math.max(0, w.spec.intervalSeconds * secondMs() - (clock.now() - started));
        w.timer = clock.setTimeout(() => this.check(w), wait);
        if (w.status.state !== before) this.opts.onChange(w.target.tgArn);
      })
      .catch((e: unknown) => console.error('berth lb: health check bookkeeping failed:', e));
  }
}
