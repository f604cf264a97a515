/**
 * The service reconciler: `decide(desired, observed, now)` is a PURE function from the service as
 * desired and its tasks as observed to the actions that move one towards the other, with ECS's
 * rolling-update semantics. The controller applies the actions and calls `decide` again with
 * the next observation; every action is idempotent under that loop (see README.md for what
 * applying each action must change so it is not repeated).
 *
 * Rules (ECS rolling update, deployment circuit breaker, load-balancer draining):
 * - A task is *live* until lastStatus STOPPED. Live tasks are classified as
 *   stopping (desiredStatus STOPPED), draining (we deregistered its target: drainStartedAt set),
 *   lost (its instance is lost), broken (failed ELB or container health checks after the grace
 *   period) or active. Active tasks of the PRIMARY deployment not on a DRAINING instance are
 *   *new*; every other active task is *old* and is replaced.
 * - Healthy = target healthy in the target group when the service has a load balancer; else
 *   container health HEALTHY when the task definition has health checks; else RUNNING for at
 *   least healthCheckGracePeriodSeconds.
 * - A task that failed its ELB health checks after the grace period is replaced start-first
 *   when maximumPercent leaves room (REPLICA, rolling): it stays registered until its
 *   replacement is healthy, then is deregistered and stopped, so the target group always has a
 *   target to route (or fail open) to; without room, it is stopped first (as ECS does).
 * - Bounds: live non-lost tasks <= floor(desiredCount * maximumPercent / 100); old healthy tasks are
 *   only retired while the healthy count stays >= ceil(desiredCount * minimumHealthyPercent / 100).
 * - Which tasks go first: not-healthy before healthy, then by the service's placement strategy
 *   (orderForTermination, when the observation carries instance facts), else oldest first
 *   (old deployments) / newest first (scale-in surplus).
 * - Retiring a registered task deregisters its target first; it is stopped once its target left
 *   `draining` or the deregistration delay passed. Unregistered tasks are stopped directly.
 * - Circuit breaker: PRIMARY failedTasks >= clamp(ceil(desiredCount / 2), 3, 200) -> FAILED, and
 *   with rollback the most recent ACTIVE deployment whose rollout COMPLETED becomes PRIMARY.
 *   A FAILED PRIMARY (no rollback) gets no new tasks and old tasks are left running.
 * - COMPLETED when the PRIMARY has desiredCount healthy tasks and no other deployment has live tasks.
 * - A DRAINING service (DeleteService) has everything deregistered, drained and stopped, then INACTIVE.
 * - DAEMON services (`schedulingStrategy`): D = the number of `observed.daemonInstances` (not
 *   counting draining ones; written back with `setDesiredCount`); one task per instance, started
 *   with `startTasks{containerInstanceIds}`; see `decideDaemon` below.
 */
import { orderForTermination } from '../domain/placement/placement.js';
import type { DeploymentView, InstanceFacts, ObservedTask, ReconcileAction, ServiceDesired, ServiceObserved } from './types.js';

/** ECS deployment circuit breaker failure threshold for a desired count. */
export function circuitBreakerThreshold(desiredCount: number): number {
  return Math.min(200, Math.max(3, Math.ceil(desiredCount / 2)));
}

/** Upper bound on live tasks during a deployment. */
export function maxTasks(desired: Pick<ServiceDesired, 'desiredCount' | 'maximumPercent'>): number {
  return Math.floor((desired.desiredCount * (desired.maximumPercent ?? 200)) / 100);
}

/** Lower bound on healthy tasks during a deployment. */
export function minHealthyTasks(desired: Pick<ServiceDesired, 'desiredCount' | 'minimumHealthyPercent'>): number {
  return Math.ceil((desired.desiredCount * (desired.minimumHealthyPercent ?? 100)) / 100);
}

/** Default of `ServiceDesired.instanceLostAfterMs`. */
export const DEFAULT_INSTANCE_LOST_AFTER_MS = 5_000;

/**
 * Whether the tasks on an instance are lost: the instance is gone (INACTIVE, deregistering or
 * unknown) or its agent has been disconnected for at least `lostAfterMs`.
 */
export function isInstanceLost(instance: Pick<InstanceFacts, 'status' | 'agentConnected' | 'disconnectedAt'> | undefined, now: number, lostAfterMs = DEFAULT_INSTANCE_LOST_AFTER_MS): boolean {
  if (!instance || instance.status === 'INACTIVE' || instance.status === 'DEREGISTERING') return true;
  if (instance.agentConnected !== false) return false;
  return instance.disconnectedAt === undefined || now - instance.disconnectedAt >= lostAfterMs;
}

