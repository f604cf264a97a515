// The health state machine (pure) and the health checker's loop on a ManualClock with a scripted
// probe: thresholds, reasons, intervals and timeouts on the clock, health kept across
// recompiles, and checks of a superseded table dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock.js';
import { compileTable, targetIdentity, type CompiledTable } from '../../src/lb/compile.js';
import { HealthChecker, INITIAL_HEALTH, nextHealth, type CheckOutcome, type TargetHealthStatus } from '../../src/lb/health.js';
import type { Elbv2Snapshot } from '../../src/domain/elbv2/snapshot.js';
import type { HealthCheckSettings, TargetGroupRecord, TargetRecord } from '../../src/domain/elbv2/records.js';

const PASS: CheckOutcome = { ok: true };
const MISMATCH: CheckOutcome = { ok: false, reason: 'Target.ResponseCodeMismatch', description: 'Health checks failed with these codes: [500]' };
const TIMEOUT: CheckOutcome = { ok: false, reason: 'Target.Timeout', description: 'Request timed out' };
const thresholds = { healthyThreshold: 3, unhealthyThreshold: 2 };

function run(outcomes: CheckOutcome[], from: TargetHealthStatus = INITIAL_HEALTH): TargetHealthStatus[] {
  const out: TargetHealthStatus[] = [];
  let s = from;
  outcomes.forEach((o, i) => out.push((s = nextHealth(s, o, thresholds, 1000 * (i + 1)))));
  return out;
}

test('a new target is initial (registration in progress) and healthy after one passing check', () => {
  assert.deepEqual([INITIAL_HEALTH.state, INITIAL_HEALTH.reason], ['initial', 'Elb.RegistrationInProgress']);
  const [s] = run([PASS]);
  assert.deepEqual([s!.state, s!.reason, s!.description, s!.healthySince], ['healthy', undefined, undefined, 1000]);
});

test('failing checks: initial health checking below the threshold, unhealthy with the last reason at it', () => {
  const [a, b, c] = run([MISMATCH, TIMEOUT, MISMATCH]);
  assert.deepEqual([a!.state, a!.reason, a!.description], ['initial', 'Elb.InitialHealthChecking', 'Initial health checks in progress']);
  assert.deepEqual([b!.state, b!.reason, b!.description], ['unhealthy', 'Target.Timeout', 'Request timed out']);
  assert.deepEqual([c!.state, c!.reason], ['unhealthy', 'Target.ResponseCodeMismatch'], 'an unhealthy target reports its latest failure');
});

test('a healthy target turns unhealthy after UnhealthyThresholdCount failures in a row; a pass in between resets the count', () => {
  const states = run([PASS, MISMATCH, PASS, MISMATCH, MISMATCH]).map((s) => s.state);
  assert.deepEqual(states, ['healthy', 'healthy', 'healthy', 'healthy', 'unhealthy']);
  const [, stillHealthy] = run([PASS, MISMATCH]);
  assert.equal(stillHealthy!.reason, undefined, 'one failure below the threshold changes nothing visible');
});

test('an unhealthy target recovers after HealthyThresholdCount passes in a row; a failure in between starts over', () => {
  const statuses = run([MISMATCH, MISMATCH, PASS, PASS, MISMATCH, PASS, PASS, PASS]);
  assert.deepEqual(
    statuses.map((s) => s.state),
    ['initial', 'unhealthy', 'unhealthy', 'unhealthy', 'unhealthy', 'unhealthy', 'unhealthy', 'healthy'],
  );
  assert.equal(statuses[7]!.healthySince, 8000, 'slow start counts from the recovery');
  assert.equal(statuses[7]!.reason, undefined);
});

// ---- the checker on a ManualClock ---------------------------------------------------------------

const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef';
const HC: HealthCheckSettings = { enabled: true, protocol: 'HTTP', port: 'traffic-port', path: '/health', intervalSeconds: 5, timeoutSeconds: 2, healthyThreshold: 2, unhealthyThreshold: 2, matcher: '200' };
const SECOND_MS = 100;

function target(port: number, over: Partial<TargetRecord> = {}): TargetRecord {
  return { tgArn: TG, tgName: 'web', region: 'us-east-1', id: '127.0.0.1', port, state: 'registered', registeredAt: 1, ...over };
}

