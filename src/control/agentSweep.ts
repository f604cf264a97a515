/**
 * The agent-timeout sweep: an instance whose agent has not polled (the poll is its heartbeat)
 * for `agentTimeoutMs` is marked `agentConnected: false` with `disconnectedAt`, in every region.
 * The service controller then treats its tasks as lost once it stays disconnected for
 * `instanceLostAfterMs`.
 */
import { markStaleAgentsDisconnected, regionsWithInstances } from '../domain/ecs/instances.js';
import type { Platform } from '../domain/platform.js';
import { startLoop, type Loop } from './loop.js';

/** Default of the agent timeout: three missed 5-second polls. */
export const DEFAULT_AGENT_TIMEOUT_MS = 15_000;

export function startAgentSweep(platform: Platform, opts: { agentTimeoutMs: number; intervalMs?: number; onError: (e: unknown) => void }): Loop {
  return startLoop(
    platform.clock,
    opts.intervalMs ?? 1_000,
    async () => {
      for (const region of await regionsWithInstances(platform.store)) await markStaleAgentsDisconnected({ platform, region }, opts.agentTimeoutMs);
    },
    opts.onError,
  );
}
