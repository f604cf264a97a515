/**
 * `berth events <service> [-f]`: the service's events (what DescribeServices keeps: started and
 * stopped tasks, targets registered and drained, deployments completed or failed, placement
 * failures), oldest first so the newest is last; -f keeps printing new ones as they come until
 * Ctrl-C or until the service is deleted. A deleted (INACTIVE) service's events are still shown.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BerthApi, WireServiceEvent } from './api.js';
import { isoTime } from './format.js';
import type { Terminal } from './terminal.js';

/** How often `-f` asks for new events. */
const EVENTS_POLL_MS = 1_000;

/** The flags of `berth events`. */
export interface EventsFlags {
  cluster: string;
  follow?: boolean;
  output: 'text' | 'json';
}

/** `berth events`: resolves with the exit status. */
export async function eventsCommand(api: BerthApi, serviceName: string, flags: EventsFlags, term: Terminal): Promise<number> {
  const seen = new Set<string>();
  const json = flags.output === 'json';
  const line = (e: WireServiceEvent) => (json ? JSON.stringify({ id: e.id, createdAt: isoTime(e.createdAt), message: e.message }) : `${isoTime(e.createdAt) ?? '-'}  ${e.message}`);
  // A deleted service's events stay readable while ECS still describes it (INACTIVE).
  let svc = await api.service(flags.cluster, serviceName, { allowInactive: true });
  const first = [...(svc.events ?? [])].reverse();
  for (const e of first) seen.add(e.id);
  if (!flags.follow || svc.status === 'INACTIVE') {
    if (flags.follow) term.err(`berth: service ${serviceName} has been deleted\n`);
    // One document: the events as an array (text: one line each).
    if (json) term.out(JSON.stringify(first.map((e) => ({ id: e.id, createdAt: isoTime(e.createdAt), message: e.message })), null, 2) + '\n');
    else for (const e of first) term.out(`${line(e)}\n`);
    return 0;
  }
  // Following, JSON output is one object per line (JSON Lines), as events come.
  for (const e of first) term.out(`${line(e)}\n`);
  for (;;) {
    await sleep(EVENTS_POLL_MS);
    svc = await api.service(flags.cluster, serviceName, { allowInactive: true });
    for (const e of [...(svc.events ?? [])].reverse()) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      term.out(`${line(e)}\n`);
    }
    if (svc.status === 'INACTIVE') {
      term.err(`berth: service ${serviceName} has been deleted\n`);
      return 0;
    }
  }
}
