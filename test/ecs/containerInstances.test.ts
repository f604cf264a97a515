// Container instances, attributes, tagging of every ECS resource type, and account settings,
// through the real SDK (and the CLI for the cluster query language).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ECSClient,
  CreateClusterCommand,
  RegisterContainerInstanceCommand,
  DeregisterContainerInstanceCommand,
  DescribeContainerInstancesCommand,
  ListContainerInstancesCommand,
  UpdateContainerInstancesStateCommand,
  PutAttributesCommand,
  DeleteAttributesCommand,
  ListAttributesCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  CreateServiceCommand,
  TagResourceCommand,
  UntagResourceCommand,
  ListTagsForResourceCommand,
  PutAccountSettingCommand,
  PutAccountSettingDefaultCommand,
  ListAccountSettingsCommand,
  DescribeTasksCommand,
  StartTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { awsOk, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';

let berth: TestBerth;
let ecs: ECSClient;
const C = 'ci';
const arns: Record<string, string> = {};

before(async () => {
  berth = await startTestBerth();
  ecs = new ECSClient(berth.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: C }));
  for (const [name, az, type] of [['a', 'us-east-1a', 't3.small'], ['b', 'us-east-1b', 't3.large'], ['c', 'us-east-1c', 'm5.large']] as const) {
    const out = await ecs.send(new RegisterContainerInstanceCommand({
      cluster: C,
      instanceIdentityDocument: JSON.stringify({ instanceId: `i-${name}000`, availabilityZone: az, instanceType: type }),
      totalResources: [{ name: 'CPU', type: 'INTEGER', integerValue: 1024 }, { name: 'MEMORY', type: 'INTEGER', integerValue: 1024 }],
      attributes: name === 'c' ? [{ name: 'stack', value: 'prod' }] : [],
      tags: [{ key: 'name', value: name }],
    }));
    arns[name] = out.containerInstance!.containerInstanceArn!;
  }
});
after(async () => {
  ecs.destroy();
  await berth.close();
});

const short = (list: string[] | undefined) => (list ?? []).map((a) => Object.entries(arns).find(([, v]) => v === a)?.[0] ?? a).sort();

test('re-registering the same EC2 instance keeps its container instance identity', async () => {
  const again = await ecs.send(new RegisterContainerInstanceCommand({ cluster: C, instanceIdentityDocument: JSON.stringify({ instanceId: 'i-a000', availabilityZone: 'us-east-1a', instanceType: 't3.small' }), totalResources: [{ name: 'CPU', type: 'INTEGER', integerValue: 1024 }, { name: 'MEMORY', type: 'INTEGER', integerValue: 1024 }] }));
  assert.equal(again.containerInstance!.containerInstanceArn, arns.a);
  assert.equal(again.containerInstance!.ec2InstanceId, 'i-a000');
});

test('ListContainerInstances filter: ==, exists, in, =~, and/or/not, plus status', async () => {
  const q = async (filter: string) => short((await ecs.send(new ListContainerInstancesCommand({ cluster: C, filter }))).containerInstanceArns);
  assert.deepEqual(await q('attribute:ecs.instance-type == t3.small'), ['a']);
  assert.deepEqual(await q('attribute:stack exists'), ['c']);
  assert.deepEqual(await q('attribute:ecs.availability-zone in [us-east-1a, us-east-1c]'), ['a', 'c']);
  assert.deepEqual(await q('attribute:ecs.instance-type =~ t3.*'), ['a', 'b']);
  assert.deepEqual(await q('attribute:ecs.instance-type =~ t3.* and attribute:ecs.availability-zone != us-east-1a'), ['b']);
  assert.deepEqual(await q('attribute:stack == prod or ec2InstanceId == i-b000'), ['b', 'c']);
  assert.deepEqual(await q('not (attribute:stack exists)'), ['a', 'b']);
  assert.deepEqual(await q('attribute:ecs.availability-zone not in [us-east-1a]'), ['b', 'c']);
  await assert.rejects(q('attribute:x =='), (e: Error) => e.name === 'InvalidParameterException' && /Invalid filter/.test(e.message));
  if (hasAwsCli()) {
    const out = await awsOk(berth.awsEnv, ['ecs', 'list-container-instances', '--cluster', C, '--filter', 'attribute:ecs.instance-type == m5.large']);
    assert.deepEqual(short(out.containerInstanceArns), ['c']);
  }
  // Pagination.
  const p1 = await ecs.send(new ListContainerInstancesCommand({ cluster: C, maxResults: 2 }));
  const p2 = await ecs.send(new ListContainerInstancesCommand({ cluster: C, maxResults: 2, nextToken: p1.nextToken }));
  assert.deepEqual(short([...p1.containerInstanceArns!, ...p2.containerInstanceArns!]), ['a', 'b', 'c']);
  assert.equal(p2.nextToken, undefined);
});

