/**
 * The service controller: the loop around the pure decision core. For every ACTIVE or DRAINING
 * service it
 *   1. gathers (I/O): the service record, its tasks, the cluster's instances and live tasks, the
 *      target health of its tasks and the deregistration delays of its target groups;
 *   2. observes (pure, ./observe.ts): maps those records onto the reconciler's shapes;
 *   3. decides (pure, ./reconciler.ts): the actions, lost/failed/draining/grace included;
 *   4. applies each action through the ECS domain (src/domain/ecs/) and the target registry.
 * Reading (1) is ./serviceFacts.ts, applying (4) and the per-task-set rounds ./serviceActions.ts;
 * this file holds the settings, the triggers, the scheduling and the controller's bookkeeping
 * (placement back-off, throttled events).
 *
 * When it runs: on every store change to a service, one of its tasks or a container instance of
 * its cluster (the change feed), and on a periodic tick on the platform clock (`intervalMs`) for
 * time-driven decisions (grace periods, draining, lost instances, target health).
 *
 * Invariants:
 * - at most one reconcile per service at a time in this process (a change during a reconcile
 *   runs it once more afterwards); several control-plane replicas may run it concurrently: every
 *   write goes through the domain's optimistic transitions, each of which reports whether it
 *   changed anything, and every action is idempotent given the next observation;
 * - a failing placement neither spins nor spams: the service waits `placementRetryMs` (or until
 *   a container instance of its cluster changes) before trying again, and the same "unable to
 *   place" message is recorded at most once per `placementEventIntervalMs`.
 */
import type { Change } from '../store/types.js';
import type { Platform, Scope } from '../domain/platform.js';
import { KIND } from '../domain/ecs/keys.js';
import type { ContainerInstanceRecord, ServiceRecord, TaskRecord } from '../domain/ecs/records.js';
import { appendServiceEvent, type ImageResolver } from '../domain/ecs/services.js';
import { usesTaskSets } from '../domain/ecs/taskSets.js';
import { startLoop, type Loop } from './loop.js';
import { observeService } from './observe.js';
import { decide } from './reconciler.js';
import { reconcileTaskSets, ServiceActionApplier, type ServiceActionHost } from './serviceActions.js';
import { ServiceFactsReader } from './serviceFacts.js';
import type { TargetRegistry } from './targets.js';
import { syncServiceRegistries } from './serviceRegistries.js';
import type { ReconcileAction } from './types.js';

/** Settings of the controller. They may change while it runs (`configure`) and apply from the next reconcile. */
export interface ServiceControllerOptions {
  /** Whether the controller acts (tests of the bare ECS records turn it off). Default true. */
  enabled: boolean;
  /** Period of the reconcile tick (ms). Default 500. */
  intervalMs: number;
  /**
   * How long an instance's agent may stay disconnected (agentConnected false, set by the agent
   * sweep after its timeout, see ./agentSweep.ts) before the tasks on it are lost and replaced.
   * Default 5000.
   */
  instanceLostAfterMs: number;
  /**
   * For services without a load balancer whose task definitions have no container health check,
   * how long a task must stay RUNNING before it counts as healthy. Default 1000.
   */
  minHealthyRunningMs: number;
  /** How many services reconcile at the same time. Default 4. */
  concurrency: number;
  /** Wait after a placement failure before the service tries to place again (ms). Default 2000. */
  placementRetryMs: number;
  /** The same "unable to place" event is recorded at most once per this many ms. Default 5 min. */
  placementEventIntervalMs: number;
  /** Address registered for a binding on 0.0.0.0 when the instance has no `berth.address` attribute. Default 127.0.0.1. */
  defaultTargetAddress: string;
}

export const DEFAULT_SERVICE_CONTROLLER_OPTIONS: ServiceControllerOptions = {
  enabled: true,
  intervalMs: 500,
  instanceLostAfterMs: 5000,
  minHealthyRunningMs: 1000,
  concurrency: 4,
  placementRetryMs: 2000,
  placementEventIntervalMs: 5 * 60_000,
  defaultTargetAddress: '127.0.0.1',
};

interface Slot {
  running: Promise<void> | undefined;
  again: boolean;
}

