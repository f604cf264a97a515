/**
 * ECS task operations: RunTask/StartTask launch tasks (placed on container instances by the
 * domain, src/domain/ecs/launch.ts), StopTask asks for a stop, DescribeTasks/ListTasks read
 * them, and SubmitTaskStateChange / SubmitContainerStateChange record what agents report.
 */
import type * as ECS from '../../generated/ecs.js';
import { mergeTags } from '../../domain/common.js';
import { requireCluster } from '../../domain/ecs/clusters.js';
import { ecsErrors } from '../../domain/ecs/errors.js';
import { findContainerInstance } from '../../domain/ecs/instances.js';
import { taskArn, type Scope } from '../../domain/ecs/keys.js';
import { listTasks } from '../../domain/ecs/listing.js';
import { launchTasks } from '../../domain/ecs/launch.js';
import type { TaskRecord } from '../../domain/ecs/records.js';
import { requireActiveTaskDefinition } from '../../domain/ecs/taskDefinitions.js';
import { applyContainerStateChange, applyTaskStateChange, findTask, requestTaskStop } from '../../domain/ecs/tasks.js';
import { checkDescribeCount, checkLaunchType, checkMaxResults } from './validation.js';
import type { Handlers } from '../types.js';

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
    checkLaunchType(td.taskDefinition, input.launchType);
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
    checkDescribeCount(input.tasks, 'Tasks', 100);
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
    const maxResults = checkMaxResults(input.maxResults, 100);
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
    const page = await listTasks(ctx, cluster.clusterName, {
      token: input.nextToken,
      maxResults,
      filter: (t) => {
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
    return { taskArns: page.items.map((t) => t.taskArn), nextToken: page.nextToken };
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
