// ECS validation edges through @aws-sdk/client-ecs and the aws CLI: task definitions that
// require FARGATE are checked as ECS checks them (awsvpc only, no host PID or IPC namespace,
// Fargate's cpu/memory sizes, no links), EFS volumes get their default root directory and
// ECS's rules, a launch type must be one the task definition supports, unknown services are
// MISSING as ECS writes them, and DiscoverPollEndpoint answers this endpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DiscoverPollEndpointCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  UpdateServiceCommand,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { aws, awsOk, errorOf, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';

let berth: TestBerth;
let ecs: ECSClient;
const C = 'edges';

before(async () => {
  berth = await startTestBerth();
  berth.controller.configure({ enabled: false });
  ecs = new ECSClient(berth.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: C }));
});
after(async () => {
  ecs.destroy();
  await berth.close();
});

const fargate = (extra: Partial<RegisterTaskDefinitionCommandInput>): RegisterTaskDefinitionCommandInput => ({
  family: 'fg',
  networkMode: 'awsvpc',
  requiresCompatibilities: ['FARGATE'],
  cpu: '256',
  memory: '512',
  containerDefinitions: [{ name: 'app', image: 'x' }],
  ...extra,
});

test('FARGATE task definitions are checked as ECS checks them, in its words', async () => {
  const cases: Array<[string, RegisterTaskDefinitionCommandInput, string]> = [
    ['bridge', fargate({ networkMode: 'bridge' }), 'Fargate only supports network mode \u2018awsvpc\u2019.'],
    ['host networking', fargate({ networkMode: 'host' }), 'Fargate only supports network mode \u2018awsvpc\u2019.'],
    ['no network mode (bridge)', fargate({ networkMode: undefined }), 'Fargate only supports network mode \u2018awsvpc\u2019.'],
    ['pidMode host', fargate({ pidMode: 'host' }), "Tasks using the Fargate launch type do not support pidMode 'host'. The supported value for pidMode is 'task'."],
    ['ipcMode', fargate({ ipcMode: 'task' }), 'Tasks using the Fargate launch type do not support ipcMode.'],
    ['no memory', fargate({ memory: undefined }), "Fargate requires that 'memory' be defined at the task level."],
    ['256 CPU, 4096 MiB', fargate({ memory: '4096' }), 'No Fargate configuration exists for given values: 256 CPU, 4096 memory. See the Amazon ECS documentation for the valid values.'],
    ['1024 CPU, 1024 MiB', fargate({ cpu: '1024', memory: '1024' }), 'No Fargate configuration exists for given values: 1024 CPU, 1024 memory. See the Amazon ECS documentation for the valid values.'],
    ['8 vCPU, 18 GB (4 GB steps)', fargate({ cpu: '8 vCPU', memory: '18 GB' }), 'No Fargate configuration exists for given values: 8192 CPU, 18432 memory. See the Amazon ECS documentation for the valid values.'],
    [
      'links',
      fargate({ containerDefinitions: [{ name: 'app', image: 'x', links: ['db'] }, { name: 'db', image: 'y' }] }),
      'Links are not supported when networkMode=awsvpc.',
    ],
    ['hostname', fargate({ containerDefinitions: [{ name: 'app', image: 'x', hostname: 'web' }] }), 'hostname is not supported on container when networkMode=awsvpc.'],
  ];
  for (const [what, input, message] of cases) {
    const e = await errorOf(ecs.send(new RegisterTaskDefinitionCommand(input)));
    assert.deepEqual([e.name, e.status, e.message], ['ClientException', 400, message], what);
  }
  // Valid sizes register, from the smallest to a 4 GB step of 8 vCPU.
  for (const [cpu, memory] of [['256', '2048'], ['512', '1 GB'], ['4096', '30720'], ['8192', '20480'], ['16384', '122880']] as const) {
    const td = (await ecs.send(new RegisterTaskDefinitionCommand(fargate({ cpu, memory })))).taskDefinition!;
    assert.ok(td.compatibilities!.includes('FARGATE'), `${cpu}/${memory}`);
  }
  // Without requiresCompatibilities, pidMode host is allowed but the task definition is not Fargate-compatible.
  const host = (await ecs.send(new RegisterTaskDefinitionCommand({ family: 'pid-host', networkMode: 'awsvpc', cpu: '256', memory: '512', pidMode: 'host', containerDefinitions: [{ name: 'app', image: 'x' }] }))).taskDefinition!;
  assert.deepEqual(host.compatibilities, ['EC2']);
});

