/**
 * ECS tagging (TagResource, UntagResource, ListTagsForResource) for every taggable ECS
 * resource. Each resource module registers how to find its record from an ARN.
 */
import type * as ECS from '../../generated/ecs.js';
import { mergeTags, parseArn } from '../common.js';
import type { Handlers, RequestContext } from '../types.js';
import { ecsErrors } from './errors.js';
import { ConflictError } from '../../store/types.js';
import { KIND, clusterKey } from './keys.js';

/** Maps the resource part of an ECS ARN (e.g. `cluster/demo`) to its store location. */
export type TagLocator = (ctx: RequestContext, resource: string) => { kind: string; key: string } | undefined;

const locators: TagLocator[] = [
  (ctx, resource) => (resource.startsWith('cluster/') ? { kind: KIND.cluster, key: clusterKey(ctx.region, resource.slice(8)) } : undefined),
];

/** Adds a resource type to ECS tagging. */
export function registerTagLocator(l: TagLocator): void {
  locators.push(l);
}

interface Tagged {
  tags?: ECS.Tag[];
  status?: string;
}

async function locate(ctx: RequestContext, resourceArn: string): Promise<{ kind: string; key: string; rev: number; value: Tagged }> {
  const p = parseArn(resourceArn);
  if (!p || p.service !== 'ecs') throw ecsErrors.invalidParameter(`Invalid resource ARN '${resourceArn}': expected arn:aws:ecs:<region>:<account>:<type>/<name>.`);
  if (p.region !== ctx.region || p.accountId !== ctx.platform.accountId) throw ecsErrors.resourceNotFound();
  for (const l of locators) {
    const loc = l(ctx, p.resource);
    if (!loc) continue;
    const rec = await ctx.platform.store.get<Tagged>(loc.kind, loc.key);
    if (!rec || rec.value.status === 'INACTIVE' && loc.kind === KIND.cluster) {
      throw loc.kind === KIND.cluster ? ecsErrors.clusterNotFound() : ecsErrors.resourceNotFound();
    }
    return { ...loc, rev: rec.rev, value: rec.value };
  }
  throw ecsErrors.invalidParameter(`Unsupported resource type in ARN '${resourceArn}'.`);
}

async function modifyTags(ctx: RequestContext, resourceArn: string, fn: (tags: ECS.Tag[]) => ECS.Tag[]): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const loc = await locate(ctx, resourceArn);
    try {
      await ctx.platform.store.commit([{ kind: loc.kind, key: loc.key, value: { ...loc.value, tags: fn(loc.value.tags ?? []) }, expectRev: loc.rev }]);
      return;
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }
  }
}

export const tagHandlers: Handlers<ECS.Operations> = {
  async TagResource(input, ctx) {
    await modifyTags(ctx, input.resourceArn, (tags) => mergeTags(tags, input.tags, ecsErrors.invalidParameter));
    return {};
  },
  async UntagResource(input, ctx) {
    const drop = new Set(input.tagKeys);
    await modifyTags(ctx, input.resourceArn, (tags) => tags.filter((t) => !drop.has(t.key!)));
    return {};
  },
  async ListTagsForResource(input, ctx) {
    const loc = await locate(ctx, input.resourceArn);
    return { tags: loc.value.tags ?? [] };
  },
};
