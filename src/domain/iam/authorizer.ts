/**
 * Decides whether a caller may perform an action on a resource: gathers the policies that apply
 * to the caller (a user's own and its groups' managed and inline policies and its permissions
 * boundary; a role session's role policies, boundary and session policies), evaluates them with
 * the request's context keys (./policy/evaluate.ts), and says AWS's access-denied message.
 *
 * The root user may do everything. The policies of each principal are cached, compiled, until
 * any IAM record changes (the store's change feed, which other replicas' writes reach too), so a
 * request pays for evaluation only, not for reads or parsing.
 */
import { ServiceError } from '../../errors.js';
import type { Platform } from '../platform.js';
import type { Change } from '../../store/types.js';
import { compilePolicy, type CompiledPolicy, type PolicyKind } from './policy/document.js';
import { evaluate, accessDeniedMessage, type ApplicablePolicies, type AuthzRequest, type Decision } from './policy/evaluate.js';
import type { ContextKeys } from './policy/conditions.js';
import type { CallerPrincipal } from './credentials.js';
import { awsManagedPolicy } from './awsManaged.js';
import { KINDS, KIND_PREFIX, type GroupRecord, type ManagedPolicyRecord, type PolicyHolder, type RoleRecord, type Tag, type UserRecord } from './records.js';

/** One question for the authorizer. */
export interface AccessQuestion {
  /** `service:Action`. */
  action: string;
  /** Resource ARN or `*`. */
  resource: string;
  /** Request-specific context keys (lower-case names), added to the caller's. */
  keys?: Record<string, string[]>;
  /** The resource's own policy (a trust policy for sts:AssumeRole), when it has one. */
  resourcePolicy?: CompiledPolicy;
}

interface PrincipalPolicies {
  policies: ApplicablePolicies;
  tags: Tag[];
}

/** Largest number of compiled documents kept in memory. */
const MAX_COMPILED = 5_000;

export class Authorizer {
  private readonly compiled = new Map<string, CompiledPolicy>();
  private readonly byPrincipal = new Map<string, Promise<PrincipalPolicies>>();
  private unwatch: (() => void) | undefined;
  private policyGeneration = 0;

  constructor(private readonly platform: Platform) {}

  /** Starts following the change feed: any IAM change empties the per-principal cache. */
  async start(): Promise<void> {
    const rev = await this.platform.store.revision();
    this.unwatch = this.platform.store.watch(rev, (c: Change) => {
      if (c.kind.startsWith(KIND_PREFIX) && c.kind !== KINDS.accessKey && c.kind !== KINDS.session) {
        this.byPrincipal.clear();
        this.policyGeneration++;
      }
    });
  }

  /** Changes whenever any principal's policies may have changed (callers caching decisions key them on it). */
  generation(): number {
    return this.policyGeneration;
  }

  stop(): void {
    this.unwatch?.();
  }

  /** Compiles a document once (documents are immutable text: the text is the cache key). */
  compile(text: string, kind: PolicyKind = 'identity'): CompiledPolicy {
    const key = `${kind}\u0000${text}`;
    let c = this.compiled.get(key);
    if (!c) {
      c = compilePolicy(text, kind);
      if (this.compiled.size >= MAX_COMPILED) this.compiled.clear();
      this.compiled.set(key, c);
    }
    return c;
  }

  /** The decision for one question (root: always allowed). */
  async decide(caller: CallerPrincipal, q: AccessQuestion): Promise<Decision & { request: AuthzRequest }> {
    const request = await this.request(caller, q);
    if (caller.kind === 'root') return { allowed: true, reason: 'identity-allow', request };
    // Agents hold no IAM policies: what they may do is fixed (src/services/agentAccess.ts).
    if (caller.kind === 'agent') return { allowed: false, reason: 'no-identity-allow', request };
    const { policies } = await this.policiesOf(caller);
    return { ...evaluate(request, { ...policies, resource: q.resourcePolicy }), request };
  }

  /** Throws AWS's access-denied error (code per caller's protocol) unless the caller may. */
  async check(caller: CallerPrincipal, q: AccessQuestion, code = 'AccessDeniedException'): Promise<void> {
    const d = await this.decide(caller, q);
    if (!d.allowed) throw new ServiceError(code, accessDeniedMessage(d.request, d.reason), code === 'AccessDenied' ? 403 : 400);
  }

