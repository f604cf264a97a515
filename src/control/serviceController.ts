/**
 * The service controller: the loop around the pure decision core. For every ACTIVE or DRAINING
 * service it
 *   1. gathers (I/O): the service record, its tasks, the cluster's instances and live tasks, the
 *      target health of its tasks and the deregistration delays of its target groups;
 *   2. observes (pure, ./observe.ts): maps those records onto the reconciler's shapes;
 *   3. decides (pure, ./reconciler.ts): the actions, lost/failed/draining/grace included;
 *   4. applies each action through the ECS domain (src/domain/ecs/) and the target registry.
 *
 * When it runs: on every store change to a service, one of its tasks or a container instance of
 * its cluster (the change feed), and on a periodic tick on the platform clock (`intervalMs`) for
 * time-driven decisions (grace periods, draining, lost instances, target health).
 *
 * Invariants:
 * - at most one reconcile per service at a time in this process (a change during a reconcile
 *   runs it once more afterwards); several control-plane replicas may run it concurrently: every
 *   write goes through the domain's optimistic transitions, each of which reports whether it
 *   changed anything, and every action is idempotent given the next observation;
 * - a failing placement neither spins nor spams: the service waits `placementRetryMs` (or until
 *   a container instance of its cluster changes) before trying again, and the same "unable to
 *   place" message is recorded at most once per `placementEventIntervalMs`.
 */
import { ServiceError } from '../errors.js';
import type { Change } from '../store/types.js';
import type { Platform, Scope } from '../domain/platform.js';
import { candidatesFor } from '../domain/ecs/instances.js';
import { KIND, clusterScopedKey } from '../domain/ecs/keys.js';
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
import { computedDesiredCount, loadBalancersOfTask, removeDrainedTaskSet, setTaskSetStability, usesTaskSets } from '../domain/ecs/taskSets.js';
import { markTaskStopped, mutateTask, requestTaskStop } from '../domain/ecs/tasks.js';
import { DEFAULT_SERVICE_STRATEGY, daemonInstances, place, PlacementValidationError, unableToPlaceMessage } from '../domain/placement/placement.js';
import { startLoop, type Loop } from './loop.js';
import { observeService, targetOf, type ServiceFacts } from './observe.js';
import { decide, isInstanceLost, serviceEvents } from './reconciler.js';
import type { TargetRegistry } from './targets.js';
import { syncServiceRegistries } from './serviceRegistries.js';
import type { ReconcileAction, TargetHealth } from './types.js';

/** Settings of the controller. They may change while it runs (`configure`) and apply from the next reconcile. */
export interface ServiceControllerOptions {
  /** Whether the controller acts (tests of the bare ECS records turn it off). Default true. */
  enabled: boolean;
  /** Period of the reconcile tick (ms). Default 500. */
  intervalMs: number;
  /**
   * How long an instance's agent may stay disconnected (agentConnected false, set by the agent
   * sweep after its timeout, see ./agentSweep.ts) before the tasks on it are lost and replaced.
   * Default 5000.
   */
  instanceLostAfterMs: number;
  /**
   * For services without a load balancer whose task definitions have no container health check,
   * how long a task must stay RUNNING before it counts as healthy. Default 1000.
   */
  minHealthyRunningMs: number;
  /** How many services reconcile at the same time. Default 4. */
  concurrency: number;
  /** Wait after a placement failure before the service tries to place again (ms). Default 2000. */
  placementRetryMs: number;
  /** The same "unable to place" event is recorded at most once per this many ms. Default 5 min. */
  placementEventIntervalMs: number;
  /** Address registered for a binding on 0.0.0.0 when the instance has no `berth.address` attribute. Default 127.0.0.1. */
  defaultTargetAddress: string;
}

export const DEFAULT_SERVICE_CONTROLLER_OPTIONS: ServiceControllerOptions = {
  enabled: true,
  intervalMs: 500,
  instanceLostAfterMs: 5000,
  minHealthyRunningMs: 1000,
  concurrency: 4,
  placementRetryMs: 2000,
  placementEventIntervalMs: 5 * 60_000,
  defaultTargetAddress: '127.0.0.1',
};

interface Slot {
  running: Promise<void> | undefined;
  again: boolean;
}

