/**
 * CloudWatch metric alarms: their records, the API's transitions (put, delete, set state) and
 * their evaluation. `evaluateAlarm` is pure: given an alarm and its metric's statistics per
 * period, the state it should be in; `evaluateAlarms` (run by the alarm controller,
 * src/control/alarms.ts, on the platform clock) applies it to every alarm of a region.
 *
 * Evaluation: the alarm looks at its `EvaluationPeriods` most recent periods, aligned to the
 * epoch and including the current one (so a breach is seen within a controller tick instead of
 * a period later); a period breaches when its statistic compares to the threshold as the
 * operator says; `DatapointsToAlarm` (default: all of them) breaching periods make ALARM.
 * Missing periods count as `TreatMissingData` says (missing, notBreaching, breaching, ignore).
 *
 * Records: `cloudwatch.alarm` `<region>/<alarm name>`.
 */
import type { Scope } from '../platform.js';
import { arn } from '../common.js';
import { mutate, retrying } from '../mutate.js';
import { decodeToken, encodeToken } from '../common.js';
import { cloudwatchErrors } from './errors.js';
import { KIND, statisticsOf, statisticValue, type Dimension, type PeriodStats } from './metrics.js';

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
export type ComparisonOperator = 'GreaterThanOrEqualToThreshold' | 'GreaterThanThreshold' | 'LessThanThreshold' | 'LessThanOrEqualToThreshold';

/** A metric alarm as stored. */
export interface AlarmRecord {
  name: string;
  arn: string;
  description?: string;
  actionsEnabled: boolean;
  okActions: string[];
  alarmActions: string[];
  insufficientDataActions: string[];
  namespace: string;
  metricName: string;
  dimensions: Dimension[];
  statistic: string;
  unit?: string;
  /** Seconds. */
  period: number;
  evaluationPeriods: number;
  datapointsToAlarm?: number;
  threshold: number;
  comparisonOperator: ComparisonOperator;
  treatMissingData: 'missing' | 'notBreaching' | 'breaching' | 'ignore';
  configUpdatedAt: number;
  state: AlarmState;
  stateReason: string;
  stateReasonData?: string;
  stateUpdatedAt: number;
  stateTransitionedAt: number;
}

/** What PutMetricAlarm sets (all but the state). */
export type AlarmSpec = Omit<AlarmRecord, 'arn' | 'configUpdatedAt' | 'state' | 'stateReason' | 'stateReasonData' | 'stateUpdatedAt' | 'stateTransitionedAt'>;

/** Most alarms a region keeps (PutMetricAlarm of a new one past it: LimitExceeded). */
export const MAX_ALARMS_PER_REGION = 5_000;

function alarmKey(region: string, name: string): string {
  return `${region}/${name}`;
}

/** Creates or updates an alarm; a new one starts INSUFFICIENT_DATA, an updated one keeps its state. */
export async function putMetricAlarm(s: Scope, spec: AlarmSpec): Promise<AlarmRecord> {
  const now = s.platform.clock.now();
  const key = alarmKey(s.region, spec.name);
  const existing = await s.platform.store.get<AlarmRecord>(KIND.alarm, key);
  if (!existing) {
    const have = await s.platform.store.list(KIND.alarm, { prefix: `${s.region}/`, limit: MAX_ALARMS_PER_REGION });
    if (have.length >= MAX_ALARMS_PER_REGION) throw cloudwatchErrors.limitExceeded(`The maximum number of alarms (${MAX_ALARMS_PER_REGION}) in this region has been reached; delete alarms before creating more.`);
  }
  const { value } = await mutate<AlarmRecord>(
    s.platform.store,
    KIND.alarm,
    key,
    (cur) => ({
      ...spec,
      arn: arn('cloudwatch', s.region, s.platform.accountId, `alarm:${spec.name}`),
      configUpdatedAt: now,
      state: cur?.state ?? 'INSUFFICIENT_DATA',
      stateReason: cur?.stateReason ?? 'Unchecked: Initial alarm creation',
      stateReasonData: cur?.stateReasonData,
      stateUpdatedAt: cur?.stateUpdatedAt ?? now,
      stateTransitionedAt: cur?.stateTransitionedAt ?? now,
    }),
    { what: `Alarm ${spec.name}` },
  );
  return value!;
}

/** DescribeAlarms' filters. */
export interface AlarmQuery {
  names?: readonly string[];
  namePrefix?: string;
  state?: AlarmState;
  actionPrefix?: string;
  token?: string;
  limit: number;
}

