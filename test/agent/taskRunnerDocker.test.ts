/**
 * The task runner over the docker driver against the real dockerd: a two-container task (web +
 * sidecar reaching it by link name), OOM, health checks, essential exit and recovery by a new
 * driver instance. Skipped only when the engine socket is absent.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { DockerDriver } from '../../src/agent/drivers/docker.js';
import { defaultDockerSocket, DockerEngine } from '../../src/agent/drivers/dockerApi.js';
import { OOM_REASON } from '../../src/agent/drivers/driver.js';
import { ESSENTIAL_EXITED_REASON, TaskRunner } from '../../src/agent/taskRunner.js';
import type { ContainerSpec, LogLine, TaskSpec, TaskState } from '../../src/agent/types.js';
import { eventually } from '../helpers/fixture.js';
import { ensureBusyboxImage } from '../helpers/images.js';

const socket = defaultDockerSocket();
const skip = existsSync(socket) ? undefined : `docker engine socket ${socket} is absent (start dockerd to run these tests)`;

describe('task runner on docker', { skip }, () => {
  let image: string;
  const engine = new DockerEngine(socket);
  const drivers: DockerDriver[] = [];
  const runners: TaskRunner[] = [];
  let seq = 0;
  before(async () => {
    image = await ensureBusyboxImage(engine);
  });
  after(async () => {
    for (const r of runners) r.stop();
    await Promise.all(runners.map((r) => r.start()));
    for (const d of drivers) d.close();
  });
  const newDriver = () => {
    const d = new DockerDriver({ socketPath: socket });
    drivers.push(d);
    return d;
  };
  const sh = (name: string, script: string, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({ name, image, entryPoint: ['/bin/sh', '-c', script], ...extra });
  const task = (containers: ContainerSpec[]): TaskSpec => {
    const id = `dk${process.pid}x${++seq}${Date.now().toString(36)}`;
    return { id, arn: `arn:aws:ecs:us-east-1:000000000000:task/default/${id}`, networkMode: 'bridge', containers, desiredStatus: 'RUNNING' };
  };
  const run = (spec: TaskSpec, driver = newDriver()) => {
    const states: TaskState[] = [];
    const logs: LogLine[] = [];
    const runner = new TaskRunner({ task: spec, driver, onStateChange: (s) => states.push(s), onLog: (l) => logs.push(l), defaultStopTimeoutS: 1 });
    runners.push(runner);
    return { runner, states, logs, done: runner.start() };
  };

  test('web + sidecar: RUNNING, web serves on its assigned host port, sidecar reaches it by link name', async () => {
    const r = run(
      task([
        { name: 'web', image, entryPoint: ['/bin/httpd', '-f', '-p', '8080', '-h', '/www'], portMappings: [{ containerPort: 8080, hostPort: 0 }], dockerLabels: { team: 'blue' } },
        sh('sidecar', 'while true; do if wget -q -O - http://webhost:8080/ >/tmp/body 2>/dev/null; then echo "via-link: $(cat /tmp/body)"; wget -q -O - http://web:8080/ | sed "s/^/via-name: /"; sleep 30; fi; sleep 0.2; done', {
          links: ['web:webhost'],
          dependsOn: [{ containerName: 'web', condition: 'START' }],
        }),
      ]),
    );
    const s = await r.runner.waitFor('RUNNING');
    const web = s.containers.find((c) => c.name === 'web')!;
    assert.equal(web.lastStatus, 'RUNNING');
    const port = web.networkBindings[0]!.hostPort;
    assert.ok(port >= 49153 && port <= 65535, `host port ${port}`);
    const body = await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      return res.ok ? (await res.text()).trim() : undefined;
    }, { what: 'web on its host port' });
    assert.equal(body, 'ok');
    await eventually(() => r.logs.some((l) => l.container === 'sidecar' && l.line === 'via-link: ok') && r.logs.some((l) => l.line === 'via-name: ok'), { timeoutMs: 20_000, what: 'sidecar reaching web by link and name' });
    const info = await engine.call('GET', `/containers/${web.runtimeId}/json`);
    assert.equal(info.Config.Labels['berth.task-arn'], s.taskArn);
    assert.equal(info.Config.Labels['berth.container-name'], 'web');
    assert.equal(info.Config.Labels.team, 'blue');
    r.runner.stop();
    const end = await r.done;
    assert.equal(end.lastStatus, 'STOPPED');
    assert.equal(await engine.callOr404('GET', `/containers/${web.runtimeId}/json`), undefined, 'container removed at DEPROVISIONING');
  });

  test('a container allocating past its 32 MiB limit is reported OutOfMemoryError', async () => {
    const r = run(task([sh('hog', 'head -c 200m /dev/zero | tail', { memory: 32 })]));
    const end = await r.done;
    assert.equal(end.containers[0]!.exitCode, 137);
    assert.equal(end.containers[0]!.reason, OOM_REASON);
    assert.equal(end.stopCode, 'EssentialContainerExited');
  });

  test('a failing health check turns the container and the task UNHEALTHY', async () => {
    const r = run(task([sh('app', 'while true; do sleep 1; done', { healthCheck: { command: ['CMD-SHELL', 'test -f /tmp/ready'], interval: 1, timeout: 2, retries: 2 } })]));
    await r.runner.waitFor('RUNNING');
    const s = await eventually(() => (r.runner.state.healthStatus === 'UNHEALTHY' ? r.runner.state : undefined), { what: 'UNHEALTHY' });
    assert.equal(s.containers[0]!.healthStatus, 'UNHEALTHY');
    assert.ok(r.states.some((x) => x.lastStatus === 'RUNNING' && x.containers[0]!.healthStatus === 'UNKNOWN'), 'UNKNOWN before the first verdict');
    r.runner.stop();
    await r.done;
  });

  test('an essential container exiting 1 stops the task with the right reason', async () => {
    const r = run(task([sh('main', 'sleep 1; echo failing; exit 1'), sh('helper', 'while true; do sleep 1; done', { essential: false })]));
    const end = await r.done;
    assert.equal(end.stopCode, 'EssentialContainerExited');
    assert.equal(end.stoppedReason, ESSENTIAL_EXITED_REASON);
    assert.equal(end.containers.find((c) => c.name === 'main')!.exitCode, 1);
    assert.equal(end.containers.find((c) => c.name === 'helper')!.lastStatus, 'STOPPED');
    assert.ok(r.logs.some((l) => l.container === 'main' && l.line === 'failing'));
  });

  test('an image that cannot be pulled fails the task with CannotPullContainerError', async () => {
    const r = run(task([{ name: 'app', image: '127.0.0.1:9/berth-missing/app:1', entryPoint: ['/bin/true'] }]));
    const end = await r.done;
    assert.equal(end.stopCode, 'TaskFailedToStart');
    assert.match(end.stoppedReason!, /^CannotPullContainerError: /);
    assert.match(end.containers[0]!.reason!, /^CannotPullContainerError: /);
    assert.ok(end.pullStartedAt !== undefined && end.pullStoppedAt !== undefined);
    assert.ok(!r.states.some((s) => s.lastStatus === 'RUNNING'));
  });

  test('recover with a new driver instance: the same containers keep running, nothing restarted', async () => {
    const r = run(task([sh('a', 'echo a-up; while true; do sleep 1; done'), sh('b', 'while true; do sleep 1; done', { essential: false })]));
    const before = await r.runner.waitFor('RUNNING');
    const startedAt = await Promise.all(before.containers.map(async (c) => (await engine.call('GET', `/containers/${c.runtimeId}/json`)).State.StartedAt));
    const record = JSON.parse(JSON.stringify(r.runner.persisted()));
    r.runner.detach();
    await r.done;
    const resumed = TaskRunner.resume({ driver: newDriver(), defaultStopTimeoutS: 1 }, record);
    runners.push(resumed);
    const done = resumed.start();
    await resumed.waitFor('RUNNING');
    const now = resumed.state;
    assert.deepEqual(now.containers.map((c) => [c.runtimeId, c.lastStatus]), before.containers.map((c) => [c.runtimeId, 'RUNNING']));
    const after = await Promise.all(now.containers.map(async (c) => await engine.call('GET', `/containers/${c.runtimeId}/json`)));
    assert.deepEqual(after.map((i) => i.State.StartedAt), startedAt, 'not restarted');
    assert.deepEqual(after.map((i) => i.RestartCount), [0, 0]);
    resumed.stop();
    const end = await done;
    assert.equal(end.lastStatus, 'STOPPED');
  });
});
