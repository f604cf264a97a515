/**
 * CloudWatch's API handlers: metrics (PutMetricData, GetMetricStatistics, GetMetricData,
 * ListMetrics) and metric alarms (PutMetricAlarm, DescribeAlarms, DeleteAlarms, SetAlarmState)
 * over src/domain/cloudwatch. They check what the model cannot (AWS's cross-member rules) and
 * map records to API shapes; the wire protocol is the gateway's business.
 */
import type * as CW from '../../generated/cloudwatch.js';
import type { Handlers } from '../types.js';
import { cloudwatchErrors } from '../../domain/cloudwatch/errors.js';
import { MAX_DATAPOINTS, MAX_METRIC_DATA_POINTS, checkValue, listMetrics, putMetricData, statisticValue, statisticsOf, type Sample } from '../../domain/cloudwatch/metrics.js';
import { deleteAlarms, describeAlarms, putMetricAlarm, setAlarmState, type AlarmRecord, type ComparisonOperator } from '../../domain/cloudwatch/alarms.js';

const STATISTICS = ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'];
const TREAT_MISSING = ['missing', 'notBreaching', 'breaching', 'ignore'];
const SIMPLE_OPERATORS = ['GreaterThanOrEqualToThreshold', 'GreaterThanThreshold', 'LessThanThreshold', 'LessThanOrEqualToThreshold'];

/** A period as AWS accepts it: 1, 5, 10, 30 (high resolution) or a multiple of 60 seconds. */
function checkPeriod(period: number, where: string): void {
  if (!(period === 1 || period === 5 || period === 10 || period === 30 || (period >= 60 && period % 60 === 0))) {
    throw cloudwatchErrors.invalidParameterValue(`The parameter ${where} must be 1, 5, 10, 30, or a multiple of 60; got ${period}.`);
  }
}

/** One MetricDatum as samples (one per value, or one statistic set), checked as AWS checks it. */
function samplesOf(d: CW.MetricDatum, i: number, now: number): Sample[] {
  const at = `MetricData.member.${i + 1}`;
  const forms = [d.Value !== undefined, d.Values !== undefined, d.StatisticValues !== undefined].filter(Boolean).length;
  if (forms > 1) throw cloudwatchErrors.invalidParameterCombination(`The parameters ${at}.Value, ${at}.Values and ${at}.StatisticValues are mutually exclusive; give one.`);
  if (d.StorageResolution !== undefined && d.StorageResolution !== 1 && d.StorageResolution !== 60) {
    throw cloudwatchErrors.invalidParameterValue(`The parameter ${at}.StorageResolution must be 1 or 60; got ${d.StorageResolution}.`);
  }
  const base = { metricName: d.MetricName, dimensions: d.Dimensions ?? [], timestamp: d.Timestamp?.getTime() ?? now, unit: d.Unit, storageResolution: d.StorageResolution ?? 60 };
  const names = new Set<string>();
  for (const dim of base.dimensions) {
    if (names.has(dim.Name)) throw cloudwatchErrors.invalidParameterValue(`The dimension name '${dim.Name}' appears more than once in ${at}.Dimensions.`);
    names.add(dim.Name);
  }
  if (d.StatisticValues) {
    const sv = d.StatisticValues;
    for (const [k, v] of Object.entries(sv)) checkValue(v, `${at}.StatisticValues.${k}`);
    if (sv.SampleCount <= 0) throw cloudwatchErrors.invalidParameterValue(`The parameter ${at}.StatisticValues.SampleCount must be greater than 0.`);
    if (sv.Minimum > sv.Maximum) throw cloudwatchErrors.invalidParameterValue(`The parameter ${at}.StatisticValues.Minimum must not be greater than Maximum.`);
    return [{ ...base, n: sv.SampleCount, sum: sv.Sum, min: sv.Minimum, max: sv.Maximum }];
  }
  if (d.Values) {
    if (d.Counts && d.Counts.length !== d.Values.length) {
      throw cloudwatchErrors.invalidParameterValue(`The parameters ${at}.Values and ${at}.Counts must have the same number of items (${d.Values.length} and ${d.Counts.length}).`);
    }
    return d.Values.map((v, j) => {
      checkValue(v, `${at}.Values.member.${j + 1}`);
      const c = d.Counts?.[j] ?? 1;
      if (!(c > 0) || !Number.isFinite(c)) throw cloudwatchErrors.invalidParameterValue(`The parameter ${at}.Counts.member.${j + 1} must be greater than 0.`);
      return { ...base, n: c, sum: v * c, min: v, max: v };
    });
  }
  if (d.Value === undefined) throw cloudwatchErrors.missingParameter(`The parameter ${at}.Value, Values or StatisticValues is required.`);
  checkValue(d.Value, `${at}.Value`);
  return [{ ...base, n: 1, sum: d.Value, min: d.Value, max: d.Value }];
}

