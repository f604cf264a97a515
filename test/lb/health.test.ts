// Health checks, fail-open, draining and the scheduler-facing target interface, against real
// backends: in-process servers and child processes killed with kill -9. Everything time-driven
// (health check intervals and timeouts, the deregistration delay, the target-drain sweep) runs
// on the injected ManualClock, which the tests move on; health check "seconds" are shortened
// with the Berth extension `secondMs`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ElasticLoadBalancingV2Client,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  CreateListenerCommand,
  RegisterTargetsCommand,
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ModifyTargetGroupAttributesCommand,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ManualClock } from '../../src/clock.js';
import { startTestBerth, awsOk, eventually, type TestBerth } from '../helpers/fixture.js';
import { deregistrationDelaySeconds, describeTargetGroup, scopeOfArn } from '../../src/domain/elbv2/targets.js';
import { elbv2Targets } from '../../src/control/targets.js';
import { startBackend, spawnBackend, freePort, get, loadGenerator, createTestTargetGroup } from './backends.js';

const SECOND_MS = 50;
let berth: TestBerth;
let clock: ManualClock;
let elb: ElasticLoadBalancingV2Client;
let lbArn: string;
const cleanups: (() => Promise<void> | void)[] = [];

before(async () => {
  clock = new ManualClock(Date.now());
  berth = await startTestBerth({ clock });
  berth.loadBalancer.configure({ secondMs: SECOND_MS });
  elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  lbArn = (await elb.send(new CreateLoadBalancerCommand({ Name: 'health', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
});

after(async () => {
  elb?.destroy();
  await berth?.close();
  for (const c of cleanups.reverse()) await c();
});

/** A target group (5 s interval, 2 s timeout, thresholds 2) behind a new listener. */
async function service(name: string, extra: Record<string, unknown> = {}): Promise<{ tg: string; port: number }> {
  const tg = await createTestTargetGroup(elb, name, extra);
  const port = await freePort();
  await elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: port, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] }));
  return { tg, port };
}

/**
 * Moves time on by `ms` (default one health-check second). Health checks in flight are real
 * requests to real backends: they answer before time moves, so a check never times out while
 * a quick answer is still on its way.
 */
async function tick(ms = SECOND_MS): Promise<void> {
  await eventually(() => berth.loadBalancer.healthChecksInFlight === 0, { what: 'health checks answered', intervalMs: 5 });
  await clock.advance(ms);
}

/** Moves time on, a health-check second at a time, until `cond` holds. */
function tickUntil<T>(cond: () => Promise<T | undefined | false>, what: string): Promise<T> {
  return eventually(
    async () => {
      const v = await cond();
      if (!v) await tick();
      return v;
    },
    { what, intervalMs: 5 },
  );
}

async function healthOf(tg: string, targets?: { Id: string; Port: number }[]): Promise<TargetHealthDescription[]> {
  return (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg, Targets: targets }))).TargetHealthDescriptions ?? [];
}

function stateOf(hs: TargetHealthDescription[], port: number): string | undefined {
  return hs.find((h) => h.Target?.Port === port)?.TargetHealth?.State;
}

test('new targets start initial, turn healthy after one check, unhealthy on bad codes with AWS reasons; all-unhealthy fails open', async () => {
  const b = await startBackend('solo');
  cleanups.push(() => b.close());
  const { tg, port } = await service('codes', { HealthCheckPath: '/health', Matcher: { HttpCode: '200-299' } });
  b.healthStatus = 500;
  await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: '127.0.0.1', Port: b.port }] }));
  const first = (await healthOf(tg))[0]!;
  assert.equal(first.TargetHealth?.State, 'initial');
  assert.ok(['Elb.RegistrationInProgress', 'Elb.InitialHealthChecking'].includes(first.TargetHealth!.Reason!));
  assert.equal(first.HealthCheckPort, String(b.port));
  await tickUntil(async () => stateOf(await healthOf(tg), b.port) === 'unhealthy', 'unhealthy');
  // Through the aws CLI: the unhealthy state with its reason code and description.
  const out = await awsOk(berth.awsEnv, ['elbv2', 'describe-target-health', '--target-group-arn', tg]);
  const un = out.TargetHealthDescriptions[0].TargetHealth;
  assert.equal(un.State, 'unhealthy');
  assert.equal(un.Reason, 'Target.ResponseCodeMismatch');
  assert.equal(un.Description, 'Health checks failed with these codes: [500]');
  // Every target unhealthy: the load balancer routes to all of them anyway (fail open).
  const r = await get(port, '/x');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'solo /x');
  b.healthStatus = 204;
  // HealthyThresholdCount (2) passing checks, one interval (5 s) apart.
  const recoveringSince = clock.now();
  await tickUntil(async () => stateOf(await healthOf(tg), b.port) === 'healthy', 'healthy again');
  assert.ok(clock.now() - recoveringSince <= 2 * 5 * SECOND_MS, `healthy again after ${clock.now() - recoveringSince} ms of clock time`);
  assert.equal((await healthOf(tg))[0]!.TargetHealth?.Reason, undefined);
});

