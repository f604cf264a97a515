// Services through the real SDK and CLI: deployments (PRIMARY/ACTIVE, ids, rolloutState),
// counts derived from tasks, events, the controller-facing helpers, deletion (force, DRAINING
// then INACTIVE), listing filters and pagination, and the services-stable waiter's shape.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ECSClient,
  CreateClusterCommand,
  RegisterTaskDefinitionCommand,
  DeregisterTaskDefinitionCommand,
  CreateServiceCommand,
  UpdateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  ListServicesCommand,
  DescribeClustersCommand,
  DescribeTasksCommand,
  RegisterContainerInstanceCommand,
  waitUntilServicesStable,
} from '@aws-sdk/client-ecs';
import { awsOk, errorOf, freePort, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { CreateListenerCommand, CreateLoadBalancerCommand, CreateTargetGroupCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { appendServiceEvent, completeDeployment, launchServiceTasks, loadService, recordDeploymentCounts, rollbackDeployment, setServiceSteady, MAX_SERVICE_EVENTS } from '../../src/domain/ecs/services.js';
import { applyTaskStateChange } from '../../src/domain/ecs/tasks.js';
import { launchTasks } from '../../src/domain/ecs/launch.js';

let berth: TestBerth;
let ecs: ECSClient;
const C = 'svc';

before(async () => {
  berth = await startTestBerth();
  // These tests check the service records and helpers themselves, without the scheduler acting.
  berth.controller.configure({ enabled: false });
  ecs = new ECSClient(berth.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: C }));
  for (const img of ['app:1', 'app:2']) {
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'app', containerDefinitions: [{ name: 'app', image: img, memory: 128, portMappings: [{ containerPort: 3000 }] }] }));
  }
});
after(async () => {
  ecs.destroy();
  await berth.close();
});

const scope = () => ({ platform: berth.platform, region: 'us-east-1' });

test('create, update (new PRIMARY per task definition change or forced), counts from tasks, events, helpers', async () => {
  const created = (await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'web', taskDefinition: 'app:1', desiredCount: 2, tags: [{ key: 'env', value: 'test' }], propagateTags: 'SERVICE', enableExecuteCommand: true, placementStrategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }], placementConstraints: [{ type: 'distinctInstance' }] }))).service!;
  assert.equal(created.schedulingStrategy, 'REPLICA');
  assert.equal(created.launchType, 'EC2');
  assert.deepEqual(created.tags, [{ key: 'env', value: 'test' }]);
  assert.equal(created.createdBy, `arn:aws:iam::${berth.platform.accountId}:root`);
  assert.deepEqual([created.runningCount, created.pendingCount], [0, 0]);
  const d1 = created.deployments![0]!;
  assert.equal(d1.desiredCount, 2);
  assert.equal(d1.rolloutStateReason, `ECS deployment ${d1.id} in progress.`);

  // Duplicate create of an ACTIVE service.
  await assert.rejects(ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'web', taskDefinition: 'app:1', desiredCount: 1 })), (e: Error) => e.name === 'InvalidParameterException' && /not idempotent/.test(e.message));

  // desiredCount-only update keeps the deployment; task definition change opens a new PRIMARY.
  let s = (await ecs.send(new UpdateServiceCommand({ cluster: C, service: 'web', desiredCount: 3 }))).service!;
  assert.equal(s.deployments!.length, 1);
  assert.equal(s.deployments![0]!.desiredCount, 3);
  s = (await ecs.send(new UpdateServiceCommand({ cluster: C, service: created.serviceArn!, taskDefinition: 'app:2' }))).service!;
  assert.deepEqual(s.deployments!.map((d) => [d.status, d.taskDefinition!.split('/')[1]]), [['PRIMARY', 'app:2'], ['ACTIVE', 'app:1']]);
  assert.equal(s.deployments![1]!.id, d1.id);
  s = (await ecs.send(new UpdateServiceCommand({ cluster: C, service: 'web', forceNewDeployment: true }))).service!;
  assert.deepEqual(s.deployments!.map((d) => d.status), ['PRIMARY', 'ACTIVE', 'ACTIVE']);
  assert.equal(new Set(s.deployments!.map((d) => d.id)).size, 3);
  const primary = s.deployments![0]!;

  // What the controller does: launch tasks for the PRIMARY, report them, record rollout.
  await ecs.send(new RegisterContainerInstanceCommand({ cluster: C, totalResources: [{ name: 'CPU', type: 'INTEGER', integerValue: 4096 }, { name: 'MEMORY', type: 'INTEGER', integerValue: 4096 }] }));
  const launched = await launchTasks(scope(), { cluster: C, taskDefinition: primary.taskDefinition!, count: 3, startedBy: primary.id, group: 'service:web' });
  assert.equal(launched.tasks.length, 3);
  await applyTaskStateChange(scope(), { cluster: C, task: launched.tasks[0]!.taskArn, status: 'RUNNING' });
  await applyTaskStateChange(scope(), { cluster: C, task: launched.tasks[1]!.taskArn, status: 'PENDING' });
  s = (await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['web'] }))).services![0]!;
  assert.deepEqual([s.runningCount, s.pendingCount], [1, 2]);
  assert.deepEqual([s.deployments![0]!.runningCount, s.deployments![0]!.pendingCount, s.deployments![1]!.runningCount], [1, 2, 0]);
  const cl = (await ecs.send(new DescribeClustersCommand({ clusters: [C] }))).clusters![0]!;
  assert.equal(cl.activeServicesCount, 1);

  // Completing the PRIMARY drops the deployments that have no live task left.
  assert.equal(await completeDeployment(scope(), C, 'web', primary.id!, new Set([primary.id!])), true);
  assert.equal(await completeDeployment(scope(), C, 'web', primary.id!, new Set([primary.id!])), false, 'completed once');
  for (let i = 0; i < MAX_SERVICE_EVENTS + 5; i++) await appendServiceEvent(scope(), C, 'web', `(service web) event ${i}`);
  const loaded = await loadService(scope(), C, 'web');
  assert.equal(loaded!.tasks.length, 3);
  s = (await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['web'], include: ['TAGS'] }))).services![0]!;
  assert.deepEqual(s.deployments!.map((d) => [d.status, d.rolloutState]), [['PRIMARY', 'COMPLETED']]);
  assert.equal(s.events!.length, MAX_SERVICE_EVENTS);
  assert.equal(s.events![0]!.message, `(service web) event ${MAX_SERVICE_EVENTS + 4}`, 'newest first');
  assert.deepEqual(s.tags, [{ key: 'env', value: 'test' }]);
});

