/**
 * Capacity providers: Auto Scaling group providers (stored, `ecs.capacity-provider`) and the
 * built-in FARGATE and FARGATE_SPOT; their association with clusters (PutClusterCapacityProviders,
 * a cluster's default strategy); and how a capacity provider strategy splits tasks (base, then
 * weight) at placement.
 *
 * Berth has no Auto Scaling groups. A provider's capacity is the container instances whose agent
 * registered with the attribute `berth.capacity-provider` = the provider's name
 * (`berth agent --attribute berth.capacity-provider=<name>`), and such an instance reports it as
 * its `capacityProviderName`. FARGATE and FARGATE_SPOT place on any instance of the cluster (as
 * the FARGATE launch type does in Berth). Managed scaling and managed termination protection are
 * stored and described; there is no group to scale.
 */
import type * as ECS from '../../generated/ecs.js';
import { mutate } from '../mutate.js';
import { ecsErrors } from './errors.js';
import { KIND, clusterKey, type Scope } from './keys.js';
import type { CapacityProviderRecord, ClusterRecord, ContainerInstanceRecord, ServiceRecord } from './records.js';

/** The capacity providers every cluster may use without creating them. */
export const BUILT_IN_CAPACITY_PROVIDERS = ['FARGATE', 'FARGATE_SPOT'] as const;

/** The container instance attribute that puts an instance in a capacity provider. */
export const CAPACITY_PROVIDER_ATTRIBUTE = 'berth.capacity-provider';

/** Most capacity providers a region keeps (ACTIVE ones). */
export const MAX_CAPACITY_PROVIDERS = 100;

/** Most capacity providers one cluster (and one strategy) may have. */
export const MAX_CLUSTER_CAPACITY_PROVIDERS = 20;

/** Whether a provider is one of the built-in Fargate ones. */
export function isFargateProvider(name: string): boolean {
  return (BUILT_IN_CAPACITY_PROVIDERS as readonly string[]).includes(name);
}

/** The capacity provider a container instance belongs to (its `berth.capacity-provider` attribute). */
export function instanceCapacityProvider(ci: Pick<ContainerInstanceRecord, 'attributes'>): string | undefined {
  return ci.attributes.find((a) => a.name === CAPACITY_PROVIDER_ATTRIBUTE)?.value;
}

/** The stored provider by name (any status), or undefined. */
export async function findCapacityProvider(s: Scope, name: string): Promise<CapacityProviderRecord | undefined> {
  return (await s.platform.store.get<CapacityProviderRecord>(KIND.capacityProvider, `${s.region}/${name}`))?.value;
}

/** Every stored provider of the region (any status), by name. */
export async function listCapacityProviders(s: Scope): Promise<CapacityProviderRecord[]> {
  return (await s.platform.store.list<CapacityProviderRecord>(KIND.capacityProvider, { prefix: `${s.region}/` })).map((r) => r.value);
}

/**
 * Stores a new ACTIVE provider. ClientException when an ACTIVE one has the name or another ACTIVE
 * provider uses the Auto Scaling group; LimitExceededException past MAX_CAPACITY_PROVIDERS.
 */
export async function createCapacityProvider(s: Scope, rec: CapacityProviderRecord): Promise<CapacityProviderRecord> {
  const others = (await listCapacityProviders(s)).filter((p) => p.status === 'ACTIVE' && p.name !== rec.name);
  if (others.length >= MAX_CAPACITY_PROVIDERS) throw ecsErrors.limitExceeded(`The region already has ${MAX_CAPACITY_PROVIDERS} capacity providers, the most it can have; delete one first.`);
  if (others.some((p) => p.autoScalingGroupProvider.autoScalingGroupArn === rec.autoScalingGroupProvider.autoScalingGroupArn)) {
    throw ecsErrors.client(`The Auto Scaling group ${rec.autoScalingGroupProvider.autoScalingGroupArn} is already used by another capacity provider.`);
  }
  const r = await mutate<CapacityProviderRecord>(s.platform.store, KIND.capacityProvider, `${s.region}/${rec.name}`, (cur) => {
    if (cur?.status === 'ACTIVE') throw ecsErrors.client('The specified capacity provider already exists. To change the configuration of an existing capacity provider, update the capacity provider.');
    return rec;
  });
  return r.value!;
}

/** Changes an ACTIVE provider (`change` returns the new record); ClientException when there is none. */
export async function changeCapacityProvider(s: Scope, name: string, change: (cur: CapacityProviderRecord) => CapacityProviderRecord): Promise<CapacityProviderRecord> {
  const r = await mutate<CapacityProviderRecord>(s.platform.store, KIND.capacityProvider, `${s.region}/${name}`, (cur) => {
    if (!cur || cur.status !== 'ACTIVE') throw ecsErrors.client(`The specified capacity provider '${name}' does not exist.`);
    return change(cur);
  });
  return r.value!;
}

