// CloudWatch metrics and alarms, and CloudWatch Logs metric filters, end to end with real
// clients on the three wire protocols: the aws CLI v1 (botocore 1.43: awsJson 1.0, and Smithy
// RPC v2 CBOR when its model is made to list CBOR only, through AWS_DATA_PATH), the fixture's aws
// CLI and @aws-sdk/client-cloudwatch 3.901.0 (awsQuery). Alarm evaluation runs on a ManualClock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  GetMetricStatisticsCommand,
  ListMetricsCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, DeleteMetricFilterCommand, DescribeMetricFiltersCommand, PutLogEventsCommand, PutMetricFilterCommand, TestMetricFilterCommand } from '@aws-sdk/client-cloudwatch-logs';
import { ManualClock } from '../../src/clock.js';
import { ALARM_EVALUATION_INTERVAL_MS } from '../../src/control/alarms.js';
import { aws, awsOk, errorOf, startTestBerth, type CliResult, type TestBerth } from '../helpers/fixture.js';

let berth: TestBerth;
let cw: CloudWatchClient;
let logs: CloudWatchLogsClient;
// One second into the current minute: alarms judge the period that holds `now`, so a datum put
// at clock.now() and judged a few advances later must not cross a minute boundary on the way
// (the file's advances before its last evaluation sum to 80 s; the wall clock must not decide).
const clock = new ManualClock(Math.floor(Date.now() / 60_000) * 60_000 + 1_000);
let dataDir: string;

/** The aws CLI v1 of this machine's python3 (botocore 1.43, which knows CBOR), or undefined. */
const V1 = spawnSync('python3', ['-m', 'awscli', '--version'], { encoding: 'utf8' }).stdout?.startsWith('aws-cli/1.') ? ['python3', '-m', 'awscli'] : undefined;

