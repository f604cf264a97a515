// Two control-plane replicas sharing one PostgreSQL database answer as one endpoint would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ECSClient, CreateClusterCommand, ListClustersCommand, DescribeClustersCommand } from '@aws-sdk/client-ecs';
import { startTestBerth } from '../helpers/fixture.js';
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
