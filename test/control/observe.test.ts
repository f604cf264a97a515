// observe + decide on ECS records, with no I/O: the decisions the controller used to take
// outside the pure core (lost instances, the circuit breaker's failure count, a dropped target
// still draining, the grace before an unchecked task counts as healthy) are now `decide`'s, and
// time is only the `now` passed in.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { observeService, type ServiceFacts } from '../../src/control/observe.js';
import { decide } from '../../src/control/reconciler.js';
import type { ReconcileAction, TargetHealth } from '../../src/control/types.js';
import type { ContainerInstanceRecord, DeploymentRecord, ServiceRecord, TaskRecord } from '../../src/domain/ecs/records.js';

const NOW = Date.UTC(2026, 5, 1);
const TG = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef';
const OPTS = { instanceLostAfterMs: 5_000, minHealthyRunningMs: 1_000 };

function deployment(id: string, extra: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return { id, status: 'PRIMARY', taskDefinition: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1', desiredCount: 2, failedTasks: 0, rolloutState: 'IN_PROGRESS', rolloutStateReason: '', createdAt: NOW - 60_000, updatedAt: NOW - 60_000, ...extra };
}

function service(extra: Partial<ServiceRecord> = {}): ServiceRecord {
  return {
    serviceName: 'web',
    serviceArn: 'arn:aws:ecs:us-east-1:000000000000:service/c/web',
    clusterName: 'c',
    clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/c',
    status: 'ACTIVE',
    taskDefinition: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
    desiredCount: 2,
    loadBalancers: [],
    serviceRegistries: [],
    deploymentConfiguration: { minimumHealthyPercent: 100, maximumPercent: 200, deploymentCircuitBreaker: { enable: true, rollback: true } },
    deploymentController: { type: 'ECS' },
    placementConstraints: [],
    placementStrategy: [],
    schedulingStrategy: 'REPLICA',
    enableECSManagedTags: false,
    propagateTags: 'NONE',
    enableExecuteCommand: false,
    tags: [],
    createdAt: NOW - 120_000,
    createdBy: 'test',
    deployments: [deployment('ecs-svc/1')],
    events: [],
    ...extra,
  };
}

let n = 0;
function task(instance: string, extra: Partial<TaskRecord> = {}): TaskRecord {
  const id = `t${++n}`;
  return {
    taskId: id,
    taskArn: `arn:aws:ecs:us-east-1:000000000000:task/c/${id}`,
    clusterName: 'c',
    clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/c',
    taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
    family: 'web',
    containerInstanceId: instance,
    launchType: 'EC2',
    lastStatus: 'RUNNING',
    desiredStatus: 'RUNNING',
    startedBy: 'ecs-svc/1',
    group: 'service:web',
    overrides: {},
    containers: [{ containerArn: `${id}/c`, name: 'web', essential: true, lastStatus: 'RUNNING', networkBindings: [{ bindIP: '0.0.0.0', containerPort: 80, hostPort: 30000 + n, protocol: 'tcp' }], hasHealthCheck: false }],
    tags: [],
    enableExecuteCommand: false,
    healthStatus: 'UNKNOWN',
    version: 1,
    needs: { cpu: 10, memory: 10, ports: [], udpPorts: [] },
    createdAt: NOW - 60_000 + n,
    startedAt: NOW - 50_000,
    ...extra,
  };
}

function instance(id: string, extra: Partial<ContainerInstanceRecord> = {}): ContainerInstanceRecord {
  return {
    id,
    containerInstanceArn: `arn:aws:ecs:us-east-1:000000000000:container-instance/c/${id}`,
    clusterName: 'c',
    status: 'ACTIVE',
    registeredResources: [{ name: 'CPU', type: 'INTEGER', integerValue: 1024 }, { name: 'MEMORY', type: 'INTEGER', integerValue: 1024 }],
    attributes: [{ name: 'ecs.availability-zone', value: 'us-east-1a' }],
    versionInfo: {},
    agentConnected: true,
    registeredAt: NOW - 3_600_000,
    version: 1,
    tags: [],
    ...extra,
  };
}

function run(svc: ServiceRecord, tasks: TaskRecord[], instances: ContainerInstanceRecord[], extra: Partial<ServiceFacts> = {}, now = NOW): ReconcileAction[] {
  const facts: ServiceFacts = { service: svc, tasks, clusterTasks: tasks, instances, targetHealth: new Map(), hasHealthCheck: new Map(), ...extra };
  const { desired, observed } = observeService(facts, OPTS);
  return decide(desired, observed, now);
}

const of = <T extends ReconcileAction['type']>(as: ReconcileAction[], type: T) => as.filter((a): a is Extract<ReconcileAction, { type: T }> => a.type === type);

describe('observe + decide on records', () => {
  it('a task whose instance has been disconnected longer than instanceLostAfterMs is marked STOPPED and replaced; a shorter disconnection is waited out', () => {
    const a = task('i-a');
    const b = task('i-b');
    const lost = run(service(), [a, b], [instance('i-a', { agentConnected: false, disconnectedAt: NOW - 6_000 }), instance('i-b')]);
    assert.deepEqual(of(lost, 'markTaskStopped').map((x) => x.taskId), [a.taskId]);
    assert.deepEqual(of(lost, 'startTasks'), [{ type: 'startTasks', deploymentId: 'ecs-svc/1', count: 1 }]);
    assert.deepEqual(of(lost, 'stopTask'), [], 'nobody is left to ask');

    const blip = run(service(), [a, b], [instance('i-a', { agentConnected: false, disconnectedAt: NOW - 2_000 }), instance('i-b')]);
    assert.deepEqual([of(blip, 'markTaskStopped'), of(blip, 'startTasks')], [[], []]);
    // A deregistered instance is lost at once.
    const gone = run(service(), [a, b], [instance('i-a', { status: 'INACTIVE' }), instance('i-b')]);
    assert.deepEqual(of(gone, 'markTaskStopped').map((x) => x.taskId), [a.taskId]);
  });

  it('counts the tasks of a deployment that failed to start and trips the circuit breaker with a rollback to the last completed deployment', () => {
    const good = deployment('ecs-svc/1', { status: 'ACTIVE', rolloutState: 'COMPLETED' });
    const bad = deployment('ecs-svc/2', { taskDefinition: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:2', createdAt: NOW - 10_000 });
    const svc = service({ deployments: [bad, good] });
    const running = [task('i-a'), task('i-a')];
    const failed = (k: number) => Array.from({ length: k }, () => task('i-a', { startedBy: 'ecs-svc/2', lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'TaskFailedToStart', startedAt: undefined }));
    const two = run(svc, [...running, ...failed(2)], [instance('i-a')]);
    assert.deepEqual(of(two, 'setFailedTasks'), [{ type: 'setFailedTasks', deploymentId: 'ecs-svc/2', failedTasks: 2 }]);
    assert.deepEqual(of(two, 'markDeploymentFailed'), [], 'below the threshold of 3');
    const three = run(svc, [...running, ...failed(3)], [instance('i-a')]);
    assert.deepEqual(of(three, 'markDeploymentFailed').map((x) => x.deploymentId), ['ecs-svc/2']);
    assert.deepEqual(of(three, 'rollback'), [{ type: 'rollback', fromDeploymentId: 'ecs-svc/2', toDeploymentId: 'ecs-svc/1' }]);
    // A rollback deployment that fails too is not rolled back again.
    const rollback = deployment('ecs-svc/2', { rollbackOf: 'ecs-svc/1' });
    const again = run(service({ deployments: [rollback, good] }), [...running, ...failed(3)], [instance('i-a')]);
    assert.deepEqual([of(again, 'markDeploymentFailed').length, of(again, 'rollback').length], [1, 0]);
  });

  it('keeps a deregistered task for the whole deregistration delay even when the load balancer dropped its target early', () => {
    const svc = service({ desiredCount: 1, deployments: [deployment('ecs-svc/1', { desiredCount: 1 })], loadBalancers: [{ targetGroupArn: TG, containerName: 'web', containerPort: 80 }] });
    const keep = task('i-a');
    const leaving = task('i-a', { drainStartedAt: NOW - 10_000, createdAt: NOW - 90_000 });
    const health = new Map<string, TargetHealth[]>([[keep.taskId, ['healthy']], [leaving.taskId, ['none']]]);
    const early = run(svc, [keep, leaving], [instance('i-a')], { targetHealth: health, deregistrationDelaySeconds: 30 });
    assert.deepEqual(of(early, 'stopTask'), [], 'still draining: 10 s of 30');
    const late = run(svc, [keep, leaving], [instance('i-a')], { targetHealth: health, deregistrationDelaySeconds: 30 }, NOW + 21_000);
    assert.deepEqual(of(late, 'stopTask').map((x) => x.taskId), [leaving.taskId]);
  });

  it('without a load balancer or health checks a task counts as healthy only after minHealthyRunningMs', () => {
    const svc = service({ desiredCount: 1, deployments: [deployment('ecs-svc/1', { desiredCount: 1 })] });
    const t = task('i-a', { startedAt: NOW - 500 });
    assert.deepEqual(of(run(svc, [t], [instance('i-a')]), 'markDeploymentCompleted'), []);
    assert.deepEqual(of(run(svc, [t], [instance('i-a')], {}, NOW + 600), 'markDeploymentCompleted'), [{ type: 'markDeploymentCompleted', deploymentId: 'ecs-svc/1' }]);
  });
});
