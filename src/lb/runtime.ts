/**
 * The load balancer data plane of one Berth: listeners on host ports, routing, proxying with
 * pooled keep-alive upstream connections (undici), health checks, draining, stickiness and
 * metrics.
 *
 * Invariants:
 * - Routing reads one immutable `Table`, compiled from a whole snapshot of the ELBv2 records
 *   whenever the store's change feed shows an `elbv2.*` write, and swapped in one assignment;
 *   a request never sees half of a configuration change.
 * - Per-target live state (health, in-flight count, connection pool) lives in `TargetState`
 *   objects that survive recompiles; a target group's `eligible` list is replaced (never
 *   mutated) when health changes.
 * - A draining target receives no new requests; its record is deleted from the store when its
 *   in-flight requests reach zero or its deregistration delay (by the injected clock) passes.
 */
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { connect, isIP, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type * as ELB from '../generated/elbv2.js';
import type { Platform } from '../domain/platform.js';
import type { Change } from '../store/types.js';
import type { DataPlaneView, ObservedTargetHealth } from '../domain/elbv2/dataPlane.js';
import type { ListenerRecord, LoadBalancerRecord, RuleRecord, TargetGroupRecord, TargetRecord } from '../domain/elbv2/records.js';
import { KIND } from '../domain/elbv2/records.js';
import { loadCertificate } from '../domain/elbv2/certificates.js';
import { MetricSet, prometheusText, type MinuteMetrics } from './metrics.js';
import { compileConditions, compileMatcher, RequestView, type Predicate } from './match.js';
import { DEFAULT_LB_OPTIONS, portFree, type LbOptions } from './options.js';

type HealthState = 'initial' | 'healthy' | 'unhealthy';

/** Live state of one registered target. */
class TargetState {
  inflight = 0;
  health: HealthState = 'initial';
  reason: ELB.TargetHealthReasonEnum | undefined = 'Elb.RegistrationInProgress';
  description: string | undefined = 'Target registration is in progress';
  okRun = 0;
  failRun = 0;
  draining = false;
  drainingSince = 0;
  rev = 0;
  healthySince = 0;
  timer: NodeJS.Timeout | undefined;
  checking = false;
  readonly cookie: string;
  readonly pool: Pool;
  readonly host: string;
  constructor(
    readonly key: string,
    readonly tgArn: string,
    readonly id: string,
    readonly port: number,
    readonly registeredAt: number,
    tls: boolean,
  ) {
    this.host = isIP(id) === 6 ? `[${id}]` : id;
    this.cookie = Buffer.from(`${key}@${registeredAt}`).toString('base64url');
    this.pool = new Pool(`${tls ? 'https' : 'http'}://${this.host}:${port}`, {
      connections: 512,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      connect: tls ? { rejectUnauthorized: false } : undefined,
    });
  }
}

/** Live state of one target group. */
class GroupState {
  targets = new Map<string, TargetState>();
  /** Targets new requests may go to: healthy ones, or every non-draining one when none is (fail open). */
  eligible: TargetState[] = [];
  rr = 0;
  inUse = false;
  algorithm = 'round_robin';
  sticky = false;
  stickyMs = 86_400_000;
  slowStartMs = 0;
  matcher: (s: number) => boolean = () => true;
  readonly cookie: string;
  readonly metrics: MetricSet;
  constructor(
    public record: TargetGroupRecord,
    platform: Platform,
  ) {
    this.cookie = Buffer.from(record.arn).toString('base64url');
    this.metrics = new MetricSet(platform.clock);
  }
}

type CompiledAction =
  | {
      type: 'forward';
      groups: GroupState[];
      weights: number[];
      current: number[];
      total: number;
      sticky: boolean;
      stickyMs: number;
    }
  | { type: 'redirect'; cfg: ELB.RedirectActionConfig }
  | { type: 'fixed'; status: number; contentType: string; body: Buffer };

interface CompiledListener {
  arn: string;
  port: number;
  protocol: string;
  lbArn: string;
  lbName: string;
  idleMs: number;
  metrics: MetricSet;
  rules: { match: Predicate; action: CompiledAction }[];
  defaultAction: CompiledAction;
}

interface Table {
  byPort: Map<number, CompiledListener>;
}

interface ServerEntry {
  server: Server;
  protocol: string;
  certArn: string;
  lbArn: string;
  connections: number;
}

/** Response headers that belong to one hop (their lengths, 10 and 17, are pre-checked on the hot path). */
const SKIP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'expect', 'proxy-authorization']);

/** Where a client socket keeps the abort of its request in flight (one at a time on HTTP/1.1). */
const ABORT = Symbol('berth.lb.abort');

const TRACE_PREFIX = randomBytes(4).toString('hex');
let traceCounter = 0;

function traceId(): string {
  traceCounter = (traceCounter + 1) % 0x1_0000_0000;
  return `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${TRACE_PREFIX}${traceCounter.toString(16).padStart(16, '0')}`;
}

