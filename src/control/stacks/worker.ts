/**
 * The stack worker: a controller duty (one replica at a time, src/control/leadership.ts) that
 * performs the operations the CloudFormation API records. It drains the work queue
 * (`cfn.work` records, written with the status change that asks for an operation): on a
 * change of the queue (the store's change feed) and on a tick of the platform clock, each
 * queued stack not already being worked on here is claimed (marked with this run's id) and its
 * operation run (operation.ts). A work record already claimed by a run that is gone (a crash,
 * a lost lease) is an interrupted operation: it is failed and rolled back, or resumed where it
 * is safe (deletes, rollbacks).
 */
import { randomUUID } from 'node:crypto';
import type { ServiceInvoker } from '../../domain/invoker.js';
import type { Platform } from '../../domain/platform.js';
import { WORK_KIND } from '../../domain/cloudformation/keys.js';
import { claimWork, pendingWork } from '../../domain/cloudformation/stacks.js';
import { ConflictError } from '../../store/types.js';
import { startLoop, type Loop } from '../loop.js';
import { runStackOperation } from './operation.js';
import type { SignalSettings } from './signalPort.js';

export interface StackWorkerOptions {
  /** How often the queue is read even without a change (default 1 s). */
  intervalMs: number;
  /** Most resources of one stack worked on at once (default 32: their records share commits). */
  concurrency: number;
  /** How long a resource may take to stabilize (an ECS service's deployment), default 10 min. */
  stabilizeTimeoutMs: number;
  /** Directories nested stacks may read `file://` templates from (default none). */
  templateDirs: readonly string[];
  /** Where WaitConditionHandle and custom resource URLs point, and what signs them (absent: those resources fail saying so). */
  signals?: SignalSettings;
  onError: (e: unknown) => void;
}

/** Performs CloudFormation stack operations; see the module doc. */
export class StackWorker {
  private readonly opts: StackWorkerOptions;
  private loop: Loop | undefined;
  private unwatch: (() => void) | undefined;
  private abort = new AbortController();
  private runId = '';
  private readonly running = new Map<string, Promise<void>>();
  private get scope() {
    return { platform: this.platform, region: this.platform.defaultRegion };
  }

  constructor(
    private readonly platform: Platform,
    private readonly invoker: ServiceInvoker,
    opts: Partial<StackWorkerOptions> = {},
  ) {
    this.opts = { intervalMs: 1000, concurrency: 32, stabilizeTimeoutMs: 600_000, templateDirs: [], onError: (e) => console.error('berth: stack worker:', e), ...opts };
  }

  async start(): Promise<void> {
    this.abort = new AbortController();
    this.runId = randomUUID();
    this.loop = startLoop(this.platform.clock, this.opts.intervalMs, () => this.drain(), this.opts.onError);
    const from = await this.platform.store.revision();
    this.unwatch = this.platform.store.watch(from, (c) => {
      if (c.kind === WORK_KIND && c.value !== null) void this.loop?.runNow();
    });
    void this.loop.runNow();
  }

  /** Stops taking work and ends the operations in flight (they resume, or roll back, on the next start). */
  async stop(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
    this.abort.abort();
    await this.loop?.stop();
    this.loop = undefined;
    await Promise.allSettled([...this.running.values()]);
  }

  /** Claims and starts every queued operation not already running here. */
  private async drain(): Promise<void> {
    if (this.abort.signal.aborted) return;
    for (const w of await pendingWork(this.scope)) {
      if (this.running.has(w.value.stackId)) continue;
      const interrupted = w.value.startedBy !== undefined;
      try {
        await claimWork(this.scope, w, this.runId);
      } catch (e) {
        if (e instanceof ConflictError) continue; // requeued meanwhile: read again next time
        throw e;
      }
      const env = { platform: this.platform, invoker: this.invoker, clock: this.platform.clock, signal: this.abort.signal, concurrency: this.opts.concurrency, stabilizeTimeoutMs: this.opts.stabilizeTimeoutMs, templateDirs: this.opts.templateDirs, signals: this.opts.signals };
      const p = runStackOperation(env, w.value.stackId, w.value.region, interrupted)
        .catch((e) => {
          if (!this.abort.signal.aborted) this.opts.onError(e);
        })
        .finally(() => {
          this.running.delete(w.value.stackId);
          // The operation may have queued the next one (a rollback after a failed update).
          if (!this.abort.signal.aborted) void this.loop?.runNow();
        });
      this.running.set(w.value.stackId, p);
    }
  }
}
