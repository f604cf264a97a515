// The service controller end to end over the real API: a service reaches a steady state
// (`aws ecs wait services-stable`), moves off a DRAINING instance, is deleted with --force, and
// a task that fits nowhere is placed once capacity registers (one "unable to place" event).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateClusterCommand,
  RegisterTaskDefinitionCommand,
  CreateServiceCommand,
  ListTasksCommand,
  DescribeTasksCommand,
  UpdateContainerInstancesStateCommand,
  DeleteServiceCommand,
} from '@aws-sdk/client-ecs';
import { awsOk, eventually } from '../helpers/fixture.js';
import { useControlledBerth } from './fixture.js';
import { ServiceController } from '../../src/control/serviceController.js';
import { elbv2Targets } from '../../src/control/targets.js';
import { KIND, clusterScopedKey } from '../../src/domain/ecs/keys.js';
import { AgentSimulator } from './simulator.js';

const ctl = useControlledBerth({ intervalMs: 100, placementRetryMs: 200 });

async function runningTasks(cluster: string, name: string) {
  const arns = (await ctl.ecs.send(new ListTasksCommand({ cluster, serviceName: name }))).taskArns ?? [];
  if (!arns.length) return [];
  return ((await ctl.ecs.send(new DescribeTasksCommand({ cluster, tasks: arns }))).tasks ?? []).filter((t) => t.lastStatus === 'RUNNING');
}

test('services-stable: 3 tasks on 2 instances, drain an instance, delete --force', async () => {
  const C = 'stable';
  await ctl.ecs.send(new CreateClusterCommand({ clusterName: C }));
  const sim = new AgentSimulator(ctl.berth, ctl.ecs, { cluster: C });
  try {
    const [i1, i2] = [await sim.addInstance(), await sim.addInstance()];
    await ctl.ecs.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'web', image: 'nginx', cpu: 128, memory: 128 }] }));
    await ctl.ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'web', taskDefinition: 'web', desiredCount: 3 }));

    const svc = await eventually(async () => {
      const s = await ctl.describe(C, 'web');
      return s.runningCount === 3 && s.deployments!.length === 1 && s.deployments![0]!.rolloutState === 'COMPLETED' && s.events!.some((e) => e.message!.includes('has reached a steady state')) && s;
    }, { what: 'web steady with 3 running' });
    // The waiter's acceptor: exactly one deployment and runningCount == desiredCount.
    await awsOk(ctl.berth.awsEnv, ['ecs', 'wait', 'services-stable', '--cluster', C, '--services', 'web']);
    // Idempotent: once steady, further rounds (ticks every 100 ms, heartbeats every 50 ms) write nothing.
    const svcKey = clusterScopedKey('us-east-1', C, 'web');
    const rev0 = (await ctl.berth.platform.store.get(KIND.service, svcKey))!.rev;
    const controller = ctl.berth.controller;
    const n0 = controller.reconciles;
    await eventually(() => controller.reconciles >= n0 + 5, { what: '5 more reconciles' });
    assert.equal((await ctl.berth.platform.store.get(KIND.service, svcKey))!.rev, rev0, 'a steady service is not rewritten');
    assert.ok(controller.reconciles < n0 + 40, `no hot loop: ${controller.reconciles - n0} reconciles`);
    const msgs = svc.events!.map((e) => e.message!);
    const steady = msgs.findIndex((m) => m === '(service web) has reached a steady state.');
    const started = msgs.findIndex((m) => /^\(service web\) has started 3 tasks: (\(task [0-9a-f]{32}\) ?){3}\.$/.test(m));
    assert.ok(steady >= 0 && started > steady, `events newest first: ${JSON.stringify(msgs)}`);
    assert.equal(msgs.filter((m) => m.includes('steady state')).length, 1, 'steady state is reported once');
    const onInstances = new Set((await runningTasks(C, 'web')).map((t) => t.containerInstanceArn!.split('/').pop()));
    assert.deepEqual([...onInstances].sort(), [i1, i2].sort(), 'the default strategy spreads over both instances');

    // Drain instance 1: its tasks move to instance 2 (min 100 / max 200), never below 3 running.
    await ctl.ecs.send(new UpdateContainerInstancesStateCommand({ cluster: C, containerInstances: [i1], status: 'DRAINING' }));
    let minRunning = Infinity;
    await eventually(async () => {
      const tasks = await runningTasks(C, 'web');
      minRunning = Math.min(minRunning, tasks.filter((t) => t.desiredStatus === 'RUNNING').length);
      const s = await ctl.describe(C, 'web');
      return tasks.length === 3 && tasks.every((t) => t.containerInstanceArn!.endsWith(i2)) && s.runningCount === 3;
    }, { what: 'tasks moved off the draining instance' });
    assert.ok(minRunning >= 3, `running tasks stayed >= 3 while draining (min seen ${minRunning})`);

    // DeleteService --force: everything is stopped, then the service is INACTIVE.
    await ctl.ecs.send(new DeleteServiceCommand({ cluster: C, service: 'web', force: true }));
    await eventually(async () => (await ctl.describe(C, 'web')).status === 'INACTIVE', { what: 'service INACTIVE' });
    const stopped = (await ctl.ecs.send(new ListTasksCommand({ cluster: C, serviceName: 'web', desiredStatus: 'STOPPED' }))).taskArns ?? [];
    const all = (await ctl.ecs.send(new DescribeTasksCommand({ cluster: C, tasks: stopped }))).tasks!;
    assert.ok(all.length >= 3 && all.every((t) => t.lastStatus === 'STOPPED'), 'every task of the deleted service is STOPPED');
    assert.deepEqual((await ctl.ecs.send(new ListTasksCommand({ cluster: C, serviceName: 'web' }))).taskArns, []);
  } finally {
    await sim.stop();
  }
});

