/**
 * Tags of every taggable ECS resource (clusters, task definitions, services, tasks, container
 * instances), found from the resource's ARN.
 */
import type * as ECS from '../../generated/ecs.js';
import { parseArn } from '../common.js';
import { retrying } from '../mutate.js';
import { ecsErrors } from './errors.js';
import { KIND, clusterKey, clusterScopedKey, taskDefinitionKey, type Scope } from './keys.js';

/** Maps the resource part of an ECS ARN (e.g. `cluster/demo`) to its store location. */
type TagLocator = (ctx: Scope, resource: string) => { kind: string; key: string } | undefined;

const NAME = '[A-Za-z0-9_-]{1,255}';
const TASK_DEFINITION_RE = new RegExp(`^task-definition/(${NAME}):(\\d{1,10})$`);

function clusterScoped(type: string, kind: string): TagLocator {
  const re = new RegExp(`^${type}/(${NAME})/(${NAME})$`);
  return (ctx, resource) => {
    const m = re.exec(resource);
    return m ? { kind, key: clusterScopedKey(ctx.region, m[1]!, m[2]!) } : undefined;
  };
}

const locators: TagLocator[] = [
  (ctx, resource) => (resource.startsWith('cluster/') ? { kind: KIND.cluster, key: clusterKey(ctx.region, resource.slice(8)) } : undefined),
  (ctx, resource) => {
    const m = TASK_DEFINITION_RE.exec(resource);
    return m ? { kind: KIND.taskDefinition, key: taskDefinitionKey(ctx.region, m[1]!, Number(m[2])) } : undefined;
  },
  clusterScoped('service', KIND.service),
  clusterScoped('task', KIND.task),
  clusterScoped('container-instance', KIND.containerInstance),
];

interface Tagged {
  tags?: ECS.Tag[];
  status?: string;
}

async function locate(ctx: Scope, resourceArn: string): Promise<{ kind: string; key: string; rev: number; value: Tagged }> {
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

/** The tags of the resource an ECS ARN names (ClusterNotFoundException / ResourceNotFoundException if it does not exist). */
export async function resourceTags(ctx: Scope, resourceArn: string): Promise<ECS.Tag[]> {
  return (await locate(ctx, resourceArn)).value.tags ?? [];
}

/** Replaces a resource's tags with what `fn` makes of them (which may throw to refuse). */
export async function changeResourceTags(ctx: Scope, resourceArn: string, fn: (tags: ECS.Tag[]) => ECS.Tag[]): Promise<void> {
  await retrying(`Resource ${resourceArn}`, async () => {
    const loc = await locate(ctx, resourceArn);
    await ctx.platform.store.commit([{ kind: loc.kind, key: loc.key, value: { ...loc.value, tags: fn(loc.value.tags ?? []) }, expectRev: loc.rev }]);
  });
}

