/**
 * The service controller: the loop between the pure decision core (`decide`, `place`) and the
 * ECS records. For every ACTIVE or DRAINING service it reads the service, its tasks, the
 * cluster's container instances and the target health of its tasks, maps them onto the core's
 * shapes, calls `decide` and applies the actions as src/control/README.md's table says.
 *
 * When it runs: on every store change to a service, one of its tasks or a container instance
 * of its cluster (the change feed), and on a periodic tick (`intervalMs`, default 500 ms) for
 * time-driven decisions (grace periods, draining, target health). Time comes from the
 * platform's injected clock.
 *
 * Invariants:
 * - at most one reconcile per service at a time in this process (a change during a reconcile
 *   runs it once more afterwards); several control-plane replicas may run it concurrently: every
 *   write goes through the optimistic mutate helpers, and every action is idempotent given the
 *   next observation, so a duplicate is corrected by the next round;
 * - a failing placement neither spins nor spams: the service waits `placementRetryMs` (or until
 *   a container instance of its cluster changes) before trying again, and the same "unable to
 *   place" message is recorded at most once per `placementEventIntervalMs`;
 * - tasks on a lost instance (INACTIVE, gone, or agent disconnected for `instanceLostGraceMs`)
 *   are marked STOPPED at once (nobody is left to report it) and replaced elsewhere.
 *
 * Unlike the rest of src/control/, this module does I/O and imports from src/services/.
 */
import type { Platform, ServiceRuntime } from '../services/types.js';
import type { Change } from '../store/types.js';
import { ServiceError } from '../protocol/errors.js';
import { KIND, clusterScopedKey, type Scope } from '../services/ecs/keys.js';
import {
  appendServiceEvent,
  finishDraining,
  launchDaemonTasks,
  launchServiceTasks,
  setDaemonDesiredCount,
  mutateService,
  recordDeploymentCounts,
  servicePlacementConstraints,
  servicePlacementTask,
  updateDeployment,
  type ServiceRecord,
} from '../services/ecs/services.js';
import { mutateTask, requestTaskStop, type TaskRecord } from '../services/ecs/tasks.js';
import { candidatesFor, remainingOf, type ContainerInstanceRecord } from '../services/ecs/containerInstances.js';
import { findTaskDefinition } from '../services/ecs/taskDefinitions.js';
import { decide, isInstanceLost, serviceEvents, stopReasons } from './reconciler.js';
import { DEFAULT_SERVICE_STRATEGY, daemonInstances, place, PlacementValidationError, unableToPlaceMessage } from './placement.js';
import { elbv2TargetRegistry, type TargetRef, type TargetRegistry } from './targets.js';
import type { DeploymentView, ObservedTask, ReconcileAction, ServiceDesired, ServiceObserved, TargetHealth } from './types.js';

/** Settings of the controller on one Berth; read when used, so tests may change them at any time. */
export interface ServiceControllerOptions {
  /**
   * Whether the controller acts (default true; env BERTH_SERVICE_CONTROLLER=off disables it).
   * Tests of the bare ECS records turn it off to observe them without a scheduler.
   */
  enabled: boolean;
  /** Period of the reconcile tick (ms). Env BERTH_SERVICE_CONTROLLER_INTERVAL_MS; default 500. */
  intervalMs: number;
  /**
   * How long an instance's agent may stay disconnected (agentConnected false, set by the agent
   * sweep after BERTH_AGENT_TIMEOUT_MS) before its tasks are lost and replaced.
   * Env BERTH_INSTANCE_LOST_GRACE_MS; default 5000.
   */
  instanceLostGraceMs: number;
  /**
   * For services without a load balancer whose task definitions have no container health check,
   * how long a task must stay RUNNING before it counts as healthy (so a task that exits at once
   * counts against the circuit breaker instead of completing the deployment). Default 1000.
   */
  minHealthyRunningMs: number;
  /** How many services reconcile at the same time (default 4). */
  concurrency: number;
  /** Wait after a placement failure before the service tries to place again (ms). Default 2000. */
  placementRetryMs: number;
  /** The same "unable to place" event is recorded at most once per this many ms. Default 5 min. */
  placementEventIntervalMs: number;
  /** Where tasks are registered as targets (default: Berth's ELBv2). */
  targets: TargetRegistry;
  /** Address registered for a binding on 0.0.0.0 (default the instance attribute `berth.address`, else 127.0.0.1). */
  defaultTargetAddress: string;
}