test('targets of a target group no listener uses are unused (Target.NotInUse)', async () => {
  const tg = (await elb.send(new CreateTargetGroupCommand({ Name: 'idle', Protocol: 'HTTP', Port: 80, TargetType: 'ip' }))).TargetGroups![0]!.TargetGroupArn!;
  await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: '127.0.0.1', Port: 9 }] }));
  const h = (await healthOf(tg))[0]!;
  assert.equal(h.TargetHealth?.State, 'unused');
  assert.equal(h.TargetHealth?.Reason, 'Target.NotInUse');
  const missing = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg, Targets: [{ Id: '127.0.0.2', Port: 9 }] }))).TargetHealthDescriptions![0]!;
  assert.equal(missing.TargetHealth?.Reason, 'Target.NotRegistered');
});

test('deregistering a target under load: zero failed requests, the target is draining, then gone', async () => {
  const a = await startBackend('keep');
  const b = await startBackend('leave');
  cleanups.push(() => a.close(), () => b.close());
  const { tg, port } = await service('drain');
  await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: '127.0.0.1', Port: a.port }, { Id: '127.0.0.1', Port: b.port }] }));
  await tickUntil(async () => (await healthOf(tg)).every((h) => h.TargetHealth?.State === 'healthy'), 'both healthy');
  const load = loadGenerator(port, '/work', 8);
  // Slow requests in flight on both targets keep the leaving one draining for a while.
  const slow = Array.from({ length: 4 }, () => get(port, '/slow?ms=1500'));
  await eventually(() => b.hits > 0 && load.stats.total > 50, { what: 'traffic on both' });
  await elb.send(new DeregisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: '127.0.0.1', Port: b.port }] }));
  const h = (await healthOf(tg)).find((x) => x.Target?.Port === b.port)!;
  assert.equal(h.TargetHealth?.State, 'draining');
  assert.equal(h.TargetHealth?.Reason, 'Target.DeregistrationInProgress');
  // The clock stands still: the target goes because its last request finished (the data plane
  // wakes the target-drain controller), not because a delay passed.
  await eventually(async () => (await healthOf(tg)).length === 1, { what: 'drained target gone', timeoutMs: 15_000 });
  const hitsAfter = b.hits;
  const totalAfter = load.stats.total;
  await eventually(() => load.stats.total > totalAfter + 100, { what: 'more traffic' });
  await load.stop();
  const slowReplies = await Promise.all(slow);
  assert.deepEqual(slowReplies.map((r) => r.status), [200, 200, 200, 200], 'in-flight requests completed');
  assert.equal(load.failures(), 0, `failures: ${JSON.stringify([...load.stats.byStatus])}`);
  assert.equal(b.hits, hitsAfter, 'no requests reach a drained target');
  assert.equal(stateOf(await healthOf(tg), a.port), 'healthy');
});

