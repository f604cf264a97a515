/**
 * The console's charts' data: every `intervalMs` (5 s by default, on the platform clock), one
 * point per target group from the load balancer's counters (src/lb/metrics.ts) — requests,
 * 2xx/4xx/5xx answered by targets, and target response time p50/p99 over the interval — kept
 * in a ring of `points` per target group (30 minutes by default). Finer than the per-minute
 * buckets the load balancer keeps, so a chart moves while one watches it.
 */
import type { Clock, Timer } from '../clock.js';

/** What the ring samples: one target group's counters so far (the load balancer's `metricSnapshot`). */
export interface TargetGroupCounters {
  targetGroupArn: string;
  totals: Record<string, number>;
  /** Response-time quantiles in seconds since the previous sample. */
  responseTime?: { p50: number; p99: number };
  gauges: { HealthyHostCount?: number; UnHealthyHostCount?: number };
}

/** One point of a target group's charts: counts over the interval that ends at `t`. */
export interface ChartPoint {
  /** End of the interval, epoch ms. */
  t: number;
  requests: number;
  http2xx: number;
  http4xx: number;
  http5xx: number;
  /** Target response time, ms (absent when no response came in the interval). */
  p50?: number;
  p99?: number;
  healthy?: number;
  unhealthy?: number;
}

/** The ring's settings. */
export interface MetricsRingOptions {
  intervalMs: number;
  points: number;
}

interface Ring {
  points: ChartPoint[];
  last: Record<string, number>;
}

/** Fixed-size history of chart points per target group. */
export class MetricsRing {
  private readonly rings = new Map<string, Ring>();
  private timer: Timer | undefined;
  readonly options: MetricsRingOptions;

  constructor(
    private readonly clock: Clock,
    private readonly source: () => TargetGroupCounters[],
    options: Partial<MetricsRingOptions> = {},
  ) {
    // An option given as undefined (unset in the environment) keeps its default.
    this.options = { intervalMs: options.intervalMs ?? 5_000, points: options.points ?? 360 };
  }

  /** Takes one point per target group now (the timer calls this; tests may too). */
  sample(): void {
    const now = this.clock.now();
    const seen = new Set<string>();
    for (const s of this.source()) {
      seen.add(s.targetGroupArn);
      let r = this.rings.get(s.targetGroupArn);
      if (!r) this.rings.set(s.targetGroupArn, (r = { points: [], last: { ...s.totals } }));
      const d = (k: string) => Math.max(0, (s.totals[k] ?? 0) - (r!.last[k] ?? 0));
      r.points.push({
        t: now,
        requests: d('RequestCount'),
        http2xx: d('HTTPCode_Target_2XX_Count'),
        http4xx: d('HTTPCode_Target_4XX_Count'),
        http5xx: d('HTTPCode_Target_5XX_Count'),
        ...(s.responseTime ? { p50: round(s.responseTime.p50 * 1000), p99: round(s.responseTime.p99 * 1000) } : {}),
        healthy: s.gauges.HealthyHostCount,
        unhealthy: s.gauges.UnHealthyHostCount,
      });
      if (r.points.length > this.options.points) r.points.splice(0, r.points.length - this.options.points);
      r.last = { ...s.totals };
    }
    for (const arn of this.rings.keys()) if (!seen.has(arn)) this.rings.delete(arn);
  }

  /** The points of a target group, oldest first (empty when it has none yet). */
  series(targetGroupArn: string): ChartPoint[] {
    return [...(this.rings.get(targetGroupArn)?.points ?? [])];
  }

  start(): void {
    this.timer ??= this.clock.setInterval(() => this.sample(), this.options.intervalMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
