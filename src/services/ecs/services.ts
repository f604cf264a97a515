/**
 * ECS service operations: create, update, delete, describe and list. The handlers validate
 * the request the way ECS does; the records, deployments and their transitions are the
 * domain's (src/domain/ecs/services.ts), and running, replacing and draining the tasks is the
 * service controller's (src/control/serviceController.ts).
 */
import type * as ECS from '../../generated/ecs.js';
import { arn, mergeTags, parseArn } from '../../domain/common.js';
import { requireCluster } from '../../domain/ecs/clusters.js';
import { ecsErrors } from '../../domain/ecs/errors.js';
import { clusterArn, serviceArn } from '../../domain/ecs/keys.js';
import { listServices } from '../../domain/ecs/listing.js';
import { checkPlacementInput } from '../../domain/ecs/launch.js';
import type { TaskDefinitionRecord } from '../../domain/ecs/records.js';
import {
  createService,
  deleteService,
  finishDraining,
  loadService,
  serviceNameOf,
  serviceTasks,
  updateService,
  withCounts,
  type LoadedService,
} from '../../domain/ecs/services.js';
import { findTaskDefinition, requireActiveTaskDefinition } from '../../domain/ecs/taskDefinitions.js';
import { describeTargetGroup } from '../../domain/elbv2/targets.js';
import { checkDescribeCount, checkLaunchType, checkMaxResults } from './validation.js';
import type { Handlers, RequestContext } from '../types.js';

