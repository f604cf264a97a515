/**
 * ECS services: the desired state of a long-running set of tasks. This module keeps the
 * records and the API; running and scaling tasks is the service controller's job
 * (src/control/), which works through the exported helpers here:
 *
 * - `loadService(scope, cluster, name)`: the record with live per-deployment counts;
 * - `mutateService(scope, cluster, name, fn)`: optimistic read-modify-write of the record;
 * - `appendServiceEvent(scope, cluster, name, message)`: newest first, capped at 100;
 * - `updateDeployment(scope, cluster, name, deploymentId, patch)`: rolloutState, failedTasks...;
 * - `retireDeployment(scope, cluster, name, deploymentId)`: drop a drained non-PRIMARY one;
 * - `finishDraining(scope, cluster, name)`: DRAINING -> INACTIVE once no task is live;
 * - `launchServiceTasks` (REPLICA; the task definition's requiresAttributes are enforced) and
 *   `launchDaemonTasks` (DAEMON: one task on each named instance), `setDaemonDesiredCount`.
 *
 * Invariants: exactly one PRIMARY deployment while ACTIVE (newest first in `deployments`);
 * every create/update that changes what runs (task definition, forceNewDeployment, network,
 * load balancers, capacity) opens a new PRIMARY with a fresh `ecs-svc/<19 digits>` id and the
 * old PRIMARY becomes ACTIVE. runningCount/pendingCount are never stored: they are counted
 * from tasks whose group is `service:<name>` and whose startedBy is the deployment id.
 */
import { randomInt } from 'node:crypto';
import type * as ECS from '../../generated/ecs.js';
import { mergeTags, pageOf, parseArn, uuid } from '../common.js';
import type { Handlers, RequestContext } from '../types.js';
import { ConflictError, type StoredRecord } from '../../store/types.js';
import { ecsErrors } from './errors.js';
import { requireCluster } from './clusters.js';
import { KIND, clusterArn, clusterNameOf, clusterScopedKey, resourceRefOf, serviceArn, type Scope } from './keys.js';
import { findTaskDefinition, requireActiveTaskDefinition, taskDefinitionConstraints, taskNeeds, type TaskDefinitionRecord } from './taskDefinitions.js';
import { checkPlacement } from './placement.js';
import { DEFAULT_SERVICE_STRATEGY, place } from '../../control/placement.js';
import type { PlacementConstraintSpec, PlacementRequest } from '../../control/types.js';
import { candidatesFor } from './containerInstances.js';
import { isLive, launchTasks, type LaunchResult, type TaskRecord } from './tasks.js';

/** Most events a service keeps (ECS shows the latest 100). */
export const MAX_SERVICE_EVENTS = 100;

/** A deployment as stored (times epoch ms). Counts are derived, see `loadService`. */
export interface DeploymentRecord {
  id: string;
  status: 'PRIMARY' | 'ACTIVE' | 'INACTIVE';
  taskDefinition: string;
  desiredCount: number;
  failedTasks: number;
  launchType?: ECS.LaunchType;
  capacityProviderStrategy?: ECS.CapacityProviderStrategyItem[];
  platformVersion?: string;
  networkConfiguration?: ECS.NetworkConfiguration;
  rolloutState: ECS.DeploymentRolloutState;
  rolloutStateReason: string;
  createdAt: number;
  updatedAt: number;
  /** Counts last written by the controller (`recordDeploymentCounts`); DescribeServices counts live tasks instead. */
  recordedRunningCount?: number;
  recordedPendingCount?: number;
}

export interface ServiceEventRecord {
  id: string;
  createdAt: number;
  message: string;
}

