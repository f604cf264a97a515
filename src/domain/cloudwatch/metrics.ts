/**
 * CloudWatch metrics: what PutMetricData records and what GetMetricStatistics, GetMetricData and
 * ListMetrics read. A metric is (namespace, name, dimensions); its data is kept as statistic
 * sets (sample count, sum, minimum, maximum) per bucket of its storage resolution (60 s, or 1 s
 * for high-resolution data), as CloudWatch aggregates it, and queries add buckets up into
 * periods. Percentiles are not kept (no raw samples).
 *
 * Records, in the state store:
 * - `cloudwatch.metric` `<region>/<ns>/<name>/<digest of dimensions>` (URI-encoded parts): the
 *   metric's identity and when data was last put (ListMetrics' RecentlyActive);
 * - `cloudwatch.datapoint` `<metric key>/<bucket start, seconds, zero-padded>`: one bucket.
 * Data older than `RETENTION_MS` is swept (`sweepMetricData`).
 */
import { createHash } from 'node:crypto';
import type { Scope } from '../platform.js';
import type { StoredRecord, Write } from '../../store/types.js';
import { retrying } from '../mutate.js';
import { decodeToken, encodeToken } from '../common.js';
import { cloudwatchErrors } from './errors.js';

export const KIND = { metric: 'cloudwatch.metric', datapoint: 'cloudwatch.datapoint', alarm: 'cloudwatch.alarm' } as const;

/** A metric dimension. */
export interface Dimension {
  Name: string;
  Value: string;
}

/** A metric's identity and activity. */
export interface MetricRecord {
  namespace: string;
  metricName: string;
  /** Sorted by name. */
  dimensions: Dimension[];
  /** When data was last put (ms). */
  lastPutAt: number;
}

/** One bucket of a metric's data: a statistic set. */
export interface Bucket {
  /** Bucket start (ms). */
  t: number;
  /** Sample count, sum, minimum, maximum. */
  n: number;
  sum: number;
  min: number;
  max: number;
  /** The unit the data was put with ('None' when none was given). */
  unit: string;
}

/** One value (or statistic set) to record, as the API's MetricDatum gives it, already checked. */
export interface Sample {
  metricName: string;
  dimensions: Dimension[];
  /** When (ms); defaults to now. */
  timestamp: number;
  n: number;
  sum: number;
  min: number;
  max: number;
  unit?: string;
  /** 1 for high-resolution data, else 60. */
  storageResolution: number;
}

/** How long data is kept (CloudWatch keeps 1-minute data 15 days). */
export const RETENTION_MS = 15 * 24 * 3600_000;
/** How far back and ahead a timestamp may be (AWS: two weeks back, two hours ahead). */
export const MAX_PAST_MS = 14 * 24 * 3600_000;
export const MAX_FUTURE_MS = 2 * 3600_000;
/** Most metrics one region keeps; a put of a new one past it is refused. */
export const MAX_METRICS_PER_REGION = 10_000;
/** Most datapoints one GetMetricStatistics answer may hold (AWS's limit). */
export const MAX_DATAPOINTS = 1440;
/** Most datapoints GetMetricData returns per call in all (AWS: 100,800). */
export const MAX_METRIC_DATA_POINTS = 100_800;
/** Largest magnitude of a value (AWS rejects values above 2^360 or below 2^-260 in magnitude). */
const MAX_MAGNITUDE = 2 ** 360;
const MIN_MAGNITUDE = 2 ** -260;
/** activity refresh: a metric's lastPutAt is rewritten at most this often. */
const ACTIVITY_REFRESH_MS = 60_000;

const enc = encodeURIComponent;

/** Dimensions in their canonical order (by name, then value). */
export function sortDimensions(dims: readonly Dimension[] | undefined): Dimension[] {
  return [...(dims ?? [])].map((d) => ({ Name: d.Name, Value: d.Value })).sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : a.Value < b.Value ? -1 : a.Value > b.Value ? 1 : 0));
}

/** The store key of a metric. */
export function metricKey(region: string, namespace: string, metricName: string, dims: readonly Dimension[] | undefined): string {
  const digest = createHash('sha256').update(JSON.stringify(sortDimensions(dims).map((d) => [d.Name, d.Value]))).digest('hex').slice(0, 32);
  return `${region}/${enc(namespace)}/${enc(metricName)}/${digest}`;
}

function bucketKey(mk: string, t: number): string {
  return `${mk}/${String(Math.floor(t / 1000)).padStart(13, '0')}`;
}