  /** The request with the caller's context keys (aws:PrincipalArn, aws:username, principal tags...). */
  async request(caller: CallerPrincipal, q: AccessQuestion): Promise<AuthzRequest> {
    const keys = new Map<string, string[]>();
    keys.set('aws:principalarn', [caller.kind === 'assumed-role' ? caller.roleArn! : caller.arn]);
    keys.set('aws:principalaccount', [caller.accountId]);
    keys.set('aws:principaltype', [caller.kind === 'root' ? 'Account' : caller.kind === 'user' ? 'User' : caller.kind === 'agent' ? 'BerthAgent' : 'AssumedRole']);
    keys.set('aws:userid', [caller.userId]);
    if (caller.userName) keys.set('aws:username', [caller.userName]);
    if (caller.kind !== 'root' && caller.kind !== 'agent') {
      const { tags } = await this.policiesOf(caller);
      for (const t of tags) keys.set(`aws:principaltag/${t.Key.toLowerCase()}`, [t.Value]);
    }
    for (const [k, v] of Object.entries(q.keys ?? {})) keys.set(k.toLowerCase(), v);
    const ctx: ContextKeys = keys;
    return { principal: { arn: caller.arn, accountId: caller.accountId, roleArn: caller.roleArn }, action: q.action, resource: q.resource, keys: ctx };
  }

  private policiesOf(caller: CallerPrincipal): Promise<PrincipalPolicies> {
    const key = caller.kind === 'assumed-role' ? `role:${caller.roleName}:${caller.accessKeyId}` : `user:${caller.userName}`;
    let p = this.byPrincipal.get(key);
    if (!p) {
      p = this.load(caller);
      if (this.byPrincipal.size > 10_000) this.byPrincipal.clear();
      this.byPrincipal.set(key, p);
      p.catch(() => this.byPrincipal.delete(key));
    }
    return p;
  }

  private async load(caller: CallerPrincipal): Promise<PrincipalPolicies> {
    const store = this.platform.store;
    const holders: PolicyHolder[] = [];
    let boundaryArn: string | undefined;
    let tags: Tag[] = [];
    if (caller.kind === 'assumed-role') {
      const role = (await store.get<RoleRecord>(KINDS.role, caller.roleName!))?.value;
      if (role) {
        holders.push(role);
        boundaryArn = role.boundary;
        const session = new Map((caller.sessionTags ?? []).map((t) => [t.Key.toLowerCase(), t]));
        tags = [...role.tags.filter((t) => !session.has(t.Key.toLowerCase())), ...session.values()];
      }
    } else if (caller.userName) {
      const user = (await store.get<UserRecord>(KINDS.user, caller.userName))?.value;
      if (user) {
        holders.push(user);
        boundaryArn = user.boundary;
        tags = user.tags;
        const groups = await store.getMany<GroupRecord>(KINDS.group, user.groups);
        for (const g of groups) if (g) holders.push(g.value);
      }
    }
    const identity: CompiledPolicy[] = [];
    for (const h of holders) {
      for (const doc of Object.values(h.inline)) identity.push(this.compile(doc));
      for (const arn of h.attached) {
        const doc = await this.managedDocument(arn);
        if (doc) identity.push(this.compile(doc));
      }
    }
    const boundaryDoc = boundaryArn ? await this.managedDocument(boundaryArn) : undefined;
    const session = caller.sessionPolicies?.length ? caller.sessionPolicies.map((d) => this.compile(d)) : undefined;
    return { policies: { identity, boundary: boundaryDoc ? this.compile(boundaryDoc) : undefined, session }, tags };
  }

  /** The default version's document of a managed policy (undefined if it is gone). */
  async managedDocument(arn: string): Promise<string | undefined> {
    const p = awsManagedPolicy(arn) ?? (await this.platform.store.get<ManagedPolicyRecord>(KINDS.policy, arn))?.value;
    return p?.versions.find((v) => v.versionId === p.defaultVersionId)?.document;
  }
}
