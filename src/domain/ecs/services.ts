/**
 * ECS services in the store: the desired state of a long-running set of tasks, its deployments
 * and events, and every transition of them, whether an API call (create, update, delete) or the
 * service controller (src/control/) asks for it.
 *
 * Invariants: exactly one PRIMARY deployment while ACTIVE (newest first in `deployments`);
 * every create/update that changes what runs (task definition, forceNewDeployment, network,
 * load balancers, capacity) opens a new PRIMARY with a fresh `ecs-svc/<19 digits>` id and the
 * old PRIMARY becomes ACTIVE; so does a circuit-breaker rollback, whose new PRIMARY runs the
 * task definition of the last COMPLETED deployment. runningCount/pendingCount are never
 * stored: they are counted from the live tasks whose group is `service:<name>` and whose
 * startedBy is the deployment id. At most MAX_SERVICE_EVENTS events, newest first.
 */
import { randomInt } from 'node:crypto';
import type * as ECS from '../../generated/ecs.js';
import { uuid } from '../common.js';
import { deleteIfUnchanged, mutate, retrying } from '../mutate.js';
import { DEFAULT_SERVICE_STRATEGY, place } from '../placement/placement.js';
import type { PlacementConstraintSpec, PlacementRequest } from '../placement/types.js';
import { ecsErrors } from './errors.js';
import { candidatesFor } from './instances.js';
import { KIND, clusterNameOf, clusterScopedKey, resourceRefOf, type Scope } from './keys.js';
import { launchTasks, type LaunchResult } from './launch.js';
import { isLive } from './liveIndex.js';
import type { DeploymentRecord, ServiceRecord, TaskRecord, TaskSetRecord } from './records.js';
import { findTaskDefinition, taskDefinitionConstraints, taskNeeds } from './taskDefinitions.js';

/** Most events a service keeps (ECS shows the latest 100). */
export const MAX_SERVICE_EVENTS = 100;

/** A deployment with its live task counts. */
export interface DeploymentWithCounts extends DeploymentRecord {
  runningCount: number;
  pendingCount: number;
}

/** A service with live counts, as the controller sees it. */
export interface LoadedService {
  record: ServiceRecord;
  rev: number;
  deployments: DeploymentWithCounts[];
  runningCount: number;
  pendingCount: number;
  /** The service's live (not yet STOPPED) tasks. */
  tasks: TaskRecord[];
}

/** A new deployment id: `ecs-svc/` and 19 digits, as ECS writes them. */
export function newDeploymentId(): string {
  let d = String(randomInt(1, 10));
  for (let i = 0; i < 18; i++) d += String(randomInt(0, 10));
  return `ecs-svc/${d}`;
}

/** Whether a service's tasks are managed as task sets (deploymentController EXTERNAL or CODE_DEPLOY). */
export function usesTaskSets(svc: Pick<ServiceRecord, 'deploymentController'>): boolean {
  return svc.deploymentController.type === 'EXTERNAL' || svc.deploymentController.type === 'CODE_DEPLOY';
}

/** A task set in the shape the launch path reads from deployments (task definition, launch type, capacity, network). */
export function taskSetAsDeployment(ts: TaskSetRecord, desiredCount: number): DeploymentRecord {
  return {
    id: ts.id,
    status: ts.status === 'PRIMARY' ? 'PRIMARY' : 'ACTIVE',
    taskDefinition: ts.taskDefinition,
    desiredCount,
    failedTasks: 0,
    launchType: ts.launchType,
    capacityProviderStrategy: ts.capacityProviderStrategy,
    platformVersion: ts.platformVersion,
    networkConfiguration: ts.networkConfiguration,
    rolloutState: 'COMPLETED',
    rolloutStateReason: '',
    createdAt: ts.createdAt,
    updatedAt: ts.updatedAt,
  };
}

function serviceKey(region: string, cluster: string, name: string): string {
  return clusterScopedKey(region, cluster, name);
}

export function serviceNameOf(s: Scope, clusterName: string, ref: string): string | undefined {
  const r = resourceRefOf(s, 'service', ref);
  if (!r || (r.cluster && r.cluster !== clusterName)) return undefined;
  return r.id;
}