test('EFS volumes: rootDirectory defaults to "/", and ECS rules for access points and encryption', async () => {
  const container = [{ name: 'app', image: 'x', memory: 64, mountPoints: [{ sourceVolume: 'data', containerPath: '/data' }] }];
  const td = (await ecs.send(new RegisterTaskDefinitionCommand({ family: 'efs', containerDefinitions: container, volumes: [{ name: 'data', efsVolumeConfiguration: { fileSystemId: 'fs-1234' } }] }))).taskDefinition!;
  assert.deepEqual(td.volumes, [{ name: 'data', efsVolumeConfiguration: { fileSystemId: 'fs-1234', rootDirectory: '/' } }]);
  const described = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: td.taskDefinitionArn }))).taskDefinition!;
  assert.equal(described.volumes![0]!.efsVolumeConfiguration!.rootDirectory, '/');
  const kept = (await ecs.send(new RegisterTaskDefinitionCommand({ family: 'efs', containerDefinitions: container, volumes: [{ name: 'data', efsVolumeConfiguration: { fileSystemId: 'fs-1234', rootDirectory: '/exports/app' } }] }))).taskDefinition!;
  assert.equal(kept.volumes![0]!.efsVolumeConfiguration!.rootDirectory, '/exports/app');
  const bad: Array<[object, RegExp]> = [
    [{ fileSystemId: 'fs-1', rootDirectory: '/sub', transitEncryption: 'ENABLED', authorizationConfig: { accessPointId: 'fsap-1' } }, /root directory must either be omitted or set to '\/'/],
    [{ fileSystemId: 'fs-1', authorizationConfig: { accessPointId: 'fsap-1' } }, /Transit encryption must be enabled when an access point/],
    [{ fileSystemId: 'fs-1', authorizationConfig: { iam: 'ENABLED' } }, /Transit encryption must be enabled when IAM authorization/],
    [{ fileSystemId: 'fs-1', transitEncryptionPort: 2049 }, /transit encryption port can only be set when transit encryption is enabled/],
  ];
  for (const [efs, message] of bad) {
    const e = await errorOf(ecs.send(new RegisterTaskDefinitionCommand({ family: 'efs-bad', containerDefinitions: container, volumes: [{ name: 'data', efsVolumeConfiguration: efs as never }] })));
    assert.equal(e.name, 'ClientException');
    assert.match(e.message, message);
  }
  // An access point with the root directory omitted is fine, and gets '/'.
  const ap = (
    await ecs.send(
      new RegisterTaskDefinitionCommand({ family: 'efs', containerDefinitions: container, volumes: [{ name: 'data', efsVolumeConfiguration: { fileSystemId: 'fs-1', transitEncryption: 'ENABLED', authorizationConfig: { accessPointId: 'fsap-1', iam: 'ENABLED' } } }] }),
    )
  ).taskDefinition!;
  assert.equal(ap.volumes![0]!.efsVolumeConfiguration!.rootDirectory, '/');
});