test('a draining target with requests still in flight leaves when the deregistration delay passes (injected clock)', async () => {
  const b = await startBackend('delayed');
  cleanups.push(() => b.close());
  const { tg, port } = await service('delay');
  await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }] }));
  // The service controller's interface to target groups (the same records as the API's).
  const targets = elbv2Targets(berth.platform, berth.loadBalancer);
  const target = { id: '127.0.0.1', port: b.port };
  const scope = scopeOfArn(berth.platform, tg);
  await targets.register(tg, target);
  await tickUntil(async () => (await targets.health(tg, target)) === 'healthy', 'healthy');
  assert.equal(await deregistrationDelaySeconds(scope, tg), 30);
  const info = await describeTargetGroup(scope, tg);
  assert.deepEqual({ type: info?.targetType, port: info?.port, lbs: info?.loadBalancerArns }, { type: 'ip', port: 80, lbs: [lbArn] });
  assert.equal(await describeTargetGroup(scope, tg.replace(/\/[0-9a-f]+$/, '/0000000000000000')), undefined);
  const inflight = get(port, '/slow?ms=3000');
  await eventually(() => b.hits > 0, { what: 'request in flight' });
  await targets.deregister(tg, target);
  await berth.loadBalancer.settled();
  // A second of sweeps (every 200 ms): the request in flight keeps it draining.
  for (let i = 0; i < 1000 / SECOND_MS; i++) await tick();
  assert.equal(await targets.health(tg, target), 'draining');
  // Just short of the delay (a jump: timers keep what they had left), then past it.
  clock.set(clock.now() + 28_000);
  for (let i = 0; i < 600 / SECOND_MS; i++) await tick();
  assert.equal(await targets.health(tg, target), 'draining');
  clock.set(clock.now() + 1_000);
  await tickUntil(async () => (await targets.health(tg, target)) === 'none', 'drained');
  assert.equal(b.hits, 1, 'the request in flight is the only one it got');
  const [gone] = await healthOf(tg, [{ Id: target.id, Port: target.port }]);
  assert.deepEqual([gone!.TargetHealth?.State, gone!.TargetHealth?.Reason], ['unused', 'Target.NotRegistered']);
  assert.equal((await inflight).status, 200, 'the request in flight still completed');
  // Deregistering a target that is not registered is a no-op for the scheduler interface.
  await targets.deregister(tg, target);
});

test('a backend process killed with kill -9 turns unhealthy within interval × threshold; traffic moves to the rest', async () => {
  const procs = await Promise.all([spawnBackend('p1'), spawnBackend('p2'), spawnBackend('p3')]);
  cleanups.push(() => procs.forEach((p) => p.proc.kill('SIGKILL')));
  const { tg, port } = await service('killed');
  await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: procs.map((p) => ({ Id: '127.0.0.1', Port: p.port })) }));
  await tickUntil(async () => (await healthOf(tg)).filter((h) => h.TargetHealth?.State === 'healthy').length === 3, '3 healthy');
  const concurrency = 6;
  const load = loadGenerator(port, '/', concurrency);
  await eventually(() => load.stats.total > 200, { what: 'warm traffic' });
  const victim = procs[1]!;
  victim.proc.kill('SIGKILL');
  await eventually(() => victim.proc.exitCode !== null || victim.proc.signalCode !== null, { what: 'backend gone' });
  const killedAt = clock.now();
  await tickUntil(async () => stateOf(await healthOf(tg), victim.port) === 'unhealthy', 'unhealthy');
  const detectMs = clock.now() - killedAt;
  // interval (5) × unhealthy threshold (2) "seconds", plus one timeout, of clock time.
  const bound = (5 * 2 + 2) * SECOND_MS;
  assert.ok(detectMs <= bound, `unhealthy after ${detectMs} ms of clock time (bound ${bound} ms)`);
  const reason = (await healthOf(tg)).find((h) => h.Target?.Port === victim.port)!.TargetHealth!.Reason;
  assert.equal(reason, 'Target.FailedHealthChecks');
  const before = new Map(load.stats.byBackend);
  const totalBefore = load.stats.total;
  await eventually(() => load.stats.total > totalBefore + 300, { what: 'traffic after' });
  await load.stop();
  assert.equal(load.stats.byBackend.get('p2'), before.get('p2'), 'no responses from the dead target after it was marked unhealthy');
  // Only requests in flight on the dead connections may fail (refused connects are retried elsewhere).
  const failures = load.failures();
  assert.ok(failures <= concurrency, `failures ${failures} (${JSON.stringify([...load.stats.byStatus])}) exceed the ${concurrency} requests in flight`);
  assert.ok((load.stats.byBackend.get('p1') ?? 0) > 0 && (load.stats.byBackend.get('p3') ?? 0) > 0);
});