/** Live tasks of a service (group `service:<name>`), from the task records. */
export async function serviceTasks(s: Scope, clusterName: string, name: string): Promise<TaskRecord[]> {
  const all = await s.platform.store.list<TaskRecord>(KIND.task, { prefix: `${s.region}/${clusterName}/` });
  return all.map((r) => r.value).filter((t) => t.group === `service:${name}` && isLive(t));
}

export function withCounts(rec: ServiceRecord, tasks: TaskRecord[]): { deployments: DeploymentWithCounts[]; runningCount: number; pendingCount: number } {
  const running = (t: TaskRecord) => t.lastStatus === 'RUNNING' && t.desiredStatus === 'RUNNING';
  const pending = (t: TaskRecord) => ['PROVISIONING', 'PENDING', 'ACTIVATING'].includes(t.lastStatus) && t.desiredStatus === 'RUNNING';
  const deployments = rec.deployments.map((d) => {
    const mine = tasks.filter((t) => t.startedBy === d.id);
    return { ...d, runningCount: mine.filter(running).length, pendingCount: mine.filter(pending).length };
  });
  return { deployments, runningCount: tasks.filter(running).length, pendingCount: tasks.filter(pending).length };
}

/** Loads a service (any status) with live counts; undefined if it does not exist. */
export async function loadService(s: Scope, cluster: string, name: string): Promise<LoadedService | undefined> {
  const clusterName = clusterNameOf(s, cluster);
  const n = serviceNameOf(s, clusterName, name);
  if (!n) return undefined;
  const rec = await s.platform.store.get<ServiceRecord>(KIND.service, serviceKey(s.region, clusterName, n));
  if (!rec) return undefined;
  const tasks = await serviceTasks(s, clusterName, n);
  return { record: rec.value, rev: rec.rev, tasks, ...withCounts(rec.value, tasks) };
}

/**
 * Read-modify-write of a service record with optimistic concurrency. `fn` returns the new
 * record or undefined for no change. Throws ServiceNotFoundException if it does not exist.
 */
export async function mutateService(s: Scope, cluster: string, name: string, fn: (svc: ServiceRecord) => ServiceRecord | undefined): Promise<ServiceRecord> {
  const clusterName = clusterNameOf(s, cluster);
  const n = serviceNameOf(s, clusterName, name);
  if (!n) throw ecsErrors.serviceNotFound();
  const key = serviceKey(s.region, clusterName, n);
  const r = await mutate<ServiceRecord>(
    s.platform.store,
    KIND.service,
    key,
    (cur) => {
      if (!cur) throw ecsErrors.serviceNotFound();
      return fn(cur);
    },
    { what: `Service ${n}` },
  );
  return r.value!;
}

function pushEvent(svc: ServiceRecord, message: string, now: number): void {
  svc.events.unshift({ id: uuid(), createdAt: now, message });
  if (svc.events.length > MAX_SERVICE_EVENTS) svc.events.length = MAX_SERVICE_EVENTS;
}

/** Adds an event (newest first, capped at 100), e.g. `(service web) has reached a steady state.` */
export async function appendServiceEvent(s: Scope, cluster: string, name: string, message: string): Promise<void> {
  const now = s.platform.clock.now();
  await mutateService(s, cluster, name, (svc) => {
    pushEvent(svc, message, now);
    return svc;
  });
}

/** Stores the counts the controller last saw per deployment (for change detection only). */
export async function recordDeploymentCounts(s: Scope, cluster: string, name: string, counts: { deploymentId: string; runningCount: number; pendingCount: number }[]): Promise<void> {
  await mutateService(s, cluster, name, (svc) => {
    let changed = false;
    for (const c of counts) {
      const d = svc.deployments.find((x) => x.id === c.deploymentId);
      if (!d || (d.recordedRunningCount === c.runningCount && d.recordedPendingCount === c.pendingCount)) continue;
      d.recordedRunningCount = c.runningCount;
      d.recordedPendingCount = c.pendingCount;
      changed = true;
    }
    return changed ? svc : undefined;
  });
}

/**
 * Starts `count` tasks for a deployment of a service: its task definition, group
 * `service:<name>`, startedBy = the deployment id, the service's placement constraints and
 * strategy, launch type and propagated tags (RunTask's placement applies the task definition's
 * requiresAttributes). Placement failures come back in `failures`.
 */