/** Checks a value as PutMetricData does: finite, and zero or within 2^-260..2^360 in magnitude. */
export function checkValue(v: number, where: string): void {
  const a = Math.abs(v);
  if (!Number.isFinite(v) || a > MAX_MAGNITUDE || (a !== 0 && a < MIN_MAGNITUDE)) {
    throw cloudwatchErrors.invalidParameterValue(`The value ${v} for parameter ${where} is invalid: values must be finite, at most 2^360 and at least 2^-260 in magnitude (or 0).`);
  }
}

/**
 * Records samples under a namespace: each goes into its metric's bucket (statistic sets merge),
 * new metrics are created, in one commit per attempt. Timestamps outside two weeks back to two
 * hours ahead are refused (InvalidParameterValue), as are new metrics past the region's limit.
 */
export async function putMetricData(s: Scope, namespace: string, samples: readonly Sample[]): Promise<void> {
  const now = s.platform.clock.now();
  samples.forEach((x, i) => {
    if (x.timestamp < now - MAX_PAST_MS || x.timestamp > now + MAX_FUTURE_MS) {
      throw cloudwatchErrors.invalidParameterValue(`The parameter MetricData.member.${i + 1}.Timestamp must specify a time no more than two weeks in the past and no more than two hours in the future.`);
    }
  });
  // Merge in memory first: many samples of one metric and minute make one write.
  const buckets = new Map<string, { mk: string; metric: MetricRecord; b: Bucket }>();
  for (const x of samples) {
    const dims = sortDimensions(x.dimensions);
    const mk = metricKey(s.region, namespace, x.metricName, dims);
    const res = x.storageResolution === 1 ? 1000 : 60_000;
    const t = Math.floor(x.timestamp / res) * res;
    const bk = bucketKey(mk, t);
    const cur = buckets.get(bk);
    if (cur) mergeInto(cur.b, x);
    else buckets.set(bk, { mk, metric: { namespace, metricName: x.metricName, dimensions: dims, lastPutAt: now }, b: { t, n: x.n, sum: x.sum, min: x.min, max: x.max, unit: x.unit ?? 'None' } });
  }
  const metricKeys = [...new Set([...buckets.values()].map((v) => v.mk))];
  const metricOf = new Map([...buckets.values()].map((v) => [v.mk, v.metric]));
  await retrying(`Metric data of ${namespace}`, async () => {
    const store = s.platform.store;
    const writes: Write[] = [];
    const existingMetrics = await store.getMany<MetricRecord>(KIND.metric, metricKeys);
    let fresh = 0;
    metricKeys.forEach((mk, i) => {
      const m = existingMetrics[i];
      if (!m) fresh++;
      if (!m || now - m.value.lastPutAt >= ACTIVITY_REFRESH_MS) writes.push({ kind: KIND.metric, key: mk, value: { ...metricOf.get(mk)!, lastPutAt: now }, expectRev: m?.rev ?? 0 });
    });
    if (fresh > 0) {
      const have = await store.list(KIND.metric, { prefix: `${s.region}/`, limit: MAX_METRICS_PER_REGION + 1 });
      if (have.length + fresh > MAX_METRICS_PER_REGION) {
        throw cloudwatchErrors.limitExceeded(`This region already keeps ${have.length} metrics, the most Berth keeps (${MAX_METRICS_PER_REGION}); put data to existing metrics or delete old ones by letting them expire.`);
      }
    }
    const keys = [...buckets.keys()];
    const existing = await store.getMany<Bucket>(KIND.datapoint, keys);
    keys.forEach((bk, i) => {
      const add = buckets.get(bk)!.b;
      const cur = existing[i];
      const merged = cur ? { ...cur.value } : { ...add };
      if (cur) mergeInto(merged, { n: add.n, sum: add.sum, min: add.min, max: add.max, unit: add.unit });
      writes.push({ kind: KIND.datapoint, key: bk, value: merged, expectRev: cur?.rev ?? 0 });
    });
    await store.commit(writes);
  });
}

function mergeInto(b: Bucket, x: { n: number; sum: number; min: number; max: number; unit?: string }): void {
  b.n += x.n;
  b.sum += x.sum;
  b.min = Math.min(b.min, x.min);
  b.max = Math.max(b.max, x.max);
  if (x.unit) b.unit = x.unit;
}

/** A metric as queries name it. */
export interface MetricRef {
  namespace: string;
  metricName: string;
  dimensions?: readonly Dimension[];
}

/** One period's statistics. */
export interface PeriodStats {
  /** Period start (ms). */
  t: number;
  n: number;
  sum: number;
  min: number;
  max: number;
  unit: string;
}

/**
 * The metric's data from `start` (inclusive) to `end` (exclusive), added up per `periodMs`
 * (periods aligned to the epoch, as CloudWatch aligns them), only buckets of `unit` if given.
 * Periods without data are absent. At most `maxPeriods` periods are read.
 */
