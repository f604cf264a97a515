// Failures the service controller handles: an instance whose agent stops heartbeating is lost
// and its tasks are replaced elsewhere (spread by AZ), and a revision whose tasks fail trips the
// deployment circuit breaker, which rolls back to the last completed deployment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateClusterCommand,
  RegisterTaskDefinitionCommand,
  CreateServiceCommand,
  UpdateServiceCommand,
  ListTasksCommand,
  DescribeTasksCommand,
  DescribeContainerInstancesCommand,
  DeregisterContainerInstanceCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { awsOk, eventually } from '../helpers/fixture.js';
import { useControlledBerth } from './fixture.js';
import { AgentSimulator } from './simulator.js';

const ctl = useControlledBerth({ intervalMs: 100, instanceLostAfterMs: 300, placementRetryMs: 200 });

async function liveTasks(cluster: string, name: string): Promise<Task[]> {
  const arns = (await ctl.ecs.send(new ListTasksCommand({ cluster, serviceName: name }))).taskArns ?? [];
  return arns.length ? (await ctl.ecs.send(new DescribeTasksCommand({ cluster, tasks: arns }))).tasks ?? [] : [];
}

function perAz(tasks: Task[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of tasks) out[t.availabilityZone!] = (out[t.availabilityZone!] ?? 0) + 1;
  return out;
}

test('spread by AZ: 6 tasks as 2 per AZ; a lost instance is replaced on the other two', async () => {
  const C = 'spread';
  await ctl.ecs.send(new CreateClusterCommand({ clusterName: C }));
  const sim = new AgentSimulator(ctl.berth, ctl.ecs, { cluster: C, agentTimeoutMs: 400 });
  try {
    const ids: Record<string, string> = {};
    for (const az of ['us-east-1a', 'us-east-1b', 'us-east-1c']) ids[az] = await sim.addInstance({ az });
    await ctl.ecs.send(new RegisterTaskDefinitionCommand({ family: 'spread', containerDefinitions: [{ name: 'app', image: 'app:1', cpu: 128, memory: 128 }] }));
    await ctl.ecs.send(
      new CreateServiceCommand({ cluster: C, serviceName: 'app', taskDefinition: 'spread', desiredCount: 6, placementStrategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }] }),
    );
    await eventually(async () => (await ctl.describe(C, 'app')).runningCount === 6 && (await ctl.describe(C, 'app')).events!.some((e) => e.message!.includes('steady state')), { what: '6 running' });
    assert.deepEqual(perAz(await liveTasks(C, 'app')), { 'us-east-1a': 2, 'us-east-1b': 2, 'us-east-1c': 2 });

    // The machine in us-east-1c disappears: no heartbeats -> agentConnected false -> lost.
    const lost = ids['us-east-1c']!;
    const onLost = (await liveTasks(C, 'app')).filter((t) => t.containerInstanceArn!.endsWith(lost)).map((t) => t.taskArn!.split('/').pop()!);
    const t0 = Date.now();
    sim.kill(lost);
    await eventually(async () => (await ctl.ecs.send(new DescribeContainerInstancesCommand({ cluster: C, containerInstances: [lost] }))).containerInstances![0]!.agentConnected === false, { what: 'agent disconnected' });
    const settled = await eventually(
      async () => {
        const tasks = await liveTasks(C, 'app');
        const running = tasks.filter((t) => t.lastStatus === 'RUNNING');
        const s = await ctl.describe(C, 'app');
        return running.length === 6 && tasks.length === 6 && tasks.every((t) => !t.containerInstanceArn!.endsWith(lost)) && s.runningCount === 6 && { tasks: running, s };
      },
      { what: '6 running again on the remaining instances' },
    );
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 15_000, `replaced within 15 s of the loss (${elapsed} ms)`);
    assert.deepEqual(perAz(settled.tasks), { 'us-east-1a': 3, 'us-east-1b': 3 });
    const old = (await ctl.ecs.send(new DescribeTasksCommand({ cluster: C, tasks: onLost }))).tasks!;
    for (const t of old) {
      assert.equal(t.lastStatus, 'STOPPED', 'tasks of a lost instance are marked STOPPED');
      assert.equal(t.stoppedReason, 'Task stopped because its container instance was lost (agent disconnected)');
    }
    const msgs = settled.s.events!.map((e) => e.message!);
    const stoppedIdx = msgs.findIndex((m) => m.startsWith('(service app) has stopped 2 running tasks:') && onLost.every((id) => m.includes(id)));
    const restartedIdx = msgs.findIndex((m) => m.startsWith('(service app) has started 2 tasks:'));
    assert.ok(stoppedIdx >= 0 && restartedIdx >= 0 && restartedIdx < stoppedIdx, JSON.stringify(msgs));

    // DeregisterContainerInstance --force of a machine with tasks: they are replaced too.
    const gone = ids['us-east-1b']!;
    await ctl.ecs.send(new DeregisterContainerInstanceCommand({ cluster: C, containerInstance: gone, force: true }));
    sim.kill(gone);
    const after = await eventually(
      async () => {
        const tasks = await liveTasks(C, 'app');
        return tasks.length === 6 && tasks.every((t) => t.lastStatus === 'RUNNING' && t.containerInstanceArn!.endsWith(ids['us-east-1a']!)) && tasks;
      },
      { what: '6 running on the last instance' },
    );
    assert.deepEqual(perAz(after), { 'us-east-1a': 6 });
  } finally {
    await sim.stop();
  }
});