/** Runs the aws CLI v1; with `cbor`, its CloudWatch model lists only Smithy RPC v2 CBOR. */
function v1(args: string[], cbor = false): Promise<CliResult> {
  const env = { ...berth.awsEnv, ...(cbor ? { AWS_DATA_PATH: dataDir } : {}) };
  return new Promise((resolve, reject) => {
    const p = spawn(V1![0]!, [...V1!.slice(1), '--endpoint-url', berth.url, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

async function v1Ok(args: string[], cbor = false): Promise<any> {
  const r = await v1(args, cbor);
  if (r.status !== 0) throw new Error(`aws ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
}

before(async () => {
  berth = await startTestBerth({ clock });
  cw = new CloudWatchClient(berth.clientConfig);
  logs = new CloudWatchLogsClient(berth.clientConfig);
  // botocore's CloudWatch model, its protocols narrowed to CBOR, where AWS_DATA_PATH finds it first.
  dataDir = mkdtempSync(join(tmpdir(), 'berth-cw-model-'));
  if (V1) {
    const src = spawnSync('python3', ['-c', 'import botocore,os;print(os.path.join(os.path.dirname(botocore.__file__),"data","cloudwatch","2010-08-01","service-2.json"))'], { encoding: 'utf8' }).stdout.trim();
    const model = JSON.parse(existsSync(src) ? readFileSync(src, 'utf8') : gunzipSync(readFileSync(src + '.gz')).toString('utf8'));
    model.metadata.protocols = ['smithy-rpc-v2-cbor'];
    model.metadata.protocol = 'smithy-rpc-v2-cbor';
    mkdirSync(join(dataDir, 'cloudwatch', '2010-08-01'), { recursive: true });
    writeFileSync(join(dataDir, 'cloudwatch', '2010-08-01', 'service-2.json'), JSON.stringify(model));
  }
});
after(async () => {
  cw.destroy();
  logs.destroy();
  await berth.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const iso = (ms: number) => new Date(ms).toISOString();

/** Runs one alarm evaluation (the controller's tick on the ManualClock). */
async function evaluate(): Promise<void> {
  await clock.advance(ALARM_EVALUATION_INTERVAL_MS);
}

test('a metric filter on a log group drives a metric that get-metric-statistics returns, and an alarm on it changes state (aws CLI)', async () => {
  const env = berth.awsEnv;
  await awsOk(env, ['logs', 'create-log-group', '--log-group-name', '/svc/web']);
  await awsOk(env, ['logs', 'create-log-stream', '--log-group-name', '/svc/web', '--log-stream-name', 'web/1']);
  await awsOk(env, ['logs', 'put-metric-filter', '--log-group-name', '/svc/web', '--filter-name', 'errors', '--filter-pattern', '{ $.status >= 500 }',
    '--metric-transformations', 'metricName=Errors,metricNamespace=Web,metricValue=1,unit=Count']);
  await awsOk(env, ['logs', 'put-metric-filter', '--log-group-name', '/svc/web', '--filter-name', 'latency', '--filter-pattern', '{ $.latency > 0 }',
    '--metric-transformations', JSON.stringify([{ metricName: 'Latency', metricNamespace: 'Web', metricValue: '$.latency', unit: 'Milliseconds', dimensions: { Path: '$.path' } }])]);
  const described = await awsOk(env, ['logs', 'describe-metric-filters', '--log-group-name', '/svc/web']);
  assert.deepEqual(described.metricFilters.map((f: any) => f.filterName), ['errors', 'latency']);
  assert.equal(described.metricFilters[1].metricTransformations[0].metricValue, '$.latency');

  await awsOk(env, ['cloudwatch', 'put-metric-alarm', '--alarm-name', 'web-errors', '--namespace', 'Web', '--metric-name', 'Errors', '--statistic', 'Sum',
    '--period', '60', '--evaluation-periods', '1', '--threshold', '2', '--comparison-operator', 'GreaterThanOrEqualToThreshold', '--treat-missing-data', 'notBreaching']);
  let alarm = (await awsOk(env, ['cloudwatch', 'describe-alarms', '--alarm-names', 'web-errors'])).MetricAlarms[0];
  assert.equal(alarm.StateValue, 'INSUFFICIENT_DATA');
  await evaluate();
  alarm = (await awsOk(env, ['cloudwatch', 'describe-alarms', '--alarm-names', 'web-errors'])).MetricAlarms[0];
  assert.equal(alarm.StateValue, 'OK', 'no data, treated as not breaching');

  const t = clock.now();
  const lines = [
    { status: 200, latency: 12, path: '/a' },
    { status: 503, latency: 250, path: '/a' },
    { status: 500, latency: 40, path: '/b' },
    { status: 502, latency: 8, path: '/a' },
  ];
  await awsOk(env, ['logs', 'put-log-events', '--log-group-name', '/svc/web', '--log-stream-name', 'web/1', '--log-events',
    JSON.stringify([...lines.map((l, i) => ({ timestamp: t + i, message: JSON.stringify(l) })), { timestamp: t + 9, message: 'not json at all' }])]);

  const window = ['--start-time', iso(t - 3600_000), '--end-time', iso(t + 120_000), '--period', '60'];
  const errors = await awsOk(env, ['cloudwatch', 'get-metric-statistics', '--namespace', 'Web', '--metric-name', 'Errors', ...window, '--statistics', 'Sum', 'SampleCount']);
  assert.equal(errors.Label, 'Errors');
  assert.equal(errors.Datapoints.length, 1);
  assert.equal(errors.Datapoints[0].Sum, 3);
  assert.equal(errors.Datapoints[0].SampleCount, 3);
  assert.equal(errors.Datapoints[0].Unit, 'Count');
  const latencyA = await awsOk(env, ['cloudwatch', 'get-metric-statistics', '--namespace', 'Web', '--metric-name', 'Latency', '--dimensions', 'Name=Path,Value=/a', ...window, '--statistics', 'Average', 'Maximum', 'Minimum']);
  assert.deepEqual([latencyA.Datapoints[0].Minimum, latencyA.Datapoints[0].Maximum, latencyA.Datapoints[0].Average], [8, 250, 90]);
  const metrics = await awsOk(env, ['cloudwatch', 'list-metrics', '--namespace', 'Web']);
  assert.deepEqual(metrics.Metrics.map((m: any) => `${m.MetricName}${m.Dimensions.map((d: any) => ` ${d.Name}=${d.Value}`).join('')}`).sort(), ['Errors', 'Latency Path=/a', 'Latency Path=/b']);

  await evaluate();
  alarm = (await awsOk(env, ['cloudwatch', 'describe-alarms', '--state-value', 'ALARM'])).MetricAlarms[0];
  assert.equal(alarm?.AlarmName, 'web-errors');
  assert.match(alarm.StateReason, /Threshold Crossed: 1 out of the last 1 datapoints \[3\] was greater than or equal to the threshold \(2\)/);
  assert.equal(JSON.parse(alarm.StateReasonData).recentDatapoints[0], 3);

  // A minute on, the errors are out of the evaluated period: back to OK.
  await clock.advance(60_000);
  await evaluate();
  alarm = (await awsOk(env, ['cloudwatch', 'describe-alarms', '--alarm-names', 'web-errors'])).MetricAlarms[0];
  assert.equal(alarm.StateValue, 'OK');

  const r = await aws(env, ['cloudwatch', 'describe-alarms', '--alarm-names', 'web-errors', '--alarm-name-prefix', 'web']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /InvalidParameterCombination/);
});

test('TestMetricFilter reports matches and their fields; metric filter errors are AWS-shaped (SDK)', async () => {
  const out = await logs.send(new TestMetricFilterCommand({ filterPattern: '[ip, user, ..., status = 5*, size]', logEventMessages: ['10.0.0.1 bob GET / 503 120', '10.0.0.2 amy GET / 200 5', 'short'] }));
  assert.equal(out.matches?.length, 1);
  assert.equal(out.matches![0]!.eventNumber, 1);
  assert.deepEqual(out.matches![0]!.extractedValues, { $ip: '10.0.0.1', $user: 'bob', $status: '503', $size: '120' });

  await logs.send(new CreateLogGroupCommand({ logGroupName: 'mf-errors' }));
  const put = (pattern: string, metricValue: string, group = 'mf-errors') =>
    logs.send(new PutMetricFilterCommand({ logGroupName: group, filterName: 'f', filterPattern: pattern, metricTransformations: [{ metricName: 'M', metricNamespace: 'N', metricValue }] }));
  let e = await errorOf(put('{ $.a = ', '1'));
  assert.equal(e.name, 'InvalidParameterException');
  e = await errorOf(put('ERROR', '$.latency'));
  assert.equal(e.name, 'InvalidParameterException');
  assert.match(e.message, /has none/);
  e = await errorOf(put('ERROR', 'twelve'));
  assert.equal(e.name, 'InvalidParameterException');
  e = await errorOf(put('ERROR', '1', 'no-such-group'));
  assert.equal(e.name, 'ResourceNotFoundException');
  e = await errorOf(logs.send(new DeleteMetricFilterCommand({ logGroupName: 'mf-errors', filterName: 'nope' })));
  assert.equal(e.name, 'ResourceNotFoundException');
  assert.equal((await logs.send(new DescribeMetricFiltersCommand({ logGroupName: 'mf-errors' }))).metricFilters?.length, 0, 'nothing was stored by the refused puts');

  // A space-delimited filter's field as value, and a default value when a batch has no match.
  await logs.send(new CreateLogStreamCommand({ logGroupName: 'mf-errors', logStreamName: 's' }));
  await logs.send(new PutMetricFilterCommand({ logGroupName: 'mf-errors', filterName: 'bytes', filterPattern: '[ip, user, ..., status, size]', metricTransformations: [{ metricName: 'Bytes', metricNamespace: 'Acc', metricValue: '$size' }] }));
  await logs.send(new PutMetricFilterCommand({ logGroupName: 'mf-errors', filterName: 'oops', filterPattern: 'OOPS', metricTransformations: [{ metricName: 'Oops', metricNamespace: 'Acc', metricValue: '1', defaultValue: 0 }] }));
  const t = clock.now();
  await logs.send(new PutLogEventsCommand({ logGroupName: 'mf-errors', logStreamName: 's', logEvents: [{ timestamp: t, message: '1.2.3.4 bob GET / 200 100' }, { timestamp: t, message: '1.2.3.4 bob GET / 200 23' }] }));
  const stats = (name: string) => cw.send(new GetMetricStatisticsCommand({ Namespace: 'Acc', MetricName: name, StartTime: new Date(t - 600_000), EndTime: new Date(t + 600_000), Period: 600, Statistics: ['Sum', 'SampleCount'] }));
  const bytes = await stats('Bytes');
  assert.equal(bytes.Datapoints?.[0]?.Sum, 123);
  const oops = await stats('Oops');
  assert.deepEqual([oops.Datapoints?.[0]?.Sum, oops.Datapoints?.[0]?.SampleCount], [0, 1]);
  await logs.send(new DeleteMetricFilterCommand({ logGroupName: 'mf-errors', filterName: 'bytes' }));
  assert.deepEqual((await logs.send(new DescribeMetricFiltersCommand({ logGroupName: 'mf-errors' }))).metricFilters?.map((f) => f.filterName), ['oops']);
});

test('@aws-sdk/client-cloudwatch (awsQuery): put, statistics, GetMetricData, ListMetrics paging filters, alarms, and AWS error codes', async () => {
  const t = clock.now();
  await cw.send(new PutMetricDataCommand({
    Namespace: 'Sdk',
    MetricData: [
      { MetricName: 'Q', Dimensions: [{ Name: 'host', Value: 'a' }], Value: 4, Unit: 'Count', Timestamp: new Date(t) },
      { MetricName: 'Q', Dimensions: [{ Name: 'host', Value: 'a' }], Values: [1, 10], Counts: [2, 1], Timestamp: new Date(t) },
      { MetricName: 'Q', Dimensions: [{ Name: 'host', Value: 'b' }], StatisticValues: { SampleCount: 4, Sum: 20, Minimum: 2, Maximum: 8 }, Timestamp: new Date(t - 120_000) },
    ],
  }));
  const a = await cw.send(new GetMetricStatisticsCommand({ Namespace: 'Sdk', MetricName: 'Q', Dimensions: [{ Name: 'host', Value: 'a' }], StartTime: new Date(t - 3600_000), EndTime: new Date(t + 60_000), Period: 3600, Statistics: ['Sum', 'SampleCount', 'Average', 'Minimum', 'Maximum'] }));
  assert.deepEqual(a.Datapoints?.map((d) => [d.Sum, d.SampleCount, d.Average, d.Minimum, d.Maximum]), [[16, 4, 4, 1, 10]]);

  const data = await cw.send(new GetMetricDataCommand({
    StartTime: new Date(t - 600_000),
    EndTime: new Date(t + 60_000),
    MetricDataQueries: [
      { Id: 'b', MetricStat: { Metric: { Namespace: 'Sdk', MetricName: 'Q', Dimensions: [{ Name: 'host', Value: 'b' }] }, Period: 60, Stat: 'Average' } },
      { Id: 'a', Label: 'host a', MetricStat: { Metric: { Namespace: 'Sdk', MetricName: 'Q', Dimensions: [{ Name: 'host', Value: 'a' }] }, Period: 60, Stat: 'Maximum' } },
    ],
  }));
  assert.deepEqual(data.MetricDataResults?.map((r) => [r.Id, r.Label, r.Values, r.StatusCode]), [['b', 'Q', [5], 'Complete'], ['a', 'host a', [10], 'Complete']]);
  assert.equal(data.MetricDataResults?.[0]?.Timestamps?.[0]?.getTime(), Math.floor((t - 120_000) / 60_000) * 60_000);

  const listed = await cw.send(new ListMetricsCommand({ Namespace: 'Sdk', Dimensions: [{ Name: 'host', Value: 'b' }] }));
  assert.deepEqual(listed.Metrics?.map((m) => m.Dimensions?.[0]?.Value), ['b']);

  await cw.send(new PutMetricAlarmCommand({ AlarmName: 'sdk-q', Namespace: 'Sdk', MetricName: 'Q', Dimensions: [{ Name: 'host', Value: 'a' }], Statistic: 'Maximum', Period: 60, EvaluationPeriods: 1, Threshold: 100, ComparisonOperator: 'GreaterThanThreshold' }));
  await cw.send(new SetAlarmStateCommand({ AlarmName: 'sdk-q', StateValue: 'ALARM', StateReason: 'testing', StateReasonData: '{"x":1}' }));
  let alarms = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'sdk-' }));
  assert.deepEqual(alarms.MetricAlarms?.map((x) => [x.AlarmName, x.StateValue, x.StateReason]), [['sdk-q', 'ALARM', 'testing']]);
  assert.match(alarms.MetricAlarms![0]!.AlarmArn!, /^arn:aws:cloudwatch:us-east-1:\d{12}:alarm:sdk-q$/);
  await evaluate();
  alarms = await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['sdk-q'] }));
  assert.equal(alarms.MetricAlarms?.[0]?.StateValue, 'OK', 'the next evaluation judges the data again (max 10 < 100)');

  const codes: Array<[() => Promise<unknown>, string, number]> = [
    [() => cw.send(new PutMetricDataCommand({ Namespace: 'AWS/EC2', MetricData: [{ MetricName: 'x', Value: 1 }] })), 'InvalidParameterValueException', 400],
    [() => cw.send(new PutMetricDataCommand({ Namespace: 'Sdk', MetricData: [{ MetricName: 'x', Value: 1, Values: [1] }] })), 'InvalidParameterCombinationException', 400],
    [() => cw.send(new PutMetricDataCommand({ Namespace: 'Sdk', MetricData: [{ MetricName: 'x', Value: 1, Timestamp: new Date(t - 30 * 86400_000) }] })), 'InvalidParameterValueException', 400],
    [() => cw.send(new PutMetricDataCommand({ Namespace: 'Sdk', MetricData: [{ MetricName: 'x', Value: 1e300 }] })), 'InvalidParameterValueException', 400],
    [() => cw.send(new GetMetricStatisticsCommand({ Namespace: 'Sdk', MetricName: 'Q', StartTime: new Date(t - 60_000), EndTime: new Date(t), Period: 60 })), 'MissingRequiredParameterException', 400],
    [() => cw.send(new GetMetricStatisticsCommand({ Namespace: 'Sdk', MetricName: 'Q', StartTime: new Date(t - 86400_000 * 2), EndTime: new Date(t), Period: 60, Statistics: ['Sum'] })), 'InvalidParameterCombinationException', 400],
    [() => cw.send(new GetMetricStatisticsCommand({ Namespace: 'Sdk', MetricName: 'Q', StartTime: new Date(t - 60_000), EndTime: new Date(t), Period: 45, Statistics: ['Sum'] })), 'InvalidParameterValueException', 400],
    [() => cw.send(new DeleteAlarmsCommand({ AlarmNames: ['sdk-q', 'no-such-alarm'] })), 'ResourceNotFound', 404],
    [() => cw.send(new SetAlarmStateCommand({ AlarmName: 'sdk-q', StateValue: 'ALARM', StateReason: 'x', StateReasonData: 'not json' })), 'InvalidFormatFault', 400],
    [() => cw.send(new DescribeAlarmsCommand({ NextToken: 'garbage' })), 'InvalidNextToken', 400],
    [() => cw.send(new DescribeAlarmsCommand({ MaxRecords: 101 })), 'InvalidParameterValueException', 400],
  ];
  for (const [p, code, status] of codes) {
    const e = await errorOf(p());
    assert.deepEqual([e.name, e.status], [code, status], e.message);
  }
  assert.equal((await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['sdk-q'] }))).MetricAlarms?.length, 1, 'a DeleteAlarms naming an unknown alarm deleted nothing');
  await cw.send(new DeleteAlarmsCommand({ AlarmNames: ['sdk-q'] }));
  assert.equal((await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['sdk-q'] }))).MetricAlarms?.length, 0);
});

test('aws CLI v1 on awsJson 1.0 and on Smithy RPC v2 CBOR: the same answers, errors by their query codes', { skip: V1 ? false : 'no aws CLI v1 (python3 -m awscli) here' }, async () => {
  const t = clock.now();
  for (const [cbor, ns] of [[false, 'Json'], [true, 'Cbor']] as const) {
    await v1Ok(['cloudwatch', 'put-metric-data', '--namespace', ns, '--metric-data', JSON.stringify([{ MetricName: 'Hits', Dimensions: [{ Name: 'zone', Value: 'z1' }], Values: [1, 2, 3], Timestamp: iso(t), StorageResolution: 1, Unit: 'Count' }])], cbor);
    const stats = await v1Ok(['cloudwatch', 'get-metric-statistics', '--namespace', ns, '--metric-name', 'Hits', '--dimensions', 'Name=zone,Value=z1', '--start-time', iso(t - 60_000), '--end-time', iso(t + 60_000), '--period', '60', '--statistics', 'Sum', 'Maximum'], cbor);
    assert.deepEqual(stats.Datapoints.map((d: any) => [d.Sum, d.Maximum, d.Unit, typeof d.Timestamp === 'number' ? d.Timestamp * 1000 : Date.parse(d.Timestamp)]), [[6, 3, 'Count', Math.floor(t / 60_000) * 60_000]], ns);
    await v1Ok(['cloudwatch', 'put-metric-alarm', '--alarm-name', `v1-${ns}`, '--namespace', ns, '--metric-name', 'Hits', '--dimensions', 'Name=zone,Value=z1', '--statistic', 'Sum', '--period', '10', '--evaluation-periods', '1', '--threshold', '1', '--comparison-operator', 'GreaterThanThreshold'], cbor);
    const alarms = await v1Ok(['cloudwatch', 'describe-alarms', '--alarm-names', `v1-${ns}`], cbor);
    assert.equal(alarms.MetricAlarms[0].Period, 10);
    assert.ok(Math.abs(Number(new Date(typeof alarms.MetricAlarms[0].AlarmConfigurationUpdatedTimestamp === 'number' ? alarms.MetricAlarms[0].AlarmConfigurationUpdatedTimestamp * 1000 : alarms.MetricAlarms[0].AlarmConfigurationUpdatedTimestamp)) - clock.now()) < 1000, 'timestamps decode as the time they are');
    const missing = await v1(['cloudwatch', 'set-alarm-state', '--alarm-name', 'nope', '--state-value', 'OK', '--state-reason', 'x'], cbor);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /\(ResourceNotFound\) when calling the SetAlarmState operation/, ns);
    const invalid = await v1(['cloudwatch', 'put-metric-data', '--namespace', ns, '--metric-name', 'x', '--value', '1', '--storage-resolution', '7'], cbor);
    assert.match(invalid.stderr, /\(InvalidParameterValue\)/, ns);
  }
});
