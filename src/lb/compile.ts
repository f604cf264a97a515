/**
 * Compiling the ELBv2 records into the load balancer's routing table: a pure function from one
 * snapshot (src/domain/elbv2/snapshot.ts) and a generation number to an immutable
 * `CompiledTable`. Everything a request, a health check or a listener bind needs is decided
 * here once per configuration change (rule predicates, attribute values, which target groups
 * are in use), so the hot path only reads.
 *
 * Invariants:
 * - A table is never changed after it is made; the data plane swaps whole tables, so a request
 *   never sees half of a configuration change. Each table has a larger `generation` than the
 *   one before it.
 * - The table holds configuration only. What lives across tables (target health, requests in
 *   flight, connection pools, metrics, round-robin positions) is kept by the data plane's other
 *   parts, keyed by `targetIdentity` / target group ARN / `ForwardAction.cursor`.
 * - Records the API would never write (missing actions, unparsable attributes) compile to
 *   something harmless (a forward to nothing answers 503; defaults for attributes) instead of
 *   throwing.
 */
import type * as ELB from '../generated/elbv2.js';
import type { Elbv2Snapshot } from '../domain/elbv2/snapshot.js';
import type { HealthCheckSettings, ListenerRecord, LoadBalancerRecord, RuleRecord, TargetGroupRecord, TargetRecord } from '../domain/elbv2/records.js';
import { compileConditions, compileMatcher, type Predicate } from './match.js';

/** The routing table of one configuration. */
export interface CompiledTable {
  /** Increases with every table the data plane compiles. */
  readonly generation: number;
  /** Listeners by host port (ports are the host's: one listener per port). */
  readonly listeners: ReadonlyMap<number, CompiledListener>;
  /** Every target group, by ARN, whether or not anything forwards to it. */
  readonly groups: ReadonlyMap<string, CompiledGroup>;
  /** ARNs of the load balancers that exist (their metrics are kept). */
  readonly loadBalancerArns: readonly string[];
  /** How many round-robin weight counters the forward actions use (see `ForwardAction.cursor`). */
  readonly weightCounters: number;
}

export interface CompiledListener {
  readonly arn: string;
  readonly port: number;
  readonly protocol: 'HTTP' | 'HTTPS';
  /** The default certificate of an HTTPS listener ('' for HTTP). */
  readonly certificateArn: string;
  /** An HTTPS listener's other certificates, served by SNI server name (see src/lb/tls.ts). */
  readonly extraCertificateArns: readonly string[];
  /** An HTTPS listener's security policy ('' for HTTP): its TLS versions and ciphers. */
  readonly sslPolicy: string;
  readonly lbArn: string;
  readonly lbName: string;
  /** The load balancer's `idle_timeout.timeout_seconds`, in ms. */
  readonly idleMs: number;
  /** Rules in priority order; the first whose predicate holds decides. */
  readonly rules: readonly { readonly match: Predicate; readonly action: RouteAction }[];
  readonly defaultAction: RouteAction;
}

/** What a listener does with a request (only the first action of a rule counts, as on ALB). */
export type RouteAction = ForwardAction | RedirectAction | FixedResponseAction;

export interface ForwardAction {
  readonly type: 'forward';
  /** Target group ARNs (only groups that exist), with their weights. */
  readonly groups: readonly string[];
  readonly weights: readonly number[];
  readonly totalWeight: number;
  /** Target group stickiness (`AWSALBTG`) of a weighted forward to several groups; 0 = off. */
  readonly groupStickinessMs: number;
  /**
   * Index of this action's first counter in the data plane's per-table array of smooth
   * weighted round-robin counters (one per group; the only mutable state routing needs).
   */
  readonly cursor: number;
}

export interface RedirectAction {
  readonly type: 'redirect';
  readonly config: ELB.RedirectActionConfig;
}

