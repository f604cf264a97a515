// Bad input for every ECS operation beyond clusters, sent as raw signed awsJson requests (so
// wrong types reach the server): missing members, wrong types, unknown enum values, unknown
// clusters/services/tasks/instances, names over the length limits. Each must answer with the
// AWS error code and a 4xx, and none may leave partial state: a snapshot of everything
// listable and describable is identical before and after the whole suite.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ECSClient,
  CreateClusterCommand,
  RegisterTaskDefinitionCommand,
  CreateServiceCommand,
  RegisterContainerInstanceCommand,
  RunTaskCommand,
  ListTaskDefinitionsCommand,
  ListTaskDefinitionFamiliesCommand,
  DescribeTaskDefinitionCommand,
  ListServicesCommand,
  DescribeServicesCommand,
  ListTasksCommand,
  DescribeTasksCommand,
  ListContainerInstancesCommand,
  DescribeContainerInstancesCommand,
  ListAttributesCommand,
  ListAccountSettingsCommand,
  ListTagsForResourceCommand,
  ListClustersCommand,
} from '@aws-sdk/client-ecs';
import { startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { signRequest } from '../../src/protocol/sigv4.js';

let berth: TestBerth;
let ecs: ECSClient;
const C = 'bad';
let taskArn = '';
let ciArn = '';
let tdArn = '';
let svcArn = '';

before(async () => {
  berth = await startTestBerth();
  ecs = new ECSClient(berth.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: C }));
  tdArn = (await ecs.send(new RegisterTaskDefinitionCommand({ family: 'base', containerDefinitions: [{ name: 'app', image: 'x', memory: 64, portMappings: [{ containerPort: 80 }] }] }))).taskDefinition!.taskDefinitionArn!;
  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'vpc', networkMode: 'awsvpc', containerDefinitions: [{ name: 'app', image: 'x', memory: 64 }] }));
  svcArn = (await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'svc', taskDefinition: 'base', desiredCount: 1 }))).service!.serviceArn!;
  ciArn = (await ecs.send(new RegisterContainerInstanceCommand({ cluster: C, totalResources: [{ name: 'CPU', type: 'INTEGER', integerValue: 1024 }, { name: 'MEMORY', type: 'INTEGER', integerValue: 1024 }] }))).containerInstance!.containerInstanceArn!;
  taskArn = (await ecs.send(new RunTaskCommand({ cluster: C, taskDefinition: 'base' }))).tasks![0]!.taskArn!;
});
after(async () => {
  ecs.destroy();
  await berth.close();
});