const optionsByPlatform = new WeakMap<Platform, ServiceControllerOptions>();

function envMs(name: string, dflt: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

/** The controller settings of a Berth (created with defaults and env overrides on first use). */
export function serviceControllerOptions(platform: Platform): ServiceControllerOptions {
  let o = optionsByPlatform.get(platform);
  if (!o) {
    o = {
      enabled: process.env.BERTH_SERVICE_CONTROLLER !== 'off',
      intervalMs: envMs('BERTH_SERVICE_CONTROLLER_INTERVAL_MS', 500),
      instanceLostGraceMs: envMs('BERTH_INSTANCE_LOST_GRACE_MS', 5000),
      placementRetryMs: 2000,
      concurrency: 4,
      minHealthyRunningMs: 1000,
      placementEventIntervalMs: 5 * 60_000,
      targets: elbv2TargetRegistry,
      defaultTargetAddress: '127.0.0.1',
    };
    optionsByPlatform.set(platform, o);
  }
  return o;
}

/** Changes controller settings of a running Berth (take effect from the next reconcile). */
export function setServiceControllerOptions(platform: Platform, changes: Partial<ServiceControllerOptions>): void {
  Object.assign(serviceControllerOptions(platform), changes);
}

const FAILED_STOP_CODES = new Set(['TaskFailedToStart', 'EssentialContainerExited']);

/** Whether a stopped task counts against its deployment's circuit breaker. */
export function countsAsFailed(t: TaskRecord): boolean {
  if (t.lastStatus !== 'STOPPED') return false;
  if (t.stopCode && FAILED_STOP_CODES.has(t.stopCode)) return true;
  return (t.stoppedReason ?? '').startsWith('Task failed ');
}

/** The target (address, host port) of a task for one load balancer entry of its service. */
export function targetOf(task: TaskRecord, lb: { containerName?: string; containerPort?: number }, instance: ContainerInstanceRecord | undefined, fallback: string): TargetRef | undefined {
  const c = task.containers.find((x) => x.name === lb.containerName);
  const b = c?.networkBindings.find((x) => x.containerPort === lb.containerPort && (x.protocol ?? 'tcp') === 'tcp' && x.hostPort);
  if (!b?.hostPort) return undefined;
  const addr = b.bindIP && b.bindIP !== '0.0.0.0' && b.bindIP !== '::' ? b.bindIP : instance?.attributes.find((a) => a.name === 'berth.address')?.value ?? fallback;
  return { id: addr, port: b.hostPort };
}

function combineHealth(states: TargetHealth[]): TargetHealth {
  if (states.length === 0) return 'none';
  for (const s of ['none', 'draining', 'unhealthy', 'initial', 'unused'] as const) if (states.includes(s)) return s;
  return 'healthy';
}

interface Slot {
  running: Promise<void> | undefined;
  again: boolean;
}

/** One controller per Berth process; `startServiceController` creates and starts it. */
export class ServiceController {
  private slots = new Map<string, Slot>();
  private disconnectedSince = new Map<string, number>();
  private backoffUntil = new Map<string, number>();
  private placementEvents = new Map<string, number>();
  private instancePrints = new Map<string, string>();
  /**
   * The tasks of each cluster (`region/cluster/`) as last listed, with the change generation it
   * was listed at; any task change in the cluster bumps the generation (the store's change feed)
   * and the next reconcile lists again. Saves one full listing per service per round.
   */
  private taskCache = new Map<string, { gen: number; tasks: TaskRecord[] }>();
  private taskGen = new Map<string, number>();
  /** How many reconciles ran (for diagnosis and tests). */
  reconciles = 0;
  private timer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  private stopped = false;
  /** Errors of the last reconciles (newest last, at most 20), for diagnosis. */
  readonly errors: string[] = [];

  constructor(readonly platform: Platform) {}

  private get opts(): ServiceControllerOptions {
    return serviceControllerOptions(this.platform);
  }

  /** Starts watching the change feed and ticking. */
  async start(): Promise<void> {
    const rev = await this.platform.store.revision();
    this.unwatch = this.platform.store.watch(rev, (c) => this.onChange(c));
    const loop = () => {
      if (this.stopped) return;
      this.tick().catch((e) => this.noteError(e));
      this.timer = setTimeout(loop, this.opts.intervalMs);
      this.timer.unref();
    };
    loop();
  }

  /** Forgets everything cached (after the store was reset: `POST /_berth/reset`). */
  reset(): void {
    this.taskCache.clear();
    this.taskGen.clear();
    this.disconnectedSince.clear();
    this.backoffUntil.clear();
    this.placementEvents.clear();
    this.instancePrints.clear();
  }

  /** Stops ticking and watching; waits for reconciles in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([...this.slots.values()].map((s) => s.running?.catch(() => undefined)));
  }

  private noteError(e: unknown): void {
    this.errors.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    if (this.errors.length > 20) this.errors.shift();
  }

  private onChange(c: Change): void {
    if (this.stopped) return;
    const parts = c.key.split('/');
    if (parts.length < 3) return;
    const [region, cluster, id] = parts as [string, string, string];
    if (c.kind === KIND.task) {
      const k = `${region}/${cluster}/`;
      this.taskGen.set(k, (this.taskGen.get(k) ?? 0) + 1);
    }
    if (c.kind === KIND.service) {
      const v = c.value as ServiceRecord | null;
      if (v && (v.status === 'ACTIVE' || v.status === 'DRAINING')) this.schedule(region, cluster, id);
    } else if (c.kind === KIND.task) {
      const v = c.value as TaskRecord | null;
      if (v?.group.startsWith('service:')) this.schedule(region, cluster, v.group.slice('service:'.length));
    } else if (c.kind === KIND.containerInstance) {
      // Heartbeats change nothing placement cares about; new capacity or a changed instance
      // (status, agent, resources, attributes) lets services of the cluster place again now.
      const v = c.value as ContainerInstanceRecord | null;
      const print = v ? JSON.stringify([v.status, v.agentConnected, v.registeredResources, v.attributes]) : '';
      if (this.instancePrints.get(c.key) === print) return;
      if (v) this.instancePrints.set(c.key, print);
      else this.instancePrints.delete(c.key);
      for (const k of this.backoffUntil.keys()) if (k.startsWith(`${region}/${cluster}/`)) this.backoffUntil.delete(k);
      this.scheduleCluster(region, cluster).catch((e) => this.noteError(e));
    }
  }

  /** The cluster's task records (cached until a task of the cluster changes). Do not mutate. */
  private async clusterTasks(prefix: string, fresh = false): Promise<TaskRecord[]> {
    const gen = this.taskGen.get(prefix) ?? 0;
    const hit = this.taskCache.get(prefix);
    if (!fresh && hit && hit.gen === gen) return hit.tasks;
    const tasks = (await this.platform.store.list<TaskRecord>(KIND.task, { prefix })).map((r) => r.value);
    this.taskCache.set(prefix, { gen, tasks });
    return tasks;
  }

  private async scheduleCluster(region: string, cluster: string): Promise<void> {
    const recs = await this.platform.store.list<ServiceRecord>(KIND.service, { prefix: `${region}/${cluster}/` });
    for (const r of recs) if (r.value.status === 'ACTIVE' || r.value.status === 'DRAINING') this.schedule(region, cluster, r.value.serviceName);
  }

  /** Reconciles every ACTIVE/DRAINING service of every region once (the periodic tick). */
  async tick(): Promise<void> {
    if (!this.opts.enabled) return;
    const recs = await this.platform.store.list<ServiceRecord>(KIND.service);
    const running: Promise<void>[] = [];
    for (const r of recs) {
      if (r.value.status !== 'ACTIVE' && r.value.status !== 'DRAINING') continue;
      const region = r.key.split('/')[0]!;
      running.push(this.schedule(region, r.value.clusterName, r.value.serviceName));
    }
    await Promise.all(running);
  }

  private active = 0;
  private waiting: (() => void)[] = [];

  /** Bounds how many services reconcile at once (they contend for the same instance records). */
  private async acquire(): Promise<void> {
    if (this.active < this.opts.concurrency) {
      this.active++;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /** Runs (or queues one more) reconcile of a service; resolves when the current run ends. */
  schedule(region: string, cluster: string, name: string): Promise<void> {
    const key = `${region}/${cluster}/${name}`;
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { running: undefined, again: false };
      this.slots.set(key, slot);
    }
    if (slot.running) {
      slot.again = true;
      return slot.running;
    }
    const s = slot;
    s.running = (async () => {
      try {
        do {
          s.again = false;
          if (this.stopped) break;
          await this.acquire();
          try {
            await this.reconcile(region, cluster, name);
          } catch (e) {
            this.noteError(e);
          } finally {
            this.release();
          }
        } while (s.again);
      } finally {
        s.running = undefined;
        this.slots.delete(key);
      }
    })();
    return s.running;
  }

  /** One round for one service: observe, decide, apply. */
  async reconcile(region: string, clusterName: string, name: string): Promise<ReconcileAction[]> {
    const { platform } = this;
    const { store, clock } = platform;
    const opts = this.opts;
    if (!opts.enabled) return [];
    this.reconciles++;
    const s: Scope = { platform, region };
    const svcKey = clusterScopedKey(region, clusterName, name);
    const rec = await store.get<ServiceRecord>(KIND.service, svcKey);
    if (!rec || (rec.value.status !== 'ACTIVE' && rec.value.status !== 'DRAINING')) return [];
    const svc = rec.value;
    const now = clock.now();
    const prefix = `${region}/${clusterName}/`;
    const clusterTasks = await this.clusterTasks(prefix);
    const tasks = clusterTasks.filter((t) => t.group === `service:${name}`).map((t) => ({ ...t }));
    const instances = new Map((await store.list<ContainerInstanceRecord>(KIND.containerInstance, { prefix })).map((r) => [r.value.id, r.value]));

    // Which instances are lost: gone/INACTIVE, or agent disconnected for the grace period.
    for (const ci of instances.values()) {
      if (ci.agentConnected) this.disconnectedSince.delete(ci.id);
      else if (!this.disconnectedSince.has(ci.id)) this.disconnectedSince.set(ci.id, now);
    }
    const lostInstance = (id: string | undefined) => {
      if (!id) return false;
      const ci = instances.get(id);
      return isInstanceLost(ci && { status: ci.status, agentConnected: ci.agentConnected, agentDisconnectedAt: this.disconnectedSince.get(ci.id) }, now, opts.instanceLostGraceMs);
    };

    // Tasks already asked to stop whose instance is lost will never be reported: mark them STOPPED.
    for (const t of tasks) {
      if (t.lastStatus !== 'STOPPED' && t.desiredStatus === 'STOPPED' && lostInstance(t.containerInstanceId)) {
        const next = await this.markStopped(s, clusterName, t.taskId, t.stoppedReason ?? stopReasons.instanceLost());
        Object.assign(t, next);
      }
    }

    // The circuit breaker's counter: tasks of the deployment that failed (from the records).
    for (const d of svc.deployments) {
      if (d.rolloutState !== 'IN_PROGRESS') continue;
      const failed = tasks.filter((t) => t.startedBy === d.id && countsAsFailed(t)).length;
      if (failed > d.failedTasks) {
        await updateDeployment(s, clusterName, name, d.id, { failedTasks: failed });
        d.failedTasks = failed;
      }
    }

    // Target health of live tasks.
    const tgs = svc.loadBalancers.filter((lb) => lb.targetGroupArn);
    const live = tasks.filter((t) => t.lastStatus !== 'STOPPED');
    const health = new Map<string, TargetHealth>();
    let delaySeconds: number | undefined;
    if (tgs.length) {
      delaySeconds = 0;
      for (const lb of tgs) {
        try {
          delaySeconds = Math.max(delaySeconds, await opts.targets.deregistrationDelaySeconds(platform, lb.targetGroupArn!));
        } catch {
          // A deleted target group has nothing to drain.
        }
      }
      for (const t of live) {
        const states: TargetHealth[] = [];
        for (const lb of tgs) {
          const ref = targetOf(t, lb, instances.get(t.containerInstanceId ?? ''), opts.defaultTargetAddress);
          if (!ref) {
            states.push('none');
            continue;
          }
          try {
            states.push(await opts.targets.health(platform, lb.targetGroupArn!, ref));
          } catch {
            states.push('none');
          }
        }
        let h = combineHealth(states);
        // ALB keeps a deregistered target draining for the deregistration delay; Berth's load
        // balancer may drop an idle one sooner. Keep the task running for the whole delay anyway,
        // as ECS does, so connections that are not requests (keep-alive, streams) can finish.
        if (h === 'none' && t.drainStartedAt !== undefined && now < t.drainStartedAt + delaySeconds * 1000) h = 'draining';
        health.set(t.taskId, h);
      }
    }

    const hasHealthCheck = new Map<string, boolean>();
    for (const d of svc.deployments) {
      if (hasHealthCheck.has(d.taskDefinition)) continue;
      const td = await findTaskDefinition(s, d.taskDefinition);
      hasHealthCheck.set(d.taskDefinition, (td?.value.taskDefinition.containerDefinitions ?? []).some((c) => c.essential !== false && !!c.healthCheck));
    }

    const dc = svc.deploymentConfiguration;
    const strategy = svc.placementStrategy.length ? svc.placementStrategy : DEFAULT_SERVICE_STRATEGY;
    const desired: ServiceDesired = {
      serviceName: name,
      status: svc.status,
      desiredCount: svc.desiredCount,
      deployments: svc.deployments.map(
        (d): DeploymentView => ({
          id: d.id,
          status: d.status,
          taskDefinition: d.taskDefinition,
          hasHealthCheck: hasHealthCheck.get(d.taskDefinition) ?? false,
          rolloutState: d.rolloutState as DeploymentView['rolloutState'],
          createdAt: d.createdAt,
          failedTasks: d.failedTasks,
          runningCount: d.recordedRunningCount,
          pendingCount: d.recordedPendingCount,
        }),
      ),
      minimumHealthyPercent: dc.minimumHealthyPercent,
      maximumPercent: dc.maximumPercent,
      circuitBreaker: dc.deploymentCircuitBreaker ? { enable: dc.deploymentCircuitBreaker.enable, rollback: dc.deploymentCircuitBreaker.rollback } : undefined,
      healthCheckGracePeriodSeconds:
        tgs.length === 0 && ![...hasHealthCheck.values()].some(Boolean)
          ? Math.max(svc.healthCheckGracePeriodSeconds ?? 0, opts.minHealthyRunningMs / 1000)
          : svc.healthCheckGracePeriodSeconds,
      targetGroupArns: tgs.map((lb) => lb.targetGroupArn!),
      steady: svc.steady,
      placementStrategy: strategy,
      schedulingStrategy: svc.schedulingStrategy,
    };
    const observedTasks: ObservedTask[] = live.map((t) => ({
      taskId: t.taskId,
      deploymentId: t.startedBy ?? '',
      lastStatus: t.lastStatus,
      desiredStatus: t.desiredStatus,
      healthStatus: t.healthStatus,
      startedAt: t.startedAt,
      createdAt: t.createdAt,
      containerInstanceId: t.containerInstanceId,
      instanceLost: lostInstance(t.containerInstanceId),
      instanceDraining: instances.get(t.containerInstanceId ?? '')?.status === 'DRAINING',
      targetHealth: tgs.length ? health.get(t.taskId) : undefined,
      drainStartedAt: t.drainStartedAt,
    }));
    const observed: ServiceObserved = { tasks: observedTasks, deregistrationDelaySeconds: delaySeconds };
    {
      // Instance facts for strategy-aware scale-in (which tasks stop first keeps the spread).
      const liveOn = new Map<string, TaskRecord[]>();
      for (const t of clusterTasks) {
        if (t.lastStatus === 'STOPPED' || !t.containerInstanceId) continue;
        const a = liveOn.get(t.containerInstanceId) ?? [];
        a.push(t);
        liveOn.set(t.containerInstanceId, a);
      }
      observed.instances = Object.fromEntries(
        [...instances.values()].map((ci) => {
          const rem = remainingOf(ci, liveOn.get(ci.id) ?? []);
          return [ci.id, { attributes: Object.fromEntries(ci.attributes.map((a) => [a.name, a.value ?? null])), remainingCpu: rem.cpu, remainingMemory: rem.memory }];
        }),
      );
    }

    if (svc.schedulingStrategy === 'DAEMON' && svc.status === 'ACTIVE') observed.daemonInstances = await this.daemonInstancesOf(s, svc, clusterTasks, lostInstance);

    const actions = decide(desired, observed, now);
    const byId = new Map(tasks.map((t) => [t.taskId, t]));
    // State changes first, then the reconciler's events in its order, then the controller's own
    // ("has started", placement failures), so a replacement reads "stopped ..." then "started ...".
    const later: string[] = [];
    const suppress = new Set<string>();
    for (const a of [...actions.filter((x) => x.type !== 'event'), ...actions.filter((x) => x.type === 'event')]) {
      if (this.stopped) break;
      await this.apply(s, svc, a, byId, instances, lostInstance, now, later, suppress);
    }
    for (const m of later) await appendServiceEvent(s, clusterName, name, m);
    return actions;
  }

  private async markStopped(s: Scope, cluster: string, taskId: string, reason: string): Promise<TaskRecord> {
    const now = s.platform.clock.now();
    return mutateTask(s, cluster, taskId, (t) => {
      if (t.lastStatus === 'STOPPED') return undefined;
      t.desiredStatus = 'STOPPED';
      t.lastStatus = 'STOPPED';
      t.stoppingAt ??= now;
      t.stoppedAt = now;
      t.executionStoppedAt ??= now;
      t.stopCode ??= 'ServiceSchedulerInitiated';
      t.stoppedReason ??= reason;
      for (const c of t.containers) c.lastStatus = 'STOPPED';
      return t;
    });
  }

  /**
   * The instances a DAEMON service must run on (see `daemonInstances` in placement.ts): the
   * PRIMARY deployment's task definition gives the required attributes and its memberOf
   * constraints; a DRAINING instance keeps its daemon task while tasks of REPLICA services of
   * the cluster are still live on it.
   */
  private async daemonInstancesOf(s: Scope, svc: ServiceRecord, clusterTasks: TaskRecord[], lostInstance: (id: string | undefined) => boolean) {
    const primary = svc.deployments.find((d) => d.status === 'PRIMARY');
    const td = primary ? (await findTaskDefinition(s, primary.taskDefinition))?.value.taskDefinition : undefined;
    const { candidates } = await candidatesFor(s, svc.clusterName);
    const liveGroups = new Map<string, string[]>();
    for (const t of clusterTasks) {
      if (t.lastStatus === 'STOPPED' || !t.containerInstanceId) continue;
      const a = liveGroups.get(t.containerInstanceId) ?? [];
      a.push(t.group);
      liveGroups.set(t.containerInstanceId, a);
    }
    const own = `service:${svc.serviceName}`;
    let daemonGroups: Set<string> | undefined;
    if (candidates.some((c) => c.status === 'DRAINING')) {
      const recs = await s.platform.store.list<ServiceRecord>(KIND.service, { prefix: `${s.region}/${svc.clusterName}/` });
      daemonGroups = new Set(recs.filter((r) => r.value.schedulingStrategy === 'DAEMON').map((r) => `service:${r.value.serviceName}`));
    }
    try {
      return daemonInstances(candidates, {
        constraints: servicePlacementConstraints(td, svc),
        requiredAttributes: td?.requiresAttributes,
        taskGroupsOn: (id) => (liveGroups.get(id) ?? []).filter((g) => g !== own),
        isLost: (id) => lostInstance(id),
        keepOnDraining: (id) => (liveGroups.get(id) ?? []).some((g) => g !== own && !daemonGroups?.has(g)),
      });
    } catch (e) {
      if (e instanceof PlacementValidationError) return [];
      throw e;
    }
  }

  private async emitThrottled(s: Scope, svc: ServiceRecord, message: string): Promise<void> {
    const now = s.platform.clock.now();
    // Keyed by the service's incarnation: a service re-created under the same name starts afresh.
    const key = `${svc.serviceArn}@${svc.createdAt}\n${message}`;
    const window = this.opts.placementEventIntervalMs;
    const last = this.placementEvents.get(key);
    if (last !== undefined && now - last < window) return;
    // Another replica (or an earlier run of this one) may have recorded it already.
    if (svc.events.some((e) => e.message === message && now - e.createdAt < window)) {
      this.placementEvents.set(key, now);
      return;
    }
    this.placementEvents.set(key, now);
    await appendServiceEvent(s, svc.clusterName, svc.serviceName, message);
  }

  private async placementMessage(s: Scope, svc: ServiceRecord, deploymentId: string): Promise<string> {
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

  private async apply(
    s: Scope,
    svc: ServiceRecord,
    a: ReconcileAction,
    tasks: Map<string, TaskRecord>,
    instances: Map<string, ContainerInstanceRecord>,
    lostInstance: (id: string | undefined) => boolean,
    now: number,
    later: string[],
    suppress: Set<string>,
  ): Promise<void> {
    let changed = false;
    const cluster = svc.clusterName;
    const name = svc.serviceName;
    const svcKey = `${s.region}/${cluster}/${name}`;
    const opts = this.opts;
    const tgs = svc.loadBalancers.filter((lb) => lb.targetGroupArn);
    switch (a.type) {
      case 'startTasks': {
        if ((this.backoffUntil.get(svcKey) ?? 0) > now) return;
        // Starting is the one action that is not idempotent by itself: make sure the decision
        // was taken on the current tasks (a replica or an earlier round may have started some).
        const current = (await this.clusterTasks(`${s.region}/${cluster}/`, true)).filter((t) => t.group === `service:${name}` && t.lastStatus !== 'STOPPED').map((t) => `${t.taskId}:${t.desiredStatus}`);
        const seen = [...tasks.values()].filter((t) => t.lastStatus !== 'STOPPED').map((t) => `${t.taskId}:${t.desiredStatus}`);
        if (current.length !== seen.length || current.some((x) => !seen.includes(x))) {
          void this.schedule(s.region, cluster, name); // decide again on the current tasks
          return;
        }
        if (a.containerInstanceIds) {
          // DAEMON: one task on each named instance.
          let r;
          try {
            r = await launchDaemonTasks(s, cluster, name, a.deploymentId, a.containerInstanceIds);
          } catch (e) {
            if (!(e instanceof ServiceError)) throw e;
            return;
          }
          if (r.tasks.length) later.push(serviceEvents.startedTasks(name, r.tasks.map((t) => t.taskId)));
          if (r.messages.length) {
            this.backoffUntil.set(svcKey, now + opts.placementRetryMs);
            for (const m of new Set(r.messages)) await this.emitThrottled(s, svc, m);
          } else {
            this.backoffUntil.delete(svcKey);
          }
          return;
        }
        let started: TaskRecord[] = [];
        try {
          started = (await launchServiceTasks(s, cluster, name, a.deploymentId, a.count)).tasks;
        } catch (e) {
          if (!(e instanceof ServiceError)) throw e;
        }
        if (started.length) later.push(serviceEvents.startedTasks(name, started.map((t) => t.taskId)));
        if (started.length < a.count) {
          this.backoffUntil.set(svcKey, now + opts.placementRetryMs);
          await this.emitThrottled(s, svc, await this.placementMessage(s, svc, a.deploymentId));
        } else {
          this.backoffUntil.delete(svcKey);
        }
        return;
      }
      case 'stopTask': {
        const t = tasks.get(a.taskId);
        if (t && lostInstance(t.containerInstanceId)) await this.markStopped(s, cluster, a.taskId, a.reason);
        else await requestTaskStop(s, cluster, a.taskId, { reason: a.reason, stopCode: 'ServiceSchedulerInitiated' });
        return;
      }
      case 'registerTarget':
      case 'deregisterTarget': {
        const t = tasks.get(a.taskId);
        if (!t) return;
        for (const lb of tgs) {
          const ref = targetOf(t, lb, instances.get(t.containerInstanceId ?? ''), opts.defaultTargetAddress);
          if (!ref) continue;
          try {
            if (a.type === 'registerTarget') await opts.targets.register(s.platform, lb.targetGroupArn!, ref);
            else await opts.targets.deregister(s.platform, lb.targetGroupArn!, ref);
          } catch (e) {
            const why = e instanceof Error ? e.message : String(e);
            await this.emitThrottled(s, svc, `(service ${name}) failed to ${a.type === 'registerTarget' ? 'register' : 'deregister'} targets in (target-group ${lb.targetGroupArn}) with (error ${why})`);
          }
        }
        if (a.type === 'deregisterTarget' && t.drainStartedAt === undefined) {
          await mutateTask(s, cluster, a.taskId, (x) => (x.drainStartedAt === undefined ? { ...x, drainStartedAt: now } : undefined));
        }
        return;
      }
      case 'markDeploymentCompleted':
        await mutateService(s, cluster, name, (x) => {
          const d = x.deployments.find((y) => y.id === a.deploymentId);
          if (!d || d.status !== 'PRIMARY' || d.rolloutState === 'COMPLETED') return undefined;
          changed = true;
          d.rolloutState = 'COMPLETED';
          if (!d.rolloutStateReason.startsWith('ECS deployment circuit breaker')) d.rolloutStateReason = `ECS deployment ${d.id} completed.`;
          d.updatedAt = now;
          const liveDeps = new Set([...tasks.values()].filter((t) => t.lastStatus !== 'STOPPED').map((t) => t.startedBy));
          x.deployments = x.deployments.filter((y) => y.status === 'PRIMARY' || liveDeps.has(y.id));
          return x;
        });
        if (!changed) suppress.add(serviceEvents.deploymentCompleted(name, a.deploymentId));
        return;
      case 'markDeploymentFailed':
        await mutateService(s, cluster, name, (x) => {
          const d = x.deployments.find((y) => y.id === a.deploymentId);
          if (!d || d.status !== 'PRIMARY' || d.rolloutState !== 'IN_PROGRESS') return undefined;
          changed = true;
          d.rolloutState = 'FAILED';
          d.rolloutStateReason = `ECS deployment circuit breaker: ${a.reason}.`;
          d.updatedAt = now;
          return x;
        });
        if (!changed) suppress.add(serviceEvents.deploymentFailed(name, a.deploymentId));
        return;
      case 'rollback':
        await mutateService(s, cluster, name, (x) => {
          const from = x.deployments.find((d) => d.id === a.fromDeploymentId);
          const to = x.deployments.find((d) => d.id === a.toDeploymentId);
          if (!from || !to || to.status === 'PRIMARY' || from.status !== 'PRIMARY') return undefined;
          changed = true;
          from.status = 'ACTIVE';
          from.rolloutState = 'FAILED';
          from.updatedAt = now;
          for (const d of x.deployments) if (d.status === 'PRIMARY') d.status = 'ACTIVE';
          to.status = 'PRIMARY';
          to.rolloutState = 'IN_PROGRESS';
          to.rolloutStateReason = `ECS deployment circuit breaker: rolling back to deploymentId ${to.id}.`;
          to.failedTasks = 0;
          to.desiredCount = x.desiredCount;
          to.updatedAt = now;
          x.taskDefinition = to.taskDefinition;
          // Newest first means PRIMARY first.
          x.deployments = [to, ...x.deployments.filter((d) => d !== to)];
          return x;
        });
        if (!changed) suppress.add(serviceEvents.rollingBack(name, a.toDeploymentId));
        return;
      case 'setRunningCounts':
        await recordDeploymentCounts(s, cluster, name, a.deployments);
        return;
      case 'setSteadyState':
        await mutateService(s, cluster, name, (x) => {
          if ((x.steady ?? false) === a.steady) return undefined;
          changed = true;
          return { ...x, steady: a.steady };
        });
        // Another replica got there first: its event says it already.
        if (!changed) suppress.add(serviceEvents.steadyState(name));
        return;
      case 'setDesiredCount':
        await setDaemonDesiredCount(s, cluster, name, a.desiredCount);
        return;
      case 'markServiceInactive':
        await finishDraining(s, cluster, name);
        return;
      case 'event':
        if (!suppress.has(a.message)) await appendServiceEvent(s, cluster, name, a.message);
        return;
    }
  }
}

/** Creates and starts the controller of a Berth (ECS's `start` hook calls this). */
export async function startServiceController(platform: Platform): Promise<ServiceRuntime & { controller: ServiceController }> {
  const controller = new ServiceController(platform);
  platform.hooks['control.serviceController'] = controller;
  await controller.start();
  return { controller, stop: () => controller.stop() };
}