export async function launchServiceTasks(s: Scope, cluster: string, name: string, deploymentId: string, count: number, resolveImage?: ImageResolver): Promise<LaunchResult> {
  const { svc, d, tdRec, tasks } = await loadDeployment(s, cluster, name, deploymentId);
  const imageDigests = await pinDeploymentImages(s, svc, d, tdRec?.value.taskDefinition, resolveImage);
  const propagated = svc.propagateTags === 'SERVICE' ? svc.tags : svc.propagateTags === 'TASK_DEFINITION' ? tdRec?.value.tags ?? [] : [];
  const out: LaunchResult = { tasks: [], failures: [] };
  // The strategy splits the deployment's tasks as a whole: count what each provider runs already.
  const providerCounts: Record<string, number> = {};
  for (const t of tasks) if (t.startedBy === d.id && t.desiredStatus === 'RUNNING' && t.capacityProviderName) providerCounts[t.capacityProviderName] = (providerCounts[t.capacityProviderName] ?? 0) + 1;
  // launchTasks places at most 10 per call (RunTask's limit); services may need more.
  for (let left = count; left > 0; left -= 10) {
    const r = await launchTasks(s, {
      cluster: svc.clusterName,
      taskDefinition: d.taskDefinition,
      count: Math.min(10, left),
      startedBy: d.id,
      group: `service:${svc.serviceName}`,
      launchType: d.launchType,
      capacityProviderStrategy: d.capacityProviderStrategy,
      providerCounts,
      placementConstraints: svc.placementConstraints,
      // Services without a strategy spread over AZs, then instances (ECS's default), not random.
      placementStrategy: svc.placementStrategy.length ? svc.placementStrategy : DEFAULT_SERVICE_STRATEGY.map((x) => ({ ...x }) as ECS.PlacementStrategy),
      propagatedTags: propagated,
      enableExecuteCommand: svc.enableExecuteCommand,
      allowInactiveTaskDefinition: true,
      imageDigests,
    });
    out.tasks.push(...r.tasks);
    out.failures.push(...r.failures);
    for (const t of r.tasks) if (t.capacityProviderName) providerCounts[t.capacityProviderName] = (providerCounts[t.capacityProviderName] ?? 0) + 1;
    if (r.failures.length) break;
  }
  return out;
}

/** Result of {@link launchDaemonTasks}: what started, and the placement message of each instance that could not take its task. */
export interface DaemonLaunchResult extends LaunchResult {
  messages: string[];
}

/** A service, one of its deployments and that deployment's task definition (undefined if deleted). */
/**
 * The image digest an image reference runs as, or undefined (an image of another registry, or
 * a tag that names nothing). Given by the composition root: Berth's registry resolves its own
 * images (src/domain/ecr/imageRefs.ts).
 */
export type ImageResolver = (s: Scope, image: string) => Promise<string | undefined>;

/**
 * The images a deployment runs, pinned once: the first launch resolves each container's image
 * to a digest and stores them on the deployment (a concurrent launch that stored first wins),
 * so its tasks all run the same images even if a tag moves meanwhile (ECS's software version
 * consistency). Without a resolver, or for a deployment pinned already, nothing is resolved.
 */
async function pinDeploymentImages(s: Scope, svc: ServiceRecord, d: DeploymentRecord, td: ECS.TaskDefinition | undefined, resolve: ImageResolver | undefined): Promise<Record<string, string> | undefined> {
  if (d.imageDigests || !resolve || !td) return d.imageDigests;
  const digests: Record<string, string> = {};
  for (const c of td.containerDefinitions ?? []) {
    if (!c.name || !c.image) continue;
    const digest = await resolve(s, c.image);
    if (digest) digests[c.name] = digest;
  }
  let pinned: Record<string, string> = digests;
  await changeDeployment(s, svc.clusterName, svc.serviceName, d.id, (dep) => {
    if (dep.imageDigests) {
      pinned = dep.imageDigests;
      return false;
    }
    dep.imageDigests = digests;
    pinned = digests;
    return true;
  });
  return pinned;
}

