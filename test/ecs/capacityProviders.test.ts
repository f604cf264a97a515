// Capacity providers through @aws-sdk/client-ecs and the aws CLI: Auto Scaling group providers
// stored with their managed scaling and termination protection, the built-in FARGATE ones,
// PutClusterCapacityProviders with a default strategy, and placement honouring base and weight
// across providers (a provider's instances are those registered with the attribute
// berth.capacity-provider=<name>), for RunTask and for a service; and ECS's error codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ECSClient,
  CreateCapacityProviderCommand,
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteCapacityProviderCommand,
  DescribeCapacityProvidersCommand,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ListContainerInstancesCommand,
  ListTasksCommand,
  PutClusterCapacityProvidersCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  UpdateCapacityProviderCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { nextProvider } from '../../src/domain/ecs/capacityProviders.js';
import { aws, awsEnvFor, awsOk, errorOf, eventually, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { AgentSimulator } from '../services-control/simulator.js';

let berth: TestBerth;
let ecs: ECSClient;
let sim: AgentSimulator;
const C = 'cap';
const ASG = 'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:0e6a3c2a-1b7e-4d2c-9f1e-2a3b4c5d6e7f:autoScalingGroupName/spot-group';
const instanceProvider = new Map<string, string>();

before(async () => {
  berth = await startTestBerth();
  berth.controller.configure({ intervalMs: 100 });
  ecs = new ECSClient(berth.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: C }));
  sim = new AgentSimulator(berth, ecs, { cluster: C });
  for (const p of ['on-demand', 'on-demand', 'spot', 'spot']) {
    const id = await sim.addInstance({ cpu: 4096, memory: 4096, attributes: { 'berth.capacity-provider': p } });
    instanceProvider.set(id, p);
  }
  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'job', containerDefinitions: [{ name: 'job', image: 'x', memory: 64 }] }));
});
after(async () => {
  assert.deepEqual(berth.controller.errors, [], 'the controller reconciled without errors');
  await sim.stop();
  ecs.destroy();
  await berth.close();
});

test('nextProvider: bases first, then the split by weight', () => {
  const strategy = [
    { capacityProvider: 'a', base: 2, weight: 1 },
    { capacityProvider: 'b', weight: 3 },
  ];
  const counts = new Map<string, number>();
  for (let i = 0; i < 10; i++) {
    const p = nextProvider(strategy, counts)!;
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(counts), { a: 4, b: 6 }, 'a: base 2 + 2 of the 8 others (1:3); b: 6');
  assert.equal(nextProvider([{ capacityProvider: 'a', weight: 0 }], new Map()), undefined);
});

