/**
 * The target-drain controller: removes the records of draining ELBv2 targets once their drain
 * is over (`drainFinished` in src/domain/elbv2/targets.ts: no request in flight according to
 * the data plane, or the deregistration delay passed by the platform clock).
 *
 * It sweeps every `intervalMs` on the platform clock, and at once when woken (the load
 * balancer wakes it when a draining target goes idle), so a drain with nothing in flight ends
 * within moments rather than at the next tick. A target registered again meanwhile is a new
 * record revision and stays: removal is conditional on the revision the sweep read.
 */
import type { DataPlaneView } from '../domain/elbv2/dataPlane.js';
import { drainFinished, drainingTargets, removeDrainedTarget } from '../domain/elbv2/targets.js';
import type { Platform } from '../domain/platform.js';
import { startLoop, type Loop } from './loop.js';

/** The part of the data plane the controller asks: requests in flight to a draining target. */
export type DrainView = Pick<DataPlaneView, 'requestsInFlight'>;

/** How often the controller sweeps without being woken. */
export const TARGET_DRAIN_INTERVAL_MS = 200;

/** A running target-drain controller: a `Loop` (runNow sweeps now) that can also be woken. */
export interface TargetDrain extends Loop {
  /** Sweeps as soon as possible; wakes while a sweep is already queued coalesce into it. */
  wake(): void;
}

/**
 * Removes every draining target whose drain is over; returns how many records went. `firstSeen`
 * remembers when the sweep first saw a draining record without `drainingSince` (written before
 * the field existed), so its delay counts from then.
 */
export async function sweepDrainedTargets(platform: Platform, plane: DrainView, firstSeen = new Map<string, number>()): Promise<number> {
  const now = platform.clock.now();
  const draining = await drainingTargets(platform);
  const current = new Set<string>();
  let removed = 0;
  for (const d of draining) {
    const seenKey = `${d.key}@${d.rev}`;
    current.add(seenKey);
    let since = d.target.drainingSince;
    if (since === undefined) {
      since = firstSeen.get(seenKey) ?? now;
      firstSeen.set(seenKey, since);
    }
    if (!drainFinished(since, d.delayMs, plane.requestsInFlight(d.target.tgArn, d.target), now)) continue;
    if (await removeDrainedTarget(platform, d.key, d.rev)) removed++;
  }
  for (const k of firstSeen.keys()) if (!current.has(k)) firstSeen.delete(k);
  return removed;
}

/** Starts the controller on the platform clock. */
export function startTargetDrain(platform: Platform, plane: DrainView, opts: { intervalMs?: number; onError: (e: unknown) => void }): TargetDrain {
  const firstSeen = new Map<string, number>();
  // Set by `wake` until the queued sweep starts, so a burst of wakes costs one sweep.
  let queued = false;
  const loop = startLoop(
    platform.clock,
    opts.intervalMs ?? TARGET_DRAIN_INTERVAL_MS,
    () => {
      queued = false;
      return sweepDrainedTargets(platform, plane, firstSeen);
    },
    opts.onError,
  );
  return {
    wake() {
      if (queued) return;
      queued = true;
      void loop.runNow();
    },
    runNow: () => loop.runNow(),
    stop: () => loop.stop(),
  };
}
