// DAEMON services end to end over the real API (aws CLI + @aws-sdk/client-ecs) with simulated
// agents: one task per instance, a joining instance gets its task, a DRAINING instance's task is
// stopped, a rolling update replaces per instance (never two on one instance), a lost instance
// gets no duplicate, DeleteService stops everything. Plus requiresAttributes for a REPLICA
// service: placement waits for an instance with the required attribute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateClusterCommand,
  RegisterTaskDefinitionCommand,
  RegisterContainerInstanceCommand,
  CreateServiceCommand,
  UpdateContainerInstancesStateCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { awsOk, eventually } from '../helpers/fixture.js';
import { useControlledBerth } from './fixture.js';
import { KIND, clusterScopedKey } from '../../src/domain/ecs/keys.js';
import type { TaskRecord } from '../../src/domain/ecs/records.js';
import { AgentSimulator } from './simulator.js';

const ctl = useControlledBerth({ intervalMs: 100, placementRetryMs: 200, instanceLostAfterMs: 300, minHealthyRunningMs: 200 });

/** The service's live tasks straight from the records (what every agent would be told). */
async function liveTasks(cluster: string, name: string): Promise<TaskRecord[]> {
  const all = await ctl.berth.platform.store.list<TaskRecord>(KIND.task, { prefix: `us-east-1/${cluster}/` });
  return all.map((r) => r.value).filter((t) => t.group === `service:${name}` && t.lastStatus !== 'STOPPED');
}

