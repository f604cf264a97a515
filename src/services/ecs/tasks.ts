/**
 * ECS tasks: RunTask/StartTask create task records (placed on container instances), StopTask
 * asks for a stop, DescribeTasks/ListTasks read them, and SubmitTaskStateChange /
 * SubmitContainerStateChange record what agents report. The same operations are exported as
 * plain functions over the store for the agent and the service controller (no HTTP):
 * `launchTasks`, `listTasksForContainerInstance`, `applyTaskStateChange`,
 * `applyContainerStateChange`, `requestTaskStop`, `pruneStoppedTasks`.
 *
 * Invariants: a task's record is the only truth about it; lastStatus only moves forward through
 * TASK_STATUS_ORDER; stopped tasks stay describable for STOPPED_TASK_RETENTION_MS at least.
 * Placement commits the chosen instance's record (bumping its `version`) in the same batch as
 * the new tasks, so two concurrent launches never overcommit one instance.
 */
import { missingAttribute } from '../../control/placement.js';
import type * as ECS from '../../generated/ecs.js';
import { hexId, mergeTags, pageOf } from '../common.js';
import type { Handlers } from '../types.js';
import { ConflictError, type StoredRecord, type Write } from '../../store/types.js';
import { ecsErrors } from './errors.js';
import { requireCluster } from './clusters.js';
import { KIND, clusterArn, clusterNameOf, clusterScopedKey, resourceRefOf, taskArn, type Scope } from './keys.js';
import { findTaskDefinition, requireActiveTaskDefinition, taskDefinitionConstraints, taskNeeds, type TaskDefinitionRecord, type TaskResourceNeeds } from './taskDefinitions.js';
import { candidatesFor, findContainerInstance, type ContainerInstanceRecord } from './containerInstances.js';
import { checkPlacement, placeTask } from './placement.js';

/** How long STOPPED tasks remain describable before `pruneStoppedTasks` removes them. */
export const STOPPED_TASK_RETENTION_MS = 60 * 60 * 1000;

/** The lifecycle order of lastStatus; reports that would move a task backwards are ignored. */
export const TASK_STATUS_ORDER = ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED'] as const;
export type TaskStatus = (typeof TASK_STATUS_ORDER)[number];
const CONTAINER_STATUS_ORDER = ['PENDING', 'RUNNING', 'STOPPED'];

/** A container of a task as stored (times are epoch ms). */
export interface ContainerRecord {
  containerArn: string;
  name: string;
  image?: string;
  essential: boolean;
  lastStatus: string;
  exitCode?: number;
  reason?: string;
  networkBindings: ECS.NetworkBinding[];
  healthStatus?: ECS.HealthStatus;
  runtimeId?: string;
  imageDigest?: string;
  cpu?: string;
  memory?: string;
  memoryReservation?: string;
  /** Whether the task definition gives the container a health check. */
  hasHealthCheck: boolean;
}

/** A task as stored. Times are epoch ms. */
export interface TaskRecord {
  taskId: string;
  taskArn: string;
  clusterName: string;
  clusterArn: string;
  taskDefinitionArn: string;
  family: string;
  containerInstanceId?: string;
  containerInstanceArn?: string;
  availabilityZone?: string;
  launchType: ECS.LaunchType;
  capacityProviderName?: string;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  startedBy?: string;
  group: string;
  overrides: ECS.TaskOverride;
  cpu?: string;
  memory?: string;
  containers: ContainerRecord[];
  tags: ECS.Tag[];
  enableExecuteCommand: boolean;
  healthStatus: ECS.HealthStatus;
  /** Bumped on every change, as ECS's `version`. */
  version: number;
  needs: TaskResourceNeeds;
  /** Set by the service controller when it deregisters the task's target before stopping it. */
  drainStartedAt?: number;
  createdAt: number;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  startedAt?: number;
  connectivityAt?: number;
  stoppingAt?: number;
  executionStoppedAt?: number;
  stoppedAt?: number;
  stopCode?: ECS.TaskStopCode;
  stoppedReason?: string;
}

/** Whether a task still holds resources on its instance (not yet STOPPED). */
export function isLive(t: TaskRecord): boolean {
  return t.lastStatus !== 'STOPPED';
}

function rank(s: string): number {
  return TASK_STATUS_ORDER.indexOf(s as TaskStatus);
}