test('circuit breaker: a revision whose tasks fail is FAILED and rolled back; steady on the old revision', async () => {
  const C = 'breaker';
  await ctl.ecs.send(new CreateClusterCommand({ clusterName: C }));
  const sim = new AgentSimulator(ctl.berth, ctl.ecs, { cluster: C });
  try {
    await sim.addInstance();
    await sim.addInstance();
    await ctl.ecs.send(new RegisterTaskDefinitionCommand({ family: 'cb', containerDefinitions: [{ name: 'app', image: 'app:1', cpu: 128, memory: 128, command: ['serve'] }] }));
    await ctl.ecs.send(new RegisterTaskDefinitionCommand({ family: 'cb', containerDefinitions: [{ name: 'app', image: 'app:broken', cpu: 128, memory: 128, command: ['fail'] }] }));
    await ctl.ecs.send(
      new CreateServiceCommand({
        cluster: C,
        serviceName: 'cb',
        taskDefinition: 'cb:1',
        desiredCount: 2,
        deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true }, minimumHealthyPercent: 100, maximumPercent: 200 },
      }),
    );
    const first = await eventually(async () => {
      const s = await ctl.describe(C, 'cb');
      return s.deployments!.length === 1 && s.deployments![0]!.rolloutState === 'COMPLETED' && s.runningCount === 2 && s;
    }, { what: 'cb:1 completed' });
    const good = first.deployments![0]!.id!;

    const upd = (await ctl.ecs.send(new UpdateServiceCommand({ cluster: C, service: 'cb', taskDefinition: 'cb:2' }))).service!;
    const bad = upd.deployments![0]!.id!;
    await eventually(async () => {
      const s = await ctl.describe(C, 'cb');
      return s.events!.some((e) => e.message === `(service cb) (deployment ${bad}) deployment failed: tasks failed to start.`) && s;
    }, { what: 'deployment failed event' });
    // Through the aws CLI: back on cb:1 with a new PRIMARY deployment that rolls back to the
    // good one (as ECS does), COMPLETED and steady.
    const out = await eventually(async () => {
      const s = (await awsOk(ctl.berth.awsEnv, ['ecs', 'describe-services', '--cluster', C, '--services', 'cb'])).services[0];
      return s.deployments.length === 1 && s.deployments[0].rolloutState === 'COMPLETED' && s.runningCount === 2 && s.events[0].message.includes('steady state') && s;
    }, { what: 'rolled back and steady' });
    assert.ok(out.taskDefinition.endsWith(':task-definition/cb:1'), out.taskDefinition);
    const d = out.deployments[0];
    assert.notEqual(d.id, good);
    assert.notEqual(d.id, bad);
    assert.equal(d.status, 'PRIMARY');
    assert.ok(d.taskDefinition.endsWith('cb:1'));
    assert.equal(d.rolloutStateReason, `ECS deployment circuit breaker: rolling back to deploymentId ${good}.`);
    const msgs: string[] = out.events.map((e: { message: string }) => e.message);
    const failedIdx = msgs.indexOf(`(service cb) (deployment ${bad}) deployment failed: tasks failed to start.`);
    const rollIdx = msgs.indexOf(`(service cb) rolling back to deployment ${good}.`);
    assert.ok(failedIdx > 0 && rollIdx > 0 && rollIdx < failedIdx, JSON.stringify(msgs));
    // The failed tasks were of cb:2 and never started; cb:1 runs under the rollback deployment.
    const stoppedArns = (await ctl.ecs.send(new ListTasksCommand({ cluster: C, serviceName: 'cb', desiredStatus: 'STOPPED' }))).taskArns!;
    const stopped = (await ctl.ecs.send(new DescribeTasksCommand({ cluster: C, tasks: stoppedArns }))).tasks!;
    const failed = stopped.filter((t) => t.stopCode === 'TaskFailedToStart');
    assert.ok(failed.length >= 3, `at least the threshold (3) of failed tasks: ${failed.length}`);
    assert.ok(failed.every((t) => t.taskDefinitionArn!.endsWith('cb:2')));
    const live = await liveTasks(C, 'cb');
    assert.equal(live.length, 2);
    assert.ok(live.every((t) => t.taskDefinitionArn!.endsWith('cb:1') && t.startedBy === d.id && t.lastStatus === 'RUNNING'));
    await awsOk(ctl.berth.awsEnv, ['ecs', 'wait', 'services-stable', '--cluster', C, '--services', 'cb']);
  } finally {
    await sim.stop();
  }
});