test('draining, attributes as placement constraints, deregistration', async () => {
  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'small', containerDefinitions: [{ name: 's', image: 'x', memory: 100 }] }));
  const drained = await ecs.send(new UpdateContainerInstancesStateCommand({ cluster: C, containerInstances: [arns.a!, 'deadbeefdeadbeefdeadbeefdeadbeef'], status: 'DRAINING' }));
  assert.equal(drained.containerInstances![0]!.status, 'DRAINING');
  assert.equal(drained.failures![0]!.reason, 'MISSING');
  assert.deepEqual(short((await ecs.send(new ListContainerInstancesCommand({ cluster: C, status: 'DRAINING' }))).containerInstanceArns), ['a']);

  // memberOf on a custom attribute: only b qualifies once tagged; a is draining.
  await ecs.send(new PutAttributesCommand({ cluster: C, attributes: [{ name: 'tier', value: 'web', targetId: arns.b! }, { name: 'tier', value: 'web', targetId: arns.a! }] }));
  const run = await ecs.send(new RunTaskCommand({ cluster: C, taskDefinition: 'small', count: 3, placementConstraints: [{ type: 'memberOf', expression: 'attribute:tier == web' }] }));
  assert.equal(run.tasks!.length, 3);
  assert.ok(run.tasks!.every((t) => t.containerInstanceArn === arns.b));
  const listed = await ecs.send(new ListAttributesCommand({ cluster: C, targetType: 'container-instance', attributeName: 'tier' }));
  assert.deepEqual(short(listed.attributes!.map((a) => a.targetId!)), ['a', 'b']);
  await ecs.send(new DeleteAttributesCommand({ cluster: C, attributes: [{ name: 'tier', targetId: arns.a! }] }));
  const after = await ecs.send(new ListAttributesCommand({ cluster: C, targetType: 'container-instance', attributeName: 'tier', attributeValue: 'web' }));
  assert.deepEqual(short(after.attributes!.map((a) => a.targetId!)), ['b']);
  await assert.rejects(ecs.send(new PutAttributesCommand({ cluster: C, attributes: [{ name: 'x', value: 'y', targetId: 'deadbeefdeadbeefdeadbeefdeadbeef' }] })), (e: Error) => e.name === 'TargetNotFoundException');

  // b has live tasks: deregistering needs force.
  await assert.rejects(ecs.send(new DeregisterContainerInstanceCommand({ cluster: C, containerInstance: arns.b! })), (e: Error) => e.name === 'InvalidParameterException' && /force/.test(e.message));
  const dereg = await ecs.send(new DeregisterContainerInstanceCommand({ cluster: C, containerInstance: arns.c!.split('/').pop()! }));
  assert.equal(dereg.containerInstance!.status, 'INACTIVE');
  assert.deepEqual(short((await ecs.send(new ListContainerInstancesCommand({ cluster: C }))).containerInstanceArns), ['a', 'b']);
  const desc = await ecs.send(new DescribeContainerInstancesCommand({ cluster: C, containerInstances: [arns.c!], include: ['TAGS'] }));
  assert.equal(desc.containerInstances![0]!.status, 'INACTIVE', 'deregistered instances stay describable');
  assert.deepEqual(desc.containerInstances![0]!.tags, [{ key: 'name', value: 'c' }]);
});

test("a task definition's requiresAttributes: RunTask and StartTask use only instances that have them (ATTRIBUTE otherwise)", async () => {
  const td = (await ecs.send(new RegisterTaskDefinitionCommand({ family: 'needs-syslog', containerDefinitions: [{ name: 's', image: 'x', memory: 100, logConfiguration: { logDriver: 'syslog' } }] }))).taskDefinition!;
  const needed = 'com.amazonaws.ecs.capability.logging-driver.syslog';
  assert.ok(td.requiresAttributes!.some((a) => a.name === needed));
  // Only b is ACTIVE now (a drains, c is gone), and it lacks the attribute.
  const run = await ecs.send(new RunTaskCommand({ cluster: C, taskDefinition: 'needs-syslog' }));
  assert.deepEqual(run.tasks, []);
  assert.deepEqual(run.failures, [{ arn: arns.b, reason: 'ATTRIBUTE' }]);
  const start = await ecs.send(new StartTaskCommand({ cluster: C, taskDefinition: 'needs-syslog', containerInstances: [arns.b!] }));
  assert.deepEqual(start.tasks, []);
  assert.deepEqual(start.failures, [{ arn: arns.b, reason: 'ATTRIBUTE' }]);

  await ecs.send(new PutAttributesCommand({ cluster: C, attributes: [{ name: needed, targetId: arns.b! }] }));
  const placed = await ecs.send(new RunTaskCommand({ cluster: C, taskDefinition: 'needs-syslog' }));
  assert.equal(placed.tasks![0]!.containerInstanceArn, arns.b);
  await ecs.send(new StopTaskCommand({ cluster: C, task: placed.tasks![0]!.taskArn! }));
  await ecs.send(new DeleteAttributesCommand({ cluster: C, attributes: [{ name: needed, targetId: arns.b! }] }));
});