async function loadDeployment(s: Scope, cluster: string, name: string, deploymentId: string) {
  const loaded = await loadService(s, cluster, name);
  if (!loaded) throw ecsErrors.serviceNotFound();
  const svc = loaded.record;
  const ts = svc.taskSets?.find((x) => x.id === deploymentId && x.status !== 'DRAINING');
  const d = svc.deployments.find((x) => x.id === deploymentId) ?? (ts ? taskSetAsDeployment(ts, 0) : undefined);
  if (!d) throw ecsErrors.invalidParameter(`Deployment ${deploymentId} is not a deployment of this service.`);
  return { svc, d, tasks: loaded.tasks, tdRec: await findTaskDefinition(s, d.taskDefinition) };
}

/** What placement needs of a service's task: resources, host ports, group and required attributes. */
export function servicePlacementTask(td: ECS.TaskDefinition, serviceName: string): PlacementRequest['task'] {
  const needs = taskNeeds(td);
  return {
    cpu: needs.cpu,
    memory: needs.memory,
    hostPorts: [...needs.ports.map((port) => ({ port })), ...needs.udpPorts.map((port) => ({ port, protocol: 'udp' as const }))],
    group: `service:${serviceName}`,
    serviceName,
    requiredAttributes: td.requiresAttributes,
  };
}

/** The task definition's memberOf constraints and the service's own. */
export function servicePlacementConstraints(td: ECS.TaskDefinition | undefined, svc: Pick<ServiceRecord, 'placementConstraints'>): PlacementConstraintSpec[] {
  return [...taskDefinitionConstraints(td), ...svc.placementConstraints];
}

/**
 * DAEMON services: starts one task of a deployment on each of `instanceIds` (StartTask's path,
 * after checking with the placement engine that the instance still qualifies and has the CPU,
 * memory and host ports; an instance that already has a live task of the service is skipped).
 * Instances that do not fit come back in `failures` (ECS reasons) and `messages` (service events).
 */
export async function launchDaemonTasks(s: Scope, cluster: string, name: string, deploymentId: string, instanceIds: readonly string[], resolveImage?: ImageResolver): Promise<DaemonLaunchResult> {
  const { svc, d, tdRec } = await loadDeployment(s, cluster, name, deploymentId);
  if (!tdRec) throw ecsErrors.taskDefinitionMissing(d.taskDefinition);
  const imageDigests = await pinDeploymentImages(s, svc, d, tdRec.value.taskDefinition, resolveImage);
  const td = tdRec.value.taskDefinition;
  const group = `service:${svc.serviceName}`;
  const { candidates } = await candidatesFor(s, svc.clusterName);
  const out: DaemonLaunchResult = { tasks: [], failures: [], messages: [] };
  const fits: string[] = [];
  for (const id of instanceIds) {
    const c = candidates.find((x) => x.id === id);
    if (!c || c.taskGroups.includes(group)) continue;
    const res = place({
      count: 1,
      task: servicePlacementTask(td, svc.serviceName),
      instances: [c],
      existingTasks: c.taskGroups.map((g) => ({ containerInstanceId: c.id, group: g })),
      constraints: servicePlacementConstraints(td, svc),
      strategy: [{ type: 'random' }],
    });
    if (res.placements.length) fits.push(c.arn);
    else {
      out.failures.push(...res.failures);
      if (res.message) out.messages.push(res.message);
    }
  }
  const propagated = svc.propagateTags === 'SERVICE' ? svc.tags : svc.propagateTags === 'TASK_DEFINITION' ? tdRec.value.tags ?? [] : [];
  for (let i = 0; i < fits.length; i += 10) {
    const chunk = fits.slice(i, i + 10);
    const r = await launchTasks(s, {
      cluster: svc.clusterName,
      taskDefinition: d.taskDefinition,
      count: chunk.length,
      startedBy: d.id,
      group,
      launchType: d.launchType,
      containerInstances: chunk,
      propagatedTags: propagated,
      enableExecuteCommand: svc.enableExecuteCommand,
      allowInactiveTaskDefinition: true,
      imageDigests,
    });
    out.tasks.push(...r.tasks);
    out.failures.push(...r.failures);
  }
  return out;
}

/** DAEMON: records the number of instances the service runs on as its (and its PRIMARY deployment's) desiredCount. */
export async function setDaemonDesiredCount(s: Scope, cluster: string, name: string, desiredCount: number): Promise<void> {
  const now = s.platform.clock.now();
  await mutateService(s, cluster, name, (svc) => {
    if (svc.status !== 'ACTIVE' || svc.schedulingStrategy !== 'DAEMON') return undefined;
    const primary = svc.deployments.find((x) => x.status === 'PRIMARY');
    if (svc.desiredCount === desiredCount && (!primary || primary.desiredCount === desiredCount)) return undefined;
    svc.desiredCount = desiredCount;
    if (primary && primary.desiredCount !== desiredCount) {
      primary.desiredCount = desiredCount;
      primary.updatedAt = now;
    }
    return svc;
  });
}

