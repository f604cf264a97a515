// Task sets (EXTERNAL and CODE_DEPLOY services) through @aws-sdk/client-ecs and the aws CLI,
// with simulated agents (a real node:http server per task) behind a real Berth load balancer:
// each task set keeps ceil(desiredCount x scale%) tasks registered in its own target group; one
// is made primary (the service takes on its task definition); a deleted one drains and goes;
// and the error cases answer ECS's codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ECSClient,
  CreateClusterCommand,
  CreateServiceCommand,
  CreateTaskSetCommand,
  DeleteTaskSetCommand,
  DescribeServicesCommand,
  DescribeTaskSetsCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  UpdateServicePrimaryTaskSetCommand,
  UpdateTaskSetCommand,
  type TaskSet,
} from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client, CreateLoadBalancerCommand, CreateListenerCommand, DescribeTargetHealthCommand, ModifyTargetGroupAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { aws, awsEnvFor, awsOk, errorOf, eventually, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { createTestTargetGroup, TASK_TARGET_HEALTH, freePort } from '../lb/backends.js';
import { AgentSimulator } from '../services-control/simulator.js';

let berth: TestBerth;
let ecs: ECSClient;
let elb: ElasticLoadBalancingV2Client;
let sim: AgentSimulator;
const C = 'ts';

before(async () => {
  berth = await startTestBerth();
  berth.controller.configure({ intervalMs: 100 });
  berth.loadBalancer.configure({ secondMs: 50 });
  ecs = new ECSClient(berth.clientConfig);
  elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: C }));
  sim = new AgentSimulator(berth, ecs, { cluster: C });
  await sim.addInstance({ cpu: 4096, memory: 4096 });
  for (const image of ['web:1', 'web:2']) {
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'web', image, memory: 64, portMappings: [{ containerPort: 8080, hostPort: 0 }] }] }));
  }
});
after(async () => {
  assert.deepEqual(berth.controller.errors, [], 'the controller reconciled without errors');
  await sim.stop();
  ecs.destroy();
  elb.destroy();
  await berth.close();
});