/** The API shape of a stored task. */
export function describeTask(t: TaskRecord, includeTags = false): ECS.Task {
  const d = (v?: number) => (v === undefined ? undefined : (v as unknown as Date));
  return {
    taskArn: t.taskArn,
    clusterArn: t.clusterArn,
    taskDefinitionArn: t.taskDefinitionArn,
    containerInstanceArn: t.containerInstanceArn,
    availabilityZone: t.availabilityZone,
    launchType: t.launchType,
    capacityProviderName: t.capacityProviderName,
    lastStatus: t.lastStatus,
    desiredStatus: t.desiredStatus,
    startedBy: t.startedBy,
    group: t.group,
    overrides: { containerOverrides: [], inferenceAcceleratorOverrides: [], ...t.overrides },
    cpu: t.cpu,
    memory: t.memory,
    containers: t.containers.map((c) => ({
      containerArn: c.containerArn,
      taskArn: t.taskArn,
      name: c.name,
      image: c.image,
      imageDigest: c.imageDigest,
      runtimeId: c.runtimeId,
      lastStatus: c.lastStatus,
      exitCode: c.exitCode,
      reason: c.reason,
      networkBindings: c.networkBindings,
      networkInterfaces: [],
      healthStatus: c.healthStatus ?? 'UNKNOWN',
      cpu: c.cpu,
      memory: c.memory,
      memoryReservation: c.memoryReservation,
    })),
    tags: includeTags ? t.tags : undefined,
    enableExecuteCommand: t.enableExecuteCommand,
    healthStatus: t.healthStatus,
    version: t.version,
    attachments: [],
    attributes: [],
    connectivity: t.connectivityAt !== undefined ? 'CONNECTED' : undefined,
    connectivityAt: d(t.connectivityAt),
    createdAt: d(t.createdAt),
    pullStartedAt: d(t.pullStartedAt),
    pullStoppedAt: d(t.pullStoppedAt),
    startedAt: d(t.startedAt),
    stoppingAt: d(t.stoppingAt),
    executionStoppedAt: d(t.executionStoppedAt),
    stoppedAt: d(t.stoppedAt),
    stopCode: t.stopCode,
    stoppedReason: t.stoppedReason,
  };
}

/** What to launch: the common core of RunTask, StartTask and the service scheduler. */
export interface LaunchSpec {
  /** Cluster name or ARN. */
  cluster: string;
  /** family, family:revision or ARN; must be ACTIVE. */
  taskDefinition: string;
  count: number;
  startedBy?: string;
  /** Default `family:<family>`; services use `service:<name>`. */
  group?: string;
  launchType?: ECS.LaunchType;
  overrides?: ECS.TaskOverride;
  placementConstraints?: ECS.PlacementConstraint[];
  placementStrategy?: ECS.PlacementStrategy[];
  tags?: ECS.Tag[];
  /** Tags to add from the task definition or service (propagateTags). */
  propagatedTags?: ECS.Tag[];
  enableExecuteCommand?: boolean;
  /** StartTask: exactly these instance ids/ARNs, one task each, no resource placement. */
  containerInstances?: string[];
  /**
   * Services keep running a revision deregistered after the deployment began (as ECS does);
   * RunTask/StartTask never set this.
   */
  allowInactiveTaskDefinition?: boolean;
  /**
   * The ACTIVE task definition `taskDefinition` names, when the caller has just resolved it in
   * the same request (RunTask): saves reading it again. Never set it to anything else.
   */
  resolvedTaskDefinition?: TaskDefinitionRecord;
}

/** The result of a launch: created tasks (API shape + records) and per-task failures. */
export interface LaunchResult {
  tasks: TaskRecord[];
  failures: ECS.Failure[];
}

function validateOverrides(td: TaskDefinitionRecord, o: ECS.TaskOverride | undefined): void {
  const names = new Set((td.taskDefinition.containerDefinitions ?? []).map((c) => c.name));
  for (const co of o?.containerOverrides ?? []) {
    if (!co.name || !names.has(co.name)) {
      throw ecsErrors.invalidParameter(`Override for container named '${co.name ?? ''}' is not a container in the TaskDefinition.`);
    }
    if (co.cpu !== undefined && co.cpu < 0) throw ecsErrors.invalidParameter(`containerOverrides '${co.name}': cpu must not be negative.`);
    if (co.memory !== undefined && co.memory < 6) throw ecsErrors.invalidParameter(`containerOverrides '${co.name}': memory must be at least 6 MiB.`);
  }
}

function validatePlacementInput(constraints: ECS.PlacementConstraint[] | undefined, strategy: ECS.PlacementStrategy[] | undefined): void {
  const err = checkPlacement(constraints, strategy);
  if (err) throw ecsErrors.invalidParameter(err);
}

