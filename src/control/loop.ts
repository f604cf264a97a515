/**
 * A periodic background job on the platform clock: runs `work` every `intervalMs` (a run still
 * in flight when the next falls due makes that one skip, so runs never overlap), reports errors
 * without stopping, and waits for a run in flight when stopped. Every sweep and tick of Berth is
 * one of these, so a `ManualClock` drives all of them in tests.
 */
import type { Clock } from '../clock.js';

export interface Loop {
  /** Runs the work once now (after a run in flight), e.g. for an immediate sweep. */
  runNow(): Promise<void>;
  stop(): Promise<void>;
}

export function startLoop(clock: Clock, intervalMs: number, work: () => Promise<unknown> | unknown, onError: (e: unknown) => void): Loop {
  let stopped = false;
  let busy = false;
  let running: Promise<void> = Promise.resolve();
  const run = (): Promise<void> => {
    running = running.then(async () => {
      if (stopped) return;
      busy = true;
      try {
        await work();
      } catch (e) {
        onError(e);
      } finally {
        busy = false;
      }
    });
    return running;
  };
  const timer = clock.setInterval(() => {
    if (!busy) void run();
  }, intervalMs);
  return {
    runNow: run,
    async stop() {
      stopped = true;
      timer.cancel();
      await running;
    },
  };
}