/** One controller per Berth process; the composition root creates and starts it. */
export class ServiceController implements ServiceActionHost {
  private readonly options: ServiceControllerOptions;
  private slots = new Map<string, Slot>();
  private backoffUntil = new Map<string, number>();
  private placementEvents = new Map<string, number>();
  private instancePrints = new Map<string, string>();
  /** The reads of each reconcile (with the per-cluster task cache the change feed invalidates). */
  private readonly reader: ServiceFactsReader;
  /** How many reconciles ran (for diagnosis and tests). */
  reconciles = 0;
  private loop: Loop | undefined;
  private unwatch: (() => void) | undefined;
  private stopRequested = false;
  private active = 0;
  private waiting: (() => void)[] = [];
  /** Errors of the last reconciles (newest last, at most 20), for diagnosis. */
  readonly errors: string[] = [];

  constructor(
    readonly platform: Platform,
    private readonly targets: TargetRegistry,
    options: Partial<ServiceControllerOptions> = {},
    /** Pins each deployment's images to digests when it first launches (Berth's registry). */
    readonly resolveImage?: ImageResolver,
  ) {
    this.options = { ...DEFAULT_SERVICE_CONTROLLER_OPTIONS, ...options };
    this.reader = new ServiceFactsReader(platform, targets, this.options);
  }

  /** Changes settings; they apply from the next reconcile. */
  configure(changes: Partial<ServiceControllerOptions>): void {
    Object.assign(this.options, changes);
  }

  /** The current settings (a copy). */
  get settings(): Readonly<ServiceControllerOptions> {
    return { ...this.options };
  }

  /** Starts watching the change feed and ticking on the platform clock. */
  async start(): Promise<void> {
    // Started again after a stop (this replica took the lease back): from a clean slate.
    this.stopRequested = false;
    this.reset();
    const rev = await this.platform.store.revision();
    this.unwatch = this.platform.store.watch(rev, (c) => this.onChange(c));
    this.loop = startLoop(this.platform.clock, this.options.intervalMs, () => this.tick(), (e) => this.noteError(e));
    void this.loop.runNow();
  }

  /** Forgets everything cached (after the store was reset: `POST /_berth/reset`). */
  reset(): void {
    this.reader.reset();
    this.backoffUntil.clear();
    this.placementEvents.clear();
    this.instancePrints.clear();
  }

  /** Stops ticking and watching; waits for reconciles in flight. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    this.unwatch?.();
    await this.loop?.stop();
    await Promise.all([...this.slots.values()].map((s) => s.running?.catch(() => undefined)));
  }

  /** Whether `stop` was called (and `start` not since): no further reconcile or action runs. */
  get stopped(): boolean {
    return this.stopRequested;
  }

  private noteError(e: unknown): void {
    this.errors.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    if (this.errors.length > 20) this.errors.shift();
  }

  private onChange(c: Change): void {
    if (this.stopped) return;
    const parts = c.key.split('/');
    if (parts.length < 3) return;
    const [region, cluster, id] = parts as [string, string, string];
    if (c.kind === KIND.task) {
      this.reader.noteTaskChange(`${region}/${cluster}/`);
      const v = c.value as TaskRecord | null;
      if (v?.group.startsWith('service:')) this.schedule(region, cluster, v.group.slice('service:'.length));
    } else if (c.kind === KIND.service) {
      const v = c.value as ServiceRecord | null;
      if (v && (v.status === 'ACTIVE' || v.status === 'DRAINING')) this.schedule(region, cluster, id);
    } else if (c.kind === KIND.containerInstance) {
      // Heartbeats change nothing placement cares about; new capacity or a changed instance
      // (status, agent, resources, attributes) lets services of the cluster place again now.
      const v = c.value as ContainerInstanceRecord | null;
      const print = v ? JSON.stringify([v.status, v.agentConnected, v.registeredResources, v.attributes]) : '';
      if (this.instancePrints.get(c.key) === print) return;
      if (v) this.instancePrints.set(c.key, print);
      else this.instancePrints.delete(c.key);
      for (const k of this.backoffUntil.keys()) if (k.startsWith(`${region}/${cluster}/`)) this.backoffUntil.delete(k);
      this.scheduleCluster(region, cluster).catch((e) => this.noteError(e));
    }
  }

  private async scheduleCluster(region: string, cluster: string): Promise<void> {
    const recs = await this.platform.store.list<ServiceRecord>(KIND.service, { prefix: `${region}/${cluster}/` });
    for (const r of recs) if (r.value.status === 'ACTIVE' || r.value.status === 'DRAINING') this.schedule(region, cluster, r.value.serviceName);
  }

