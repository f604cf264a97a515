/**
 * Credentials and who they belong to: IAM users' access keys, STS sessions (AssumeRole,
 * GetSessionToken), and the directory the gateway asks "whose key is this, and what is its
 * secret" for every signed request.
 *
 * Secrets are sealed under the master key in the store (AAD `iam:key:<id>` / `iam:session:<id>`)
 * and opened only in memory. A session's token is stored as its SHA-256: a request with a
 * session key must carry the token (`X-Amz-Security-Token`), and an expired session is refused.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ServiceError } from '../../errors.js';
import { mutate, retrying } from '../mutate.js';
import type { Platform, Scope } from '../platform.js';
import type { MasterKey } from '../ssm/masterKey.js';
import type { Change } from '../../store/types.js';
import { AGENT_KEY_PREFIX, AGENT_KINDS, JOIN_TOKEN_PREFIX, type AgentKeyRecord, type JoinTokenRecord } from './agents.js';
import { KINDS, MAX_ACCESS_KEYS, iamErrors, iamId, secretKey, type AccessKeyRecord, type RoleRecord, type SessionRecord, type Tag, type UserRecord } from './records.js';

/** The caller of a request, as IAM sees it. */
export interface CallerPrincipal {
  kind: 'root' | 'user' | 'assumed-role' | 'agent';
  arn: string;
  accountId: string;
  /** What GetCallerIdentity returns as UserId (`AIDA...`, `AROA...:session`, or the account id for root). */
  userId: string;
  accessKeyId: string;
  /** For users (and their GetSessionToken sessions). */
  userName?: string;
  /** For role sessions. */
  roleName?: string;
  roleArn?: string;
  sessionName?: string;
  /** Session policies of a role session (JSON documents). */
  sessionPolicies?: string[];
  /** Session tags (they take precedence over the role's tags as aws:PrincipalTag). */
  sessionTags?: Tag[];
  /** When temporary credentials stop working (ISO time). */
  expiration?: string;
  /**
   * For kind `agent`: the cluster it belongs to, and the container instance it acts as (absent
   * for a join token, whose only power is `Join`). See ./agents.ts and src/services/agentAccess.ts.
   */
  agent?: { region: string; cluster: string; containerInstanceId?: string };
}

/** A known access key: the secret to verify a signature with, and whose it is. */
export interface ResolvedKey {
  secret: string;
  principal: CallerPrincipal;
  /** For session credentials: the token the request must carry (compared as SHA-256). */
  tokenHash?: string;
  /** Inactive user keys and expired sessions are known but refused with this error. */
  refused?: ServiceError;
}

/** Shortest and longest session lifetimes STS grants, in seconds. */
export const SESSION_SECONDS = { min: 900, default: 3600, max: 43200 } as const;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

// --- access keys ------------------------------------------------------------------------------

export async function createAccessKey(s: Scope, master: MasterKey, userName: string): Promise<AccessKeyRecord & { secret: string }> {
  const secret = secretKey();
  const accessKeyId = iamId('AKIA');
  const rec: AccessKeyRecord = { accessKeyId, userName, status: 'Active', created: new Date(s.platform.clock.now()).toISOString(), sealedSecret: master.seal(`iam:key:${accessKeyId}`, secret) };
  await retrying(`user ${userName}`, async () => {
    const user = await s.platform.store.get<UserRecord>(KINDS.user, userName);
    if (!user) throw iamErrors.noSuchEntity(`user with name ${userName}`);
    const mine = (await s.platform.store.list<AccessKeyRecord>(KINDS.accessKey, { limit: 10_000 })).filter((k) => k.value.userName === userName);
    if (mine.length >= MAX_ACCESS_KEYS) throw iamErrors.limit(`Cannot exceed quota for AccessKeysPerUser: ${MAX_ACCESS_KEYS}`);
    // The user's record is guarded: a key is never created for a user deleted meanwhile.
    await s.platform.store.commit([{ kind: KINDS.accessKey, key: accessKeyId, value: rec, expectRev: 0 }], [{ kind: KINDS.user, key: userName, rev: user.rev }]);
  });
  return { ...rec, secret };
}

export async function listAccessKeys(s: Scope, userName: string): Promise<AccessKeyRecord[]> {
  if (!(await s.platform.store.get(KINDS.user, userName))) throw iamErrors.noSuchEntity(`user with name ${userName}`);
  return (await s.platform.store.list<AccessKeyRecord>(KINDS.accessKey, { limit: 10_000 })).map((r) => r.value).filter((k) => k.userName === userName);
}