export async function statisticsOf(s: Scope, ref: MetricRef, start: number, end: number, periodMs: number, unit?: string): Promise<PeriodStats[]> {
  const mk = metricKey(s.region, ref.namespace, ref.metricName, ref.dimensions);
  const out = new Map<number, PeriodStats>();
  let after = bucketKey(mk, Math.max(0, start - 1000));
  const endKey = bucketKey(mk, end);
  for (;;) {
    const batch = await s.platform.store.list<Bucket>(KIND.datapoint, { prefix: `${mk}/`, after, limit: 1000 });
    for (const r of batch) {
      if (r.key >= endKey) return [...out.values()].sort((a, b) => a.t - b.t);
      const b = r.value;
      if (b.t < start || (unit && b.unit !== unit)) continue;
      const t = Math.floor(b.t / periodMs) * periodMs;
      const p = out.get(t);
      if (p) {
        p.n += b.n;
        p.sum += b.sum;
        p.min = Math.min(p.min, b.min);
        p.max = Math.max(p.max, b.max);
      } else out.set(t, { t, n: b.n, sum: b.sum, min: b.min, max: b.max, unit: b.unit });
    }
    if (batch.length < 1000) break;
    after = batch[batch.length - 1]!.key;
  }
  return [...out.values()].sort((a, b) => a.t - b.t);
}

/** The value of a statistic over one period. */
export function statisticValue(p: PeriodStats, statistic: string): number {
  switch (statistic) {
    case 'SampleCount':
      return p.n;
    case 'Sum':
      return p.sum;
    case 'Minimum':
      return p.min;
    case 'Maximum':
      return p.max;
    default:
      return p.n === 0 ? 0 : p.sum / p.n;
  }
}

/** ListMetrics' filters. */
export interface MetricListing {
  namespace?: string;
  metricName?: string;
  /** Each must be present on the metric, with the value if one is given. */
  dimensions?: ReadonlyArray<{ Name: string; Value?: string }>;
  /** Only metrics with data in the last three hours. */
  recentlyActive?: boolean;
  token?: string;
  /** Page size (AWS: 500). */
  limit: number;
}

/** One page of metrics matching the filters, in key order, and the token of the next. */
export async function listMetrics(s: Scope, q: MetricListing): Promise<{ metrics: MetricRecord[]; nextToken?: string }> {
  const prefix = q.namespace === undefined ? `${s.region}/` : q.metricName === undefined ? `${s.region}/${enc(q.namespace)}/` : `${s.region}/${enc(q.namespace)}/${enc(q.metricName)}/`;
  let after = decodeToken(q.token, cloudwatchErrors.invalidNextToken);
  if (after !== undefined && !after.startsWith(prefix)) throw cloudwatchErrors.invalidNextToken();
  const now = s.platform.clock.now();
  const keep = (r: StoredRecord<MetricRecord>) => {
    const m = r.value;
    if (q.recentlyActive && now - m.lastPutAt > 3 * 3600_000) return false;
    return (q.dimensions ?? []).every((f) => m.dimensions.some((d) => d.Name === f.Name && (f.Value === undefined || d.Value === f.Value)));
  };
  const metrics: MetricRecord[] = [];
  for (;;) {
    const batch = await s.platform.store.list<MetricRecord>(KIND.metric, { prefix, after, limit: 500 });
    for (const r of batch) {
      if (!keep(r)) continue;
      if (metrics.length === q.limit) return { metrics, nextToken: encodeToken(after!) };
      metrics.push(r.value);
      after = r.key;
    }
    if (batch.length < 500) return { metrics };
    after = batch[batch.length - 1]!.key;
  }
}

/** Deletes data older than the retention, and metrics with no data put within it. Returns how many records went. */
export async function sweepMetricData(s: Scope): Promise<number> {
  const cutoff = s.platform.clock.now() - RETENTION_MS;
  let n = 0;
  for (const m of await s.platform.store.list<MetricRecord>(KIND.metric, { prefix: `${s.region}/` })) {
    for (;;) {
      const old = (await s.platform.store.list<Bucket>(KIND.datapoint, { prefix: `${m.key}/`, limit: 500 })).filter((r) => r.value.t < cutoff);
      if (old.length === 0) break;
      await s.platform.store.commit(old.map((r) => ({ kind: KIND.datapoint, key: r.key, value: null, expectRev: r.rev })));
      n += old.length;
      if (old.length < 500) break;
    }
    if (m.value.lastPutAt < cutoff) {
      await s.platform.store.commit([{ kind: KIND.metric, key: m.key, value: null, expectRev: m.rev }]);
      n++;
    }
  }
  return n;
}
