/**
 * Data-plane processes: the load balancer's forwarding (./forwarding.ts) run in processes of
 * their own, so proxied traffic never waits on the control plane's event loop and the control
 * plane never waits on it, and several of them can use several cores.
 *
 * The pool is a node:cluster primary in the control plane's process with `SCHED_NONE`: the
 * primary binds each listener's socket once and hands it to every data-plane process, which
 * accepts on it itself (the primary never touches a connection). Each process gets, over its IPC
 * channel (never on disk): the routing snapshot (the ELBv2 records, which it compiles with the
 * same pure `compileTable` and the same generation number), the PEMs of HTTPS listeners, the
 * targets' health (checked by the control plane, on the platform clock) and the options. It
 * answers with what it applied (ports served, bind errors, requests in flight to draining
 * targets), says when a draining target goes idle, and sends its metric deltas every second and
 * when asked (the control plane adds them to its own sets, so /_berth/metrics and the per-minute
 * series keep their meaning).
 *
 * Invariants:
 * - A spare process is kept started beside the serving ones: it gets every table, health and
 *   option and compiles them, but binds nothing. When a serving process dies the spare takes its
 *   place at once (told to `serve`, it binds the listeners of the table it already holds: no
 *   process start, module loading or snapshot transfer between the death and serving again), and
 *   a new spare is started. Without a spare (it is starting, or died too), the dead process is
 *   started again (at once, or after a second when it died within a second of starting twice in a row) and
 *   brought up to date with the latest table, health and options. The control plane logs each
 *   restart and counts it (`berth_lb_data_plane_restarts_total`).
 * - Until every live process has applied a table that has a target draining, the pool does not
 *   say how many requests it has in flight (undefined: the drain waits), so no request is
 *   forgotten by a process that has not caught up.
 * - Processes start on the first table that has a listener (a Berth with no listener forks
 *   nothing), and stop with the pool.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { PemPair } from '../domain/elbv2/certificates.js';
import type { Elbv2Snapshot } from '../domain/elbv2/snapshot.js';
import type { TargetHealthStatus } from './health.js';
import type { LoadBalancerMetrics, MetricDeltas } from './metrics.js';
import { lowerPriority } from './options.js';

/** Options a data-plane process follows. */
export interface WorkerOptions {
  bindHost: string;
  maxRequestsPerClient: number;
}

/** The table a process applies: the records, their generation, certificates and health. */
export interface WorkerTable {
  generation: number;
  snapshot: Elbv2Snapshot;
  /** PEMs (or why there is none) of every certificate an HTTPS listener uses. */
  certificates: [string, PemPair | string][];
  health: [string, TargetHealthStatus][];
}

/** Control plane → data-plane process. `now` is the platform clock's time (the process follows it). */
export type ToWorker =
  | ({ t: 'table'; now: number } & WorkerTable)
  | { t: 'health'; now: number; tgArn: string; entries: [string, TargetHealthStatus | null][] }
  | { t: 'options'; options: WorkerOptions }
  | { t: 'flush'; id: number }
  /** A spare takes a dead process's place: binds the listeners of the last table it applied. */
  | { t: 'serve' }
  | { t: 'stop' };

/** Data-plane process → control plane. */
export type FromWorker =
  | { t: 'ready' }
  | { t: 'applied'; generation: number; serving: number[]; bindErrors: [number, string][]; draining: [string, number][] }
  | { t: 'idle'; identity: string }
  | { t: 'metrics'; id: number; deltas: MetricDeltas };

interface Slot {
  /** The slot's place in the pool; -1 for the spare. */
  index: number;
  worker: Worker | undefined;
  startedAt: number;
  /** Up to date: it answered `ready` and got the latest table. */
  ready: boolean;
  applied: number;
  serving: Set<number>;
  bindErrors: Map<number, string>;
  draining: Map<string, number>;
  connections: Map<string, number>;
  restartTimer: NodeJS.Timeout | undefined;
  /** Started as a spare and not yet told to serve. */
  standby: boolean;
  /** Exits in a row within a second of starting (from the second on, the next start waits a second). */
  quickExits: number;
}

function emptySlot(index: number): Slot {
  return { index, worker: undefined, startedAt: 0, ready: false, applied: 0, serving: new Set(), bindErrors: new Map(), draining: new Map(), connections: new Map(), restartTimer: undefined, standby: false, quickExits: 0 };
}

