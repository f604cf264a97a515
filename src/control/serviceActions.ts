/**
 * How the service controller (./serviceController.ts) applies the reconciler's actions for one
 * service: `ServiceActionApplier` carries out one round's actions through the ECS domain's
 * transitions and the target registry, `reconcileTaskSets` runs the decide-and-apply round per
 * task set of an EXTERNAL or CODE_DEPLOY service, and `placementMessage` words why a task fits
 * nowhere.
 *
 * Invariant: every action is idempotent given the next observation; starting tasks (the one
 * that is not by itself) first checks the decision was taken on the service's current tasks.
 */
import { ServiceError } from '../errors.js';
import type { Scope } from '../domain/platform.js';
import { candidatesFor } from '../domain/ecs/instances.js';
import type { ContainerInstanceRecord, ServiceRecord, TaskRecord } from '../domain/ecs/records.js';
import {
  appendServiceEvent,
  completeDeployment,
  failDeployment,
  finishDraining,
  launchDaemonTasks,
  launchServiceTasks,
  type ImageResolver,
  recordDeploymentCounts,
  rollbackDeployment,
  servicePlacementConstraints,
  servicePlacementTask,
  setDaemonDesiredCount,
  setDeploymentFailedTasks,
  setServiceSteady,
  taskSetAsDeployment,
} from '../domain/ecs/services.js';
import { findTaskDefinition } from '../domain/ecs/taskDefinitions.js';
import { computedDesiredCount, removeDrainedTaskSet, setTaskSetStability } from '../domain/ecs/taskSets.js';
import { markTaskStopped, mutateTask, requestTaskStop } from '../domain/ecs/tasks.js';
import { DEFAULT_SERVICE_STRATEGY, place, unableToPlaceMessage } from '../domain/placement/placement.js';
import { observeService, targetOf, type ServiceFacts } from './observe.js';
import { decide, serviceEvents } from './reconciler.js';
import type { ServiceFactsSettings } from './serviceFacts.js';
import type { TargetRegistry } from './targets.js';
import type { ReconcileAction } from './types.js';

/** The settings applying actions reads (the controller's own). */
export interface ServiceActionSettings extends ServiceFactsSettings {
  /** Wait after a placement failure before the service tries to place again (ms). */
  placementRetryMs: number;
}

/** What applying actions needs from the controller: its settings, ports, back-off and throttled events. */
export interface ServiceActionHost {
  /** The current settings. */
  readonly current: Readonly<ServiceActionSettings>;
  /** The target registry (the port to the load balancer). */
  readonly registry: TargetRegistry;
  /** Pins each deployment's images to digests when it first launches. */
  readonly resolveImage?: ImageResolver;
  /** Whether the controller is stopping (no further action is applied). */
  readonly stopped: boolean;
  /** Whether the service is waiting out a placement failure; `until` sets or clears the wait. */
  backoff(key: string, until?: number | null): boolean;
  /** Whether a decision was taken on the service's current live tasks. */
  sameLiveTasks(s: Scope, svc: ServiceRecord, seen: readonly TaskRecord[], taskSetId?: string): Promise<boolean>;
  /** Runs (or queues one more) reconcile of a service. */
  schedule(region: string, cluster: string, name: string): Promise<void>;
  /** Records a service event at most once per the placement event interval. */
  emitThrottled(s: Scope, svc: ServiceRecord, message: string): Promise<void>;
}

/**
 * An EXTERNAL or CODE_DEPLOY service: each task set is reconciled as a service of its own,
 * through the same `decide`: its desired count is its computed one (scale x the service's
 * desiredCount), its load balancers its own, its one deployment itself, no circuit breaker. A
 * DRAINING task set (DeleteTaskSet) has its targets deregistered and its tasks stopped, then
 * is removed; its stability follows `decide`'s steady verdict. Tasks of no task set are stopped.
 */
