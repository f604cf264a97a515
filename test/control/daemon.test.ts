// decide() for DAEMON services (one task per instance) and the placement helpers for
// requiresAttributes and daemon instance eligibility.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../src/control/reconciler.js';
import { daemonInstances, missingAttribute, place } from '../../src/domain/placement/placement.js';
import { placeTask } from '../../src/domain/ecs/launch.js';
import type { ContainerInstanceView } from '../../src/domain/placement/types.js';
import type { DaemonInstance, DeploymentView, InstanceFacts, ObservedTask, ReconcileAction, ServiceDesired } from '../../src/control/types.js';

const NOW = 1_000_000;

function dep(id: string, status: DeploymentView['status'], rolloutState: DeploymentView['rolloutState'] = 'IN_PROGRESS', createdAt = 0): DeploymentView {
  return { id, status, taskDefinition: `agent:${id}`, rolloutState, createdAt, failedTasks: 0 };
}

function svc(deployments: DeploymentView[], extra: Partial<ServiceDesired> = {}): ServiceDesired {
  return { serviceName: 'agent', status: 'ACTIVE', desiredCount: 0, deployments, schedulingStrategy: 'DAEMON', minimumHealthyPercent: 0, maximumPercent: 100, ...extra };
}

let n = 0;
function task(deploymentId: string, instance: string, extra: Partial<ObservedTask> = {}): ObservedTask {
  n++;
  return { taskId: `t${n}`, deploymentId, containerInstanceId: instance, lastStatus: 'RUNNING', desiredStatus: 'RUNNING', startedAt: NOW - 60_000, createdAt: n, ...extra };
}

const inst = (id: string, extra: Partial<DaemonInstance> = {}): DaemonInstance => ({ id, agentConnected: true, ...extra });
const facts = (extra: Partial<InstanceFacts> = {}): InstanceFacts => ({ status: 'ACTIVE', agentConnected: true, attributes: {}, remainingCpu: 1024, remainingMemory: 1024, ...extra });
const of = <T extends ReconcileAction['type']>(as: ReconcileAction[], type: T) => as.filter((a): a is Extract<ReconcileAction, { type: T }> => a.type === type);

