/**
 * Task sets: the units of an EXTERNAL or CODE_DEPLOY service (blue/green and external
 * deployments). A task set runs one task definition at a scale (percent of the service's desired
 * count, rounded up) behind its own target groups; one may be PRIMARY (production), the others
 * ACTIVE; a deleted one is DRAINING until its tasks are gone. They live inside their service's
 * record, so every change is one `mutateService` (the domain's one write primitive) and a
 * service and its task sets never disagree. The service controller (src/control/) keeps each
 * task set's tasks at its computed desired count.
 *
 * A task set's tasks are the service's tasks (group `service:<name>`) whose startedBy is the task
 * set id; ids are `ecs-svc/<19 digits>` like deployment ids.
 */
import type * as ECS from '../../generated/ecs.js';
import { ecsErrors } from './errors.js';
import { parseArn } from '../common.js';
import { taskSetArn, type Scope } from './keys.js';
import type { ServiceRecord, TaskRecord, TaskSetRecord } from './records.js';
import { mutateService, newDeploymentId, usesTaskSets } from './services.js';

export { usesTaskSets } from './services.js';

/** Most task sets a service has at once (DRAINING ones included). */
export const MAX_TASK_SETS_PER_SERVICE = 5;

/** How many tasks a task set keeps: ceil(desiredCount x scale / 100), 0 once DRAINING or when the service is not ACTIVE. */
export function computedDesiredCount(svc: Pick<ServiceRecord, 'desiredCount' | 'status'>, ts: Pick<TaskSetRecord, 'scale' | 'status'>): number {
  if (ts.status === 'DRAINING' || svc.status !== 'ACTIVE') return 0;
  // Rounded to 6 places first so that, say, 3 x 33.333333% is not 1.0000000001 tasks too many.
  return Math.ceil(Math.round(svc.desiredCount * ts.scale.value * 1e4) / 1e6);
}

/** The task set a reference names (its id, or its ARN), or undefined. */
export function findTaskSet(svc: ServiceRecord, ref: string): TaskSetRecord | undefined {
  const sets = svc.taskSets ?? [];
  if (!ref.startsWith('arn:')) return sets.find((t) => t.id === ref);
  const p = parseArn(ref);
  if (!p) return undefined;
  return sets.find((t) => t.taskSetArn === ref);
}

/** The load balancers a task of the service is registered with: its task set's, else the service's. */
export function loadBalancersOfTask(svc: ServiceRecord, task: Pick<TaskRecord, 'startedBy'>): ECS.LoadBalancer[] {
  if (!usesTaskSets(svc)) return svc.loadBalancers;
  return svc.taskSets?.find((t) => t.id === task.startedBy)?.loadBalancers ?? [];
}

/** What CreateTaskSet makes (validated by the caller). */
export type NewTaskSet = Pick<
  TaskSetRecord,
  'taskDefinition' | 'externalId' | 'launchType' | 'capacityProviderStrategy' | 'platformVersion' | 'networkConfiguration' | 'loadBalancers' | 'serviceRegistries' | 'scale' | 'tags'
> & { startedBy?: string; status?: TaskSetRecord['status'] };

function requireTaskSetService(svc: ServiceRecord): void {
  if (svc.status !== 'ACTIVE') throw ecsErrors.serviceNotActive();
  if (!usesTaskSets(svc)) {
    throw ecsErrors.invalidParameter('Amazon ECS only supports task set management on services configured to use external deployment controller.');
  }
}

/** The task set with `ref` or TaskSetNotFoundException; a DRAINING one only when `allowDraining`. */
function requireTaskSet(svc: ServiceRecord, ref: string, allowDraining = false): TaskSetRecord {
  const ts = findTaskSet(svc, ref);
  if (!ts || (ts.status === 'DRAINING' && !allowDraining)) throw ecsErrors.taskSetNotFound();
  return ts;
}