function newTask(s: Scope, clusterName: string, td: TaskDefinitionRecord, spec: LaunchSpec, ci: ContainerInstanceRecord | undefined, now: number): TaskRecord {
  const id = hexId();
  const arnOf = taskArn(s, clusterName, id);
  const def = td.taskDefinition;
  const ov = (name?: string) => spec.overrides?.containerOverrides?.find((o) => o.name === name);
  const tags = mergeTags(spec.propagatedTags ?? [], spec.tags ?? [], ecsErrors.invalidParameter);
  return {
    taskId: id,
    taskArn: arnOf,
    clusterName,
    clusterArn: clusterArn(s, clusterName),
    taskDefinitionArn: def.taskDefinitionArn,
    family: def.family,
    containerInstanceId: ci?.id,
    containerInstanceArn: ci?.containerInstanceArn,
    availabilityZone: ci?.attributes.find((a) => a.name === 'ecs.availability-zone')?.value,
    launchType: spec.launchType ?? 'EC2',
    // awsvpc tasks provision their network first (PROVISIONING); others start PENDING, as on ECS.
    lastStatus: def.networkMode === 'awsvpc' ? 'PROVISIONING' : 'PENDING',
    desiredStatus: 'RUNNING',
    startedBy: spec.startedBy,
    group: spec.group ?? `family:${def.family}`,
    overrides: spec.overrides ?? {},
    cpu: spec.overrides?.cpu ?? def.cpu,
    memory: spec.overrides?.memory ?? def.memory,
    containers: (def.containerDefinitions ?? []).map((c) => {
      const o = ov(c.name);
      const cpu = o?.cpu ?? c.cpu;
      const mem = o?.memory ?? c.memory;
      const res = o?.memoryReservation ?? c.memoryReservation;
      return {
        containerArn: `arn:aws:ecs:${s.region}:${s.platform.accountId}:container/${clusterName}/${id}/${hexId()}`,
        name: c.name!,
        image: c.image,
        essential: c.essential !== false,
        lastStatus: 'PENDING',
        networkBindings: [],
        hasHealthCheck: !!c.healthCheck,
        healthStatus: 'UNKNOWN' as const,
        cpu: cpu !== undefined ? String(cpu) : undefined,
        memory: mem !== undefined ? String(mem) : undefined,
        memoryReservation: res !== undefined ? String(res) : undefined,
      };
    }),
    tags,
    enableExecuteCommand: spec.enableExecuteCommand ?? false,
    healthStatus: 'UNKNOWN',
    version: 1,
    needs: taskNeeds(def, spec.overrides),
    createdAt: now,
  };
}

/**
 * A task definition with a task's overrides applied, i.e. what an agent must run: container
 * `command` and `cpu`/`memory`/`memoryReservation` replaced, `environment` merged by name
 * (override wins), `environmentFiles` appended; task-level cpu, memory and roles replaced.
 */
export function applyOverrides(td: ECS.TaskDefinition, o: ECS.TaskOverride | undefined): ECS.TaskDefinition {
  if (!o) return td;
  const containerDefinitions = (td.containerDefinitions ?? []).map((c) => {
    const co = o.containerOverrides?.find((x) => x.name === c.name);
    if (!co) return c;
    const env = new Map((c.environment ?? []).map((e) => [e.name, e]));
    for (const e of co.environment ?? []) env.set(e.name, e);
    return {
      ...c,
      ...(co.command ? { command: co.command } : {}),
      ...(co.cpu !== undefined ? { cpu: co.cpu } : {}),
      ...(co.memory !== undefined ? { memory: co.memory } : {}),
      ...(co.memoryReservation !== undefined ? { memoryReservation: co.memoryReservation } : {}),
      environment: [...env.values()],
      environmentFiles: [...(c.environmentFiles ?? []), ...(co.environmentFiles ?? [])],
    };
  });
  return {
    ...td,
    containerDefinitions,
    cpu: o.cpu ?? td.cpu,
    memory: o.memory ?? td.memory,
    taskRoleArn: o.taskRoleArn ?? td.taskRoleArn,
    executionRoleArn: o.executionRoleArn ?? td.executionRoleArn,
  };
}

/** The task definition a task runs, with its overrides applied (undefined if it was deleted). */
export async function resolvedTaskDefinition(s: Scope, task: TaskRecord): Promise<ECS.TaskDefinition | undefined> {
  const rec = await findTaskDefinition(s, task.taskDefinitionArn);
  return rec ? applyOverrides(rec.value.taskDefinition, task.overrides) : undefined;
}

async function requireTaskDefinitionForService(s: Scope, ref: string): Promise<TaskDefinitionRecord> {
  const rec = await findTaskDefinition(s, ref);
  if (!rec || rec.value.taskDefinition.status === 'DELETE_IN_PROGRESS') throw ecsErrors.taskDefinitionMissing(ref);
  return rec.value;
}

/** Store key of a live task's entry in the by-instance index (KIND.liveTaskOnInstance). */
function liveIndexKey(region: string, t: TaskRecord): string {
  return `${region}/${t.clusterName}/${t.containerInstanceId!}/${t.taskId}`;
}

function inLiveIndex(t: TaskRecord | undefined): boolean {
  return !!t && !!t.containerInstanceId && isLive(t);
}

/**
 * The writes that keep the by-instance index of live tasks in step with a task going from
 * `before` to `after` (undefined: absent); commit them in the same batch as the task's write.
 */
export function liveIndexWrites(region: string, before: TaskRecord | undefined, after: TaskRecord | undefined): Write[] {
  const was = inLiveIndex(before);
  const is = inLiveIndex(after);
  if (is && !was) return [{ kind: KIND.liveTaskOnInstance, key: liveIndexKey(region, after!), value: {} }];
  if (was && !is) return [{ kind: KIND.liveTaskOnInstance, key: liveIndexKey(region, before!), value: null }];
  return [];
}

/** The writes that create a task: its record (which must not exist yet) and its index entry. */
function newTaskWrites(region: string, clusterName: string, t: TaskRecord): Write[] {
  return [{ kind: KIND.task, key: clusterScopedKey(region, clusterName, t.taskId), value: t, expectRev: 0 }, ...liveIndexWrites(region, undefined, t)];
}

