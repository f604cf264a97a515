// Application Auto Scaling through the real aws CLI and @aws-sdk/client-application-auto-scaling
// 3.901.0 (awsJson1_1): scalable targets of ECS services, their validation errors, target tracking
// on AWS/ECS CPUUtilization scaling a service out and back in, step scaling driven by a CloudWatch
// alarm, activities, tags, and IAM authorization. Time runs on a ManualClock; the SDK clients sign
// with its time (systemClockOffset), and the aws CLI is used while it is within SigV4's 15-minute
// skew of real time. Metric data is put through CloudWatch's API as the publishers would put it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
  DescribeScalingActivitiesCommand,
  DescribeScalingPoliciesCommand,
  ListTagsForResourceCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
  TagResourceCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient, DescribeAlarmsCommand, PutMetricAlarmCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateClusterCommand, CreateServiceCommand, DescribeServicesCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { ManualClock } from '../../src/clock.js';
import { putMetricData } from '../../src/domain/cloudwatch/metrics.js';
import { scaleAll } from '../../src/control/applicationAutoScaling.js';
import { evaluateAllAlarms } from '../../src/control/alarms.js';
import { aws, awsEnvFor, awsOk, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';

const clock = new ManualClock(Date.now());

/** Makes an SDK client sign with the manual clock's time, however far it was advanced. */
function followClock<C extends { config: { systemClockOffset?: number }; middlewareStack: { add: (...a: any[]) => void } }>(c: C): C {
  c.middlewareStack.add((next: (a: unknown) => unknown) => (args: unknown) => {
    c.config.systemClockOffset = clock.now() - Date.now();
    return next(args);
  }, { step: 'initialize', name: 'manualClockOffset' });
  return c;
}
let berth: TestBerth;
let scaling: ApplicationAutoScalingClient;
let cw: CloudWatchClient;
let ecs: ECSClient;

before(async () => {
  // The duties' own loops stay out of the way: each test runs the controller's pass itself, so
  // what a pass sees does not depend on how the loop's ticks fall within an advance.
  berth = await startTestBerth({ clock, env: { BERTH_APPSCALING_INTERVAL_MS: String(24 * 3600_000) } });
  scaling = followClock(new ApplicationAutoScalingClient(berth.clientConfig));
  cw = followClock(new CloudWatchClient(berth.clientConfig));
  ecs = followClock(new ECSClient(berth.clientConfig));
  await ecs.send(new CreateClusterCommand({ clusterName: 'default' }));
  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'web', image: 'host', memory: 64, command: ['true'] }] }));
});
after(async () => {
  scaling?.destroy();
  cw?.destroy();
  ecs?.destroy();
  await berth?.close();
});

async function service(name: string, desiredCount: number): Promise<string> {
  await ecs.send(new CreateServiceCommand({ serviceName: name, taskDefinition: 'web', desiredCount }));
  return `service/default/${name}`;
}
async function desired(name: string): Promise<number> {
  const out = await ecs.send(new DescribeServicesCommand({ services: [name] }));
  return out.services![0]!.desiredCount!;
}
/**
 * Publishes one datum at the clock's now, as the ECS publisher (src/control/ecsMetrics.ts) does each
 * minute (CloudWatch's API refuses `AWS/` namespaces to callers), and lets a minute pass.
 */
async function minuteOf(metric: string, dims: Record<string, string>, value: number): Promise<void> {
  const dimensions = Object.entries(dims).map(([Name, Value]) => ({ Name, Value }));
  await putMetricData({ platform: berth.platform, region: 'us-east-1' }, 'AWS/ECS', [{ metricName: metric, dimensions, timestamp: clock.now(), n: 1, sum: value, min: value, max: value, unit: 'Percent', storageResolution: 60 }]);
  await clock.advance(60_000);
}
/** One pass of the controller (what its duty does every interval). */
async function controllerPass(): Promise<void> {
  await scaleAll(berth.platform);
}

