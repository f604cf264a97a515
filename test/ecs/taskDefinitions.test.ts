// Task definitions through the real SDK: AWS documentation's RegisterTaskDefinition examples
// round-trip through DescribeTaskDefinition with the fields ECS adds; revisions, listing,
// deregistration and deletion behave as on ECS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ECSClient,
  RegisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  ListTaskDefinitionsCommand,
  ListTaskDefinitionFamiliesCommand,
  DeregisterTaskDefinitionCommand,
  DeleteTaskDefinitionsCommand,
  CreateClusterCommand,
  RegisterContainerInstanceCommand,
  RunTaskCommand,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { startTestBerth, type TestBerth } from '../helpers/fixture.js';

let berth: TestBerth;
let ecs: ECSClient;

before(async () => {
  berth = await startTestBerth();
  ecs = new ECSClient(berth.clientConfig);
});
after(async () => {
  ecs.destroy();
  await berth.close();
});

// The examples of the RegisterTaskDefinition API reference, the CLI reference and the
// developer guide's task definition examples (EC2 bridge with links, Fargate awsvpc web
// server, volumes with mount points, health check + dependsOn + logging + secrets).
const DOC_EXAMPLES: RegisterTaskDefinitionCommandInput[] = [
  {
    family: 'sleep360',
    containerDefinitions: [{ name: 'sleep', image: 'busybox', cpu: 10, command: ['sleep', '360'], memory: 10, essential: true }],
  },
  {
    family: 'hello_world',
    containerDefinitions: [
      { name: 'wordpress', links: ['mysql'], image: 'wordpress', essential: true, portMappings: [{ containerPort: 80, hostPort: 80 }], memory: 500, cpu: 10 },
      { environment: [{ name: 'MYSQL_ROOT_PASSWORD', value: 'password' }], name: 'mysql', image: 'mysql', cpu: 10, memory: 500, essential: true },
    ],
  },
  {
    family: 'sample-fargate',
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: '256',
    memory: '512',
    containerDefinitions: [
      {
        name: 'fargate-app',
        image: 'public.ecr.aws/docker/library/httpd:latest',
        portMappings: [{ containerPort: 80, hostPort: 80, protocol: 'tcp' }],
        essential: true,
        entryPoint: ['sh', '-c'],
        command: ["/bin/sh -c \"echo '<html><body><h1>Amazon ECS Sample App</h1></body></html>' > /usr/local/apache2/htdocs/index.html && httpd-foreground\""],
      },
    ],
  },
  {
    family: 'web-with-volume',
    volumes: [{ name: 'webdata', host: { sourcePath: '/ecs/webdata' } }],
    containerDefinitions: [
      {
        name: 'web',
        image: 'nginx',
        cpu: 99,
        memory: 100,
        portMappings: [{ containerPort: 80, hostPort: 80 }],
        essential: true,
        mountPoints: [{ sourceVolume: 'webdata', containerPath: '/usr/share/nginx/html', readOnly: true }],
      },
    ],
  },
  {
    family: 'web-app-full',
    networkMode: 'awsvpc',
    taskRoleArn: 'arn:aws:iam::123456789012:role/appRole',
    executionRoleArn: 'arn:aws:iam::123456789012:role/ecsTaskExecutionRole',
    cpu: '1 vCPU',
    memory: '2 GB',
    containerDefinitions: [
      {
        name: 'app',
        image: 'my-registry/app:1.2',
        memoryReservation: 512,
        portMappings: [{ containerPort: 8080, name: 'http', appProtocol: 'http' }],
        environment: [{ name: 'NODE_ENV', value: 'production' }],
        environmentFiles: [{ value: 'arn:aws:s3:::bucket/app.env', type: 's3' }],
        secrets: [{ name: 'DB_PASSWORD', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/db-password' }],
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/app', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'app' } },
        healthCheck: { command: ['CMD-SHELL', 'curl -f http://localhost:8080/health || exit 1'], startPeriod: 10 },
        dependsOn: [{ containerName: 'envoy', condition: 'HEALTHY' }],
        ulimits: [{ name: 'nofile', softLimit: 65536, hardLimit: 65536 }],
        stopTimeout: 30,
        dockerLabels: { team: 'web' },
        user: '1000',
        readonlyRootFilesystem: true,
        workingDirectory: '/srv',
      },
      {
        name: 'envoy',
        image: 'envoyproxy/envoy:v1.29',
        essential: true,
        memory: 256,
        healthCheck: { command: ['CMD-SHELL', 'curl -s http://localhost:9901/ready'], interval: 5, timeout: 2, retries: 3 },
      },
    ],
    placementConstraints: [{ type: 'memberOf', expression: 'attribute:ecs.availability-zone in [us-east-1a, us-east-1b]' }],
    tags: [{ key: 'team', value: 'web' }],
  },
];

test('AWS documentation examples round-trip through DescribeTaskDefinition with the fields ECS adds', async () => {
  for (const ex of DOC_EXAMPLES) {
    const before = Date.now();
    const reg = await ecs.send(new RegisterTaskDefinitionCommand(ex));
    const td = reg.taskDefinition!;
    assert.equal(td.family, ex.family);
    assert.equal(td.revision, 1);
    assert.equal(td.status, 'ACTIVE');
    assert.equal(td.taskDefinitionArn, `arn:aws:ecs:us-east-1:${berth.platform.accountId}:task-definition/${ex.family}:1`);
    assert.ok(td.registeredAt instanceof Date && td.registeredAt.getTime() >= before - 1000);
    assert.match(td.registeredBy!, /^arn:aws:iam::\d{12}:root$/);
    assert.ok(td.compatibilities!.includes('EC2'));
    assert.equal(td.networkMode, ex.networkMode ?? 'bridge');

    for (const ref of [ex.family!, `${ex.family}:1`, td.taskDefinitionArn!]) {
      const d = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: ref, include: ['TAGS'] }));
      assert.deepEqual(d.taskDefinition, td, `describe ${ref} equals what register returned`);
      assert.deepEqual(d.tags ?? [], ex.tags ?? []);
    }
    // What was registered comes back (plus defaults), container by container.
    for (const [i, c] of ex.containerDefinitions!.entries()) {
      const got = td.containerDefinitions![i]!;
      for (const [k, v] of Object.entries(c)) {
        if (k === 'portMappings' || k === 'healthCheck') continue;
        assert.deepEqual((got as Record<string, unknown>)[k], v, `${ex.family}/${c.name}.${k}`);
      }
      assert.equal(got.essential, c.essential ?? true, 'essential defaults to true');
      assert.deepEqual(got.environment, c.environment ?? []);
      assert.deepEqual(got.mountPoints, c.mountPoints ?? []);
      assert.deepEqual(got.volumesFrom, []);
      for (const [j, pm] of (c.portMappings ?? []).entries()) {
        const gp = got.portMappings![j]!;
        assert.equal(gp.containerPort, pm.containerPort);
        assert.equal(gp.protocol, pm.protocol ?? 'tcp', 'protocol defaults to tcp');
        if (ex.networkMode === 'awsvpc' || ex.networkMode === 'host') assert.equal(gp.hostPort, pm.containerPort, 'hostPort = containerPort in awsvpc/host');
        else assert.equal(gp.hostPort, pm.hostPort);
      }
      if (c.healthCheck) {
        assert.deepEqual(got.healthCheck!.command, c.healthCheck.command);
        assert.equal(got.healthCheck!.interval, c.healthCheck.interval ?? 30);
        assert.equal(got.healthCheck!.timeout, c.healthCheck.timeout ?? 5);
        assert.equal(got.healthCheck!.retries, c.healthCheck.retries ?? 3);
      }
    }
  }
  // Fields ECS derives.
  const fargate = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'sample-fargate' }))).taskDefinition!;
  assert.deepEqual(fargate.compatibilities, ['EC2', 'FARGATE']);
  assert.deepEqual(fargate.requiresCompatibilities, ['FARGATE']);
  assert.equal(fargate.cpu, '256');
  assert.equal(fargate.memory, '512');
  const bridge = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'sleep360' }))).taskDefinition!;
  assert.deepEqual(bridge.compatibilities, ['EXTERNAL', 'EC2']);
  assert.deepEqual(bridge.volumes, []);
  assert.equal(bridge.containerDefinitions![0]!.cpu, 10);
  const full = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web-app-full' }))).taskDefinition!;
  assert.equal(full.cpu, '1024', "'1 vCPU' is reported in CPU units");
  assert.equal(full.memory, '2048', "'2 GB' is reported in MiB");
  const attrs = full.requiresAttributes!.map((a) => a.name);
  for (const a of ['ecs.capability.task-eni', 'com.amazonaws.ecs.capability.task-iam-role', 'com.amazonaws.ecs.capability.logging-driver.awslogs', 'ecs.capability.execution-role-awslogs', 'ecs.capability.container-health-check', 'ecs.capability.container-ordering', 'ecs.capability.secrets.ssm.environment-variables']) {
    assert.ok(attrs.includes(a), `requiresAttributes has ${a}: ${attrs.join(',')}`);
  }
  assert.deepEqual(full.placementConstraints, DOC_EXAMPLES[4]!.placementConstraints);
});