/**
 * Live tasks (not STOPPED) placed on container instances of a cluster, from the by-instance
 * index: all of the cluster's, or only those of one instance id. In task id order per instance.
 * Each task is read and checked, so an index entry left behind never yields a stopped task.
 */
async function liveTasksFromIndex(s: Scope, clusterName: string, instanceId?: string): Promise<TaskRecord[]> {
  const { store } = s.platform;
  const prefix = instanceId === undefined ? `${s.region}/${clusterName}/` : `${s.region}/${clusterName}/${instanceId}/`;
  const entries = await store.list(KIND.liveTaskOnInstance, { prefix });
  const instances: string[] = [];
  const keys: string[] = [];
  for (const e of entries) {
    const slash = e.key.lastIndexOf('/');
    instances.push(e.key.slice(e.key.lastIndexOf('/', slash - 1) + 1, slash));
    keys.push(clusterScopedKey(s.region, clusterName, e.key.slice(slash + 1)));
  }
  const out: TaskRecord[] = [];
  (await store.getMany<TaskRecord>(KIND.task, keys)).forEach((r, i) => {
    if (r && isLive(r.value) && r.value.containerInstanceId === instances[i]) out.push(r.value);
  });
  return out;
}

/**
 * Fills the by-instance index for live tasks that have no entry yet (state written before the
 * index existed) and drops entries of tasks that are gone or STOPPED. Run once at start.
 * A missing entry is added together with an unchanged rewrite of its task, conditional on the
 * task's revision, so a concurrent stop cannot leave a live entry behind.
 */
export async function rebuildLiveTaskIndex(platform: Scope['platform']): Promise<void> {
  const { store } = platform;
  const entries = new Set((await store.list(KIND.liveTaskOnInstance)).map((e) => e.key));
  const wanted = new Set<string>();
  for (const r of await store.list<TaskRecord>(KIND.task)) {
    const region = r.key.slice(0, r.key.indexOf('/'));
    if (!inLiveIndex(r.value)) continue;
    const key = liveIndexKey(region, r.value);
    wanted.add(key);
    if (entries.has(key)) continue;
    for (let rec: StoredRecord<TaskRecord> | undefined = r, i = 0; rec && inLiveIndex(rec.value) && i < 30; i++) {
      try {
        await store.commit([{ kind: KIND.task, key: rec.key, value: rec.value, expectRev: rec.rev }, ...liveIndexWrites(region, undefined, rec.value)]);
        break;
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
        rec = await store.get<TaskRecord>(KIND.task, r.key);
      }
    }
  }
  for (const key of entries) if (!wanted.has(key)) await store.commit([{ kind: KIND.liveTaskOnInstance, key, value: null }]);
}

/** Live tasks of a cluster, grouped by container instance id. */
export async function liveTasksByInstance(s: Scope, clusterName: string): Promise<Map<string, TaskRecord[]>> {
  const m = new Map<string, TaskRecord[]>();
  for (const t of await liveTasksFromIndex(s, clusterName)) {
    const a = m.get(t.containerInstanceId!) ?? [];
    a.push(t);
    m.set(t.containerInstanceId!, a);
  }
  return m;
}

/**
 * Creates `count` tasks of an ACTIVE task definition in a cluster, placing each on a
 * container instance with room (or on the named instances for StartTask). Tasks start
 * lastStatus PENDING (PROVISIONING for awsvpc), desiredStatus RUNNING; agents move them on. Returns what was
 * created and a failure per task that could not be placed. Throws ServiceErrors for bad
 * input (unknown cluster, inactive task definition, no instances at all).
 */