const NAME_RE = /^[A-Za-z0-9_-]{1,255}$/;
const TG_ARN_RE = /^arn:aws[\w-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/;

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

/**
 * Checks a service's load balancers as ECS does: at most 5, each a well-formed target group ARN
 * of this region whose container and port the task definition has, and each target group exists
 * and is used by a load balancer (a listener or rule forwards to it).
 */
async function validateLoadBalancers(lbs: ECS.LoadBalancer[], td: TaskDefinitionRecord, ctx: RequestContext, checkTargetGroups = true): Promise<void> {
  if (lbs.length > 5) throw ecsErrors.invalidParameter('A service can have at most 5 load balancers (target groups).');
  for (const lb of lbs) {
    if (!lb.targetGroupArn && !lb.loadBalancerName) throw ecsErrors.invalidParameter('Each load balancer needs a targetGroupArn (or a Classic loadBalancerName).');
    if (lb.targetGroupArn) {
      const p = parseArn(lb.targetGroupArn);
      if (!TG_ARN_RE.test(lb.targetGroupArn) || !p) {
        throw ecsErrors.invalidParameter(`Target group ARN '${lb.targetGroupArn}' is not valid: expected arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<16 hex digits>.`);
      }
      if (p.region !== ctx.region) throw ecsErrors.invalidParameter(`Target group '${lb.targetGroupArn}' is in region ${p.region}, not ${ctx.region}.`);
    }
    if (!lb.containerName) throw ecsErrors.invalidParameter('containerName must be specified for each load balancer.');
    if (lb.containerPort === undefined) throw ecsErrors.invalidParameter('containerPort must be specified for each load balancer.');
    const c = td.taskDefinition.containerDefinitions?.find((x) => x.name === lb.containerName);
    if (!c) throw ecsErrors.invalidParameter(`The container ${lb.containerName} does not exist in the task definition.`);
    if (!(c.portMappings ?? []).some((pm) => pm.containerPort === lb.containerPort)) {
      throw ecsErrors.invalidParameter(`The container ${lb.containerName} did not have a container port ${lb.containerPort} defined.`);
    }
  }
  for (const lb of checkTargetGroups ? lbs : []) {
    if (!lb.targetGroupArn) continue;
    const tg = await describeTargetGroup(ctx, lb.targetGroupArn);
    if (!tg) throw ecsErrors.invalidParameter(`The target group with targetGroupArn ${lb.targetGroupArn} does not exist.`);
    if (!tg.loadBalancerArns.length) throw ecsErrors.invalidParameter(`The target group with targetGroupArn ${lb.targetGroupArn} does not have an associated load balancer.`);
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
  checkPlacementInput(constraints, strategy);
}

function validateNetwork(td: TaskDefinitionRecord, nc: ECS.NetworkConfiguration | undefined): void {
  if (td.taskDefinition.networkMode === 'awsvpc') {
    if (!nc?.awsvpcConfiguration) throw ecsErrors.invalidParameter("Network Configuration must be provided when networkMode 'awsvpc' is specified.");
    if (!nc.awsvpcConfiguration.subnets.length) throw ecsErrors.invalidParameter('At least one subnet must be provided in awsvpcConfiguration.');
  } else if (nc?.awsvpcConfiguration) {
    throw ecsErrors.invalidParameter(`Network Configuration is not valid for the given networkMode of this task definition ('${td.taskDefinition.networkMode}').`);
  }
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
    checkLaunchType(td.taskDefinition, input.capacityProviderStrategy?.length ? undefined : (input.launchType ?? 'EC2'));
    await validateLoadBalancers(input.loadBalancers ?? [], td, ctx);
    validateNetwork(td, input.networkConfiguration);
    validatePlacement(input.placementConstraints, input.placementStrategy, daemon);
    const deploymentConfiguration = validateDeploymentConfiguration(input.deploymentConfiguration ?? {}, daemon);
    const tags = mergeTags([], input.tags ?? [], ecsErrors.invalidParameter);
    if (input.role && !input.role.startsWith('arn:') && !/^[\w+=,.@/-]{1,512}$/.test(input.role)) throw ecsErrors.invalidParameter(`role '${input.role}' is not a role name or ARN.`);
    const rec = await createService(ctx, {
      serviceName: input.serviceName,
      serviceArn: serviceArn(ctx, cluster.clusterName, input.serviceName),
      clusterName: cluster.clusterName,
      clusterArn: clusterArn(ctx, cluster.clusterName),
      taskDefinition: td.taskDefinition.taskDefinitionArn,
      desiredCount,
      launchType: input.capacityProviderStrategy?.length ? undefined : input.launchType ?? 'EC2',
      capacityProviderStrategy: input.capacityProviderStrategy,
      platformVersion: input.platformVersion,
      networkConfiguration: input.networkConfiguration,
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
      createdBy: ctx.principal.arn,
    });
    return { service: describeService({ record: rec, ...withCounts(rec, []) }, true) };
  },

  async UpdateService(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const name = serviceNameOf(ctx, cluster.clusterName, input.service);
    const existing = name ? (await loadService(ctx, cluster.clusterName, name))?.record : undefined;
    if (!existing || existing.status === 'INACTIVE') throw ecsErrors.serviceNotFound();
    if (existing.status !== 'ACTIVE') throw ecsErrors.serviceNotActive();
    const cur = existing;
    const daemon = cur.schedulingStrategy === 'DAEMON';
    if (input.desiredCount !== undefined) {
      if (daemon) throw ecsErrors.invalidParameter('The daemon scheduling strategy does not support a desired count for services.');
      if (input.desiredCount < 0) throw ecsErrors.invalidParameter('desiredCount must not be negative.');
    }
    if (input.deploymentController && input.deploymentController.type !== 'ECS') throw ecsErrors.invalidParameter('Only the ECS deployment controller is supported.');
    const td = input.taskDefinition ? await requireActiveTaskDefinition(ctx, input.taskDefinition) : await requireTaskDefinitionAny(ctx, cur.taskDefinition);
    // A new revision must run the way the service launches its tasks.
    if (input.taskDefinition) checkLaunchType(td.taskDefinition, cur.launchType);
    const lbs = input.loadBalancers ?? cur.loadBalancers;
    // Target groups are looked up when the update names them (a service keeps those it has).
    await validateLoadBalancers(lbs, td, ctx, input.loadBalancers !== undefined);
    const nc = input.networkConfiguration ?? cur.networkConfiguration;
    if (input.taskDefinition || input.networkConfiguration) validateNetwork(td, nc);
    validatePlacement(input.placementConstraints ?? cur.placementConstraints, input.placementStrategy ?? cur.placementStrategy, daemon);
    const dc = input.deploymentConfiguration ? validateDeploymentConfiguration({ ...input.deploymentConfiguration }, daemon) : cur.deploymentConfiguration;
    if (input.healthCheckGracePeriodSeconds !== undefined && !lbs.length) throw ecsErrors.invalidParameter('Health check grace period is only valid for services configured to use load balancers.');
    const next = await updateService(ctx, cluster.clusterName, name!, {
      taskDefinition: td.taskDefinition.taskDefinitionArn,
      desiredCount: input.desiredCount,
      capacityProviderStrategy: input.capacityProviderStrategy,
      platformVersion: input.platformVersion,
      networkConfiguration: nc,
      loadBalancers: input.loadBalancers,
      serviceRegistries: input.serviceRegistries,
      deploymentConfiguration: dc,
      placementConstraints: input.placementConstraints,
      placementStrategy: input.placementStrategy,
      healthCheckGracePeriodSeconds: input.healthCheckGracePeriodSeconds,
      enableECSManagedTags: input.enableECSManagedTags,
      propagateTags: input.propagateTags,
      enableExecuteCommand: input.enableExecuteCommand,
      forceNewDeployment: input.forceNewDeployment,
    });
    const tasks = await serviceTasks(ctx, cluster.clusterName, name!);
    return { service: describeService({ record: next, ...withCounts(next, tasks) }) };
  },

  async DeleteService(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const name = serviceNameOf(ctx, cluster.clusterName, input.service);
    if (!name) throw ecsErrors.serviceNotFound();
    const next = await deleteService(ctx, cluster.clusterName, name, input.force ?? false);
    const tasks = await serviceTasks(ctx, cluster.clusterName, name);
    return { service: describeService({ record: next, ...withCounts(next, tasks) }) };
  },

  async DescribeServices(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    checkDescribeCount(input.services, 'Services', 10);
    const services: ECS.Service[] = [];
    const failures: ECS.Failure[] = [];
    for (const ref of input.services) {
      const n = serviceNameOf(ctx, cluster.clusterName, ref);
      if (n) await finishDraining(ctx, cluster.clusterName, n);
      const loaded = n ? await loadService(ctx, cluster.clusterName, n) : undefined;
      if (loaded) services.push(describeService(loaded, input.include?.includes('TAGS')));
      // As ECS reports a service it does not know: an ARN as given, a name as `service/<name>`.
      else failures.push({ arn: ref.startsWith('arn:') ? ref : arn('ecs', ctx.region, ctx.platform.accountId, `service/${ref}`), reason: 'MISSING' });
    }
    return { services, failures };
  },

  async ListServices(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const maxResults = checkMaxResults(input.maxResults, 10);
    const page = await listServices(ctx, cluster.clusterName, {
      token: input.nextToken,
      maxResults,
      filter: (v) => {
        if (v.status === 'INACTIVE') return false;
        if (input.launchType && v.launchType !== input.launchType) return false;
        if (input.schedulingStrategy && v.schedulingStrategy !== input.schedulingStrategy) return false;
        return true;
      },
    });
    return { serviceArns: page.items.map((v) => v.serviceArn), nextToken: page.nextToken };
  },
};

async function requireTaskDefinitionAny(s: RequestContext, arn: string): Promise<TaskDefinitionRecord> {
  const rec = await findTaskDefinition(s, arn);
  if (!rec) throw ecsErrors.taskDefinitionMissing(arn);
  return rec.value;
}