const FAILED_STOP_CODES = new Set(['TaskFailedToStart', 'EssentialContainerExited']);

/** Whether a stopped task counts against its deployment's circuit breaker. */
export function countsAsFailed(t: Pick<ObservedTask, 'lastStatus' | 'stopCode' | 'stoppedReason'>): boolean {
  if (t.lastStatus !== 'STOPPED') return false;
  if (t.stopCode && FAILED_STOP_CODES.has(t.stopCode)) return true;
  return (t.stoppedReason ?? '').startsWith('Task failed ');
}

/** ECS-style service event texts. `startedTasks` is for the controller once it knows the new task ids. */
export const serviceEvents = {
  startedTasks: (svc: string, taskIds: readonly string[]) => `(service ${svc}) has started ${taskIds.length} tasks: ${taskIds.map((t) => `(task ${t})`).join(' ')}.`,
  stoppedTasks: (svc: string, taskIds: readonly string[]) => `(service ${svc}) has stopped ${taskIds.length} running tasks: ${taskIds.map((t) => `(task ${t})`).join(' ')}.`,
  registeredTargets: (svc: string, n: number, tg: string) => `(service ${svc}) registered ${n} targets in (target-group ${tg})`,
  deregisteredTargets: (svc: string, n: number, tg: string) => `(service ${svc}) deregistered ${n} targets in (target-group ${tg})`,
  drainingConnections: (svc: string, n: number) => `(service ${svc}) has begun draining connections on ${n} tasks.`,
  steadyState: (svc: string) => `(service ${svc}) has reached a steady state.`,
  deploymentCompleted: (svc: string, dep: string) => `(service ${svc}) (deployment ${dep}) deployment completed.`,
  deploymentFailed: (svc: string, dep: string) => `(service ${svc}) (deployment ${dep}) deployment failed: tasks failed to start.`,
  rollingBack: (svc: string, dep: string) => `(service ${svc}) rolling back to deployment ${dep}.`,
} as const;

/** Stop reasons (Task.stoppedReason) used by the reconciler. */
export const stopReasons = {
  scaling: (dep: string) => `Scaling activity initiated by (deployment ${dep})`,
  elbHealth: (tg: string) => `Task failed ELB health checks in (target-group ${tg})`,
  containerHealth: () => 'Task failed container health checks',
  instanceLost: () => 'Task stopped because its container instance was lost (agent disconnected)',
} as const;

const PENDING_STATES = new Set(['PROVISIONING', 'PENDING', 'ACTIVATING']);

type Kind = 'stopping' | 'draining' | 'lost' | 'broken' | 'active';

/**
 * Decides what to do next for one service. Pure and deterministic: same inputs, same actions
 * (in a stable order: target/task actions, deployment state, counts, events).
 */