function elbPage(status: number, text: string): string {
  return `<html>\r\n<head><title>${status} ${text}</title></head>\r\n<body>\r\n<center><h1>${status} ${text}</h1></center>\r\n</body>\r\n</html>\r\n`;
}
const ELB_PAGES: Record<number, Buffer> = {
  400: Buffer.from(elbPage(400, 'Bad Request')),
  502: Buffer.from(elbPage(502, 'Bad Gateway')),
  503: Buffer.from(elbPage(503, 'Service Temporarily Unavailable')),
  504: Buffer.from(elbPage(504, 'Gateway Time-out')),
};

/** Per-minute metrics of every load balancer and target group (the last 60 minutes). */
export interface MetricSeries {
  loadBalancerArn?: string;
  targetGroupArn?: string;
  minutes: MinuteMetrics[];
}

export class LbRuntime implements DataPlaneView {
  private table: Table = { byPort: new Map() };
  private groups = new Map<string, GroupState>();
  private lbMetrics = new Map<string, MetricSet>();
  private servers = new Map<number, ServerEntry>();
  private unwatch: (() => void) | undefined;
  private building = false;
  private dirty = false;
  private stopped = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private built: Promise<void> = Promise.resolve();
  private upgraded = new Set<Socket>();
  private draining = new Map<string, { t: TargetState; delayMs: number; rev: number }>();
  /** Ports whose listener could not bind, with the error (visible in logs and to tests). */
  readonly bindErrors = new Map<number, string>();

  private readonly options: LbOptions;

  constructor(
    private platform: Platform,
    options: Partial<LbOptions> = {},
  ) {
    this.options = { ...DEFAULT_LB_OPTIONS, ...options };
  }

  /** Changes data-plane settings (they apply to the next health checks and binds). */
  configure(changes: Partial<LbOptions>): void {
    Object.assign(this.options, changes);
  }

  async start(): Promise<void> {
    const rev = await this.platform.store.revision();
    await this.rebuild();
    this.unwatch = this.platform.store.watch(rev, (c: Change) => {
      if (c.kind.startsWith('elbv2.')) this.schedule();
    });
    this.sweepTimer = setInterval(() => this.sweepDraining(), 200);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.built.catch(() => undefined);
    for (const s of this.upgraded) s.destroy();
    await Promise.all([...this.servers.values()].map((s) => closeServer(s.server)));
    this.servers.clear();
    for (const g of this.groups.values()) for (const t of g.targets.values()) this.dropTarget(t);
    this.groups.clear();
  }

  /** Resolves when every configuration change seen so far is applied. */
  async settled(): Promise<void> {
    while (this.building || this.dirty) await this.built;
  }

  targetHealth(tgArn: string, rec: TargetRecord): ObservedTargetHealth | undefined {
    const g = this.groups.get(tgArn);
    const t = g?.targets.get(`${rec.region}/${rec.tgName}/${rec.id}/${rec.port}`);
    if (!g || !t || t.registeredAt !== rec.registeredAt || !g.inUse) return undefined;
    return { state: t.health, reason: t.reason, description: t.description };
  }

  canBind(port: number): Promise<boolean> {
    return portFree(this.options.bindHost, port);
  }

  /** The port a listener is served on right now, if any. */
  serving(port: number): boolean {
    return this.servers.has(port);
  }

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
    const store = this.platform.store;
    const [lbs, tgs, listeners, rules, targets] = await Promise.all([
      store.list<LoadBalancerRecord>(KIND.lb),
      store.list<TargetGroupRecord>(KIND.tg),
      store.list<ListenerRecord>(KIND.listener),
      store.list<RuleRecord>(KIND.rule),
      store.list<TargetRecord>(KIND.target),
    ]);
    if (this.stopped) return;