async function changeKey(s: Scope, accessKeyId: string, userName: string | undefined, change: (k: AccessKeyRecord) => AccessKeyRecord | null): Promise<void> {
  await mutate<AccessKeyRecord>(s.platform.store, KINDS.accessKey, accessKeyId, (k) => {
    if (!k || (userName !== undefined && k.userName !== userName)) throw iamErrors.noSuchEntity(`Access Key with id ${accessKeyId}`);
    return change(k);
  });
}

export async function updateAccessKey(s: Scope, accessKeyId: string, userName: string | undefined, status: 'Active' | 'Inactive'): Promise<void> {
  await changeKey(s, accessKeyId, userName, (k) => ({ ...k, status }));
}

export async function deleteAccessKey(s: Scope, accessKeyId: string, userName: string | undefined): Promise<void> {
  await changeKey(s, accessKeyId, userName, () => null);
}

export async function getAccessKey(s: Scope, accessKeyId: string): Promise<AccessKeyRecord> {
  const r = await s.platform.store.get<AccessKeyRecord>(KINDS.accessKey, accessKeyId);
  if (!r) throw new ServiceError('AccessDenied', `The access key ${accessKeyId.slice(0, 32)} does not exist in this account.`, 403);
  return r.value;
}

// --- sessions ---------------------------------------------------------------------------------

/** Temporary credentials as STS returns them. */
export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: string;
}

/** Stores a new session and returns its credentials; expired sessions are swept on the way. */
export async function issueSession(s: Scope, master: MasterKey, seconds: number, fields: Omit<SessionRecord, 'accessKeyId' | 'sealedSecret' | 'tokenHash' | 'expiration'>): Promise<IssuedCredentials> {
  const accessKeyId = iamId('ASIA');
  const secret = secretKey();
  const token = randomBytes(96).toString('base64');
  const expiration = new Date(s.platform.clock.now() + seconds * 1000).toISOString();
  const rec: SessionRecord = { ...fields, accessKeyId, sealedSecret: master.seal(`iam:session:${accessKeyId}`, secret), tokenHash: sha256(token), expiration };
  await s.platform.store.commit([{ kind: KINDS.session, key: accessKeyId, value: rec, expectRev: 0 }]);
  await sweepExpiredSessions(s.platform);
  return { accessKeyId, secretAccessKey: secret, sessionToken: token, expiration };
}

/** Deletes sessions that expired (at most 500 a call). */
export async function sweepExpiredSessions(p: Platform): Promise<number> {
  const now = p.clock.now();
  const expired = (await p.store.list<SessionRecord>(KINDS.session, { limit: 10_000 })).filter((r) => Date.parse(r.value.expiration) <= now).slice(0, 500);
  let n = 0;
  for (const r of expired) {
    try {
      await p.store.commit([{ kind: r.kind, key: r.key, value: null, expectRev: r.rev }]);
      n++;
    } catch {
      /* changed meanwhile: the next sweep sees it */
    }
  }
  return n;
}

/** Whether a presented session token is the session's (constant time). */
export function tokenMatches(resolved: ResolvedKey, presented: string | undefined): boolean {
  if (!resolved.tokenHash) return presented === undefined || presented === '';
  if (!presented) return false;
  return timingSafeEqual(Buffer.from(sha256(presented), 'hex'), Buffer.from(resolved.tokenHash, 'hex'));
}

// --- the directory the gateway asks -----------------------------------------------------------

/**
 * Resolves access key ids to secrets and principals: the root key (from the data dir's
 * credentials), users' keys and STS sessions (from the store, opened with the master key).
 * Resolved keys are cached in memory and dropped when their record changes (the store's change
 * feed, which other replicas' writes reach too); a miss reads the store.
 */
export class CredentialDirectory {
  private readonly cache = new Map<string, ResolvedKey | null>();
  private unwatch: (() => void) | undefined;

  constructor(
    private readonly platform: Platform,
    private readonly master: MasterKey,
    private readonly root: { accessKeyId: string; secretAccessKey: string },
  ) {}

  /** Starts following the change feed (call once; `stop` ends it). */
  async start(): Promise<void> {
    const rev = await this.platform.store.revision();
    this.unwatch = this.platform.store.watch(rev, (c: Change) => {
      if (c.kind === KINDS.accessKey || c.kind === KINDS.session || c.kind === AGENT_KINDS.agentKey || c.kind === AGENT_KINDS.joinToken) this.cache.delete(c.key);
      else if (c.kind === KINDS.user || c.kind === KINDS.role) this.cache.clear();
    });
  }

  stop(): void {
    this.unwatch?.();
  }

  /** The root principal. */
  rootPrincipal(): CallerPrincipal {
    const acct = this.platform.accountId;
    return { kind: 'root', arn: `arn:aws:iam::${acct}:root`, accountId: acct, userId: acct, accessKeyId: this.root.accessKeyId };
  }

