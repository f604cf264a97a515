/**
 * ECS tasks in the store, and their transitions. A task's record is the only truth about it:
 * launched by ./launch.ts, asked to stop by `requestTaskStop`, moved along by what its agent
 * reports (`applyTaskStateChange`), marked STOPPED by the control plane itself only when nobody
 * is left to report it (`markTaskStopped`), and removed an hour after it stopped.
 *
 * Invariants: lastStatus only moves forward through TASK_STATUS_ORDER (a stale report is
 * acknowledged and ignored); `version` is bumped on every change; every write keeps the live
 * index (./liveIndex.ts) in the same commit.
 */
import type * as ECS from '../../generated/ecs.js';
import type { StoredRecord } from '../../store/types.js';
import { deleteIfUnchanged, retrying } from '../mutate.js';
import { ecsErrors } from './errors.js';
import { findContainerInstance } from './instances.js';
import { KIND, clusterNameOf, clusterScopedKey, resourceRefOf, type Scope } from './keys.js';
import { liveIndexWrites } from './liveIndex.js';
import { TASK_STATUS_ORDER, type TaskRecord, type TaskStatus } from './records.js';

/** How long STOPPED tasks remain describable before the retention sweep removes them. */
export const STOPPED_TASK_RETENTION_MS = 60 * 60 * 1000;

const CONTAINER_STATUS_ORDER = ['PENDING', 'RUNNING', 'STOPPED'];

function rank(s: string): number {
  return TASK_STATUS_ORDER.indexOf(s as TaskStatus);
}

/** Loads a task by id or ARN within a cluster. */
export async function findTask(s: Scope, clusterName: string, ref: string): Promise<StoredRecord<TaskRecord> | undefined> {
  const r = resourceRefOf(s, 'task', ref);
  if (!r || (r.cluster && r.cluster !== clusterName) || !/^[a-f0-9]{32}$/.test(r.id)) return undefined;
  return s.platform.store.get<TaskRecord>(KIND.task, clusterScopedKey(s.region, clusterName, r.id));
}

/** Applies `change` to a task record (a private copy) with optimistic concurrency; throws if the task is unknown. */
export async function mutateTask(s: Scope, cluster: string, ref: string, change: (t: TaskRecord) => TaskRecord | undefined): Promise<TaskRecord> {
  const clusterName = clusterNameOf(s, cluster);
  return retrying(`Task ${ref}`, async () => {
    const rec = await findTask(s, clusterName, ref);
    if (!rec) throw ecsErrors.taskNotFound();
    const next = change(structuredClone(rec.value));
    if (!next) return rec.value;
    next.version = rec.value.version + 1;
    await s.platform.store.commit([{ kind: KIND.task, key: rec.key, value: next, expectRev: rec.rev }, ...liveIndexWrites(s.region, rec.value, next)]);
    return next;
  });
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

/**
 * Marks a task STOPPED on the control plane's own authority, for a task whose agent is gone
 * (its instance is lost): nobody is left to report it. Keeps an earlier stop code and reason.
 */
export async function markTaskStopped(s: Scope, cluster: string, taskId: string, reason: string): Promise<TaskRecord> {
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
          // The agent says why when it knows (a container that ran and exited before its RUNNING
          // report went out is EssentialContainerExited, not a failure to start).
          const exited = t.containers.find((c) => c.essential && c.exitCode !== undefined);
          t.stopCode = ch.stopCode ?? (wasRunning || exited ? 'EssentialContainerExited' : 'TaskFailedToStart');
          t.stoppedReason = (ch.reason ?? (exited ? `Essential container in task exited` : 'Task stopped')).slice(0, 255);
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

/** Deletes tasks STOPPED longer than `retentionMs` ago (by the platform clock). Returns how many. */
export async function pruneStoppedTasks(s: Scope, retentionMs = STOPPED_TASK_RETENTION_MS): Promise<number> {
  const cutoff = s.platform.clock.now() - retentionMs;
  const expired: Array<{ kind: string; key: string; rev: number }> = [];
  for (const r of await s.platform.store.list<TaskRecord>(KIND.task, { prefix: `${s.region}/` })) {
    // STOPPED tasks have no by-instance index entry, so deleting the task is the whole change.
    if (r.value.lastStatus === 'STOPPED' && (r.value.stoppedAt ?? 0) < cutoff) expired.push({ kind: KIND.task, key: r.key, rev: r.rev });
  }
  return deleteIfUnchanged(s.platform.store, expired);
}