/** Moves a DRAINING service to INACTIVE when none of its tasks is live. Returns whether it did. */
export async function finishDraining(s: Scope, cluster: string, name: string): Promise<boolean> {
  const loaded = await loadService(s, cluster, name);
  if (!loaded || loaded.record.status !== 'DRAINING' || loaded.tasks.length) return false;
  const now = s.platform.clock.now();
  await mutateService(s, cluster, name, (svc) => (svc.status === 'DRAINING' ? { ...svc, status: 'INACTIVE', inactiveAt: now, deployments: [], taskSets: svc.taskSets ? [] : undefined } : undefined));
  return true;
}

function newDeployment(svc: Pick<ServiceRecord, 'taskDefinition' | 'desiredCount' | 'launchType' | 'capacityProviderStrategy' | 'platformVersion' | 'networkConfiguration'>, now: number): DeploymentRecord {
  const id = newDeploymentId();
  return {
    id,
    status: 'PRIMARY',
    taskDefinition: svc.taskDefinition,
    desiredCount: svc.desiredCount,
    failedTasks: 0,
    launchType: svc.launchType,
    capacityProviderStrategy: svc.capacityProviderStrategy,
    platformVersion: svc.platformVersion,
    networkConfiguration: svc.networkConfiguration,
    rolloutState: 'IN_PROGRESS',
    rolloutStateReason: 'ECS deployment ' + id + ' in progress.',
    createdAt: now,
    updatedAt: now,
  };
}

/** How many ACTIVE services a cluster has (for DescribeClusters and DeleteCluster). */
export async function activeServiceCount(s: Scope, clusterName: string): Promise<number> {
  const recs = await s.platform.store.list<ServiceRecord>(KIND.service, { prefix: `${s.region}/${clusterName}/` });
  return recs.filter((r) => r.value.status === 'ACTIVE').length;
}

/** Deletes INACTIVE services older than `retentionMs` (they stay describable until then). */
export async function pruneInactiveServices(s: Scope, retentionMs: number): Promise<number> {
  const cutoff = s.platform.clock.now() - retentionMs;
  const expired = (await s.platform.store.list<ServiceRecord>(KIND.service, { prefix: `${s.region}/` })).filter(
    (r) => r.value.status === 'INACTIVE' && (r.value.inactiveAt ?? 0) < cutoff,
  );
  return deleteIfUnchanged(
    s.platform.store,
    expired.map((r) => ({ kind: KIND.service, key: r.key, rev: r.rev })),
  );
}

/** What a new service is made of (validated by the caller); its first deployment is opened here. */
export type NewService = Omit<ServiceRecord, 'deployments' | 'events' | 'status' | 'createdAt' | 'inactiveAt' | 'steady'>;

/**
 * Creates a service with its first PRIMARY deployment. A service of that name that is still
 * DRAINING is finished first if it can be (no live task); an ACTIVE one makes this fail, as
 * CreateService is not idempotent on ECS.
 */
export async function createService(s: Scope, spec: NewService): Promise<ServiceRecord> {
  const key = serviceKey(s.region, spec.clusterName, spec.serviceName);
  const now = s.platform.clock.now();
  const rec: ServiceRecord = { ...spec, status: 'ACTIVE', createdAt: now, deployments: usesTaskSets(spec) ? [] : [newDeployment(spec, now)], events: [] };
  return retrying(`Service ${spec.serviceName}`, async () => {
    let cur = await s.platform.store.get<ServiceRecord>(KIND.service, key);
    if (cur?.value.status === 'DRAINING') {
      await finishDraining(s, spec.clusterName, spec.serviceName);
      cur = await s.platform.store.get<ServiceRecord>(KIND.service, key);
      if (cur?.value.status === 'DRAINING') throw ecsErrors.invalidParameter('Unable to Start a service that is still Draining.');
    }
    if (cur?.value.status === 'ACTIVE') throw ecsErrors.invalidParameter('Creation of service was not idempotent.');
    await s.platform.store.commit([{ kind: KIND.service, key, value: rec, expectRev: cur?.rev ?? 0 }]);
    return rec;
  });
}

