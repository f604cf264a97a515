/**
 * The registry's garbage collector: every `intervalMs` on the platform clock, one pass of
 * `collectGarbage` (src/domain/ecr/gc.ts): blobs no image references and unused for the grace
 * period are removed, idle upload sessions dropped. The pass's safety argument (why a blob an
 * image references, or one a push is about to reference, is never removed) is in gc.ts.
 */
import { collectGarbage, type GcReport } from '../domain/ecr/gc.js';
import type { Registry } from '../domain/ecr/registry.js';
import type { Platform } from '../domain/platform.js';
import { startLoop, type Loop } from './loop.js';

/** How often the collector runs by default: every 10 minutes. */
export const DEFAULT_GC_INTERVAL_MS = 10 * 60 * 1000;

/** A running collector; `runNow` runs a pass at once (after one in flight) and reports it. */
export interface RegistryGc extends Loop {
  lastReport(): GcReport | undefined;
}

export function startRegistryGc(platform: Platform, registry: Registry, opts: { intervalMs?: number; onError: (e: unknown) => void }): RegistryGc {
  let last: GcReport | undefined;
  const loop = startLoop(
    platform.clock,
    opts.intervalMs ?? DEFAULT_GC_INTERVAL_MS,
    async () => {
      last = await collectGarbage(platform, registry);
    },
    opts.onError,
  );
  return { ...loop, lastReport: () => last };
}