    // Target groups and their targets.
    const seenGroups = new Set<string>();
    for (const { value: tg } of tgs) {
      seenGroups.add(tg.arn);
      let g = this.groups.get(tg.arn);
      if (!g) this.groups.set(tg.arn, (g = new GroupState(tg, this.platform)));
      const hcChanged = JSON.stringify(g.record.healthCheck) !== JSON.stringify(tg.healthCheck);
      g.record = tg;
      g.algorithm = tg.attributes['load_balancing.algorithm.type'] ?? 'round_robin';
      g.sticky = tg.attributes['stickiness.enabled'] === 'true' && (tg.attributes['stickiness.type'] ?? 'lb_cookie') === 'lb_cookie';
      g.stickyMs = Number(tg.attributes['stickiness.lb_cookie.duration_seconds'] ?? '86400') * 1000;
      g.slowStartMs = Number(tg.attributes['slow_start.duration_seconds'] ?? '0') * 1000;
      g.matcher = compileMatcher(tg.healthCheck.matcher);
      if (hcChanged) for (const t of g.targets.values()) this.restartChecks(g, t);
    }
    for (const [arn, g] of this.groups) {
      if (seenGroups.has(arn)) continue;
      for (const t of g.targets.values()) this.dropTarget(t);
      this.groups.delete(arn);
    }
    const seenTargets = new Set<TargetState>();
    for (const { value: rec, rev } of targets) {
      const g = this.groups.get(rec.tgArn);
      if (!g) continue;
      const key = `${rec.region}/${rec.tgName}/${rec.id}/${rec.port}`;
      let t = g.targets.get(key);
      if (t && t.registeredAt !== rec.registeredAt) {
        this.dropTarget(t);
        t = undefined;
      }
      if (!t) {
        t = new TargetState(key, rec.tgArn, rec.id, rec.port, rec.registeredAt, g.record.protocol === 'HTTPS');
        g.targets.set(key, t);
      }
      t.rev = rev;
      if (rec.state === 'draining' && !t.draining) {
        t.draining = true;
        t.drainingSince = rec.drainingSince ?? this.platform.clock.now();
        this.stopChecks(t);
      }
      if (t.draining) {
        this.draining.set(key, { t, rev, delayMs: Number(g.record.attributes['deregistration_delay.timeout_seconds'] ?? '300') * 1000 });
      }
      seenTargets.add(t);
    }
    for (const g of this.groups.values()) {
      for (const [key, t] of g.targets) {
        if (seenTargets.has(t)) continue;
        g.targets.delete(key);
        this.draining.delete(key);
        this.dropTarget(t);
      }
    }

    // Listeners and rules, compiled.
    const lbByArn = new Map(lbs.map((r) => [r.value.arn, r.value]));
    const rulesByListener = new Map<string, RuleRecord[]>();
    for (const { value: r } of rules) (rulesByListener.get(r.listenerArn) ?? rulesByListener.set(r.listenerArn, []).get(r.listenerArn)!).push(r);
    const inUse = new Set<GroupState>();
    const byPort = new Map<number, CompiledListener>();
    for (const { value: l } of listeners) {
      const lb = lbByArn.get(l.lbArn);
      if (!lb) continue;
      let metrics = this.lbMetrics.get(lb.arn);
      if (!metrics) this.lbMetrics.set(lb.arn, (metrics = new MetricSet(this.platform.clock)));
      const compileAction = (actions: ELB.Action[]) => this.compileAction(actions, inUse);
      const rs = (rulesByListener.get(l.arn) ?? []).sort((a, b) => a.priority - b.priority);
      byPort.set(l.port, {
        arn: l.arn,
        port: l.port,
        protocol: l.protocol,
        lbArn: lb.arn,
        lbName: lb.name,
        idleMs: Number(lb.attributes['idle_timeout.timeout_seconds'] ?? '60') * 1000,
        metrics,
        rules: rs.map((r) => ({ match: compileConditions(r.conditions), action: compileAction(r.actions) })),
        defaultAction: compileAction(l.defaultActions),
      });
    }
    for (const arn of this.lbMetrics.keys()) if (!lbByArn.has(arn)) this.lbMetrics.delete(arn);

    // Health checking follows use: targets of groups no listener uses are `unused`.
    for (const g of this.groups.values()) {
      const used = inUse.has(g);
      if (used !== g.inUse) {
        g.inUse = used;
        for (const t of g.targets.values()) this.restartChecks(g, t);
      } else {
        for (const t of g.targets.values()) if (!t.draining && !t.timer && !t.checking && g.inUse) this.restartChecks(g, t);
      }
      this.recompute(g);
    }