test('capacity providers: create, describe (with FARGATE, FARGATE_SPOT, paging), update, and the errors', async () => {
  const created = (
    await ecs.send(
      new CreateCapacityProviderCommand({
        name: 'on-demand',
        autoScalingGroupProvider: { autoScalingGroupArn: 'on-demand-group', managedScaling: { status: 'ENABLED', targetCapacity: 90 }, managedTerminationProtection: 'ENABLED' },
        tags: [{ key: 'team', value: 'web' }],
      }),
    )
  ).capacityProvider!;
  assert.equal(created.capacityProviderArn, `arn:aws:ecs:us-east-1:${berth.platform.accountId}:capacity-provider/on-demand`);
  assert.equal(created.status, 'ACTIVE');
  assert.equal(created.type, 'EC2_AUTOSCALING');
  assert.equal(created.updateStatus, 'CREATE_COMPLETE');
  assert.deepEqual(created.autoScalingGroupProvider!.managedScaling, { status: 'ENABLED', targetCapacity: 90, minimumScalingStepSize: 1, maximumScalingStepSize: 10000, instanceWarmupPeriod: 300 });
  assert.equal(created.autoScalingGroupProvider!.managedTerminationProtection, 'ENABLED');
  await ecs.send(new CreateCapacityProviderCommand({ name: 'spot', autoScalingGroupProvider: { autoScalingGroupArn: ASG } }));

  const all = await ecs.send(new DescribeCapacityProvidersCommand({}));
  assert.deepEqual(all.capacityProviders!.map((p) => p.name), ['FARGATE', 'FARGATE_SPOT', 'on-demand', 'spot']);
  const page1 = await ecs.send(new DescribeCapacityProvidersCommand({ maxResults: 3 }));
  const page2 = await ecs.send(new DescribeCapacityProvidersCommand({ maxResults: 3, nextToken: page1.nextToken }));
  assert.deepEqual([...page1.capacityProviders!, ...page2.capacityProviders!].map((p) => p.name), ['FARGATE', 'FARGATE_SPOT', 'on-demand', 'spot']);
  assert.equal(page2.nextToken, undefined);
  const some = await ecs.send(new DescribeCapacityProvidersCommand({ capacityProviders: ['spot', 'nope'], include: ['TAGS'] }));
  assert.deepEqual(some.capacityProviders!.map((p) => p.name), ['spot']);
  assert.deepEqual(some.failures, [{ arn: `arn:aws:ecs:us-east-1:${berth.platform.accountId}:capacity-provider/nope`, reason: 'MISSING' }]);

  const updated = (await ecs.send(new UpdateCapacityProviderCommand({ name: 'spot', autoScalingGroupProvider: { managedScaling: { status: 'ENABLED', maximumScalingStepSize: 5 } } }))).capacityProvider!;
  assert.equal(updated.updateStatus, 'UPDATE_COMPLETE');
  assert.equal(updated.autoScalingGroupProvider!.managedScaling!.maximumScalingStepSize, 5);

  const cases: Array<[Promise<unknown>, string, RegExp]> = [
    [ecs.send(new CreateCapacityProviderCommand({ name: 'ecs-mine', autoScalingGroupProvider: { autoScalingGroupArn: 'g' } })), 'InvalidParameterException', /cannot be prefixed/],
    [ecs.send(new CreateCapacityProviderCommand({ name: 'spot', autoScalingGroupProvider: { autoScalingGroupArn: 'other' } })), 'ClientException', /already exists/],
    [ecs.send(new CreateCapacityProviderCommand({ name: 'again', autoScalingGroupProvider: { autoScalingGroupArn: ASG } })), 'ClientException', /already used/],
    [ecs.send(new CreateCapacityProviderCommand({ name: 'badarn', autoScalingGroupProvider: { autoScalingGroupArn: 'arn:aws:autoscaling:x' } })), 'InvalidParameterException', /not a valid Auto Scaling group/],
    [ecs.send(new CreateCapacityProviderCommand({ name: 'mtp', autoScalingGroupProvider: { autoScalingGroupArn: 'g2', managedTerminationProtection: 'ENABLED' } })), 'InvalidParameterException', /requires managed scaling/],
    [ecs.send(new CreateCapacityProviderCommand({ name: 'steps', autoScalingGroupProvider: { autoScalingGroupArn: 'g3', managedScaling: { minimumScalingStepSize: 10, maximumScalingStepSize: 2 } } })), 'InvalidParameterException', /minimumScalingStepSize/],
    [ecs.send(new UpdateCapacityProviderCommand({ name: 'nope', autoScalingGroupProvider: {} })), 'ClientException', /does not exist/],
    [ecs.send(new DeleteCapacityProviderCommand({ capacityProvider: 'FARGATE' })), 'InvalidParameterException', /built in/],
  ];
  for (const [p, code, message] of cases) {
    const e = await errorOf(p);
    assert.equal(e.name, code, e.message);
    assert.match(e.message, message);
  }
});