/** One page of alarms in name order and the token of the next. */
export async function describeAlarms(s: Scope, q: AlarmQuery): Promise<{ alarms: AlarmRecord[]; nextToken?: string }> {
  const prefix = `${s.region}/`;
  let after = decodeToken(q.token, cloudwatchErrors.invalidNextToken);
  if (after !== undefined && !after.startsWith(prefix)) throw cloudwatchErrors.invalidNextToken();
  const names = q.names?.length ? new Set(q.names) : undefined;
  const keep = (a: AlarmRecord) =>
    (!names || names.has(a.name)) &&
    (q.namePrefix === undefined || a.name.startsWith(q.namePrefix)) &&
    (q.state === undefined || a.state === q.state) &&
    (q.actionPrefix === undefined || [...a.alarmActions, ...a.okActions, ...a.insufficientDataActions].some((x) => x.startsWith(q.actionPrefix!)));
  const alarms: AlarmRecord[] = [];
  const listPrefix = q.namePrefix !== undefined ? `${prefix}${q.namePrefix}` : prefix;
  for (;;) {
    const batch = await s.platform.store.list<AlarmRecord>(KIND.alarm, { prefix: listPrefix, after, limit: 500 });
    for (const r of batch) {
      if (!keep(r.value)) continue;
      if (alarms.length === q.limit) return { alarms, nextToken: encodeToken(after!) };
      alarms.push(r.value);
      after = r.key;
    }
    if (batch.length < 500) return { alarms };
    after = batch[batch.length - 1]!.key;
  }
}

/** Deletes the named alarms, all or none: any unknown name is ResourceNotFound and nothing is deleted. */
export async function deleteAlarms(s: Scope, names: readonly string[]): Promise<void> {
  await retrying('Alarms', async () => {
    const keys = [...new Set(names)].map((n) => alarmKey(s.region, n));
    const found = await s.platform.store.getMany<AlarmRecord>(KIND.alarm, keys);
    const missing = keys.filter((_, i) => !found[i]).map((k) => k.slice(s.region.length + 1));
    if (missing.length) throw cloudwatchErrors.alarmNotFound(missing);
    await s.platform.store.commit(found.map((r) => ({ kind: KIND.alarm, key: r!.key, value: null, expectRev: r!.rev })));
  });
}

/** SetAlarmState: sets the state until the next evaluation says otherwise. */
export async function setAlarmState(s: Scope, name: string, state: AlarmState, reason: string, reasonData?: string): Promise<void> {
  if (reasonData !== undefined) {
    try {
      JSON.parse(reasonData);
    } catch {
      throw cloudwatchErrors.invalidFormat('StateReasonData must be a JSON document.');
    }
  }
  const now = s.platform.clock.now();
  await mutate<AlarmRecord>(
    s.platform.store,
    KIND.alarm,
    alarmKey(s.region, name),
    (cur) => {
      if (!cur) throw cloudwatchErrors.alarmNotFound([name]);
      return { ...cur, state, stateReason: reason, stateReasonData: reasonData, stateUpdatedAt: now, stateTransitionedAt: cur.state === state ? cur.stateTransitionedAt : now };
    },
    { what: `Alarm ${name}` },
  );
}

/** Whether a value breaches a threshold under an operator. */
export function breaches(value: number, op: ComparisonOperator, threshold: number): boolean {
  switch (op) {
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'LessThanThreshold':
      return value < threshold;
    default:
      return value <= threshold;
  }
}

/** The outcome of one evaluation: the state, and why. */
export interface Evaluation {
  state: AlarmState;
  reason: string;
}

/**
 * The state an alarm should be in at `now`, given its metric's statistics per period over (at
 * least) its evaluation range; undefined to keep the current state (`ignore` with no data).
 */