export async function launchTasks(s: Scope, spec: LaunchSpec): Promise<LaunchResult> {
  const clusterName = clusterNameOf(s, spec.cluster);
  await requireCluster(s, clusterName);
  const td =
    spec.resolvedTaskDefinition ??
    (spec.allowInactiveTaskDefinition ? await requireTaskDefinitionForService(s, spec.taskDefinition) : await requireActiveTaskDefinition(s, spec.taskDefinition));
  if (spec.count < 1 || spec.count > 10) throw ecsErrors.invalidParameter('count must be between 1 and 10.');
  validateOverrides(td, spec.overrides);
  validatePlacementInput(spec.placementConstraints, spec.placementStrategy);
  const launchType = spec.launchType ?? 'EC2';
  const { store, clock } = s.platform;

  // FARGATE / MANAGED_INSTANCES are accepted but placed like EC2: Berth runs every task on
  // container instances registered by its agents.
  if (launchType === 'FARGATE' && !td.taskDefinition.compatibilities?.includes('FARGATE')) {
    throw ecsErrors.invalidParameter('Task definition does not support launch_type FARGATE.');
  }
  if (spec.containerInstances) {
    if (spec.containerInstances.length < 1 || spec.containerInstances.length > 10) throw ecsErrors.invalidParameter('Between 1 and 10 container instances must be given.');
    const writes: Write[] = [];
    const tasks: TaskRecord[] = [];
    const failures: ECS.Failure[] = [];
    const now = clock.now();
    for (const ref of spec.containerInstances) {
      const ci = await findContainerInstance(s, clusterName, ref);
      if (!ci || ci.value.status === 'INACTIVE') {
        failures.push({ arn: ref, reason: 'MISSING' });
        continue;
      }
      const attrs = Object.fromEntries((ci.value.attributes ?? []).map((a) => [a.name, a.value ?? null]));
      if (missingAttribute(attrs, td.taskDefinition.requiresAttributes)) {
        failures.push({ arn: ci.value.containerInstanceArn, reason: 'ATTRIBUTE' });
        continue;
      }
      const t = newTask(s, clusterName, td, { ...spec, launchType }, ci.value, now);
      tasks.push(t);
      writes.push(...newTaskWrites(s.region, clusterName, t));
    }
    if (writes.length) await store.commit(writes);
    return { tasks, failures };
  }

  const tasks: TaskRecord[] = [];
  const failures: ECS.Failure[] = [];
  for (let n = 0; n < spec.count; n++) {
    let placed = false;
    for (let attempt = 0; attempt < 30 && !placed; attempt++) {
      const { candidates, records } = await candidatesFor(s, clusterName);
      if (records.size === 0) {
        if (tasks.length === 0) throw ecsErrors.noContainerInstances();
        failures.push({ reason: 'No Container Instances were found in your cluster.' });
        break;
      }
      const needs = taskNeeds(td.taskDefinition, spec.overrides);
      const res = placeTask(candidates, {
        ...needs,
        group: spec.group ?? `family:${td.taskDefinition.family}`,
        constraints: [...taskDefinitionConstraints(td.taskDefinition), ...(spec.placementConstraints ?? [])],
        strategy: spec.placementStrategy ?? [],
        requiredAttributes: td.taskDefinition.requiresAttributes,
      });
      if (!res.ok) {
        if (res.failures.length) failures.push(...res.failures);
        else failures.push({ reason: 'No ACTIVE container instances with a connected agent were found in your cluster.' });
        break;
      }
      const ciRec = records.get(res.candidate.id)!;
      const t = newTask(s, clusterName, td, { ...spec, launchType }, ciRec.value, clock.now());
      try {
        await store.commit([
          { kind: KIND.containerInstance, key: ciRec.key, value: { ...ciRec.value, version: ciRec.value.version + 1 }, expectRev: ciRec.rev },
          ...newTaskWrites(s.region, clusterName, t),
        ]);
        tasks.push(t);
        placed = true;
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
      }
    }
    if (!placed) break;
  }
  return { tasks, failures };
}

/** Loads a task by id or ARN within a cluster. */
export async function findTask(s: Scope, clusterName: string, ref: string): Promise<StoredRecord<TaskRecord> | undefined> {
  const r = resourceRefOf(s, 'task', ref);
  if (!r || (r.cluster && r.cluster !== clusterName) || !/^[a-f0-9]{32}$/.test(r.id)) return undefined;
  return s.platform.store.get<TaskRecord>(KIND.task, clusterScopedKey(s.region, clusterName, r.id));
}

/** Applies `fn` to a task record with optimistic concurrency; throws if the task is unknown. */
export async function mutateTask(s: Scope, cluster: string, ref: string, fn: (t: TaskRecord) => TaskRecord | undefined): Promise<TaskRecord> {
  const clusterName = clusterNameOf(s, cluster);
  for (let i = 0; i < 30; i++) {
    const rec = await findTask(s, clusterName, ref);
    if (!rec) throw ecsErrors.taskNotFound();
    const next = fn(structuredClone(rec.value));
    if (!next) return rec.value;
    next.version = rec.value.version + 1;
    try {
      await s.platform.store.commit([{ kind: KIND.task, key: rec.key, value: next, expectRev: rec.rev }, ...liveIndexWrites(s.region, rec.value, next)]);
      return next;
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }
  }
  throw ecsErrors.invalidParameter('The task is being changed concurrently; retry.');
}

/**
 * Asks for a task to stop: desiredStatus STOPPED, stoppingAt, stopCode and stoppedReason (the
 * first request's reason wins); the agent then stops it and reports STOPPED. A task that never
 * started and that no agent can act on (its instance is gone, INACTIVE or its agent is
 * disconnected) is STOPPED at once, since nobody else would ever stop it. Controllers pass
 * stopCode 'ServiceSchedulerInitiated'.
 */
export async function requestTaskStop(s: Scope, cluster: string, ref: string, opts: { reason?: string; stopCode?: ECS.TaskStopCode } = {}): Promise<TaskRecord> {
  const now = s.platform.clock.now();
  const clusterName = clusterNameOf(s, cluster);
  const cur = await findTask(s, clusterName, ref);
  let orphan = false;
  if (cur && rank(cur.value.lastStatus) < rank('RUNNING')) {
    const ci = cur.value.containerInstanceId ? await findContainerInstance(s, clusterName, cur.value.containerInstanceId) : undefined;
    orphan = !ci || ci.value.status === 'INACTIVE' || !ci.value.agentConnected;
  }
  return mutateTask(s, cluster, ref, (t) => {
    if (t.desiredStatus === 'STOPPED') return undefined;
    t.desiredStatus = 'STOPPED';
    t.stoppingAt = now;
    t.stopCode = opts.stopCode ?? 'UserInitiated';
    t.stoppedReason = opts.reason ?? (t.stopCode === 'UserInitiated' ? 'Task stopped by user' : undefined);
    if (orphan && rank(t.lastStatus) < rank('RUNNING')) {
      t.lastStatus = 'STOPPED';
      t.stoppedAt = now;
      t.executionStoppedAt = now;
      for (const c of t.containers) if (c.lastStatus !== 'STOPPED') c.lastStatus = 'STOPPED';
    }
    return t;
  });
}

