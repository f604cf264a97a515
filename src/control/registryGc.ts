/**
 * The registry's garbage collector: passes of `collectGarbage` (src/domain/ecr/gc.ts), one at a
 * time: blobs no image references and unused for the grace period are removed, idle upload
 * sessions dropped. `start` runs a pass every `intervalMs` on the platform clock (the duty of
 * the replica holding the `registry-gc` lease); `runNow` runs one at once. The pass's safety
 * argument (why a blob an image references, or one a push is about to reference, is never
 * removed, even with passes on several replicas) is in gc.ts.
 */
import { collectGarbage, type GcReport } from '../domain/ecr/gc.js';
import type { Registry } from '../domain/ecr/registry.js';
import type { Platform } from '../domain/platform.js';
import { startLoop, type Loop } from './loop.js';

/** How often the collector runs by default: every 10 minutes. */
export const DEFAULT_GC_INTERVAL_MS = 10 * 60 * 1000;

/** Garbage-collection passes over one registry, never two at once, remembering the last report. */
export class RegistryGc {
  private last: GcReport | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly platform: Platform,
    private readonly registry: Registry,
  ) {}

  /** Runs a pass now (after one in flight) and answers its report. */
  runNow(): Promise<GcReport> {
    const pass = this.running
      .catch(() => undefined)
      .then(() => collectGarbage(this.platform, this.registry))
      .then((r) => (this.last = r));
    this.running = pass;
    return pass;
  }

  /** The report of the last pass that completed. */
  lastReport(): GcReport | undefined {
    return this.last;
  }

  /** Runs a pass every `intervalMs` until the loop is stopped. */
  start(opts: { intervalMs?: number; onError: (e: unknown) => void }): Loop {
    return startLoop(this.platform.clock, opts.intervalMs ?? DEFAULT_GC_INTERVAL_MS, () => this.runNow(), opts.onError);
  }
}