export async function reconcileTaskSets(ctl: ServiceActionHost, s: Scope, facts: ServiceFacts, now: number): Promise<ReconcileAction[]> {
  const svc = facts.service;
  const all: ReconcileAction[] = [];
  const later: string[] = [];
  const quiet = new Set<string>();
  let allSteady = svc.status === 'ACTIVE';
  for (const ts of svc.taskSets ?? []) {
    const desiredCount = computedDesiredCount(svc, ts);
    const sub: ServiceRecord = {
      ...svc,
      status: svc.status === 'ACTIVE' && ts.status !== 'DRAINING' ? 'ACTIVE' : 'DRAINING',
      desiredCount,
      loadBalancers: ts.loadBalancers,
      launchType: ts.launchType,
      capacityProviderStrategy: ts.capacityProviderStrategy,
      deployments: [{ ...taskSetAsDeployment(ts, desiredCount), status: 'PRIMARY' }],
      deploymentConfiguration: { ...svc.deploymentConfiguration, minimumHealthyPercent: 100, maximumPercent: 200, deploymentCircuitBreaker: { enable: false, rollback: false } },
      steady: ts.stabilityStatus === 'STEADY_STATE',
    };
    const subFacts: ServiceFacts = { ...facts, service: sub, tasks: facts.tasks.filter((t) => t.startedBy === ts.id) };
    const { desired, observed } = observeService(subFacts, ctl.current);
    const actions = decide(desired, observed, now);
    all.push(...actions);
    quiet.add(serviceEvents.steadyState(svc.serviceName)).add(serviceEvents.deploymentCompleted(svc.serviceName, ts.id));
    const apply = new ServiceActionApplier(ctl, s, subFacts, now, ts.id);
    let steady = ts.stabilityStatus === 'STEADY_STATE';
    for (const a of [...actions.filter((x) => x.type !== 'event'), ...actions.filter((x) => x.type === 'event')]) {
      if (ctl.stopped) break;
      switch (a.type) {
        case 'setSteadyState':
          steady = a.steady;
          await setTaskSetStability(s, svc.clusterName, svc.serviceName, ts.id, a.steady);
          break;
        case 'markServiceInactive':
          if (ts.status === 'DRAINING') await removeDrainedTaskSet(s, svc.clusterName, svc.serviceName, ts.id, new Set());
          break;
        case 'startTasks':
        case 'stopTask':
        case 'markTaskStopped':
        case 'registerTarget':
        case 'deregisterTarget':
          await apply.action(a);
          break;
        case 'event':
          if (!quiet.has(a.message)) await apply.action(a);
          break;
        default:
          // Deployment bookkeeping (rollout states, circuit breaker, recorded counts) is not a task set's.
          break;
      }
    }
    later.push(...apply.later);
    if (ts.status !== 'DRAINING' && !steady) allSteady = false;
  }
  // Tasks of a task set that is gone: nothing keeps them.
  const known = new Set((svc.taskSets ?? []).map((ts) => ts.id));
  for (const t of facts.tasks) {
    if (t.lastStatus === 'STOPPED' || t.desiredStatus !== 'RUNNING' || known.has(t.startedBy ?? '')) continue;
    await requestTaskStop(s, svc.clusterName, t.taskId, { reason: `Scaling activity initiated by (service ${svc.serviceName})`, stopCode: 'ServiceSchedulerInitiated' });
  }
  for (const m of later) await appendServiceEvent(s, svc.clusterName, svc.serviceName, m);
  if (svc.status === 'DRAINING') await finishDraining(s, svc.clusterName, svc.serviceName);
  else if (allSteady !== (svc.steady ?? false) && (await setServiceSteady(s, svc.clusterName, svc.serviceName, allSteady)) && allSteady) {
    await appendServiceEvent(s, svc.clusterName, svc.serviceName, serviceEvents.steadyState(svc.serviceName));
  }
  return all;
}

/** Why the service's next task fits nowhere, as ECS words it. */
export async function placementMessage(s: Scope, svc: ServiceRecord, deploymentId: string): Promise<string> {
  const d = svc.deployments.find((x) => x.id === deploymentId);
  const td = d ? await findTaskDefinition(s, d.taskDefinition) : undefined;
  if (!td) return unableToPlaceMessage(svc.serviceName);
  const { candidates } = await candidatesFor(s, svc.clusterName);
  const res = place({
    count: 1,
    task: servicePlacementTask(td.value.taskDefinition, svc.serviceName),
    instances: candidates,
    existingTasks: candidates.flatMap((c) => c.taskGroups.map((group) => ({ containerInstanceId: c.id, group }))),
    constraints: servicePlacementConstraints(td.value.taskDefinition, svc),
    strategy: svc.placementStrategy.length ? svc.placementStrategy : DEFAULT_SERVICE_STRATEGY,
  });
  return res.message ?? unableToPlaceMessage(svc.serviceName);
}

/**
 * Applies one round's actions for one service, each through the domain's transitions. A
 * transition that reports "nothing changed" (another replica did it first) suppresses the
 * event that would announce it, so no event is said twice.
 */
export class ServiceActionApplier {
  /** The controller's own events, said after the reconciler's. */
  readonly later: string[] = [];
  private readonly suppress = new Set<string>();
  private readonly byId: Map<string, TaskRecord>;
  private readonly instances: Map<string, ContainerInstanceRecord>;

  constructor(
    private readonly ctl: ServiceActionHost,
    private readonly s: Scope,
    private readonly facts: ServiceFacts,
    private readonly now: number,
    /** When the facts are one task set's (an EXTERNAL or CODE_DEPLOY service): its id. */
    private readonly taskSetId?: string,
  ) {
    this.byId = new Map(facts.tasks.map((t) => [t.taskId, t]));
    this.instances = new Map(facts.instances.map((ci) => [ci.id, ci]));
  }