/** A container's reported change (SubmitContainerStateChange, or inside a task change). */
export interface ContainerChange {
  containerName: string;
  status?: string;
  exitCode?: number;
  reason?: string;
  networkBindings?: ECS.NetworkBinding[];
  runtimeId?: string;
  imageDigest?: string;
  healthStatus?: ECS.HealthStatus;
}

/** A task's reported change (what an agent sends). Times default to the platform clock. */
export interface TaskChange {
  cluster: string;
  task: string;
  status?: string;
  reason?: string;
  stopCode?: ECS.TaskStopCode;
  containers?: ContainerChange[];
  pullStartedAt?: number;
  pullStoppedAt?: number;
  executionStoppedAt?: number;
}

function applyContainer(t: TaskRecord, ch: ContainerChange): void {
  const c = t.containers.find((x) => x.name === ch.containerName);
  if (!c) throw ecsErrors.invalidParameter(`Container '${ch.containerName}' is not a container of task ${t.taskArn}.`);
  if (ch.status !== undefined) {
    if (!CONTAINER_STATUS_ORDER.includes(ch.status)) throw ecsErrors.invalidParameter(`Container status must be PENDING, RUNNING or STOPPED (got '${ch.status}').`);
    if (CONTAINER_STATUS_ORDER.indexOf(ch.status) >= CONTAINER_STATUS_ORDER.indexOf(c.lastStatus)) c.lastStatus = ch.status;
  }
  if (ch.exitCode !== undefined) c.exitCode = ch.exitCode;
  if (ch.reason !== undefined) c.reason = ch.reason.slice(0, 255);
  if (ch.networkBindings) c.networkBindings = ch.networkBindings;
  if (ch.runtimeId !== undefined) c.runtimeId = ch.runtimeId;
  if (ch.imageDigest !== undefined) c.imageDigest = ch.imageDigest;
  if (ch.healthStatus !== undefined) c.healthStatus = ch.healthStatus;
}

function taskHealth(t: TaskRecord): ECS.HealthStatus {
  const checked = t.containers.filter((c) => c.essential && c.hasHealthCheck);
  if (checked.some((c) => c.healthStatus === 'UNHEALTHY')) return 'UNHEALTHY';
  if (checked.length && checked.every((c) => c.healthStatus === 'HEALTHY')) return 'HEALTHY';
  return 'UNKNOWN';
}

/**
 * Records an agent's report about a task and its containers. lastStatus moves forward only
 * (a stale report is acknowledged and ignored); timestamps are stamped on the transitions
 * (PENDING: pullStartedAt if absent; RUNNING: startedAt, connectivityAt, pullStoppedAt;
 * STOPPING: stoppingAt; STOPPED: stoppedAt, executionStoppedAt, desiredStatus STOPPED and a
 * stopCode: EssentialContainerExited if an essential container exited and nobody asked for
 * the stop, TaskFailedToStart if it never ran).
 */
export async function applyTaskStateChange(s: Scope, ch: TaskChange): Promise<TaskRecord> {
  if (ch.status !== undefined && rank(ch.status) < 0) {
    throw ecsErrors.invalidParameter(`Task status must be one of ${TASK_STATUS_ORDER.join(', ')} (got '${ch.status}').`);
  }
  const now = s.platform.clock.now();
  return mutateTask(s, ch.cluster, ch.task, (t) => {
    for (const c of ch.containers ?? []) applyContainer(t, c);
    if (ch.pullStartedAt !== undefined) t.pullStartedAt = ch.pullStartedAt;
    if (ch.pullStoppedAt !== undefined) t.pullStoppedAt = ch.pullStoppedAt;
    if (ch.executionStoppedAt !== undefined) t.executionStoppedAt = ch.executionStoppedAt;
    const status = ch.status as TaskStatus | undefined;
    if (status && rank(status) > rank(t.lastStatus)) {
      const wasRunning = t.startedAt !== undefined;
      t.lastStatus = status;
      if (rank(status) >= rank('PENDING')) t.pullStartedAt ??= now;
      if (status === 'RUNNING') {
        t.startedAt ??= now;
        t.connectivityAt ??= now;
        t.pullStoppedAt ??= now;
      }
      if (rank(status) >= rank('DEACTIVATING')) t.stoppingAt ??= now;
      if (status === 'STOPPED') {
        t.stoppedAt = now;
        t.executionStoppedAt ??= now;
        t.desiredStatus = 'STOPPED';
        for (const c of t.containers) c.lastStatus = 'STOPPED';
        if (!t.stopCode) {
          const exited = t.containers.find((c) => c.essential && c.exitCode !== undefined);
          t.stopCode = !wasRunning ? 'TaskFailedToStart' : 'EssentialContainerExited';
          t.stoppedReason = ch.reason ?? (exited ? `Essential container in task exited` : 'Task stopped');
        }
      }
    }
    if (ch.stopCode && !t.stopCode) t.stopCode = ch.stopCode;
    if (ch.reason && t.lastStatus === 'STOPPED' && !t.stoppedReason) t.stoppedReason = ch.reason.slice(0, 255);
    t.healthStatus = taskHealth(t);
    return t;
  });
}