test('RegisterScalableTarget: AWS validation errors through the aws CLI', { skip: !hasAwsCli() && 'no aws CLI' }, async () => {
  const env = berth.awsEnv;
  const id = await service('validate', 1);
  const base = ['application-autoscaling', 'register-scalable-target', '--service-namespace', 'ecs', '--scalable-dimension', 'ecs:service:DesiredCount'];
  const cases: Array<[string[], RegExp]> = [
    [[...base, '--resource-id', id], /ValidationException.*MinCapacity and MaxCapacity are required/],
    [[...base, '--resource-id', id, '--min-capacity', '5', '--max-capacity', '2'], /ValidationException.*Minimum capacity \(5\) cannot be greater than maximum capacity \(2\)/],
    [[...base, '--resource-id', 'service/default/nope', '--min-capacity', '1', '--max-capacity', '2'], /ValidationException.*ECS service doesn't exist: service\/default\/nope/],
    [[...base, '--resource-id', 'svc/nope', '--min-capacity', '1', '--max-capacity', '2'], /ValidationException.*service\/<cluster-name>\/<service-name>/],
    [[...base, '--resource-id', id, '--min-capacity', '-1', '--max-capacity', '2'], /ValidationException.*MinCapacity must be a whole number of 0 or more/],
    [['application-autoscaling', 'register-scalable-target', '--service-namespace', 'dynamodb', '--scalable-dimension', 'dynamodb:table:ReadCapacityUnits', '--resource-id', 'table/t', '--min-capacity', '1', '--max-capacity', '2'], /ValidationException.*Berth scales ECS services/],
    [['application-autoscaling', 'put-scaling-policy', '--service-namespace', 'ecs', '--scalable-dimension', 'ecs:service:DesiredCount', '--resource-id', id, '--policy-name', 'p', '--policy-type', 'TargetTrackingScaling', '--target-tracking-scaling-policy-configuration', 'TargetValue=50,PredefinedMetricSpecification={PredefinedMetricType=ECSServiceAverageCPUUtilization}'], /ObjectNotFoundException.*No scalable target registered for service namespace: ecs, resource ID: service\/default\/validate/],
    [['application-autoscaling', 'deregister-scalable-target', '--service-namespace', 'ecs', '--scalable-dimension', 'ecs:service:DesiredCount', '--resource-id', id], /ObjectNotFoundException/],
    [['application-autoscaling', 'describe-scalable-targets', '--service-namespace', 'ecs', '--max-results', '51'], /ValidationException.*less than or equal to 50/],
    [['application-autoscaling', 'describe-scaling-activities', '--service-namespace', 'ecs', '--next-token', 'garbage'], /InvalidNextTokenException/],
  ];
  for (const [args, want] of cases) {
    const r = await aws(env, args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, want, args.join(' '));
  }
  // Nothing was registered by the failures.
  const listed = await awsOk(env, ['application-autoscaling', 'describe-scalable-targets', '--service-namespace', 'ecs', '--resource-ids', id]);
  assert.deepEqual(listed.ScalableTargets, []);

  // Registered: bad policies are refused with the reason.
  await awsOk(env, [...base, '--resource-id', id, '--min-capacity', '1', '--max-capacity', '4']);
  const policy = ['application-autoscaling', 'put-scaling-policy', '--service-namespace', 'ecs', '--scalable-dimension', 'ecs:service:DesiredCount', '--resource-id', id, '--policy-name', 'p', '--policy-type'];
  const bad: Array<[string[], RegExp]> = [
    [[...policy, 'TargetTrackingScaling', '--target-tracking-scaling-policy-configuration', 'TargetValue=50,PredefinedMetricSpecification={PredefinedMetricType=ALBRequestCountPerTarget}'], /ResourceLabel must be specified/],
    [[...policy, 'TargetTrackingScaling', '--target-tracking-scaling-policy-configuration', 'TargetValue=50,PredefinedMetricSpecification={PredefinedMetricType=ALBRequestCountPerTarget,ResourceLabel=app/x/1/targetgroup/y/2}'], /Target group targetgroup\/y\/2 of ResourceLabel does not exist/],
    [[...policy, 'TargetTrackingScaling', '--target-tracking-scaling-policy-configuration', 'TargetValue=50,PredefinedMetricSpecification={PredefinedMetricType=DynamoDBReadCapacityUtilization}'], /Unsupported predefined metric type DynamoDBReadCapacityUtilization/],
    [[...policy, 'TargetTrackingScaling', '--target-tracking-scaling-policy-configuration', 'TargetValue=50'], /Exactly one of PredefinedMetricSpecification or CustomizedMetricSpecification/],
    [[...policy, 'TargetTrackingScaling', '--target-tracking-scaling-policy-configuration', 'TargetValue=50,ScaleInCooldown=90000,PredefinedMetricSpecification={PredefinedMetricType=ECSServiceAverageCPUUtilization}'], /ScaleInCooldown must be a whole number of seconds from 0 to 86400/],
    [[...policy, 'StepScaling', '--step-scaling-policy-configuration', 'AdjustmentType=ChangeInCapacity,StepAdjustments=[{MetricIntervalLowerBound=0,MetricIntervalUpperBound=10,ScalingAdjustment=1},{MetricIntervalLowerBound=20,ScalingAdjustment=2}]'], /must not overlap or leave gaps/],
    [[...policy, 'StepScaling', '--step-scaling-policy-configuration', 'StepAdjustments=[{MetricIntervalLowerBound=0,ScalingAdjustment=1}]'], /AdjustmentType must be specified/],
  ];
  for (const [args, want] of bad) {
    const r = await aws(env, args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, /ValidationException/, args.join(' '));
    assert.match(r.stderr, want, args.join(' '));
  }
  const none = await awsOk(env, ['application-autoscaling', 'describe-scaling-policies', '--service-namespace', 'ecs', '--resource-id', id]);
  assert.deepEqual(none.ScalingPolicies, []);
  // Deregistering removes the target (and would its policies).
  await awsOk(env, ['application-autoscaling', 'deregister-scalable-target', '--service-namespace', 'ecs', '--scalable-dimension', 'ecs:service:DesiredCount', '--resource-id', id]);
  assert.deepEqual((await awsOk(env, ['application-autoscaling', 'describe-scalable-targets', '--service-namespace', 'ecs', '--resource-ids', id])).ScalableTargets, []);
});

test('registering brings the desired count within the bounds, as an activity', async () => {
  const id = await service('clamped', 1);
  const out = await scaling.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount', ResourceId: id, MinCapacity: 3, MaxCapacity: 6, Tags: { team: 'web' } }));
  assert.match(out.ScalableTargetARN!, /^arn:aws:application-autoscaling:us-east-1:\d{12}:scalable-target\/[0-9a-f]{36}$/);
  assert.equal(await desired('clamped'), 3);
  const acts = await scaling.send(new DescribeScalingActivitiesCommand({ ServiceNamespace: 'ecs', ResourceId: id }));
  assert.equal(acts.ScalingActivities!.length, 1);
  assert.equal(acts.ScalingActivities![0]!.Description, 'Setting desired count to 3.');
  assert.equal(acts.ScalingActivities![0]!.StatusCode, 'Successful');
  // An update with only a new maximum keeps the minimum and lowers the count to it.
  await scaling.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount', ResourceId: id, MaxCapacity: 3, SuspendedState: { DynamicScalingInSuspended: true } }));
  const t = (await scaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: [id] }))).ScalableTargets![0]!;
  assert.deepEqual([t.MinCapacity, t.MaxCapacity, t.SuspendedState?.DynamicScalingInSuspended, t.SuspendedState?.DynamicScalingOutSuspended], [3, 3, true, false]);
  assert.match(t.RoleARN!, /AWSServiceRoleForApplicationAutoScaling_ECSService$/);
  // Tags by the target's ARN.
  await scaling.send(new TagResourceCommand({ ResourceARN: out.ScalableTargetARN!, Tags: { env: 'test' } }));
  assert.deepEqual((await scaling.send(new ListTagsForResourceCommand({ ResourceARN: out.ScalableTargetARN! }))).Tags, { team: 'web', env: 'test' });
  await assert.rejects(scaling.send(new ListTagsForResourceCommand({ ResourceARN: out.ScalableTargetARN!.replace(/[0-9a-f]{4}$/, '0000') })), (e: Error) => e.name === 'ResourceNotFoundException');
});