test('delete needs force while scaled up; DRAINING then INACTIVE; describe reports MISSING for unknown names', async () => {
  await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'gone', taskDefinition: 'app', desiredCount: 1 }));
  await assert.rejects(ecs.send(new DeleteServiceCommand({ cluster: C, service: 'gone' })), (e: Error) => e.name === 'InvalidParameterException' && /scaled above 0/.test(e.message));
  const del = (await ecs.send(new DeleteServiceCommand({ cluster: C, service: 'gone', force: true }))).service!;
  assert.equal(del.status, 'DRAINING');
  assert.equal(del.desiredCount, 0);
  // No tasks were live, so the next look finds it INACTIVE.
  const out = await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['gone', 'never-was'] }));
  assert.equal(out.services![0]!.status, 'INACTIVE');
  // As ECS writes it for a name it does not know: service/<name>, without the cluster.
  assert.deepEqual(out.failures, [{ arn: `arn:aws:ecs:us-east-1:${berth.platform.accountId}:service/never-was`, reason: 'MISSING' }]);
  await assert.rejects(ecs.send(new UpdateServiceCommand({ cluster: C, service: 'gone', desiredCount: 1 })), (e: Error) => e.name === 'ServiceNotFoundException');
  const names = (await ecs.send(new ListServicesCommand({ cluster: C }))).serviceArns!.map((a) => a.split('/').pop());
  assert.ok(!names.includes('gone'));
  // The name can be used again.
  const again = (await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'gone', taskDefinition: 'app', desiredCount: 0 }))).service!;
  assert.equal(again.status, 'ACTIVE');
});

test('inactive task definitions cannot start services; DAEMON services; list filters and pagination', async () => {
  const r3 = (await ecs.send(new RegisterTaskDefinitionCommand({ family: 'app', containerDefinitions: [{ name: 'app', image: 'app:3', memory: 128 }] }))).taskDefinition!;
  await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: r3.taskDefinitionArn }));
  await assert.rejects(ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'old', taskDefinition: r3.taskDefinitionArn, desiredCount: 1 })), (e: Error) => e.name === 'InvalidParameterException' && /inactive/i.test(e.message));
  const daemon = (await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'agent', taskDefinition: 'app:1', schedulingStrategy: 'DAEMON' }))).service!;
  assert.equal(daemon.schedulingStrategy, 'DAEMON');
  assert.deepEqual([daemon.deploymentConfiguration!.minimumHealthyPercent, daemon.deploymentConfiguration!.maximumPercent], [0, 100]);
  const daemons = await ecs.send(new ListServicesCommand({ cluster: C, schedulingStrategy: 'DAEMON' }));
  assert.deepEqual(daemons.serviceArns!.map((a) => a.split('/').pop()), ['agent']);
  for (let i = 0; i < 5; i++) await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: `p${i}`, taskDefinition: 'app:1', desiredCount: 0 }));
  const seen: string[] = [];
  let token: string | undefined;
  do {
    const p = await ecs.send(new ListServicesCommand({ cluster: C, maxResults: 3, nextToken: token }));
    seen.push(...p.serviceArns!.map((a) => a.split('/').pop()!));
    token = p.nextToken;
  } while (token);
  assert.deepEqual(seen, [...seen].sort());
  assert.equal(new Set(seen).size, seen.length);
  for (const n of ['agent', 'gone', 'p0', 'p4', 'web']) assert.ok(seen.includes(n), n);
});

