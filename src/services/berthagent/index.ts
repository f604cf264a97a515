/**
 * The control plane's side of the agent channel (`BerthAgentV1`, model
 * src/models/berthagent.json; the agent's side is src/agent/protocol.ts): `Poll`, a long poll
 * that records the agent's heartbeat and answers with the tasks placed on its container
 * instance, each with the full spec the agent needs; and `ReportTaskState`, what the agent saw
 * happen to a task. Both messages are structures of the model, so the gateway has decoded and
 * validated every report (types, enums, lengths, ranges, list sizes) before it gets here; this
 * module only maps between the wire types and the ECS domain. The sweep that marks instances
 * whose agent stopped polling as disconnected is a controller (src/control/agentSweep.ts).
 */
import { createHash } from 'node:crypto';
import type * as Agent from '../../generated/berthagent.js';
import type * as ECS from '../../generated/ecs.js';
import { ServiceModel } from '../../protocol/model.js';
import { ServiceError } from '../../errors.js';
import type { Handlers, ServiceDefinition } from '../types.js';
import { requireCluster } from '../../domain/ecs/clusters.js';
import { ecsErrors } from '../../domain/ecs/errors.js';
import { findContainerInstance, recordHeartbeat } from '../../domain/ecs/instances.js';
import type { Scope } from '../../domain/ecs/keys.js';
import { currentRevision, nextInstanceChange } from '../../domain/ecs/instanceChanges.js';
import { tasksForInstance } from '../../domain/ecs/liveIndex.js';
import type { ContainerInstanceRecord, TaskRecord } from '../../domain/ecs/records.js';
import { applyOverrides, findTaskDefinition } from '../../domain/ecs/taskDefinitions.js';
import { applyTaskStateChange, type TaskChange } from '../../domain/ecs/tasks.js';

/**
 * A poll within this long of the instance's last recorded heartbeat (and changing nothing else)
 * does not write it again: agents re-poll at once after every answer, and each write is a
 * durable commit. Far below the agent timeout (src/control/agentSweep.ts), so the sweep never
 * sees a gap.
 */
export const HEARTBEAT_MIN_INTERVAL_MS = 1_000;

/** Task definitions already read while building one answer, by ARN (tasks of a family share one). */
type TaskDefinitionCache = Map<string, Promise<Awaited<ReturnType<typeof findTaskDefinition>>>>;

async function specOf(s: Scope, t: TaskRecord, cache: TaskDefinitionCache): Promise<Agent.AgentTaskSpec | undefined> {
  let pending = cache.get(t.taskDefinitionArn);
  if (!pending) cache.set(t.taskDefinitionArn, (pending = findTaskDefinition(s, t.taskDefinitionArn)));
  const td = await pending;
  if (!td) return undefined;
  const rec = td.value.taskDefinition;
  const def = applyOverrides(rec, t.overrides);
  return {
    taskArn: t.taskArn,
    taskId: t.taskId,
    cluster: t.clusterName,
    region: s.region,
    family: rec.family,
    revision: rec.revision,
    taskDefinitionArn: rec.taskDefinitionArn,
    networkMode: def.networkMode ?? 'bridge',
    cpu: def.cpu,
    memory: def.memory,
    group: t.group,
    startedBy: t.startedBy,
    // A service deployment's pinned digests come with the containers: the agent pulls those.
    containers: (def.containerDefinitions ?? []).map((c) => ({ ...agentContainerOf(c), imageDigest: t.containers.find((x) => x.name === c.name)?.imageDigest })),
  };
}

/**
 * The part of an ECS container definition an agent runs. RegisterTaskDefinition has made sure of
 * name and image; should a stored definition lack them anyway, the agent finds the spec invalid
 * and fails the task saying so, rather than this answer failing for every task of the instance.
 */
function agentContainerOf(c: ECS.ContainerDefinition): Agent.AgentContainerDefinition {
  return {
    name: c.name ?? '',
    image: c.image ?? '',
    cpu: c.cpu,
    memory: c.memory,
    memoryReservation: c.memoryReservation,
    portMappings: c.portMappings?.map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort, protocol: p.protocol, name: p.name })),
    essential: c.essential,
    entryPoint: c.entryPoint,
    command: c.command,
    workingDirectory: c.workingDirectory,
    environment: c.environment?.map((e) => ({ name: e.name, value: e.value })),
    secrets: c.secrets?.map((x) => ({ name: x.name, valueFrom: x.valueFrom })),
    dockerLabels: c.dockerLabels,
    user: c.user,
    ulimits: c.ulimits?.map((u) => ({ name: u.name, softLimit: u.softLimit, hardLimit: u.hardLimit })),
    stopTimeout: c.stopTimeout,
    healthCheck: c.healthCheck && {
      command: c.healthCheck.command,
      interval: c.healthCheck.interval,
      timeout: c.healthCheck.timeout,
      retries: c.healthCheck.retries,
      startPeriod: c.healthCheck.startPeriod,
    },
    dependsOn: c.dependsOn?.map((d) => ({ containerName: d.containerName, condition: d.condition })),
    links: c.links,
    hostname: c.hostname,
    logConfiguration: c.logConfiguration && { logDriver: c.logConfiguration.logDriver, options: c.logConfiguration.options },
    readonlyRootFilesystem: c.readonlyRootFilesystem,
  };
}