    this.table = { byPort };
    await this.reconcileServers(listeners.map((r) => r.value).filter((l) => lbByArn.has(l.lbArn)));
    this.sweepDraining();
  }

  private compileAction(actions: ELB.Action[], inUse: Set<GroupState>): CompiledAction {
    const a = actions[0]!;
    if (a.Type === 'redirect') return { type: 'redirect', cfg: a.RedirectConfig! };
    if (a.Type === 'fixed-response') {
      const f = a.FixedResponseConfig!;
      return { type: 'fixed', status: Number(f.StatusCode), contentType: f.ContentType ?? 'text/plain', body: Buffer.from(f.MessageBody ?? '') };
    }
    const tuples = a.ForwardConfig?.TargetGroups ?? (a.TargetGroupArn ? [{ TargetGroupArn: a.TargetGroupArn, Weight: 1 }] : []);
    const groups: GroupState[] = [];
    const weights: number[] = [];
    for (const t of tuples) {
      const g = this.groups.get(t.TargetGroupArn!);
      if (!g) continue;
      groups.push(g);
      weights.push(t.Weight ?? 1);
      inUse.add(g);
    }
    const st = a.ForwardConfig?.TargetGroupStickinessConfig;
    return {
      type: 'forward',
      groups,
      weights,
      current: weights.map(() => 0),
      total: weights.reduce((x, y) => x + y, 0),
      sticky: !!st?.Enabled && groups.length > 1,
      stickyMs: (st?.DurationSeconds ?? 0) * 1000,
    };
  }

  // ---- health -------------------------------------------------------------------------------

  private recompute(g: GroupState): void {
    const active: TargetState[] = [];
    const healthy: TargetState[] = [];
    let unhealthy = 0;
    const hcOff = !g.record.healthCheck.enabled;
    for (const t of g.targets.values()) {
      if (t.draining) continue;
      active.push(t);
      if (hcOff || t.health === 'healthy') healthy.push(t);
      else if (t.health === 'unhealthy') unhealthy++;
    }
    g.eligible = healthy.length ? healthy : active;
    g.metrics.gauges.HealthyHostCount = healthy.length;
    g.metrics.gauges.UnHealthyHostCount = unhealthy;
  }

  private stopChecks(t: TargetState): void {
    if (t.timer) clearTimeout(t.timer);
    t.timer = undefined;
  }

  private restartChecks(g: GroupState, t: TargetState): void {
    this.stopChecks(t);
    t.health = 'initial';
    t.reason = 'Elb.RegistrationInProgress';
    t.description = 'Target registration is in progress';
    t.okRun = 0;
    t.failRun = 0;
    if (this.stopped || t.draining || !g.inUse || !g.record.healthCheck.enabled) return;
    t.timer = setTimeout(() => this.check(g, t), 0);
    t.timer.unref();
  }

  private check(g: GroupState, t: TargetState): void {
    t.timer = undefined;
    if (this.stopped || t.draining || g.targets.get(t.key) !== t || !g.inUse) return;
    const hc = g.record.healthCheck;
    const secondMs = this.options.secondMs;
    const port = hc.port === 'traffic-port' ? t.port : Number(hc.port);
    const started = Date.now();
    t.checking = true;
    const done = (ok: boolean, reason?: ELB.TargetHealthReasonEnum, description?: string) => {
      if (!t.checking) return;
      t.checking = false;
      clearTimeout(timeout);
      if (this.stopped || t.draining || g.targets.get(t.key) !== t) return;
      this.applyCheck(g, t, ok, reason, description);
      const wait = Math.max(0, hc.intervalSeconds * secondMs - (Date.now() - started));
      t.timer = setTimeout(() => this.check(g, t), wait);
      t.timer.unref();
    };
    const req = (hc.protocol === 'HTTPS' ? httpsRequest : httpRequest)(
      { host: t.id, port, path: hc.path, method: 'GET', agent: false, rejectUnauthorized: false, headers: { 'user-agent': 'ELB-HealthChecker/2.0', connection: 'close' } },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        if (g.matcher(code)) done(true);
        else done(false, 'Target.ResponseCodeMismatch', `Health checks failed with these codes: [${code}]`);
      },
    );
    const timeout = setTimeout(() => {
      done(false, 'Target.Timeout', 'Request timed out');
      req.destroy();
    }, hc.timeoutSeconds * secondMs);
    req.on('error', () => done(false, 'Target.FailedHealthChecks', 'Health checks failed'));
    req.end();
  }

  private applyCheck(g: GroupState, t: TargetState, ok: boolean, reason?: ELB.TargetHealthReasonEnum, description?: string): void {
    const hc = g.record.healthCheck;
    const before = t.health;
    if (ok) {
      t.okRun++;
      t.failRun = 0;
      // A new target needs one passing check; an unhealthy one needs HealthyThresholdCount in a row.
      if (t.health === 'initial' || (t.health === 'unhealthy' && t.okRun >= hc.healthyThreshold)) {
        t.health = 'healthy';
        t.healthySince = this.platform.clock.now();
        t.reason = undefined;
        t.description = undefined;
      }
    } else {
      t.failRun++;
      t.okRun = 0;
      if (t.health === 'unhealthy' || t.failRun >= hc.unhealthyThreshold) {
        t.health = 'unhealthy';
        t.reason = reason;
        t.description = description;
      } else if (t.health === 'initial') {
        t.reason = 'Elb.InitialHealthChecking';
        t.description = 'Initial health checks in progress';
      }
    }
    if (before !== t.health) this.recompute(g);
  }

  // ---- draining -----------------------------------------------------------------------------

  private dropTarget(t: TargetState): void {
    this.stopChecks(t);
    // close() lets requests in flight finish before the connections go.
    t.pool.close().catch(() => undefined);
  }

  private sweepDraining(): void {
    if (this.stopped) return;
    const now = this.platform.clock.now();
    for (const [key, d] of this.draining) {
      if (d.t.inflight > 0 && now - d.t.drainingSince < d.delayMs) continue;
      this.draining.delete(key);
      const [region, tgName, ...rest] = key.split('/');
      void this.platform.store
        .commit([{ kind: KIND.target, key: `${region}/${tgName}/${rest.join('/')}`, value: null, expectRev: d.rev }])
        .catch(() => undefined); // re-registered meanwhile: the newer record wins
    }
  }

  private finished(t: TargetState): void {
    t.inflight--;
    if (t.draining && t.inflight === 0) this.sweepDraining();
  }

  // ---- serving ------------------------------------------------------------------------------

  private async reconcileServers(listeners: ListenerRecord[]): Promise<void> {
    if (this.stopped) return;
    const host = this.options.bindHost;
    const want = new Map(listeners.map((l) => [l.port, l]));
    for (const [port, s] of this.servers) {
      const l = want.get(port);
      if (!l || l.protocol !== s.protocol || (l.certificates[0]?.CertificateArn ?? '') !== s.certArn) {
        this.servers.delete(port);
        await closeServer(s.server);
      } else {
        s.lbArn = l.lbArn;
        this.tuneServer(s.server, port);
      }
    }
    for (const [port, l] of want) {
      if (this.servers.has(port) || this.stopped) continue;
      const certArn = l.certificates[0]?.CertificateArn ?? '';
      let server: Server;
      if (l.protocol === 'HTTPS') {
        const pem = loadCertificate(this.platform, certArn);
        if (typeof pem === 'string') {
          this.bindErrors.set(port, pem);
          console.error(`berth lb: listener ${l.arn}: ${pem}`);
          continue;
        }
        server = createHttpsServer({ cert: pem.cert, key: pem.key });
      } else {
        server = createHttpServer();
      }
      const entry: ServerEntry = { server, protocol: l.protocol, certArn, lbArn: l.lbArn, connections: 0 };
      server.on('request', (req, res) => this.onRequest(port, req, res));
      server.on('upgrade', (req, socket, head) => this.onUpgrade(port, req, socket as Socket, head));
      server.on('connection', (sock: Socket & { [ABORT]?: (err?: Error) => void }) => {
        entry.connections++;
        this.connectionGauge(entry);
        sock.once('close', () => {
          sock[ABORT]?.(new Error('the client closed the connection'));
          entry.connections--;
          this.connectionGauge(entry);
        });
      });
      if (l.protocol === 'HTTPS') {
        server.on('secureConnection', (tls: Socket & { [ABORT]?: (err?: Error) => void }) => {
          tls.once('close', () => tls[ABORT]?.(new Error('the client closed the connection')));
        });
      }
      server.on('clientError', (_err, sock: Socket) => {
        this.table.byPort.get(port)?.metrics.count('HTTPCode_ELB_4XX_Count');
        if (sock.writable) sock.end(`HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: ${ELB_PAGES[400]!.length}\r\n\r\n${ELB_PAGES[400]!.toString()}`);
        else sock.destroy();
      });
      this.tuneServer(server, port);
      const err = await new Promise<Error | undefined>((resolve) => {
        server.once('error', resolve);
        server.listen(port, host, () => {
          server.off('error', resolve);
          resolve(undefined);
        });
      });
      if (err) {
        this.bindErrors.set(port, String(err));
        console.error(`berth lb: listener ${l.arn} cannot listen on ${host}:${port}: ${err}`);
        continue;
      }
      this.bindErrors.delete(port);
      this.servers.set(port, entry);
    }
  }

  private connectionGauge(entry: ServerEntry): void {
    let n = 0;
    for (const s of this.servers.values()) if (s.lbArn === entry.lbArn) n += s.connections;
    const m = this.lbMetrics.get(entry.lbArn);
    if (m) m.gauges.ActiveConnectionCount = n;
  }

  private tuneServer(server: Server, port: number): void {
    const idle = this.table.byPort.get(port)?.idleMs ?? 60_000;
    // Idle client connections close after the idle timeout; a request waiting on its target is
    // bounded by the upstream timeouts instead (answered with 504), as on ALB.
    server.keepAliveTimeout = idle;
    server.timeout = 0;
    server.requestTimeout = 0;
    server.headersTimeout = Math.max(idle + 1000, 60_000);
  }

  private elbError(l: CompiledListener | undefined, res: ServerResponse, status: number): void {
    if (l) {
      l.metrics.count(status >= 500 ? 'HTTPCode_ELB_5XX_Count' : 'HTTPCode_ELB_4XX_Count');
      if (status === 502) l.metrics.count('HTTPCode_ELB_502_Count');
      else if (status === 503) l.metrics.count('HTTPCode_ELB_503_Count');
      else if (status === 504) l.metrics.count('HTTPCode_ELB_504_Count');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = ELB_PAGES[status]!;
    res.writeHead(status, { server: 'awselb/2.0', 'content-type': 'text/html', 'content-length': body.length });
    res.end(body);
  }

  private route(l: CompiledListener, view: RequestView): CompiledAction {
    for (const r of l.rules) if (r.match(view)) return r.action;
    return l.defaultAction;
  }

  private onRequest(port: number, req: IncomingMessage, res: ServerResponse): void {
    const l = this.table.byPort.get(port);
    if (!l) {
      this.elbError(undefined, res, 503);
      return;
    }
    l.metrics.count('RequestCount');
    const view = l.rules.length ? new RequestView(req.method ?? 'GET', req.url ?? '/', req.headers, req.socket.remoteAddress ?? '') : undefined;
    const action = view ? this.route(l, view) : l.defaultAction;
    if (action.type === 'fixed') {
      l.metrics.count('HTTP_Fixed_Response_Count');
      res.writeHead(action.status, { server: 'awselb/2.0', 'content-type': action.contentType, 'content-length': action.body.length });
      res.end(action.body);
      req.resume();
      return;
    }
    if (action.type === 'redirect') {
      l.metrics.count('HTTP_Redirect_Count');
      res.writeHead(action.cfg.StatusCode === 'HTTP_301' ? 301 : 302, { server: 'awselb/2.0', location: redirectLocation(action.cfg, l, view ?? new RequestView(req.method ?? 'GET', req.url ?? '/', req.headers, '')), 'content-length': 0 });
      res.end();
      req.resume();
      return;
    }
    const cookies = action.sticky || action.groups.some((g) => g.sticky) ? String(req.headers.cookie ?? '') : '';
    const g = pickGroup(action, cookies);
    if (!g) {
      this.elbError(l, res, 503);
      return;
    }
    g.metrics.count('RequestCount');
    const t = this.pickTarget(g, cookies, undefined);
    if (!t) {
      this.elbError(l, res, 503);
      return;
    }
    const setCookies: string[] | undefined = action.sticky || g.sticky ? [] : undefined;
    if (setCookies && action.sticky) {
      const exp = new Date(Date.now() + action.stickyMs).toUTCString();
      setCookies.push(`AWSALBTG=${g.cookie}; Expires=${exp}; Path=/`, `AWSALBTGCORS=${g.cookie}; Expires=${exp}; Path=/; SameSite=None; Secure`);
    }
    this.proxy(req, res, l, g, t, setCookies, 2);
  }

  private pickTarget(g: GroupState, cookies: string, exclude: TargetState | undefined): TargetState | undefined {
    const list = g.eligible;
    const n = list.length;
    if (n === 0) return undefined;
    if (g.sticky && cookies) {
      const v = cookieValue(cookies, 'AWSALB');
      if (v) for (const t of list) if (t.cookie === v && t !== exclude) return t;
    }
    if (g.algorithm === 'least_outstanding_requests') {
      let best: TargetState | undefined;
      const start = g.rr++ % n;
      for (let i = 0; i < n; i++) {
        const t = list[(start + i) % n]!;
        if (t === exclude) continue;
        if (!best || t.inflight < best.inflight) best = t;
      }
      return best;
    }
    if (g.algorithm === 'weighted_random') {
      const t = list[Math.floor(Math.random() * n)]!;
      return t === exclude && n > 1 ? list[(list.indexOf(t) + 1) % n] : t;
    }
    const now = g.slowStartMs > 0 ? this.platform.clock.now() : 0;
    for (let i = 0; i < n; i++) {
      const t = list[g.rr++ % n]!;
      if (g.rr > 0x3fffffff) g.rr = 0;
      if (t === exclude && n > 1) continue;
      // Slow start: a newly healthy target takes a share growing linearly over the window.
      if (g.slowStartMs > 0 && t.healthySince > 0 && now - t.healthySince < g.slowStartMs && Math.random() > (now - t.healthySince) / g.slowStartMs) continue;
      return t;
    }
    return list[g.rr++ % n];
  }

  private proxy(req: IncomingMessage, res: ServerResponse, l: CompiledListener, g: GroupState, t: TargetState, setCookies: string[] | undefined, retries: number): void {
    const headers: Record<string, string | string[]> = {};
    const inHeaders = req.headers;
    for (const k in inHeaders) {
      if (HOP_BY_HOP.has(k)) continue;
      const v = inHeaders[k];
      if (v !== undefined) headers[k] = v;
    }
    const client = stripMapped(req.socket.remoteAddress ?? '');
    const xff = inHeaders['x-forwarded-for'];
    headers['x-forwarded-for'] = xff ? `${xff}, ${client}` : client;
    headers['x-forwarded-proto'] = l.protocol === 'HTTPS' ? 'https' : 'http';
    headers['x-forwarded-port'] = String(l.port);
    if (!inHeaders['x-amzn-trace-id']) headers['x-amzn-trace-id'] = traceId();
    const hasBody = inHeaders['content-length'] !== undefined ? inHeaders['content-length'] !== '0' : inHeaders['transfer-encoding'] !== undefined;
    const stickyTarget = g.sticky ? t : undefined;
    t.inflight++;
    const started = performance.now();
    let responded = false;
    let done = false;
    // Small bodies arrive in one chunk: holding it until the end lets node write headers and
    // body in one syscall.
    let held: Buffer | undefined;
    let contentLength = -1;
    let abort: ((err?: Error) => void) | undefined;
    let resumeUpstream: (() => void) | undefined;
    let broken = false;
    const finish = (err?: { code?: string }) => {
      if (done) return;
      done = true;
      if (sock[ABORT] === abort) sock[ABORT] = undefined;
      this.finished(t);
      if (!err) return;
      if (responded) {
        res.destroy();
        return;
      }
      if (sock.destroyed) return; // the client went away (ALB logs this as 460)
      // A refused connection means the request never reached the target: try another one.
      if (err.code === 'ECONNREFUSED' && !broken && !hasBody && retries > 0 && !res.destroyed) {
        const next = this.pickTarget(g, '', t);
        if (next && next !== t) {
          this.proxy(req, res, l, g, next, setCookies, retries - 1);
          return;
        }
      }
      const timeout = err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT';
      this.elbError(l, res, timeout ? 504 : 502);
    };
    const sock = req.socket as Socket & { [ABORT]?: (err?: Error) => void };
    t.pool.dispatch(
      { path: req.url ?? '/', method: req.method as 'GET', headers, body: hasBody ? req : null, headersTimeout: l.idleMs, bodyTimeout: l.idleMs },
      {
        onConnect(a: (err?: Error) => void) {
          // The client's socket aborts its one request in flight if it closes (see onConnection).
          abort = a;
          sock[ABORT] = a;
        },
        onHeaders(statusCode: number, raw: Buffer[], resume: () => void) {
          if (statusCode < 200) return true; // 1xx informational: wait for the final response
          responded = true;
          const rt = (performance.now() - started) / 1000;
          g.metrics.targetResponse(statusCode, rt);
          l.metrics.targetResponse(statusCode, rt);
          const out: string[] = [];
          for (let i = 0; i < raw.length; i += 2) {
            const k = raw[i]!.toString('latin1');
            const kl = k.length;
            if ((kl === 10 || kl === 17) && SKIP_RESPONSE.has(k.toLowerCase())) continue;
            const v = raw[i + 1]!.toString('latin1');
            if (kl === 14 && k.toLowerCase() === 'content-length') contentLength = Number(v);
            out.push(k, v);
          }
          if (setCookies) {
            if (stickyTarget) {
              const exp = new Date(Date.now() + g.stickyMs).toUTCString();
              setCookies.push(`AWSALB=${stickyTarget.cookie}; Expires=${exp}; Path=/`, `AWSALBCORS=${stickyTarget.cookie}; Expires=${exp}; Path=/; SameSite=None; Secure`);
            }
            for (const c of setCookies) out.push('set-cookie', c);
          }
          try {
            res.writeHead(statusCode, out);
          } catch (e) {
            // A header node refuses to send (e.g. invalid characters): answer 502, drop the rest.
            broken = true;
            responded = false;
            abort?.(e as Error);
            return true;
          }
          resumeUpstream = resume;
          return true;
        },
        onData(chunk: Buffer) {
          if (broken) return true;
          // The whole body in one chunk: the end follows at once, so write it with the end.
          if (chunk.length === contentLength) {
            held = chunk;
            return true;
          }
          if (res.write(chunk)) return true;
          if (resumeUpstream) res.once('drain', resumeUpstream);
          return false;
        },
        onComplete() {
          if (broken) {
            finish({ code: 'BERTH_INVALID_RESPONSE_HEADERS' });
            return;
          }
          if (held) res.end(held);
          else res.end();
          held = undefined;
          finish();
        },
        onError(err: Error) {
          finish(err as { code?: string });
        },
      },
    );
  }

  private onUpgrade(port: number, req: IncomingMessage, socket: Socket, head: Buffer): void {
    const l = this.table.byPort.get(port);
    const fail = (status: number, text: string) => {
      if (l) l.metrics.count('HTTPCode_ELB_5XX_Count');
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!l) return fail(503, 'Service Unavailable');
    l.metrics.count('RequestCount');
    const view = new RequestView(req.method ?? 'GET', req.url ?? '/', req.headers, req.socket.remoteAddress ?? '');
    const action = this.route(l, view);
    if (action.type !== 'forward') return fail(400, 'Bad Request');
    const cookies = String(req.headers.cookie ?? '');
    const g = pickGroup(action, cookies);
    const t = g && this.pickTarget(g, cookies, undefined);
    if (!g || !t) return fail(503, 'Service Unavailable');
    g.metrics.count('RequestCount');
    t.inflight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.finished(t);
    };
    const upstream = connect(t.port, t.id);
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    upstream.on('connect', () => {
      const client = stripMapped(req.socket.remoteAddress ?? '');
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const k = req.rawHeaders[i]!.toLowerCase();
        if (k === 'x-forwarded-for' || k === 'x-forwarded-proto' || k === 'x-forwarded-port') continue;
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      }
      const xff = req.headers['x-forwarded-for'];
      lines.push(`X-Forwarded-For: ${xff ? `${xff}, ${client}` : client}`, `X-Forwarded-Proto: ${l.protocol === 'HTTPS' ? 'https' : 'http'}`, `X-Forwarded-Port: ${l.port}`);
      if (!req.headers['x-amzn-trace-id']) lines.push(`X-Amzn-Trace-Id: ${traceId()}`);
      upstream.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => {
      if (!upstream.bytesRead) fail(502, 'Bad Gateway');
      else socket.destroy();
      release();
    });
    upstream.on('close', () => {
      socket.destroy();
      release();
    });
    socket.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
  }

  // ---- metrics ------------------------------------------------------------------------------

  /** Prometheus text of every load balancer's and target group's metrics. */
  prometheus(): string {
    const sets: Parameters<typeof prometheusText>[0] = [];
    for (const [arn, m] of this.lbMetrics) sets.push({ kind: 'lb', labels: { load_balancer: lbLabel(arn) }, metrics: m });
    for (const g of this.groups.values()) sets.push({ kind: 'tg', labels: { target_group: tgLabel(g.record.arn) }, metrics: g.metrics });
    return prometheusText(sets);
  }

  series(): MetricSeries[] {
    const out: MetricSeries[] = [];
    for (const [arn, m] of this.lbMetrics) out.push({ loadBalancerArn: arn, minutes: m.minutes() });
    for (const g of this.groups.values()) out.push({ targetGroupArn: g.record.arn, minutes: g.metrics.minutes() });
    return out;
  }
}

