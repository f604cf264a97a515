/**
 * The load balancer data plane of one Berth: compile, health, proxy. It follows the store's
 * change feed for `elbv2.*` writes, compiles a fresh snapshot of the ELBv2 records into an
 * immutable routing table (./compile.ts) and hands each new table to the health checker
 * (./health.ts, in this process, on the platform clock) and to the forwarding (./forwarding.ts:
 * listeners, proxy, upstreams), which runs in supervised data-plane processes of its own
 * (./workers.ts, `workers` >= 1, the default) or in this process (`workers: 0`). It implements
 * the domain's `DataPlaneView` port (target health, ports served, requests in flight to
 * draining targets).
 *
 * Invariants:
 * - It reads the store (through src/domain/elbv2) and never writes it: draining targets are
 *   removed by the target-drain controller (src/control/targetDrain.ts), which it tells when a
 *   draining target goes idle (`onDrainingTargetIdle`) so drains end promptly.
 * - Tables are applied in generation order, one at a time; changes seen while one is being
 *   applied coalesce into one more compile.
 * - Everything time-driven (health check intervals and timeouts, slow start, metric minutes)
 *   runs on the platform clock; only network I/O bounds use real timers.
 */
import type { Platform } from '../domain/platform.js';
import type { Change } from '../store/types.js';
import type { DataPlaneView, ListenerState, ObservedTargetHealth } from '../domain/elbv2/dataPlane.js';
import type { TargetRecord } from '../domain/elbv2/records.js';
import { changesElbv2Snapshot, readElbv2Snapshot, type Elbv2Snapshot } from '../domain/elbv2/snapshot.js';
import { loadCertificate, type PemPair } from '../domain/elbv2/certificates.js';
import { compileTable, targetIdentity, type CompiledListener, type CompiledTable } from './compile.js';
import { Forwarding } from './forwarding.js';
import { HealthChecker, type HealthProbe, type TargetHealthStatus } from './health.js';
import { LoadBalancerMetrics, type MetricSeries, type TargetGroupSnapshot } from './metrics.js';
import { DEFAULT_LB_OPTIONS, portFree, type LbOptions } from './options.js';
import { WorkerPool, type WorkerTable } from './workers.js';
import { HaproxyForwarding } from './haproxy/forwarding.js';

export type { MetricSeries } from './metrics.js';

/** What the data plane tells the rest of Berth (typed callbacks, wired by the composition root). */
export interface LoadBalancerPlaneEvents {
  /**
   * A draining target has no request in flight any more (or had none when the deregistration
   * was applied): its record may go now. Called on the request path, so it must not block.
   */
  onDrainingTargetIdle?: () => void;
  /** How health checks are made (tests); default real HTTP(S) requests. */
  probe?: HealthProbe;
}

export class LoadBalancerPlane implements DataPlaneView {
  private readonly options: LbOptions;
  private readonly metrics: LoadBalancerMetrics;
  private readonly health: HealthChecker;
  /** Forwarding in this process (`workers: 0`)... */
  private readonly local: Forwarding | undefined;
  /** ...or in data-plane processes... */
  private readonly pool: WorkerPool | undefined;
  /** ...or by a supervised haproxy (`plane: 'haproxy'`). */
  private readonly haproxy: HaproxyForwarding | undefined;
  private table: CompiledTable | undefined;
  private snapshot: Elbv2Snapshot | undefined;
  private certificates: [string, PemPair | string][] = [];
  /** The ports of the listeners forwarding to each target group, in the latest table. */
  private groupPorts = new Map<string, number[]>();
  private generation = 0;
  private unwatch: (() => void) | undefined;
  private building = false;
  private dirty = false;
  private stopped = false;
  private built: Promise<void> = Promise.resolve();

  constructor(
    private readonly platform: Platform,
    options: Partial<LbOptions> = {},
    private readonly events: LoadBalancerPlaneEvents = {},
  ) {
    this.options = { ...DEFAULT_LB_OPTIONS, ...options };
    this.metrics = new LoadBalancerMetrics(platform.clock);
    this.health = new HealthChecker({
      clock: platform.clock,
      secondMs: () => this.options.secondMs,
      onChange: (tgArn) => this.healthChanged(tgArn),
      probe: events.probe,
    });
    if (this.options.plane === 'haproxy') {
      if (!this.options.haproxyDir) throw new Error('the HAProxy load balancer plane needs a directory (haproxyDir)');
      this.haproxy = new HaproxyForwarding({
        dir: this.options.haproxyDir,
        binary: this.options.haproxyBinary,
        bindHost: () => this.options.bindHost,
        secondMs: () => this.options.secondMs,
        healthOf: (identity) => this.health.status(identity),
        metrics: this.metrics,
        onDrainingIdle: () => this.events.onDrainingTargetIdle?.(),
        log: (line) => console.error(line),
        certificate: (arn) => loadCertificate(this.platform, arn),
        secretsBase: this.options.haproxySecretsDir,
        niceness: this.options.niceness,
      });
    } else if (this.options.workers > 0) {
      this.pool = new WorkerPool({
        workers: this.options.workers,
        niceness: this.options.niceness,
        spare: this.options.spare,
        metrics: this.metrics,
        known: () => ({ lbs: new Set(this.table?.loadBalancerArns ?? []), tgs: new Set(this.table?.groups.keys() ?? []) }),
        current: () => this.workerTable(),
        options: () => ({ bindHost: this.options.bindHost, maxRequestsPerClient: this.options.maxRequestsPerClient }),
        now: () => platform.clock.now(),
        onDrainingIdle: () => this.events.onDrainingTargetIdle?.(),
      });
    } else {
      this.local = new Forwarding({
        clock: platform.clock,
        metrics: this.metrics,
        bindHost: () => this.options.bindHost,
        maxRequestsPerClient: () => this.options.maxRequestsPerClient,
        healthOf: (identity) => this.health.status(identity),
        onDrainingIdle: () => this.events.onDrainingTargetIdle?.(),
      });
    }
  }

