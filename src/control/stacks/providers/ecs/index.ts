/**
 * ECS resources: AWS::ECS::Cluster, AWS::ECS::TaskDefinition and AWS::ECS::Service, through the
 * ECS API. A service is complete once its deployment is (as CloudFormation waits for a stable
 * service), and failed when its deployment fails (the circuit breaker).
 */
import { ignoreNotFound, isNotFound, mergedTags, nameWithin, type ProviderContext, type ResourceProvider } from '../types.js';

interface Deployment {
  status?: string;
  rolloutState?: string;
  rolloutStateReason?: string;
  runningCount?: number;
  desiredCount?: number;
  taskDefinition?: string;
}
interface ServiceOut {
  serviceArn?: string;
  serviceName?: string;
  status?: string;
  desiredCount?: number;
  runningCount?: number;
  deployments?: Deployment[];
  events?: Array<{ message?: string }>;
}

const ecsTags = (ctx: ProviderContext, own: unknown) => mergedTags(ctx.tags, own).map((t) => ({ key: t.Key, value: t.Value }));
const clusterArn = (ctx: ProviderContext, name: string) => `arn:aws:ecs:${ctx.scope.region}:${ctx.scope.platform.accountId}:cluster/${name}`;

const cluster: ResourceProvider = {
  async create(props, ctx) {
    const name = typeof props.ClusterName === 'string' ? props.ClusterName : nameWithin(ctx.plannedName, 255);
    const out = await ctx.invoker.call<{ cluster?: { clusterArn?: string } }>(ctx.scope, 'ecs', 'CreateCluster', {
      clusterName: name,
      settings: props.ClusterSettings,
      configuration: props.Configuration,
      capacityProviders: props.CapacityProviders,
      defaultCapacityProviderStrategy: props.DefaultCapacityProviderStrategy,
      serviceConnectDefaults: props.ServiceConnectDefaults,
      tags: ecsTags(ctx, props.Tags),
    });
    return { physicalId: name, attributes: { Arn: out.cluster?.clusterArn ?? clusterArn(ctx, name) } };
  },
  async update(physicalId, props, _before, ctx) {
    if (props.ClusterSettings !== undefined || props.Configuration !== undefined) {
      await ctx.invoker.call(ctx.scope, 'ecs', 'UpdateCluster', { cluster: physicalId, settings: props.ClusterSettings, configuration: props.Configuration });
    }
    return { physicalId, attributes: { Arn: clusterArn(ctx, physicalId) } };
  },
  async delete(physicalId, props, ctx) {
    const name = physicalId ?? (typeof props.ClusterName === 'string' ? props.ClusterName : nameWithin(ctx.plannedName, 255));
    await ignoreNotFound(ctx.invoker.call(ctx.scope, 'ecs', 'DeleteCluster', { cluster: name }));
  },
};

const taskDefinition: ResourceProvider = {
  async create(props, ctx) {
    const family = typeof props.Family === 'string' ? props.Family : nameWithin(ctx.plannedName, 255);
    const { Tags, Family: _f, ...rest } = props;
    const out = await ctx.invoker.call<{ taskDefinition?: { taskDefinitionArn?: string } }>(ctx.scope, 'ecs', 'RegisterTaskDefinition', { ...rest, family, tags: ecsTags(ctx, Tags) });
    const arn = out.taskDefinition!.taskDefinitionArn!;
    return { physicalId: arn, attributes: { TaskDefinitionArn: arn } };
  },
  async delete(physicalId, props, ctx) {
    if (physicalId) {
      await ignoreNotFound(ctx.invoker.call(ctx.scope, 'ecs', 'DeregisterTaskDefinition', { taskDefinition: physicalId }));
      return;
    }
    // Interrupted before its ARN was recorded: every revision of the planned family goes.
    const family = typeof props.Family === 'string' ? undefined : nameWithin(ctx.plannedName, 255);
    if (!family) return;
    const list = await ctx.invoker.call<{ taskDefinitionArns?: string[] }>(ctx.scope, 'ecs', 'ListTaskDefinitions', { familyPrefix: family, status: 'ACTIVE' });
    for (const arn of list.taskDefinitionArns ?? []) if (arn.includes(`/${family}:`)) await ignoreNotFound(ctx.invoker.call(ctx.scope, 'ecs', 'DeregisterTaskDefinition', { taskDefinition: arn }));
  },
};