/** Records one container's report (SubmitContainerStateChange). */
export async function applyContainerStateChange(s: Scope, cluster: string, task: string, ch: ContainerChange): Promise<TaskRecord> {
  return mutateTask(s, cluster, task, (t) => {
    applyContainer(t, ch);
    t.healthStatus = taskHealth(t);
    return t;
  });
}

/**
 * Tasks assigned to a container instance that still need the agent's attention (not yet
 * STOPPED), including those with desiredStatus STOPPED the agent must stop.
 */
export async function listTasksForContainerInstance(s: Scope, cluster: string, containerInstance: string): Promise<TaskRecord[]> {
  const clusterName = clusterNameOf(s, cluster);
  const ci = resourceRefOf(s, 'container-instance', containerInstance);
  if (!ci) return [];
  if (ci.id.includes('/')) return [];
  return liveTasksFromIndex(s, clusterName, ci.id);
}

/** Deletes tasks STOPPED longer than `retentionMs` ago (by the platform clock). Returns how many. */
export async function pruneStoppedTasks(s: Scope, retentionMs = STOPPED_TASK_RETENTION_MS): Promise<number> {
  const cutoff = s.platform.clock.now() - retentionMs;
  const writes: Write[] = [];
  for (const r of await s.platform.store.list<TaskRecord>(KIND.task, { prefix: `${s.region}/` })) {
    // STOPPED tasks have no by-instance index entry, so deleting the task is the whole change.
    if (r.value.lastStatus === 'STOPPED' && (r.value.stoppedAt ?? 0) < cutoff) writes.push({ kind: KIND.task, key: r.key, value: null, expectRev: r.rev });
  }
  let n = 0;
  for (const w of writes) {
    try {
      await s.platform.store.commit([w]);
      n++;
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }
  }
  return n;
}

function checkMax(v: number | undefined, dflt: number): number {
  const n = v ?? dflt;
  if (n < 1 || n > 100) throw ecsErrors.invalidParameter('maxResults must be between 1 and 100.');
  return n;
}