test('tags on task definitions, services, tasks and container instances', async () => {
  const td = (await ecs.send(new RegisterTaskDefinitionCommand({ family: 'tagged', containerDefinitions: [{ name: 's', image: 'x', memory: 10 }], tags: [{ key: 'a', value: '1' }] }))).taskDefinition!;
  const svc = (await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'tagged', taskDefinition: 'tagged', desiredCount: 0 }))).service!;
  const task = (await ecs.send(new RunTaskCommand({ cluster: C, taskDefinition: 'tagged', propagateTags: 'TASK_DEFINITION', tags: [{ key: 'own', value: 'x' }] }))).tasks![0]!;
  assert.deepEqual(task.tags, [{ key: 'a', value: '1' }, { key: 'own', value: 'x' }], 'propagated from the task definition');
  for (const resourceArn of [td.taskDefinitionArn!, svc.serviceArn!, task.taskArn!, arns.b!]) {
    await ecs.send(new TagResourceCommand({ resourceArn, tags: [{ key: 'k', value: 'v' }] }));
    const got = (await ecs.send(new ListTagsForResourceCommand({ resourceArn }))).tags!;
    assert.ok(got.some((t) => t.key === 'k' && t.value === 'v'), resourceArn);
    await ecs.send(new UntagResourceCommand({ resourceArn, tagKeys: ['k'] }));
    assert.ok(!(await ecs.send(new ListTagsForResourceCommand({ resourceArn }))).tags!.some((t) => t.key === 'k'));
  }
  const t = await ecs.send(new DescribeTasksCommand({ cluster: C, tasks: [task.taskArn!], include: ['TAGS'] }));
  assert.deepEqual(t.tasks![0]!.tags, [{ key: 'a', value: '1' }, { key: 'own', value: 'x' }]);
  await assert.rejects(
    ecs.send(new ListTagsForResourceCommand({ resourceArn: `arn:aws:ecs:us-east-1:${berth.platform.accountId}:task/${C}/00000000000000000000000000000000` })),
    (e: Error) => e.name === 'ResourceNotFoundException',
  );
});

test('account settings are stored and reported, with ECS defaults when unset', async () => {
  const eff = await ecs.send(new ListAccountSettingsCommand({ effectiveSettings: true, name: 'taskLongArnFormat' }));
  assert.deepEqual(eff.settings!.map((s) => [s.name, s.value]), [['taskLongArnFormat', 'enabled']]);
  await ecs.send(new PutAccountSettingDefaultCommand({ name: 'awsvpcTrunking', value: 'enabled' }));
  const put = await ecs.send(new PutAccountSettingCommand({ name: 'containerInsights', value: 'enhanced' }));
  assert.equal(put.setting!.principalArn, `arn:aws:iam::${berth.platform.accountId}:root`);
  const mine = await ecs.send(new ListAccountSettingsCommand({}));
  assert.deepEqual(mine.settings!.map((s) => [s.name, s.value]), [['containerInsights', 'enhanced']]);
  const all = await ecs.send(new ListAccountSettingsCommand({ effectiveSettings: true, maxResults: 10 }));
  assert.equal(all.settings!.length, 10);
  assert.ok(all.nextToken);
  const rest = await ecs.send(new ListAccountSettingsCommand({ effectiveSettings: true, maxResults: 10, nextToken: all.nextToken }));
  const every = [...all.settings!, ...rest.settings!];
  assert.equal(every.find((s) => s.name === 'awsvpcTrunking')!.value, 'enabled');
  assert.equal(every.find((s) => s.name === 'containerInsights')!.value, 'enhanced');
  await assert.rejects(ecs.send(new PutAccountSettingCommand({ name: 'taskLongArnFormat', value: 'maybe' })), (e: Error) => e.name === 'InvalidParameterException' && /enabled, disabled/.test(e.message));
});