test('PutClusterCapacityProviders and placement by base and weight: RunTask with the default strategy, a service with its own', async () => {
  const bad: Array<[PutClusterCapacityProvidersCommand, string, RegExp]> = [
    [new PutClusterCapacityProvidersCommand({ cluster: C, capacityProviders: ['nope'], defaultCapacityProviderStrategy: [] }), 'InvalidParameterException', /does not exist/],
    [new PutClusterCapacityProvidersCommand({ cluster: C, capacityProviders: ['spot'], defaultCapacityProviderStrategy: [{ capacityProvider: 'on-demand', weight: 1 }] }), 'InvalidParameterException', /not among the cluster's/],
    [
      new PutClusterCapacityProvidersCommand({ cluster: C, capacityProviders: ['spot', 'on-demand'], defaultCapacityProviderStrategy: [{ capacityProvider: 'spot', weight: 1, base: 1 }, { capacityProvider: 'on-demand', weight: 1, base: 1 }] }),
      'InvalidParameterException',
      /Only one capacity provider/,
    ],
    [new PutClusterCapacityProvidersCommand({ cluster: C, capacityProviders: ['spot', 'FARGATE'], defaultCapacityProviderStrategy: [{ capacityProvider: 'spot', weight: 1 }, { capacityProvider: 'FARGATE', weight: 1 }] }), 'InvalidParameterException', /mix of capacity providers/],
    [new PutClusterCapacityProvidersCommand({ cluster: 'nope', capacityProviders: [], defaultCapacityProviderStrategy: [] }), 'ClusterNotFoundException', /Cluster not found/],
  ];
  for (const [cmd, code, message] of bad) {
    const e = await errorOf(ecs.send(cmd));
    assert.equal(e.name, code, e.message);
    assert.match(e.message, message);
  }
  const cluster = (
    await ecs.send(
      new PutClusterCapacityProvidersCommand({
        cluster: C,
        capacityProviders: ['on-demand', 'spot'],
        defaultCapacityProviderStrategy: [
          { capacityProvider: 'on-demand', base: 2, weight: 1 },
          { capacityProvider: 'spot', weight: 3 },
        ],
      }),
    )
  ).cluster!;
  assert.deepEqual(cluster.capacityProviders, ['on-demand', 'spot']);
  assert.deepEqual(cluster.defaultCapacityProviderStrategy, [
    { capacityProvider: 'on-demand', base: 2, weight: 1 },
    { capacityProvider: 'spot', base: 0, weight: 3 },
  ]);

  // RunTask without a launch type: the cluster's default strategy, 2 (base) + 2 : 6.
  const run = await ecs.send(new RunTaskCommand({ cluster: C, taskDefinition: 'job', count: 10 }));
  assert.deepEqual(run.failures, []);
  const byProvider = (tasks: Task[]) => {
    const out: Record<string, number> = {};
    for (const t of tasks) {
      const onInstance = instanceProvider.get(t.containerInstanceArn!.split('/').pop()!);
      assert.equal(t.capacityProviderName, onInstance, 'each task runs on an instance of its provider');
      out[t.capacityProviderName!] = (out[t.capacityProviderName!] ?? 0) + 1;
    }
    return out;
  };
  assert.deepEqual(byProvider(run.tasks!), { 'on-demand': 4, spot: 6 });
  assert.ok(run.tasks!.every((t) => t.launchType === 'EC2'));
  const only = await ecs.send(new RunTaskCommand({ cluster: C, taskDefinition: 'job', count: 3, capacityProviderStrategy: [{ capacityProvider: 'spot', weight: 1 }] }));
  assert.deepEqual(byProvider(only.tasks!), { spot: 3 });
  const unassociated = await errorOf(ecs.send(new RunTaskCommand({ cluster: C, taskDefinition: 'job', capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] })));
  assert.equal(unassociated.name, 'InvalidParameterException');
  assert.match(unassociated.message, /not associated with the cluster/);
  const both = await errorOf(ecs.send(new RunTaskCommand({ cluster: C, taskDefinition: 'job', launchType: 'EC2', capacityProviderStrategy: [{ capacityProvider: 'spot', weight: 1 }] })));
  assert.equal(both.name, 'InvalidParameterException');

  // The container instances say which provider they belong to.
  const arns = (await ecs.send(new ListContainerInstancesCommand({ cluster: C }))).containerInstanceArns!;
  const cis = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: C, containerInstances: arns }))).containerInstances!;
  assert.deepEqual(cis.map((ci) => ci.capacityProviderName).sort(), ['on-demand', 'on-demand', 'spot', 'spot']);

  // A service with its own strategy: the split holds over the service's tasks.
  const svc = (
    await ecs.send(
      new CreateServiceCommand({
        cluster: C,
        serviceName: 'workers',
        taskDefinition: 'job',
        desiredCount: 8,
        capacityProviderStrategy: [
          { capacityProvider: 'on-demand', base: 1, weight: 1 },
          { capacityProvider: 'spot', weight: 1 },
        ],
      }),
    )
  ).service!;
  assert.equal(svc.launchType, undefined);
  assert.deepEqual(svc.capacityProviderStrategy, [
    { capacityProvider: 'on-demand', base: 1, weight: 1 },
    { capacityProvider: 'spot', base: 0, weight: 1 },
  ]);
  await eventually(async () => (await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['workers'] }))).services![0]!.runningCount === 8, { what: '8 worker tasks running', timeoutMs: 20_000 });
  const arnsOf = (await ecs.send(new ListTasksCommand({ cluster: C, serviceName: 'workers' }))).taskArns!;
  const split = byProvider((await ecs.send(new DescribeTasksCommand({ cluster: C, tasks: arnsOf }))).tasks!);
  assert.equal(split['on-demand']! + split.spot!, 8);
  assert.ok(Math.abs(split['on-demand']! - 1 - split.spot!) <= 1, `base 1 on on-demand, the other 7 split 1:1: ${JSON.stringify(split)}`);

  // In use: not removable from the cluster, not deletable.
  const inUse = await errorOf(ecs.send(new PutClusterCapacityProvidersCommand({ cluster: C, capacityProviders: ['spot'], defaultCapacityProviderStrategy: [] })));
  assert.equal(inUse.name, 'ResourceInUseException');
  const del = await errorOf(ecs.send(new DeleteCapacityProviderCommand({ capacityProvider: 'on-demand' })));
  assert.equal(del.name, 'ClientException');
  assert.match(del.message, /associated with cluster cap/);
});

