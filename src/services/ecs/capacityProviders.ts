/**
 * Capacity provider operations: Create/Update/Delete/DescribeCapacityProviders (Auto Scaling
 * group providers; FARGATE and FARGATE_SPOT are built in) and PutClusterCapacityProviders, plus
 * the capacity provider strategy check RunTask, CreateService and CreateTaskSet share. How a
 * provider maps to container instances is the domain's (src/domain/ecs/capacityProviders.ts).
 */
import type * as ECS from '../../generated/ecs.js';
import { encodeToken, decodeToken, mergeTags } from '../../domain/common.js';
import {
  BUILT_IN_CAPACITY_PROVIDERS,
  MAX_CLUSTER_CAPACITY_PROVIDERS,
  changeCapacityProvider,
  createCapacityProvider,
  deleteCapacityProvider,
  findCapacityProvider,
  isFargateProvider,
  listCapacityProviders,
} from '../../domain/ecs/capacityProviders.js';
import { ecsErrors } from '../../domain/ecs/errors.js';
import { capacityProviderArn } from '../../domain/ecs/keys.js';
import type { CapacityProviderRecord, ClusterRecord } from '../../domain/ecs/records.js';
import type { Handlers, RequestContext } from '../types.js';

const NAME_RE = /^[A-Za-z0-9_-]{1,255}$/;
const ASG_ARN_RE = /^arn:aws[\w-]*:autoscaling:[a-z0-9-]+:\d{12}:autoScalingGroup:[0-9a-f-]{36}:autoScalingGroupName\/[^\s]{1,255}$/;

/** A provider name or ARN as a name. */
function providerName(ctx: RequestContext, ref: string): string {
  const prefix = capacityProviderArn(ctx, '');
  return ref.startsWith(prefix) ? ref.slice(prefix.length) : ref;
}

function describeProvider(p: CapacityProviderRecord, includeTags: boolean): ECS.CapacityProvider {
  return {
    capacityProviderArn: p.capacityProviderArn,
    name: p.name,
    status: p.status,
    type: 'EC2_AUTOSCALING',
    autoScalingGroupProvider: p.autoScalingGroupProvider,
    updateStatus: p.updateStatus,
    updateStatusReason: p.updateStatusReason,
    tags: includeTags ? p.tags : undefined,
  };
}

function describeBuiltIn(ctx: RequestContext, name: string): ECS.CapacityProvider {
  return { capacityProviderArn: capacityProviderArn(ctx, name), name, status: 'ACTIVE', type: name as ECS.CapacityProviderType, tags: [] };
}

/** Managed scaling with ECS's defaults filled in, checked as ECS checks it. */
function checkManagedScaling(ms: ECS.ManagedScaling | undefined, current?: ECS.ManagedScaling): ECS.ManagedScaling {
  const out: ECS.ManagedScaling = {
    status: ms?.status ?? current?.status ?? 'DISABLED',
    targetCapacity: ms?.targetCapacity ?? current?.targetCapacity ?? 100,
    minimumScalingStepSize: ms?.minimumScalingStepSize ?? current?.minimumScalingStepSize ?? 1,
    maximumScalingStepSize: ms?.maximumScalingStepSize ?? current?.maximumScalingStepSize ?? 10000,
    instanceWarmupPeriod: ms?.instanceWarmupPeriod ?? current?.instanceWarmupPeriod ?? 300,
  };
  if (out.minimumScalingStepSize! > out.maximumScalingStepSize!) {
    throw ecsErrors.invalidParameter(`The managed scaling minimumScalingStepSize (${out.minimumScalingStepSize}) must not be greater than maximumScalingStepSize (${out.maximumScalingStepSize}).`);
  }
  return out;
}

function checkTerminationProtection(asg: { managedScaling: ECS.ManagedScaling; managedTerminationProtection: ECS.ManagedTerminationProtection }): void {
  if (asg.managedTerminationProtection === 'ENABLED' && asg.managedScaling.status !== 'ENABLED') {
    throw ecsErrors.invalidParameter('Managed termination protection requires managed scaling: enable managedScaling (status ENABLED) or set managedTerminationProtection to DISABLED.');
  }
}

/**
 * A capacity provider strategy as ECS checks it for a cluster: at most 20 entries, each provider
 * once and associated with the cluster, at most one with a base, at least one with a weight,
 * Fargate and Auto Scaling group providers not mixed. Returns the strategy to use: the one given,
 * else the cluster's default strategy (when the call names no launch type either), else none.
 */