function table(generation: number, targets: TargetRecord[], hc: Partial<HealthCheckSettings> = {}, inUse = true): CompiledTable {
  const tg = { name: 'web', arn: TG, id: '0123456789abcdef', region: 'us-east-1', protocol: 'HTTP', protocolVersion: 'HTTP1', port: 80, vpcId: 'vpc-1', targetType: 'ip', ipAddressType: 'ipv4', healthCheck: { ...HC, ...hc }, attributes: {}, tags: [], createdAt: 0 } as TargetGroupRecord;
  const lbArn = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/lb/1';
  const snapshot: Elbv2Snapshot = {
    loadBalancers: [{ arn: lbArn, name: 'lb', attributes: {} } as never],
    targetGroups: [tg],
    listeners: inUse ? [{ arn: `${lbArn}/l1`, lbArn, port: 8080, protocol: 'HTTP', certificates: [], defaultActions: [{ Type: 'forward', TargetGroupArn: TG }] } as never] : [],
    rules: [],
    targets,
  };
  return compileTable(snapshot, generation);
}

/** A probe whose answers the test gives, one per check, in order; unanswered checks wait. */
function scriptedProbe() {
  const waiting: { port: number; answer: (o: CheckOutcome) => void; signal: AbortSignal }[] = [];
  let calls = 0;
  return {
    waiting,
    get calls() {
      return calls;
    },
    probe: (t: { port: number }, _spec: unknown, signal: AbortSignal) =>
      new Promise<CheckOutcome>((resolve) => {
        calls++;
        signal.addEventListener('abort', () => resolve(TIMEOUT), { once: true });
        waiting.push({ port: t.port, answer: resolve, signal });
      }),
    /** Answers the oldest waiting check. */
    async answer(o: CheckOutcome) {
      const w = waiting.shift();
      assert.ok(w, 'a check is waiting');
      w.answer(o);
      await new Promise((r) => setImmediate(r));
    },
  };
}

function checker(clock: ManualClock, probe: ReturnType<typeof scriptedProbe>) {
  const changes: string[] = [];
  const hc = new HealthChecker({ clock, secondMs: () => SECOND_MS, onChange: (tg) => changes.push(tg), probe: probe.probe });
  return { hc, changes };
}

test('checker: first check at once, the next one interval later on the clock; a timeout on the clock is Target.Timeout', async () => {
  const clock = new ManualClock();
  const p = scriptedProbe();
  const { hc, changes } = checker(clock, p);
  const t = target(9001);
  const id = targetIdentity(TG, t);
  hc.adopt(table(1, [t]));
  assert.equal(p.calls, 1, 'the first check starts at once');
  await p.answer(PASS);
  assert.equal(hc.status(id)?.state, 'healthy');
  assert.deepEqual(changes, [TG]);
  await clock.advance(5 * SECOND_MS - 1);
  assert.equal(p.calls, 1, 'nothing before the interval');
  await clock.advance(1);
  assert.equal(p.calls, 2);
  // No answer: the timeout (2 "seconds") fails the check on the clock.
  assert.equal(hc.inFlight, 1);
  await clock.advance(2 * SECOND_MS);
  assert.equal(hc.inFlight, 0);
  assert.equal(hc.status(id)?.failures, 1);
  // The next check is due one interval after the last one started.
  await clock.advance(3 * SECOND_MS);
  assert.equal(p.calls, 3);
  await clock.advance(2 * SECOND_MS);
  assert.deepEqual([hc.status(id)?.state, hc.status(id)?.reason], ['unhealthy', 'Target.Timeout']);
  hc.stop();
  assert.equal(clock.pendingTimers, 0, 'stopping cancels every timer');
});