describe('decide: DAEMON services', () => {
  it('starts one task on each daemon instance and reports desiredCount = number of instances', () => {
    const a = decide(svc([dep('d1', 'PRIMARY')]), { tasks: [], daemonInstances: [inst('i1'), inst('i2'), inst('i3')] }, NOW);
    assert.deepEqual(of(a, 'setDesiredCount'), [{ type: 'setDesiredCount', desiredCount: 3 }]);
    assert.deepEqual(of(a, 'startTasks'), [{ type: 'startTasks', deploymentId: 'd1', count: 3, containerInstanceIds: ['i1', 'i2', 'i3'] }]);
  });

  it('an instance that joins gets its task; the others are left alone; steady only when every instance runs one', () => {
    const d = dep('d1', 'PRIMARY', 'COMPLETED');
    const tasks = [task('d1', 'i1'), task('d1', 'i2')];
    const steady = decide(svc([d], { desiredCount: 2 }), { tasks, daemonInstances: [inst('i1'), inst('i2')] }, NOW);
    assert.ok(of(steady, 'setSteadyState').length === 1 && of(steady, 'startTasks').length === 0 && of(steady, 'stopTask').length === 0);
    const a = decide(svc([d], { desiredCount: 2, steady: true }), { tasks, daemonInstances: [inst('i1'), inst('i2'), inst('i3')] }, NOW);
    assert.deepEqual(of(a, 'startTasks'), [{ type: 'startTasks', deploymentId: 'd1', count: 1, containerInstanceIds: ['i3'] }]);
    assert.deepEqual(of(a, 'setDesiredCount'), [{ type: 'setDesiredCount', desiredCount: 3 }]);
    assert.deepEqual(of(a, 'stopTask'), []);
    assert.deepEqual(of(a, 'setSteadyState'), [{ type: 'setSteadyState', steady: false }]);
  });

  it('a DRAINING instance: the task stays while replica tasks remain (draining entry), then is stopped; nothing starts there', () => {
    const d = dep('d1', 'PRIMARY', 'COMPLETED');
    const t1 = task('d1', 'i1');
    const t2 = task('d1', 'i2');
    const instances = { i1: facts({ status: 'DRAINING' }), i2: facts() };
    const held = decide(svc([d], { desiredCount: 2 }), { tasks: [t1, t2], instances, daemonInstances: [inst('i1', { draining: true }), inst('i2')] }, NOW);
    assert.deepEqual(of(held, 'stopTask'), [], 'kept while other tasks are on the instance');
    assert.deepEqual(of(held, 'startTasks'), []);
    assert.deepEqual(of(held, 'setDesiredCount'), [{ type: 'setDesiredCount', desiredCount: 1 }], 'a draining instance is not counted');
    const gone = decide(svc([d], { desiredCount: 1 }), { tasks: [t1, t2], instances, daemonInstances: [inst('i2')] }, NOW);
    assert.deepEqual(of(gone, 'stopTask').map((x) => x.taskId), [t1.taskId]);
    assert.deepEqual(of(gone, 'startTasks'), []);
  });

  it('a lost instance: its task is stopped and no duplicate is started (on it or elsewhere)', () => {
    const d = dep('d1', 'PRIMARY', 'COMPLETED');
    const t1 = task('d1', 'i1');
    const t2 = task('d1', 'i2');
    // The controller leaves a lost instance out of daemonInstances; the task there is marked STOPPED.
    const lost = { i1: facts({ agentConnected: false, disconnectedAt: NOW - 60_000 }), i2: facts() };
    const a = decide(svc([d], { desiredCount: 2 }), { tasks: [t1, t2], instances: lost, daemonInstances: [inst('i2')] }, NOW);
    assert.deepEqual(of(a, 'markTaskStopped').map((x) => x.taskId), [t1.taskId]);
    assert.deepEqual(of(a, 'stopTask'), []);
    assert.deepEqual(of(a, 'startTasks'), []);
    // Disconnected but not yet lost: the task there is kept; nothing new is started on it.
    const b = decide(svc([d], { desiredCount: 2 }), { tasks: [t2], daemonInstances: [inst('i1', { agentConnected: false }), inst('i2')] }, NOW);
    assert.deepEqual(of(b, 'startTasks'), []);
  });

  it('a task stopped on an instance is replaced there once it is STOPPED (not while it is stopping)', () => {
    const d = dep('d1', 'PRIMARY', 'COMPLETED');
    const stopping = task('d1', 'i1', { desiredStatus: 'STOPPED' });
    const a = decide(svc([d], { desiredCount: 1 }), { tasks: [stopping], daemonInstances: [inst('i1')] }, NOW);
    assert.deepEqual(of(a, 'startTasks'), []);
    const b = decide(svc([d], { desiredCount: 1 }), { tasks: [{ ...stopping, lastStatus: 'STOPPED' }], daemonInstances: [inst('i1')] }, NOW);
    assert.deepEqual(of(b, 'startTasks'), [{ type: 'startTasks', deploymentId: 'd1', count: 1, containerInstanceIds: ['i1'] }]);
  });

  it('an unhealthy task is stopped and replaced on its instance only after it is STOPPED', () => {
    const d = { ...dep('d1', 'PRIMARY', 'COMPLETED'), hasHealthCheck: true };
    const sick = task('d1', 'i1', { healthStatus: 'UNHEALTHY' });
    const a = decide(svc([d], { desiredCount: 1 }), { tasks: [sick], daemonInstances: [inst('i1')] }, NOW);
    assert.deepEqual(of(a, 'stopTask').map((x) => x.taskId), [sick.taskId]);
    assert.deepEqual(of(a, 'startTasks'), [], 'never two tasks on the instance');
  });

  it('a duplicate on one instance is stopped (the newest goes)', () => {
    const d = dep('d1', 'PRIMARY', 'COMPLETED');
    const older = task('d1', 'i1');
    const newer = task('d1', 'i1');
    const a = decide(svc([d], { desiredCount: 1 }), { tasks: [older, newer], daemonInstances: [inst('i1')] }, NOW);
    assert.deepEqual(of(a, 'stopTask').map((x) => x.taskId), [newer.taskId]);
  });

  it('a task on an instance that no longer meets the constraints is stopped', () => {
    const d = dep('d1', 'PRIMARY', 'COMPLETED');
    const t1 = task('d1', 'i1');
    const a = decide(svc([d], { desiredCount: 1 }), { tasks: [t1], daemonInstances: [] }, NOW);
    assert.deepEqual(of(a, 'stopTask').map((x) => x.taskId), [t1.taskId]);
    assert.deepEqual(of(a, 'setDesiredCount'), [{ type: 'setDesiredCount', desiredCount: 0 }]);
  });

  it('rolling update with maximumPercent 100: per instance, stop the old task, then start the new one; completes', () => {
    // Drive decide() in a loop, applying the actions as the controller does (agents stop at once,
    // started tasks run at once and are healthy after the grace period).
    const deployments = [dep('d2', 'PRIMARY', 'IN_PROGRESS', 2), dep('d1', 'ACTIVE', 'COMPLETED', 1)];
    const insts = [inst('i1'), inst('i2'), inst('i3')];
    let tasks: ObservedTask[] = insts.map((i) => task('d1', i.id));
    let now = NOW;
    let completed = false;
    for (let round = 0; round < 20 && !completed; round++) {
      const desired = svc(deployments, { desiredCount: 3 });
      const a = decide(desired, { tasks, daemonInstances: insts }, now);
      for (const x of a) {
        if (x.type === 'stopTask') tasks = tasks.map((t) => (t.taskId === x.taskId ? { ...t, desiredStatus: 'STOPPED' } : t));
        if (x.type === 'startTasks') for (const id of x.containerInstanceIds!) tasks.push(task(x.deploymentId, id, { startedAt: now }));
        if (x.type === 'markDeploymentCompleted') completed = true;
      }
      // Never more than one live task per instance (maximumPercent 100).
      for (const i of insts) assert.ok(tasks.filter((t) => t.containerInstanceId === i.id && t.lastStatus !== 'STOPPED').length <= 1, `round ${round}: one task on ${i.id}`);
      tasks = tasks.map((t) => (t.desiredStatus === 'STOPPED' ? { ...t, lastStatus: 'STOPPED' } : t));
      now += 2_000;
    }
    assert.ok(completed, 'the deployment completed');
    const live = tasks.filter((t) => t.lastStatus !== 'STOPPED');
    assert.deepEqual(live.map((t) => t.deploymentId), ['d2', 'd2', 'd2']);
    assert.deepEqual(live.map((t) => t.containerInstanceId).sort(), ['i1', 'i2', 'i3']);
  });

  it('minimumHealthyPercent bounds how many instances are updated at once', () => {
    const deployments = [dep('d2', 'PRIMARY', 'IN_PROGRESS', 2), dep('d1', 'ACTIVE', 'COMPLETED', 1)];
    const insts = [inst('i1'), inst('i2'), inst('i3'), inst('i4')];
    const tasks = insts.map((i) => task('d1', i.id));
    const a = decide(svc(deployments, { desiredCount: 4, minimumHealthyPercent: 50 }), { tasks, daemonInstances: insts }, NOW);
    assert.equal(of(a, 'stopTask').length, 2, 'ceil(4 * 50%) = 2 must stay healthy');
    assert.deepEqual(of(a, 'startTasks'), []);
  });

  it('DeleteService (DRAINING): every task is stopped, nothing is started', () => {
    const t1 = task('d1', 'i1');
    const a = decide(svc([dep('d1', 'PRIMARY', 'COMPLETED')], { status: 'DRAINING' }), { tasks: [t1], daemonInstances: [inst('i1')] }, NOW);
    assert.deepEqual(of(a, 'stopTask').map((x) => x.taskId), [t1.taskId]);
    assert.deepEqual(of(a, 'startTasks'), []);
  });
});