test('target tracking on ECS CPU scales a service out and back in, with activities (aws CLI)', { skip: !hasAwsCli() && 'no aws CLI' }, async () => {
  const env = berth.awsEnv;
  const id = await service('cpu', 1);
  const dims = { ClusterName: 'default', ServiceName: 'cpu' };
  await awsOk(env, ['application-autoscaling', 'register-scalable-target', '--service-namespace', 'ecs', '--scalable-dimension', 'ecs:service:DesiredCount', '--resource-id', id, '--min-capacity', '1', '--max-capacity', '5']);
  const put = await awsOk(env, [
    'application-autoscaling', 'put-scaling-policy', '--service-namespace', 'ecs', '--scalable-dimension', 'ecs:service:DesiredCount', '--resource-id', id,
    '--policy-name', 'cpu50', '--policy-type', 'TargetTrackingScaling',
    '--target-tracking-scaling-policy-configuration', JSON.stringify({ TargetValue: 50, PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' }, ScaleOutCooldown: 60, ScaleInCooldown: 60 }),
  ]);
  assert.match(put.PolicyARN, /^arn:aws:autoscaling:us-east-1:\d{12}:scalingPolicy:[0-9a-f-]{36}:resource\/ecs\/service\/default\/cpu:policyName\/cpu50$/);
  const described = await awsOk(env, ['application-autoscaling', 'describe-scaling-policies', '--service-namespace', 'ecs', '--resource-id', id]);
  assert.equal(described.ScalingPolicies[0].TargetTrackingScalingPolicyConfiguration.TargetValue, 50);
  assert.equal(described.ScalingPolicies[0].PolicyType, 'TargetTrackingScaling');

  // Two busy minutes: not yet.
  await minuteOf('CPUUtilization', dims, 90);
  await controllerPass();
  await minuteOf('CPUUtilization', dims, 90);
  await controllerPass();
  assert.equal(await desired('cpu'), 1);
  // The third: ceil(1 x 90 / 50) = 2.
  await minuteOf('CPUUtilization', dims, 90);
  await controllerPass();
  assert.equal(await desired('cpu'), 2);
  // Still busy after the cooldown: ceil(2 x 90 / 50) = 4.
  await minuteOf('CPUUtilization', dims, 90);
  await controllerPass();
  assert.equal(await desired('cpu'), 4);
  // Very busy: capped at the maximum.
  for (let i = 0; i < 3; i++) {
    await minuteOf('CPUUtilization', dims, 400);
    await controllerPass();
  }
  await controllerPass();
  assert.equal(await desired('cpu'), 5);

  // Quiet for 15 minutes: scale in to ceil(5 x 10 / 50) = 1, never under the minimum.
  for (let i = 0; i < 14; i++) {
    await minuteOf('CPUUtilization', dims, 10);
    await controllerPass();
  }
  assert.equal(await desired('cpu'), 5, '14 quiet minutes are not enough');
  await minuteOf('CPUUtilization', dims, 10);
  await controllerPass();
  assert.equal(await desired('cpu'), 1);

  // Back to real time (nothing fires), so the aws CLI's signatures are within the skew again.
  clock.set(Date.now());
  const acts = await awsOk(env, ['application-autoscaling', 'describe-scaling-activities', '--service-namespace', 'ecs', '--resource-id', id]);
  const said = (acts.ScalingActivities as Array<{ Description: string; Cause: string; StatusCode: string }>).map((a) => a.Description);
  assert.deepEqual(said, ['Setting desired count to 1.', 'Setting desired count to 5.', 'Setting desired count to 4.', 'Setting desired count to 2.'], 'newest first');
  assert.ok(acts.ScalingActivities.every((a: { StatusCode: string }) => a.StatusCode === 'Successful'));
  assert.match(acts.ScalingActivities[3].Cause, /AWS\/ECS CPUUtilization \(Average\) above the target 50 .*triggered policy cpu50/);
  // Paged one at a time.
  const first = await awsOk(env, ['application-autoscaling', 'describe-scaling-activities', '--service-namespace', 'ecs', '--resource-id', id, '--max-items', '1']);
  assert.equal(first.ScalingActivities.length, 1);
  assert.ok(first.NextToken);

  await awsOk(env, ['application-autoscaling', 'delete-scaling-policy', '--service-namespace', 'ecs', '--scalable-dimension', 'ecs:service:DesiredCount', '--resource-id', id, '--policy-name', 'cpu50']);
  const again = await aws(env, ['application-autoscaling', 'delete-scaling-policy', '--service-namespace', 'ecs', '--scalable-dimension', 'ecs:service:DesiredCount', '--resource-id', id, '--policy-name', 'cpu50']);
  assert.match(again.stderr, /ObjectNotFoundException.*No scaling policy found/);
});

test('step scaling runs when a CloudWatch alarm naming the policy is in ALARM (SDK)', async () => {
  const id = await service('queue', 1);
  await scaling.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount', ResourceId: id, MinCapacity: 1, MaxCapacity: 10 }));
  const { PolicyARN } = await scaling.send(
    new PutScalingPolicyCommand({
      ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount', ResourceId: id, PolicyName: 'backlog', PolicyType: 'StepScaling',
      StepScalingPolicyConfiguration: { AdjustmentType: 'ChangeInCapacity', Cooldown: 120, MetricAggregationType: 'Average', StepAdjustments: [{ MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 50, ScalingAdjustment: 1 }, { MetricIntervalLowerBound: 50, ScalingAdjustment: 3 }] },
    }),
  );
  await cw.send(new PutMetricAlarmCommand({ AlarmName: 'backlog-high', Namespace: 'App', MetricName: 'Backlog', Statistic: 'Average', Period: 60, EvaluationPeriods: 1, Threshold: 100, ComparisonOperator: 'GreaterThanThreshold', AlarmActions: [PolicyARN!] }));
  const policies = await scaling.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'ecs', PolicyNames: ['backlog'] }));
  assert.equal(policies.ScalingPolicies![0]!.StepScalingPolicyConfiguration!.StepAdjustments!.length, 2);

  // A backlog of 180: 80 over the threshold, the second step: +3. Put 10 s into a minute, so the
  // evaluation 5 s later looks at the period holding it (not the next, still empty one).
  clock.set(Math.ceil(clock.now() / 60_000) * 60_000 + 10_000);
  await cw.send(new PutMetricDataCommand({ Namespace: 'App', MetricData: [{ MetricName: 'Backlog', Value: 180, Timestamp: new Date(clock.now()) }] }));
  await clock.advance(5_000);
  await evaluateAllAlarms(berth.platform); // (the alarm duty may have evaluated it already)
  assert.equal((await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['backlog-high'] }))).MetricAlarms![0]!.StateValue, 'ALARM');
  await controllerPass();
  assert.equal(await desired('queue'), 4);
  // Still in ALARM, but within the policy's cooldown: nothing more.
  await clock.advance(30_000);
  await controllerPass();
  assert.equal(await desired('queue'), 4);
  // After the cooldown, the alarm still firing: +3 again.
  await clock.advance(100_000);
  await cw.send(new PutMetricDataCommand({ Namespace: 'App', MetricData: [{ MetricName: 'Backlog', Value: 180, Timestamp: new Date(clock.now()) }] }));
  await evaluateAllAlarms(berth.platform);
  await controllerPass();
  assert.equal(await desired('queue'), 7);
  const acts = await scaling.send(new DescribeScalingActivitiesCommand({ ServiceNamespace: 'ecs', ResourceId: id }));
  assert.equal(acts.ScalingActivities![0]!.Cause, 'monitor alarm backlog-high in state ALARM triggered policy backlog');
});