async function healthy(tg: string): Promise<number> {
  return ((await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions ?? []).filter((h) => h.TargetHealth?.State === 'healthy').length;
}

async function taskSets(service: string): Promise<TaskSet[]> {
  return (await ecs.send(new DescribeTaskSetsCommand({ cluster: C, service }))).taskSets ?? [];
}

async function targetGroup(name: string): Promise<string> {
  const tg = await createTestTargetGroup(elb, name, { HealthCheckPath: '/', ...TASK_TARGET_HEALTH });
  await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
  return tg;
}

test('EXTERNAL service: task set lifecycle (create, scale, primary, delete) with each task set in its own target group', async () => {
  const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: 'ts', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
  const blueTg = await targetGroup('ts-blue');
  const greenTg = await targetGroup('ts-green');
  await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTP', Port: await freePort(), DefaultActions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: blueTg, Weight: 1 }, { TargetGroupArn: greenTg, Weight: 0 }] } }] }));

  const created = (await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'ext', desiredCount: 2, deploymentController: { type: 'EXTERNAL' } }))).service!;
  assert.equal(created.deploymentController?.type, 'EXTERNAL');
  assert.deepEqual(created.taskSets, []);
  assert.deepEqual(created.deployments, []);

  const blue = (
    await ecs.send(new CreateTaskSetCommand({ cluster: C, service: 'ext', taskDefinition: 'web:1', externalId: 'blue', loadBalancers: [{ targetGroupArn: blueTg, containerName: 'web', containerPort: 8080 }], scale: { value: 100, unit: 'PERCENT' } }))
  ).taskSet!;
  assert.match(blue.id!, /^ecs-svc\/\d{19}$/);
  assert.equal(blue.taskSetArn, `arn:aws:ecs:us-east-1:${berth.platform.accountId}:task-set/${C}/ext/${blue.id}`);
  assert.equal(blue.status, 'ACTIVE');
  assert.equal(blue.computedDesiredCount, 2);
  assert.equal(blue.stabilityStatus, 'STABILIZING');
  assert.equal(blue.externalId, 'blue');
  const primary = (await ecs.send(new UpdateServicePrimaryTaskSetCommand({ cluster: C, service: 'ext', primaryTaskSet: blue.taskSetArn! }))).taskSet!;
  assert.equal(primary.status, 'PRIMARY');
  await eventually(async () => (await healthy(blueTg)) === 2 && (await taskSets('ext'))[0]!.stabilityStatus === 'STEADY_STATE', { what: 'blue: 2 healthy targets, steady', timeoutMs: 20_000 });
  const svc = (await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['ext'] }))).services![0]!;
  assert.match(svc.taskDefinition!, /web:1$/, 'the service takes on its primary task set\'s task definition');
  assert.equal(svc.runningCount, 2);
  assert.equal(svc.taskSets![0]!.runningCount, 2);

  // Green at 50% of 2 = 1 task in its own target group; then at 100% = 2; blue's group untouched.
  const green = (await ecs.send(new CreateTaskSetCommand({ cluster: C, service: 'ext', taskDefinition: 'web:2', loadBalancers: [{ targetGroupArn: greenTg, containerName: 'web', containerPort: 8080 }], scale: { value: 50, unit: 'PERCENT' } }))).taskSet!;
  assert.equal(green.computedDesiredCount, 1);
  await eventually(async () => (await healthy(greenTg)) === 1, { what: 'green: 1 healthy target', timeoutMs: 20_000 });
  const scaled = (await ecs.send(new UpdateTaskSetCommand({ cluster: C, service: 'ext', taskSet: green.id!, scale: { value: 100, unit: 'PERCENT' } }))).taskSet!;
  assert.equal(scaled.computedDesiredCount, 2);
  assert.equal(scaled.stabilityStatus, 'STABILIZING');
  await eventually(async () => (await healthy(greenTg)) === 2, { what: 'green: 2 healthy targets', timeoutMs: 20_000 });
  assert.equal(await healthy(blueTg), 2);

  // The error cases, with ECS's codes.
  const cases: Array<[Promise<unknown>, string, RegExp?]> = [
    [ecs.send(new UpdateTaskSetCommand({ cluster: C, service: 'ext', taskSet: 'ecs-svc/0000000000000000000', scale: { value: 10, unit: 'PERCENT' } })), 'TaskSetNotFoundException'],
    [ecs.send(new UpdateTaskSetCommand({ cluster: C, service: 'ext', taskSet: green.id!, scale: { value: 101, unit: 'PERCENT' } })), 'InvalidParameterException', /between 0 and 100/],
    [ecs.send(new DeleteTaskSetCommand({ cluster: C, service: 'ext', taskSet: green.id! })), 'InvalidParameterException', /scale is 100 PERCENT/],
    [ecs.send(new DeleteTaskSetCommand({ cluster: C, service: 'ext', taskSet: blue.id!, force: true })), 'InvalidParameterException', /primary task set/],
    [ecs.send(new CreateTaskSetCommand({ cluster: C, service: 'nope', taskDefinition: 'web:1' })), 'ServiceNotFoundException'],
    [ecs.send(new CreateTaskSetCommand({ cluster: 'nope', service: 'ext', taskDefinition: 'web:1' })), 'ClusterNotFoundException'],
    [ecs.send(new CreateTaskSetCommand({ cluster: C, service: 'ext', taskDefinition: 'web:9' })), 'InvalidParameterException'],
    [ecs.send(new UpdateServiceCommand({ cluster: C, service: 'ext', taskDefinition: 'web:2' })), 'InvalidParameterException', /EXTERNAL deployment controller/],
    [ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'ext-lb', desiredCount: 1, deploymentController: { type: 'EXTERNAL' }, loadBalancers: [{ targetGroupArn: blueTg, containerName: 'web', containerPort: 8080 }] })), 'InvalidParameterException', /on each task set/],
  ];
  for (const [p, code, message] of cases) {
    const e = await errorOf(p);
    assert.equal(e.name, code, e.message);
    if (message) assert.match(e.message, message);
  }
  const missing = await ecs.send(new DescribeTaskSetsCommand({ cluster: C, service: 'ext', taskSets: [green.id!, 'ecs-svc/1111111111111111111'] }));
  assert.deepEqual(missing.taskSets!.map((t) => t.id), [green.id]);
  assert.deepEqual(missing.failures, [{ arn: 'ecs-svc/1111111111111111111', reason: 'MISSING' }]);

  // Green becomes primary; blue is deleted: its targets drain, its tasks stop, it goes.
  await ecs.send(new UpdateServicePrimaryTaskSetCommand({ cluster: C, service: 'ext', primaryTaskSet: green.id! }));
  const deleted = (await ecs.send(new DeleteTaskSetCommand({ cluster: C, service: 'ext', taskSet: blue.id!, force: true }))).taskSet!;
  assert.equal(deleted.status, 'DRAINING');
  assert.equal(deleted.computedDesiredCount, 0);
  await eventually(async () => (await taskSets('ext')).length === 1, { what: 'blue removed once drained', timeoutMs: 20_000 });
  assert.equal(await healthy(blueTg), 0);
  const after = (await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['ext'] }))).services![0]!;
  assert.match(after.taskDefinition!, /web:2$/);
  assert.deepEqual(after.taskSets!.map((t) => [t.id, t.status]), [[green.id, 'PRIMARY']]);
  await eventually(async () => (await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['ext'] }))).services![0]!.runningCount === 2, { what: 'only green runs', timeoutMs: 20_000 });
});