  /** Reconciles every ACTIVE/DRAINING service of every region once (the periodic tick). */
  async tick(): Promise<void> {
    if (!this.options.enabled) return;
    const recs = await this.platform.store.list<ServiceRecord>(KIND.service);
    const running: Promise<void>[] = [];
    for (const r of recs) {
      if (r.value.status !== 'ACTIVE' && r.value.status !== 'DRAINING') continue;
      running.push(this.schedule(r.key.split('/')[0]!, r.value.clusterName, r.value.serviceName));
    }
    await Promise.all(running);
  }

  /** Bounds how many services reconcile at once (they contend for the same instance records). */
  private async acquire(): Promise<void> {
    if (this.active < this.options.concurrency) {
      this.active++;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /** Runs (or queues one more) reconcile of a service; resolves when the current run ends. */
  schedule(region: string, cluster: string, name: string): Promise<void> {
    const key = `${region}/${cluster}/${name}`;
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { running: undefined, again: false };
      this.slots.set(key, slot);
    }
    if (slot.running) {
      slot.again = true;
      return slot.running;
    }
    const s = slot;
    s.running = (async () => {
      try {
        do {
          s.again = false;
          if (this.stopped) break;
          await this.acquire();
          try {
            await this.reconcile(region, cluster, name);
          } catch (e) {
            this.noteError(e);
          } finally {
            this.release();
          }
        } while (s.again);
      } finally {
        s.running = undefined;
        this.slots.delete(key);
      }
    })();
    return s.running;
  }

  /** One round for one service: gather, observe, decide, apply. Returns the actions decided. */
  async reconcile(region: string, clusterName: string, name: string): Promise<ReconcileAction[]> {
    if (!this.options.enabled) return [];
    this.reconciles++;
    const s: Scope = { platform: this.platform, region };
    const now = this.platform.clock.now();
    const facts = await this.reader.gather(s, clusterName, name, now);
    if (!facts) return [];
    for (const m of await syncServiceRegistries(s, facts.service, facts.tasks, facts.instances, this.options.defaultTargetAddress)) await this.emitThrottled(s, facts.service, m);
    if (usesTaskSets(facts.service)) return reconcileTaskSets(this, s, facts, now);
    const { desired, observed } = observeService(facts, this.options);
    const actions = decide(desired, observed, now);
    const apply = new ServiceActionApplier(this, s, facts, now);
    // State changes first, then the reconciler's events in its order, then the controller's own
    // ("has started", placement failures), so a replacement reads "stopped ..." then "started ...".
    for (const a of [...actions.filter((x) => x.type !== 'event'), ...actions.filter((x) => x.type === 'event')]) {
      if (this.stopped) break;
      await apply.action(a);
    }
    for (const m of apply.later) await appendServiceEvent(s, clusterName, name, m);
    return actions;
  }

  /** Records a service event at most once per `placementEventIntervalMs` (placement failures, target errors). */
  async emitThrottled(s: Scope, svc: ServiceRecord, message: string): Promise<void> {
    const now = this.platform.clock.now();
    // Keyed by the service's incarnation: a service re-created under the same name starts afresh.
    const key = `${svc.serviceArn}@${svc.createdAt}\n${message}`;
    const window = this.options.placementEventIntervalMs;
    const last = this.placementEvents.get(key);
    if (last !== undefined && now - last < window) return;
    this.placementEvents.set(key, now);
    // Another replica (or an earlier run of this one) may have recorded it already.
    if (svc.events.some((e) => e.message === message && now - e.createdAt < window)) return;
    await appendServiceEvent(s, svc.clusterName, svc.serviceName, message);
  }

  /** Whether the service is waiting out a placement failure; `until` sets or clears the wait. */
  backoff(key: string, until?: number | null): boolean {
    if (until === null) this.backoffUntil.delete(key);
    else if (until !== undefined) this.backoffUntil.set(key, until);
    return (this.backoffUntil.get(key) ?? 0) > this.platform.clock.now();
  }

  /** The current settings, as applying actions reads them (not a copy). */
  get current(): Readonly<ServiceControllerOptions> {
    return this.options;
  }

  /** The target registry applying actions uses. */
  get registry(): TargetRegistry {
    return this.targets;
  }

  /** Whether a decision was taken on the service's current live tasks (a replica or an earlier round may have started some). */
  sameLiveTasks(s: Scope, svc: ServiceRecord, seen: readonly TaskRecord[], taskSetId?: string): Promise<boolean> {
    return this.reader.sameLiveTasks(s, svc, seen, taskSetId);
  }
}