test('revisions are numbered per family, immutable, and DescribeTaskDefinition by family picks the latest ACTIVE', async () => {
  const mk = (image: string) => ecs.send(new RegisterTaskDefinitionCommand({ family: 'rev-fam', containerDefinitions: [{ name: 'c', image, memory: 64 }] }));
  const r1 = (await mk('img:1')).taskDefinition!;
  const r2 = (await mk('img:2')).taskDefinition!;
  const r3 = (await mk('img:3')).taskDefinition!;
  assert.deepEqual([r1.revision, r2.revision, r3.revision], [1, 2, 3]);
  // Another family counts from 1.
  const other = (await ecs.send(new RegisterTaskDefinitionCommand({ family: 'rev-other', containerDefinitions: [{ name: 'c', image: 'x', memory: 64 }] }))).taskDefinition!;
  assert.equal(other.revision, 1);

  const dereg = await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'rev-fam:3' }));
  assert.equal(dereg.taskDefinition!.status, 'INACTIVE');
  assert.ok(dereg.taskDefinition!.deregisteredAt instanceof Date);
  // Still describable by revision; the family now resolves to revision 2.
  assert.equal((await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'rev-fam:3' }))).taskDefinition!.status, 'INACTIVE');
  assert.equal((await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'rev-fam' }))).taskDefinition!.revision, 2);
  // Image of revision 1 never changed.
  assert.equal((await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'rev-fam:1' }))).taskDefinition!.containerDefinitions![0]!.image, 'img:1');
  // A new registration continues numbering.
  assert.equal((await mk('img:4')).taskDefinition!.revision, 4);

  // ListTaskDefinitions: familyPrefix, status, sort, pagination.
  const asc = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'rev-fam' }));
  assert.deepEqual(asc.taskDefinitionArns!.map((a) => a.split('/')[1]), ['rev-fam:1', 'rev-fam:2', 'rev-fam:4']);
  const inactive = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'rev-fam', status: 'INACTIVE' }));
  assert.deepEqual(inactive.taskDefinitionArns!.map((a) => a.split('/')[1]), ['rev-fam:3']);
  const pagesDesc: string[] = [];
  let token: string | undefined;
  do {
    const p = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'rev-fam', sort: 'DESC', maxResults: 2, nextToken: token }));
    assert.ok(p.taskDefinitionArns!.length <= 2);
    pagesDesc.push(...p.taskDefinitionArns!.map((a) => a.split('/')[1]!));
    token = p.nextToken;
    if (token) await mk('img:during-pagination'); // concurrent writes must not disturb the walk
  } while (token);
  // Keys are walked downwards from the token, so revisions registered mid-walk (above it) are
  // not interleaved and nothing repeats.
  assert.deepEqual(pagesDesc, ['rev-fam:4', 'rev-fam:2', 'rev-fam:1']);
  // familyPrefix names a whole family: 'rev-' matches none, unlike ListTaskDefinitionFamilies.
  assert.deepEqual((await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'rev-' }))).taskDefinitionArns, []);

  const fams = await ecs.send(new ListTaskDefinitionFamiliesCommand({ familyPrefix: 'rev-', maxResults: 1 }));
  assert.deepEqual(fams.families, ['rev-fam']);
  const fams2 = await ecs.send(new ListTaskDefinitionFamiliesCommand({ familyPrefix: 'rev-', maxResults: 1, nextToken: fams.nextToken }));
  assert.deepEqual(fams2.families, ['rev-other']);
  assert.equal(fams2.nextToken, undefined);

  // DeleteTaskDefinitions: only INACTIVE revisions; ACTIVE ones are failures.
  const del = await ecs.send(new DeleteTaskDefinitionsCommand({ taskDefinitions: ['rev-fam:3', 'rev-fam:1', 'rev-fam:99'] }));
  assert.deepEqual(del.taskDefinitions!.map((t) => [t.revision, t.status]), [[3, 'DELETE_IN_PROGRESS']]);
  assert.equal(del.failures!.length, 2);
  assert.match(del.failures![0]!.reason!, /ACTIVE/);
  assert.match(del.failures![1]!.reason!, /does not exist/);
  const dip = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'rev-fam', status: 'DELETE_IN_PROGRESS' }));
  assert.deepEqual(dip.taskDefinitionArns!.map((a) => a.split('/')[1]), ['rev-fam:3']);
});