  async action(a: ReconcileAction): Promise<void> {
    const { s } = this;
    const svc = this.facts.service;
    const cluster = svc.clusterName;
    const name = svc.serviceName;
    switch (a.type) {
      case 'startTasks':
        return this.start(a.deploymentId, a.count, a.containerInstanceIds);
      case 'stopTask':
        await requestTaskStop(s, cluster, a.taskId, { reason: a.reason, stopCode: 'ServiceSchedulerInitiated' });
        return;
      case 'markTaskStopped':
        await markTaskStopped(s, cluster, a.taskId, a.reason);
        return;
      case 'setFailedTasks':
        await setDeploymentFailedTasks(s, cluster, name, a.deploymentId, a.failedTasks);
        return;
      case 'registerTarget':
      case 'deregisterTarget':
        return this.target(a.type, a.taskId);
      case 'markDeploymentCompleted': {
        const liveDeployments = new Set(this.facts.tasks.filter((t) => t.lastStatus !== 'STOPPED').map((t) => t.startedBy ?? ''));
        if (!(await completeDeployment(s, cluster, name, a.deploymentId, liveDeployments))) this.suppress.add(serviceEvents.deploymentCompleted(name, a.deploymentId));
        return;
      }
      case 'markDeploymentFailed':
        if (!(await failDeployment(s, cluster, name, a.deploymentId, a.reason))) this.suppress.add(serviceEvents.deploymentFailed(name, a.deploymentId));
        return;
      case 'rollback':
        if (!(await rollbackDeployment(s, cluster, name, a.fromDeploymentId, a.toDeploymentId))) this.suppress.add(serviceEvents.rollingBack(name, a.toDeploymentId));
        return;
      case 'setRunningCounts':
        await recordDeploymentCounts(s, cluster, name, a.deployments);
        return;
      case 'setSteadyState':
        // Another replica got there first: its event says it already.
        if (!(await setServiceSteady(s, cluster, name, a.steady))) this.suppress.add(serviceEvents.steadyState(name));
        return;
      case 'setDesiredCount':
        await setDaemonDesiredCount(s, cluster, name, a.desiredCount);
        return;
      case 'markServiceInactive':
        await finishDraining(s, cluster, name);
        return;
      case 'event':
        if (!this.suppress.has(a.message)) await appendServiceEvent(s, cluster, name, a.message);
        return;
    }
  }

  private async start(deploymentId: string, count: number, containerInstanceIds: string[] | undefined): Promise<void> {
    const { s, now, ctl } = this;
    const svc = this.facts.service;
    const key = `${s.region}/${svc.clusterName}/${svc.serviceName}${this.taskSetId ? `#${this.taskSetId}` : ''}`;
    if (ctl.backoff(key)) return;
    // Starting is the one action that is not idempotent by itself: make sure the decision was
    // taken on the current tasks (a replica or an earlier round may have started some).
    if (!(await ctl.sameLiveTasks(s, svc, this.facts.tasks, this.taskSetId))) {
      void ctl.schedule(s.region, svc.clusterName, svc.serviceName); // decide again on the current tasks
      return;
    }
    const retryAt = now + ctl.current.placementRetryMs;
    if (containerInstanceIds) {
      // DAEMON: one task on each named instance.
      let r;
      try {
        r = await launchDaemonTasks(s, svc.clusterName, svc.serviceName, deploymentId, containerInstanceIds, ctl.resolveImage);
      } catch (e) {
        if (!(e instanceof ServiceError)) throw e;
        return;
      }
      if (r.tasks.length) this.later.push(serviceEvents.startedTasks(svc.serviceName, r.tasks.map((t) => t.taskId)));
      ctl.backoff(key, r.messages.length ? retryAt : null);
      for (const m of new Set(r.messages)) await ctl.emitThrottled(s, svc, m);
      return;
    }
    let started: TaskRecord[] = [];
    try {
      started = (await launchServiceTasks(s, svc.clusterName, svc.serviceName, deploymentId, count, ctl.resolveImage)).tasks;
    } catch (e) {
      if (!(e instanceof ServiceError)) throw e;
    }
    if (started.length) this.later.push(serviceEvents.startedTasks(svc.serviceName, started.map((t) => t.taskId)));
    if (started.length < count) {
      ctl.backoff(key, retryAt);
      await ctl.emitThrottled(s, svc, await placementMessage(s, svc, deploymentId));
    } else {
      ctl.backoff(key, null);
    }
  }

  private async target(type: 'registerTarget' | 'deregisterTarget', taskId: string): Promise<void> {
    const { s, now, ctl } = this;
    const svc = this.facts.service;
    const t = this.byId.get(taskId);
    if (!t) return;
    for (const lb of svc.loadBalancers.filter((x) => x.targetGroupArn)) {
      const ref = targetOf(t, lb, this.instances.get(t.containerInstanceId ?? ''), ctl.current.defaultTargetAddress);
      if (!ref) continue;
      try {
        if (type === 'registerTarget') await ctl.registry.register(lb.targetGroupArn!, ref);
        else await ctl.registry.deregister(lb.targetGroupArn!, ref);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        await ctl.emitThrottled(s, svc, `(service ${svc.serviceName}) failed to ${type === 'registerTarget' ? 'register' : 'deregister'} targets in (target-group ${lb.targetGroupArn}) with (error ${why})`);
      }
    }
    if (type === 'deregisterTarget' && t.drainStartedAt === undefined) {
      await mutateTask(s, svc.clusterName, taskId, (x) => (x.drainStartedAt === undefined ? { ...x, drainStartedAt: now } : undefined));
    }
  }
}
