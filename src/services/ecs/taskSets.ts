/**
 * Task set operations (EXTERNAL and CODE_DEPLOY services): CreateTaskSet, DescribeTaskSets,
 * UpdateTaskSet, UpdateServicePrimaryTaskSet, DeleteTaskSet. The records and their transitions
 * are the domain's (src/domain/ecs/taskSets.ts); the service controller runs each task set's
 * tasks and registers them in the task set's own target groups.
 */
import type * as ECS from '../../generated/ecs.js';
import { mergeTags } from '../../domain/common.js';
import { requireCluster } from '../../domain/ecs/clusters.js';
import { ecsErrors } from '../../domain/ecs/errors.js';
import { loadService, serviceNameOf, serviceTasks } from '../../domain/ecs/services.js';
import { requireActiveTaskDefinition } from '../../domain/ecs/taskDefinitions.js';
import { createTaskSet, deleteTaskSet, findTaskSet, setPrimaryTaskSet, updateTaskSetScale, usesTaskSets } from '../../domain/ecs/taskSets.js';
import { checkCapacityProviderStrategy } from './capacityProviders.js';
import { describeTaskSet, validateLoadBalancers, validateNetwork } from './services.js';
import { checkLaunchType } from './validation.js';
import type { Handlers, RequestContext } from '../types.js';

/** The cluster and the service name a task set call names; ServiceNotFoundException for an unknown or INACTIVE service. */
async function serviceOf(ctx: RequestContext, clusterRef: string, serviceRef: string) {
  const cluster = await requireCluster(ctx, clusterRef);
  const name = serviceNameOf(ctx, cluster.clusterName, serviceRef);
  const loaded = name ? await loadService(ctx, cluster.clusterName, name) : undefined;
  if (!loaded || loaded.record.status === 'INACTIVE') throw ecsErrors.serviceNotFound();
  if (loaded.record.status !== 'ACTIVE') throw ecsErrors.serviceNotActive();
  if (!usesTaskSets(loaded.record)) {
    throw ecsErrors.invalidParameter('Amazon ECS only supports task set management on services configured to use external deployment controller.');
  }
  return { cluster, name: name!, loaded };
}

/** A scale as ECS takes it: unit PERCENT (the default), value 0..100. */
function checkScale(scale: ECS.Scale | undefined): { value: number; unit: 'PERCENT' } {
  const value = scale?.value ?? 100;
  if (scale?.unit !== undefined && scale.unit !== 'PERCENT') throw ecsErrors.invalidParameter(`Scale unit '${scale.unit}' is not valid: the only unit is PERCENT.`);
  if (!Number.isFinite(value) || value < 0 || value > 100) throw ecsErrors.invalidParameter(`Scale value ${value} is not valid: it must be between 0 and 100 (PERCENT).`);
  return { value, unit: 'PERCENT' };
}

export const taskSetHandlers: Handlers<ECS.Operations> = {
  async CreateTaskSet(input, ctx) {
    const { cluster, name } = await serviceOf(ctx, input.cluster, input.service);
    if (input.launchType && input.capacityProviderStrategy?.length) throw ecsErrors.invalidParameter('Specifying both a launchType and capacityProviderStrategy is not supported.');
    if (input.externalId !== undefined && input.externalId.length > 255) throw ecsErrors.invalidParameter('externalId can be at most 255 characters.');
    const scale = checkScale(input.scale);
    const td = await requireActiveTaskDefinition(ctx, input.taskDefinition);
    const strategy = input.launchType ? undefined : await checkCapacityProviderStrategy(ctx, cluster, input.capacityProviderStrategy);
    const launchType = strategy?.length ? undefined : input.launchType ?? 'EC2';
    checkLaunchType(td.taskDefinition, launchType);
    if ((input.loadBalancers ?? []).length > 1) throw ecsErrors.invalidParameter('A task set can have only one load balancer (target group).');
    await validateLoadBalancers(input.loadBalancers ?? [], td, ctx);
    validateNetwork(td, input.networkConfiguration);
    const tags = mergeTags([], input.tags ?? [], ecsErrors.invalidParameter);
    const { service, taskSet } = await createTaskSet(ctx, cluster.clusterName, name, {
      taskDefinition: td.taskDefinition.taskDefinitionArn,
      externalId: input.externalId,
      launchType,
      capacityProviderStrategy: strategy?.length ? strategy : undefined,
      platformVersion: input.platformVersion,
      networkConfiguration: input.networkConfiguration,
      loadBalancers: input.loadBalancers ?? [],
      serviceRegistries: input.serviceRegistries ?? [],
      scale,
      tags,
    });
    return { taskSet: describeTaskSet(service, taskSet, [], true) };
  },

  async DescribeTaskSets(input, ctx) {
    const { cluster, name, loaded } = await serviceOf(ctx, input.cluster, input.service);
    if ((input.taskSets ?? []).length > 100) throw ecsErrors.invalidParameter('At most 100 task sets can be described at once.');
    const svc = loaded.record;
    const tasks = await serviceTasks(ctx, cluster.clusterName, name);
    const tags = input.include?.includes('TAGS') ?? false;
    if (!input.taskSets?.length) return { taskSets: (svc.taskSets ?? []).map((ts) => describeTaskSet(svc, ts, tasks, tags)), failures: [] };
    const taskSets: ECS.TaskSet[] = [];
    const failures: ECS.Failure[] = [];
    for (const ref of input.taskSets) {
      const ts = findTaskSet(svc, ref);
      if (ts) taskSets.push(describeTaskSet(svc, ts, tasks, tags));
      else failures.push({ arn: ref, reason: 'MISSING' });
    }
    return { taskSets, failures };
  },

  async UpdateTaskSet(input, ctx) {
    const { cluster, name } = await serviceOf(ctx, input.cluster, input.service);
    const scale = checkScale(input.scale);
    const { service, taskSet } = await updateTaskSetScale(ctx, cluster.clusterName, name, input.taskSet, scale);
    return { taskSet: describeTaskSet(service, taskSet, await serviceTasks(ctx, cluster.clusterName, name)) };
  },

  async UpdateServicePrimaryTaskSet(input, ctx) {
    const { cluster, name } = await serviceOf(ctx, input.cluster, input.service);
    const { service, taskSet } = await setPrimaryTaskSet(ctx, cluster.clusterName, name, input.primaryTaskSet);
    return { taskSet: describeTaskSet(service, taskSet, await serviceTasks(ctx, cluster.clusterName, name)) };
  },

  async DeleteTaskSet(input, ctx) {
    const { cluster, name } = await serviceOf(ctx, input.cluster, input.service);
    const { service, taskSet } = await deleteTaskSet(ctx, cluster.clusterName, name, input.taskSet, input.force ?? false);
    return { taskSet: describeTaskSet(service, taskSet, await serviceTasks(ctx, cluster.clusterName, name)) };
  },
};