test('a launch type must be one the task definition supports', async () => {
  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'ec2-only', containerDefinitions: [{ name: 'app', image: 'x', memory: 64 }] }));
  await ecs.send(new RegisterTaskDefinitionCommand(fargate({ family: 'both' })));
  const run = await errorOf(ecs.send(new RunTaskCommand({ cluster: C, taskDefinition: 'ec2-only', launchType: 'FARGATE' })));
  assert.deepEqual([run.name, run.message], ['InvalidParameterException', 'Task definition does not support launch_type FARGATE.']);
  const awsvpcExternal = await errorOf(ecs.send(new RunTaskCommand({ cluster: C, taskDefinition: 'both', launchType: 'EXTERNAL', networkConfiguration: { awsvpcConfiguration: { subnets: ['s'] } } })));
  assert.deepEqual([awsvpcExternal.name, awsvpcExternal.message], ['InvalidParameterException', 'Task definition does not support launch_type EXTERNAL.']);
  const service = await errorOf(ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'svc', taskDefinition: 'ec2-only', desiredCount: 0, launchType: 'FARGATE' })));
  assert.deepEqual([service.name, service.message], ['InvalidParameterException', 'Task definition does not support launch_type FARGATE.']);
  const bogus = await errorOf(ecs.send(new RunTaskCommand({ cluster: C, taskDefinition: 'ec2-only', launchType: 'SPOT' as never })));
  assert.equal(bogus.name, 'InvalidParameterException');
  assert.equal(bogus.message, "1 validation error detected: Value 'SPOT' at 'launchType' failed to satisfy constraint: Member must satisfy enum value set: [EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES]");
  // A Fargate service moved to a revision that is not Fargate-compatible is refused.
  await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'fg-svc', taskDefinition: 'both', desiredCount: 0, launchType: 'FARGATE', networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'] } } }));
  const moved = await errorOf(ecs.send(new UpdateServiceCommand({ cluster: C, service: 'fg-svc', taskDefinition: 'ec2-only' })));
  assert.deepEqual([moved.name, moved.message], ['InvalidParameterException', 'Task definition does not support launch_type FARGATE.']);
});

test('DescribeServices: unknown services are MISSING, as ECS writes them', async () => {
  const acct = berth.platform.accountId;
  const arn = `arn:aws:ecs:us-east-1:${acct}:service/${C}/also-missing`;
  const out = await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['not-here', arn] }));
  assert.deepEqual(out.services, []);
  assert.deepEqual(out.failures, [
    { arn: `arn:aws:ecs:us-east-1:${acct}:service/not-here`, reason: 'MISSING' },
    { arn, reason: 'MISSING' },
  ]);
});

test('DiscoverPollEndpoint answers the endpoint the request reached', async () => {
  const out = await ecs.send(new DiscoverPollEndpointCommand({ cluster: C, containerInstance: 'whatever' }));
  assert.equal(out.endpoint, berth.url);
  assert.equal(out.telemetryEndpoint, berth.url);
  assert.equal(out.serviceConnectEndpoint, berth.url);
  // Through another name for this host, that name.
  const viaLocalhost = new ECSClient({ ...berth.clientConfig, endpoint: berth.url.replace('127.0.0.1', 'localhost') });
  try {
    assert.equal((await viaLocalhost.send(new DiscoverPollEndpointCommand({}))).endpoint, berth.url.replace('127.0.0.1', 'localhost'));
  } finally {
    viaLocalhost.destroy();
  }
});

test('aws CLI: discover-poll-endpoint and a refused Fargate task definition', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const out = await awsOk(berth.awsEnv, ['ecs', 'discover-poll-endpoint', '--cluster', C]);
  assert.equal(out.endpoint, berth.url);
  const r = await aws(berth.awsEnv, [
    'ecs', 'register-task-definition', '--family', 'cli-fg', '--requires-compatibilities', 'FARGATE', '--network-mode', 'host', '--cpu', '256', '--memory', '512',
    '--container-definitions', JSON.stringify([{ name: 'app', image: 'x' }]),
  ]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /\(ClientException\) when calling the RegisterTaskDefinition operation.*: Fargate only supports network mode \u2018awsvpc\u2019\./);
});