/** The providers a service uses: its strategy's, its deployments' and its task sets'. */
function providersOf(svc: ServiceRecord): Set<string> {
  const out = new Set<string>();
  const add = (st: ECS.CapacityProviderStrategyItem[] | undefined) => (st ?? []).forEach((i) => out.add(i.capacityProvider));
  add(svc.capacityProviderStrategy);
  for (const d of svc.deployments) add(d.capacityProviderStrategy);
  for (const t of svc.taskSets ?? []) add(t.capacityProviderStrategy);
  return out;
}

/** Names of the ACTIVE or DRAINING services of a cluster whose strategies use `provider`. */
export async function servicesUsing(s: Scope, clusterName: string | undefined, provider: string): Promise<string[]> {
  const prefix = clusterName ? `${s.region}/${clusterName}/` : `${s.region}/`;
  const recs = await s.platform.store.list<ServiceRecord>(KIND.service, { prefix });
  return recs.filter((r) => r.value.status !== 'INACTIVE' && providersOf(r.value).has(provider)).map((r) => r.value.serviceName);
}

/**
 * DeleteCapacityProvider: the provider becomes INACTIVE (DELETE_COMPLETE). It may not be in
 * use: no cluster may list it (PutClusterCapacityProviders removes it) and no service's
 * strategy may name it (ClientException otherwise, saying which).
 */
export async function deleteCapacityProvider(s: Scope, name: string): Promise<CapacityProviderRecord> {
  const clusters = (await s.platform.store.list<ClusterRecord>(KIND.cluster, { prefix: `${s.region}/` })).filter((c) => c.value.status === 'ACTIVE' && c.value.capacityProviders.includes(name));
  if (clusters.length) {
    throw ecsErrors.client(`The capacity provider ${name} is associated with cluster ${clusters[0]!.value.clusterName}. Remove it from the cluster (PutClusterCapacityProviders) before deleting it.`);
  }
  const users = await servicesUsing(s, undefined, name);
  if (users.length) throw ecsErrors.client(`The capacity provider ${name} is used by the capacity provider strategy of service ${users[0]}. Update the service first.`);
  const now = s.platform.clock.now();
  return changeCapacityProvider(s, name, (cur) => ({ ...cur, status: 'INACTIVE', updateStatus: 'DELETE_COMPLETE', updatedAt: now }));
}

/**
 * PutClusterCapacityProviders: the cluster's providers and default strategy are replaced. A
 * provider still used by a service of the cluster cannot be removed (ResourceInUseException).
 */
export async function putClusterCapacityProviders(s: Scope, clusterName: string, providers: string[], strategy: ECS.CapacityProviderStrategyItem[]): Promise<ClusterRecord> {
  const cur = (await s.platform.store.get<ClusterRecord>(KIND.cluster, clusterKey(s.region, clusterName)))?.value;
  for (const removed of (cur?.capacityProviders ?? []).filter((p) => !providers.includes(p))) {
    if ((await servicesUsing(s, clusterName, removed)).length) throw ecsErrors.resourceInUse('The specified capacity provider is in use and cannot be removed.');
  }
  const r = await mutate<ClusterRecord>(s.platform.store, KIND.cluster, clusterKey(s.region, clusterName), (c) => {
    if (!c || c.status !== 'ACTIVE') throw ecsErrors.clusterNotFound();
    return { ...c, capacityProviders: providers, defaultCapacityProviderStrategy: strategy };
  });
  return r.value!;
}

/**
 * Which provider the next task goes to, given how many tasks each provider already has (of the
 * same service deployment or RunTask call): providers below their `base` first (in strategy
 * order), then the one whose share above its base is furthest below its weight's share
 * (ties to the earlier one). Pure; `undefined` when no provider has weight or an unmet base.
 */
export function nextProvider(strategy: readonly ECS.CapacityProviderStrategyItem[], counts: ReadonlyMap<string, number>): string | undefined {
  for (const i of strategy) if ((counts.get(i.capacityProvider) ?? 0) < (i.base ?? 0)) return i.capacityProvider;
  let best: string | undefined;
  let bestScore = Infinity;
  for (const i of strategy) {
    const w = i.weight ?? 0;
    if (w <= 0) continue;
    const above = Math.max(0, (counts.get(i.capacityProvider) ?? 0) - (i.base ?? 0));
    const score = (above + 1) / w;
    if (score < bestScore) {
      bestScore = score;
      best = i.capacityProvider;
    }
  }
  return best;
}