/** The fields UpdateService may change (validated by the caller); absent ones stay. */
export type ServiceUpdate = Partial<
  Pick<
    ServiceRecord,
    | 'taskDefinition'
    | 'desiredCount'
    | 'capacityProviderStrategy'
    | 'platformVersion'
    | 'networkConfiguration'
    | 'loadBalancers'
    | 'serviceRegistries'
    | 'deploymentConfiguration'
    | 'placementConstraints'
    | 'placementStrategy'
    | 'healthCheckGracePeriodSeconds'
    | 'enableECSManagedTags'
    | 'propagateTags'
    | 'enableExecuteCommand'
  >
> & { forceNewDeployment?: boolean };

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Applies an update to an ACTIVE service. A change of what runs (task definition, network, load
 * balancers, capacity provider strategy, platform version) or `forceNewDeployment` opens a new
 * PRIMARY deployment; otherwise a new desired count goes to the current PRIMARY.
 */
export async function updateService(s: Scope, cluster: string, name: string, update: ServiceUpdate): Promise<ServiceRecord> {
  const now = s.platform.clock.now();
  return mutateService(s, cluster, name, (svc) => {
    if (svc.status !== 'ACTIVE') throw ecsErrors.serviceNotActive();
    const { forceNewDeployment, ...fields } = update;
    const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<ServiceRecord>;
    // Task sets, not deployments, say what an EXTERNAL or CODE_DEPLOY service runs.
    const redeploy =
      !usesTaskSets(svc) &&
      (forceNewDeployment === true ||
      (update.taskDefinition !== undefined && update.taskDefinition !== svc.taskDefinition) ||
      (update.networkConfiguration !== undefined && !same(update.networkConfiguration, svc.networkConfiguration)) ||
      (update.loadBalancers !== undefined && !same(update.loadBalancers, svc.loadBalancers)) ||
      (update.capacityProviderStrategy !== undefined && !same(update.capacityProviderStrategy, svc.capacityProviderStrategy)) ||
      (update.platformVersion !== undefined && update.platformVersion !== svc.platformVersion));
    const n: ServiceRecord = { ...svc, ...defined };
    if (redeploy) {
      for (const d of n.deployments) {
        if (d.status !== 'PRIMARY') continue;
        d.status = 'ACTIVE';
        d.updatedAt = now;
      }
      n.deployments.unshift(newDeployment(n, now));
    } else {
      const primary = n.deployments.find((d) => d.status === 'PRIMARY');
      if (primary && primary.desiredCount !== n.desiredCount) {
        primary.desiredCount = n.desiredCount;
        primary.updatedAt = now;
      }
    }
    return n;
  });
}

/**
 * DeleteService: the service becomes DRAINING with a desired count of 0 (the controller drains
 * and stops its tasks, then makes it INACTIVE). A REPLICA service still scaled above 0 needs
 * `force`. Deleting a DRAINING service changes nothing.
 */
export async function deleteService(s: Scope, cluster: string, name: string, force: boolean): Promise<ServiceRecord> {
  const now = s.platform.clock.now();
  return mutateService(s, cluster, name, (svc) => {
    if (svc.status === 'INACTIVE') throw ecsErrors.serviceNotFound();
    if (svc.status === 'DRAINING') return undefined;
    if (svc.schedulingStrategy === 'REPLICA' && svc.desiredCount > 0 && !force) {
      throw ecsErrors.invalidParameter('The service cannot be stopped while it is scaled above 0.');
    }
    for (const d of svc.deployments) {
      d.desiredCount = 0;
      d.updatedAt = now;
    }
    return { ...svc, status: 'DRAINING', desiredCount: 0 };
  });
}

/**
 * Changes one deployment of a service with `change` (which returns false to leave it as it is)
 * and stamps its updatedAt. Returns whether anything changed: another control-plane replica may
 * have made the same change first.
 */
async function changeDeployment(s: Scope, cluster: string, name: string, deploymentId: string, change: (d: DeploymentRecord, svc: ServiceRecord) => boolean): Promise<boolean> {
  const now = s.platform.clock.now();
  let changed = false;
  await mutateService(s, cluster, name, (svc) => {
    changed = false;
    const d = svc.deployments.find((x) => x.id === deploymentId);
    if (!d || !change(d, svc)) return undefined;
    d.updatedAt = now;
    changed = true;
    return svc;
  });
  return changed;
}