export function evaluateAlarm(a: Pick<AlarmRecord, 'statistic' | 'period' | 'evaluationPeriods' | 'datapointsToAlarm' | 'threshold' | 'comparisonOperator' | 'treatMissingData'>, periods: readonly PeriodStats[], now: number): Evaluation | undefined {
  const p = a.period * 1000;
  const last = Math.floor(now / p) * p;
  const byStart = new Map(periods.map((x) => [x.t, x]));
  const m = a.datapointsToAlarm ?? a.evaluationPeriods;
  let breaching = 0;
  let present = 0;
  const values: number[] = [];
  for (let i = 0; i < a.evaluationPeriods; i++) {
    const x = byStart.get(last - i * p);
    if (!x) {
      if (a.treatMissingData === 'breaching') breaching++;
      continue;
    }
    present++;
    const v = statisticValue(x, a.statistic);
    values.push(v);
    if (breaches(v, a.comparisonOperator, a.threshold)) breaching++;
  }
  const shown = values.slice(0, 5).map((v) => String(Number(v.toPrecision(6)))).join(', ');
  const op = OP_TEXT[a.comparisonOperator];
  if (breaching >= m) {
    return { state: 'ALARM', reason: `Threshold Crossed: ${breaching} out of the last ${a.evaluationPeriods} datapoints${shown ? ` [${shown}]` : ''} ${breaching === 1 ? 'was' : 'were'} ${op} the threshold (${a.threshold}) (minimum ${m} datapoint${m === 1 ? '' : 's'} for OK -> ALARM transition).` };
  }
  if (present === 0 && (a.treatMissingData === 'missing' || a.treatMissingData === 'ignore')) {
    if (a.treatMissingData === 'ignore') return undefined;
    return { state: 'INSUFFICIENT_DATA', reason: `Insufficient Data: ${a.evaluationPeriods} datapoint${a.evaluationPeriods === 1 ? ' was' : 's were'} unknown.` };
  }
  return { state: 'OK', reason: `Threshold Crossed: ${a.evaluationPeriods - breaching} out of the last ${a.evaluationPeriods} datapoints${shown ? ` [${shown}]` : ''} ${a.evaluationPeriods - breaching === 1 ? 'was' : 'were'} not ${op} the threshold (${a.threshold}).` };
}

const OP_TEXT: Record<ComparisonOperator, string> = {
  GreaterThanOrEqualToThreshold: 'greater than or equal to',
  GreaterThanThreshold: 'greater than',
  LessThanThreshold: 'less than',
  LessThanOrEqualToThreshold: 'less than or equal to',
};

/** A state change made by an evaluation, for the controller's log. */
export interface Transition {
  alarm: string;
  from: AlarmState;
  to: AlarmState;
}

/** Evaluates every alarm of a region and records the changes; returns the transitions. */
export async function evaluateAlarms(s: Scope): Promise<Transition[]> {
  const now = s.platform.clock.now();
  const out: Transition[] = [];
  for (const r of await s.platform.store.list<AlarmRecord>(KIND.alarm, { prefix: `${s.region}/` })) {
    const a = r.value;
    const p = a.period * 1000;
    const start = Math.floor(now / p) * p - (a.evaluationPeriods - 1) * p;
    const stats = await statisticsOf(s, { namespace: a.namespace, metricName: a.metricName, dimensions: a.dimensions }, start, Math.floor(now / p) * p + p, p, a.unit);
    const e = evaluateAlarm(a, stats, now);
    if (!e || e.state === a.state) continue;
    const data = JSON.stringify({ version: '1.0', queryDate: new Date(now).toISOString(), statistic: a.statistic, period: a.period, threshold: a.threshold, recentDatapoints: stats.map((x) => statisticValue(x, a.statistic)) });
    const { changed } = await mutate<AlarmRecord>(s.platform.store, KIND.alarm, r.key, (cur) => {
      // Changed since read (updated, deleted, set by hand): the next tick judges it afresh.
      if (!cur || cur.configUpdatedAt !== a.configUpdatedAt || cur.state !== a.state || cur.stateUpdatedAt !== a.stateUpdatedAt) return undefined;
      return { ...cur, state: e.state, stateReason: e.reason, stateReasonData: data, stateUpdatedAt: now, stateTransitionedAt: now };
    });
    if (changed) out.push({ alarm: a.name, from: a.state, to: e.state });
  }
  return out;
}

/** The regions that have alarms. */
export async function alarmRegions(s: Pick<Scope, 'platform'>): Promise<string[]> {
  const regions = new Set<string>();
  for (const r of await s.platform.store.list(KIND.alarm)) regions.add(r.key.split('/')[0]!);
  return [...regions];
}

/** The regions that have metrics (for the data sweep). */
export async function metricRegions(s: Pick<Scope, 'platform'>): Promise<string[]> {
  const regions = new Set<string>();
  for (const r of await s.platform.store.list(KIND.metric)) regions.add(r.key.split('/')[0]!);
  return [...regions];
}
