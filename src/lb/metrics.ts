/**
 * Load balancer metrics with CloudWatch's ALB names, per load balancer and per target group:
 * cumulative counters for Prometheus, and one bucket per minute (the last 60 kept in memory)
 * for the console and CLI. Minutes follow the injected clock. `LoadBalancerMetrics` keeps the
 * sets of the load balancers and target groups that exist.
 */
import type { Clock } from '../clock.js';

export const COUNTERS = [
  'RequestCount',
  'HTTPCode_Target_2XX_Count',
  'HTTPCode_Target_3XX_Count',
  'HTTPCode_Target_4XX_Count',
  'HTTPCode_Target_5XX_Count',
  'HTTPCode_ELB_4XX_Count',
  'HTTPCode_ELB_5XX_Count',
  'HTTPCode_ELB_502_Count',
  'HTTPCode_ELB_503_Count',
  'HTTPCode_ELB_504_Count',
  'HTTP_Fixed_Response_Count',
  'HTTP_Redirect_Count',
] as const;
export type CounterName = (typeof COUNTERS)[number];

/** One minute of one load balancer's or target group's metrics. */
export interface MinuteMetrics {
  /** Start of the minute, ms since the epoch. */
  minute: number;
  counts: Record<CounterName, number>;
  /** Seconds, from the target being sent the request to its response headers. */
  TargetResponseTime: { p50: number; p90: number; p99: number; samples: number } | undefined;
  /** Every TargetResponseTime of the minute as a statistic set (count, sum, min, max; seconds). */
  responseTimes: { n: number; sum: number; min: number; max: number };
  HealthyHostCount?: number;
  UnHealthyHostCount?: number;
  ActiveConnectionCount?: number;
}

const RESERVOIR = 1024;

/** What one set counted since the last look (sent from a data-plane process to the control plane). */
export interface MetricDelta {
  counts: Partial<Record<CounterName, number>>;
  /** TargetResponseTime samples, seconds (at most 1024). */
  samples: number[];
  gauges: { HealthyHostCount?: number; UnHealthyHostCount?: number; ActiveConnectionCount?: number };
}
const KEEP_MINUTES = 60;
/** Most response times kept between two `drainWindow` calls. */
const WINDOW_RESERVOIR = 512;

function zero(): Record<CounterName, number> {
  return Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<CounterName, number>;
}

interface Bucket {
  minute: number;
  counts: Record<CounterName, number>;
  samples: number[];
  seen: number;
  rtSum: number;
  rtMin: number;
  rtMax: number;
  gauges: { HealthyHostCount?: number; UnHealthyHostCount?: number; ActiveConnectionCount?: number };
}

/** Metrics of one load balancer or target group. Hot-path methods do constant work. */
export class MetricSet {
  readonly totals = zero();
  /** Totals as of the last `takeDelta`. */
  private readonly sent = zero();
  /** Response times since the last `takeDelta` (only once `collectDeltas` was called). */
  private fresh: number[] | undefined;
  private current: Bucket;
  private history: Bucket[] = [];
  /** Response times since the last `drainWindow` (reservoir-sampled), for finer-grained charts. */
  private window: number[] = [];
  private windowSeen = 0;
  /** Live gauges, sampled into each minute. */
  gauges: { HealthyHostCount?: number; UnHealthyHostCount?: number; ActiveConnectionCount?: number } = {};

  constructor(private clock: Clock) {
    this.current = this.newBucket(this.minuteOf(clock.now()));
  }

  private minuteOf(t: number): number {
    return t - (t % 60_000);
  }

  private newBucket(minute: number): Bucket {
    return { minute, counts: zero(), samples: [], seen: 0, rtSum: 0, rtMin: Infinity, rtMax: -Infinity, gauges: {} };
  }

  private bucket(): Bucket {
    const m = this.minuteOf(this.clock.now());
    if (m !== this.current.minute) {
      this.current.gauges = { ...this.gauges };
      this.history.push(this.current);
      if (this.history.length > KEEP_MINUTES - 1) this.history.splice(0, this.history.length - (KEEP_MINUTES - 1));
      this.current = this.newBucket(m);
    }
    return this.current;
  }

  count(name: CounterName): void {
    this.totals[name]++;
    this.bucket().counts[name]++;
  }

  /**
   * Starts keeping what changed since the last `takeDelta` (a data-plane process does, to send
   * its counts to the control plane's sets; see ./workers.ts).
   */
  collectDeltas(): void {
    this.fresh ??= [];
  }

  /** Counts and response-time samples since the last call, and the gauges now (see `collectDeltas`). */
  takeDelta(): MetricDelta {
    const counts: Partial<Record<CounterName, number>> = {};
    for (const c of COUNTERS) {
      const d = this.totals[c] - this.sent[c];
      if (d > 0) counts[c] = d;
      this.sent[c] = this.totals[c];
    }
    const samples = this.fresh ?? [];
    if (this.fresh) this.fresh = [];
    return { counts, samples, gauges: { ...this.gauges } };
  }