test('circuit breaker without rollback: tasks that exit at once mark the deployment FAILED, old tasks keep running', async () => {
  const C = 'breaker2';
  await ctl.ecs.send(new CreateClusterCommand({ clusterName: C }));
  const sim = new AgentSimulator(ctl.berth, ctl.ecs, { cluster: C });
  try {
    await sim.addInstance();
    await ctl.ecs.send(new RegisterTaskDefinitionCommand({ family: 'crash', containerDefinitions: [{ name: 'app', image: 'app:1', cpu: 128, memory: 128, command: ['serve'] }] }));
    await ctl.ecs.send(new RegisterTaskDefinitionCommand({ family: 'crash', containerDefinitions: [{ name: 'app', image: 'app:2', cpu: 128, memory: 128, command: ['crash'] }] }));
    await ctl.ecs.send(
      new CreateServiceCommand({ cluster: C, serviceName: 'crash', taskDefinition: 'crash:1', desiredCount: 1, deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: false } } }),
    );
    await eventually(async () => (await ctl.describe(C, 'crash')).deployments![0]!.rolloutState === 'COMPLETED', { what: 'crash:1 completed' });
    await ctl.ecs.send(new UpdateServiceCommand({ cluster: C, service: 'crash', taskDefinition: 'crash:2' }));
    const s = await eventually(async () => {
      const x = await ctl.describe(C, 'crash');
      return x.deployments![0]!.rolloutState === 'FAILED' && x;
    }, { what: 'deployment FAILED' });
    const [primary, old] = s.deployments!;
    assert.equal(primary!.status, 'PRIMARY');
    assert.ok(primary!.failedTasks! >= 3, `failedTasks ${primary!.failedTasks}`);
    assert.equal(primary!.rolloutStateReason, 'ECS deployment circuit breaker: tasks failed to start.');
    assert.equal(old!.runningCount, 1, 'the old task keeps running');
    // A FAILED deployment without rollback starts no more tasks.
    const count = async () => (await ctl.ecs.send(new ListTasksCommand({ cluster: C, serviceName: 'crash', desiredStatus: 'STOPPED' }))).taskArns!.length;
    const n = await count();
    const t0 = Date.now();
    await eventually(() => Date.now() - t0 > 600, { what: 'a few controller ticks' });
    assert.equal(await count(), n);
  } finally {
    await sim.stop();
  }
});
