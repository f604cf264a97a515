// Two control-plane replicas sharing one PostgreSQL database answer as one endpoint would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ECSClient,
  CreateClusterCommand,
  ListClustersCommand,
  DescribeClustersCommand,
  RegisterContainerInstanceCommand,
  RegisterTaskDefinitionCommand,
  CreateServiceCommand,
  ListTasksCommand,
  DescribeServicesCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { startTestBerth, eventually } from '../helpers/fixture.js';
import { startTestPostgres } from '../helpers/postgres.js';

test('a cluster created through one replica is listed and described through the other', async () => {
  const pgServer = await startTestPostgres();
  if (typeof pgServer === 'string') throw new Error(pgServer);
  const env = { BERTH_ROOT_ACCESS_KEY_ID: 'AKIAREPLICATEST00001', BERTH_ROOT_SECRET_ACCESS_KEY: 'replica-secret-000000000000000000000000', BERTH_ACCOUNT_ID: '123456789012' };
  const a = await startTestBerth({ storeUrl: pgServer.url, env });
  const b = await startTestBerth({ storeUrl: pgServer.url, env });
  try {
    const ecsA = new ECSClient(a.clientConfig);
    const ecsB = new ECSClient(b.clientConfig);
    await ecsA.send(new CreateClusterCommand({ clusterName: 'shared' }));
    const listed = await ecsB.send(new ListClustersCommand({}));
    assert.deepEqual(listed.clusterArns, ['arn:aws:ecs:us-east-1:123456789012:cluster/shared']);
    const health = await (await fetch(`${b.url}/_berth/health`)).json();
    assert.equal(health.store, 'postgres');
    // Concurrent creates of the same name through both replicas yield one cluster.
    await Promise.all([ecsA.send(new CreateClusterCommand({ clusterName: 'race' })), ecsB.send(new CreateClusterCommand({ clusterName: 'race' }))]);
    const d = await ecsA.send(new DescribeClustersCommand({ clusters: ['race'] }));
    assert.equal(d.clusters?.length, 1);
    assert.equal((await ecsB.send(new ListClustersCommand({}))).clusterArns?.length, 2);
    ecsA.destroy();
    ecsB.destroy();
  } finally {
    await a.close();
    await b.close();
    pgServer.stop();
  }
});

test('two replicas started together on an empty database both come up; one controller acts: a service of 4 launches exactly 4 tasks, each event once; the other takes over when it goes', async () => {
  const pgServer = await startTestPostgres();
  if (typeof pgServer === 'string') throw new Error(pgServer);
  const env = { BERTH_ROOT_ACCESS_KEY_ID: 'AKIAREPLICATEST00002', BERTH_ROOT_SECRET_ACCESS_KEY: 'replica-secret-000000000000000000000002', BERTH_ACCOUNT_ID: '123456789012', BERTH_LEASE_TTL_MS: '2000' };
  const [a, b] = await Promise.all([startTestBerth({ storeUrl: pgServer.url, env }), startTestBerth({ storeUrl: pgServer.url, env })]);
  let aClosed = false;
  try {
    const duty = async (x: typeof a) => ((await (await fetch(`${x.url}/_berth/health`)).json()) as { replica: string; duties: Array<{ duty: string; leading: boolean; holder?: string }> });
    const [ha, hb] = [await duty(a), await duty(b)];
    const lead = (h: typeof ha) => h.duties.find((d) => d.duty === 'service-controller')!;
    assert.equal(Number(lead(ha).leading) + Number(lead(hb).leading), 1, 'exactly one replica runs the service controller');
    const [leader, follower] = lead(ha).leading ? [a, b] : [b, a];

    const ecs = new ECSClient(follower.clientConfig);
    await ecs.send(new CreateClusterCommand({ clusterName: 'default' }));
    for (let i = 0; i < 2; i++) {
      await ecs.send(new RegisterContainerInstanceCommand({ cluster: 'default', totalResources: [{ name: 'CPU', type: 'INTEGER', integerValue: 4096 }, { name: 'MEMORY', type: 'INTEGER', integerValue: 8192 }] }));
    }
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'app', image: 'busybox', memory: 64 }] }));
    await ecs.send(new CreateServiceCommand({ cluster: 'default', serviceName: 'web', taskDefinition: 'web', desiredCount: 4 }));
    const allTasks = async () => [
      ...((await ecs.send(new ListTasksCommand({ cluster: 'default', desiredStatus: 'RUNNING' }))).taskArns ?? []),
      ...((await ecs.send(new ListTasksCommand({ cluster: 'default', desiredStatus: 'STOPPED' }))).taskArns ?? []),
    ];
    await eventually(async () => (await allTasks()).length >= 4, { what: '4 tasks launched' });
    // Several more controller rounds on both replicas: nothing more may be launched or said twice.
    const started = leader.controller.reconciles;
    await eventually(() => leader.controller.reconciles >= started + 5, { what: 'five more reconciles' });
    assert.equal((await allTasks()).length, 4, 'exactly 4 tasks, none launched twice');
    assert.equal(follower.controller.reconciles, 0, 'the follower never reconciled');
    const events = (await ecs.send(new DescribeServicesCommand({ cluster: 'default', services: ['web'] }))).services![0]!.events!.map((e) => e.message!);
    assert.equal(events.filter((m) => m.includes('has started')).length, 1, events.join('\n'));

    // The leader goes: the other replica takes the duty over and acts (scale to 6).
    await leader.close();
    if (leader === a) aClosed = true;
    await eventually(async () => lead(await duty(follower)).leading, { what: 'the other replica to take over', timeoutMs: 15_000 });
    await ecs.send(new UpdateServiceCommand({ cluster: 'default', service: 'web', desiredCount: 6 }));
    await eventually(async () => (await allTasks()).length === 6, { what: '6 tasks after the takeover' });
    ecs.destroy();
    if (leader === b) await a.close();
    aClosed = true;
  } finally {
    if (!aClosed) await a.close();
    await b.close().catch(() => undefined);
    pgServer.stop();
  }
});