test('task set operations on an ECS-controlled service are refused; CODE_DEPLOY services start with a PRIMARY task set', async () => {
  await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'rolling', taskDefinition: 'web:1', desiredCount: 0 }));
  const e = await errorOf(ecs.send(new CreateTaskSetCommand({ cluster: C, service: 'rolling', taskDefinition: 'web:1' })));
  assert.equal(e.name, 'InvalidParameterException');
  assert.match(e.message, /external deployment controller/);

  const cd = (await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'cd', taskDefinition: 'web:1', desiredCount: 1, deploymentController: { type: 'CODE_DEPLOY' } }))).service!;
  assert.equal(cd.taskSets!.length, 1);
  assert.equal(cd.taskSets![0]!.status, 'PRIMARY');
  assert.deepEqual(cd.taskSets![0]!.scale, { value: 100, unit: 'PERCENT' });
  await eventually(async () => (await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['cd'] }))).services![0]!.runningCount === 1, { what: 'the CODE_DEPLOY service runs its task', timeoutMs: 20_000 });
  const u = await errorOf(ecs.send(new UpdateServiceCommand({ cluster: C, service: 'cd', taskDefinition: 'web:2' })));
  assert.equal(u.name, 'InvalidParameterException');
  assert.match(u.message, /Use AWS CodeDeploy to trigger a new deployment/);
  // desiredCount still changes, and the task set follows.
  await ecs.send(new UpdateServiceCommand({ cluster: C, service: 'cd', desiredCount: 2 }));
  await eventually(async () => (await taskSets('cd'))[0]!.runningCount === 2, { what: 'the task set follows desiredCount', timeoutMs: 20_000 });
});

test('aws CLI: create-task-set, describe-task-sets, update-task-set, delete-task-set and their errors', { skip: !hasAwsCli() && 'no aws CLI' }, async () => {
  const env = awsEnvFor(berth.url, berth.credentials);
  await awsOk(env, ['ecs', 'create-service', '--cluster', C, '--service-name', 'cli', '--desired-count', '2', '--deployment-controller', 'type=EXTERNAL']);
  const ts = (await awsOk(env, ['ecs', 'create-task-set', '--cluster', C, '--service', 'cli', '--task-definition', 'web:1', '--scale', 'value=50,unit=PERCENT'])).taskSet;
  assert.equal(ts.computedDesiredCount, 1);
  const described = await awsOk(env, ['ecs', 'describe-task-sets', '--cluster', C, '--service', 'cli', '--task-sets', ts.id]);
  assert.equal(described.taskSets[0].taskSetArn, ts.taskSetArn);
  const up = await awsOk(env, ['ecs', 'update-task-set', '--cluster', C, '--service', 'cli', '--task-set', ts.id, '--scale', 'value=0,unit=PERCENT']);
  assert.equal(up.taskSet.computedDesiredCount, 0);
  const del = await awsOk(env, ['ecs', 'delete-task-set', '--cluster', C, '--service', 'cli', '--task-set', ts.id]);
  assert.equal(del.taskSet.status, 'DRAINING');
  const missing = await aws(env, ['ecs', 'update-task-set', '--cluster', C, '--service', 'cli', '--task-set', 'ecs-svc/42', '--scale', 'value=1,unit=PERCENT']);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /TaskSetNotFoundException/);
  const bad = await aws(env, ['ecs', 'create-task-set', '--cluster', C, '--service', 'cli', '--task-definition', 'web:1', '--scale', 'value=150,unit=PERCENT']);
  assert.match(bad.stderr, /InvalidParameterException/);
});