  /** Adds another process's delta (its counts and samples land in this set's current minute). */
  absorb(delta: MetricDelta): void {
    const b = this.bucket();
    for (const c of COUNTERS) {
      const n = delta.counts[c];
      if (!n || !Number.isFinite(n) || n < 0) continue;
      this.totals[c] += n;
      b.counts[c] += n;
    }
    for (const s of delta.samples.slice(0, RESERVOIR)) this.sample(b, s);
  }

  /**
   * A target's response: counted by status class, its TargetResponseTime (seconds)
   * reservoir-sampled per minute; one bucket lookup (this runs once per proxied request).
   */
  targetResponse(status: number, seconds: number): void {
    const b = this.bucket();
    const c = status >= 500 ? 'HTTPCode_Target_5XX_Count' : status >= 400 ? 'HTTPCode_Target_4XX_Count' : status >= 300 ? 'HTTPCode_Target_3XX_Count' : 'HTTPCode_Target_2XX_Count';
    this.totals[c]++;
    b.counts[c]++;
    this.sample(b, seconds);
    if (this.fresh && this.fresh.length < RESERVOIR) this.fresh.push(seconds);
  }

  private sample(b: Bucket, seconds: number): void {
    b.seen++;
    b.rtSum += seconds;
    if (seconds < b.rtMin) b.rtMin = seconds;
    if (seconds > b.rtMax) b.rtMax = seconds;
    if (b.samples.length < RESERVOIR) b.samples.push(seconds);
    else {
      const i = Math.floor(Math.random() * b.seen);
      if (i < RESERVOIR) b.samples[i] = seconds;
    }
    this.windowSeen++;
    if (this.window.length < WINDOW_RESERVOIR) this.window.push(seconds);
    else {
      const i = Math.floor(Math.random() * this.windowSeen);
      if (i < WINDOW_RESERVOIR) this.window[i] = seconds;
    }
  }

  /** The response-time quantiles since the last call (undefined when there was no response), and a new window. */
  drainWindow(): MinuteMetrics['TargetResponseTime'] {
    const q = quantiles(this.window);
    this.window = [];
    this.windowSeen = 0;
    return q;
  }

  /** Response time quantiles over the current and previous minute. */
  recentQuantiles(): MinuteMetrics['TargetResponseTime'] {
    this.bucket();
    const prev = this.history[this.history.length - 1];
    return quantiles([...this.current.samples, ...(prev && prev.minute === this.current.minute - 60_000 ? prev.samples : [])]);
  }

  /** The last (up to) 60 minutes, oldest first, the current minute last. */
  minutes(): MinuteMetrics[] {
    this.bucket();
    const cur = { ...this.current, gauges: { ...this.gauges } };
    return [...this.history, cur].map((b) => ({
      minute: b.minute,
      counts: { ...b.counts },
      TargetResponseTime: quantiles(b.samples),
      responseTimes: { n: b.seen, sum: b.rtSum, min: b.seen ? b.rtMin : 0, max: b.seen ? b.rtMax : 0 },
      ...b.gauges,
    }));
  }
}

function quantiles(samples: number[]): MinuteMetrics['TargetResponseTime'] {
  if (samples.length === 0) return undefined;
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), samples: s.length };
}