/** One controller per Berth process; the composition root creates and starts it. */
export class ServiceController {
  private readonly options: ServiceControllerOptions;
  private slots = new Map<string, Slot>();
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
  private loop: Loop | undefined;
  private unwatch: (() => void) | undefined;
  private stopped = false;
  private active = 0;
  private waiting: (() => void)[] = [];
  /** Errors of the last reconciles (newest last, at most 20), for diagnosis. */
  readonly errors: string[] = [];

  constructor(
    readonly platform: Platform,
    private readonly targets: TargetRegistry,
    options: Partial<ServiceControllerOptions> = {},
    /** Pins each deployment's images to digests when it first launches (Berth's registry). */
    readonly resolveImage?: ImageResolver,
  ) {
    this.options = { ...DEFAULT_SERVICE_CONTROLLER_OPTIONS, ...options };
  }

  /** Changes settings; they apply from the next reconcile. */
  configure(changes: Partial<ServiceControllerOptions>): void {
    Object.assign(this.options, changes);
  }

  /** The current settings (a copy). */
  get settings(): Readonly<ServiceControllerOptions> {
    return { ...this.options };
  }

  /** Starts watching the change feed and ticking on the platform clock. */
  async start(): Promise<void> {
    // Started again after a stop (this replica took the lease back): from a clean slate.
    this.stopped = false;
    this.reset();
    const rev = await this.platform.store.revision();
    this.unwatch = this.platform.store.watch(rev, (c) => this.onChange(c));
    this.loop = startLoop(this.platform.clock, this.options.intervalMs, () => this.tick(), (e) => this.noteError(e));
    void this.loop.runNow();
  }

  /** Forgets everything cached (after the store was reset: `POST /_berth/reset`). */
  reset(): void {
    this.taskCache.clear();
    this.taskGen.clear();
    this.backoffUntil.clear();
    this.placementEvents.clear();
    this.instancePrints.clear();
  }