export interface FixedResponseAction {
  readonly type: 'fixed';
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

export type Algorithm = 'round_robin' | 'least_outstanding_requests' | 'weighted_random';

export interface CompiledGroup {
  readonly arn: string;
  /** Targets are spoken to over TLS (an HTTPS target group). */
  readonly tls: boolean;
  readonly algorithm: Algorithm;
  /** `lb_cookie` stickiness (`AWSALB`) duration in ms; 0 = off. */
  readonly stickinessMs: number;
  /** `slow_start.duration_seconds` in ms; 0 = off. */
  readonly slowStartMs: number;
  /** Whether a listener or rule forwards to it: only then are its targets health-checked (else they are `unused`). */
  readonly inUse: boolean;
  /** Undefined when health checks are disabled (every target then counts as healthy). */
  readonly healthCheck: HealthCheckSpec | undefined;
  readonly targets: readonly CompiledTarget[];
}

/** A target group's health check, resolved. Times are in health-check "seconds" (see LbOptions.secondMs). */
export interface HealthCheckSpec {
  readonly protocol: 'HTTP' | 'HTTPS';
  /** The port to check, or undefined for the target's own (traffic) port. */
  readonly port: number | undefined;
  readonly path: string;
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
  readonly matches: (status: number) => boolean;
  /** Equal for equal settings: a target's checks start over (from `initial`) when it changes. */
  readonly signature: string;
}

/** One registration of a target in a target group. */
export interface CompiledTarget {
  /** See `targetIdentity`. */
  readonly identity: string;
  readonly tgArn: string;
  /** An IP address or host name. */
  readonly id: string;
  readonly port: number;
  readonly registeredAt: number;
  /** Deregistered: no new requests, no health checks. */
  readonly draining: boolean;
}

/**
 * The identity of one registration: target group, address, port and registration time. Live
 * state (health, requests in flight, pools) is keyed by it, so it survives recompiles, and a
 * target registered again is a new target (it starts `initial`, as on ALB).
 */
export function targetIdentity(tgArn: string, rec: Pick<TargetRecord, 'id' | 'port' | 'registeredAt'>): string {
  return `${tgArn} ${rec.id}:${rec.port}@${rec.registeredAt}`;
}

/** Compiles a snapshot into the table of the given generation. Pure: same input, same table. */
export function compileTable(snapshot: Elbv2Snapshot, generation: number): CompiledTable {
  const groupRecords = new Map(snapshot.targetGroups.map((tg) => [tg.arn, tg]));
  const lbByArn = new Map<string, LoadBalancerRecord>(snapshot.loadBalancers.map((lb) => [lb.arn, lb]));
  const rulesByListener = new Map<string, RuleRecord[]>();
  for (const r of snapshot.rules) (rulesByListener.get(r.listenerArn) ?? rulesByListener.set(r.listenerArn, []).get(r.listenerArn)!).push(r);

  const inUse = new Set<string>();
  let weightCounters = 0;
  const compileAction = (actions: readonly ELB.Action[] | undefined): RouteAction => {
    const action = compileRouteAction(actions?.[0], groupRecords, weightCounters);
    if (action.type === 'forward') {
      weightCounters += action.groups.length;
      for (const arn of action.groups) inUse.add(arn);
    }
    return action;
  };

  const listeners = new Map<number, CompiledListener>();
  for (const l of snapshot.listeners) {
    const lb = lbByArn.get(l.lbArn);
    if (!lb) continue;
    listeners.set(l.port, compileListener(l, lb, rulesByListener.get(l.arn) ?? [], compileAction));
  }

  const targetsByGroup = new Map<string, CompiledTarget[]>();
  for (const rec of snapshot.targets) {
    if (!groupRecords.has(rec.tgArn)) continue;
    const list = targetsByGroup.get(rec.tgArn) ?? targetsByGroup.set(rec.tgArn, []).get(rec.tgArn)!;
    list.push({ identity: targetIdentity(rec.tgArn, rec), tgArn: rec.tgArn, id: rec.id, port: rec.port, registeredAt: rec.registeredAt, draining: rec.state === 'draining' });
  }
  const groups = new Map<string, CompiledGroup>();
  for (const tg of snapshot.targetGroups) groups.set(tg.arn, compileGroup(tg, inUse.has(tg.arn), targetsByGroup.get(tg.arn) ?? []));

  return { generation, listeners, groups, loadBalancerArns: [...lbByArn.keys()], weightCounters };
}

function compileListener(l: ListenerRecord, lb: LoadBalancerRecord, rules: RuleRecord[], compileAction: (a: readonly ELB.Action[] | undefined) => RouteAction): CompiledListener {
  const ordered = [...rules].sort((a, b) => a.priority - b.priority);
  return {
    arn: l.arn,
    port: l.port,
    protocol: l.protocol === 'HTTPS' ? 'HTTPS' : 'HTTP',
    certificateArn: l.certificates?.[0]?.CertificateArn ?? '',
    extraCertificateArns: l.protocol === 'HTTPS' ? (l.extraCertificates ?? []) : [],
    sslPolicy: l.protocol === 'HTTPS' ? (l.sslPolicy ?? '') : '',
    lbArn: lb.arn,
    lbName: lb.name,
    idleMs: secondsAttribute(lb.attributes, 'idle_timeout.timeout_seconds', 60),
    rules: ordered.map((r) => ({ match: compileConditions(r.conditions ?? []), action: compileAction(r.actions) })),
    defaultAction: compileAction(l.defaultActions),
  };
}

function compileRouteAction(a: ELB.Action | undefined, groupRecords: ReadonlyMap<string, TargetGroupRecord>, cursor: number): RouteAction {
  if (a?.Type === 'redirect' && a.RedirectConfig) return { type: 'redirect', config: a.RedirectConfig };
  if (a?.Type === 'fixed-response' && a.FixedResponseConfig) {
    const f = a.FixedResponseConfig;
    const status = Number(f.StatusCode);
    return { type: 'fixed', status: status >= 200 && status <= 599 ? status : 503, contentType: f.ContentType ?? 'text/plain', body: Buffer.from(f.MessageBody ?? '') };
  }
  // A forward (or anything unusable, which forwards to nothing: 503).
  const tuples = a?.Type === 'forward' ? (a.ForwardConfig?.TargetGroups ?? (a.TargetGroupArn ? [{ TargetGroupArn: a.TargetGroupArn, Weight: 1 }] : [])) : [];
  const groups: string[] = [];
  const weights: number[] = [];
  for (const t of tuples) {
    if (!t.TargetGroupArn || !groupRecords.has(t.TargetGroupArn)) continue;
    groups.push(t.TargetGroupArn);
    const w = t.Weight ?? 1;
    weights.push(Number.isFinite(w) && w > 0 ? w : 0);
  }
  const st = a?.ForwardConfig?.TargetGroupStickinessConfig;
  return {
    type: 'forward',
    groups,
    weights,
    totalWeight: weights.reduce((x, y) => x + y, 0),
    groupStickinessMs: st?.Enabled && groups.length > 1 ? Math.max(0, (st.DurationSeconds ?? 0) * 1000) : 0,
    cursor,
  };
}

function compileGroup(tg: TargetGroupRecord, inUse: boolean, targets: CompiledTarget[]): CompiledGroup {
  const a = tg.attributes ?? {};
  const algorithm = a['load_balancing.algorithm.type'];
  const lbCookie = a['stickiness.enabled'] === 'true' && (a['stickiness.type'] ?? 'lb_cookie') === 'lb_cookie';
  return {
    arn: tg.arn,
    tls: tg.protocol === 'HTTPS',
    algorithm: algorithm === 'least_outstanding_requests' || algorithm === 'weighted_random' ? algorithm : 'round_robin',
    stickinessMs: lbCookie ? secondsAttribute(a, 'stickiness.lb_cookie.duration_seconds', 86_400) : 0,
    slowStartMs: secondsAttribute(a, 'slow_start.duration_seconds', 0),
    inUse,
    healthCheck: tg.healthCheck?.enabled ? compileHealthCheck(tg.healthCheck) : undefined,
    targets,
  };
}

function compileHealthCheck(hc: HealthCheckSettings): HealthCheckSpec {
  const port = Number(hc.port);
  const settings = {
    protocol: hc.protocol === 'HTTPS' ? ('HTTPS' as const) : ('HTTP' as const),
    port: hc.port !== 'traffic-port' && Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined,
    path: hc.path || '/',
    intervalSeconds: positive(hc.intervalSeconds, 30),
    timeoutSeconds: positive(hc.timeoutSeconds, 5),
    healthyThreshold: positive(hc.healthyThreshold, 5),
    unhealthyThreshold: positive(hc.unhealthyThreshold, 2),
    matcher: hc.matcher || '200',
  };
  const { matcher, ...spec } = settings;
  return { ...spec, matches: compileMatcher(matcher), signature: JSON.stringify(settings) };
}

/** A seconds-valued attribute in ms; the default when it is absent or not a number >= 0. */
function secondsAttribute(attrs: Record<string, string> | undefined, name: string, defaultSeconds: number): number {
  const v = Number(attrs?.[name] ?? defaultSeconds);
  return (Number.isFinite(v) && v >= 0 ? v : defaultSeconds) * 1000;
}

function positive(v: number, fallback: number): number {
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