test('services-stable waiter: one deployment and runningCount == desiredCount', async () => {
  await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'idle', taskDefinition: 'app:1', desiredCount: 0 }));
  const w = await waitUntilServicesStable({ client: ecs, maxWaitTime: 10, minDelay: 1, maxDelay: 1 }, { cluster: C, services: ['idle'] });
  assert.equal(w.state, 'SUCCESS');
  if (hasAwsCli()) await awsOk(berth.awsEnv, ['ecs', 'wait', 'services-stable', '--cluster', C, '--services', 'idle']);
  // Two deployments are not stable.
  await ecs.send(new UpdateServiceCommand({ cluster: C, service: 'idle', forceNewDeployment: true }));
  await assert.rejects(waitUntilServicesStable({ client: ecs, maxWaitTime: 2, minDelay: 1, maxDelay: 1 }, { cluster: C, services: ['idle'] }));
});

test('controller transitions: launchServiceTasks propagates service tags; rollbackDeployment opens a new PRIMARY on the last good revision', async () => {
  await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'roll', taskDefinition: 'app:1', desiredCount: 1, propagateTags: 'SERVICE', tags: [{ key: 'svc', value: 'roll' }] }));
  const first = (await loadService(scope(), C, 'roll'))!.record.deployments[0]!;
  const r = await launchServiceTasks(scope(), C, 'roll', first.id, 1);
  assert.equal(r.tasks.length, 1);
  const t = (await ecs.send(new DescribeTasksCommand({ cluster: C, tasks: [r.tasks[0]!.taskArn], include: ['TAGS'] }))).tasks![0]!;
  assert.deepEqual([t.group, t.startedBy], ['service:roll', first.id]);
  assert.deepEqual(t.tags, [{ key: 'svc', value: 'roll' }]);
  assert.equal(await completeDeployment(scope(), C, 'roll', first.id, new Set([first.id])), true);
  assert.equal(await setServiceSteady(scope(), C, 'roll', true), true);
  assert.equal(await setServiceSteady(scope(), C, 'roll', true), false, 'already steady: no change, no second event');
  await recordDeploymentCounts(scope(), C, 'roll', [{ deploymentId: first.id, runningCount: 0, pendingCount: 1 }]);

  const bad = (await ecs.send(new UpdateServiceCommand({ cluster: C, service: 'roll', taskDefinition: 'app:2' }))).service!.deployments![0]!;
  const newId = await rollbackDeployment(scope(), C, 'roll', bad.id!, first.id);
  assert.equal(await rollbackDeployment(scope(), C, 'roll', bad.id!, first.id), undefined, 'rolled back once');
  const s = (await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['roll'] }))).services![0]!;
  assert.equal(s.deployments![0]!.rolloutStateReason, `ECS deployment circuit breaker: rolling back to deploymentId ${first.id}.`);
  assert.equal(s.taskDefinition, first.taskDefinition);
  assert.deepEqual(s.deployments!.map((d) => [d.id, d.status, d.rolloutState, d.taskDefinition!.split('/')[1]]), [
    [newId, 'PRIMARY', 'IN_PROGRESS', 'app:1'],
    [bad.id, 'ACTIVE', 'FAILED', 'app:2'],
    [first.id, 'ACTIVE', 'COMPLETED', 'app:1'],
  ]);
  const loaded = await loadService(scope(), C, 'roll');
  assert.equal(loaded!.record.steady, true);
  assert.equal(loaded!.deployments.find((d) => d.id === first.id)!.pendingCount, 1, 'live count from the task');
});

test('a service\'s target groups must exist and be used by a load balancer, as on ECS', async () => {
  const elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  try {
    const lbs = (tg: string) => [{ targetGroupArn: tg, containerName: 'app', containerPort: 3000 }];
    const missing = `arn:aws:elasticloadbalancing:us-east-1:${berth.platform.accountId}:targetgroup/nope/0123456789abcdef`;
    const e1 = await errorOf(ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'lb1', taskDefinition: 'app:1', desiredCount: 1, loadBalancers: lbs(missing) })));
    assert.deepEqual([e1.name, e1.message], ['InvalidParameterException', `The target group with targetGroupArn ${missing} does not exist.`]);
    const tg = (await elb.send(new CreateTargetGroupCommand({ Name: 'lonely', Protocol: 'HTTP', Port: 3000, VpcId: 'vpc-1' }))).TargetGroups![0]!.TargetGroupArn!;
    const e2 = await errorOf(ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'lb1', taskDefinition: 'app:1', desiredCount: 1, loadBalancers: lbs(tg) })));
    assert.deepEqual([e2.name, e2.message], ['InvalidParameterException', `The target group with targetGroupArn ${tg} does not have an associated load balancer.`]);
    const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: 'svc-lb', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
    await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTP', Port: await freePort(), DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] }));
    const ok = (await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'lb1', taskDefinition: 'app:1', desiredCount: 0, loadBalancers: lbs(tg) }))).service!;
    assert.deepEqual(ok.loadBalancers, lbs(tg));
  } finally {
    elb.destroy();
  }
});