/** Raises a deployment's failedTasks (the circuit breaker's counter) to `failed`; it never goes down. */
export async function setDeploymentFailedTasks(s: Scope, cluster: string, name: string, deploymentId: string, failed: number): Promise<boolean> {
  return changeDeployment(s, cluster, name, deploymentId, (d) => {
    if (d.rolloutState !== 'IN_PROGRESS' || failed <= d.failedTasks) return false;
    d.failedTasks = failed;
    return true;
  });
}

/**
 * Marks the PRIMARY deployment COMPLETED and drops the other deployments that have no live task
 * left (ECS lists only deployments that still run something). Returns whether it changed.
 */
export async function completeDeployment(s: Scope, cluster: string, name: string, deploymentId: string, liveDeploymentIds: ReadonlySet<string>): Promise<boolean> {
  return changeDeployment(s, cluster, name, deploymentId, (d, svc) => {
    if (d.status !== 'PRIMARY' || d.rolloutState === 'COMPLETED') return false;
    d.rolloutState = 'COMPLETED';
    if (!d.rolloutStateReason.startsWith('ECS deployment circuit breaker')) d.rolloutStateReason = `ECS deployment ${d.id} completed.`;
    svc.deployments = svc.deployments.filter((y) => y.status === 'PRIMARY' || liveDeploymentIds.has(y.id));
    return true;
  });
}

/** The circuit breaker trips: an IN_PROGRESS PRIMARY becomes FAILED. Returns whether it changed. */
export async function failDeployment(s: Scope, cluster: string, name: string, deploymentId: string, reason: string): Promise<boolean> {
  return changeDeployment(s, cluster, name, deploymentId, (d) => {
    if (d.status !== 'PRIMARY' || d.rolloutState !== 'IN_PROGRESS') return false;
    d.rolloutState = 'FAILED';
    d.rolloutStateReason = `ECS deployment circuit breaker: ${reason}.`;
    return true;
  });
}

/**
 * The circuit breaker's rollback, as ECS does it: the failed PRIMARY `fromDeploymentId` becomes
 * ACTIVE (FAILED), and a new PRIMARY deployment runs the task definition (and network, launch
 * type, capacity) of `toDeploymentId`, the last COMPLETED one; the service's task definition
 * reverts to it. The new deployment records what it rolls back to (`rollbackOf`), and the
 * controller never rolls a rollback back again. Returns the new deployment's id, or undefined
 * when `fromDeploymentId` is no longer PRIMARY (another replica rolled back first).
 */
export async function rollbackDeployment(s: Scope, cluster: string, name: string, fromDeploymentId: string, toDeploymentId: string): Promise<string | undefined> {
  const now = s.platform.clock.now();
  let id: string | undefined;
  await mutateService(s, cluster, name, (svc) => {
    id = undefined;
    const from = svc.deployments.find((d) => d.id === fromDeploymentId);
    const to = svc.deployments.find((d) => d.id === toDeploymentId);
    if (!from || !to || from.status !== 'PRIMARY') return undefined;
    from.status = 'ACTIVE';
    from.rolloutState = 'FAILED';
    from.updatedAt = now;
    svc.taskDefinition = to.taskDefinition;
    const next = newDeployment({ ...to, desiredCount: svc.desiredCount }, now);
    next.rolloutStateReason = `ECS deployment circuit breaker: rolling back to deploymentId ${to.id}.`;
    next.rollbackOf = to.id;
    // A rollback runs what the deployment it returns to ran, not what its tags name now.
    if (to.imageDigests) next.imageDigests = { ...to.imageDigests };
    svc.deployments.unshift(next);
    id = next.id;
    return svc;
  });
  return id;
}

/** Stores the controller's steady-state verdict. Returns whether it changed (so the event is said once). */
export async function setServiceSteady(s: Scope, cluster: string, name: string, steady: boolean): Promise<boolean> {
  let changed = false;
  await mutateService(s, cluster, name, (svc) => {
    changed = (svc.steady ?? false) !== steady;
    return changed ? { ...svc, steady } : undefined;
  });
  return changed;
}