/** A service as stored (times epoch ms). */
export interface ServiceRecord {
  serviceName: string;
  serviceArn: string;
  clusterName: string;
  clusterArn: string;
  status: 'ACTIVE' | 'DRAINING' | 'INACTIVE';
  taskDefinition: string;
  desiredCount: number;
  launchType?: ECS.LaunchType;
  capacityProviderStrategy?: ECS.CapacityProviderStrategyItem[];
  platformVersion?: string;
  loadBalancers: ECS.LoadBalancer[];
  serviceRegistries: ECS.ServiceRegistry[];
  deploymentConfiguration: ECS.DeploymentConfiguration;
  deploymentController: ECS.DeploymentController;
  placementConstraints: ECS.PlacementConstraint[];
  placementStrategy: ECS.PlacementStrategy[];
  networkConfiguration?: ECS.NetworkConfiguration;
  healthCheckGracePeriodSeconds?: number;
  schedulingStrategy: ECS.SchedulingStrategy;
  enableECSManagedTags: boolean;
  propagateTags: ECS.PropagateTags;
  enableExecuteCommand: boolean;
  roleArn?: string;
  tags: ECS.Tag[];
  createdAt: number;
  createdBy: string;
  /** Newest first; exactly one PRIMARY while the service is ACTIVE. */
  deployments: DeploymentRecord[];
  /** Newest first, at most MAX_SERVICE_EVENTS. */
  events: ServiceEventRecord[];
  /** When the service became INACTIVE (for pruning). */
  inactiveAt?: number;
  /** The controller's last steady-state verdict (see `setServiceSteady`). */
  steady?: boolean;
}

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

