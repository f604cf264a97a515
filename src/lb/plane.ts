/**
 * The load balancer data plane of one Berth: compile, health, proxy. It follows the store's
 * change feed for `elbv2.*` writes, compiles a fresh snapshot of the ELBv2 records into an
 * immutable routing table (./compile.ts) and hands each new table to its parts: the live
 * upstreams (./upstreams.ts), the health checker (./health.ts), the proxy (./proxy.ts) and the
 * listener servers (./listeners.ts). It implements the domain's `DataPlaneView` port (target
 * health, ports served, requests in flight to draining targets).
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
import type { DataPlaneView, ObservedTargetHealth } from '../domain/elbv2/dataPlane.js';
import type { TargetRecord } from '../domain/elbv2/records.js';
import { changesElbv2Snapshot, readElbv2Snapshot } from '../domain/elbv2/snapshot.js';
import { loadCertificate } from '../domain/elbv2/certificates.js';
import { compileTable, targetIdentity, type CompiledTable } from './compile.js';
import { HealthChecker, type HealthProbe } from './health.js';
import { ListenerServers } from './listeners.js';
import { LoadBalancerMetrics, type MetricSeries, type TargetGroupSnapshot } from './metrics.js';
import { DEFAULT_LB_OPTIONS, portFree, type LbOptions } from './options.js';
import { RequestProxy } from './proxy.js';
import { Upstreams } from './upstreams.js';

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
  private readonly upstreams = new Upstreams();
  private readonly health: HealthChecker;
  private readonly proxy: RequestProxy;
  private readonly listeners: ListenerServers;
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
      onChange: (tgArn) => this.refreshGroup(tgArn),
      probe: events.probe,
    });
    this.proxy = new RequestProxy({
      clock: platform.clock,
      upstreams: this.upstreams,
      metrics: this.metrics,
      onDrainingIdle: () => this.events.onDrainingTargetIdle?.(),
      maxRequestsPerClient: () => this.options.maxRequestsPerClient,
    });
    this.listeners = new ListenerServers(
      this.proxy,
      () => this.options.bindHost,
      (certificateArn) => loadCertificate(platform, certificateArn),
    );
  }

  /** Changes data-plane settings (they apply to the next health checks and binds). */
  configure(changes: Partial<LbOptions>): void {
    Object.assign(this.options, changes);
  }

  /** Applies the current configuration, then follows the change feed. */
  async start(): Promise<void> {
    const rev = await this.platform.store.revision();
    await this.rebuild();
    this.unwatch = this.platform.store.watch(rev, (c: Change) => {
      if (changesElbv2Snapshot(c.kind)) this.schedule();
    });
  }

  /** Stops following changes, closes listeners, checks and upstream connections. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    await this.built.catch(() => undefined);
    this.health.stop();
    this.proxy.stop();
    await this.listeners.closeAll();
    this.upstreams.closeAll();
  }

  /** Resolves when every configuration change seen so far is applied. */
  async settled(): Promise<void> {
    while (this.building || this.dirty) await this.built;
  }

  /** Ports whose listener could not bind, with the error (visible in logs and to tests). */
  get bindErrors(): ReadonlyMap<number, string> {
    return this.listeners.bindErrors;
  }

  /** Health checks waiting for their target's answer (diagnosis; tests on a ManualClock wait for none before moving time on). */
  get healthChecksInFlight(): number {
    return this.health.inFlight;
  }

  // ---- DataPlaneView ---------------------------------------------------------------------------

  targetHealth(tgArn: string, rec: TargetRecord): ObservedTargetHealth | undefined {
    const h = this.health.status(targetIdentity(tgArn, rec));
    return h && { state: h.state, reason: h.reason, description: h.description };
  }

  serving(port: number): boolean {
    return this.listeners.serving(port);
  }

  canBind(port: number): Promise<boolean> {
    return portFree(this.options.bindHost, port);
  }

  requestsInFlight(tgArn: string, rec: TargetRecord): number | undefined {
    const u = this.upstreams.get(targetIdentity(tgArn, rec));
    return u?.draining ? u.inflight : undefined;
  }

  // ---- metrics ---------------------------------------------------------------------------------

  /** Prometheus text of every load balancer's and target group's metrics. */
  prometheus(): string {
    return this.metrics.prometheus();
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
    this.adopt(table);
    await this.listeners.sync(table.listeners.values());
  }

  /** Hands a new table to every part, in the order that keeps requests safe (see below). */
  private adopt(table: CompiledTable): void {
    // Metric sets: from a load balancer's first listener on, while it exists.
    for (const l of table.listeners.values()) this.metrics.loadBalancer(l.lbArn);
    this.metrics.retain(table.loadBalancerArns, table.groups.keys());
    // Upstreams first (new targets get pools, draining ones stop being eligible below), then
    // health (so eligibility sees the targets' current state), then the swap.
    this.upstreams.sync(table, (arn) => this.metrics.targetGroup(arn));
    this.health.adopt(table);
    for (const g of this.upstreams.groups.values()) g.refresh((identity) => this.health.status(identity));
    this.proxy.adopt(table);
    // A target whose deregistration this table applied may have nothing in flight already.
    for (const u of this.upstreams.all()) {
      if (u.draining && u.inflight === 0) {
        this.events.onDrainingTargetIdle?.();
        break;
      }
    }
  }

  private refreshGroup(tgArn: string): void {
    this.upstreams.groups.get(tgArn)?.refresh((identity) => this.health.status(identity));
  }
}