  /** Changes data-plane settings (they apply to the next health checks, binds and requests). */
  configure(changes: Partial<LbOptions>): void {
    Object.assign(this.options, changes);
    this.pool?.configure();
  }

  /** Applies the current configuration, then follows the change feed. */
  async start(): Promise<void> {
    const rev = await this.platform.store.revision();
    await this.rebuild();
    this.unwatch = this.platform.store.watch(rev, (c: Change) => {
      if (changesElbv2Snapshot(c.kind)) this.schedule();
    });
  }

  /** Stops following changes, closes listeners, checks, upstream connections and data-plane processes. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    await this.built.catch(() => undefined);
    this.health.stop();
    await this.local?.stop();
    await this.pool?.stop();
    await this.haproxy?.stop();
  }

  /** Resolves when every configuration change seen so far is applied (by every data-plane process). */
  async settled(): Promise<void> {
    while (this.building || this.dirty) await this.built;
    await this.pool?.settled(this.generation);
    await this.haproxy?.settled();
  }

  /** Ports whose listener could not bind, with the error (visible in logs and to tests). */
  get bindErrors(): ReadonlyMap<number, string> {
    return this.local?.bindErrors ?? this.haproxy?.bindErrors ?? this.pool!.bindErrors;
  }

  /** Health checks waiting for their target's answer (diagnosis; tests on a ManualClock wait for none before moving time on). */
  get healthChecksInFlight(): number {
    return this.health.inFlight;
  }

  /** Process ids of the data-plane processes (none when forwarding in this process). */
  get dataPlanePids(): number[] {
    return this.haproxy ? (this.haproxy.pid ? [this.haproxy.pid] : []) : (this.pool?.pids ?? []);
  }

  /** How many times the HAProxy plane loaded a configuration (0 for the embedded plane). */
  get dataPlaneLoads(): number {
    return this.haproxy?.loads ?? 0;
  }

  /** How many times a data-plane process died and was started again. */
  get dataPlaneRestarts(): number {
    return this.haproxy?.restarts ?? this.pool?.restarts ?? 0;
  }

  // ---- DataPlaneView ---------------------------------------------------------------------------

  /**
   * A target passes for healthy only once the listeners that forward to its group are served:
   * the checks run here and can pass before a data-plane process (starting, or a haproxy
   * reloading) has bound a new listener's port, and the rest of Berth (a deployment's progress,
   * DescribeTargetHealth) must be able to take "healthy" to mean reachable through the load
   * balancer. A port that failed to bind does not hold its targets back (its error is reported).
   */
  targetHealth(tgArn: string, rec: TargetRecord): ObservedTargetHealth | undefined {
    const h = this.health.status(targetIdentity(tgArn, rec));
    if (!h) return undefined;
    if (h.state === 'healthy' && this.listenerPending(tgArn)) return { state: 'initial', reason: 'Elb.RegistrationInProgress', description: 'Target registration is in progress' };
    return { state: h.state, reason: h.reason, description: h.description };
  }

  /** Whether a listener forwarding to the target group is not served yet (nor failed to bind). */
  private listenerPending(tgArn: string): boolean {
    return this.groupPorts.get(tgArn)?.some((port) => this.listenerState(port) === 'pending') ?? false;
  }

  serving(port: number): boolean {
    if (this.haproxy) return this.haproxy.serving(port);
    return this.local ? this.local.serving(port) : this.pool!.serving(port);
  }

  listenerState(port: number): ListenerState {
    if (this.serving(port)) return 'served';
    return this.bindErrors.has(port) ? 'failed' : 'pending';
  }

  canBind(port: number): Promise<boolean> {
    return portFree(this.options.bindHost, port);
  }

  requestsInFlight(tgArn: string, rec: TargetRecord): number | undefined {
    const identity = targetIdentity(tgArn, rec);
    if (this.local) return this.local.requestsInFlight(identity);
    if (this.haproxy) return this.haproxy.requestsInFlight(identity);
    const draining = this.table?.groups.get(tgArn)?.targets.some((t) => t.identity === identity && t.draining) ?? false;
    return this.pool!.requestsInFlight(identity, draining);
  }