export interface WorkerPoolOptions {
  workers: number;
  /** The niceness processes run at (./options.ts). */
  niceness: number;
  /** Keep a spare process started to take a dead one's place at once (default true). */
  spare?: boolean;
  /** The control plane's metric sets, which the processes' deltas are added to. */
  metrics: LoadBalancerMetrics;
  /** Which load balancers and target groups exist now (deltas of others are dropped). */
  known: () => { lbs: ReadonlySet<string>; tgs: ReadonlySet<string> };
  /** The latest table, with the health as it is now (sent to a process that (re)starts). */
  current: () => WorkerTable | undefined;
  options: () => WorkerOptions;
  /** The platform clock's time. */
  now: () => number;
  /** A draining target's last request finished in some process. */
  onDrainingIdle: () => void;
}

const WORKER_SCRIPT = fileURLToPath(new URL('./worker.js', import.meta.url));
/** How long a metrics flush waits for the processes. */
const FLUSH_WAIT_MS = 1000;
/** How long `stop` waits for a process to close its listeners before killing it. */
const STOP_WAIT_MS = 4000;

let primaryReady = false;
function setUpPrimary(): void {
  if (primaryReady) return;
  primaryReady = true;
  // Each process accepts on the shared socket itself; the primary only binds it.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ exec: WORKER_SCRIPT, args: [], execArgv: [], serialization: 'advanced', silent: false });
}