/** A validated report as the domain's change (wire timestamps are Dates, the domain's epoch ms). */
function taskChangeOf(cluster: string, task: string, r: Agent.TaskStateChange): TaskChange {
  return {
    cluster,
    task,
    status: r.status,
    reason: r.reason,
    stopCode: r.stopCode,
    pullStartedAt: r.pullStartedAt?.getTime(),
    pullStoppedAt: r.pullStoppedAt?.getTime(),
    executionStoppedAt: r.executionStoppedAt?.getTime(),
    containers: r.containers?.map((c) => ({
      containerName: c.containerName,
      status: c.status,
      exitCode: c.exitCode,
      reason: c.reason,
      runtimeId: c.runtimeId,
      imageDigest: c.imageDigest,
      healthStatus: c.healthStatus,
      networkBindings: c.networkBindings?.map((b) => ({ bindIP: b.bindIP, containerPort: b.containerPort, hostPort: b.hostPort, protocol: b.protocol })),
    })),
  };
}

/**
 * What the agent acts on: which tasks are placed on it and their desired status (a task's spec
 * never changes). Not the task's version: the agent's own reports change that, and must not wake
 * its poll for an answer it has no use for.
 */
function fingerprintOf(tasks: TaskRecord[], instanceStatus: string): string {
  const h = createHash('sha256').update(instanceStatus);
  for (const t of [...tasks].sort((a, b) => a.taskId.localeCompare(b.taskId))) h.update(`|${t.taskId}:${t.desiredStatus}`);
  return h.digest('base64url').slice(0, 22);
}

const handlers: Handlers<Agent.Operations> = {
  async Poll(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    // Read before the heartbeat's own read of the instance, so that waiting from this revision
    // can miss no change to what the first round below reads (it may replay a few: harmless).
    let rev = await currentRevision(ctx);
    let instance: ContainerInstanceRecord;
    try {
      // Each poll is one heartbeat; the agent polls again at once when this one returns.
      instance = await recordHeartbeat(ctx, cluster.clusterName, input.containerInstanceArn, { minIntervalMs: HEARTBEAT_MIN_INTERVAL_MS });
    } catch (e) {
      // An unknown instance gets the answer agents act on (they register again); anything else as is.
      if (!(e instanceof ServiceError) || (await findContainerInstance(ctx, cluster.clusterName, input.containerInstanceArn))) throw e;
      throw ecsErrors.invalidParameter(`Container instance ${input.containerInstanceArn} is not registered in cluster ${cluster.clusterName}: register it again.`);
    }
    const instanceId = instance.id;
    const deadline = Date.now() + (input.waitSeconds ?? 0) * 1000;
    for (let first = true; ; first = false) {
      if (!first) {
        rev = await currentRevision(ctx);
        instance = (await findContainerInstance(ctx, cluster.clusterName, instanceId))!.value;
      }
      const tasks = await tasksForInstance(ctx, cluster.clusterName, input.containerInstanceArn);
      const fingerprint = fingerprintOf(tasks, instance.status);
      const remaining = deadline - Date.now();
      if (fingerprint !== input.fingerprint || remaining <= 0 || ctx.signal.aborted) {
        const polled: Agent.AgentTask[] = [];
        const tds: TaskDefinitionCache = new Map();
        for (const t of tasks) {
          const spec = await specOf(ctx, t, tds);
          if (spec) polled.push({ taskArn: t.taskArn, desiredStatus: t.desiredStatus, lastStatus: t.lastStatus, version: t.version, spec });
        }
        return { fingerprint, instanceStatus: instance.status, tasks: polled };
      }
      // Only this instance's tasks and status changes wake the poll: heartbeats of other agents must not.
      await nextInstanceChange(ctx, instanceId, instance.status, rev, remaining, ctx.signal);
    }
  },

  async ReportTaskState(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const t = await applyTaskStateChange(ctx, taskChangeOf(cluster.clusterName, input.taskArn, input.change));
    return { desiredStatus: t.desiredStatus, lastStatus: t.lastStatus };
  },
};

/** The agent channel's service: its model, and InvalidParameterException for what fails the model's constraints. */
export function berthAgentService(): ServiceDefinition {
  return {
    name: 'berthagent',
    model: ServiceModel.load('berthagent'),
    protocol: 'json',
    signingNames: [],
    validationErrorCode: 'InvalidParameterException',
    handlers,
  };
}