test('checker: health survives a recompile with the same settings; new settings start over and drop older checks', async () => {
  const clock = new ManualClock();
  const p = scriptedProbe();
  const { hc } = checker(clock, p);
  const t = target(9002);
  const id = targetIdentity(TG, t);
  hc.adopt(table(1, [t]));
  await p.answer(PASS);
  // A recompile (another target added) keeps both the health and the schedule.
  hc.adopt(table(2, [t, target(9003)]));
  assert.equal(hc.status(id)?.state, 'healthy');
  assert.equal(p.calls, 2, 'only the new target is checked at once');
  await p.answer(PASS);
  await clock.advance(5 * SECOND_MS);
  assert.equal(p.calls, 4, 'both on their interval');
  // New settings (generation 3) while both checks of generation 2 are in flight: they are
  // dropped, the targets start over from initial and are checked again at once.
  hc.adopt(table(3, [t, target(9003)], { path: '/ready' }));
  assert.deepEqual([hc.status(id)?.state, hc.status(id)?.reason], ['initial', 'Elb.RegistrationInProgress']);
  assert.equal(p.calls, 6);
  const superseded = p.waiting.splice(0, 2);
  assert.ok(superseded.every((w) => w.signal.aborted), 'superseded checks are cancelled');
  superseded.forEach((w) => w.answer(MISMATCH));
  await new Promise((r) => setImmediate(r));
  assert.equal(hc.status(id)?.failures, 0, 'a superseded check counts for nothing');
  await p.answer(PASS);
  assert.equal(hc.status(id)?.state, 'healthy');
  hc.stop();
});

test('checker: draining targets, unused target groups and disabled checks are not checked; re-registration is a new target', async () => {
  const clock = new ManualClock();
  const p = scriptedProbe();
  const { hc } = checker(clock, p);
  const t = target(9004);
  hc.adopt(table(1, [t]));
  await p.answer(PASS);
  hc.adopt(table(2, [{ ...t, state: 'draining', drainingSince: 5 }]));
  assert.equal(hc.status(targetIdentity(TG, t)), undefined, 'a draining target is no longer checked');
  await clock.advance(60 * SECOND_MS);
  assert.equal(p.calls, 1);
  const again = { ...t, registeredAt: 2 };
  hc.adopt(table(3, [again]));
  assert.equal(hc.status(targetIdentity(TG, again))?.state, 'initial', 'registered again: a new target');
  await p.answer(PASS);
  hc.adopt(table(4, [again], {}, false));
  assert.equal(hc.status(targetIdentity(TG, again)), undefined, 'no listener uses the group: unused, unchecked');
  hc.adopt(table(5, [again], { enabled: false }));
  assert.equal(hc.status(targetIdentity(TG, again)), undefined, 'checks disabled');
  assert.equal(p.waiting.length, 0);
  hc.stop();
  assert.equal(clock.pendingTimers, 0);
});

test('checker: a timeout timer that fires late (the control plane starved) gives the check the lost time back; a slow target still times out', async () => {
  const clock = new ManualClock();
  const p = scriptedProbe();
  const { hc } = checker(clock, p);
  const t = target(9005);
  const id = targetIdentity(TG, t);
  hc.adopt(table(1, [t]));
  await p.answer(PASS);
  await clock.advance(5 * SECOND_MS);
  assert.equal(p.calls, 2);
  // The process is held up for 3 "seconds" while the check is in flight: its 2-second timeout
  // fires 1 second late. The target is not blamed for it: the check goes on.
  clock.stall(3 * SECOND_MS);
  await clock.advance(0);
  assert.equal(hc.inFlight, 1, 'not timed out by the starved timer');
  assert.equal(hc.status(id)?.failures, 0);
  await p.answer(PASS);
  assert.deepEqual([hc.status(id)?.state, hc.status(id)?.failures], ['healthy', 0]);
  // A target that does not answer still times out: the extension is bounded (one more timeout
  // at most), and a timer that fires on time aborts at once. The next check is due one
  // interval after the last one started (3 "seconds" of it went in the stall).
  await clock.advance(2 * SECOND_MS);
  assert.equal(p.calls, 3);
  clock.stall(10 * SECOND_MS);
  await clock.advance(0);
  assert.equal(hc.inFlight, 1);
  await clock.advance(2 * SECOND_MS);
  assert.deepEqual([hc.status(id)?.failures, hc.status(id)?.reason], [1, undefined]);
  assert.equal(p.calls, 4, 'the next check starts at once (its interval passed during the stall)');
  hc.stop();
});
