/**
 * `berth join-token create | list | revoke`: the join tokens an agent host joins a cluster with
 * (`berth agent --join-token <token>`), over the network like any client (BerthAgentV1's
 * CreateJoinToken, ListJoinTokens, RevokeJoinToken). Root, or an IAM principal allowed
 * `berth-agent:CreateJoinToken` (`:ListJoinTokens`, `:RevokeJoinToken`), may call them.
 */
import { callJson, type ClientConfig } from '../client/awsClient.js';
import { isoTime, table } from './format.js';
import type { Terminal } from './terminal.js';

const channel = <T>(cfg: ClientConfig, op: string, input: unknown) => callJson<T>(cfg, 'ecs', `BerthAgentV1.${op}`, input);

/** `berth join-token create`: prints the token alone on stdout (text), so `$(berth join-token create)` captures it. */
export async function createJoinTokenCommand(cfg: ClientConfig, flags: { cluster: string; validSeconds?: number; output: 'text' | 'json' }, term: Terminal): Promise<number> {
  const out = await channel<{ token: string; tokenId: string; cluster: string; expiration: number }>(cfg, 'CreateJoinToken', { cluster: flags.cluster, validSeconds: flags.validSeconds });
  if (flags.output === 'json') term.out(`${JSON.stringify({ token: out.token, tokenId: out.tokenId, cluster: out.cluster, expiration: isoTime(out.expiration) })}\n`);
  else {
    term.out(`${out.token}\n`);
    term.err(`Join token ${out.tokenId} for ${out.cluster}, valid until ${isoTime(out.expiration)}.\nOn the agent host: berth agent --server ${cfg.endpoint} --cluster ${flags.cluster} --join-token <token> (or BERTH_JOIN_TOKEN=<token>)\n`);
  }
  return 0;
}

/** `berth join-token list`: ids and lifetimes of a cluster's tokens (never their secrets). */
export async function listJoinTokensCommand(cfg: ClientConfig, flags: { cluster: string; output: 'text' | 'json' }, term: Terminal): Promise<number> {
  // The server's clock says which have expired.
  const out = await channel<{ joinTokens?: Array<{ tokenId: string; created: number; expiration: number; status?: string }> }>(cfg, 'ListJoinTokens', { cluster: flags.cluster });
  const rows = (out.joinTokens ?? []).map((t) => ({ tokenId: t.tokenId, created: isoTime(t.created), expiration: isoTime(t.expiration), expired: t.status === 'EXPIRED' }));
  if (flags.output === 'json') term.out(`${JSON.stringify({ joinTokens: rows })}\n`);
  else if (!rows.length) term.err(`No join tokens in cluster ${flags.cluster}.\n`);
  else term.out(table(['TOKEN ID', 'CREATED', 'EXPIRES', 'STATUS'], rows.map((r) => [r.tokenId, r.created ?? '-', r.expiration ?? '-', r.expired ? 'expired' : 'valid'])));
  return 0;
}

/** `berth join-token revoke <id>`: the token can no longer join (accepts the id or the whole token). */
export async function revokeJoinTokenCommand(cfg: ClientConfig, tokenOrId: string, flags: { cluster: string }, term: Terminal): Promise<number> {
  const tokenId = tokenOrId.includes(':') ? tokenOrId.slice(0, tokenOrId.indexOf(':')) : tokenOrId;
  await channel(cfg, 'RevokeJoinToken', { cluster: flags.cluster, tokenId });
  term.err(`Revoked join token ${tokenId}: it can no longer join (instances it admitted keep their keys until deregistered).\n`);
  return 0;
}
