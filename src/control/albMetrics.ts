/**
 * Publishes the load balancer's own metrics into CloudWatch, as ALB does: namespace
 * `AWS/ApplicationELB`, dimension `LoadBalancer` (`app/<name>/<id>`) for a load balancer's
 * metrics and `LoadBalancer` + `TargetGroup` (`targetgroup/<name>/<id>`) for a target group's.
 *
 * Every replica runs its own publisher (not a duty): each counts the requests its own data plane
 * served, and CloudWatch adds statistic sets up, so sums across replicas come out right. Each run
 * puts, per minute bucket the plane still keeps (the last 60), what was counted since the last
 * successful put of that minute (only non-zero counts, as ALB publishes them), the minute's
 * TargetResponseTime statistic set, and once per minute the HealthyHostCount/UnHealthyHostCount
 * gauges, and a target group's RequestCountPerTarget. A failed put is retried whole on the next run (nothing is marked published before the
 * commit), so a datum is put once per replica.
 */
import type { Platform } from '../domain/platform.js';
import { putMetricData, type Dimension, type Sample } from '../domain/cloudwatch/metrics.js';
import { COUNTERS, lbLabel, tgLabel, type CounterName, type MetricSeries, type MinuteMetrics } from '../lb/metrics.js';
import { startLoop, type Loop } from './loop.js';

/** ALB's CloudWatch namespace. */
export const ALB_NAMESPACE = 'AWS/ApplicationELB';
/** How often the publisher runs by default (ALB publishes once a minute). */
export const ALB_METRICS_PUBLISH_INTERVAL_MS = 60_000;
/** Most samples one PutMetricData commit carries. */
const SAMPLES_PER_PUT = 1000;

/** Where the metrics come from: the load balancer's per-minute series (`LoadBalancerPlane.series`). */
export interface MetricSeriesSource {
  series(): MetricSeries[];
}

/** What was already put for one minute of one series. */
interface Published {
  counts: Partial<Record<CounterName, number>>;
  rtN: number;
  rtSum: number;
  gauges: boolean;
}

/** The region of an ARN (`arn:aws:elasticloadbalancing:<region>:...`). */
function regionOf(arn: string): string {
  return arn.split(':')[3] ?? '';
}

/** Turns the plane's series into samples and remembers what was put. */
export class AlbMetricsPublisher {
  /** Per series (ARN) and minute, what is already in CloudWatch. */
  private readonly published = new Map<string, Map<number, Published>>();

  constructor(
    private readonly platform: Platform,
    private readonly source: MetricSeriesSource,
  ) {}

  /** Puts what is new since the last run; returns how many samples were put. */
  async publish(): Promise<number> {
    const byRegion = new Map<string, Sample[]>();
    const marks: (() => void)[] = [];
    const live = new Set<string>();
    for (const series of this.source.series()) {
      const isGroup = series.targetGroupArn !== undefined;
      // A target group nothing forwards to has no LoadBalancer dimension: ALB publishes nothing for it.
      if (!series.loadBalancerArn) continue;
      const id = series.targetGroupArn ?? series.loadBalancerArn;
      live.add(id);
      const dims: Dimension[] = [{ Name: 'LoadBalancer', Value: lbLabel(series.loadBalancerArn) }];
      if (isGroup) dims.push({ Name: 'TargetGroup', Value: tgLabel(series.targetGroupArn!) });
      let perMinute = this.published.get(id);
      if (!perMinute) this.published.set(id, (perMinute = new Map()));
      const samples = byRegion.get(regionOf(id)) ?? [];
      byRegion.set(regionOf(id), samples);
      const kept = new Set<number>();
      for (const m of series.minutes) {
        kept.add(m.minute);
        const before = perMinute.get(m.minute) ?? { counts: {}, rtN: 0, rtSum: 0, gauges: false };
        const after = this.samplesOf(m, before, dims, isGroup, samples);
        const minutes = perMinute;
        marks.push(() => minutes.set(m.minute, after));
      }
      for (const minute of perMinute.keys()) if (!kept.has(minute)) perMinute.delete(minute);
    }
    for (const id of this.published.keys()) if (!live.has(id)) this.published.delete(id);
    let put = 0;
    for (const [region, samples] of byRegion) {
      for (let i = 0; i < samples.length; i += SAMPLES_PER_PUT) {
        await putMetricData({ platform: this.platform, region }, ALB_NAMESPACE, samples.slice(i, i + SAMPLES_PER_PUT));
        put += Math.min(SAMPLES_PER_PUT, samples.length - i);
      }
    }
    for (const mark of marks) mark();
    return put;
  }

  /** Adds to `out` the samples of one minute not yet put; returns what will have been put. */
  private samplesOf(m: MinuteMetrics, before: Published, dims: Dimension[], isGroup: boolean, out: Sample[]): Published {
    const after: Published = { counts: { ...before.counts }, rtN: before.rtN, rtSum: before.rtSum, gauges: before.gauges };
    const sample = (metricName: string, n: number, sum: number, min: number, max: number, unit: string) =>
      out.push({ metricName, dimensions: dims, timestamp: m.minute, n, sum, min, max, unit, storageResolution: 60 });
    for (const c of COUNTERS) {
      // A target group's set counts only requests and target responses; ELB codes are the load balancer's.
      if (isGroup && !(c === 'RequestCount' || c.startsWith('HTTPCode_Target_'))) continue;
      const delta = m.counts[c] - (before.counts[c] ?? 0);
      if (delta > 0) {
        sample(c, 1, delta, delta, delta, 'Count');
        after.counts[c] = m.counts[c];
        // RequestCountPerTarget (Sum): the group's requests over its healthy targets (at least one),
        // what target tracking on ALBRequestCountPerTarget follows.
        if (isGroup && c === 'RequestCount') {
          const perTarget = delta / Math.max(1, m.HealthyHostCount ?? 1);
          sample('RequestCountPerTarget', 1, perTarget, perTarget, perTarget, 'Count');
        }
      }
    }
    const rt = m.responseTimes;
    if (rt.n > before.rtN) {
      sample('TargetResponseTime', rt.n - before.rtN, rt.sum - before.rtSum, rt.min, rt.max, 'Seconds');
      after.rtN = rt.n;
      after.rtSum = rt.sum;
    }
    if (isGroup && !before.gauges && m.HealthyHostCount !== undefined) {
      sample('HealthyHostCount', 1, m.HealthyHostCount, m.HealthyHostCount, m.HealthyHostCount, 'Count');
      sample('UnHealthyHostCount', 1, m.UnHealthyHostCount ?? 0, m.UnHealthyHostCount ?? 0, m.UnHealthyHostCount ?? 0, 'Count');
      after.gauges = true;
    }
    return after;
  }
}

/** Starts publishing every `intervalMs` on the platform clock (this replica's own counters). */
export function startAlbMetricsPublisher(platform: Platform, source: MetricSeriesSource, opts: { intervalMs?: number; onError: (e: unknown) => void }): Loop {
  const publisher = new AlbMetricsPublisher(platform, source);
  return startLoop(platform.clock, opts.intervalMs ?? ALB_METRICS_PUBLISH_INTERVAL_MS, () => publisher.publish(), opts.onError);
}
