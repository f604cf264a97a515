/**
 * Observe: the ECS records of one service, as the controller read them, mapped onto the
 * reconciler's plain shapes (./types.ts). Pure: no I/O, no clock; everything it needs is in
 * `ServiceFacts`, so `observeService` + `decide` can be tested on records alone.
 */
import type { ContainerInstanceRecord, ServiceRecord, TaskRecord } from '../domain/ecs/records.js';
import { attributeMap, remainingOf } from '../domain/ecs/instances.js';
import { DEFAULT_SERVICE_STRATEGY } from '../domain/placement/placement.js';
import type { TargetRef } from './targets.js';
import type { DaemonInstance, DeploymentView, InstanceFacts, ObservedTask, ServiceDesired, ServiceObserved, TargetHealth } from './types.js';

/** What the controller read for one service. */
export interface ServiceFacts {
  service: ServiceRecord;
  /** Every task of the service (group `service:<name>`), live and stopped. */
  tasks: readonly TaskRecord[];
  /** The live tasks of the whole cluster (what each instance has left). */
  clusterTasks: readonly TaskRecord[];
  /** Every container instance of the cluster. */
  instances: readonly ContainerInstanceRecord[];
  /** For each live task of a service with load balancers, its target's health in each target group. */
  targetHealth: ReadonlyMap<string, readonly TargetHealth[]>;
  /** The largest deregistration delay of the service's target groups (seconds). */
  deregistrationDelaySeconds?: number;
  /** Whether each deployment's task definition gives an essential container a health check. */
  hasHealthCheck: ReadonlyMap<string, boolean>;
  /** DAEMON services: the instances that must each run one task. */
  daemonInstances?: readonly DaemonInstance[];
}

/** Timings of the controller that are part of the decision. */
export interface ObserveOptions {
  instanceLostAfterMs: number;
  minHealthyRunningMs: number;
}

/** The target (address, host port) of a task for one load balancer entry of its service. */
export function targetOf(task: TaskRecord, lb: { containerName?: string; containerPort?: number }, instance: ContainerInstanceRecord | undefined, fallback: string): TargetRef | undefined {
  const c = task.containers.find((x) => x.name === lb.containerName);
  const b = c?.networkBindings.find((x) => x.containerPort === lb.containerPort && (x.protocol ?? 'tcp') === 'tcp' && x.hostPort);
  if (!b?.hostPort) return undefined;
  const addr = b.bindIP && b.bindIP !== '0.0.0.0' && b.bindIP !== '::' ? b.bindIP : instance?.attributes.find((a) => a.name === 'berth.address')?.value ?? fallback;
  return { id: addr, port: b.hostPort };
}

/** A task behind several target groups is as healthy as its least healthy target. */
export function combineHealth(states: readonly TargetHealth[]): TargetHealth {
  if (states.length === 0) return 'none';
  for (const s of ['none', 'draining', 'unhealthy', 'initial', 'unused'] as const) if (states.includes(s)) return s;
  return 'healthy';
}

/** The service as desired and its tasks as observed. */
export function observeService(f: ServiceFacts, opts: ObserveOptions): { desired: ServiceDesired; observed: ServiceObserved } {
  const svc = f.service;
  const tgs = svc.loadBalancers.filter((lb) => lb.targetGroupArn);
  const dc = svc.deploymentConfiguration;
  const desired: ServiceDesired = {
    serviceName: svc.serviceName,
    status: svc.status,
    desiredCount: svc.desiredCount,
    deployments: svc.deployments.map(
      (d): DeploymentView => ({
        id: d.id,
        status: d.status,
        taskDefinition: d.taskDefinition,
        hasHealthCheck: f.hasHealthCheck.get(d.taskDefinition) ?? false,
        rolloutState: d.rolloutState as DeploymentView['rolloutState'],
        rollbackOf: d.rollbackOf,
        createdAt: d.createdAt,
        failedTasks: d.failedTasks,
        runningCount: d.recordedRunningCount,
        pendingCount: d.recordedPendingCount,
      }),
    ),
    minimumHealthyPercent: dc.minimumHealthyPercent,
    maximumPercent: dc.maximumPercent,
    circuitBreaker: dc.deploymentCircuitBreaker ? { enable: dc.deploymentCircuitBreaker.enable, rollback: dc.deploymentCircuitBreaker.rollback } : undefined,
    healthCheckGracePeriodSeconds: svc.healthCheckGracePeriodSeconds,
    minHealthyRunningMs: opts.minHealthyRunningMs,
    instanceLostAfterMs: opts.instanceLostAfterMs,
    targetGroupArns: tgs.map((lb) => lb.targetGroupArn!),
    steady: svc.steady,
    placementStrategy: svc.placementStrategy.length ? svc.placementStrategy : DEFAULT_SERVICE_STRATEGY,
    schedulingStrategy: svc.schedulingStrategy,
  };
  const tasks: ObservedTask[] = f.tasks.map((t) => ({
    taskId: t.taskId,
    deploymentId: t.startedBy ?? '',
    lastStatus: t.lastStatus,
    desiredStatus: t.desiredStatus,
    healthStatus: t.healthStatus,
    startedAt: t.startedAt,
    createdAt: t.createdAt,
    containerInstanceId: t.containerInstanceId,
    targetHealth: tgs.length && t.lastStatus !== 'STOPPED' ? combineHealth(f.targetHealth.get(t.taskId) ?? []) : undefined,
    drainStartedAt: t.drainStartedAt,
    stopCode: t.stopCode,
    stoppedReason: t.stoppedReason,
  }));
  const liveOn = new Map<string, TaskRecord[]>();
  for (const t of f.clusterTasks) {
    if (t.lastStatus === 'STOPPED' || !t.containerInstanceId) continue;
    const a = liveOn.get(t.containerInstanceId) ?? [];
    a.push(t);
    liveOn.set(t.containerInstanceId, a);
  }
  const instances: Record<string, InstanceFacts> = {};
  for (const ci of f.instances) {
    const rem = remainingOf(ci, liveOn.get(ci.id) ?? []);
    instances[ci.id] = {
      status: ci.status,
      agentConnected: ci.agentConnected,
      disconnectedAt: ci.disconnectedAt,
      attributes: attributeMap(ci),
      remainingCpu: rem.cpu,
      remainingMemory: rem.memory,
    };
  }
  return {
    desired,
    observed: { tasks, deregistrationDelaySeconds: f.deregistrationDelaySeconds, instances, daemonInstances: f.daemonInstances },
  };
}
