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
import { taskUsageOf } from '../../domain/ecs/taskUsage.js';
import { tasksForInstance } from '../../domain/ecs/liveIndex.js';
import type { ContainerInstanceRecord, TaskRecord } from '../../domain/ecs/records.js';
import { applyOverrides, findTaskDefinition } from '../../domain/ecs/taskDefinitions.js';
import { applyTaskStateChange, findTask, type TaskChange } from '../../domain/ecs/tasks.js';
import type { MasterKey } from '../../domain/ssm/masterKey.js';
import type { Authorizer } from '../../domain/iam/authorizer.js';
import { evaluate, accessDeniedMessage } from '../../domain/iam/policy/evaluate.js';
import { issueSession } from '../../domain/iam/credentials.js';
import { roleByArn } from '../../domain/iam/serviceRoles.js';
import { createJoinToken, issueAgentKey, JOIN_TOKEN_SECONDS, listJoinTokens, revokeJoinToken } from '../../domain/iam/agents.js';
import { resolveParameter, versionValue } from '../../domain/ssm/parameters.js';
import { containerInstanceArn } from '../../domain/ecs/keys.js';
import type { RequestContext } from '../types.js';

/** The service principal a task role must trust. */
export const TASKS_SERVICE_PRINCIPAL = 'ecs-tasks.amazonaws.com';
/** Default lifetime of a task's role credentials (the agent renews them at half-life). */
export const TASK_CREDENTIAL_SECONDS = 3600;

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
    taskRoleArn: def.taskRoleArn,
    revision: rec.revision,
    taskDefinitionArn: rec.taskDefinitionArn,
    networkMode: def.networkMode ?? 'bridge',
    cpu: def.cpu,
    memory: def.memory,
    group: t.group,
    startedBy: t.startedBy,
    volumes: (def.volumes ?? []).map(agentVolumeOf),
    // A service deployment's pinned digests come with the containers: the agent pulls those.
    containers: (def.containerDefinitions ?? []).map((c) => ({ ...agentContainerOf(c), imageDigest: t.containers.find((x) => x.name === c.name)?.imageDigest })),
  };
}

/**
 * An ECS volume as the agent mounts it: a host path, a docker volume (scope, driver, labels,
 * options), an empty volume of the task's own (neither given), or a kind Berth does not mount.
 */
