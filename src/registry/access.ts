/**
 * Who a registry password acts for, beyond "the account". A password from GetAuthorizationToken
 * names the access key that asked for it (src/domain/ecr/authToken.ts); the front resolves that
 * key (it must still be active) and, for an agent's key (src/domain/iam/agents.ts), allows only
 * what an agent needs to run its own tasks: the `/v2/` check and pulls (manifests and blobs, GET
 * and HEAD) of the repositories named by the images of the tasks placed on its container
 * instance. Pushes, deletes, uploads, tag lists and the catalog are refused with `DENIED` (403).
 * Root's passwords reach everything; those of users and role sessions are authorized request by
 * request as ECR actions (./iamAccess.ts).
 */
import type { CallerPrincipal } from '../domain/iam/credentials.js';
import type { Scope } from '../domain/platform.js';
import { containerInstanceArn } from '../domain/ecs/keys.js';
import { tasksForInstance } from '../domain/ecs/liveIndex.js';
import { findTaskDefinition } from '../domain/ecs/taskDefinitions.js';
import type { Registry } from '../domain/ecr/registry.js';
import { OciFailure } from './errors.js';
import type { Route } from './paths.js';

/** The repository of this registry an image reference names (`<host>/<name>[:tag][@digest]`), or undefined. */
export function repositoryOfImage(image: string, registryAddress: string, accountId: string): string | undefined {
  const ref = image.split('@')[0]!;
  const slash = ref.indexOf('/');
  if (slash <= 0) return undefined;
  const host = ref.slice(0, slash).toLowerCase();
  if (host !== registryAddress.toLowerCase() && !host.startsWith(`${accountId}.dkr.ecr.`)) return undefined;
  let name = ref.slice(slash + 1);
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) name = name.slice(0, colon);
  return name || undefined;
}

/** The repositories of the images of the tasks on an agent's container instance. */
async function repositoriesOfAgent(s: Scope, reg: Registry, agent: NonNullable<CallerPrincipal['agent']>): Promise<Set<string>> {
  const names = new Set<string>();
  if (!agent.containerInstanceId || agent.region !== s.region) return names;
  const own = containerInstanceArn(s, agent.cluster, agent.containerInstanceId);
  for (const t of await tasksForInstance(s, agent.cluster, own)) {
    const td = await findTaskDefinition(s, t.taskDefinitionArn);
    for (const c of td?.value.taskDefinition.containerDefinitions ?? []) {
      const name = c.image ? repositoryOfImage(c.image, reg.settings.address(), s.platform.accountId) : undefined;
      if (name) names.add(name);
    }
  }
  return names;
}

/** Throws `DENIED` (403) unless `principal` may make this request (see the file's comment). */
export async function authorizeRegistryRequest(s: Scope, reg: Registry, principal: CallerPrincipal, route: Route, method: string): Promise<void> {
  if (principal.kind !== 'agent' || !principal.agent) return;
  if (route.kind === 'base') return;
  const pull = (route.kind === 'manifest' || route.kind === 'blob') && (method === 'GET' || method === 'HEAD');
  const name = 'name' in route ? route.name : undefined;
  const deny = (why: string): never => {
    throw new OciFailure('DENIED', `User: ${principal.arn} is not authorized to ${pull ? 'pull from' : `${method} ${route.kind} of`} ${name ? `repository ${name.slice(0, 256)}` : 'this registry'}: ${why}`, 403);
  };
  if (!pull || name === undefined) return deny('an agent\'s registry password only pulls the images of its own tasks');
  if (!(await repositoriesOfAgent(s, reg, principal.agent)).has(name)) return deny('no task on its container instance runs an image of that repository');
}