/** The supervised data-plane processes; see the module doc. */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  /** The spare process (index -1), when kept. */
  private readonly spare: Slot | undefined;
  private started = false;
  private stopped = false;
  private flushSeq = 0;
  private readonly flushes = new Map<number, { waiting: Set<number>; done: () => void }>();
  private settleWaiters: { generation: number; resolve: () => void }[] = [];
  /** Processes that died and were started again. */
  restarts = 0;

  constructor(private readonly opts: WorkerPoolOptions) {
    for (let i = 0; i < opts.workers; i++) this.slots.push(emptySlot(i));
    if (opts.spare !== false) this.spare = emptySlot(-1);
  }

  /** Every slot that gets tables, health and options: the serving ones and the spare. */
  private get fed(): Slot[] {
    return this.spare ? [...this.slots, this.spare] : this.slots;
  }

  /** The process id of the spare, when it is up to date (diagnosis; tests). */
  get sparePid(): number | undefined {
    const w = this.spare?.worker;
    return this.spare?.ready && w && !w.isDead() ? w.process.pid : undefined;
  }

  /** Process ids of the live data-plane processes (diagnosis; tests). */
  get pids(): number[] {
    return this.slots.flatMap((s) => (s.worker?.process.pid !== undefined && !s.worker.isDead() ? [s.worker.process.pid] : []));
  }

  /** Sends a new table to every process (starting them on the first table with a listener). */
  table(t: WorkerTable): void {
    if (this.stopped) return;
    if (!this.started) {
      if (t.snapshot.listeners.length === 0) {
        this.resolveSettled();
        return;
      }
      this.started = true;
      setUpPrimary();
      for (const s of this.fed) this.fork(s);
      return; // each sends `ready`, then gets the current table
    }
    const msg: ToWorker = { t: 'table', now: this.opts.now(), ...t };
    for (const s of this.fed) if (s.ready) this.send(s, msg);
  }

  /** Sends new health of one target group's targets (null: no longer checked). */
  health(tgArn: string, entries: [string, TargetHealthStatus | null][]): void {
    const msg: ToWorker = { t: 'health', now: this.opts.now(), tgArn, entries };
    for (const s of this.fed) if (s.ready) this.send(s, msg);
  }

  /** Sends changed options to every process. */
  configure(): void {
    const msg: ToWorker = { t: 'options', options: this.opts.options() };
    for (const s of this.fed) if (s.ready) this.send(s, msg);
  }

  /** Resolves once every live process applied `generation` (or a later one). */
  settled(generation: number): Promise<void> {
    if (this.isSettled(generation)) return Promise.resolve();
    return new Promise((resolve) => this.settleWaiters.push({ generation, resolve }));
  }

  /** Whether a listener is served on this port (by the first live process that applied a table). */
  serving(port: number): boolean {
    const s = this.slots.find((x) => x.ready && x.applied > 0);
    return s ? s.serving.has(port) : false;
  }

  /** Ports whose listener could not bind, with the error (as any process saw it). */
  get bindErrors(): ReadonlyMap<number, string> {
    const out = new Map<number, string>();
    for (const s of this.slots) for (const [p, e] of s.bindErrors) out.set(p, e);
    return out;
  }

  /**
   * Requests in flight to a draining target over every process; undefined while any live
   * process has not applied its deregistration. `drainingInTable`: the latest table has it
   * draining (with no process started nothing is in flight).
   */
  requestsInFlight(identity: string, drainingInTable: boolean): number | undefined {
    if (!this.started) return drainingInTable ? 0 : undefined;
    let sum = 0;
    for (const s of this.slots) {
      if (!s.worker || s.worker.isDead()) continue;
      const n = s.ready ? s.draining.get(identity) : undefined;
      if (n === undefined) return undefined;
      sum += n;
    }
    return sum;
  }

  /** Asks every live process for its metric deltas and adds them (waits at most a second). */
  async flush(): Promise<void> {
    const live = this.slots.filter((s) => s.ready && s.worker && !s.worker.isDead());
    if (live.length === 0) return;
    const id = ++this.flushSeq;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.flushes.delete(id);
        resolve();
      }, FLUSH_WAIT_MS);
      timer.unref();
      this.flushes.set(id, {
        waiting: new Set(live.map((s) => s.index)),
        done: () => {
          clearTimeout(timer);
          this.flushes.delete(id);
          resolve();
        },
      });
      for (const s of live) this.send(s, { t: 'flush', id });
    });
  }

  /** Stops every process (they close their listeners first; killed if they take too long). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(
      this.fed.map(async (s) => {
        clearTimeout(s.restartTimer);
        const w = s.worker;
        if (!w || w.isDead()) return;
        const exited = new Promise<void>((r) => w.once('exit', () => r()));
        this.send(s, { t: 'stop' });
        const timer = setTimeout(() => w.process.kill('SIGKILL'), STOP_WAIT_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
    this.resolveSettled(true);
  }

  // ---- processes -------------------------------------------------------------------------------

  private fork(s: Slot): void {
    if (this.stopped) return;
    s.restartTimer = undefined;
    s.ready = false;
    s.applied = 0;
    s.serving = new Set();
    s.draining = new Map();
    s.connections = new Map();
    s.startedAt = Date.now();
    s.standby = s === this.spare;
    const w = cluster.fork({ BERTH_LB_WORKER_INDEX: String(s.index), BERTH_LB_STANDBY: s.standby ? '1' : '0' });
    s.worker = w;
    lowerPriority(w.process.pid, this.opts.niceness);
    w.on('message', (m: FromWorker) => {
      const at = this.slotOf(w);
      if (at) this.onMessage(at, w, m);
    });
    w.on('error', () => undefined);
    w.once('exit', (code, signal) => this.exited(w, code, signal));
  }

  /** The slot a process is in now (a spare moves into the slot of the process it replaces). */
  private slotOf(w: Worker): Slot | undefined {
    return this.fed.find((s) => s.worker === w);
  }

  private exited(w: Worker, code: number | null, signal: string | null): void {
    const s = this.slotOf(w);
    if (!s) return;
    s.ready = false;
    s.worker = undefined;
    for (const f of this.flushes.values()) if (f.waiting.delete(s.index) && f.waiting.size === 0) f.done();
    if (this.stopped) return;
    s.quickExits = Date.now() - s.startedAt < 1000 ? s.quickExits + 1 : 0;
    // The first restart is at once; a process that keeps dying at start is started once a second.
    const quick = s.quickExits > 1;
    const how = signal ?? `code ${code}`;
    if (s === this.spare) {
      console.error(`berth lb: the spare data-plane process ${w.process.pid} exited (${how}); starting another${quick ? ' in a second' : ''}`);
      s.restartTimer = setTimeout(() => this.fork(s), quick ? 1000 : 0);
      s.restartTimer.unref();
      return;
    }
    this.restarts++;
    const spare = this.spare;
    if (spare?.worker && !spare.worker.isDead()) {
      // The spare takes this slot at once (it holds the latest table), and a new spare starts.
      s.worker = spare.worker;
      s.startedAt = spare.startedAt;
      s.ready = spare.ready;
      s.applied = 0; // until it answers `serve`: settled() waits for its listeners
      s.serving = new Set();
      s.bindErrors = spare.bindErrors;
      s.draining = spare.draining;
      s.connections = new Map();
      s.standby = true;
      spare.worker = undefined;
      spare.ready = false;
      if (s.ready) this.takeOver(s);
      console.error(`berth lb: data-plane process ${w.process.pid} exited (${how}); the spare ${s.worker.process.pid} took its place`);
      this.fork(spare);
    } else {
      console.error(`berth lb: data-plane process ${w.process.pid} exited (${how}); starting it again${quick ? ' in a second' : ''}`);
      s.restartTimer = setTimeout(() => this.fork(s), quick ? 1000 : 0);
      s.restartTimer.unref();
    }
    this.resolveSettled();
  }

  /** Tells a former spare, now in a serving slot, to bind its listeners. */
  private takeOver(s: Slot): void {
    s.standby = false;
    this.send(s, { t: 'serve' });
  }

  private send(s: Slot, m: ToWorker): void {
    const w = s.worker;
    if (!w || w.isDead() || !w.isConnected()) return;
    try {
      w.send(m);
    } catch {
      // The channel closed under us: the exit handler restarts it.
    }
  }

  private onMessage(s: Slot, w: Worker, m: FromWorker): void {
    if (s.worker !== w || !m || typeof m !== 'object') return;
    switch (m.t) {
      case 'ready': {
        s.ready = true;
        this.send(s, { t: 'options', options: this.opts.options() });
        const t = this.opts.current();
        if (t) this.send(s, { t: 'table', now: this.opts.now(), ...t });
        // A spare that took a slot before it was up: it serves once it has the table.
        if (s.standby && s !== this.spare) this.takeOver(s);
        break;
      }
      case 'applied':
        s.applied = m.generation;
        s.serving = new Set(m.serving);
        s.bindErrors = new Map(m.bindErrors);
        s.draining = new Map(m.draining);
        this.resolveSettled();
        if (m.draining.some(([, n]) => n === 0)) this.opts.onDrainingIdle();
        break;
      case 'idle':
        if (s.draining.has(m.identity)) s.draining.set(m.identity, 0);
        this.opts.onDrainingIdle();
        break;
      case 'metrics': {
        if (s === this.spare) break; // it serves nothing
        this.absorb(s, m.deltas);
        const f = this.flushes.get(m.id);
        if (f && f.waiting.delete(s.index) && f.waiting.size === 0) f.done();
        break;
      }
    }
  }

  /** Adds a process's deltas; gauges: health counts as the process says, connections summed over processes. */
  private absorb(s: Slot, deltas: MetricDeltas): void {
    const known = this.opts.known();
    const metrics = this.opts.metrics;
    metrics.absorb(deltas, known);
    for (const [arn, d] of deltas.tgs) {
      if (!known.tgs.has(arn)) continue;
      const g = metrics.targetGroup(arn).gauges;
      if (d.gauges.HealthyHostCount !== undefined) g.HealthyHostCount = d.gauges.HealthyHostCount;
      if (d.gauges.UnHealthyHostCount !== undefined) g.UnHealthyHostCount = d.gauges.UnHealthyHostCount;
    }
    for (const [arn, d] of deltas.lbs) if (d.gauges.ActiveConnectionCount !== undefined) s.connections.set(arn, d.gauges.ActiveConnectionCount);
    for (const arn of known.lbs) {
      let open: number | undefined;
      for (const x of this.slots) {
        const n = x.ready ? x.connections.get(arn) : undefined;
        if (n !== undefined) open = (open ?? 0) + n;
      }
      if (open !== undefined) metrics.loadBalancer(arn).gauges.ActiveConnectionCount = open;
    }
  }

  private isSettled(generation: number): boolean {
    if (!this.started || this.stopped) return true;
    return this.slots.every((s) => !s.worker || s.worker.isDead() || (s.ready && s.applied >= generation));
  }

  private resolveSettled(all = false): void {
    const keep: typeof this.settleWaiters = [];
    for (const w of this.settleWaiters) {
      if (all || this.isSettled(w.generation)) w.resolve();
      else keep.push(w);
    }
    this.settleWaiters = keep;
  }
}