/** Fails the test if an instance ever has two live tasks of the service. */
function watchOnePerInstance(cluster: string, name: string): { stop: () => Promise<string[]> } {
  const bad: string[] = [];
  let on = true;
  const loop = (async () => {
    while (on) {
      const per = new Map<string, number>();
      for (const t of await liveTasks(cluster, name)) per.set(t.containerInstanceId!, (per.get(t.containerInstanceId!) ?? 0) + 1);
      for (const [i, k] of per) if (k > 1) bad.push(`${k} tasks on ${i}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      on = false;
      await loop;
      return bad;
    },
  };
}

test('DAEMON: one task per instance through join, drain, rolling update, lost instance and delete', async () => {
  const C = 'daemons';
  await ctl.ecs.send(new CreateClusterCommand({ clusterName: C }));
  const sim = new AgentSimulator(ctl.berth, ctl.ecs, { cluster: C, agentTimeoutMs: 300 });
  try {
    const [i1, i2] = [await sim.addInstance({ az: 'us-east-1b' }), await sim.addInstance()];
    await ctl.ecs.send(new RegisterTaskDefinitionCommand({ family: 'logd', containerDefinitions: [{ name: 'logd', image: 'busybox', cpu: 64, memory: 64 }] }));
    await awsOk(ctl.berth.awsEnv, ['ecs', 'create-service', '--cluster', C, '--service-name', 'logd', '--task-definition', 'logd', '--scheduling-strategy', 'DAEMON']);
    const watch = watchOnePerInstance(C, 'logd');

    const on = async () => (await liveTasks(C, 'logd')).filter((t) => t.lastStatus === 'RUNNING').map((t) => t.containerInstanceId!).sort();
    await eventually(async () => {
      const s = await ctl.describe(C, 'logd');
      return s.desiredCount === 2 && s.runningCount === 2 && s.events!.some((e) => e.message === '(service logd) has reached a steady state.') && s;
    }, { what: 'daemon on both instances, steady' });
    assert.deepEqual(await on(), [i1, i2].sort());
    const svc = await ctl.describe(C, 'logd');
    assert.equal(svc.schedulingStrategy, 'DAEMON');
    assert.equal(svc.deployments![0]!.desiredCount, 2);
    assert.deepEqual([svc.deploymentConfiguration!.maximumPercent, svc.deploymentConfiguration!.minimumHealthyPercent], [100, 0]);
    assert.ok(svc.events!.some((e) => /^\(service logd\) has started 2 tasks: (\(task [0-9a-f]{32}\) ?){2}\.$/.test(e.message!)), 'started event');
    // Idempotent once steady: more rounds write nothing.
    const svcKey = clusterScopedKey('us-east-1', C, 'logd');
    const rev0 = (await ctl.berth.platform.store.get(KIND.service, svcKey))!.rev;
    const controller = ctl.berth.controller;
    const n0 = controller.reconciles;
    await eventually(() => controller.reconciles >= n0 + 5, { what: '5 more reconciles' });
    assert.equal((await ctl.berth.platform.store.get(KIND.service, svcKey))!.rev, rev0, 'a steady daemon service is not rewritten');

    // An instance joins: it gets its task.
    const i3 = await sim.addInstance();
    await eventually(async () => (await ctl.describe(C, 'logd')).desiredCount === 3 && (await on()).join() === [i1, i2, i3].sort().join(), { what: 'daemon task on the new instance' });

    // A replica service whose task can only run on instance 1 (the only one in us-east-1b).
    await ctl.ecs.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'web', image: 'nginx', cpu: 64, memory: 64 }] }));
    await ctl.ecs.send(
      new CreateServiceCommand({
        cluster: C,
        serviceName: 'web',
        taskDefinition: 'web',
        desiredCount: 1,
        placementConstraints: [{ type: 'memberOf', expression: 'attribute:ecs.availability-zone == us-east-1b' }],
        deploymentConfiguration: { minimumHealthyPercent: 0, maximumPercent: 100 },
      }),
    );
    await eventually(async () => (await ctl.describe(C, 'web')).runningCount === 1, { what: 'replica task on instance 1' });
    const webTask = (await liveTasks(C, 'web'))[0]!;
    assert.equal(webTask.containerInstanceId, i1);
    const daemonOn1 = (await liveTasks(C, 'logd')).find((t) => t.containerInstanceId === i1)!;

    // Instance 1 drains: the replica task is stopped first, then the daemon task (ECS stops
    // daemon tasks last); none replaces the daemon task elsewhere.
    await ctl.ecs.send(new UpdateContainerInstancesStateCommand({ cluster: C, containerInstances: [i1], status: 'DRAINING' }));
    await eventually(async () => (await ctl.describe(C, 'logd')).desiredCount === 2 && (await liveTasks(C, 'logd')).map((t) => t.containerInstanceId).sort().join() === [i2, i3].sort().join(), { what: 'daemon task stopped on the draining instance' });
    const tasksNow = new Map((await ctl.berth.platform.store.list<TaskRecord>(KIND.task, { prefix: `us-east-1/${C}/` })).map((r) => [r.value.taskId, r.value]));
    const web = tasksNow.get(webTask.taskId)!;
    const daemonStopped = tasksNow.get(daemonOn1.taskId)!;
    assert.equal(web.lastStatus, 'STOPPED');
    assert.ok(daemonStopped.stoppingAt! >= web.stoppedAt!, `daemon task asked to stop (${daemonStopped.stoppingAt}) after the replica task stopped (${web.stoppedAt})`);

    // Rolling update to a new revision: per instance, old stopped, then new started.
    const td2 = (await ctl.ecs.send(new RegisterTaskDefinitionCommand({ family: 'logd', containerDefinitions: [{ name: 'logd', image: 'busybox:2', cpu: 64, memory: 64 }] }))).taskDefinition!.taskDefinitionArn!;
    await ctl.ecs.send(new UpdateServiceCommand({ cluster: C, service: 'logd', taskDefinition: 'logd:2' }));
    await eventually(async () => {
      const s = await ctl.describe(C, 'logd');
      const live = await liveTasks(C, 'logd');
      return s.deployments!.length === 1 && s.deployments![0]!.rolloutState === 'COMPLETED' && s.runningCount === 2 && live.every((t) => t.taskDefinitionArn === td2) && live.length === 2;
    }, { what: 'rolling update of the daemon completed' });
    assert.deepEqual(await on(), [i2, i3].sort());

    // Instance 2 is lost: its task is stopped and not started anywhere else.
    sim.kill(i2);
    await eventually(async () => (await ctl.describe(C, 'logd')).desiredCount === 1 && (await liveTasks(C, 'logd')).map((t) => t.containerInstanceId).join() === i3, { what: 'lost instance task gone, no duplicate' });
    assert.equal((await liveTasks(C, 'logd')).length, 1);

    assert.deepEqual(await watch.stop(), [], 'never two tasks of the daemon on one instance');

    // DeleteService stops its tasks; the service becomes INACTIVE.
    await awsOk(ctl.berth.awsEnv, ['ecs', 'delete-service', '--cluster', C, '--service', 'logd']);
    await eventually(async () => (await ctl.describe(C, 'logd')).status === 'INACTIVE', { what: 'daemon service INACTIVE' });
    assert.equal((await liveTasks(C, 'logd')).length, 0);
  } finally {
    await sim.stop();
  }
});

test('requiresAttributes: a service task waits for an instance with the required attribute', async () => {
  const C = 'attrs';
  await ctl.ecs.send(new CreateClusterCommand({ clusterName: C }));
  const sim = new AgentSimulator(ctl.berth, ctl.ecs, { cluster: C });
  try {
    await sim.addInstance();
    // The syslog log driver makes the task definition require the matching capability attribute,
    // which Berth's instances do not report by default.
    const td = (
      await ctl.ecs.send(new RegisterTaskDefinitionCommand({ family: 'sys', containerDefinitions: [{ name: 'sys', image: 'busybox', cpu: 32, memory: 32, logConfiguration: { logDriver: 'syslog' } }] }))
    ).taskDefinition!;
    const capability = 'com.amazonaws.ecs.capability.logging-driver.syslog';
    assert.ok(td.requiresAttributes!.some((a) => a.name === capability));
    await ctl.ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'sys', taskDefinition: 'sys', desiredCount: 1 }));
    await eventually(async () => (await ctl.describe(C, 'sys')).events!.some((e) => /^\(service sys\) was unable to place a task because no container instance met all of its requirements\. The closest matching \(container-instance [0-9a-f]{32}\) is missing an attribute required by your task\./.test(e.message!)), { what: 'missing attribute event' });
    assert.equal((await liveTasks(C, 'sys')).length, 0);

    const r = await ctl.ecs.send(
      new RegisterContainerInstanceCommand({
        cluster: C,
        totalResources: [
          { name: 'CPU', type: 'INTEGER', integerValue: 1024 },
          { name: 'MEMORY', type: 'INTEGER', integerValue: 1024 },
        ],
        attributes: [{ name: capability }],
      }),
    );
    const withAttr = r.containerInstance!.containerInstanceArn!.split('/').pop()!;
    sim.alive.set(withAttr, true);
    await eventually(async () => (await ctl.describe(C, 'sys')).runningCount === 1, { what: 'task placed on the instance with the attribute' });
    assert.deepEqual((await liveTasks(C, 'sys')).map((t) => t.containerInstanceId), [withAttr]);
  } finally {
    await sim.stop();
  }
});