test('a task that fits nowhere: one "unable to place" event, placed once capacity registers', async () => {
  const C = 'tight';
  await ctl.ecs.send(new CreateClusterCommand({ clusterName: C }));
  const sim = new AgentSimulator(ctl.berth, ctl.ecs, { cluster: C });
  try {
    const small = await sim.addInstance({ cpu: 1024, memory: 256 });
    await ctl.ecs.send(new RegisterTaskDefinitionCommand({ family: 'big', containerDefinitions: [{ name: 'big', image: 'nginx', cpu: 128, memory: 512 }] }));
    await ctl.ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'big', taskDefinition: 'big', desiredCount: 1 }));
    const expected = `(service big) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance ${small}) has insufficient memory available.`;
    await eventually(async () => (await ctl.describe(C, 'big')).events!.some((e) => e.message!.startsWith(expected)), { what: 'unable to place event' });
    // Several retries later (placementRetryMs 200 ms), the message is still recorded once, and
    // heartbeats (every 50 ms) do not make the controller retry placement on every beat.
    const controller = ctl.berth.controller;
    const n0 = controller.reconciles;
    const t0 = Date.now();
    await eventually(() => Date.now() - t0 > 1000, { what: 'a few retry periods' });
    assert.ok(controller.reconciles - n0 < 40, `no hot loop while unplaceable: ${controller.reconciles - n0} reconciles in 1 s`);
    const s = await ctl.describe(C, 'big');
    assert.equal(s.events!.filter((e) => e.message!.startsWith(expected)).length, 1, JSON.stringify(s.events));
    assert.equal(s.runningCount, 0);

    const big = await sim.addInstance({ cpu: 1024, memory: 2048 });
    const done = await eventually(async () => {
      const x = await ctl.describe(C, 'big');
      return x.runningCount === 1 && x.events!.some((e) => e.message!.includes('has reached a steady state')) && x;
    }, { what: 'placed after capacity registered' });
    const [task] = await runningTasks(C, 'big');
    assert.ok(task!.containerInstanceArn!.endsWith(big));
    const msgs = done.events!.map((e) => e.message!);
    assert.ok(msgs.findIndex((m) => m.startsWith('(service big) has started 1 tasks')) < msgs.findIndex((m) => m.startsWith(expected)));
  } finally {
    await sim.stop();
  }
});

test('two controllers on one store (replicas) converge on exactly desiredCount, one steady-state event', async () => {
  const C = 'replicas';
  await ctl.ecs.send(new CreateClusterCommand({ clusterName: C }));
  const second = new ServiceController(ctl.berth.platform, elbv2Targets(ctl.berth.platform, ctl.berth.loadBalancer), ctl.berth.controller.settings);
  await second.start();
  const sim = new AgentSimulator(ctl.berth, ctl.ecs, { cluster: C });
  try {
    await sim.addInstance();
    await sim.addInstance();
    await ctl.ecs.send(new RegisterTaskDefinitionCommand({ family: 'rep', containerDefinitions: [{ name: 'rep', image: 'nginx', cpu: 64, memory: 64 }] }));
    await ctl.ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'rep', taskDefinition: 'rep', desiredCount: 4 }));
    const s = await eventually(async () => {
      const x = await ctl.describe(C, 'rep');
      const live = (await ctl.ecs.send(new ListTasksCommand({ cluster: C, serviceName: 'rep' }))).taskArns!.length;
      return x.runningCount === 4 && live === 4 && x.deployments![0]!.rolloutState === 'COMPLETED' && x.events!.some((e) => e.message!.includes('steady state')) && x;
    }, { what: '4 running under two controllers' });
    assert.ok(second.reconciles > 0, 'the second controller took part');
    assert.equal(s.events!.filter((e) => e.message === '(service rep) has reached a steady state.').length, 1, JSON.stringify(s.events!.map((e) => e.message)));
    const n0 = second.reconciles;
    await eventually(() => second.reconciles >= n0 + 5, { what: 'more rounds' });
    assert.equal((await ctl.ecs.send(new ListTasksCommand({ cluster: C, serviceName: 'rep' }))).taskArns!.length, 4, 'still exactly 4 live tasks');
  } finally {
    await sim.stop();
    await second.stop();
  }
});
