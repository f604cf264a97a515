/** ECS cluster operations: create, describe, list, update, delete, and the cluster's capacity providers (PutClusterCapacityProviders). */
import type * as ECS from '../../generated/ecs.js';
import { mergeTags } from '../../domain/common.js';
import { changeCluster, createCluster, findCluster, requireCluster } from '../../domain/ecs/clusters.js';
import { clusterCounts } from '../../domain/ecs/clusterCounts.js';
import { ecsErrors } from '../../domain/ecs/errors.js';
import { clusterArn, clusterNameOf } from '../../domain/ecs/keys.js';
import { listClusters } from '../../domain/ecs/listing.js';
import type { ClusterRecord } from '../../domain/ecs/records.js';
import { checkMaxResults } from './validation.js';
import { checkClusterCapacityProviders } from './capacityProviders.js';
import { putClusterCapacityProviders } from '../../domain/ecs/capacityProviders.js';
import type { Handlers, RequestContext } from '../types.js';

const NAME_RE = /^[A-Za-z0-9_-]{1,255}$/;

export async function describeCluster(ctx: RequestContext, c: ClusterRecord, include: string[] = []): Promise<ECS.Cluster> {
  const counts = c.status === 'ACTIVE' ? await clusterCounts(ctx, c.clusterName) : { registeredContainerInstancesCount: 0, runningTasksCount: 0, pendingTasksCount: 0, activeServicesCount: 0 };
  return {
    clusterArn: c.clusterArn,
    clusterName: c.clusterName,
    status: c.status,
    ...counts,
    statistics: [],
    tags: include.includes('TAGS') ? c.tags : [],
    settings: include.includes('SETTINGS') || include.length === 0 ? c.settings : undefined,
    configuration: include.includes('CONFIGURATIONS') ? c.configuration : undefined,
    capacityProviders: c.capacityProviders,
    defaultCapacityProviderStrategy: c.defaultCapacityProviderStrategy,
    attachments: include.includes('ATTACHMENTS') ? [] : undefined,
    serviceConnectDefaults: c.serviceConnectDefaults,
  };
}

function validateSettings(settings: ECS.ClusterSetting[] | undefined): ECS.ClusterSetting[] {
  for (const s of settings ?? []) {
    if (s.name !== 'containerInsights') throw ecsErrors.invalidParameter(`Unsupported cluster setting '${s.name}'. The only setting is 'containerInsights'.`);
    if (!['enabled', 'disabled', 'enhanced'].includes(s.value ?? '')) {
      throw ecsErrors.invalidParameter(`containerInsights must be 'enabled', 'disabled' or 'enhanced': got '${s.value ?? ''}'.`);
    }
  }
  return settings ?? [{ name: 'containerInsights', value: 'disabled' }];
}

export const clusterHandlers: Handlers<ECS.Operations> = {
  async CreateCluster(input, ctx) {
    const name = input.clusterName ?? 'default';
    if (!NAME_RE.test(name)) {
      throw ecsErrors.invalidParameter('Cluster name must be 1-255 characters: letters (upper and lower case), numbers, hyphens and underscores.');
    }
    const settings = validateSettings(input.settings);
    const capacity = await checkClusterCapacityProviders(ctx, input.capacityProviders ?? [], input.defaultCapacityProviderStrategy ?? []);
    const tags = mergeTags([], input.tags ?? [], ecsErrors.invalidParameter);
    const now = ctx.platform.clock.now();
    // Creating a cluster that exists and is ACTIVE returns it unchanged, as ECS does.
    const current = await createCluster(ctx, {
      clusterName: name,
      clusterArn: clusterArn(ctx, name),
      status: 'ACTIVE',
      tags,
      settings,
      configuration: input.configuration,
      capacityProviders: capacity.providers,
      defaultCapacityProviderStrategy: capacity.strategy,
      serviceConnectDefaults: input.serviceConnectDefaults?.namespace ? { namespace: input.serviceConnectDefaults.namespace } : undefined,
      createdAt: now,
    });
    return { cluster: await describeCluster(ctx, current, ['TAGS', 'SETTINGS', 'CONFIGURATIONS']) };
  },

  async DescribeClusters(input, ctx) {
    const refs = input.clusters?.length ? input.clusters : ['default'];
    if (refs.length > 100) throw ecsErrors.invalidParameter('At most 100 clusters can be described at once.');
    const clusters: ECS.Cluster[] = [];
    const failures: ECS.Failure[] = [];
    for (const ref of refs) {
      const rec = await findCluster(ctx, clusterNameOf(ctx, ref));
      if (rec) clusters.push(await describeCluster(ctx, rec, input.include ?? []));
      else failures.push({ arn: ref.startsWith('arn:') ? ref : clusterArn(ctx, ref), reason: 'MISSING' });
    }
    return { clusters, failures };
  },

  async ListClusters(input, ctx) {
    const maxResults = checkMaxResults(input.maxResults, 100);
    const page = await listClusters(ctx, { token: input.nextToken, maxResults, filter: (c) => c.status === 'ACTIVE' });
    return { clusterArns: page.items.map((c) => c.clusterArn), nextToken: page.nextToken };
  },

  async UpdateCluster(input, ctx) {
    if (input.settings) validateSettings(input.settings);
    const rec = await changeCluster(ctx, input.cluster, (cur) => {
      return {
        ...cur,
        settings: input.settings ? mergeSettings(cur.settings, input.settings) : cur.settings,
        configuration: input.configuration ?? cur.configuration,
        serviceConnectDefaults: input.serviceConnectDefaults ? { namespace: input.serviceConnectDefaults.namespace } : cur.serviceConnectDefaults,
      };
    });
    return { cluster: await describeCluster(ctx, rec, ['SETTINGS', 'CONFIGURATIONS', 'TAGS']) };
  },

  async UpdateClusterSettings(input, ctx) {
    validateSettings(input.settings);
    const rec = await changeCluster(ctx, input.cluster, (cur) => ({ ...cur, settings: mergeSettings(cur.settings, input.settings) }));
    return { cluster: await describeCluster(ctx, rec, ['SETTINGS']) };
  },

  async PutClusterCapacityProviders(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const { providers, strategy } = await checkClusterCapacityProviders(ctx, input.capacityProviders, input.defaultCapacityProviderStrategy);
    const rec = await putClusterCapacityProviders(ctx, cluster.clusterName, providers, strategy);
    return { cluster: await describeCluster(ctx, rec, ['SETTINGS']) };
  },

  async DeleteCluster(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const counts = await clusterCounts(ctx, cluster.clusterName);
    if (counts.registeredContainerInstancesCount > 0) throw ecsErrors.clusterContainsInstances();
    if (counts.activeServicesCount > 0) throw ecsErrors.clusterContainsServices();
    if (counts.runningTasksCount + counts.pendingTasksCount > 0) throw ecsErrors.clusterContainsTasks();
    const rec = await changeCluster(ctx, cluster.clusterName, (cur) => ({ ...cur, status: 'INACTIVE' }));
    return { cluster: await describeCluster(ctx, rec, ['SETTINGS']) };
  },
};

function mergeSettings(cur: ECS.ClusterSetting[], next: ECS.ClusterSetting[]): ECS.ClusterSetting[] {
  const m = new Map(cur.map((s) => [s.name, s]));
  for (const s of next) m.set(s.name, s);
  return [...m.values()];
}