test('aws CLI: create-capacity-provider, describe-capacity-providers, put-cluster-capacity-providers, delete-capacity-provider', { skip: !hasAwsCli() && 'no aws CLI' }, async () => {
  const env = awsEnvFor(berth.url, berth.credentials);
  const made = await awsOk(env, ['ecs', 'create-capacity-provider', '--name', 'batch', '--auto-scaling-group-provider', 'autoScalingGroupArn=batch-group,managedScaling={status=ENABLED,targetCapacity=75},managedTerminationProtection=DISABLED']);
  assert.equal(made.capacityProvider.autoScalingGroupProvider.managedScaling.targetCapacity, 75);
  const d = await awsOk(env, ['ecs', 'describe-capacity-providers', '--capacity-providers', 'batch']);
  assert.equal(d.capacityProviders[0].name, 'batch');
  await awsOk(env, ['ecs', 'create-cluster', '--cluster-name', 'cli-cap']);
  const put = await awsOk(env, ['ecs', 'put-cluster-capacity-providers', '--cluster', 'cli-cap', '--capacity-providers', 'batch', '--default-capacity-provider-strategy', 'capacityProvider=batch,weight=1']);
  assert.deepEqual(put.cluster.capacityProviders, ['batch']);
  const bad = await aws(env, ['ecs', 'put-cluster-capacity-providers', '--cluster', 'cli-cap', '--capacity-providers', 'batch', '--default-capacity-provider-strategy', 'capacityProvider=batch,weight=0']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /InvalidParameterException.*weight greater than zero/);
  await awsOk(env, ['ecs', 'put-cluster-capacity-providers', '--cluster', 'cli-cap', '--capacity-providers', '[]', '--default-capacity-provider-strategy', '[]']);
  const gone = await awsOk(env, ['ecs', 'delete-capacity-provider', '--capacity-provider', 'batch']);
  assert.equal(gone.capacityProvider.status, 'INACTIVE');
});