function agentVolumeOf(v: ECS.Volume): Agent.AgentVolume {
  const name = v.name ?? '';
  const d = v.dockerVolumeConfiguration;
  if (d) return { name, kind: 'docker', docker: { scope: d.scope ?? 'task', autoprovision: d.autoprovision, driver: d.driver ?? 'local', labels: d.labels, driverOpts: d.driverOpts } };
  if (v.efsVolumeConfiguration || v.fsxWindowsFileServerVolumeConfiguration || v.s3filesVolumeConfiguration) return { name, kind: 'unsupported' };
  if (v.host?.sourcePath) return { name, kind: 'bind', sourcePath: v.host.sourcePath };
  return { name, kind: 'task' };
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
    mountPoints: c.mountPoints?.length ? c.mountPoints.map((m) => ({ sourceVolume: m.sourceVolume ?? '', containerPath: m.containerPath ?? '', readOnly: m.readOnly })) : undefined,
    volumesFrom: c.volumesFrom?.length ? c.volumesFrom.map((f) => ({ sourceContainer: f.sourceContainer ?? '', readOnly: f.readOnly })) : undefined,
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

/** A task of the cluster and its definition with the task's overrides applied. */
async function taskWithDefinition(ctx: RequestContext, clusterRef: string, taskRef: string) {
  const cluster = await requireCluster(ctx, clusterRef);
  const t = await findTask(ctx, cluster.clusterName, taskRef);
  if (!t) throw ecsErrors.invalidParameter(`Task ${taskRef.slice(0, 256)} is not in cluster ${cluster.clusterName}.`);
  const td = await findTaskDefinition(ctx, t.value.taskDefinitionArn);
  if (!td) throw ecsErrors.invalidParameter(`Task definition ${t.value.taskDefinitionArn} of task ${t.value.taskId} is gone.`);
  return { task: t.value, def: applyOverrides(td.value.taskDefinition, t.value.overrides) };
}

/** A role of this account by ARN, or the error that says why it is none. */
async function roleOf(ctx: RequestContext, arn: string, what: string) {
  const role = await roleByArn(ctx, arn);
  if (!role) throw ecsErrors.invalidParameter(`The ${what} ${arn.slice(0, 256)} is not a role of this account.`);
  return role;
}

function handlers(master: MasterKey, authorizer: Authorizer): Handlers<Agent.Operations> {
  return {
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
    // The usage of the tasks running there (CPUUtilization / MemoryUtilization, src/control/ecsMetrics.ts).
    if (input.taskUsage?.length) {
      const samples = input.taskUsage.map((u) => ({ taskArn: u.taskArn, cpuTimeMs: u.cpuTimeMs, memoryBytes: u.memoryBytes, sampledAt: u.sampledAt.getTime() }));
      taskUsageOf(ctx.platform).record(ctx.region, cluster.clusterName, instance.containerInstanceArn, samples, ctx.platform.clock.now());
    }
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

  /**
   * The task role's credentials for a task (its `taskRoleArn`): a role session named after the
   * task, issued only when the role trusts ecs-tasks.amazonaws.com. The gateway has checked that
   * an agent key asks only for tasks on its own instance.
   */
  async GetTaskCredentials(input, ctx) {
    const { task, def } = await taskWithDefinition(ctx, input.cluster, input.taskArn);
    if (!def.taskRoleArn) throw ecsErrors.invalidParameter(`Task ${task.taskId} has no task role (taskRoleArn).`);
    if (task.lastStatus === 'STOPPED') throw ecsErrors.invalidParameter(`Task ${task.taskId} is STOPPED: its role credentials are no longer issued.`);
    const role = await roleOf(ctx, def.taskRoleArn, 'task role');
    const request = { principal: { arn: TASKS_SERVICE_PRINCIPAL, accountId: '', service: TASKS_SERVICE_PRINCIPAL }, action: 'sts:AssumeRole', resource: role.arn, keys: new Map([['aws:currenttime', [new Date(ctx.platform.clock.now()).toISOString()]]]) };
    const d = evaluate(request, { identity: [], resource: authorizer.compile(role.trustPolicy, 'trust') });
    if (!d.allowed) throw new ServiceError('AccessDeniedException', `${accessDeniedMessage(request, d.reason)}: the task role must trust ${TASKS_SERVICE_PRINCIPAL}`, 400);
    const seconds = Math.min(input.durationSeconds ?? TASK_CREDENTIAL_SECONDS, role.maxSessionDuration);
    const creds = await issueSession(ctx, master, seconds, { roleArn: role.arn, roleName: role.name, roleId: role.id, sessionName: task.taskId, sessionPolicies: [], tags: [] });
    return { roleArn: role.arn, accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken, expiration: new Date(creds.expiration) };
  },

  /**
   * The values of a task's `secrets` (SSM parameters, decrypted). With an execution role, each
   * parameter must be readable by it (ssm:GetParameters, as a session of that role); without
   * one, the caller's own right to the task (root, or the agent of its instance) is enough.
   */
  async GetTaskSecrets(input, ctx) {
    const { task, def } = await taskWithDefinition(ctx, input.cluster, input.taskArn);
    const wanted = [...new Set((def.containerDefinitions ?? []).flatMap((c) => (c.secrets ?? []).map((x) => x.valueFrom ?? '')))].slice(0, 1000);
    let exec: Parameters<Authorizer['decide']>[0] | undefined;
    if (def.executionRoleArn) {
      const role = await roleOf(ctx, def.executionRoleArn, 'execution role');
      const acct = ctx.platform.accountId;
      exec = { kind: 'assumed-role', arn: `arn:aws:sts::${acct}:assumed-role/${role.name}/${task.taskId}`, accountId: acct, userId: `${role.id}:${task.taskId}`, accessKeyId: `execution-role:${task.taskId}`, roleName: role.name, roleArn: role.arn, sessionName: task.taskId };
    }
    const secrets: Agent.TaskSecret[] = [];
    for (const valueFrom of wanted) {
      const found = await resolveParameter(ctx, valueFrom);
      const display = found.found ? found.parameter.name : found.display;
      const arn = valueFrom.startsWith('arn:') ? valueFrom.replace(/:[^:/]*$/, (m) => (m.includes('/') ? m : '')) : `arn:aws:ssm:${ctx.region}:${ctx.platform.accountId}:parameter/${display.replace(/^\//, '')}`;
      if (exec) {
        const d = await authorizer.decide(exec, { action: 'ssm:GetParameters', resource: arn });
        if (!d.allowed) throw new ServiceError('AccessDeniedException', `${accessDeniedMessage(d.request, d.reason)} (the task's execution role reads its secrets)`, 400);
      }
      if (!found.found) throw ecsErrors.invalidParameter(`parameter '${valueFrom.slice(0, 2048)}' does not exist or is not readable`);
      secrets.push({ valueFrom, value: versionValue(master, found.region, found.parameter.name, found.version, true) });
    }
    return { secrets };
  },

  /** A join token for one cluster (operators: root or an IAM principal allowed berth-agent:CreateJoinToken). */
  async CreateJoinToken(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const rec = await createJoinToken(ctx, master, cluster.clusterName, Math.min(input.validSeconds ?? JOIN_TOKEN_SECONDS.default, JOIN_TOKEN_SECONDS.max));
    return { token: rec.token, tokenId: rec.tokenId, cluster: cluster.clusterArn, expiration: new Date(rec.expiration) };
  },

  /** The join tokens of a cluster (ids and lifetimes; never their secrets). */
  async ListJoinTokens(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const tokens = await listJoinTokens(ctx, cluster.clusterName);
    return { joinTokens: tokens.map((t) => ({ tokenId: t.tokenId, cluster: cluster.clusterArn, created: new Date(t.created), expiration: new Date(t.expiration), status: Date.parse(t.expiration) <= ctx.platform.clock.now() ? ('EXPIRED' as const) : ('VALID' as const) })) };
  },

  /** Revokes a join token: it can no longer join (instances it admitted keep their keys until deregistered). */
  async RevokeJoinToken(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    await revokeJoinToken(ctx, cluster.clusterName, input.tokenId);
    return {};
  },

  /** A join token's agent: a new container-instance identity of the token's cluster and its key. */
  async Join(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    if (ctx.principal.kind !== 'agent' || ctx.principal.agent?.containerInstanceId) throw ecsErrors.invalidParameter('Join is called with a join token (berth agent --join-token).');
    const key = await issueAgentKey(ctx, master, ctx.principal.accessKeyId);
    if (key.cluster !== cluster.clusterName) throw ecsErrors.invalidParameter('The join token is for another cluster.');
    return { accessKeyId: key.accessKeyId, secretAccessKey: key.secret, containerInstanceArn: containerInstanceArn(ctx, key.cluster, key.containerInstanceId) };
  },
  };
}

/** The agent channel's service: its model, and InvalidParameterException for what fails the model's constraints. */
export function berthAgentService(master: MasterKey, authorizer: Authorizer): ServiceDefinition {
  return {
    name: 'berthagent',
    model: ServiceModel.load('berthagent'),
    protocol: 'json',
    signingNames: [],
    validationErrorCode: 'InvalidParameterException',
    handlers: handlers(master, authorizer),
  };
}
