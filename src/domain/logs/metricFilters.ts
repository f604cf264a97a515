/**
 * CloudWatch Logs metric filters: a filter pattern on a log group that turns matching events
 * into CloudWatch metric data (src/domain/cloudwatch). `metricValue` is a number, or a field of
 * the matched event (`$.latency` in a JSON pattern, `$size` in a space-delimited one); each
 * dimension's value is such a field too. Applied to every accepted PutLogEvents batch, in the
 * same request (`applyMetricFilters`), with each event's timestamp; a batch in which no event
 * matches emits the `defaultValue`, if the filter has one.
 *
 * Records, in the state store (replicas share them): `logs.metricFilter`
 * `<region>/<URI-encoded group name>/<filter name>`.
 */
import type { Scope } from '../platform.js';
import type { StoredRecord } from '../../store/types.js';
import { mutate, retrying } from '../mutate.js';
import { decodeToken, encodeToken } from '../common.js';
import { putMetricData, MAX_PAST_MS, MAX_FUTURE_MS, type Sample } from '../cloudwatch/metrics.js';
import { checkFieldRef, compileFilterPattern, FilterPatternError, type CompiledPattern } from './filterPattern.js';
import { logsErrors } from './errors.js';
import { ServiceError } from '../../errors.js';

export const METRIC_FILTER_KIND = 'logs.metricFilter';
/** Most metric filters one log group may have (AWS's quota). */
export const MAX_METRIC_FILTERS_PER_GROUP = 100;

/** One metric a filter emits (AWS allows exactly one per filter). */
export interface MetricTransformation {
  metricName: string;
  metricNamespace: string;
  metricValue: string;
  defaultValue?: number;
  /** Dimension name -> field reference (`$.field` or `$name`). */
  dimensions?: Record<string, string>;
  unit?: string;
}

/** A metric filter as stored. */
export interface MetricFilterRecord {
  filterName: string;
  logGroupName: string;
  filterPattern: string;
  metricTransformations: MetricTransformation[];
  creationTime: number;
}

const enc = encodeURIComponent;
function groupPrefix(region: string, group: string): string {
  return `${region}/${enc(group)}/`;
}

/** Compiles a pattern as an API input: a malformed one is InvalidParameterException. */
export function compileForApi(pattern: string): CompiledPattern {
  try {
    return compileFilterPattern(pattern);
  } catch (e) {
    if (e instanceof FilterPatternError) throw logsErrors.invalidParameter(e.message);
    throw e;
  }
}

/** Checks a transformation as AWS does: a numeric value or a field reference the pattern can give. */
function checkTransformation(t: MetricTransformation, pattern: CompiledPattern, patternText: string): void {
  const refs = [t.metricValue, ...Object.values(t.dimensions ?? {})];
  for (const ref of refs) {
    if (ref === t.metricValue && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(ref)) continue;
    try {
      checkFieldRef(ref);
    } catch (e) {
      throw logsErrors.invalidParameter(`Invalid metric transformation: '${ref.slice(0, 100)}' is neither a number nor a field reference ($.field, $name). ${e instanceof Error ? e.message : ''}`.trim());
    }
    if (!pattern.fields) throw logsErrors.invalidParameter(`Invalid metric transformation: '${ref.slice(0, 100)}' refers to a field, but the filter pattern '${patternText.slice(0, 100)}' has none; use a JSON or space-delimited pattern.`);
  }
  if (Object.keys(t.dimensions ?? {}).length > 3) throw logsErrors.invalidParameter('A metric transformation can have at most 3 dimensions.');
  if (t.defaultValue !== undefined && Object.keys(t.dimensions ?? {}).length > 0) {
    throw logsErrors.invalidParameter('A metric transformation with dimensions cannot have a defaultValue.');
  }
}

/** PutMetricFilter: creates or replaces a group's filter (the group must exist; see the handler). */
export async function putMetricFilter(s: Scope, spec: Omit<MetricFilterRecord, 'creationTime'>): Promise<void> {
  const pattern = compileForApi(spec.filterPattern);
  if (spec.metricTransformations.length !== 1) throw logsErrors.invalidParameter('A metric filter has exactly one metric transformation.');
  for (const t of spec.metricTransformations) checkTransformation(t, pattern, spec.filterPattern);
  const prefix = groupPrefix(s.region, spec.logGroupName);
  const key = prefix + spec.filterName;
  const now = s.platform.clock.now();
  await retrying(`Metric filter ${spec.filterName}`, async () => {
    const cur = await s.platform.store.get<MetricFilterRecord>(METRIC_FILTER_KIND, key);
    if (!cur) {
      const have = await s.platform.store.list(METRIC_FILTER_KIND, { prefix, limit: MAX_METRIC_FILTERS_PER_GROUP });
      if (have.length >= MAX_METRIC_FILTERS_PER_GROUP) throw logsErrors.limitExceeded(`Log group ${spec.logGroupName} already has ${MAX_METRIC_FILTERS_PER_GROUP} metric filters, the most it may have.`);
    }
    await s.platform.store.commit([{ kind: METRIC_FILTER_KIND, key, value: { ...spec, creationTime: cur?.value.creationTime ?? now }, expectRev: cur?.rev ?? 0 }]);
  });
}