export function decide(desired: ServiceDesired, observed: ServiceObserved, now: number): ReconcileAction[] {
  const svc = desired.serviceName;
  const tgs = desired.targetGroupArns ?? [];
  const lb = tgs.length > 0;
  const deployments = desired.deployments.filter((d) => d.status !== 'INACTIVE');
  // Without a load balancer or container health checks, "healthy" means RUNNING for a while.
  const graceMs = Math.max((desired.healthCheckGracePeriodSeconds ?? 0) * 1000, lb || deployments.some((d) => d.hasHealthCheck) ? 0 : desired.minHealthyRunningMs ?? 0);
  const delayMs = (observed.deregistrationDelaySeconds ?? 300) * 1000;
  const depById = new Map(deployments.map((d) => [d.id, d]));
  const primary = deployments.find((d) => d.status === 'PRIMARY');
  const scalingReason = stopReasons.scaling(primary?.id ?? deployments[0]?.id ?? 'unknown');

  const actions: ReconcileAction[] = [];
  const stopped: string[] = [];
  const deregistered: string[] = [];
  const registered: string[] = [];
  const touched = new Set<string>();

  const isRegistered = (t: ObservedTask) => lb && (t.targetHealth === 'initial' || t.targetHealth === 'healthy' || t.targetHealth === 'unhealthy' || t.targetHealth === 'unused');
  const stop = (t: ObservedTask, reason: string) => {
    actions.push({ type: 'stopTask', taskId: t.taskId, reason });
    stopped.push(t.taskId);
    touched.add(t.taskId);
  };
  const deregister = (t: ObservedTask) => {
    actions.push({ type: 'deregisterTarget', taskId: t.taskId });
    deregistered.push(t.taskId);
    touched.add(t.taskId);
  };
  /** Take a task out of service: drain it first when it is behind the load balancer. */
  const retire = (t: ObservedTask, reason: string) => (isRegistered(t) ? deregister(t) : stop(t, reason));
  const drainDone = (t: ObservedTask) => t.targetHealth !== 'draining' || now >= t.drainStartedAt! + delayMs;
  const inGrace = (t: ObservedTask) => t.startedAt === undefined || now < t.startedAt + graceMs;
  const hasHealthCheck = (t: ObservedTask) => depById.get(t.deploymentId)?.hasHealthCheck === true;
  const healthy = (t: ObservedTask) =>
    t.lastStatus === 'RUNNING' &&
    (lb ? t.targetHealth === 'healthy' : hasHealthCheck(t) ? t.healthStatus === 'HEALTHY' : t.startedAt !== undefined && now >= t.startedAt + graceMs);

  // Where the tasks are: lost instances (gone, or agent disconnected too long) and DRAINING ones.
  const instanceOf = (t: ObservedTask) => (observed.instances && t.containerInstanceId !== undefined ? observed.instances[t.containerInstanceId] : undefined);
  const isLost = (t: ObservedTask) => observed.instances !== undefined && t.containerInstanceId !== undefined && isInstanceLost(instanceOf(t), now, desired.instanceLostAfterMs);
  const onDraining = (t: ObservedTask) => instanceOf(t)?.status === 'DRAINING';

  // A target the load balancer already dropped still drains, as on ALB, for the whole delay
  // after the service deregistered it: connections that are not requests (keep-alive, streams)
  // can finish.
  const tasks = observed.tasks.map((t) =>
    lb && t.targetHealth === 'none' && t.drainStartedAt !== undefined && now < t.drainStartedAt + delayMs ? { ...t, targetHealth: 'draining' as const } : t,
  );

  // The circuit breaker's counter: the deployment's tasks that failed to start or exited.
  const failed = new Map<string, number>();
  for (const t of tasks) if (countsAsFailed(t)) failed.set(t.deploymentId, (failed.get(t.deploymentId) ?? 0) + 1);
  for (const d of deployments) {
    const n = failed.get(d.id) ?? 0;
    if (d.rolloutState === 'IN_PROGRESS' && n > d.failedTasks) actions.push({ type: 'setFailedTasks', deploymentId: d.id, failedTasks: n });
  }
  const failedTasksOf = (d: DeploymentView) => Math.max(d.failedTasks, failed.get(d.id) ?? 0);

  const live = tasks.filter((t) => t.lastStatus !== 'STOPPED');
  const kind = new Map<string, Kind>();
  // ECS replaces a task that failed its ELB health checks start-first when maximumPercent
  // leaves room for one more task (a REPLICA service): the replacement starts, and the failed
  // task is stopped once the replacement is healthy. Otherwise stop-first, at once.
  const surge = desired.status === 'ACTIVE' && desired.schedulingStrategy !== 'DAEMON' && primary !== undefined && primary.rolloutState !== 'FAILED' && maxTasks(desired) > Math.max(0, desired.desiredCount);
  const failedElb = new Set<string>();

  // 1. Tasks already on their way out, lost or broken.
  for (const t of live) {
    if (isLost(t)) {
      // Its agent is gone: nobody will report the task again. It cannot be drained or counted:
      // mark it STOPPED (once) and replace it.
      kind.set(t.taskId, 'lost');
      if (isRegistered(t)) deregister(t);
      actions.push({ type: 'markTaskStopped', taskId: t.taskId, reason: stopReasons.instanceLost() });
      touched.add(t.taskId);
      if (t.desiredStatus === 'RUNNING') stopped.push(t.taskId);
    } else if (t.desiredStatus !== 'RUNNING') {
      kind.set(t.taskId, 'stopping');
      if (isRegistered(t)) deregister(t);
    } else if (t.drainStartedAt !== undefined) {
      kind.set(t.taskId, 'draining');
      if (drainDone(t)) stop(t, scalingReason);
    } else if (desired.status !== 'ACTIVE') {
      kind.set(t.taskId, 'active');
      retire(t, scalingReason);
    } else if (lb && t.targetHealth === 'unhealthy' && t.lastStatus === 'RUNNING' && !inGrace(t)) {
      if (surge) {
        // Replaced start-first (step 4): it stays, and serves if the group fails open, until
        // its replacement is healthy.
        kind.set(t.taskId, 'active');
        failedElb.add(t.taskId);
      } else {
        kind.set(t.taskId, 'broken');
        deregister(t);
        stop(t, stopReasons.elbHealth(tgs[0]!));
      }
    } else if (hasHealthCheck(t) && t.healthStatus === 'UNHEALTHY' && !inGrace(t)) {
      kind.set(t.taskId, 'broken');
      if (isRegistered(t)) deregister(t);
      stop(t, stopReasons.containerHealth());
    } else {
      kind.set(t.taskId, 'active');
    }
  }

  // 2. A service being deleted: only drain and stop, then become INACTIVE.
  if (desired.status !== 'ACTIVE') {
    if (live.length === 0 && desired.status === 'DRAINING') actions.push({ type: 'markServiceInactive' });
    pushCounts(actions, deployments, live);
    pushEvents(actions, svc, tgs, registered, deregistered, stopped);
    return actions;
  }

  const active = live.filter((t) => kind.get(t.taskId) === 'active');
  const nonLost = live.filter((t) => kind.get(t.taskId) !== 'lost');
  const daemon = desired.schedulingStrategy === 'DAEMON';
  const daemonInsts = daemon ? observed.daemonInstances ?? [] : [];
  const countedIds = new Set(daemonInsts.filter((i) => !i.draining).map((i) => i.id));
  const D = daemon ? countedIds.size : Math.max(0, desired.desiredCount);
  if (daemon && desired.desiredCount !== D) actions.push({ type: 'setDesiredCount', desiredCount: D });

  // 3. Circuit breaker.
  const cb = desired.circuitBreaker;
  if (primary && cb?.enable && primary.rolloutState === 'IN_PROGRESS' && failedTasksOf(primary) >= circuitBreakerThreshold(D)) {
    actions.push({ type: 'markDeploymentFailed', deploymentId: primary.id, reason: 'tasks failed to start' });
    const events: string[] = [serviceEvents.deploymentFailed(svc, primary.id)];
    // A rollback deployment that fails too is not rolled back again (ECS: the deployment rolled
    // back to is not eligible for another rollback until it completes).
    if (cb.rollback && primary.rollbackOf === undefined) {
      const target = deployments
        .filter((d) => d.id !== primary.id && d.rolloutState === 'COMPLETED')
        .sort((a, b) => b.createdAt - a.createdAt)[0];
      if (target) {
        actions.push({ type: 'rollback', fromDeploymentId: primary.id, toDeploymentId: target.id });
        events.push(serviceEvents.rollingBack(svc, target.id));
      }
    }
    if (desired.steady) actions.push({ type: 'setSteadyState', steady: false });
    pushCounts(actions, deployments, live);
    pushEvents(actions, svc, tgs, registered, deregistered, stopped);
    for (const m of events) actions.push({ type: 'event', message: m });
    return actions;
  }

  // 4. Rolling update / replacement / scaling.
  // A task of the PRIMARY that stays: not on a DRAINING instance (REPLICA); on an instance that
  // must run the daemon (DAEMON).
  const isNew = (t: ObservedTask) =>
    primary !== undefined && t.deploymentId === primary.id && (daemon ? countedIds.has(t.containerInstanceId ?? '') : !onDraining(t));
  const newTasks = active.filter(isNew);
  const oldTasks = active.filter((t) => !isNew(t));
  // New tasks that failed their ELB health checks: they are being replaced (start-first).
  const newFailed = newTasks.filter((t) => failedElb.has(t.taskId));
  const newServing = newTasks.filter((t) => !failedElb.has(t.taskId));
  const healthyCount = active.filter(healthy).length;
  // With no healthy target the load balancer fails open: its registered, running targets serve
  // whatever their health, so retiring one is bounded by minimumHealthyPercent as a healthy one
  // (else a rolling update under flapping health checks could drain the last targets).
  const failOpen = lb && healthyCount === 0;
  const serving = (t: ObservedTask) => healthy(t) || (failOpen && t.lastStatus === 'RUNNING' && (t.targetHealth === 'initial' || t.targetHealth === 'unhealthy'));
  let start = 0;
  const rolling = primary !== undefined && primary.rolloutState !== 'FAILED';
  if (daemon) {
    start = decideDaemon();
  } else if (rolling) {
    const want = D - newServing.length;
    start = Math.max(0, Math.min(want, maxTasks(desired) - nonLost.length));
    let budget = Math.max(0, active.filter(serving).length - minHealthyTasks(desired));
    const byAge = (a: ObservedTask, b: ObservedTask) => (a.createdAt ?? 0) - (b.createdAt ?? 0) || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0);
    const instances = observed.instances ? new Map(Object.entries(observed.instances)) : undefined;
    const strategy = desired.placementStrategy ?? [];
    // Which tasks go first: unhealthy before healthy; within each, by the placement strategy
    // (scale-in keeps the spread) when instance facts are given, else by age.
    const arrange = (tasks: ObservedTask[], order: (a: ObservedTask, b: ObservedTask) => number) => {
      const sorted = tasks.sort(order);
      return instances && strategy.length > 0 ? orderForTermination(sorted, active, instances, strategy) : sorted;
    };
    const retireList = (tasks: ObservedTask[], limit: number, order: (a: ObservedTask, b: ObservedTask) => number) => {
      const ordered = [...arrange(tasks.filter((t) => !serving(t)), order), ...arrange(tasks.filter(serving), order)];
      let n = 0;
      for (const t of ordered) {
        if (n >= limit) break;
        if (serving(t)) {
          if (budget <= 0) break;
          budget--;
        }
        retire(t, scalingReason);
        n++;
      }
    };
    retireList(oldTasks, oldTasks.length, byAge);
    // A failed task goes once the healthy new tasks and the failed ones left make D (its
    // replacement is healthy), or at once, oldest first, for each replacement there is no room
    // to start (stop-first).
    const newHealthyCount = newServing.filter(healthy).length;
    const failedToStop = Math.min(newFailed.length, Math.max(0, newHealthyCount + newFailed.length - D, want - start));
    for (const t of [...newFailed].sort(byAge).slice(0, failedToStop)) {
      deregister(t);
      stop(t, stopReasons.elbHealth(tgs[0]!));
    }
    if (newServing.length > D) {
      // Scale-in: the newest surplus tasks go first (unhealthy ones before healthy ones).
      retireList(newServing, newServing.length - D, (a, b) => byAge(b, a));
    }
    if (start > 0) actions.push({ type: 'startTasks', deploymentId: primary.id, count: start });
  }

  /**
   * DAEMON: one task per daemon instance. Tasks on instances that no longer qualify (DRAINING
   * with nothing else left on it, constraint or attribute no longer met, deregistered) are
   * retired; an instance with more than one PRIMARY task keeps the healthiest, oldest one. Rolling
   * update per instance (maximumPercent 100): the old task is retired (healthy ones only while
   * the healthy count stays >= ceil(D * minimumHealthyPercent / 100), default 0), and an
   * instance gets its new task once nothing of the service is live on it any more.
   */
  function decideDaemon(): number {
    const keep = new Set(daemonInsts.map((i) => i.id));
    const byInst = new Map<string, ObservedTask[]>();
    for (const t of active) {
      const id = t.containerInstanceId ?? '';
      if (!keep.has(id)) {
        retire(t, scalingReason);
        continue;
      }
      const a = byInst.get(id) ?? [];
      a.push(t);
      byInst.set(id, a);
    }
    if (!rolling) return 0;
    const countedHealthy = active.filter((t) => countedIds.has(t.containerInstanceId ?? '') && healthy(t)).length;
    let budget = Math.max(0, countedHealthy - minHealthyTasks({ desiredCount: D, minimumHealthyPercent: desired.minimumHealthyPercent ?? 0 }));
    const age = (a: ObservedTask, b: ObservedTask) => (a.createdAt ?? 0) - (b.createdAt ?? 0) || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0);
    // Anything of the service still live on an instance (stopping, draining, broken) holds it: the
    // new task starts only after the old one is STOPPED (maximumPercent 100). Lost tasks do not.
    const occupied = new Set(live.filter((t) => kind.get(t.taskId) !== 'lost').map((t) => t.containerInstanceId ?? ''));
    const startOn: string[] = [];
    for (const inst of daemonInsts) {
      if (inst.draining) continue; // its task stays until the instance's other tasks are gone
      const here = byInst.get(inst.id) ?? [];
      const fresh = here.filter(isNew).sort((a, b) => Number(healthy(b)) - Number(healthy(a)) || age(a, b));
      const stale = here.filter((t) => !isNew(t)).sort((a, b) => Number(healthy(a)) - Number(healthy(b)) || age(a, b));
      for (const t of fresh.slice(1)) retire(t, scalingReason);
      for (const t of stale) {
        if (fresh.length === 0 && healthy(t)) {
          if (budget <= 0) continue;
          budget--;
        }
        retire(t, scalingReason);
      }
      if (here.length === 0 && !occupied.has(inst.id) && inst.agentConnected) startOn.push(inst.id);
    }
    if (startOn.length > 0) actions.push({ type: 'startTasks', deploymentId: primary!.id, count: startOn.length, containerInstanceIds: startOn });
    return startOn.length;
  }

  // 5. Register running tasks that are not behind the load balancer yet.
  if (lb) {
    for (const t of active) {
      if (touched.has(t.taskId) || t.lastStatus !== 'RUNNING') continue;
      if (t.targetHealth === undefined || t.targetHealth === 'none') {
        actions.push({ type: 'registerTarget', taskId: t.taskId });
        registered.push(t.taskId);
      }
    }
  }

  // 6. Deployment completion and steady state.
  const otherLive = live.filter((t) => kind.get(t.taskId) !== 'lost' && !(kind.get(t.taskId) === 'active' && isNew(t)) && (daemon || primary === undefined || t.deploymentId !== primary.id || onDraining(t)));
  const newHealthy = newTasks.filter((t) => healthy(t) && !touched.has(t.taskId)).length;
  const settled = otherLive.length === 0 && newHealthy >= D && newTasks.length === D && touched.size === 0 && start === 0 && nonLost.length === newTasks.length;
  const deploymentEvents: string[] = [];
  let rollout = primary?.rolloutState;
  if (primary && primary.rolloutState === 'IN_PROGRESS' && otherLive.length === 0 && newHealthy >= D) {
    actions.push({ type: 'markDeploymentCompleted', deploymentId: primary.id });
    deploymentEvents.push(serviceEvents.deploymentCompleted(svc, primary.id));
    rollout = 'COMPLETED';
  }
  const steady = primary !== undefined && rollout === 'COMPLETED' && settled;
  if (steady && !desired.steady) {
    actions.push({ type: 'setSteadyState', steady: true });
    deploymentEvents.push(serviceEvents.steadyState(svc));
  } else if (!steady && desired.steady) {
    actions.push({ type: 'setSteadyState', steady: false });
  }

  pushCounts(actions, deployments, live);
  pushEvents(actions, svc, tgs, registered, deregistered, stopped);
  for (const m of deploymentEvents) actions.push({ type: 'event', message: m });
  return actions;
}