function ci(id: string, attributes: Record<string, string | null>, extra: Partial<ContainerInstanceView> = {}): ContainerInstanceView {
  return {
    id,
    arn: `arn:aws:ecs:us-east-1:000000000000:container-instance/c/${id}`,
    status: 'ACTIVE',
    agentConnected: true,
    attributes,
    registeredCpu: 1024,
    registeredMemory: 1024,
    remainingCpu: 1024,
    remainingMemory: 1024,
    usedPorts: [],
    ...extra,
  };
}

describe('requiresAttributes', () => {
  const required = [{ name: 'ecs.capability.gpu' }, { name: 'stage', value: 'prod' }, { name: 'ignored', targetType: 'task' }];

  it('missingAttribute: name must exist; value must match when given; other target types ignored', () => {
    assert.equal(missingAttribute({ 'ecs.capability.gpu': null, stage: 'prod' }, required), undefined);
    assert.deepEqual(missingAttribute({ stage: 'prod' }, required), { name: 'ecs.capability.gpu' });
    assert.deepEqual(missingAttribute({ 'ecs.capability.gpu': null, stage: 'dev' }, required), { name: 'stage', value: 'prod' });
    assert.equal(missingAttribute({}, []), undefined);
    assert.equal(missingAttribute({ x: 'y' }, [{ name: 'x', targetType: 'container-instance' }]), undefined);
  });

  it('place() only chooses instances with every required attribute; otherwise ATTRIBUTE per instance', () => {
    const insts = [ci('a', { stage: 'prod' }), ci('b', { 'ecs.capability.gpu': null, stage: 'prod' }), ci('c', { 'ecs.capability.gpu': null, stage: 'dev' })];
    const ok = place({ count: 3, task: { cpu: 10, memory: 10, requiredAttributes: required }, instances: insts });
    assert.deepEqual(ok.placements.map((p) => p.containerInstanceId), ['b', 'b', 'b']);
    const none = place({ count: 1, task: { cpu: 10, memory: 10, requiredAttributes: required, serviceName: 'svc' }, instances: [insts[0]!, insts[2]!] });
    assert.equal(none.unplaced, 1);
    assert.deepEqual(none.failures, [
      { arn: insts[0]!.arn, reason: 'ATTRIBUTE' },
      { arn: insts[2]!.arn, reason: 'ATTRIBUTE' },
    ]);
    assert.match(none.message!, /\(service svc\) was unable to place a task .* is missing an attribute required by your task/);
  });

  it('placeTask (the RunTask placement) with requiredAttributes: RunTask failures are {arn, reason ATTRIBUTE}, for ACTIVE instances only', () => {
    const insts = [ci('a', { stage: 'dev' }), ci('b', {})].map((c) => ({ ...c, taskGroups: [] }));
    const draining = { ...ci('d', {}, { status: 'DRAINING' }), taskGroups: [] };
    const base = { cpu: 10, memory: 10, ports: [], udpPorts: [], group: 'family:x', constraints: [], strategy: [] };
    const r = placeTask([...insts, draining], { ...base, requiredAttributes: [{ name: 'stage', value: 'prod' }] });
    assert.deepEqual(r, { ok: false, failures: insts.map((i) => ({ arn: i.arn, reason: 'ATTRIBUTE' })) }, 'only ACTIVE instances are reported');
    const ok = placeTask(insts, { ...base, requiredAttributes: [{ name: 'stage' }] });
    assert.ok(ok.ok && ok.candidate.id === 'a');
  });

});

describe('daemonInstances', () => {
  it('ACTIVE, not lost, memberOf and required attributes; DRAINING kept only while other tasks remain', () => {
    const insts = [
      ci('a', { role: 'web' }),
      ci('b', { role: 'db' }),
      ci('c', { role: 'web' }, { status: 'DRAINING' }),
      ci('d', { role: 'web' }, { status: 'DRAINING' }),
      ci('e', { role: 'web' }, { agentConnected: false }),
      ci('f', { role: 'web' }),
      ci('g', {}, { status: 'INACTIVE' }),
    ];
    const r = daemonInstances(insts, {
      constraints: [{ type: 'memberOf', expression: 'attribute:role == web' }, { type: 'distinctInstance' }],
      isLost: (id) => id === 'f',
      keepOnDraining: (id) => id === 'c',
    });
    assert.deepEqual(r, [
      { id: 'a', agentConnected: true },
      { id: 'c', agentConnected: true, draining: true },
      { id: 'e', agentConnected: false },
    ]);
    const withAttr = daemonInstances([ci('a', { gpu: '1' }), ci('b', {})], { requiredAttributes: [{ name: 'gpu', value: '1' }] });
    assert.deepEqual(withAttr.map((i) => i.id), ['a']);
  });
});
