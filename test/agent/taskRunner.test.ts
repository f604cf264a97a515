/**
 * The task runner over the process driver (real host processes): lifecycle order and
 * timestamps, dependsOn conditions, essential exits, stop timeouts, health checks, OOM,
 * logs, and recovery by a new runner + driver after an "agent restart".
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { ProcessDriver } from '../../src/agent/drivers/process.js';
import { OOM_REASON } from '../../src/agent/drivers/driver.js';
import { ESSENTIAL_EXITED_REASON, TaskRunner, type PersistedTask } from '../../src/agent/taskRunner.js';
import type { ContainerSpec, LogLine, TaskSpec, TaskState } from '../../src/agent/types.js';
import { eventually } from '../helpers/fixture.js';

const dataDir = mkdtempSync(join(tmpdir(), 'berth-runner-'));
const scratch = mkdtempSync(join(tmpdir(), 'berth-runner-files-'));
const runners: TaskRunner[] = [];
after(async () => {
  for (const r of runners) r.stop();
  await Promise.all(runners.map((r) => r.start()));
  for (const d of [dataDir, scratch]) rmSync(d, { recursive: true, force: true });
});

let seq = 0;
function sh(name: string, script: string, extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return { name, image: 'host', entryPoint: ['/bin/sh', '-c', script], ...extra };
}
function task(containers: ContainerSpec[]): TaskSpec {
  const id = `rt${process.pid}x${++seq}`;
  return { id, arn: `arn:aws:ecs:us-east-1:000000000000:task/default/${id}`, containers, desiredStatus: 'RUNNING' };
}
function run(spec: TaskSpec, driver = new ProcessDriver({ dataDir }), clock = new ManualClock()) {
  const states: TaskState[] = [];
  const logs: LogLine[] = [];
  const persisted: PersistedTask[] = [];
  const runner = new TaskRunner({ task: spec, driver, clock, onStateChange: (s) => states.push(s), onLog: (l) => logs.push(l), onPersist: (p) => persisted.push(p), defaultStopTimeoutS: 2 });
  runners.push(runner);
  const done = runner.start();
  return { runner, states, logs, persisted, done, driver, clock };
}
const statuses = (states: TaskState[]) => states.map((s) => s.lastStatus).filter((s, i, a) => i === 0 || a[i - 1] !== s);
const alive = (pid: string) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

test('lifecycle: every status in order, timestamps from the injected clock, stop on request', async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 2));
  const r = run(task([sh('app', 'echo hello; echo oops >&2; while true; do sleep 0.1; done', { portMappings: [{ containerPort: 80 }] })]), undefined, clock);
  const s = await r.runner.waitFor('RUNNING');
  assert.equal(s.lastStatus, 'RUNNING');
  assert.equal(s.containers[0]!.lastStatus, 'RUNNING');
  assert.ok(s.containers[0]!.runtimeId && alive(s.containers[0]!.runtimeId));
  assert.equal(s.containers[0]!.networkBindings[0]!.containerPort, 80);
  assert.ok(s.containers[0]!.networkBindings[0]!.hostPort >= 49153);
  assert.equal(s.createdAt, Date.UTC(2026, 0, 2));
  assert.equal(s.pullStartedAt, Date.UTC(2026, 0, 2));
  await eventually(() => r.logs.length >= 2, { what: 'log lines' });
  assert.deepEqual(r.logs.map((l) => [l.container, l.stream, l.line]).sort(), [['app', 'stderr', 'oops'], ['app', 'stdout', 'hello']]);
  await clock.advance(60_000);
  r.runner.stop({ reason: 'Scale down' });
  const end = await r.done;
  assert.deepEqual(statuses(r.states), ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED']);
  assert.equal(end.desiredStatus, 'STOPPED');
  assert.equal(end.stopCode, 'UserInitiated');
  assert.equal(end.stoppedReason, 'Scale down');
  assert.equal(end.startedAt, Date.UTC(2026, 0, 2));
  assert.equal(end.stoppingAt, Date.UTC(2026, 0, 2) + 60_000);
  assert.equal(end.executionStoppedAt, Date.UTC(2026, 0, 2) + 60_000);
  assert.equal(end.stoppedAt, Date.UTC(2026, 0, 2) + 60_000);
  assert.equal(end.containers[0]!.lastStatus, 'STOPPED');
  assert.equal(end.containers[0]!.exitCode, 143, 'SIGTERM -> 128+15');
  assert.equal(alive(s.containers[0]!.runtimeId!), false);
});

test('an essential container exiting 1 stops the task with EssentialContainerExited', async () => {
  const r = run(task([sh('main', 'sleep 0.5; echo bye; exit 1'), sh('side', 'while true; do sleep 0.1; done', { essential: false })]));
  const end = await r.done;
  assert.equal(end.lastStatus, 'STOPPED');
  assert.equal(end.stopCode, 'EssentialContainerExited');
  assert.equal(end.stoppedReason, ESSENTIAL_EXITED_REASON);
  const main = end.containers.find((c) => c.name === 'main')!;
  const side = end.containers.find((c) => c.name === 'side')!;
  assert.equal(main.exitCode, 1);
  assert.equal(side.lastStatus, 'STOPPED');
  assert.equal(side.exitCode, 143);
  assert.ok(r.states.some((s) => s.lastStatus === 'RUNNING'), 'reached RUNNING before the exit');
  assert.ok(r.logs.some((l) => l.container === 'main' && l.line === 'bye'), 'last output delivered');
});

test('dependsOn: SUCCESS, START and COMPLETE order the starts; stop goes in reverse order', async () => {
  const marker = join(scratch, `init-${seq + 1}`);
  const order = join(scratch, `order-${seq + 1}`);
  const r = run(
    task([
      sh('app', `trap 'echo app-stop >> ${order}; exit 0' TERM; test -f ${marker} && echo app-start >> ${order}; while true; do sleep 0.1; done`, { dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }, { containerName: 'db', condition: 'START' }] }),
      sh('init', `sleep 0.3; echo init >> ${order}; touch ${marker}`, { essential: false }),
      sh('db', `trap 'sleep 0.3; echo db-stop >> ${order}; exit 0' TERM; echo db-start >> ${order}; while true; do sleep 0.1; done`),
      sh('late', `echo late >> ${order}; exec sleep 1000`, { essential: false, dependsOn: [{ containerName: 'init', condition: 'COMPLETE' }] }),
    ]),
  );
  await r.runner.waitFor('RUNNING');
  const lines = await eventually(() => {
    const l = readFileSync(order, 'utf8').trim().split('\n');
    return ['init', 'app-start', 'db-start', 'late'].every((x) => l.includes(x)) ? l : undefined;
  }, { what: 'every container to have run its first line' });
  assert.ok(lines.indexOf('init') < lines.indexOf('app-start'), lines.join(','));
  // START only means "the dependency was started", not that its first line ran: check the states.
  const firstAppRunning = r.states.find((x) => x.containers.find((c) => c.name === 'app')!.lastStatus === 'RUNNING')!;
  assert.equal(firstAppRunning.containers.find((c) => c.name === 'db')!.lastStatus, 'RUNNING');
  assert.ok(lines.indexOf('init') < lines.indexOf('late'), lines.join(','));
  const s = r.runner.state;
  assert.equal(s.containers.find((c) => c.name === 'init')!.exitCode, 0);
  assert.equal(s.containers.find((c) => c.name === 'app')!.lastStatus, 'RUNNING');
  r.runner.stop();
  await r.done;
  const after = readFileSync(order, 'utf8').trim().split('\n');
  assert.ok(after.indexOf('app-stop') >= 0 && after.indexOf('app-stop') < after.indexOf('db-stop'), `app stops before db: ${after.join(',')}`);
});

test('dependsOn SUCCESS on a failing container: the dependent never starts and the task fails to start', async () => {
  const r = run(task([sh('app', 'while true; do sleep 0.1; done', { dependsOn: [{ containerName: 'migrate', condition: 'SUCCESS' }] }), sh('migrate', 'exit 3', { essential: false })]));
  const end = await r.done;
  assert.equal(end.stopCode, 'TaskFailedToStart');
  assert.match(end.stoppedReason!, /SUCCESS.*migrate/);
  const app = end.containers.find((c) => c.name === 'app')!;
  assert.equal(app.lastStatus, 'STOPPED');
  assert.equal(app.runtimeId, undefined);
  assert.equal(end.containers.find((c) => c.name === 'migrate')!.exitCode, 3);
  assert.ok(!r.states.some((s) => s.lastStatus === 'RUNNING'));
});

test('a container that cannot start fails the task with CannotStartContainerError', async () => {
  const r = run(task([{ name: 'bad', image: 'host', entryPoint: ['/nonexistent/binary'] }]));
  const end = await r.done;
  assert.equal(end.stopCode, 'TaskFailedToStart');
  assert.match(end.stoppedReason!, /^CannotStartContainerError: .*ENOENT/);
  assert.match(end.containers[0]!.reason!, /^CannotStartContainerError/);
});

test('stop: SIGKILL after the container stopTimeout when SIGTERM is ignored', async () => {
  const r = run(task([sh('stubborn', "trap '' TERM; echo ready; while true; do sleep 0.1; done", { stopTimeout: 1 })]));
  await r.runner.waitFor('RUNNING');
  await eventually(() => r.logs.some((l) => l.line === 'ready'), { what: 'SIGTERM trap installed' });
  const t0 = Date.now();
  r.runner.stop();
  const end = await r.done;
  assert.ok(Date.now() - t0 >= 900, 'waited for the stop timeout');
  assert.equal(end.containers[0]!.exitCode, 137);
});

test('health checks: passing -> HEALTHY, failing past retries -> UNHEALTHY (task health follows essentials)', async () => {
  const flag = join(scratch, `healthy-${seq + 1}`);
  const r = run(
    task([
      sh('web', 'while true; do sleep 0.1; done', { healthCheck: { command: ['CMD-SHELL', `test -f ${flag}`], interval: 1, timeout: 2, retries: 2 } }),
      sh('ok', 'while true; do sleep 0.1; done', { healthCheck: { command: ['CMD', '/bin/true'], interval: 1, retries: 1 } }),
    ]),
  );
  await r.runner.waitFor('RUNNING');
  assert.equal(r.runner.state.containers[0]!.healthStatus, 'UNKNOWN');
  await eventually(() => r.runner.state.containers.find((c) => c.name === 'ok')!.healthStatus === 'HEALTHY', { what: 'ok HEALTHY' });
  const unhealthy = await eventually(() => (r.runner.state.containers[0]!.healthStatus === 'UNHEALTHY' ? r.runner.state : undefined), { what: 'web UNHEALTHY' });
  assert.equal(unhealthy.healthStatus, 'UNHEALTHY');
  assert.equal(unhealthy.lastStatus, 'RUNNING', 'an unhealthy container is reported, not stopped by the runner');
  (await import('node:fs')).writeFileSync(flag, '');
  await eventually(() => r.runner.state.healthStatus === 'HEALTHY', { what: 'task HEALTHY after recovery' });
  r.runner.stop();
  await r.done;
});

test('health check startPeriod (on the injected clock): failures inside it do not count', async () => {
  const clock = new ManualClock();
  const probes = join(scratch, `probes-${seq + 1}`);
  const r = run(task([sh('slow', 'while true; do sleep 0.1; done', { healthCheck: { command: ['CMD-SHELL', `echo x >> ${probes}; exit 1`], interval: 1, retries: 1, startPeriod: 60 } })]), undefined, clock);
  await r.runner.waitFor('RUNNING');
  // Two failing probes run while the clock stays inside the start period.
  await eventually(() => existsSync(probes) && readFileSync(probes, 'utf8').split('\n').length > 2, { what: 'two probes' });
  assert.equal(r.runner.state.containers[0]!.healthStatus, 'UNKNOWN');
  await clock.advance(61_000);
  await eventually(() => r.runner.state.containers[0]!.healthStatus === 'UNHEALTHY', { what: 'UNHEALTHY after the start period' });
  r.runner.stop();
  await r.done;
});

test('memory limit: a process allocating past it is reported OutOfMemoryError', async (t) => {
  const fp = await new ProcessDriver({ dataDir }).fingerprint();
  if (!fp.capabilities.memoryLimit) return t.skip('no writable memory cgroup (v1 or v2) on this host: the process driver cannot enforce memory limits');
  const r = run(task([sh('hog', 'head -c 200m /dev/zero | tail', { memory: 32 })]));
  const end = await r.done;
  assert.equal(end.containers[0]!.reason, OOM_REASON);
  assert.equal(end.containers[0]!.exitCode, 137);
  assert.equal(end.stopCode, 'EssentialContainerExited');
});

test('recover: a new driver and runner re-attach to running processes without restarting them', async () => {
  const starts = join(scratch, `starts-${seq + 1}`);
  const r = run(
    task([
      sh('a', `echo a >> ${starts}; echo a-up; while true; do sleep 0.1; done`),
      sh('b', `echo b >> ${starts}; while true; do sleep 0.1; done`, { essential: false, healthCheck: { command: ['CMD-SHELL', 'true'], interval: 1 } }),
    ]),
  );
  const before = await r.runner.waitFor('RUNNING');
  await eventually(() => r.logs.some((l) => l.line === 'a-up'), { what: 'a-up' });
  const record = JSON.parse(JSON.stringify(r.runner.persisted())) as PersistedTask;
  r.runner.detach();
  assert.equal((await r.done).lastStatus, 'RUNNING', 'detach leaves the task running');
  for (const c of before.containers) assert.ok(alive(c.runtimeId!), `${c.name} survives the detach`);

  const states: TaskState[] = [];
  const logs: LogLine[] = [];
  const resumed = TaskRunner.resume({ driver: new ProcessDriver({ dataDir }), onStateChange: (s) => states.push(s), onLog: (l) => logs.push(l), defaultStopTimeoutS: 2 }, record);
  runners.push(resumed);
  const done = resumed.start();
  await eventually(() => resumed.state.containers.find((c) => c.name === 'b')!.healthStatus === 'HEALTHY', { what: 'health checks resume' });
  const now = resumed.state;
  assert.equal(now.lastStatus, 'RUNNING');
  assert.deepEqual(now.containers.map((c) => c.runtimeId), before.containers.map((c) => c.runtimeId));
  assert.deepEqual(now.containers.map((c) => c.networkBindings), before.containers.map((c) => c.networkBindings));
  assert.deepEqual(readFileSync(starts, 'utf8').trim().split('\n').sort(), ['a', 'b'], 'nothing was started twice');
  assert.ok(!logs.some((l) => l.line === 'a-up'), 'lines already delivered are not repeated');
  resumed.stop();
  const end = await done;
  assert.equal(end.lastStatus, 'STOPPED');
  for (const c of before.containers) assert.equal(alive(c.runtimeId!), false);
});

test('recover: an essential container that died while the agent was down stops the task with its exit code', async () => {
  const flag = join(scratch, `die-${seq + 1}`);
  const r = run(task([sh('main', `while ! test -f ${flag}; do sleep 0.05; done; exit 4`)]));
  await r.runner.waitFor('RUNNING');
  const record = r.runner.persisted();
  r.runner.detach();
  await r.done;
  (await import('node:fs')).writeFileSync(flag, '');
  await eventually(() => !alive(record.state.containers[0]!.runtimeId!), { what: 'process to exit' });
  const resumed = TaskRunner.resume({ driver: new ProcessDriver({ dataDir }) }, record);
  runners.push(resumed);
  const end = await resumed.start();
  assert.equal(end.lastStatus, 'STOPPED');
  assert.equal(end.containers[0]!.exitCode, 4);
  assert.equal(end.stopCode, 'EssentialContainerExited');
});
