/**
 * `berth status`: the control plane as a whole, from any replica's `/_berth/health`: the
 * replicas (where they answer, their last heartbeat, alive or gone, the duties each leads), who
 * leads each duty until when, and the agents (cluster, connected, last heartbeat, live tasks).
 * Given several endpoints (`--server a,b`), the first that answers is asked.
 */
import { getOperatorJson } from '../client/operator.js';
import { ago, lastSegment, plural, table } from './format.js';
import type { Terminal } from './terminal.js';

/** One replica in the health document. */
export interface WireReplica {
  id: string;
  url?: string;
  version: string;
  startedAt: number;
  heartbeatAt: number;
  alive: boolean;
  self: boolean;
  leads: string[];
}

/** One duty in the health document. */
export interface WireDuty {
  duty: string;
  leading: boolean;
  holder?: string;
  expiresAt?: number;
}

/** One agent in the health document. */
export interface WireAgent {
  region: string;
  cluster: string;
  containerInstanceArn: string;
  status: string;
  agentConnected: boolean;
  lastHeartbeat?: number;
  liveTasks: number;
}

/** What `/_berth/health` answers (the parts `berth status` shows). */
export interface HealthDocument {
  status: string;
  version: string;
  store: string;
  replica: string;
  duties: WireDuty[];
  replicas?: WireReplica[];
  agents?: WireAgent[];
  agentsTotal?: number;
  storeError?: string;
}

/** The flags of `berth status`. */
export interface StatusFlags {
  output: 'text' | 'json';
  operatorToken?: string;
}

/** `berth status`: resolves with the exit status (1 when the replica asked cannot read the store). */
export async function statusCommand(endpoints: readonly string[], flags: StatusFlags, term: Terminal, now = Date.now()): Promise<number> {
  const { value: h, endpoint } = await getOperatorJson<HealthDocument>(endpoints, '/_berth/health', { token: flags.operatorToken });
  if (flags.output === 'json') {
    term.out(JSON.stringify({ endpoint, ...h }, null, 2) + '\n');
    return h.storeError ? 1 : 0;
  }
  term.out(`Berth ${h.version} at ${endpoint} (replica ${h.replica}, ${h.store} store): ${h.status}\n`);
  if (h.storeError) {
    term.out(`  the store cannot be read: ${h.storeError}\n`);
    return 1;
  }
  const replicas = h.replicas ?? [];
  term.out(`\nReplicas (${replicas.filter((r) => r.alive).length} alive)\n`);
  term.out(
    indent(
      table(
        ['ID', 'URL', 'VERSION', 'HEARTBEAT', 'STATE', 'LEADS'],
        replicas.map((r) => [r.self ? `${r.id} (this)` : r.id, r.url ?? '-', r.version, ago(r.heartbeatAt / 1000, now), r.alive ? 'alive' : 'gone', r.leads.join(', ') || '-']),
      ),
    ),
  );
  term.out(`\nDuties\n`);
  term.out(indent(table(['DUTY', 'LEADER', 'LEASE'], h.duties.map((d) => [d.duty, d.holder ?? '-', leaseLeft(d.expiresAt, now)]))));
  const agents = h.agents ?? [];
  const total = h.agentsTotal ?? agents.length;
  term.out(`\nAgents (${agents.filter((a) => a.agentConnected).length} of ${plural(total, 'agent')} connected${total > agents.length ? `; the first ${agents.length} shown` : ''})\n`);
  if (agents.length) {
    term.out(
      indent(
        table(
          ['CLUSTER', 'INSTANCE', 'STATUS', 'CONNECTED', 'LAST HEARTBEAT', 'TASKS'],
          agents.map((a) => [a.cluster, lastSegment(a.containerInstanceArn), a.status, a.agentConnected ? 'yes' : 'no', a.lastHeartbeat === undefined ? '-' : ago(a.lastHeartbeat / 1000, now), String(a.liveTasks)]),
        ),
      ),
    );
  }
  return 0;
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, '  ');
}

function leaseLeft(expiresAt: number | undefined, now: number): string {
  if (expiresAt === undefined) return '-';
  const s = Math.round((expiresAt - now) / 1000);
  return s >= 0 ? `ends in ${s}s` : `expired ${-s}s ago`;
}
