/**
 * `/v2/` requests of IAM users and role sessions, authorized as AWS authorizes registry calls
 * made with an ECR token: as the principal whose key asked for the password, for the ECR action
 * each request stands for, on the repository's ARN, with the repository policy as the resource
 * policy (identity policies, permissions boundary, session policies; an explicit deny wins). The
 * decision is the API's (src/domain/iam/authorizer.ts: policies cached per principal until IAM
 * changes, repository policies compiled once per text), and is reused for the same question for
 * up to a second while no IAM record and not the repository changed. A denied request is
 * `DENIED` (403) with AWS's access-denied message.
 *
 * | request | action |
 * | --- | --- |
 * | `GET /v2/` | none (a valid password is enough) |
 * | `GET /v2/_catalog` | `ecr:DescribeRepositories` on `repository/*` |
 * | `GET tags/list` | `ecr:ListImages` |
 * | `GET`/`HEAD` manifest, `GET` referrers | `ecr:BatchGetImage` |
 * | `GET` blob | `ecr:GetDownloadUrlForLayer` |
 * | `HEAD` blob | `ecr:BatchCheckLayerAvailability` or `ecr:GetDownloadUrlForLayer` (pushes ask it; pulls may) |
 * | `POST` uploads (and mounts) | `ecr:InitiateLayerUpload` |
 * | `PATCH`, `GET`, `DELETE` an upload | `ecr:UploadLayerPart` |
 * | `PUT` an upload | `ecr:CompleteLayerUpload` |
 * | `PUT` manifest | `ecr:PutImage` |
 * | `DELETE` manifest or blob | `ecr:BatchDeleteImage` |
 */
import type { CallerPrincipal } from '../domain/iam/credentials.js';
import type { Scope } from '../domain/platform.js';
import type { RegistryAccess } from '../domain/ecr/registry.js';
import { findRepository } from '../domain/ecr/repositories.js';
import { accessDeniedMessage } from '../domain/iam/policy/evaluate.js';
import type { CompiledPolicy } from '../domain/iam/policy/document.js';
import { OciFailure } from './errors.js';
import type { Route } from './paths.js';

/** What the request is, as IAM sees it: the actions any one of which allows it, on which resource. */
export interface RegistryActions {
  actions: string[];
  /** The repository's name (undefined: the registry as a whole). */
  repository?: string;
}

/** The ECR action(s) a `/v2/` request stands for (see the table in the file's comment); undefined: none needed. */
export function registryActionsOf(route: Route, method: string): RegistryActions | undefined {
  const ecr = (...names: string[]) => names.map((n) => `ecr:${n}`);
  switch (route.kind) {
    case 'base':
      return undefined;
    case 'catalog':
      return { actions: ecr('DescribeRepositories') };
    case 'tags':
      return { actions: ecr('ListImages'), repository: route.name };
    case 'referrers':
      return { actions: ecr('BatchGetImage'), repository: route.name };
    case 'manifest':
      if (method === 'PUT') return { actions: ecr('PutImage'), repository: route.name };
      if (method === 'DELETE') return { actions: ecr('BatchDeleteImage'), repository: route.name };
      return { actions: ecr('BatchGetImage'), repository: route.name };
    case 'blob':
      if (method === 'DELETE') return { actions: ecr('BatchDeleteImage'), repository: route.name };
      if (method === 'HEAD') return { actions: ecr('BatchCheckLayerAvailability', 'GetDownloadUrlForLayer'), repository: route.name };
      return { actions: ecr('GetDownloadUrlForLayer'), repository: route.name };
    case 'uploads':
      return { actions: ecr('InitiateLayerUpload'), repository: route.name };
    case 'upload':
      return { actions: ecr(method === 'PUT' ? 'CompleteLayerUpload' : 'UploadLayerPart'), repository: route.name };
  }
}

/** Where the request came from, for the global condition keys. */
export interface RequestOrigin {
  sourceIp?: string;
  secureTransport: boolean;
}

/**
 * Throws `DENIED` (403) unless the user or role session `principal` may make this request; root
 * and agents are not asked here (root may do everything; agents: ./access.ts).
 */
export async function authorizeAsPrincipal(s: Scope, access: RegistryAccess, principal: CallerPrincipal, route: Route, method: string, origin: RequestOrigin): Promise<void> {
  if (principal.kind !== 'user' && principal.kind !== 'assumed-role') return;
  const wanted = registryActionsOf(route, method);
  if (!wanted) return;
  const arnBase = `arn:aws:ecr:${s.region}:${s.platform.accountId}:repository/`;
  const resource = arnBase + (wanted.repository ?? '*');
  const repo = wanted.repository !== undefined ? await findRepository(s, wanted.repository) : undefined;
  const now = s.platform.clock.now();
  const keys: Record<string, string[]> = {
    'aws:currenttime': [new Date(now).toISOString()],
    'aws:epochtime': [String(Math.floor(now / 1000))],
    'aws:securetransport': [origin.secureTransport ? 'true' : 'false'],
    'aws:requestedregion': [s.region],
    ...(origin.sourceIp ? { 'aws:sourceip': [origin.sourceIp] } : {}),
  };
  const cache = cacheOf(access);
  let first: Decided | undefined;
  for (const action of wanted.actions) {
    const key = [principal.accessKeyId, action, resource, repo?.rev ?? 0, origin.sourceIp ?? '', origin.secureTransport].join('\u0000');
    // Read before deciding: a change during the decision leaves the entry stale-marked.
    const generation = access.generation();
    let d = cache.get(key, generation, now);
    if (!d) {
      d = await access.decide(principal, { action, resource, keys, resourcePolicy: compiled(access, repo?.value.policy) });
      cache.set(key, d, generation, now);
    }
    if (d.allowed) return;
    first ??= d;
  }
  throw new OciFailure('DENIED', accessDeniedMessage(first!.request, first!.reason), 403);
}

type Decided = Awaited<ReturnType<RegistryAccess['decide']>>;

/** How long a decision is reused (bounds how stale aws:CurrentTime may be in a reused one). */
const DECISION_TTL_MS = 1000;
/** Most decisions kept. */
const MAX_DECISIONS = 10_000;

/**
 * Decisions reused for the same key, repository policy revision, address and question while the
 * authorizer's policy generation is unchanged (any IAM change bumps it), for at most a second.
 * Keys and sessions are resolved before (a deleted key or expired session never reaches it).
 */
class DecisionCache {
  private readonly entries = new Map<string, { d: Decided; generation: number; at: number }>();

  get(key: string, generation: number, now: number): Decided | undefined {
    const e = this.entries.get(key);
    return e && e.generation === generation && now - e.at < DECISION_TTL_MS && now >= e.at ? e.d : undefined;
  }

  set(key: string, d: Decided, generation: number, now: number): void {
    if (this.entries.size >= MAX_DECISIONS) this.entries.clear();
    this.entries.set(key, { d, generation, at: now });
  }
}

const caches = new WeakMap<RegistryAccess, DecisionCache>();

function cacheOf(access: RegistryAccess): DecisionCache {
  let c = caches.get(access);
  if (!c) caches.set(access, (c = new DecisionCache()));
  return c;
}

/** A repository policy, compiled (none when absent or when it does not compile). */
function compiled(access: RegistryAccess, text: string | undefined): CompiledPolicy | undefined {
  if (!text) return undefined;
  try {
    return access.compile(text, 'resource');
  } catch {
    return undefined;
  }
}