export async function checkCapacityProviderStrategy(_ctx: RequestContext, cluster: ClusterRecord, strategy: ECS.CapacityProviderStrategyItem[] | undefined, opts: { defaultFromCluster?: boolean } = {}): Promise<ECS.CapacityProviderStrategyItem[] | undefined> {
  if (!strategy?.length) return opts.defaultFromCluster !== false && cluster.defaultCapacityProviderStrategy.length ? cluster.defaultCapacityProviderStrategy : undefined;
  checkStrategyShape(strategy);
  for (const i of strategy) {
    if (!cluster.capacityProviders.includes(i.capacityProvider)) {
      throw ecsErrors.invalidParameter(
        'The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.',
      );
    }
  }
  return strategy.map((i) => ({ capacityProvider: i.capacityProvider, weight: i.weight ?? 0, base: i.base ?? 0 }));
}

/** The rules on a strategy's own entries (shared with PutClusterCapacityProviders' default strategy). */
function checkStrategyShape(strategy: ECS.CapacityProviderStrategyItem[]): void {
  if (strategy.length > MAX_CLUSTER_CAPACITY_PROVIDERS) throw ecsErrors.invalidParameter(`A capacity provider strategy can contain at most ${MAX_CLUSTER_CAPACITY_PROVIDERS} capacity providers.`);
  const names = strategy.map((i) => i.capacityProvider);
  if (new Set(names).size !== names.length) throw ecsErrors.invalidParameter('A capacity provider strategy cannot contain the same capacity provider more than once.');
  if (strategy.filter((i) => (i.base ?? 0) > 0).length > 1) throw ecsErrors.invalidParameter('Only one capacity provider in a capacity provider strategy can have a base defined.');
  if (!strategy.some((i) => (i.weight ?? 0) > 0)) throw ecsErrors.invalidParameter('At least one capacity provider in a capacity provider strategy must have a weight greater than zero.');
  const fargate = names.filter(isFargateProvider).length;
  if (fargate > 0 && fargate < names.length) {
    throw ecsErrors.invalidParameter(
      'The specified capacity provider strategy cannot contain a mix of capacity providers using Auto Scaling groups and Fargate providers. Specify one or the other and try again.',
    );
  }
}

/** Checks a cluster's provider list and default strategy (CreateCluster, PutClusterCapacityProviders). */
export async function checkClusterCapacityProviders(ctx: RequestContext, providers: string[], strategy: ECS.CapacityProviderStrategyItem[]): Promise<{ providers: string[]; strategy: ECS.CapacityProviderStrategyItem[] }> {
  if (providers.length > MAX_CLUSTER_CAPACITY_PROVIDERS) throw ecsErrors.limitExceeded(`A cluster can have at most ${MAX_CLUSTER_CAPACITY_PROVIDERS} capacity providers.`);
  const names = providers.map((p) => providerName(ctx, p));
  if (new Set(names).size !== names.length) throw ecsErrors.invalidParameter('The list of capacity providers cannot contain the same capacity provider more than once.');
  for (const n of names) {
    if (isFargateProvider(n)) continue;
    const p = await findCapacityProvider(ctx, n);
    if (!p || p.status !== 'ACTIVE') throw ecsErrors.invalidParameter(`The specified capacity provider '${n}' does not exist. Create it first (CreateCapacityProvider) or use FARGATE or FARGATE_SPOT.`);
  }
  const items = strategy.map((i) => ({ capacityProvider: providerName(ctx, i.capacityProvider), weight: i.weight ?? 0, base: i.base ?? 0 }));
  if (items.length) checkStrategyShape(items);
  for (const i of items) {
    if (!names.includes(i.capacityProvider)) {
      throw ecsErrors.invalidParameter(`The default capacity provider strategy names '${i.capacityProvider}', which is not among the cluster's capacity providers.`);
    }
  }
  return { providers: names, strategy: items };
}

