/**
 * The service controller's reads (./serviceController.ts): everything `observeService` needs for
 * one service, gathered from the store and the target registry — the service record, its tasks,
 * the cluster's instances and live tasks, the target health of its tasks, the deregistration
 * delays of its target groups, which task definitions have a container health check, and for a
 * DAEMON service the instances it must run on.
 *
 * Invariant: a cluster's task list is read once per change generation — any task change in the
 * cluster (reported through `noteTaskChange` from the change feed) makes the next read list again.
 */
import type { Platform, Scope } from '../domain/platform.js';
import { candidatesFor } from '../domain/ecs/instances.js';
import { KIND, clusterScopedKey } from '../domain/ecs/keys.js';
import type { ContainerInstanceRecord, ServiceRecord, TaskRecord } from '../domain/ecs/records.js';
import { servicePlacementConstraints } from '../domain/ecs/services.js';
import { findTaskDefinition } from '../domain/ecs/taskDefinitions.js';
import { loadBalancersOfTask } from '../domain/ecs/taskSets.js';
import { daemonInstances, PlacementValidationError } from '../domain/placement/placement.js';
import { targetOf, type ObserveOptions, type ServiceFacts } from './observe.js';
import { isInstanceLost } from './reconciler.js';
import type { TargetRegistry } from './targets.js';
import type { TargetHealth } from './types.js';

/** The settings the reads depend on (the controller's own, read at each call). */
export interface ServiceFactsSettings extends ObserveOptions {
  /** Address registered for a binding on 0.0.0.0 when the instance has no `berth.address` attribute. */
  defaultTargetAddress: string;
}

/** Reads the facts of services for one controller; holds its per-cluster task cache. */
export class ServiceFactsReader {
  /**
   * The tasks of each cluster (`region/cluster/`) as last listed, with the change generation it
   * was listed at; any task change in the cluster bumps the generation (the store's change feed)
   * and the next reconcile lists again. Saves one full listing per service per round.
   */
  private taskCache = new Map<string, { gen: number; tasks: TaskRecord[] }>();
  private taskGen = new Map<string, number>();

  constructor(
    private readonly platform: Platform,
    private readonly targets: TargetRegistry,
    /** The controller's settings object (it may change between calls). */
    private readonly options: Readonly<ServiceFactsSettings>,
  ) {}

  /** Forgets the cached task lists. */
  reset(): void {
    this.taskCache.clear();
    this.taskGen.clear();
  }

  /** A task of the cluster `prefix` (`region/cluster/`) changed: its cached list is stale. */
  noteTaskChange(prefix: string): void {
    this.taskGen.set(prefix, (this.taskGen.get(prefix) ?? 0) + 1);
  }

  /** The cluster's task records (cached until a task of the cluster changes). Do not mutate. */
  async clusterTasks(prefix: string, fresh = false): Promise<TaskRecord[]> {
    const gen = this.taskGen.get(prefix) ?? 0;
    const hit = this.taskCache.get(prefix);
    if (!fresh && hit && hit.gen === gen) return hit.tasks;
    const tasks = (await this.platform.store.list<TaskRecord>(KIND.task, { prefix })).map((r) => r.value);
    this.taskCache.set(prefix, { gen, tasks });
    return tasks;
  }

  /** Reads everything `observeService` needs for one service; undefined when it is not ACTIVE or DRAINING. */
  async gather(s: Scope, clusterName: string, name: string, now: number): Promise<ServiceFacts | undefined> {
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