test('IAM: a user allowed only to describe cannot register or change policies', { skip: !hasAwsCli() && 'no aws CLI' }, async () => {
  const root = berth.awsEnv;
  await awsOk(root, ['iam', 'create-user', '--user-name', 'viewer']);
  await awsOk(root, ['iam', 'put-user-policy', '--user-name', 'viewer', '--policy-name', 'read', '--policy-document', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'application-autoscaling:Describe*', Resource: '*' }] })]);
  const key = (await awsOk(root, ['iam', 'create-access-key', '--user-name', 'viewer'])).AccessKey;
  const env = awsEnvFor(berth.url, { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey });
  const id = await service('guarded', 1);
  const listed = await awsOk(env, ['application-autoscaling', 'describe-scalable-targets', '--service-namespace', 'ecs']);
  assert.ok(Array.isArray(listed.ScalableTargets));
  const denied = await aws(env, ['application-autoscaling', 'register-scalable-target', '--service-namespace', 'ecs', '--scalable-dimension', 'ecs:service:DesiredCount', '--resource-id', id, '--min-capacity', '1', '--max-capacity', '3']);
  assert.notEqual(denied.status, 0);
  assert.match(denied.stderr, /AccessDenied.*application-autoscaling:RegisterScalableTarget/);
  assert.deepEqual((await awsOk(root, ['application-autoscaling', 'describe-scalable-targets', '--service-namespace', 'ecs', '--resource-ids', id])).ScalableTargets, []);
  // Allowed for ECS targets only, by the service-namespace condition key.
  await awsOk(root, ['iam', 'put-user-policy', '--user-name', 'viewer', '--policy-name', 'ecs-only', '--policy-document', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'application-autoscaling:RegisterScalableTarget', Resource: '*', Condition: { StringEquals: { 'application-autoscaling:service-namespace': 'ecs' } } }] })]);
  await awsOk(env, ['application-autoscaling', 'register-scalable-target', '--service-namespace', 'ecs', '--scalable-dimension', 'ecs:service:DesiredCount', '--resource-id', id, '--min-capacity', '1', '--max-capacity', '3']);
});