  /** The key, from memory only (undefined: not loaded yet, call `load`). */
  cached(accessKeyId: string): ResolvedKey | null | undefined {
    if (accessKeyId === this.root.accessKeyId) return { secret: this.root.secretAccessKey, principal: this.rootPrincipal() };
    const hit = this.cache.get(accessKeyId);
    if (hit?.principal.expiration && Date.parse(hit.principal.expiration) <= this.platform.clock.now()) {
      return { ...hit, refused: new ServiceError('ExpiredToken', 'The security token included in the request is expired', 400) };
    }
    return hit;
  }

  /** Loads a key into memory (null when no such key exists). */
  async load(accessKeyId: string): Promise<ResolvedKey | null> {
    const known = this.cached(accessKeyId);
    if (known !== undefined) return known;
    if (accessKeyId.length > 128) return null;
    const resolved = accessKeyId.startsWith('ASIA')
      ? await this.loadSession(accessKeyId)
      : accessKeyId.startsWith(AGENT_KEY_PREFIX)
        ? await this.loadAgentKey(accessKeyId)
        : accessKeyId.startsWith(JOIN_TOKEN_PREFIX)
          ? await this.loadJoinToken(accessKeyId)
          : await this.loadUserKey(accessKeyId);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(accessKeyId, resolved);
    return this.cached(accessKeyId) ?? null;
  }

  private async loadUserKey(id: string): Promise<ResolvedKey | null> {
    const k = await this.platform.store.get<AccessKeyRecord>(KINDS.accessKey, id);
    if (!k) return null;
    const u = await this.platform.store.get<UserRecord>(KINDS.user, k.value.userName);
    if (!u) return null;
    const principal: CallerPrincipal = { kind: 'user', arn: u.value.arn, accountId: this.platform.accountId, userId: u.value.id, accessKeyId: id, userName: u.value.name };
    const refused = k.value.status === 'Inactive' ? new ServiceError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403) : undefined;
    return { secret: this.master.open(`iam:key:${id}`, k.value.sealedSecret), principal, refused };
  }

  private async loadAgentKey(id: string): Promise<ResolvedKey | null> {
    const k = (await this.platform.store.get<AgentKeyRecord>(AGENT_KINDS.agentKey, id))?.value;
    if (!k) return null;
    const acct = this.platform.accountId;
    const arn = `arn:aws:ecs:${k.region}:${acct}:container-instance/${k.cluster}/${k.containerInstanceId}`;
    const principal: CallerPrincipal = { kind: 'agent', arn, accountId: acct, userId: `${id}:${k.containerInstanceId}`, accessKeyId: id, agent: { region: k.region, cluster: k.cluster, containerInstanceId: k.containerInstanceId } };
    return { secret: this.master.open(`agentid:key:${id}`, k.sealedSecret), principal };
  }

  private async loadJoinToken(id: string): Promise<ResolvedKey | null> {
    const k = (await this.platform.store.get<JoinTokenRecord>(AGENT_KINDS.joinToken, id))?.value;
    if (!k) return null;
    const acct = this.platform.accountId;
    const principal: CallerPrincipal = { kind: 'agent', arn: `arn:aws:ecs:${k.region}:${acct}:join-token/${k.cluster}/${id}`, accountId: acct, userId: id, accessKeyId: id, expiration: k.expiration, agent: { region: k.region, cluster: k.cluster } };
    return { secret: this.master.open(`agentid:join:${id}`, k.sealedSecret), principal };
  }

  private async loadSession(id: string): Promise<ResolvedKey | null> {
    const r = await this.platform.store.get<SessionRecord>(KINDS.session, id);
    if (!r) return null;
    const v = r.value;
    const acct = this.platform.accountId;
    let principal: CallerPrincipal;
    if (v.roleName) {
      const role = await this.platform.store.get<RoleRecord>(KINDS.role, v.roleName);
      if (!role || role.value.arn !== v.roleArn) return null; // the role was deleted (or recreated): its sessions die with it
      principal = { kind: 'assumed-role', arn: `arn:aws:sts::${acct}:assumed-role/${v.roleName}/${v.sessionName}`, accountId: acct, userId: `${v.roleId}:${v.sessionName}`, accessKeyId: id, roleName: v.roleName, roleArn: v.roleArn, sessionName: v.sessionName, sessionPolicies: v.sessionPolicies, sessionTags: v.tags, expiration: v.expiration };
    } else {
      const u = await this.platform.store.get<UserRecord>(KINDS.user, v.userName ?? '');
      if (!u) return null;
      principal = { kind: 'user', arn: u.value.arn, accountId: acct, userId: u.value.id, accessKeyId: id, userName: u.value.name, expiration: v.expiration };
    }
    return { secret: this.master.open(`iam:session:${id}`, v.sealedSecret), principal, tokenHash: v.tokenHash };
  }
}
