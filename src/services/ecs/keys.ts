/**
 * Where ECS records live in the store and how their ARNs are written. Every ECS kind is keyed
 * by region first, so regions are separate as on AWS.
 */
import { arn, parseArn } from '../common.js';
import type { RequestContext } from '../types.js';

export const KIND = {
  cluster: 'ecs.cluster',
} as const;

export function clusterKey(region: string, name: string): string {
  return `${region}/${name}`;
}

export function clusterArn(ctx: RequestContext, name: string): string {
  return arn('ecs', ctx.region, ctx.platform.accountId, `cluster/${name}`);
}

/**
 * Resolves the `cluster` parameter of any ECS call (a name, an ARN, or absent for "default")
 * to a cluster name. ARNs of another region or account name no cluster here.
 */
export function clusterNameOf(ctx: RequestContext, ref: string | undefined): string {
  if (!ref) return 'default';
  if (!ref.startsWith('arn:')) return ref;
  const p = parseArn(ref);
  if (!p || p.service !== 'ecs' || !p.resource.startsWith('cluster/')) return ref;
  if (p.region !== ctx.region || p.accountId !== ctx.platform.accountId) return `\u0000foreign:${ref}`;
  return p.resource.slice('cluster/'.length);
}
