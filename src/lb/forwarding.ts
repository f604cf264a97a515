/**
 * The forwarding half of the load balancer: listener servers, routing and proxying, live
 * upstreams and the metrics they count. It is what runs in a data-plane process (./worker.ts),
 * or in the control plane's own process when the plane runs in-process (`workers: 0`).
 *
 * It is given whole tables (./compile.ts) and the targets' health (checked elsewhere, by the
 * plane's `HealthChecker` on the platform clock), and answers which ports it serves and how
 * many requests draining targets still have in flight.
 *
 * Invariants: tables are applied one at a time, in generation order (the caller awaits
 * `apply`); the order inside `apply` keeps requests safe: upstreams first (new targets get
 * pools, draining ones stop being eligible), then eligibility from health, then the routing swap,
 * then the listener binds.
 */
import type { Clock } from '../clock.js';
import type { CompiledListener, CompiledTable } from './compile.js';
import type { TargetHealthStatus } from './health.js';
import { ListenerServers } from './listeners.js';
import type { LoadBalancerMetrics } from './metrics.js';
import { RequestProxy } from './proxy.js';
import type { PemPair } from '../domain/elbv2/certificates.js';
import { Upstreams, type Upstream } from './upstreams.js';

export interface ForwardingOptions {
  clock: Clock;
  metrics: LoadBalancerMetrics;
  /** The address listeners bind to (read at each bind). */
  bindHost: () => string;
  /** Most requests one client address may have at the targets at once (read per request). */
  maxRequestsPerClient: () => number;
  /** A target's current health, undefined when it is not checked (yet). */
  healthOf: (identity: string) => TargetHealthStatus | undefined;
  /** A draining target's last request finished (or it had none when its table was applied). */
  onDrainingIdle: (identity: string) => void;
  /**
   * A standby (a data-plane process's pre-started spare): it applies tables like any other
   * but binds no listener until `takeOver`.
   */
  standby?: boolean;
}

/** Listeners, proxy and upstreams following the tables they are given; see the module doc. */
export class Forwarding {
  readonly upstreams = new Upstreams();
  private readonly proxy: RequestProxy;
  private readonly listeners: ListenerServers;
  private certificates: (arn: string) => PemPair | string = () => 'no certificate';
  /** Whether listeners are bound (false while a standby). */
  private binding: boolean;
  /** The listeners of the last table applied (bound by `takeOver`). */
  private lastListeners: CompiledListener[] = [];

  constructor(private readonly opts: ForwardingOptions) {
    this.proxy = new RequestProxy({
      clock: opts.clock,
      upstreams: this.upstreams,
      metrics: opts.metrics,
      onDrainingIdle: (u: Upstream) => opts.onDrainingIdle(u.identity),
      maxRequestsPerClient: opts.maxRequestsPerClient,
    });
    this.listeners = new ListenerServers(this.proxy, opts.bindHost, (arn) => this.certificates(arn));
    this.binding = !opts.standby;
  }

  /** Applies a table: upstreams, eligibility, routing, then listener binds (see the module doc). */
  async apply(table: CompiledTable, certificates: (arn: string) => PemPair | string): Promise<void> {
    const metrics = this.opts.metrics;
    this.certificates = certificates;
    // Metric sets: from a load balancer's first listener on, while it exists.
    for (const l of table.listeners.values()) metrics.loadBalancer(l.lbArn);
    metrics.retain(table.loadBalancerArns, table.groups.keys());
    this.upstreams.sync(table, (arn) => metrics.targetGroup(arn));
    this.refreshAll();
    this.proxy.adopt(table);
    // A target whose deregistration this table applied may have nothing in flight already.
    for (const u of this.upstreams.all()) if (u.draining && u.inflight === 0) this.opts.onDrainingIdle(u.identity);
    this.lastListeners = [...table.listeners.values()];
    if (this.binding) await this.listeners.sync(this.lastListeners);
  }

  /** A standby starts serving: binds the listeners of the last table it applied. */
  async takeOver(): Promise<void> {
    this.binding = true;
    await this.listeners.sync(this.lastListeners);
  }

  /** Recomputes one group's eligible targets from health. */
  refreshGroup(tgArn: string): void {
    this.upstreams.groups.get(tgArn)?.refresh(this.opts.healthOf);
  }

  /** Recomputes every group's eligible targets from health. */
  refreshAll(): void {
    for (const g of this.upstreams.groups.values()) g.refresh(this.opts.healthOf);
  }

  /** Whether a listener is served on this port right now. */
  serving(port: number): boolean {
    return this.listeners.serving(port);
  }

  /** Ports whose listener could not bind, with the error. */
  get bindErrors(): ReadonlyMap<number, string> {
    return this.listeners.bindErrors;
  }

  /** Requests in flight to a draining target; undefined when it is not (known to be) draining here. */
  requestsInFlight(identity: string): number | undefined {
    const u = this.upstreams.get(identity);
    return u?.draining ? u.inflight : undefined;
  }

  /** Every draining target here, with its requests in flight. */
  draining(): [string, number][] {
    const out: [string, number][] = [];
    for (const u of this.upstreams.all()) if (u.draining) out.push([u.identity, u.inflight]);
    return out;
  }

  /** Closes listeners (a short grace period for busy connections), tunnels and upstream pools. */
  async stop(): Promise<void> {
    this.proxy.stop();
    await this.listeners.closeAll();
    this.upstreams.closeAll();
  }
}