function alarmShape(a: AlarmRecord): CW.MetricAlarm {
  return {
    AlarmName: a.name,
    AlarmArn: a.arn,
    AlarmDescription: a.description,
    AlarmConfigurationUpdatedTimestamp: new Date(a.configUpdatedAt),
    ActionsEnabled: a.actionsEnabled,
    OKActions: a.okActions,
    AlarmActions: a.alarmActions,
    InsufficientDataActions: a.insufficientDataActions,
    StateValue: a.state,
    StateReason: a.stateReason,
    StateReasonData: a.stateReasonData,
    StateUpdatedTimestamp: new Date(a.stateUpdatedAt),
    StateTransitionedTimestamp: new Date(a.stateTransitionedAt),
    MetricName: a.metricName,
    Namespace: a.namespace,
    Statistic: a.statistic as CW.Statistic,
    Dimensions: a.dimensions,
    Period: a.period,
    Unit: a.unit as CW.StandardUnit | undefined,
    EvaluationPeriods: a.evaluationPeriods,
    DatapointsToAlarm: a.datapointsToAlarm,
    Threshold: a.threshold,
    ComparisonOperator: a.comparisonOperator,
    TreatMissingData: a.treatMissingData,
  };
}

export function cloudwatchHandlers(): Handlers<CW.Operations> {
  return {
    async PutMetricData(input, ctx) {
      if (!input.MetricData?.length) throw cloudwatchErrors.missingParameter('The parameter MetricData is required.');
      if (input.Namespace.startsWith('AWS/')) throw cloudwatchErrors.invalidParameterValue(`The value ${input.Namespace} for parameter Namespace is invalid: namespaces starting with 'AWS/' are reserved for AWS services.`);
      const now = ctx.platform.clock.now();
      await putMetricData(ctx, input.Namespace, input.MetricData.flatMap((d, i) => samplesOf(d, i, now)));
      return {};
    },

    async GetMetricStatistics(input, ctx) {
      const stats = input.Statistics ?? [];
      if (!stats.length && !input.ExtendedStatistics?.length) throw cloudwatchErrors.missingParameter('Must specify either Statistics or ExtendedStatistics.');
      if (stats.length && input.ExtendedStatistics?.length) throw cloudwatchErrors.invalidParameterCombination('The parameters Statistics and ExtendedStatistics are mutually exclusive.');
      if (input.ExtendedStatistics?.length) throw cloudwatchErrors.invalidParameterValue('Berth keeps statistic sets, not samples: ExtendedStatistics (percentiles) are not available; ask for Statistics.');
      checkPeriod(input.Period, 'Period');
      const start = input.StartTime.getTime();
      const end = input.EndTime.getTime();
      if (start >= end) throw cloudwatchErrors.invalidParameterValue('The parameter StartTime must be less than the parameter EndTime.');
      const period = input.Period * 1000;
      const wanted = Math.ceil((end - Math.floor(start / period) * period) / period);
      if (wanted > MAX_DATAPOINTS) {
        throw cloudwatchErrors.invalidParameterCombination(`You have requested up to ${wanted} datapoints, which exceeds the limit of ${MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, or decreasing the time range.`);
      }
      const periods = await statisticsOf(ctx, { namespace: input.Namespace, metricName: input.MetricName, dimensions: input.Dimensions }, start, end, period, input.Unit);
      return {
        Label: input.MetricName,
        Datapoints: periods.map((p) => {
          const dp: CW.Datapoint = { Timestamp: new Date(p.t), Unit: p.unit as CW.StandardUnit };
          for (const s of stats) (dp as Record<string, unknown>)[s] = statisticValue(p, s);
          return dp;
        }),
      };
    },

    async GetMetricData(input, ctx) {
      const start = input.StartTime.getTime();
      const end = input.EndTime.getTime();
      if (start >= end) throw cloudwatchErrors.invalidParameterValue('The parameter StartTime must be less than the parameter EndTime.');
      if (input.NextToken !== undefined) throw cloudwatchErrors.invalidNextToken();
      const ids = new Set<string>();
      let budget = Math.min(input.MaxDatapoints ?? MAX_METRIC_DATA_POINTS, MAX_METRIC_DATA_POINTS);
      const results: CW.MetricDataResult[] = [];
      for (const [i, q] of input.MetricDataQueries.entries()) {
        const at = `MetricDataQueries.member.${i + 1}`;
        if (ids.has(q.Id)) throw cloudwatchErrors.invalidParameterValue(`The value ${q.Id} for parameter ${at}.Id is not unique.`);
        if (!/^[a-z][a-zA-Z0-9_]*$/.test(q.Id)) throw cloudwatchErrors.invalidParameterValue(`The value ${q.Id} for parameter ${at}.Id is invalid: it must start with a lowercase letter and hold only letters, numbers and underscores.`);
        ids.add(q.Id);
        if (q.Expression !== undefined) throw cloudwatchErrors.invalidParameterValue(`Berth answers MetricStat queries only: the metric math Expression of ${at} is not supported.`);
        if (!q.MetricStat) throw cloudwatchErrors.missingParameter(`The parameter ${at}.MetricStat is required (or an Expression).`);
        const ms = q.MetricStat;
        if (!STATISTICS.includes(ms.Stat)) throw cloudwatchErrors.invalidParameterValue(`The value ${ms.Stat} for parameter ${at}.MetricStat.Stat is invalid: Berth answers ${STATISTICS.join(', ')} (no percentiles).`);
        if (!ms.Metric.Namespace || !ms.Metric.MetricName) throw cloudwatchErrors.missingParameter(`The parameters ${at}.MetricStat.Metric.Namespace and MetricName are required.`);
        checkPeriod(ms.Period, `${at}.MetricStat.Period`);
        const period = ms.Period * 1000;
        if (q.ReturnData === false) continue;
        const periods = await statisticsOf(ctx, { namespace: ms.Metric.Namespace, metricName: ms.Metric.MetricName, dimensions: ms.Metric.Dimensions }, start, end, period, ms.Unit);
        if (input.ScanBy !== 'TimestampAscending') periods.reverse();
        const kept = periods.slice(0, Math.max(0, budget));
        budget -= kept.length;
        results.push({
          Id: q.Id,
          Label: q.Label ?? ms.Metric.MetricName,
          Timestamps: kept.map((p) => new Date(p.t)),
          Values: kept.map((p) => statisticValue(p, ms.Stat)),
          StatusCode: kept.length < periods.length ? 'PartialData' : 'Complete',
        });
      }
      return { MetricDataResults: results, Messages: [] };
    },

    async ListMetrics(input, ctx) {
      if (input.RecentlyActive !== undefined && input.RecentlyActive !== 'PT3H') throw cloudwatchErrors.invalidParameterValue('The parameter RecentlyActive must be PT3H.');
      const page = await listMetrics(ctx, {
        namespace: input.Namespace,
        metricName: input.MetricName,
        dimensions: input.Dimensions,
        recentlyActive: input.RecentlyActive === 'PT3H',
        token: input.NextToken,
        limit: 500,
      });
      return { Metrics: page.metrics.map((m) => ({ Namespace: m.namespace, MetricName: m.metricName, Dimensions: m.dimensions })), NextToken: page.nextToken };
    },

    async PutMetricAlarm(input, ctx) {
      if (input.Metrics?.length) throw cloudwatchErrors.invalidParameterValue('Berth evaluates alarms on one metric: metric math alarms (Metrics) are not supported; give Namespace, MetricName and Statistic.');
      if (input.ExtendedStatistic !== undefined) throw cloudwatchErrors.invalidParameterValue('Berth keeps statistic sets, not samples: percentile alarms (ExtendedStatistic) are not supported; give Statistic.');
      if (input.ThresholdMetricId !== undefined || input.EvaluationCriteria !== undefined) throw cloudwatchErrors.invalidParameterValue('Anomaly-detection and PromQL alarms are not supported; give Threshold.');
      const missing = (['MetricName', 'Namespace', 'Statistic', 'Period', 'EvaluationPeriods', 'Threshold', 'ComparisonOperator'] as const).filter((k) => input[k] === undefined);
      if (missing.length) throw cloudwatchErrors.missingParameter(`The parameter${missing.length === 1 ? '' : 's'} ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} required for a metric alarm.`);
      checkPeriod(input.Period!, 'Period');
      if (input.Period! < 60 && input.Period! !== 10 && input.Period! !== 30) throw cloudwatchErrors.invalidParameterValue('The parameter Period of an alarm must be 10, 30, or a multiple of 60.');
      if (!SIMPLE_OPERATORS.includes(input.ComparisonOperator!)) throw cloudwatchErrors.invalidParameterValue(`The comparison operator ${input.ComparisonOperator} is for anomaly detection alarms; use one of ${SIMPLE_OPERATORS.join(', ')}.`);
      if (input.Period! * input.EvaluationPeriods! > 7 * 24 * 3600) throw cloudwatchErrors.invalidParameterValue('The product of Period and EvaluationPeriods must not exceed 604800 seconds (one week).');
      if (input.DatapointsToAlarm !== undefined && input.DatapointsToAlarm > input.EvaluationPeriods!) {
        throw cloudwatchErrors.invalidParameterValue(`DatapointsToAlarm (${input.DatapointsToAlarm}) must not be greater than EvaluationPeriods (${input.EvaluationPeriods}).`);
      }
      const treat = input.TreatMissingData ?? 'missing';
      if (!TREAT_MISSING.includes(treat)) throw cloudwatchErrors.invalidParameterValue(`The value ${treat} for parameter TreatMissingData is invalid: use ${TREAT_MISSING.join(', ')}.`);
      checkValue(input.Threshold!, 'Threshold');
      await putMetricAlarm(ctx, {
        name: input.AlarmName,
        description: input.AlarmDescription,
        actionsEnabled: input.ActionsEnabled ?? true,
        okActions: input.OKActions ?? [],
        alarmActions: input.AlarmActions ?? [],
        insufficientDataActions: input.InsufficientDataActions ?? [],
        namespace: input.Namespace!,
        metricName: input.MetricName!,
        dimensions: input.Dimensions ?? [],
        statistic: input.Statistic!,
        unit: input.Unit,
        period: input.Period!,
        evaluationPeriods: input.EvaluationPeriods!,
        datapointsToAlarm: input.DatapointsToAlarm,
        threshold: input.Threshold!,
        comparisonOperator: input.ComparisonOperator as ComparisonOperator,
        treatMissingData: treat as AlarmRecord['treatMissingData'],
      });
      return {};
    },

    async DescribeAlarms(input, ctx) {
      if (input.AlarmNames?.length && input.AlarmNamePrefix !== undefined) throw cloudwatchErrors.invalidParameterCombination('The parameters AlarmNames and AlarmNamePrefix are mutually exclusive.');
      const types = input.AlarmTypes ?? ['MetricAlarm'];
      const page = types.includes('MetricAlarm')
        ? await describeAlarms(ctx, { names: input.AlarmNames, namePrefix: input.AlarmNamePrefix, state: input.StateValue, actionPrefix: input.ActionPrefix, token: input.NextToken, limit: input.MaxRecords ?? 50 })
        : { alarms: [] };
      return { MetricAlarms: page.alarms.map(alarmShape), CompositeAlarms: [], NextToken: page.nextToken };
    },

    async DeleteAlarms(input, ctx) {
      await deleteAlarms(ctx, input.AlarmNames);
      return {};
    },

    async SetAlarmState(input, ctx) {
      await setAlarmState(ctx, input.AlarmName, input.StateValue, input.StateReason, input.StateReasonData);
      return {};
    },
  };
}