async function call(op: string, body: unknown): Promise<{ status: number; type: string; message: string }> {
  const url = new URL(berth.url + '/');
  const text = JSON.stringify(body);
  const headers = signRequest({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AmazonEC2ContainerServiceV20141113.${op}` },
    body: text,
    accessKeyId: berth.credentials.accessKeyId,
    secretAccessKey: berth.credentials.secretAccessKey,
    region: 'us-east-1',
    service: 'ecs',
  });
  delete headers.host;
  const res = await fetch(url, { method: 'POST', headers, body: text });
  const out = (await res.json()) as { __type?: string; message?: string; Message?: string };
  return { status: res.status, type: (out.__type ?? '').split('#').pop()!, message: out.message ?? out.Message ?? '' };
}

/** Everything a caller could observe, in one value. */
async function snapshot(): Promise<unknown> {
  const tds = [];
  for (const status of ['ACTIVE', 'INACTIVE', 'DELETE_IN_PROGRESS'] as const) tds.push((await ecs.send(new ListTaskDefinitionsCommand({ status }))).taskDefinitionArns);
  const tasks = [];
  for (const desiredStatus of ['RUNNING', 'PENDING', 'STOPPED'] as const) tasks.push((await ecs.send(new ListTasksCommand({ cluster: C, desiredStatus }))).taskArns);
  const tags = [];
  for (const resourceArn of [tdArn, svcArn, taskArn, ciArn]) tags.push((await ecs.send(new ListTagsForResourceCommand({ resourceArn }))).tags);
  return {
    clusters: (await ecs.send(new ListClustersCommand({}))).clusterArns,
    tds,
    families: (await ecs.send(new ListTaskDefinitionFamiliesCommand({ status: 'ALL' }))).families,
    td: (({ $metadata: _m, ...rest }) => rest)(await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'base', include: ['TAGS'] }))),
    services: (await ecs.send(new ListServicesCommand({ cluster: C }))).serviceArns,
    service: (await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['svc'], include: ['TAGS'] }))).services,
    tasks,
    task: (await ecs.send(new DescribeTasksCommand({ cluster: C, tasks: [taskArn], include: ['TAGS'] }))).tasks,
    instances: (await ecs.send(new ListContainerInstancesCommand({ cluster: C }))).containerInstanceArns,
    instance: (await ecs.send(new DescribeContainerInstancesCommand({ cluster: C, containerInstances: [ciArn], include: ['TAGS'] }))).containerInstances,
    attributes: (await ecs.send(new ListAttributesCommand({ cluster: C, targetType: 'container-instance' }))).attributes,
    settings: (await ecs.send(new ListAccountSettingsCommand({ effectiveSettings: true }))).settings,
    mySettings: (await ecs.send(new ListAccountSettingsCommand({}))).settings,
  };
}

type Case = [op: string, body: () => Record<string, unknown>, code: string, message?: RegExp];
const IPE = 'InvalidParameterException';
const SER = 'SerializationException';
const CNF = 'ClusterNotFoundException';
const long = (n: number) => 'x'.repeat(n);
const cd = [{ name: 'a', image: 'b', memory: 64 }];

const CASES: Case[] = [
  ['RegisterTaskDefinition', () => ({}), 'ClientException', /family/],
  ['RegisterTaskDefinition', () => ({ family: 'n', containerDefinitions: 'nope' }), SER],
  ['RegisterTaskDefinition', () => ({ family: 'n', containerDefinitions: [{ name: 'a', image: 'b', memory: 'lots' }] }), SER],
  ['RegisterTaskDefinition', () => ({ family: 'n', containerDefinitions: cd, networkMode: 'bogus' }), 'ClientException', /enum/],
  ['RegisterTaskDefinition', () => ({ family: 'n', containerDefinitions: cd, requiresCompatibilities: ['MOON'] }), 'ClientException'],
  ['RegisterTaskDefinition', () => ({ family: long(256), containerDefinitions: cd }), 'ClientException', /255/],
  ['RegisterTaskDefinition', () => ({ family: 'n', containerDefinitions: [{ name: long(256), image: 'b', memory: 64 }] }), 'ClientException', /255/],
  ['RegisterTaskDefinition', () => ({ family: 'n', containerDefinitions: [...cd, ...cd] }), 'ClientException', /unique/],
  ['RegisterTaskDefinition', () => ({ family: 'n', containerDefinitions: cd, tags: [{ key: 'aws:x', value: 'y' }] }), IPE, /reserved/],
  ['DescribeTaskDefinition', () => ({}), IPE],
  ['DescribeTaskDefinition', () => ({ taskDefinition: 5 }), SER],
  ['DescribeTaskDefinition', () => ({ taskDefinition: 'nope' }), 'ClientException'],
  ['DescribeTaskDefinition', () => ({ taskDefinition: 'base', include: ['BOGUS'] }), IPE],
  ['ListTaskDefinitions', () => ({ status: 'BOGUS' }), IPE],
  ['ListTaskDefinitions', () => ({ sort: 'UP' }), IPE],
  ['ListTaskDefinitions', () => ({ maxResults: 0 }), IPE],
  ['ListTaskDefinitions', () => ({ maxResults: 'x' }), SER],
  ['ListTaskDefinitions', () => ({ nextToken: 'garbage' }), IPE, /token/i],
  ['ListTaskDefinitionFamilies', () => ({ status: 'X' }), IPE],
  ['ListTaskDefinitionFamilies', () => ({ maxResults: 101 }), IPE],
  ['DeregisterTaskDefinition', () => ({}), IPE],
  ['DeregisterTaskDefinition', () => ({ taskDefinition: 'base' }), 'ClientException', /revision/],
  ['DeregisterTaskDefinition', () => ({ taskDefinition: 'nope:1' }), 'ClientException'],
  ['DeleteTaskDefinitions', () => ({}), IPE],
  ['DeleteTaskDefinitions', () => ({ taskDefinitions: 'x' }), SER],
  ['DeleteTaskDefinitions', () => ({ taskDefinitions: Array.from({ length: 11 }, (_, i) => `base:${i + 1}`) }), IPE],
  ['CreateService', () => ({}), IPE, /serviceName/],
  ['CreateService', () => ({ cluster: C, serviceName: 's2', taskDefinition: 'base', desiredCount: '1' }), SER],
  ['CreateService', () => ({ cluster: 'nope', serviceName: 's2', taskDefinition: 'base', desiredCount: 1 }), CNF],
  ['CreateService', () => ({ cluster: C, serviceName: long(256), taskDefinition: 'base', desiredCount: 1 }), IPE, /255/],
  ['CreateService', () => ({ cluster: C, serviceName: 's2', taskDefinition: 'base', launchType: 'BOGUS' }), IPE],
  ['CreateService', () => ({ cluster: C, serviceName: 's2', taskDefinition: 'base', schedulingStrategy: 'SOMETIMES' }), IPE],
  ['CreateService', () => ({ cluster: C, serviceName: 's2', taskDefinition: 'nope', desiredCount: 1 }), IPE, /TaskDefinition not found/],
  ['CreateService', () => ({ cluster: C, serviceName: 's2', taskDefinition: 'base', desiredCount: 1, loadBalancers: [{ targetGroupArn: 'arn:aws:s3:::bucket', containerName: 'app', containerPort: 80 }] }), IPE, /Target group ARN/],
  ['CreateService', () => ({ cluster: C, serviceName: 's2', taskDefinition: 'base', desiredCount: 1, loadBalancers: [{ targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/0123456789abcdef', containerName: 'web', containerPort: 80 }] }), IPE, /container web does not exist/],
  ['CreateService', () => ({ cluster: C, serviceName: 'svc', taskDefinition: 'base', desiredCount: 1 }), IPE, /not idempotent/],
  ['CreateService', () => ({ cluster: C, serviceName: 's2', taskDefinition: 'base', desiredCount: -1 }), IPE],
  ['CreateService', () => ({ cluster: C, serviceName: 's2', taskDefinition: 'base' }), IPE, /desiredCount must be specified/],
  ['CreateService', () => ({ cluster: C, serviceName: 's2', taskDefinition: 'base', desiredCount: 1, deploymentConfiguration: { maximumPercent: 50 } }), IPE, /maximumPercent/],
  ['CreateService', () => ({ cluster: C, serviceName: 's2', taskDefinition: 'base', desiredCount: 1, launchType: 'EC2', capacityProviderStrategy: [{ capacityProvider: 'x' }] }), IPE, /both/],
  ['UpdateService', () => ({}), IPE],
  ['UpdateService', () => ({ cluster: C, service: 'nope' }), 'ServiceNotFoundException'],
  ['UpdateService', () => ({ cluster: 'nope', service: 'svc' }), CNF],
  ['UpdateService', () => ({ cluster: C, service: 'svc', desiredCount: 'x' }), SER],
  ['UpdateService', () => ({ cluster: C, service: 'svc', taskDefinition: 'nope' }), IPE],
  ['UpdateService', () => ({ cluster: C, service: 'svc', deploymentConfiguration: { minimumHealthyPercent: 150 } }), IPE, /minimumHealthyPercent/],
  ['DeleteService', () => ({}), IPE],
  ['DeleteService', () => ({ cluster: C, service: 'nope' }), 'ServiceNotFoundException'],
  ['DeleteService', () => ({ cluster: C, service: 'svc' }), IPE, /scaled above 0/],
  ['DeleteService', () => ({ cluster: C, service: 'svc', force: 'yes' }), SER],
  ['DescribeServices', () => ({}), IPE],
  ['DescribeServices', () => ({ cluster: C, services: [] }), IPE],
  ['DescribeServices', () => ({ cluster: C, services: 'svc' }), SER],
  ['DescribeServices', () => ({ cluster: 'nope', services: ['svc'] }), CNF],
  ['DescribeServices', () => ({ cluster: C, services: Array.from({ length: 11 }, (_, i) => `s${i}`) }), IPE],
  ['ListServices', () => ({ cluster: C, launchType: 'X' }), IPE],
  ['ListServices', () => ({ cluster: C, maxResults: 101 }), IPE],
  ['ListServices', () => ({ cluster: 'nope' }), CNF],
  ['ListServices', () => ({ cluster: C, nextToken: 'garbage' }), IPE],
  ['RunTask', () => ({}), IPE],
  ['RunTask', () => ({ cluster: C, taskDefinition: 'nope' }), IPE, /TaskDefinition not found/],
  ['RunTask', () => ({ cluster: 'nope', taskDefinition: 'base' }), CNF],
  ['RunTask', () => ({ cluster: C, taskDefinition: 'base', count: 11 }), IPE],
  ['RunTask', () => ({ cluster: C, taskDefinition: 'base', count: 'x' }), SER],
  ['RunTask', () => ({ cluster: C, taskDefinition: 'base', launchType: 'X' }), IPE],
  ['RunTask', () => ({ cluster: C, taskDefinition: 'base', placementStrategy: [{ type: 'binpack', field: 'disk' }] }), IPE, /binpack/],
  ['RunTask', () => ({ cluster: C, taskDefinition: 'base', placementConstraints: [{ type: 'memberOf', expression: 'attribute:x ==' }] }), IPE, /expression/],
  ['RunTask', () => ({ cluster: C, taskDefinition: 'base', overrides: { containerOverrides: [{ name: 'ghost', command: ['x'] }] } }), IPE, /ghost/],
  ['RunTask', () => ({ cluster: C, taskDefinition: 'base', startedBy: long(129) }), IPE, /128/],
  ['RunTask', () => ({ cluster: C, taskDefinition: 'base', group: 'has space' }), IPE],
  ['RunTask', () => ({ cluster: C, taskDefinition: 'vpc' }), IPE, /Network Configuration must be provided/],
  ['CreateService', () => ({ cluster: C, serviceName: 's2', taskDefinition: 'vpc', desiredCount: 1 }), IPE, /Network Configuration must be provided/],
  ['StartTask', () => ({}), IPE],
  ['StartTask', () => ({ cluster: C, taskDefinition: 'base', containerInstances: [] }), IPE],
  ['StartTask', () => ({ cluster: 'nope', taskDefinition: 'base', containerInstances: [ciArn] }), CNF],
  ['StartTask', () => ({ cluster: C, taskDefinition: 'nope', containerInstances: [ciArn] }), IPE],
  ['StopTask', () => ({}), IPE],
  ['StopTask', () => ({ cluster: C, task: 'nope' }), IPE, /task was not found/],
  ['StopTask', () => ({ cluster: 'nope', task: taskArn }), CNF],
  ['StopTask', () => ({ cluster: C, task: taskArn, reason: long(256) }), IPE, /255/],
  ['DescribeTasks', () => ({}), IPE],
  ['DescribeTasks', () => ({ cluster: C, tasks: [] }), IPE],
  ['DescribeTasks', () => ({ cluster: C, tasks: Array.from({ length: 101 }, () => taskArn) }), IPE],
  ['DescribeTasks', () => ({ cluster: 'nope', tasks: [taskArn] }), CNF],
  ['DescribeTasks', () => ({ cluster: C, tasks: [taskArn], include: ['X'] }), IPE],
  ['ListTasks', () => ({ cluster: C, desiredStatus: 'X' }), IPE],
  ['ListTasks', () => ({ cluster: C, containerInstance: 'deadbeefdeadbeefdeadbeefdeadbeef' }), IPE],
  ['ListTasks', () => ({ cluster: C, serviceName: 'svc', family: 'base' }), IPE],
  ['ListTasks', () => ({ cluster: C, maxResults: 0 }), IPE],
  ['ListTasks', () => ({ cluster: 'nope' }), CNF],
  ['SubmitTaskStateChange', () => ({ cluster: C }), IPE, /task/],
  ['SubmitTaskStateChange', () => ({ cluster: C, task: 'nope', status: 'RUNNING' }), IPE],
  ['SubmitTaskStateChange', () => ({ cluster: C, task: taskArn, status: 'FLYING' }), IPE, /status/],
  ['SubmitTaskStateChange', () => ({ cluster: C, task: taskArn, status: 'RUNNING', containers: [{ containerName: 'ghost', status: 'RUNNING' }] }), IPE, /ghost/],
  ['SubmitTaskStateChange', () => ({ cluster: 'nope', task: taskArn, status: 'RUNNING' }), CNF],
  ['SubmitTaskStateChange', () => ({ cluster: C, task: taskArn, pullStartedAt: 'yesterday' }), SER],
  ['SubmitContainerStateChange', () => ({ cluster: C, task: taskArn }), IPE],
  ['SubmitContainerStateChange', () => ({ cluster: C, task: taskArn, containerName: 'app', status: 'X' }), IPE],
  ['SubmitContainerStateChange', () => ({ cluster: C, task: 'nope', containerName: 'app', status: 'RUNNING' }), IPE],
  ['RegisterContainerInstance', () => ({ cluster: 'nope' }), CNF],
  ['RegisterContainerInstance', () => ({ cluster: C, instanceIdentityDocument: 'not json' }), 'ClientException'],
  ['RegisterContainerInstance', () => ({ cluster: C, totalResources: [{ name: 'DISK', type: 'INTEGER', integerValue: 1 }] }), IPE, /DISK/],
  ['RegisterContainerInstance', () => ({ cluster: C, totalResources: 'x' }), SER],
  ['RegisterContainerInstance', () => ({ cluster: C, attributes: [{ name: 'bad name!' }] }), IPE],
  ['RegisterContainerInstance', () => ({ cluster: C, containerInstanceArn: 'deadbeefdeadbeefdeadbeefdeadbeef' }), IPE],
  ['DeregisterContainerInstance', () => ({}), IPE],
  ['DeregisterContainerInstance', () => ({ cluster: C, containerInstance: 'deadbeefdeadbeefdeadbeefdeadbeef' }), IPE],
  ['DeregisterContainerInstance', () => ({ cluster: 'nope', containerInstance: ciArn }), CNF],
  ['DeregisterContainerInstance', () => ({ cluster: C, containerInstance: ciArn }), IPE, /force/],
  ['DescribeContainerInstances', () => ({}), IPE],
  ['DescribeContainerInstances', () => ({ cluster: C, containerInstances: [] }), IPE],
  ['DescribeContainerInstances', () => ({ cluster: 'nope', containerInstances: [ciArn] }), CNF],
  ['DescribeContainerInstances', () => ({ cluster: C, containerInstances: [ciArn], include: ['X'] }), IPE],
  ['ListContainerInstances', () => ({ cluster: C, filter: 'attribute:a == (' }), IPE, /Invalid filter/],
  ['ListContainerInstances', () => ({ cluster: C, status: 'X' }), IPE],
  ['ListContainerInstances', () => ({ cluster: C, maxResults: 0 }), IPE],
  ['ListContainerInstances', () => ({ cluster: 'nope' }), CNF],
  ['UpdateContainerInstancesState', () => ({}), IPE],
  ['UpdateContainerInstancesState', () => ({ cluster: C, containerInstances: [ciArn], status: 'REGISTERING' }), IPE, /ACTIVE or DRAINING/],
  ['UpdateContainerInstancesState', () => ({ cluster: C, containerInstances: [ciArn], status: 'X' }), IPE],
  ['UpdateContainerInstancesState', () => ({ cluster: 'nope', containerInstances: [ciArn], status: 'DRAINING' }), CNF],
  ['PutAttributes', () => ({}), IPE],
  ['PutAttributes', () => ({ cluster: C, attributes: [{ name: 'a', value: 'b' }] }), IPE, /targetId/],
  ['PutAttributes', () => ({ cluster: C, attributes: [{ name: 'a', value: 'b', targetId: ciArn }, { name: 'a', value: 'b', targetId: 'deadbeefdeadbeefdeadbeefdeadbeef' }] }), 'TargetNotFoundException'],
  ['PutAttributes', () => ({ cluster: 'nope', attributes: [{ name: 'a', value: 'b', targetId: ciArn }] }), CNF],
  ['PutAttributes', () => ({ cluster: C, attributes: [{ name: long(129), value: 'b', targetId: ciArn }] }), IPE],
  ['PutAttributes', () => ({ cluster: C, attributes: [{ name: 'a', value: 'b', targetId: ciArn, targetType: 'task' }] }), IPE],
  ['DeleteAttributes', () => ({}), IPE],
  ['DeleteAttributes', () => ({ cluster: C, attributes: [{ name: 'a', targetId: 'deadbeefdeadbeefdeadbeefdeadbeef' }] }), 'TargetNotFoundException'],
  ['DeleteAttributes', () => ({ cluster: 'nope', attributes: [{ name: 'a', targetId: ciArn }] }), CNF],
  ['ListAttributes', () => ({ cluster: C }), IPE, /targetType/],
  ['ListAttributes', () => ({ cluster: C, targetType: 'task' }), IPE],
  ['ListAttributes', () => ({ cluster: C, targetType: 'container-instance', attributeValue: 'v' }), IPE],
  ['ListAttributes', () => ({ cluster: 'nope', targetType: 'container-instance' }), CNF],
  ['TagResource', () => ({}), IPE],
  ['TagResource', () => ({ resourceArn: 'not-an-arn', tags: [{ key: 'a', value: 'b' }] }), IPE],
  ['TagResource', () => ({ resourceArn: svcArn.replace('/svc', '/ghost'), tags: [{ key: 'a', value: 'b' }] }), 'ResourceNotFoundException'],
  ['TagResource', () => ({ resourceArn: taskArn, tags: [{ key: 'ok', value: 'b' }, { key: 'aws:x', value: 'y' }] }), IPE, /reserved/],
  ['TagResource', () => ({ resourceArn: ciArn, tags: [{ key: long(129), value: 'b' }] }), IPE],
  ['TagResource', () => ({ resourceArn: tdArn, tags: 'x' }), SER],
  ['UntagResource', () => ({}), IPE],
  ['UntagResource', () => ({ resourceArn: tdArn.replace(':1', ':99'), tagKeys: ['a'] }), 'ResourceNotFoundException'],
  ['ListTagsForResource', () => ({}), IPE],
  ['ListTagsForResource', () => ({ resourceArn: ciArn.replace(/[0-9a-f]{32}$/, 'deadbeefdeadbeefdeadbeefdeadbeef') }), 'ResourceNotFoundException'],
  ['PutAccountSetting', () => ({}), IPE],
  ['PutAccountSetting', () => ({ name: 'X', value: 'enabled' }), IPE],
  ['PutAccountSetting', () => ({ name: 'serviceLongArnFormat', value: 'maybe' }), IPE],
  ['PutAccountSetting', () => ({ name: 'serviceLongArnFormat', value: 'enabled', principalArn: 'bob' }), IPE],
  ['PutAccountSettingDefault', () => ({}), IPE],
  ['PutAccountSettingDefault', () => ({ name: 'awsvpcTrunking', value: 'sure' }), IPE],
  ['ListAccountSettings', () => ({ maxResults: 11 }), IPE],
  ['ListAccountSettings', () => ({ name: 'X' }), IPE],
  ['DeleteAccountSetting', () => ({}), IPE],
];

test('every operation answers bad input with the AWS error code, a 4xx and a message, and leaves no partial state', async () => {
  const before = await snapshot();
  const covered = new Set<string>();
  for (const [op, body, code, message] of CASES) {
    const r = await call(op, body());
    const what = `${op} ${JSON.stringify(body()).slice(0, 160)}`;
    assert.equal(r.type, code, `${what}: ${r.message}`);
    assert.ok(r.status >= 400 && r.status < 500, `${what}: status ${r.status}`);
    assert.ok(r.message.length > 10, `${what}: a message a person can act on`);
    if (message) assert.match(r.message, message, what);
    covered.add(op);
  }
  const after = await snapshot();
  assert.deepEqual(after, before);
  assert.ok(covered.size >= 33, `operations covered: ${covered.size}`);
});