function pushCounts(actions: ReconcileAction[], deployments: readonly DeploymentView[], live: readonly ObservedTask[]): void {
  const per = deployments.map((d) => ({ deploymentId: d.id, runningCount: 0, pendingCount: 0 }));
  const idx = new Map(per.map((p, i) => [p.deploymentId, i]));
  let running = 0;
  let pending = 0;
  for (const t of live) {
    const isRunning = t.lastStatus === 'RUNNING';
    const isPending = PENDING_STATES.has(t.lastStatus);
    if (isRunning) running++;
    if (isPending) pending++;
    const i = idx.get(t.deploymentId);
    if (i === undefined) continue;
    if (isRunning) per[i]!.runningCount++;
    if (isPending) per[i]!.pendingCount++;
  }
  const changed = deployments.some((d, i) => (d.runningCount ?? 0) !== per[i]!.runningCount || (d.pendingCount ?? 0) !== per[i]!.pendingCount);
  if (changed) actions.push({ type: 'setRunningCounts', runningCount: running, pendingCount: pending, deployments: per });
}

function pushEvents(actions: ReconcileAction[], svc: string, tgs: readonly string[], registered: string[], deregistered: string[], stopped: string[]): void {
  if (registered.length > 0) for (const tg of tgs) actions.push({ type: 'event', message: serviceEvents.registeredTargets(svc, registered.length, tg) });
  if (deregistered.length > 0) {
    for (const tg of tgs) actions.push({ type: 'event', message: serviceEvents.deregisteredTargets(svc, deregistered.length, tg) });
    actions.push({ type: 'event', message: serviceEvents.drainingConnections(svc, deregistered.length) });
  }
  if (stopped.length > 0) actions.push({ type: 'event', message: serviceEvents.stoppedTasks(svc, stopped) });
}
