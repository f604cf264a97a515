/**
 * Agent identities: join tokens and the credentials of the container instances they admit.
 *
 * An operator creates a join token for one cluster (`berth join-token create --cluster c`,
 * BerthAgentV1.CreateJoinToken). The token is itself a signing key pair (`<id>:<secret>`), so the
 * agent's `Join` call is a SigV4 request like any other; its only power is `Join` on its cluster,
 * until it expires. `Join` makes a new container-instance identity in that cluster and returns an
 * agent key bound to it: that key can act only as that container instance (the rules are in
 * src/services/agentAccess.ts). Secrets are sealed under the master key, as users' keys are
 * (SigV4 needs the server to know the secret: a hash would itself be the credential).
 */
import { randomBytes } from 'node:crypto';
import { ServiceError } from '../../errors.js';
import { hexId } from '../common.js';
import type { Scope } from '../platform.js';
import type { MasterKey } from '../ssm/masterKey.js';
import { secretKey } from './records.js';

/** Store kinds of join tokens and agent keys (not `iam.`: IAM's policy caches need not care). */
export const AGENT_KINDS = { joinToken: 'agentid.joinToken', agentKey: 'agentid.key', keyOfInstance: 'agentid.keyOfInstance' } as const;

/** Most join tokens one cluster lists (and may hold unexpired at once). */
export const MAX_JOIN_TOKENS = 1000;

/** Access key id prefixes: a join token's, an agent key's. */
export const JOIN_TOKEN_PREFIX = 'BJTA';
export const AGENT_KEY_PREFIX = 'BAGA';

/** Longest and default life of a join token, in seconds. */
export const JOIN_TOKEN_SECONDS = { default: 86_400, max: 604_800 } as const;

/** A join token as stored. */
export interface JoinTokenRecord {
  tokenId: string;
  region: string;
  cluster: string;
  sealedSecret: string;
  created: string;
  expiration: string;
}

/** An agent's access key as stored: bound to one container instance of one cluster. */
export interface AgentKeyRecord {
  accessKeyId: string;
  region: string;
  cluster: string;
  /** The container instance's id (its ARN's last part). */
  containerInstanceId: string;
  sealedSecret: string;
  created: string;
  /** The join token it was issued for. */
  tokenId: string;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function keyId(prefix: string): string {
  return prefix + Array.from(randomBytes(16), (b) => ALPHABET[b % 32]).join('');
}

/** Creates a join token for `cluster` (which the caller has checked exists). */
export async function createJoinToken(s: Scope, master: MasterKey, cluster: string, seconds: number = JOIN_TOKEN_SECONDS.default): Promise<JoinTokenRecord & { token: string }> {
  const live = (await listJoinTokens(s, cluster)).filter((t) => Date.parse(t.expiration) > s.platform.clock.now());
  if (live.length >= MAX_JOIN_TOKENS) throw new ServiceError('InvalidParameterException', `Cluster ${cluster} has ${MAX_JOIN_TOKENS} unexpired join tokens: revoke some first (berth join-token list / revoke).`, 400);
  const tokenId = keyId(JOIN_TOKEN_PREFIX);
  const secret = secretKey();
  const now = s.platform.clock.now();
  const rec: JoinTokenRecord = { tokenId, region: s.region, cluster, sealedSecret: master.seal(`agentid:join:${tokenId}`, secret), created: new Date(now).toISOString(), expiration: new Date(now + seconds * 1000).toISOString() };
  await s.platform.store.commit([{ kind: AGENT_KINDS.joinToken, key: tokenId, value: rec, expectRev: 0 }]);
  return { ...rec, token: `${tokenId}:${secret}` };
}

/** Splits a join token into the key pair the agent signs `Join` with (throws on a malformed one). */
export function joinTokenCredentials(token: string): { accessKeyId: string; secretAccessKey: string } {
  const i = token.indexOf(':');
  const accessKeyId = token.slice(0, i);
  if (i < 0 || !accessKeyId.startsWith(JOIN_TOKEN_PREFIX)) throw new Error('not a Berth join token (expected <id>:<secret>, as `berth join-token create` prints it)');
  return { accessKeyId, secretAccessKey: token.slice(i + 1) };
}

/** Issues the credentials of a new container instance of the token's cluster (its id is chosen here). */
export async function issueAgentKey(s: Scope, master: MasterKey, tokenId: string): Promise<AgentKeyRecord & { secret: string }> {
  const token = (await s.platform.store.get<JoinTokenRecord>(AGENT_KINDS.joinToken, tokenId))?.value;
  if (!token || Date.parse(token.expiration) <= s.platform.clock.now()) throw new ServiceError('AccessDeniedException', 'The join token is expired or unknown: create a new one (berth join-token create).', 400);
  const accessKeyId = keyId(AGENT_KEY_PREFIX);
  const secret = secretKey();
  const rec: AgentKeyRecord = { accessKeyId, region: token.region, cluster: token.cluster, containerInstanceId: hexId(), sealedSecret: master.seal(`agentid:key:${accessKeyId}`, secret), created: new Date(s.platform.clock.now()).toISOString(), tokenId };
  await s.platform.store.commit([
    { kind: AGENT_KINDS.agentKey, key: accessKeyId, value: rec, expectRev: 0 },
    { kind: AGENT_KINDS.keyOfInstance, key: instanceKey(rec.region, rec.cluster, rec.containerInstanceId), value: { accessKeyId }, expectRev: 0 },
  ]);
  return { ...rec, secret };
}

function instanceKey(region: string, cluster: string, containerInstanceId: string): string {
  return `${region}/${cluster}/${containerInstanceId}`;
}

/** The join tokens of `cluster` in the scope's region (expired ones included), oldest first. */
export async function listJoinTokens(s: Scope, cluster: string): Promise<JoinTokenRecord[]> {
  const all = await s.platform.store.list<JoinTokenRecord>(AGENT_KINDS.joinToken);
  return all.map((r) => r.value).filter((t) => t.region === s.region && t.cluster === cluster).sort((a, b) => a.created.localeCompare(b.created)).slice(0, MAX_JOIN_TOKENS);
}

/** Revokes a join token of `cluster`: it can no longer join (the agents it admitted keep their keys). */
export async function revokeJoinToken(s: Scope, cluster: string, tokenId: string): Promise<void> {
  const cur = await s.platform.store.get<JoinTokenRecord>(AGENT_KINDS.joinToken, tokenId.slice(0, 128));
  if (!cur || cur.value.region !== s.region || cur.value.cluster !== cluster) throw new ServiceError('InvalidParameterException', `No join token ${tokenId.slice(0, 128)} in cluster ${cluster} (berth join-token list shows them).`, 400);
  await s.platform.store.commit([{ kind: AGENT_KINDS.joinToken, key: tokenId, value: null, expectRev: cur.rev }]);
}

/** Revokes the key of a container instance that joined (it was deregistered); nothing when it has none. */
export async function revokeInstanceKey(s: Scope, cluster: string, containerInstanceId: string): Promise<void> {
  const idx = await s.platform.store.get<{ accessKeyId: string }>(AGENT_KINDS.keyOfInstance, instanceKey(s.region, cluster, containerInstanceId));
  if (!idx) return;
  const key = await s.platform.store.get<AgentKeyRecord>(AGENT_KINDS.agentKey, idx.value.accessKeyId);
  await s.platform.store.commit([
    { kind: AGENT_KINDS.keyOfInstance, key: idx.key, value: null, expectRev: idx.rev },
    ...(key ? [{ kind: AGENT_KINDS.agentKey, key: key.key, value: null, expectRev: key.rev }] : []),
  ]);
}