/** `app/<name>/<id>`, the LoadBalancer dimension CloudWatch uses. */
function lbLabel(arn: string): string {
  return arn.slice(arn.indexOf(':loadbalancer/') + ':loadbalancer/'.length);
}

/** `targetgroup/<name>/<id>`, the TargetGroup dimension CloudWatch uses. */
function tgLabel(arn: string): string {
  return arn.slice(arn.lastIndexOf(':') + 1);
}

function stripMapped(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

function cookieValue(header: string, name: string): string | undefined {
  const i = header.indexOf(`${name}=`);
  if (i < 0 || (i > 0 && header[i - 1] !== ' ' && header[i - 1] !== ';')) {
    // Not at a cookie boundary (e.g. AWSALBTG when looking for AWSALB): search on.
    const j = header.indexOf(`; ${name}=`);
    if (j < 0) return undefined;
    return header.slice(j + name.length + 3).split(';')[0];
  }
  const rest = header.slice(i + name.length + 1);
  const end = rest.indexOf(';');
  return end < 0 ? rest : rest.slice(0, end);
}

/** Picks a target group: sticky (AWSALBTG) if enabled, else smooth weighted round robin. */
function pickGroup(a: Extract<CompiledAction, { type: 'forward' }>, cookies: string): GroupState | undefined {
  const n = a.groups.length;
  if (n === 1) return a.weights[0]! > 0 || a.total === 0 ? a.groups[0] : undefined;
  if (n === 0 || a.total === 0) return undefined;
  if (a.sticky && cookies) {
    const v = cookieValue(cookies, 'AWSALBTG');
    if (v) for (let i = 0; i < n; i++) if (a.groups[i]!.cookie === v && a.weights[i]! > 0) return a.groups[i];
  }
  let best = -1;
  for (let i = 0; i < n; i++) {
    a.current[i]! += a.weights[i]!;
    if (best < 0 || a.current[i]! > a.current[best]!) best = i;
  }
  a.current[best]! -= a.total;
  return a.groups[best];
}

function redirectLocation(cfg: ELB.RedirectActionConfig, l: CompiledListener, view: RequestView): string {
  const proto = (cfg.Protocol ?? '#{protocol}').replace('#{protocol}', l.protocol).toLowerCase();
  const host = (cfg.Host ?? '#{host}').replace('#{host}', view.host);
  const port = (cfg.Port ?? '#{port}').replace('#{port}', String(l.port));
  const rawPath = view.path.startsWith('/') ? view.path.slice(1) : view.path;
  const path = (cfg.Path ?? '/#{path}').replace(/#\{host\}/g, view.host).replace(/#\{port\}/g, String(l.port)).replace(/#\{path\}/g, rawPath);
  const q = view.url.indexOf('?');
  const rawQuery = q < 0 ? '' : view.url.slice(q + 1);
  const query = (cfg.Query ?? '#{query}').replace(/#\{query\}/g, rawQuery).replace(/#\{host\}/g, view.host).replace(/#\{port\}/g, String(l.port));
  const defaultPort = (proto === 'https' && port === '443') || (proto === 'http' && port === '80');
  return `${proto}://${host}${defaultPort ? '' : `:${port}`}${path}${query ? `?${query}` : ''}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // Connections still busy get a short grace period, then go.
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  });
}