function serviceInput(props: Record<string, unknown>) {
  const { PlacementStrategies, Tags: _t, ServiceName: _n, Cluster, DesiredCount, ...rest } = props;
  return { ...rest, cluster: Cluster, placementStrategy: PlacementStrategies, desiredCount: DesiredCount ?? (props.SchedulingStrategy === 'DAEMON' ? undefined : 1) };
}

async function describe(ctx: ProviderContext, clusterName: unknown, service: string): Promise<ServiceOut | undefined> {
  const out = await ctx.invoker.call<{ services?: ServiceOut[] }>(ctx.scope, 'ecs', 'DescribeServices', { cluster: clusterName, services: [service] });
  return out.services?.[0];
}

/** Waits until the service's primary deployment completes (its tasks run), or fails with why. */
async function stabilize(ctx: ProviderContext, clusterName: unknown, service: string): Promise<void> {
  const deadline = ctx.clock.now() + ctx.stabilizeTimeoutMs;
  for (;;) {
    if (ctx.signal.aborted) throw new Error('Berth stopped while waiting for the service to stabilize');
    const s = await describe(ctx, clusterName, service);
    const primary = s?.deployments?.find((d) => d.status === 'PRIMARY');
    if (primary?.rolloutState === 'FAILED') throw new Error(`ECS Deployment Circuit Breaker was triggered: ${primary.rolloutStateReason ?? 'the deployment failed'}`);
    if (s && primary && s.deployments!.length === 1 && (primary.rolloutState === 'COMPLETED' || (primary.runningCount ?? 0) >= (primary.desiredCount ?? 0))) return;
    if (ctx.clock.now() >= deadline) {
      const last = s?.events?.[0]?.message;
      throw new Error(`Service ${service} did not stabilize within ${Math.round(ctx.stabilizeTimeoutMs / 1000)} s${last ? `: ${last}` : ''}`);
    }
    await ctx.clock.sleep(500, ctx.signal);
  }
}

const ecsService: ResourceProvider = {
  async create(props, ctx) {
    const name = typeof props.ServiceName === 'string' ? props.ServiceName : nameWithin(ctx.plannedName, 255);
    const out = await ctx.invoker.call<{ service?: ServiceOut }>(ctx.scope, 'ecs', 'CreateService', { ...serviceInput(props), serviceName: name, tags: ecsTags(ctx, props.Tags) });
    const arn = out.service!.serviceArn!;
    await stabilize(ctx, props.Cluster, arn);
    return { physicalId: arn, attributes: { ServiceArn: arn, Name: name }, notes: { cluster: props.Cluster ?? 'default' } };
  },
  async update(physicalId, props, _before, ctx) {
    const { loadBalancers: _lb, launchType: _l, schedulingStrategy: _s, role: _r, deploymentController: _d, serviceRegistries: _sr, enableECSManagedTags: _e, propagateTags: _p, ...input } = lowerKeys(serviceInput(props));
    await ctx.invoker.call(ctx.scope, 'ecs', 'UpdateService', { ...input, service: physicalId, cluster: props.Cluster });
    await stabilize(ctx, props.Cluster, physicalId);
    return { physicalId, attributes: { ServiceArn: physicalId, Name: physicalId.split('/').pop() } };
  },
  async delete(physicalId, props, ctx, notes) {
    const clusterName = (notes.cluster as string | undefined) ?? props.Cluster;
    const service = physicalId ?? (typeof props.ServiceName === 'string' ? props.ServiceName : nameWithin(ctx.plannedName, 255));
    try {
      await ctx.invoker.call(ctx.scope, 'ecs', 'DeleteService', { cluster: clusterName, service, force: true });
    } catch (e) {
      if (isNotFound(e) || /ServiceNotActive|ClusterNotFound/.test(String((e as { code?: string }).code))) return;
      throw e;
    }
    // CloudFormation waits for the service's tasks to stop.
    const deadline = ctx.clock.now() + ctx.stabilizeTimeoutMs;
    for (;;) {
      const s = await describe(ctx, clusterName, service).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
      if (!s || s.status === 'INACTIVE' || s.status === 'MISSING') return;
      if (ctx.clock.now() >= deadline || ctx.signal.aborted) throw new Error(`Service ${service} did not drain within ${Math.round(ctx.stabilizeTimeoutMs / 1000)} s`);
      await ctx.clock.sleep(500, ctx.signal);
    }
  },
};

function lowerKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k[0]!.toLowerCase() + k.slice(1), v]));
}

export const ecsProviders: Record<string, ResourceProvider> = {
  'AWS::ECS::Cluster': cluster,
  'AWS::ECS::TaskDefinition': taskDefinition,
  'AWS::ECS::Service': ecsService,
};