/** A new task set record for a service (not yet stored). */
export function newTaskSet(s: Scope, svc: Pick<ServiceRecord, 'clusterName' | 'serviceName'>, spec: NewTaskSet, now: number): TaskSetRecord {
  const id = newDeploymentId();
  return {
    id,
    taskSetArn: taskSetArn(s, svc.clusterName, svc.serviceName, id),
    status: spec.status ?? 'ACTIVE',
    taskDefinition: spec.taskDefinition,
    externalId: spec.externalId,
    startedBy: spec.startedBy,
    launchType: spec.launchType,
    capacityProviderStrategy: spec.capacityProviderStrategy,
    platformVersion: spec.platformVersion,
    networkConfiguration: spec.networkConfiguration,
    loadBalancers: spec.loadBalancers,
    serviceRegistries: spec.serviceRegistries,
    scale: spec.scale,
    stabilityStatus: 'STABILIZING',
    stabilityStatusAt: now,
    tags: spec.tags,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * CreateTaskSet: adds an ACTIVE task set to an ACTIVE EXTERNAL service (at most
 * MAX_TASK_SETS_PER_SERVICE, LimitExceededException beyond). The controller starts its tasks.
 */
export async function createTaskSet(s: Scope, cluster: string, service: string, spec: NewTaskSet): Promise<{ service: ServiceRecord; taskSet: TaskSetRecord }> {
  const now = s.platform.clock.now();
  let created: TaskSetRecord | undefined;
  const svc = await mutateService(s, cluster, service, (cur) => {
    requireTaskSetService(cur);
    if ((cur.taskSets ?? []).length >= MAX_TASK_SETS_PER_SERVICE) {
      throw ecsErrors.limitExceeded(`The service already has ${MAX_TASK_SETS_PER_SERVICE} task sets, the most a service can have; delete one (DeleteTaskSet) first.`);
    }
    created = newTaskSet(s, cur, spec, now);
    return { ...cur, taskSets: [...(cur.taskSets ?? []), created], steady: false };
  });
  return { service: svc, taskSet: created! };
}

/** UpdateTaskSet: a new scale (percent of the service's desired count); the task set stabilizes again. */
export async function updateTaskSetScale(s: Scope, cluster: string, service: string, ref: string, scale: { value: number; unit: 'PERCENT' }): Promise<{ service: ServiceRecord; taskSet: TaskSetRecord }> {
  const now = s.platform.clock.now();
  let id = '';
  const svc = await mutateService(s, cluster, service, (cur) => {
    requireTaskSetService(cur);
    const ts = requireTaskSet(cur, ref);
    id = ts.id;
    if (ts.scale.value === scale.value && ts.scale.unit === scale.unit) return undefined;
    ts.scale = scale;
    ts.updatedAt = now;
    ts.stabilityStatus = 'STABILIZING';
    ts.stabilityStatusAt = now;
    return cur;
  });
  return { service: svc, taskSet: svc.taskSets!.find((t) => t.id === id)! };
}

/**
 * UpdateServicePrimaryTaskSet: `ref` becomes PRIMARY, the previous PRIMARY ACTIVE; the service
 * takes on the primary's task definition, launch type, capacity, platform, network and load
 * balancers (as ECS: "parameters of the primary task set transition to the service").
 */
export async function setPrimaryTaskSet(s: Scope, cluster: string, service: string, ref: string): Promise<{ service: ServiceRecord; taskSet: TaskSetRecord }> {
  const now = s.platform.clock.now();
  let id = '';
  const svc = await mutateService(s, cluster, service, (cur) => {
    requireTaskSetService(cur);
    const ts = requireTaskSet(cur, ref);
    id = ts.id;
    if (ts.status === 'PRIMARY') return undefined;
    for (const other of cur.taskSets!) {
      if (other.status !== 'PRIMARY') continue;
      other.status = 'ACTIVE';
      other.updatedAt = now;
    }
    ts.status = 'PRIMARY';
    ts.updatedAt = now;
    return {
      ...cur,
      taskDefinition: ts.taskDefinition,
      launchType: ts.launchType,
      capacityProviderStrategy: ts.capacityProviderStrategy,
      platformVersion: ts.platformVersion,
      networkConfiguration: ts.networkConfiguration,
      loadBalancers: ts.loadBalancers,
      serviceRegistries: ts.serviceRegistries,
    };
  });
  return { service: svc, taskSet: svc.taskSets!.find((t) => t.id === id)! };
}

/**
 * DeleteTaskSet: the task set becomes DRAINING (its targets are deregistered and its tasks
 * stopped by the controller, then it is removed). Without `force` its scale must be 0 first, as
 * ECS requires; the PRIMARY task set of a service cannot be deleted while the service has other
 * task sets (make another one primary first).
 */
export async function deleteTaskSet(s: Scope, cluster: string, service: string, ref: string, force: boolean): Promise<{ service: ServiceRecord; taskSet: TaskSetRecord }> {
  const now = s.platform.clock.now();
  let id = '';
  const svc = await mutateService(s, cluster, service, (cur) => {
    requireTaskSetService(cur);
    const ts = requireTaskSet(cur, ref, true);
    id = ts.id;
    if (ts.status === 'DRAINING') return undefined;
    if (!force && ts.scale.value > 0) {
      throw ecsErrors.invalidParameter(`The task set ${ts.id} cannot be deleted while its scale is ${ts.scale.value} PERCENT. Scale it to 0 first (UpdateTaskSet) or delete it with force.`);
    }
    if (ts.status === 'PRIMARY' && cur.taskSets!.some((o) => o.id !== ts.id && o.status !== 'DRAINING')) {
      throw ecsErrors.invalidParameter(`The task set ${ts.id} is the primary task set of the service. Make another task set primary (UpdateServicePrimaryTaskSet) before deleting it.`);
    }
    ts.status = 'DRAINING';
    ts.updatedAt = now;
    ts.stabilityStatus = 'STABILIZING';
    ts.stabilityStatusAt = now;
    return cur;
  });
  return { service: svc, taskSet: svc.taskSets!.find((t) => t.id === id)! };
}

/** Removes a DRAINING task set that has no live task left (the controller's step). Returns whether it did. */
export async function removeDrainedTaskSet(s: Scope, cluster: string, service: string, id: string, liveTaskSetIds: ReadonlySet<string>): Promise<boolean> {
  let changed = false;
  await mutateService(s, cluster, service, (cur) => {
    changed = false;
    const ts = cur.taskSets?.find((t) => t.id === id);
    if (!ts || ts.status !== 'DRAINING' || liveTaskSetIds.has(id)) return undefined;
    changed = true;
    return { ...cur, taskSets: cur.taskSets!.filter((t) => t.id !== id) };
  });
  return changed;
}

/** Records the controller's stability verdict for a task set. Returns whether it changed. */
export async function setTaskSetStability(s: Scope, cluster: string, service: string, id: string, steady: boolean): Promise<boolean> {
  const now = s.platform.clock.now();
  const status = steady ? 'STEADY_STATE' : 'STABILIZING';
  let changed = false;
  await mutateService(s, cluster, service, (cur) => {
    changed = false;
    const ts = cur.taskSets?.find((t) => t.id === id);
    if (!ts || ts.stabilityStatus === status) return undefined;
    ts.stabilityStatus = status;
    ts.stabilityStatusAt = now;
    changed = true;
    return cur;
  });
  return changed;
}