/** DeleteMetricFilter: ResourceNotFoundException when there is none of that name. */
export async function deleteMetricFilter(s: Scope, group: string, name: string): Promise<void> {
  const { changed } = await mutate<MetricFilterRecord>(s.platform.store, METRIC_FILTER_KIND, groupPrefix(s.region, group) + name, (cur) => (cur ? null : undefined));
  if (!changed) throw logsErrors.resourceNotFound('The specified metric filter does not exist.');
}

/** Deletes every metric filter of a group (with the group). */
export async function deleteGroupMetricFilters(s: Scope, group: string): Promise<void> {
  const all = await s.platform.store.list(METRIC_FILTER_KIND, { prefix: groupPrefix(s.region, group) });
  if (all.length) await s.platform.store.commit(all.map((r) => ({ kind: METRIC_FILTER_KIND, key: r.key, value: null })));
}

/** DescribeMetricFilters' filters. */
export interface MetricFilterQuery {
  logGroupName?: string;
  filterNamePrefix?: string;
  metricName?: string;
  metricNamespace?: string;
  token?: string;
  limit: number;
}

/** One page of metric filters and the token of the next. */
export async function describeMetricFilters(s: Scope, q: MetricFilterQuery): Promise<{ filters: MetricFilterRecord[]; nextToken?: string }> {
  const prefix = q.logGroupName === undefined ? `${s.region}/` : groupPrefix(s.region, q.logGroupName) + (q.filterNamePrefix ?? '');
  let after = decodeToken(q.token, logsErrors.invalidToken);
  if (after !== undefined && !after.startsWith(prefix)) throw logsErrors.invalidToken();
  const keep = (r: StoredRecord<MetricFilterRecord>) =>
    (q.metricName === undefined || r.value.metricTransformations.some((t) => t.metricName === q.metricName)) &&
    (q.metricNamespace === undefined || r.value.metricTransformations.some((t) => t.metricNamespace === q.metricNamespace));
  const filters: MetricFilterRecord[] = [];
  for (;;) {
    const batch = await s.platform.store.list<MetricFilterRecord>(METRIC_FILTER_KIND, { prefix, after, limit: 500 });
    for (const r of batch) {
      if (!keep(r)) continue;
      if (filters.length === q.limit) return { filters, nextToken: encodeToken(after!) };
      filters.push(r.value);
      after = r.key;
    }
    if (batch.length < 500) return { filters };
    after = batch[batch.length - 1]!.key;
  }
}

/** What a filter extracts from one event: the metric value and dimensions, or undefined to skip it. */
export function extractMetric(t: MetricTransformation, pattern: CompiledPattern, message: string): { value: number; dimensions: Array<{ Name: string; Value: string }> } | undefined {
  const literal = Number(t.metricValue);
  const isLiteral = !t.metricValue.startsWith('$') && Number.isFinite(literal);
  if (isLiteral && !t.dimensions) return pattern.matches(message) ? { value: literal, dimensions: [] } : undefined;
  const fields = pattern.fields?.(message);
  if (!fields) return undefined;
  const value = isLiteral ? literal : Number(fields(t.metricValue));
  // A field that is absent or not a number gives no value: the event is skipped, as on AWS.
  if (!Number.isFinite(value) || (!isLiteral && fields(t.metricValue)?.trim() === '')) return undefined;
  const dimensions: Array<{ Name: string; Value: string }> = [];
  for (const [name, ref] of Object.entries(t.dimensions ?? {})) {
    const v = fields(ref);
    if (v === undefined || v === '') return undefined;
    dimensions.push({ Name: name, Value: v.slice(0, 1024) });
  }
  return { value, dimensions };
}

/**
 * Applies a group's metric filters to events just accepted, putting the metric data they give.
 * Events outside CloudWatch's accepted time range give nothing.
 */
export async function applyMetricFilters(s: Scope, group: string, events: ReadonlyArray<{ timestamp: number; message: string }>): Promise<void> {
  if (events.length === 0) return;
  const filters = await s.platform.store.list<MetricFilterRecord>(METRIC_FILTER_KIND, { prefix: groupPrefix(s.region, group) });
  if (filters.length === 0) return;
  const now = s.platform.clock.now();
  const inRange = events.filter((e) => e.timestamp >= now - MAX_PAST_MS && e.timestamp <= now + MAX_FUTURE_MS);
  for (const f of filters) {
    let pattern: CompiledPattern;
    try {
      pattern = compileFilterPattern(f.value.filterPattern);
    } catch {
      continue;
    }
    for (const t of f.value.metricTransformations) {
      const byNamespace: Sample[] = [];
      for (const e of inRange) {
        const m = extractMetric(t, pattern, e.message);
        if (m) byNamespace.push({ metricName: t.metricName, dimensions: m.dimensions, timestamp: e.timestamp, n: 1, sum: m.value, min: m.value, max: m.value, unit: t.unit, storageResolution: 60 });
      }
      if (byNamespace.length === 0 && t.defaultValue !== undefined) {
        byNamespace.push({ metricName: t.metricName, dimensions: [], timestamp: now, n: 1, sum: t.defaultValue, min: t.defaultValue, max: t.defaultValue, unit: t.unit, storageResolution: 60 });
      }
      // The events are stored whatever happens here: metric data CloudWatch refuses (its
      // per-region metric limit) is dropped rather than failing the PutLogEvents that carried it.
      if (byNamespace.length) await putMetricData(s, t.metricNamespace, byNamespace).catch((e: unknown) => {
        if (!(e instanceof ServiceError)) throw e;
      });
    }
  }
}