test('validation errors are ClientExceptions that name the problem and register nothing', async () => {
  const cases: [string, RegisterTaskDefinitionCommandInput, RegExp][] = [
    ['duplicate names', { family: 'bad', containerDefinitions: [{ name: 'a', image: 'x', memory: 64 }, { name: 'a', image: 'y', memory: 64 }] }, /unique.*'a'/],
    ['dependsOn missing', { family: 'bad', containerDefinitions: [{ name: 'a', image: 'x', memory: 64, dependsOn: [{ containerName: 'db', condition: 'START' }] }] }, /dependsOn.*'db'/],
    ['links missing', { family: 'bad', containerDefinitions: [{ name: 'a', image: 'x', memory: 64, links: ['db:database'] }] }, /Link 'db:database'/],
    ['no memory', { family: 'bad', containerDefinitions: [{ name: 'a', image: 'x' }] }, /'memory' or 'memoryReservation'/],
    ['hostPort mismatch awsvpc', { family: 'bad', networkMode: 'awsvpc', containerDefinitions: [{ name: 'a', image: 'x', memory: 64, portMappings: [{ containerPort: 80, hostPort: 8080 }] }] }, /host ports and container ports/],
    ['hostPort mismatch host', { family: 'bad', networkMode: 'host', containerDefinitions: [{ name: 'a', image: 'x', memory: 64, portMappings: [{ containerPort: 80, hostPort: 81 }] }] }, /networkMode=host/],
    ['fargate without task cpu', { family: 'bad', networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'], containerDefinitions: [{ name: 'a', image: 'x', memory: 64 }] }, /'cpu' be defined at the task level/],
    ['fargate bridge', { family: 'bad', requiresCompatibilities: ['FARGATE'], cpu: '256', memory: '512', containerDefinitions: [{ name: 'a', image: 'x' }] }, /awsvpc/],
    ['no essential', { family: 'bad', containerDefinitions: [{ name: 'a', image: 'x', memory: 64, essential: false }] }, /essential/],
    ['bad family', { family: 'has space', containerDefinitions: [{ name: 'a', image: 'x', memory: 64 }] }, /Family/],
    ['long family', { family: 'f'.repeat(256), containerDefinitions: [{ name: 'a', image: 'x', memory: 64 }] }, /255/],
    ['missing image', { family: 'bad', containerDefinitions: [{ name: 'a', memory: 64 } as never] }, /image/],
    ['unknown volume', { family: 'bad', containerDefinitions: [{ name: 'a', image: 'x', memory: 64, mountPoints: [{ sourceVolume: 'nope', containerPath: '/d' }] }] }, /volume 'nope'/],
    ['relative containerPath', { family: 'bad', volumes: [{ name: 'v' }], containerDefinitions: [{ name: 'a', image: 'x', memory: 64, mountPoints: [{ sourceVolume: 'v', containerPath: 'data' }] }] }, /containerPath 'data' must be an absolute path/],
    ['path mounted twice', { family: 'bad', volumes: [{ name: 'v' }, { name: 'w' }], containerDefinitions: [{ name: 'a', image: 'x', memory: 64, mountPoints: [{ sourceVolume: 'v', containerPath: '/d' }, { sourceVolume: 'w', containerPath: '/d/' }] }] }, /'\/d\/' is mounted more than once/],
    ['relative sourcePath', { family: 'bad', volumes: [{ name: 'v', host: { sourcePath: 'srv/data' } }], containerDefinitions: [{ name: 'a', image: 'x', memory: 64 }] }, /volume 'v'.*host.sourcePath 'srv\/data' must be an absolute path/],
    ['two kinds', { family: 'bad', volumes: [{ name: 'v', host: { sourcePath: '/srv' }, dockerVolumeConfiguration: { scope: 'shared' } }], containerDefinitions: [{ name: 'a', image: 'x', memory: 64 }] }, /Only one of host, dockerVolumeConfiguration/],
    ['autoprovision with task scope', { family: 'bad', volumes: [{ name: 'v', dockerVolumeConfiguration: { scope: 'task', autoprovision: true } }], containerDefinitions: [{ name: 'a', image: 'x', memory: 64 }] }, /autoprovision can only be true when the scope is 'shared'/],
    ['duplicate volume', { family: 'bad', volumes: [{ name: 'v' }, { name: 'v' }], containerDefinitions: [{ name: 'a', image: 'x', memory: 64 }] }, /'v' is used twice/],
    ['bad volume name', { family: 'bad', volumes: [{ name: 'has space' }], containerDefinitions: [{ name: 'a', image: 'x', memory: 64 }] }, /Volume name 'has space'/],
    ['too many volumes', { family: 'bad', volumes: Array.from({ length: 51 }, (_, i) => ({ name: `v${i}` })), containerDefinitions: [{ name: 'a', image: 'x', memory: 64 }] }, /at most 50 volumes/],
    ['volumesFrom itself', { family: 'bad', containerDefinitions: [{ name: 'a', image: 'x', memory: 64, volumesFrom: [{ sourceContainer: 'a' }] }] }, /volumesFrom names container 'a'/],
    ['too many driverOpts', { family: 'bad', volumes: [{ name: 'v', dockerVolumeConfiguration: { driverOpts: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v'])) } }], containerDefinitions: [{ name: 'a', image: 'x', memory: 64 }] }, /driverOpts can have at most 100/],
    ['memoryReservation > memory', { family: 'bad', containerDefinitions: [{ name: 'a', image: 'x', memory: 64, memoryReservation: 128 }] }, /memoryReservation/],
  ];
  for (const [what, input, re] of cases) {
    await assert.rejects(ecs.send(new RegisterTaskDefinitionCommand(input)), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(e.name, 'ClientException', what);
      assert.equal(e.$metadata?.httpStatusCode, 400, what);
      assert.match(e.message, re, what);
      return true;
    });
  }
  const fams = await ecs.send(new ListTaskDefinitionFamiliesCommand({ familyPrefix: 'bad', status: 'ALL' }));
  assert.deepEqual(fams.families, []);
  await assert.rejects(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'bad' })), /Unable to describe task definition/);
});

test('volumes: docker volumes get scope task and driver local, shared ones autoprovision false; mounting containers require the mounts attribute, which instances without it lack (RunTask: ATTRIBUTE)', async () => {
  const td = (
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'vols',
        volumes: [{ name: 'scratch', dockerVolumeConfiguration: {} }, { name: 'db', dockerVolumeConfiguration: { scope: 'shared', labels: { app: 'x' } } }, { name: 'logs', host: { sourcePath: '/var/log/app' } }, { name: 'tmp' }],
        containerDefinitions: [
          { name: 'a', image: 'x', memory: 64, mountPoints: [{ sourceVolume: 'db', containerPath: '/var/lib/db' }, { sourceVolume: 'logs', containerPath: '/logs', readOnly: true }] },
          { name: 'b', image: 'x', memory: 64, volumesFrom: [{ sourceContainer: 'a', readOnly: true }] },
        ],
      }),
    )
  ).taskDefinition!;
  assert.deepEqual(td.volumes, [
    { name: 'scratch', dockerVolumeConfiguration: { scope: 'task', driver: 'local' } },
    { name: 'db', dockerVolumeConfiguration: { scope: 'shared', autoprovision: false, driver: 'local', labels: { app: 'x' } } },
    { name: 'logs', host: { sourcePath: '/var/log/app' } },
    { name: 'tmp' },
  ]);
  assert.deepEqual(td.containerDefinitions![0]!.mountPoints, [{ sourceVolume: 'db', containerPath: '/var/lib/db' }, { sourceVolume: 'logs', containerPath: '/logs', readOnly: true }]);
  assert.deepEqual(td.containerDefinitions![1]!.volumesFrom, [{ sourceContainer: 'a', readOnly: true }]);
  const attrs = td.requiresAttributes!.map((a) => a.name);
  assert.ok(attrs.includes('ecs.capability.berth.mounts') && attrs.includes('ecs.capability.docker-plugin.local'), attrs.join());
  // An instance registered through the API (no Berth agent on a driver that mounts) is not offered the task.
  await ecs.send(new CreateClusterCommand({ clusterName: 'vols' }));
  const ci = (await ecs.send(new RegisterContainerInstanceCommand({ cluster: 'vols', totalResources: [{ name: 'CPU', type: 'INTEGER', integerValue: 1024 }, { name: 'MEMORY', type: 'INTEGER', integerValue: 1024 }] }))).containerInstance!;
  const run = await ecs.send(new RunTaskCommand({ cluster: 'vols', taskDefinition: 'vols' }));
  assert.deepEqual(run.tasks, []);
  assert.deepEqual(run.failures, [{ arn: ci.containerInstanceArn, reason: 'ATTRIBUTE' }]);
});

test('regions are separate: a task definition registered in one region is unknown in another', async () => {
  const west = new ECSClient({ ...berth.clientConfig, region: 'us-west-2' });
  try {
    const td = (await west.send(new RegisterTaskDefinitionCommand({ family: 'regional', containerDefinitions: [{ name: 'c', image: 'x', memory: 64 }] }))).taskDefinition!;
    assert.match(td.taskDefinitionArn!, /^arn:aws:ecs:us-west-2:/);
    await assert.rejects(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'regional' })), (e: Error) => e.name === 'ClientException');
    await assert.rejects(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: td.taskDefinitionArn! })), (e: Error) => e.name === 'ClientException');
    assert.deepEqual((await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'regional' }))).taskDefinitionArns, []);
    assert.equal((await west.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'regional' }))).taskDefinition!.revision, 1);
  } finally {
    west.destroy();
  }
});