  /** Stops ticking and watching; waits for reconciles in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    await this.loop?.stop();
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
      const v = c.value as TaskRecord | null;
      if (v?.group.startsWith('service:')) this.schedule(region, cluster, v.group.slice('service:'.length));
    } else if (c.kind === KIND.service) {
      const v = c.value as ServiceRecord | null;
      if (v && (v.status === 'ACTIVE' || v.status === 'DRAINING')) this.schedule(region, cluster, id);
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
    if (!this.options.enabled) return;
    const recs = await this.platform.store.list<ServiceRecord>(KIND.service);
    const running: Promise<void>[] = [];
    for (const r of recs) {
      if (r.value.status !== 'ACTIVE' && r.value.status !== 'DRAINING') continue;
      running.push(this.schedule(r.key.split('/')[0]!, r.value.clusterName, r.value.serviceName));
    }
    await Promise.all(running);
  }

  /** Bounds how many services reconcile at once (they contend for the same instance records). */
  private async acquire(): Promise<void> {
    if (this.active < this.options.concurrency) {
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

  /** One round for one service: gather, observe, decide, apply. Returns the actions decided. */
  async reconcile(region: string, clusterName: string, name: string): Promise<ReconcileAction[]> {
    if (!this.options.enabled) return [];
    this.reconciles++;
    const s: Scope = { platform: this.platform, region };
    const now = this.platform.clock.now();
    const facts = await this.gather(s, clusterName, name, now);
    if (!facts) return [];
    for (const m of await syncServiceRegistries(s, facts.service, facts.tasks, facts.instances, this.options.defaultTargetAddress)) await this.emitThrottled(s, facts.service, m);
    if (usesTaskSets(facts.service)) return this.reconcileTaskSets(s, facts, now);
    const { desired, observed } = observeService(facts, this.options);
    const actions = decide(desired, observed, now);
    const apply = new Applier(this, s, facts, now);
    // State changes first, then the reconciler's events in its order, then the controller's own
    // ("has started", placement failures), so a replacement reads "stopped ..." then "started ...".
    for (const a of [...actions.filter((x) => x.type !== 'event'), ...actions.filter((x) => x.type === 'event')]) {
      if (this.stopped) break;
      await apply.action(a);
    }
    for (const m of apply.later) await appendServiceEvent(s, clusterName, name, m);
    return actions;
  }

  /**
   * An EXTERNAL or CODE_DEPLOY service: each task set is reconciled as a service of its own,
   * through the same `decide`: its desired count is its computed one (scale x the service's
   * desiredCount), its load balancers its own, its one deployment itself, no circuit breaker. A
   * DRAINING task set (DeleteTaskSet) has its targets deregistered and its tasks stopped, then
   * is removed; its stability follows `decide`'s steady verdict. Tasks of no task set are stopped.
   */
  private async reconcileTaskSets(s: Scope, facts: ServiceFacts, now: number): Promise<ReconcileAction[]> {
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
      const { desired, observed } = observeService(subFacts, this.options);
      const actions = decide(desired, observed, now);
      all.push(...actions);
      quiet.add(serviceEvents.steadyState(svc.serviceName)).add(serviceEvents.deploymentCompleted(svc.serviceName, ts.id));
      const apply = new Applier(this, s, subFacts, now, ts.id);
      let steady = ts.stabilityStatus === 'STEADY_STATE';
      for (const a of [...actions.filter((x) => x.type !== 'event'), ...actions.filter((x) => x.type === 'event')]) {
        if (this.stopped) break;
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

  /** Reads everything `observeService` needs for one service; undefined when it is not ACTIVE or DRAINING. */
  private async gather(s: Scope, clusterName: string, name: string, now: number): Promise<ServiceFacts | undefined> {
    const { store } = this.platform;
    const rec = await store.get<ServiceRecord>(KIND.service, clusterScopedKey(s.region, clusterName, name));
    if (!rec || (rec.value.status !== 'ACTIVE' && rec.value.status !== 'DRAINING')) return undefined;
    const svc = rec.value;
    const prefix = `${s.region}/${clusterName}/`;
    const clusterTasks = await this.clusterTasks(prefix);
    const tasks = clusterTasks.filter((t) => t.group === `service:${name}`);
    const instances = (await store.list<ContainerInstanceRecord>(KIND.containerInstance, { prefix })).map((r) => r.value);
    const byId = new Map(instances.map((ci) => [ci.id, ci]));

    // A task set's tasks are behind the task set's target groups, other services' behind the service's.
    const allLbs = [...svc.loadBalancers, ...(svc.taskSets ?? []).flatMap((ts) => ts.loadBalancers)];
    const tgs = allLbs.filter((lb, i) => lb.targetGroupArn && allLbs.findIndex((x) => x.targetGroupArn === lb.targetGroupArn) === i);
    const targetHealth = new Map<string, TargetHealth[]>();
    let deregistrationDelaySeconds: number | undefined;
    if (tgs.length) {
      deregistrationDelaySeconds = 0;
      for (const lb of tgs) {
        try {
          deregistrationDelaySeconds = Math.max(deregistrationDelaySeconds, await this.targets.deregistrationDelaySeconds(lb.targetGroupArn!));
        } catch {
          // A deleted target group has nothing to drain.
        }
      }
      for (const t of tasks) {
        if (t.lastStatus === 'STOPPED') continue;
        const states: TargetHealth[] = [];
        for (const lb of loadBalancersOfTask(svc, t).filter((x) => x.targetGroupArn)) {
          const ref = targetOf(t, lb, byId.get(t.containerInstanceId ?? ''), this.options.defaultTargetAddress);
          states.push(ref ? await this.targets.health(lb.targetGroupArn!, ref).catch(() => 'none' as const) : 'none');
        }
        targetHealth.set(t.taskId, states);
      }
    }

    const hasHealthCheck = new Map<string, boolean>();
    for (const d of svc.deployments) {
      if (hasHealthCheck.has(d.taskDefinition)) continue;
      const td = await findTaskDefinition(s, d.taskDefinition);
      hasHealthCheck.set(d.taskDefinition, (td?.value.taskDefinition.containerDefinitions ?? []).some((c) => c.essential !== false && !!c.healthCheck));
    }

    const daemon = svc.schedulingStrategy === 'DAEMON' && svc.status === 'ACTIVE' ? await this.daemonInstancesOf(s, svc, clusterTasks, byId, now) : undefined;
    return {
      service: svc,
      tasks,
      clusterTasks,
      instances,
      targetHealth,
      deregistrationDelaySeconds,
      hasHealthCheck,
      daemonInstances: daemon,
    };
  }

  /**
   * The instances a DAEMON service must run on (see `daemonInstances` in placement.ts): the
   * PRIMARY deployment's task definition gives the required attributes and its memberOf
   * constraints; a DRAINING instance keeps its daemon task while tasks of REPLICA services of
   * the cluster are still live on it; lost instances get none.
   */
  private async daemonInstancesOf(s: Scope, svc: ServiceRecord, clusterTasks: readonly TaskRecord[], instances: Map<string, ContainerInstanceRecord>, now: number) {
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
      const recs = await this.platform.store.list<ServiceRecord>(KIND.service, { prefix: `${s.region}/${svc.clusterName}/` });
      daemonGroups = new Set(recs.filter((r) => r.value.schedulingStrategy === 'DAEMON').map((r) => `service:${r.value.serviceName}`));
    }
    try {
      return daemonInstances(candidates, {
        constraints: servicePlacementConstraints(td, svc),
        requiredAttributes: td?.requiresAttributes,
        taskGroupsOn: (id) => (liveGroups.get(id) ?? []).filter((g) => g !== own),
        isLost: (id) => isInstanceLost(instances.get(id), now, this.options.instanceLostAfterMs),
        keepOnDraining: (id) => (liveGroups.get(id) ?? []).some((g) => g !== own && !daemonGroups?.has(g)),
      });
    } catch (e) {
      if (e instanceof PlacementValidationError) return [];
      throw e;
    }
  }

  /** Records a service event at most once per `placementEventIntervalMs` (placement failures, target errors). */
  async emitThrottled(s: Scope, svc: ServiceRecord, message: string): Promise<void> {
    const now = this.platform.clock.now();
    // Keyed by the service's incarnation: a service re-created under the same name starts afresh.
    const key = `${svc.serviceArn}@${svc.createdAt}\n${message}`;
    const window = this.options.placementEventIntervalMs;
    const last = this.placementEvents.get(key);
    if (last !== undefined && now - last < window) return;
    this.placementEvents.set(key, now);
    // Another replica (or an earlier run of this one) may have recorded it already.
    if (svc.events.some((e) => e.message === message && now - e.createdAt < window)) return;
    await appendServiceEvent(s, svc.clusterName, svc.serviceName, message);
  }

  /** Why the service's next task fits nowhere, as ECS words it. */
  async placementMessage(s: Scope, svc: ServiceRecord, deploymentId: string): Promise<string> {
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

  /** Whether the service is waiting out a placement failure; `until` sets or clears the wait. */
  backoff(key: string, until?: number | null): boolean {
    if (until === null) this.backoffUntil.delete(key);
    else if (until !== undefined) this.backoffUntil.set(key, until);
    return (this.backoffUntil.get(key) ?? 0) > this.platform.clock.now();
  }

  /** The settings `Applier` reads. */
  get current(): Readonly<ServiceControllerOptions> {
    return this.options;
  }

  /** The target registry `Applier` uses. */
  get registry(): TargetRegistry {
    return this.targets;
  }

  /** Whether a decision was taken on the service's current live tasks (a replica or an earlier round may have started some). */
  async sameLiveTasks(s: Scope, svc: ServiceRecord, seen: readonly TaskRecord[], taskSetId?: string): Promise<boolean> {
    const key = (t: TaskRecord) => `${t.taskId}:${t.desiredStatus}`;
    const current = (await this.clusterTasks(`${s.region}/${svc.clusterName}/`, true))
      .filter((t) => t.group === `service:${svc.serviceName}` && t.lastStatus !== 'STOPPED' && (taskSetId === undefined || t.startedBy === taskSetId))
      .map(key);
    const before = seen.filter((t) => t.lastStatus !== 'STOPPED').map(key);
    return current.length === before.length && current.every((x) => before.includes(x));
  }
}

/**
 * Applies one round's actions for one service, each through the domain's transitions. A
 * transition that reports "nothing changed" (another replica did it first) suppresses the
 * event that would announce it, so no event is said twice.
 */
class Applier {
  /** The controller's own events, said after the reconciler's. */
  readonly later: string[] = [];
  private readonly suppress = new Set<string>();
  private readonly byId: Map<string, TaskRecord>;
  private readonly instances: Map<string, ContainerInstanceRecord>;

  constructor(
    private readonly ctl: ServiceController,
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
      await ctl.emitThrottled(s, svc, await ctl.placementMessage(s, svc, deploymentId));
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