export const capacityProviderHandlers: Handlers<ECS.Operations> = {
  async CreateCapacityProvider(input, ctx) {
    if (!NAME_RE.test(input.name)) throw ecsErrors.invalidParameter('The capacity provider name must be 1-255 characters: letters (upper and lower case), numbers, underscores and hyphens.');
    if (/^(aws|ecs|fargate)/i.test(input.name)) throw ecsErrors.invalidParameter('The capacity provider name cannot be prefixed with "aws", "ecs", or "fargate".');
    if (input.managedInstancesProvider) throw ecsErrors.client('Berth provides Auto Scaling group capacity providers only (autoScalingGroupProvider); managed instances providers are not supported.');
    const asg = input.autoScalingGroupProvider;
    if (!asg) throw ecsErrors.invalidParameter('autoScalingGroupProvider must be specified.');
    if (asg.autoScalingGroupArn.startsWith('arn:') ? !ASG_ARN_RE.test(asg.autoScalingGroupArn) : !/^[^\s:]{1,255}$/.test(asg.autoScalingGroupArn)) {
      throw ecsErrors.invalidParameter(`The Auto Scaling group '${asg.autoScalingGroupArn}' is not a valid Auto Scaling group name or ARN (arn:aws:autoscaling:<region>:<account>:autoScalingGroup:<uuid>:autoScalingGroupName/<name>).`);
    }
    const provider = {
      autoScalingGroupArn: asg.autoScalingGroupArn,
      managedScaling: checkManagedScaling(asg.managedScaling),
      managedTerminationProtection: asg.managedTerminationProtection ?? 'DISABLED',
      managedDraining: asg.managedDraining ?? 'ENABLED',
    };
    checkTerminationProtection(provider);
    const tags = mergeTags([], input.tags ?? [], ecsErrors.invalidParameter);
    const now = ctx.platform.clock.now();
    const rec = await createCapacityProvider(ctx, {
      name: input.name,
      capacityProviderArn: capacityProviderArn(ctx, input.name),
      status: 'ACTIVE',
      autoScalingGroupProvider: provider,
      updateStatus: 'CREATE_COMPLETE',
      tags,
      createdAt: now,
      updatedAt: now,
    });
    return { capacityProvider: describeProvider(rec, true) };
  },

  async UpdateCapacityProvider(input, ctx) {
    const name = providerName(ctx, input.name);
    if (isFargateProvider(name)) throw ecsErrors.invalidParameter(`The ${name} capacity provider is built in and cannot be updated.`);
    if (!input.autoScalingGroupProvider) throw ecsErrors.invalidParameter('autoScalingGroupProvider must be specified.');
    const u = input.autoScalingGroupProvider;
    const now = ctx.platform.clock.now();
    const rec = await changeCapacityProvider(ctx, name, (cur) => {
      const next = {
        ...cur.autoScalingGroupProvider,
        managedScaling: checkManagedScaling(u.managedScaling, cur.autoScalingGroupProvider.managedScaling),
        managedTerminationProtection: u.managedTerminationProtection ?? cur.autoScalingGroupProvider.managedTerminationProtection ?? 'DISABLED',
        managedDraining: u.managedDraining ?? cur.autoScalingGroupProvider.managedDraining,
      };
      checkTerminationProtection(next);
      return { ...cur, autoScalingGroupProvider: next, updateStatus: 'UPDATE_COMPLETE', updatedAt: now };
    });
    return { capacityProvider: describeProvider(rec, false) };
  },

  async DeleteCapacityProvider(input, ctx) {
    const name = providerName(ctx, input.capacityProvider);
    if (isFargateProvider(name)) throw ecsErrors.invalidParameter(`The ${name} capacity provider is built in and cannot be deleted.`);
    return { capacityProvider: describeProvider(await deleteCapacityProvider(ctx, name), false) };
  },

  async DescribeCapacityProviders(input, ctx) {
    const tags = input.include?.includes('TAGS') ?? false;
    if (input.capacityProviders?.length) {
      if (input.capacityProviders.length > 100) throw ecsErrors.invalidParameter('At most 100 capacity providers can be described at once.');
      const capacityProviders: ECS.CapacityProvider[] = [];
      const failures: ECS.Failure[] = [];
      for (const ref of input.capacityProviders) {
        const name = providerName(ctx, ref);
        const p = isFargateProvider(name) ? undefined : await findCapacityProvider(ctx, name);
        if (isFargateProvider(name)) capacityProviders.push(describeBuiltIn(ctx, name));
        else if (p) capacityProviders.push(describeProvider(p, tags));
        else failures.push({ arn: ref.startsWith('arn:') ? ref : capacityProviderArn(ctx, ref), reason: 'MISSING' });
      }
      return { capacityProviders, failures };
    }
    const maxResults = input.maxResults ?? 10;
    if (maxResults < 1 || maxResults > 10) throw ecsErrors.invalidParameter('maxResults must be between 1 and 10.');
    const all = [
      ...BUILT_IN_CAPACITY_PROVIDERS.map((n) => ({ key: `0/${n}`, value: describeBuiltIn(ctx, n) })),
      ...(await listCapacityProviders(ctx)).filter((p) => p.status === 'ACTIVE').map((p) => ({ key: `1/${p.name}`, value: describeProvider(p, tags) })),
    ];
    const after = decodeToken(input.nextToken, ecsErrors.invalidToken);
    const rest = after === undefined ? all : all.filter((x) => x.key > after);
    const page = rest.slice(0, maxResults);
    return { capacityProviders: page.map((x) => x.value), failures: [], nextToken: rest.length > maxResults ? encodeToken(page[page.length - 1]!.key) : undefined };
  },
};