const NAME_RE = /^[A-Za-z0-9_-]{1,255}$/;
const TG_ARN_RE = /^arn:aws[\w-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/;

/** A new deployment id: `ecs-svc/` and 19 digits, as ECS writes them. */
export function newDeploymentId(): string {
  let d = String(randomInt(1, 10));
  for (let i = 0; i < 18; i++) d += String(randomInt(0, 10));
  return `ecs-svc/${d}`;
}

function serviceKey(region: string, cluster: string, name: string): string {
  return clusterScopedKey(region, cluster, name);
}

function nameOf(s: Scope, clusterName: string, ref: string): string | undefined {
  const r = resourceRefOf(s, 'service', ref);
  if (!r || (r.cluster && r.cluster !== clusterName)) return undefined;
  return r.id;
}

/** Live tasks of a service (group `service:<name>`), from the task records. */
async function serviceTasks(s: Scope, clusterName: string, name: string): Promise<TaskRecord[]> {
  const all = await s.platform.store.list<TaskRecord>(KIND.task, { prefix: `${s.region}/${clusterName}/` });
  return all.map((r) => r.value).filter((t) => t.group === `service:${name}` && isLive(t));
}

function withCounts(rec: ServiceRecord, tasks: TaskRecord[]): { deployments: DeploymentWithCounts[]; runningCount: number; pendingCount: number } {
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
  const n = nameOf(s, clusterName, name);
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
  const n = nameOf(s, clusterName, name);
  if (!n) throw ecsErrors.serviceNotFound();
  const key = serviceKey(s.region, clusterName, n);
  for (let i = 0; i < 30; i++) {
    const rec = await s.platform.store.get<ServiceRecord>(KIND.service, key);
    if (!rec) throw ecsErrors.serviceNotFound();
    const next = fn(structuredClone(rec.value));
    if (!next) return rec.value;
    try {
      await s.platform.store.commit([{ kind: KIND.service, key, value: next, expectRev: rec.rev }]);
      return next;
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }
  }
  throw ecsErrors.invalidParameter('The service is being changed concurrently; retry.');
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

/** Patches one deployment (rolloutState, rolloutStateReason, failedTasks, desiredCount); stamps updatedAt. */
export async function updateDeployment(
  s: Scope,
  cluster: string,
  name: string,
  deploymentId: string,
  patch: Partial<Pick<DeploymentRecord, 'rolloutState' | 'rolloutStateReason' | 'failedTasks' | 'desiredCount'>>,
): Promise<ServiceRecord> {
  const now = s.platform.clock.now();
  return mutateService(s, cluster, name, (svc) => {
    const d = svc.deployments.find((x) => x.id === deploymentId);
    if (!d) throw ecsErrors.invalidParameter(`Deployment ${deploymentId} is not a deployment of this service.`);
    Object.assign(d, patch, { updatedAt: now });
    return svc;
  });
}

/** Removes a non-PRIMARY deployment once it has no tasks left (the controller decides when). */
export async function retireDeployment(s: Scope, cluster: string, name: string, deploymentId: string): Promise<ServiceRecord> {
  return mutateService(s, cluster, name, (svc) => {
    const d = svc.deployments.find((x) => x.id === deploymentId);
    if (!d) return undefined;
    if (d.status === 'PRIMARY') throw ecsErrors.invalidParameter('The PRIMARY deployment cannot be retired.');
    svc.deployments = svc.deployments.filter((x) => x.id !== deploymentId);
    return svc;
  });
}

/** Stores the controller's steady-state verdict (so it emits "reached a steady state" once). */
export async function setServiceSteady(s: Scope, cluster: string, name: string, steady: boolean): Promise<void> {
  await mutateService(s, cluster, name, (svc) => (svc.steady === steady ? undefined : { ...svc, steady }));
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
 * Circuit-breaker rollback: the failing PRIMARY `fromDeploymentId` is marked FAILED and becomes
 * ACTIVE; a new PRIMARY deployment runs the task definition of `toDeploymentId` (the last good
 * one), and the service's taskDefinition reverts to it. Returns the new deployment's id.
 */
export async function rollbackDeployment(s: Scope, cluster: string, name: string, fromDeploymentId: string, toDeploymentId: string, reason?: string): Promise<string> {
  const now = s.platform.clock.now();
  let id = '';
  await mutateService(s, cluster, name, (svc) => {
    const from = svc.deployments.find((d) => d.id === fromDeploymentId);
    const to = svc.deployments.find((d) => d.id === toDeploymentId);
    if (!from || !to) throw ecsErrors.invalidParameter('Both deployments must belong to the service.');
    from.status = 'ACTIVE';
    from.rolloutState = 'FAILED';
    from.rolloutStateReason = reason ?? `ECS deployment circuit breaker: rolling back to deploymentId ${toDeploymentId}.`;
    from.updatedAt = now;
    for (const d of svc.deployments) if (d.status === 'PRIMARY') d.status = 'ACTIVE';
    svc.taskDefinition = to.taskDefinition;
    const next = newDeployment(svc, now);
    id = next.id;
    svc.deployments.unshift(next);
    return svc;
  });
  return id;
}

/**
 * Starts `count` tasks for a deployment of a service: its task definition, group
 * `service:<name>`, startedBy = the deployment id, the service's placement constraints and
 * strategy, launch type and propagated tags (RunTask's placement applies the task definition's
 * requiresAttributes). Placement failures come back in `failures`.
 */
export async function launchServiceTasks(s: Scope, cluster: string, name: string, deploymentId: string, count: number): Promise<LaunchResult> {
  const { svc, d, tdRec } = await loadDeployment(s, cluster, name, deploymentId);
  const propagated = svc.propagateTags === 'SERVICE' ? svc.tags : svc.propagateTags === 'TASK_DEFINITION' ? tdRec?.value.tags ?? [] : [];
  const out: LaunchResult = { tasks: [], failures: [] };
  // launchTasks places at most 10 per call (RunTask's limit); services may need more.
  for (let left = count; left > 0; left -= 10) {
    const r = await launchTasks(s, {
      cluster: svc.clusterName,
      taskDefinition: d.taskDefinition,
      count: Math.min(10, left),
      startedBy: d.id,
      group: `service:${svc.serviceName}`,
      launchType: d.launchType,
      placementConstraints: svc.placementConstraints,
      // Services without a strategy spread over AZs, then instances (ECS's default), not random.
      placementStrategy: svc.placementStrategy.length ? svc.placementStrategy : DEFAULT_SERVICE_STRATEGY.map((x) => ({ ...x }) as ECS.PlacementStrategy),
      propagatedTags: propagated,
      enableExecuteCommand: svc.enableExecuteCommand,
      allowInactiveTaskDefinition: true,
    });
    out.tasks.push(...r.tasks);
    out.failures.push(...r.failures);
    if (r.failures.length) break;
  }
  return out;
}

/** Result of {@link launchDaemonTasks}: what started, and the placement message of each instance that could not take its task. */
export interface DaemonLaunchResult extends LaunchResult {
  messages: string[];
}

/** A service, one of its deployments and that deployment's task definition (undefined if deleted). */
async function loadDeployment(s: Scope, cluster: string, name: string, deploymentId: string) {
  const loaded = await loadService(s, cluster, name);
  if (!loaded) throw ecsErrors.serviceNotFound();
  const svc = loaded.record;
  const d = svc.deployments.find((x) => x.id === deploymentId);
  if (!d) throw ecsErrors.invalidParameter(`Deployment ${deploymentId} is not a deployment of this service.`);
  return { svc, d, tdRec: await findTaskDefinition(s, d.taskDefinition) };
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
export async function launchDaemonTasks(s: Scope, cluster: string, name: string, deploymentId: string, instanceIds: readonly string[]): Promise<DaemonLaunchResult> {
  const { svc, d, tdRec } = await loadDeployment(s, cluster, name, deploymentId);
  if (!tdRec) throw ecsErrors.taskDefinitionMissing(d.taskDefinition);
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
  await mutateService(s, cluster, name, (svc) => (svc.status === 'DRAINING' ? { ...svc, status: 'INACTIVE', inactiveAt: now, deployments: [] } : undefined));
  return true;
}

/** The API shape, given live counts. */
export function describeService(loaded: Pick<LoadedService, 'record' | 'deployments' | 'runningCount' | 'pendingCount'>, includeTags = false): ECS.Service {
  const r = loaded.record;
  const d = (v: number) => v as unknown as Date;
  return {
    serviceArn: r.serviceArn,
    serviceName: r.serviceName,
    clusterArn: r.clusterArn,
    loadBalancers: r.loadBalancers,
    serviceRegistries: r.serviceRegistries,
    status: r.status,
    desiredCount: r.desiredCount,
    runningCount: loaded.runningCount,
    pendingCount: loaded.pendingCount,
    launchType: r.launchType,
    capacityProviderStrategy: r.capacityProviderStrategy,
    platformVersion: r.platformVersion,
    taskDefinition: r.taskDefinition,
    deploymentConfiguration: r.deploymentConfiguration,
    deployments: loaded.deployments.map((x) => ({
      id: x.id,
      status: x.status,
      taskDefinition: x.taskDefinition,
      desiredCount: x.desiredCount,
      pendingCount: x.pendingCount,
      runningCount: x.runningCount,
      failedTasks: x.failedTasks,
      createdAt: d(x.createdAt),
      updatedAt: d(x.updatedAt),
      launchType: x.launchType,
      capacityProviderStrategy: x.capacityProviderStrategy,
      platformVersion: x.platformVersion,
      networkConfiguration: x.networkConfiguration,
      rolloutState: x.rolloutState,
      rolloutStateReason: x.rolloutStateReason,
    })),
    roleArn: r.roleArn,
    events: r.events.map((e) => ({ id: e.id, createdAt: d(e.createdAt), message: e.message })),
    createdAt: d(r.createdAt),
    createdBy: r.createdBy,
    placementConstraints: r.placementConstraints,
    placementStrategy: r.placementStrategy,
    networkConfiguration: r.networkConfiguration,
    healthCheckGracePeriodSeconds: r.healthCheckGracePeriodSeconds,
    schedulingStrategy: r.schedulingStrategy,
    deploymentController: r.deploymentController,
    tags: includeTags ? r.tags : undefined,
    enableECSManagedTags: r.enableECSManagedTags,
    propagateTags: r.propagateTags,
    enableExecuteCommand: r.enableExecuteCommand,
  };
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

function validateLoadBalancers(lbs: ECS.LoadBalancer[], td: TaskDefinitionRecord, ctx: RequestContext): void {
  if (lbs.length > 5) throw ecsErrors.invalidParameter('A service can have at most 5 load balancers (target groups).');
  for (const lb of lbs) {
    if (!lb.targetGroupArn && !lb.loadBalancerName) throw ecsErrors.invalidParameter('Each load balancer needs a targetGroupArn (or a Classic loadBalancerName).');
    if (lb.targetGroupArn) {
      const p = parseArn(lb.targetGroupArn);
      if (!TG_ARN_RE.test(lb.targetGroupArn) || !p) {
        throw ecsErrors.invalidParameter(`Target group ARN '${lb.targetGroupArn}' is not valid: expected arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<16 hex digits>.`);
      }
      if (p.region !== ctx.region) throw ecsErrors.invalidParameter(`Target group '${lb.targetGroupArn}' is in region ${p.region}, not ${ctx.region}.`);
      // TODO(elbv2): once the ELBv2 service exists, check that the target group exists (and
      // that its target type fits the network mode) through a platform hook it registers, e.g.
      // ctx.platform.hooks['elbv2.describeTargetGroup']. Until then any well-formed ARN passes.
    }
    if (!lb.containerName) throw ecsErrors.invalidParameter('containerName must be specified for each load balancer.');
    if (lb.containerPort === undefined) throw ecsErrors.invalidParameter('containerPort must be specified for each load balancer.');
    const c = td.taskDefinition.containerDefinitions?.find((x) => x.name === lb.containerName);
    if (!c) throw ecsErrors.invalidParameter(`The container ${lb.containerName} does not exist in the task definition.`);
    if (!(c.portMappings ?? []).some((pm) => pm.containerPort === lb.containerPort)) {
      throw ecsErrors.invalidParameter(`The container ${lb.containerName} did not have a container port ${lb.containerPort} defined.`);
    }
  }
}

function validateDeploymentConfiguration(dc: ECS.DeploymentConfiguration, daemon: boolean): ECS.DeploymentConfiguration {
  const min = dc.minimumHealthyPercent ?? (daemon ? 0 : 100);
  const max = dc.maximumPercent ?? (daemon ? 100 : 200);
  if (min < 0 || min > 100) throw ecsErrors.invalidParameter(`minimumHealthyPercent must be between 0 and 100 (got ${min}).`);
  if (max < 100 || max > 200 * 10) throw ecsErrors.invalidParameter(`maximumPercent must be at least 100 (got ${max}).`);
  if (daemon && max !== 100 && dc.maximumPercent !== undefined) throw ecsErrors.invalidParameter('The DAEMON scheduling strategy requires maximumPercent 100.');
  return {
    ...dc,
    deploymentCircuitBreaker: dc.deploymentCircuitBreaker ?? { enable: false, rollback: false },
    maximumPercent: max,
    minimumHealthyPercent: min,
  };
}

function validatePlacement(constraints: ECS.PlacementConstraint[] = [], strategy: ECS.PlacementStrategy[] = [], daemon = false): void {
  if (daemon && strategy.length) throw ecsErrors.invalidParameter('Placement strategies are not supported with the DAEMON scheduling strategy.');
  const err = checkPlacement(constraints, strategy);
  if (err) throw ecsErrors.invalidParameter(err);
}

function validateNetwork(td: TaskDefinitionRecord, nc: ECS.NetworkConfiguration | undefined): void {
  if (td.taskDefinition.networkMode === 'awsvpc') {
    if (!nc?.awsvpcConfiguration) throw ecsErrors.invalidParameter("Network Configuration must be provided when networkMode 'awsvpc' is specified.");
    if (!nc.awsvpcConfiguration.subnets.length) throw ecsErrors.invalidParameter('At least one subnet must be provided in awsvpcConfiguration.');
  } else if (nc?.awsvpcConfiguration) {
    throw ecsErrors.invalidParameter(`Network Configuration is not valid for the given networkMode of this task definition ('${td.taskDefinition.networkMode}').`);
  }
}

function checkMax(v: number | undefined, dflt: number): number {
  const n = v ?? dflt;
  if (n < 1 || n > 100) throw ecsErrors.invalidParameter('maxResults must be between 1 and 100.');
  return n;
}

/** How many ACTIVE services a cluster has (for DescribeClusters and DeleteCluster). */
export async function activeServiceCount(s: Scope, clusterName: string): Promise<number> {
  const recs = await s.platform.store.list<ServiceRecord>(KIND.service, { prefix: `${s.region}/${clusterName}/` });
  return recs.filter((r) => r.value.status === 'ACTIVE').length;
}

/** Deletes INACTIVE services older than `retentionMs` (they stay describable until then). */
export async function pruneInactiveServices(s: Scope, retentionMs: number): Promise<number> {
  const cutoff = s.platform.clock.now() - retentionMs;
  let n = 0;
  for (const r of await s.platform.store.list<ServiceRecord>(KIND.service, { prefix: `${s.region}/` })) {
    if (r.value.status !== 'INACTIVE' || (r.value.inactiveAt ?? 0) >= cutoff) continue;
    try {
      await s.platform.store.commit([{ kind: KIND.service, key: r.key, value: null, expectRev: r.rev }]);
      n++;
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }
  }
  return n;
}

export const serviceHandlers: Handlers<ECS.Operations> = {
  async CreateService(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    if (!NAME_RE.test(input.serviceName)) {
      throw ecsErrors.invalidParameter('Service name must be 1-255 characters: letters (upper and lower case), numbers, hyphens and underscores.');
    }
    const daemon = input.schedulingStrategy === 'DAEMON';
    if (input.deploymentController && input.deploymentController.type !== 'ECS') {
      throw ecsErrors.invalidParameter(`Deployment controller '${input.deploymentController.type}' is not supported by Berth; use ECS (rolling update).`);
    }
    if (!input.taskDefinition) throw ecsErrors.invalidParameter('A task definition must be specified for a service that uses the ECS deployment controller.');
    if (input.launchType && input.capacityProviderStrategy?.length) throw ecsErrors.invalidParameter('Specifying both a launchType and capacityProviderStrategy is not supported.');
    if (daemon && input.desiredCount !== undefined) throw ecsErrors.invalidParameter('The daemon scheduling strategy does not support a desired count for services.');
    if (!daemon && input.desiredCount === undefined) {
      throw ecsErrors.invalidParameter('desiredCount must be specified for a service that uses the REPLICA scheduling strategy.');
    }
    const desiredCount = daemon ? 0 : input.desiredCount ?? 0;
    if (desiredCount < 0) throw ecsErrors.invalidParameter('desiredCount must not be negative.');
    if (input.healthCheckGracePeriodSeconds !== undefined) {
      if (!input.loadBalancers?.length) throw ecsErrors.invalidParameter('Health check grace period is only valid for services configured to use load balancers.');
      if (input.healthCheckGracePeriodSeconds < 0 || input.healthCheckGracePeriodSeconds > 2147483647) throw ecsErrors.invalidParameter('healthCheckGracePeriodSeconds must be between 0 and 2147483647.');
    }
    const td = await requireActiveTaskDefinition(ctx, input.taskDefinition);
    validateLoadBalancers(input.loadBalancers ?? [], td, ctx);
    validateNetwork(td, input.networkConfiguration);
    validatePlacement(input.placementConstraints, input.placementStrategy, daemon);
    const deploymentConfiguration = validateDeploymentConfiguration(input.deploymentConfiguration ?? {}, daemon);
    const tags = mergeTags([], input.tags ?? [], ecsErrors.invalidParameter);
    if (input.role && !input.role.startsWith('arn:') && !/^[\w+=,.@/-]{1,512}$/.test(input.role)) throw ecsErrors.invalidParameter(`role '${input.role}' is not a role name or ARN.`);
    const now = ctx.platform.clock.now();
    const key = serviceKey(ctx.region, cluster.clusterName, input.serviceName);
    const base = {
      taskDefinition: td.taskDefinition.taskDefinitionArn,
      desiredCount,
      launchType: input.capacityProviderStrategy?.length ? undefined : input.launchType ?? 'EC2',
      capacityProviderStrategy: input.capacityProviderStrategy,
      platformVersion: input.platformVersion,
      networkConfiguration: input.networkConfiguration,
    };
    const rec: ServiceRecord = {
      ...base,
      serviceName: input.serviceName,
      serviceArn: serviceArn(ctx, cluster.clusterName, input.serviceName),
      clusterName: cluster.clusterName,
      clusterArn: clusterArn(ctx, cluster.clusterName),
      status: 'ACTIVE',
      loadBalancers: input.loadBalancers ?? [],
      serviceRegistries: input.serviceRegistries ?? [],
      deploymentConfiguration,
      deploymentController: { type: 'ECS' },
      placementConstraints: input.placementConstraints ?? [],
      placementStrategy: input.placementStrategy ?? [],
      healthCheckGracePeriodSeconds: input.healthCheckGracePeriodSeconds,
      schedulingStrategy: input.schedulingStrategy ?? 'REPLICA',
      enableECSManagedTags: input.enableECSManagedTags ?? false,
      propagateTags: input.propagateTags ?? 'NONE',
      enableExecuteCommand: input.enableExecuteCommand ?? false,
      roleArn: input.role ? (input.role.startsWith('arn:') ? input.role : `arn:aws:iam::${ctx.platform.accountId}:role/${input.role}`) : undefined,
      tags,
      createdAt: now,
      createdBy: ctx.principal.arn,
      deployments: [newDeployment(base, now)],
      events: [],
    };
    for (let i = 0; i < 30; i++) {
      const cur = await ctx.platform.store.get<ServiceRecord>(KIND.service, key);
      if (cur?.value.status === 'DRAINING') {
        await finishDraining(ctx, cluster.clusterName, input.serviceName);
        const again = await ctx.platform.store.get<ServiceRecord>(KIND.service, key);
        if (again?.value.status === 'DRAINING') throw ecsErrors.invalidParameter('Unable to Start a service that is still Draining.');
        continue;
      }
      if (cur?.value.status === 'ACTIVE') throw ecsErrors.invalidParameter('Creation of service was not idempotent.');
      try {
        await ctx.platform.store.commit([{ kind: KIND.service, key, value: rec, expectRev: cur?.rev ?? 0 }]);
        return { service: describeService({ record: rec, ...withCounts(rec, []) }, true) };
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
      }
    }
    throw ecsErrors.invalidParameter('The service is being changed concurrently; retry.');
  },

  async UpdateService(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const name = nameOf(ctx, cluster.clusterName, input.service);
    const existing = name ? await ctx.platform.store.get<ServiceRecord>(KIND.service, serviceKey(ctx.region, cluster.clusterName, name)) : undefined;
    if (!existing || existing.value.status === 'INACTIVE') throw ecsErrors.serviceNotFound();
    if (existing.value.status !== 'ACTIVE') throw ecsErrors.serviceNotActive();
    const cur = existing.value;
    const daemon = cur.schedulingStrategy === 'DAEMON';
    if (input.desiredCount !== undefined) {
      if (daemon) throw ecsErrors.invalidParameter('The daemon scheduling strategy does not support a desired count for services.');
      if (input.desiredCount < 0) throw ecsErrors.invalidParameter('desiredCount must not be negative.');
    }
    if (input.deploymentController && input.deploymentController.type !== 'ECS') throw ecsErrors.invalidParameter('Only the ECS deployment controller is supported.');
    const td = input.taskDefinition ? await requireActiveTaskDefinition(ctx, input.taskDefinition) : await requireTaskDefinitionAny(ctx, cur.taskDefinition);
    const lbs = input.loadBalancers ?? cur.loadBalancers;
    validateLoadBalancers(lbs, td, ctx);
    const nc = input.networkConfiguration ?? cur.networkConfiguration;
    if (input.taskDefinition || input.networkConfiguration) validateNetwork(td, nc);
    validatePlacement(input.placementConstraints ?? cur.placementConstraints, input.placementStrategy ?? cur.placementStrategy, daemon);
    const dc = input.deploymentConfiguration ? validateDeploymentConfiguration({ ...input.deploymentConfiguration }, daemon) : cur.deploymentConfiguration;
    if (input.healthCheckGracePeriodSeconds !== undefined && !lbs.length) throw ecsErrors.invalidParameter('Health check grace period is only valid for services configured to use load balancers.');
    const now = ctx.platform.clock.now();
    const next = await mutateService(ctx, cluster.clusterName, name!, (svc) => {
      if (svc.status !== 'ACTIVE') throw ecsErrors.serviceNotActive();
      const newTd = td.taskDefinition.taskDefinitionArn;
      const redeploy =
        input.forceNewDeployment === true ||
        newTd !== svc.taskDefinition ||
        (input.networkConfiguration !== undefined && JSON.stringify(input.networkConfiguration) !== JSON.stringify(svc.networkConfiguration)) ||
        (input.loadBalancers !== undefined && JSON.stringify(input.loadBalancers) !== JSON.stringify(svc.loadBalancers)) ||
        (input.capacityProviderStrategy !== undefined && JSON.stringify(input.capacityProviderStrategy) !== JSON.stringify(svc.capacityProviderStrategy)) ||
        (input.platformVersion !== undefined && input.platformVersion !== svc.platformVersion);
      const n: ServiceRecord = {
        ...svc,
        taskDefinition: newTd,
        desiredCount: input.desiredCount ?? svc.desiredCount,
        capacityProviderStrategy: input.capacityProviderStrategy ?? svc.capacityProviderStrategy,
        platformVersion: input.platformVersion ?? svc.platformVersion,
        networkConfiguration: nc,
        loadBalancers: lbs,
        serviceRegistries: input.serviceRegistries ?? svc.serviceRegistries,
        deploymentConfiguration: dc,
        placementConstraints: input.placementConstraints ?? svc.placementConstraints,
        placementStrategy: input.placementStrategy ?? svc.placementStrategy,
        healthCheckGracePeriodSeconds: input.healthCheckGracePeriodSeconds ?? svc.healthCheckGracePeriodSeconds,
        enableECSManagedTags: input.enableECSManagedTags ?? svc.enableECSManagedTags,
        propagateTags: input.propagateTags ?? svc.propagateTags,
        enableExecuteCommand: input.enableExecuteCommand ?? svc.enableExecuteCommand,
      };
      if (redeploy) {
        for (const d of n.deployments) if (d.status === 'PRIMARY') {
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
    const tasks = await serviceTasks(ctx, cluster.clusterName, name!);
    return { service: describeService({ record: next, ...withCounts(next, tasks) }) };
  },

  async DeleteService(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const name = nameOf(ctx, cluster.clusterName, input.service);
    const existing = name ? await ctx.platform.store.get<ServiceRecord>(KIND.service, serviceKey(ctx.region, cluster.clusterName, name)) : undefined;
    if (!existing || existing.value.status === 'INACTIVE') throw ecsErrors.serviceNotFound();
    const now = ctx.platform.clock.now();
    const next = await mutateService(ctx, cluster.clusterName, name!, (svc) => {
      if (svc.status === 'INACTIVE') throw ecsErrors.serviceNotFound();
      if (svc.status === 'DRAINING') return undefined;
      if (svc.schedulingStrategy === 'REPLICA' && svc.desiredCount > 0 && !input.force) {
        throw ecsErrors.invalidParameter('The service cannot be stopped while it is scaled above 0.');
      }
      for (const d of svc.deployments) {
        d.desiredCount = 0;
        d.updatedAt = now;
      }
      return { ...svc, status: 'DRAINING', desiredCount: 0 };
    });
    const tasks = await serviceTasks(ctx, cluster.clusterName, name!);
    return { service: describeService({ record: next, ...withCounts(next, tasks) }) };
  },

  async DescribeServices(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    if (input.services.length === 0) throw ecsErrors.invalidParameter('Services cannot be empty.');
    if (input.services.length > 10) throw ecsErrors.invalidParameter('At most 10 services can be described at once.');
    const services: ECS.Service[] = [];
    const failures: ECS.Failure[] = [];
    for (const ref of input.services) {
      const n = nameOf(ctx, cluster.clusterName, ref);
      if (n) await finishDraining(ctx, cluster.clusterName, n);
      const loaded = n ? await loadService(ctx, cluster.clusterName, n) : undefined;
      if (loaded) services.push(describeService(loaded, input.include?.includes('TAGS')));
      else failures.push({ arn: ref.startsWith('arn:') ? ref : serviceArn(ctx, cluster.clusterName, ref), reason: 'MISSING' });
    }
    return { services, failures };
  },

  async ListServices(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const maxResults = checkMax(input.maxResults, 10);
    const page = await pageOf<ServiceRecord>(ctx.platform.store, KIND.service, `${ctx.region}/${cluster.clusterName}/`, {
      token: input.nextToken,
      maxResults,
      invalidToken: ecsErrors.invalidToken,
      filter: (r: StoredRecord<ServiceRecord>) => {
        const v = r.value;
        if (v.status === 'INACTIVE') return false;
        if (input.launchType && v.launchType !== input.launchType) return false;
        if (input.schedulingStrategy && v.schedulingStrategy !== input.schedulingStrategy) return false;
        return true;
      },
    });
    return { serviceArns: page.items.map((r) => r.value.serviceArn), nextToken: page.nextToken };
  },
};

async function requireTaskDefinitionAny(s: Scope, arn: string): Promise<TaskDefinitionRecord> {
  const rec = await findTaskDefinition(s, arn);
  if (!rec) throw ecsErrors.taskDefinitionMissing(arn);
  return rec.value;
}