function checkStartedBy(v: string | undefined): void {
  if (v !== undefined && (v.length > 128 || !/^[A-Za-z0-9_\-/.:#@]*$/.test(v))) {
    throw ecsErrors.invalidParameter('startedBy can be up to 128 letters (uppercase and lowercase), numbers, hyphens, underscores, periods and slashes.');
  }
}

function checkGroup(v: string | undefined): void {
  if (v !== undefined && (v.length < 1 || v.length > 255 || !/^[A-Za-z0-9_\-:]+$/.test(v))) {
    throw ecsErrors.invalidParameter('group can be up to 255 letters (uppercase and lowercase), numbers, hyphens, underscores and colons.');
  }
}

async function propagated(s: Scope, mode: ECS.PropagateTags | undefined, tdRef: string): Promise<ECS.Tag[]> {
  if (mode !== 'TASK_DEFINITION') return [];
  return (await requireActiveTaskDefinition(s, tdRef)).tags;
}

export const taskHandlers: Handlers<ECS.Operations> = {
  async RunTask(input, ctx) {
    if (input.launchType && input.capacityProviderStrategy?.length) {
      throw ecsErrors.invalidParameter('Specifying both a launchType and capacityProviderStrategy is not supported.');
    }
    if (input.propagateTags === 'SERVICE') throw ecsErrors.invalidParameter('propagateTags SERVICE is only valid for tasks a service starts; use TASK_DEFINITION or NONE.');
    checkStartedBy(input.startedBy);
    checkGroup(input.group);
    mergeTags([], input.tags ?? [], ecsErrors.invalidParameter);
    await requireCluster(ctx, input.cluster);
    const td = await requireActiveTaskDefinition(ctx, input.taskDefinition);
    if (td.taskDefinition.networkMode === 'awsvpc' && !input.networkConfiguration?.awsvpcConfiguration) {
      throw ecsErrors.invalidParameter("Network Configuration must be provided when networkMode 'awsvpc' is specified.");
    }
    const r = await launchTasks(ctx, {
      cluster: input.cluster ?? 'default',
      taskDefinition: input.taskDefinition,
      count: input.count ?? 1,
      startedBy: input.startedBy,
      group: input.group,
      launchType: input.launchType,
      overrides: input.overrides,
      placementConstraints: input.placementConstraints,
      placementStrategy: input.placementStrategy,
      tags: input.tags,
      propagatedTags: input.propagateTags === 'TASK_DEFINITION' ? td.tags : [],
      enableExecuteCommand: input.enableExecuteCommand,
      resolvedTaskDefinition: td,
    });
    return { tasks: r.tasks.map((t) => describeTask(t, true)), failures: r.failures };
  },

  async StartTask(input, ctx) {
    checkStartedBy(input.startedBy);
    checkGroup(input.group);
    mergeTags([], input.tags ?? [], ecsErrors.invalidParameter);
    if (input.propagateTags === 'SERVICE') throw ecsErrors.invalidParameter('propagateTags SERVICE is only valid for tasks a service starts.');
    const r = await launchTasks(ctx, {
      cluster: input.cluster ?? 'default',
      taskDefinition: input.taskDefinition,
      count: 1,
      startedBy: input.startedBy,
      group: input.group,
      overrides: input.overrides,
      tags: input.tags,
      propagatedTags: await propagated(ctx, input.propagateTags, input.taskDefinition),
      enableExecuteCommand: input.enableExecuteCommand,
      containerInstances: input.containerInstances,
    });
    return { tasks: r.tasks.map((t) => describeTask(t, true)), failures: r.failures };
  },

  async StopTask(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    if (input.reason !== undefined && input.reason.length > 255) throw ecsErrors.invalidParameter('reason can be at most 255 characters.');
    const t = await requestTaskStop(ctx, cluster.clusterName, input.task, { reason: input.reason, stopCode: 'UserInitiated' });
    return { task: describeTask(t, true) };
  },

  async DescribeTasks(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    if (input.tasks.length === 0) throw ecsErrors.invalidParameter('Tasks cannot be empty.');
    if (input.tasks.length > 100) throw ecsErrors.invalidParameter('At most 100 tasks can be described at once.');
    const tasks: ECS.Task[] = [];
    const failures: ECS.Failure[] = [];
    for (const ref of input.tasks) {
      const rec = await findTask(ctx, cluster.clusterName, ref);
      if (rec) tasks.push(describeTask(rec.value, input.include?.includes('TAGS')));
      else failures.push({ arn: ref.startsWith('arn:') ? ref : taskArn(ctx, cluster.clusterName, ref), reason: 'MISSING' });
    }
    return { tasks, failures };
  },

  async ListTasks(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const maxResults = checkMax(input.maxResults, 100);
    if (input.serviceName && (input.family || input.startedBy)) {
      throw ecsErrors.invalidParameter('serviceName cannot be combined with family or startedBy.');
    }
    let ciId: string | undefined;
    if (input.containerInstance) {
      const ci = await findContainerInstance(ctx, cluster.clusterName, input.containerInstance);
      if (!ci) throw ecsErrors.containerInstanceNotFound(input.containerInstance);
      ciId = ci.value.id;
    }
    const desired = input.desiredStatus ?? 'RUNNING';
    const group = input.serviceName ? `service:${input.serviceName.startsWith('arn:') ? input.serviceName.split('/').pop() : input.serviceName}` : undefined;
    const page = await pageOf<TaskRecord>(ctx.platform.store, KIND.task, `${ctx.region}/${cluster.clusterName}/`, {
      token: input.nextToken,
      maxResults,
      invalidToken: ecsErrors.invalidToken,
      filter: (r) => {
        const t = r.value;
        // ECS never sets a desired status of PENDING, so filtering on it matches nothing.
        if (desired === 'PENDING' || t.desiredStatus !== desired) return false;
        if (input.family && t.family !== input.family) return false;
        if (input.startedBy && t.startedBy !== input.startedBy) return false;
        if (group && t.group !== group) return false;
        if (ciId && t.containerInstanceId !== ciId) return false;
        if (input.launchType && t.launchType !== input.launchType) return false;
        return true;
      },
    });
    return { taskArns: page.items.map((r) => r.value.taskArn), nextToken: page.nextToken };
  },

  async SubmitTaskStateChange(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    if (!input.task) throw ecsErrors.invalidParameter("'task' is required: the ARN or id of the task whose state changed.");
    const ms = (d?: Date) => (d ? d.getTime() : undefined);
    await applyTaskStateChange(ctx, {
      cluster: cluster.clusterName,
      task: input.task,
      status: input.status,
      reason: input.reason,
      pullStartedAt: ms(input.pullStartedAt),
      pullStoppedAt: ms(input.pullStoppedAt),
      executionStoppedAt: ms(input.executionStoppedAt),
      containers: (input.containers ?? []).map((c) => {
        if (!c.containerName) throw ecsErrors.invalidParameter('Each container state change needs containerName.');
        return { ...c, containerName: c.containerName };
      }),
    });
    return { acknowledgment: 'ACK' };
  },

  async SubmitContainerStateChange(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    if (!input.task || !input.containerName) throw ecsErrors.invalidParameter("'task' and 'containerName' are required.");
    await applyContainerStateChange(ctx, cluster.clusterName, input.task, {
      containerName: input.containerName,
      status: input.status,
      exitCode: input.exitCode,
      reason: input.reason,
      networkBindings: input.networkBindings,
      runtimeId: input.runtimeId,
    });
    return { acknowledgment: 'ACK' };
  },
};