function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Renders metric sets in the Prometheus text format; metric names are exactly ALB's CloudWatch names. */
export function prometheusText(sets: { labels: Record<string, string>; metrics: MetricSet; kind: 'lb' | 'tg' }[]): string {
  const lines: string[] = [];
  const labelText = (l: Record<string, string>, extra?: Record<string, string>) =>
    '{' + Object.entries({ ...l, ...extra }).map(([k, v]) => `${k}="${labelValue(v)}"`).join(',') + '}';
  for (const c of COUNTERS) {
    lines.push(`# TYPE ${c} counter`);
    for (const s of sets) lines.push(`${c}${labelText(s.labels)} ${s.metrics.totals[c]}`);
  }
  lines.push('# TYPE TargetResponseTime summary');
  for (const s of sets) {
    const q = s.metrics.recentQuantiles();
    if (!q) continue;
    lines.push(`TargetResponseTime${labelText(s.labels, { quantile: '0.5' })} ${q.p50}`);
    lines.push(`TargetResponseTime${labelText(s.labels, { quantile: '0.9' })} ${q.p90}`);
    lines.push(`TargetResponseTime${labelText(s.labels, { quantile: '0.99' })} ${q.p99}`);
  }
  for (const g of ['HealthyHostCount', 'UnHealthyHostCount', 'ActiveConnectionCount'] as const) {
    lines.push(`# TYPE ${g} gauge`);
    for (const s of sets) {
      const v = s.metrics.gauges[g];
      if (v !== undefined) lines.push(`${g}${labelText(s.labels)} ${v}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** The deltas of every set of one data-plane process. */
export interface MetricDeltas {
  lbs: [string, MetricDelta][];
  tgs: [string, MetricDelta][];
}

/** One target group's metrics at one moment (see `LoadBalancerMetrics.snapshot`). */
export interface TargetGroupSnapshot {
  targetGroupArn: string;
  /** The counters since the target group's metrics began. */
  totals: Record<CounterName, number>;
  /** Response-time quantiles (seconds) since the previous snapshot. */
  responseTime: MinuteMetrics['TargetResponseTime'];
  gauges: MetricSet['gauges'];
}

/** Per-minute metrics of one load balancer or target group (the last 60 minutes). */
export interface MetricSeries {
  /** The load balancer's ARN; for a target group's series, the load balancer forwarding to it (if any). */
  loadBalancerArn?: string;
  targetGroupArn?: string;
  minutes: MinuteMetrics[];
}

/**
 * The metric sets of every load balancer (from its first listener on) and target group, kept
 * across configuration changes while the resource exists.
 */
export class LoadBalancerMetrics {
  private readonly lbs = new Map<string, MetricSet>();
  private readonly tgs = new Map<string, MetricSet>();
  /** The load balancer forwarding to each target group (ALB: at most one). */
  private owners = new Map<string, string>();

  constructor(
    private readonly clock: Clock,
    /** Every set keeps its changes for `takeDeltas` (in a data-plane process). */
    private readonly deltas = false,
  ) {}

  private made(): MetricSet {
    const m = new MetricSet(this.clock);
    if (this.deltas) m.collectDeltas();
    return m;
  }

  /** The set of a load balancer, made on first use. */
  loadBalancer(arn: string): MetricSet {
    let m = this.lbs.get(arn);
    if (!m) this.lbs.set(arn, (m = this.made()));
    return m;
  }

  /** The set of a target group, made on first use. */
  targetGroup(arn: string): MetricSet {
    let m = this.tgs.get(arn);
    if (!m) this.tgs.set(arn, (m = this.made()));
    return m;
  }

  /** Every set's delta since the last call, by ARN (see `MetricSet.takeDelta`). */
  takeDeltas(): MetricDeltas {
    return {
      lbs: [...this.lbs].map(([arn, m]) => [arn, m.takeDelta()]),
      tgs: [...this.tgs].map(([arn, m]) => [arn, m.takeDelta()]),
    };
  }

  /** Adds the deltas of a data-plane process (sets of resources no longer known are skipped). */
  absorb(d: MetricDeltas, known: { lbs: ReadonlySet<string>; tgs: ReadonlySet<string> }): void {
    for (const [arn, delta] of d.lbs) if (known.lbs.has(arn)) this.loadBalancer(arn).absorb(delta);
    for (const [arn, delta] of d.tgs) if (known.tgs.has(arn)) this.targetGroup(arn).absorb(delta);
  }

  /** Forgets the sets of load balancers and target groups that no longer exist. */
  retain(loadBalancerArns: Iterable<string>, targetGroupArns: Iterable<string>): void {
    const lbs = new Set(loadBalancerArns);
    const tgs = new Set(targetGroupArns);
    for (const arn of this.lbs.keys()) if (!lbs.has(arn)) this.lbs.delete(arn);
    for (const arn of this.tgs.keys()) if (!tgs.has(arn)) this.tgs.delete(arn);
  }

  /** Says which load balancer forwards to each target group (from the routing table). */
  setOwners(owners: ReadonlyMap<string, string>): void {
    this.owners = new Map(owners);
  }

  /** The load balancer forwarding to a target group, if any. */
  ownerOf(tgArn: string): string | undefined {
    return this.owners.get(tgArn);
  }

  /** Prometheus text of every set (labels as CloudWatch's dimensions). */
  prometheus(): string {
    const sets: Parameters<typeof prometheusText>[0] = [];
    for (const [arn, m] of this.lbs) sets.push({ kind: 'lb', labels: { load_balancer: lbLabel(arn) }, metrics: m });
    for (const [arn, m] of this.tgs) sets.push({ kind: 'tg', labels: { target_group: tgLabel(arn) }, metrics: m });
    return prometheusText(sets);
  }

  /**
   * Every target group's counters so far and its response-time quantiles since the last
   * snapshot (which starts a new window): what the console's ring buffer samples.
   */
  snapshot(): TargetGroupSnapshot[] {
    return [...this.tgs].map(([arn, m]) => ({ targetGroupArn: arn, totals: { ...m.totals }, responseTime: m.drainWindow(), gauges: { ...m.gauges } }));
  }

  /** The last 60 minutes of every set. */
  series(): MetricSeries[] {
    const out: MetricSeries[] = [];
    for (const [arn, m] of this.lbs) out.push({ loadBalancerArn: arn, minutes: m.minutes() });
    for (const [arn, m] of this.tgs) {
      const lb = this.owners.get(arn);
      out.push({ targetGroupArn: arn, ...(lb ? { loadBalancerArn: lb } : {}), minutes: m.minutes() });
    }
    return out;
  }
}

/** `app/<name>/<id>`, the LoadBalancer dimension CloudWatch uses. */
export function lbLabel(arn: string): string {
  return arn.slice(arn.indexOf(':loadbalancer/') + ':loadbalancer/'.length);
}

/** `targetgroup/<name>/<id>`, the TargetGroup dimension CloudWatch uses. */
export function tgLabel(arn: string): string {
  return arn.slice(arn.lastIndexOf(':') + 1);
}