  // ---- metrics ---------------------------------------------------------------------------------

  /** Prometheus text of every load balancer's and target group's metrics (the data-plane processes' counts first collected). */
  async prometheus(): Promise<string> {
    await this.pool?.flush();
    await this.haproxy?.flush();
    let text = this.metrics.prometheus();
    if (this.pool || this.haproxy) text += `# TYPE berth_lb_data_plane_restarts_total counter\nberth_lb_data_plane_restarts_total ${this.dataPlaneRestarts}\n`;
    return text;
  }

  /** Every target group's counters and its response times since the last snapshot (the console's charts). */
  metricSnapshot(): TargetGroupSnapshot[] {
    return this.metrics.snapshot();
  }

  /** Per-minute metrics of every load balancer and target group (the last 60 minutes). */
  series(): MetricSeries[] {
    return this.metrics.series();
  }

  // ---- applying configuration ------------------------------------------------------------------

  private schedule(): void {
    if (this.stopped) return;
    if (this.building) {
      this.dirty = true;
      return;
    }
    this.building = true;
    this.built = (async () => {
      try {
        do {
          this.dirty = false;
          await this.rebuild();
        } while (this.dirty && !this.stopped);
      } catch (e) {
        console.error('berth lb: applying configuration failed:', e);
      } finally {
        this.building = false;
      }
    })();
  }

  private async rebuild(): Promise<void> {
    const snapshot = await readElbv2Snapshot(this.platform);
    if (this.stopped) return;
    const table = compileTable(snapshot, ++this.generation);
    this.table = table;
    this.snapshot = snapshot;
    // Metric sets: from a load balancer's first listener on, while it exists.
    for (const l of table.listeners.values()) this.metrics.loadBalancer(l.lbArn);
    this.metrics.retain(table.loadBalancerArns, table.groups.keys());
    for (const arn of table.groups.keys()) this.metrics.targetGroup(arn);
    this.metrics.setOwners(targetGroupOwners(table));
    this.groupPorts = targetGroupPorts(table);
    // Health first, so the forwarding's eligibility sees the targets' current state.
    this.health.adopt(table);
    if (this.local) {
      await this.local.apply(table, (arn) => loadCertificate(this.platform, arn));
      return;
    }
    if (this.haproxy) {
      await this.haproxy.apply(table, snapshot);
      return;
    }
    const certificates = new Map<string, PemPair | string>();
    for (const l of table.listeners.values()) {
      if (l.protocol !== 'HTTPS') continue;
      for (const arn of [l.certificateArn, ...l.extraCertificateArns]) if (!certificates.has(arn)) certificates.set(arn, loadCertificate(this.platform, arn));
    }
    this.certificates = [...certificates];
    this.pool!.table(this.workerTable()!);
  }

  /** The latest table as data-plane processes get it, with the health as it is now. */
  private workerTable(): WorkerTable | undefined {
    if (!this.table || !this.snapshot) return undefined;
    const health: [string, TargetHealthStatus][] = [];
    for (const g of this.table.groups.values()) {
      for (const t of g.targets) {
        const h = this.health.status(t.identity);
        if (h) health.push([t.identity, h]);
      }
    }
    return { generation: this.table.generation, snapshot: this.snapshot, certificates: this.certificates, health };
  }

  private healthChanged(tgArn: string): void {
    if (this.local) {
      this.local.refreshGroup(tgArn);
      return;
    }
    if (this.haproxy) {
      this.haproxy.refreshGroup(tgArn);
      return;
    }
    const g = this.table?.groups.get(tgArn);
    if (!g) return;
    this.pool!.health(tgArn, g.targets.map((t) => [t.identity, this.health.status(t.identity) ?? null]));
  }
}

/** Each (listener, target group) pair where the listener forwards to the group, by a rule or its default action. */
function* forwards(table: CompiledTable): Generator<[CompiledListener, string]> {
  for (const l of table.listeners.values()) {
    for (const action of [l.defaultAction, ...l.rules.map((r) => r.action)]) {
      if (action.type === 'forward') for (const g of action.groups) yield [l, g];
    }
  }
}

/** The ports of the listeners forwarding to each target group. */
function targetGroupPorts(table: CompiledTable): Map<string, number[]> {
  const ports = new Map<string, number[]>();
  for (const [l, g] of forwards(table)) {
    const list = ports.get(g) ?? [];
    if (!list.includes(l.port)) list.push(l.port);
    ports.set(g, list);
  }
  return ports;
}

/** The load balancer forwarding to each target group (the first listener's that does). */
function targetGroupOwners(table: CompiledTable): Map<string, string> {
  const owners = new Map<string, string>();
  for (const [l, g] of forwards(table)) if (!owners.has(g)) owners.set(g, l.lbArn);
  return owners;
}
