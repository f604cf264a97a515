// ECS services with serviceRegistries, end to end with a real agent (process driver) and the real
// aws CLI: the service's running tasks become Cloud Map instances (instance id = task id,
// AWS_INSTANCE_IPV4:AWS_INSTANCE_PORT the address a client reaches the task at), which
// `aws servicediscovery discover-instances` lists; scaled to 0, the list is empty again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { awsOk, eventually, hasAwsCli, startTestBerth } from '../helpers/fixture.js';
import { startHostPrefixProxy } from './hostPrefixProxy.js';
import { testAgent } from '../helpers/agents.js';

const WEB_JS = "require('http').createServer((q,s)=>s.end('hello from '+process.env.HOSTNAME_TAG)).listen(process.env.PORT)";

test('a service with serviceRegistries: its tasks are discovered at address:port, and none once scaled to 0', { skip: !hasAwsCli() && 'aws CLI not installed', timeout: 300_000 }, async () => {
  const berth = await startTestBerth();
  const proxy = await startHostPrefixProxy(berth.url);
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-agent-'));
  const agent = testAgent(berth, stateDir, { pollSeconds: 2 });
  try {
    await agent.start();
    const env = berth.awsEnv;
    const op = await awsOk(env, ['servicediscovery', 'create-http-namespace', '--name', 'apps']);
    const nsId = (await awsOk(env, ['servicediscovery', 'get-operation', '--operation-id', op.OperationId])).Operation.Targets.NAMESPACE;
    const registry = (await awsOk(env, ['servicediscovery', 'create-service', '--name', 'web', '--namespace-id', nsId])).Service;
    const discover = async () => (await awsOk(proxy.env(env), ['servicediscovery', 'discover-instances', '--namespace-name', 'apps', '--service-name', 'web'])).Instances as Array<{ InstanceId: string; Attributes: Record<string, string> }>;

    await awsOk(env, ['ecs', 'register-task-definition', '--family', 'web', '--container-definitions', JSON.stringify([{ name: 'web', image: 'host', essential: true, memory: 64, portMappings: [{ containerPort: 8080, hostPort: 0 }], command: [process.execPath, '-e', WEB_JS], environment: [{ name: 'HOSTNAME_TAG', value: 'web' }] }])]);
    await awsOk(env, ['ecs', 'create-service', '--service-name', 'web', '--task-definition', 'web', '--desired-count', '2', '--service-registries', `registryArn=${registry.Arn},containerName=web,containerPort=8080`]);

    const found = await eventually(async () => {
      const list = await discover();
      return list.length === 2 && list;
    }, { timeoutMs: 120_000, intervalMs: 1_000, what: 'two discovered instances' });
    const taskIds = ((await awsOk(env, ['ecs', 'list-tasks', '--service-name', 'web'])).taskArns as string[]).map((a) => a.split('/').pop()).sort();
    assert.deepEqual(found.map((i) => i.InstanceId).sort(), taskIds, 'instance id = task id');
    for (const i of found) {
      assert.equal(i.Attributes.ECS_SERVICE_NAME, 'web');
      assert.equal(i.Attributes.ECS_CLUSTER_NAME, 'default');
      const res = await fetch(`http://${i.Attributes.AWS_INSTANCE_IPV4}:${i.Attributes.AWS_INSTANCE_PORT}/`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(await res.text(), 'hello from web', 'the discovered address:port reaches the task');
    }
    assert.equal((await awsOk(env, ['servicediscovery', 'get-service', '--id', registry.Id])).Service.InstanceCount, 2);

    await awsOk(env, ['ecs', 'update-service', '--service', 'web', '--desired-count', '0']);
    await eventually(async () => (await discover()).length === 0, { timeoutMs: 120_000, intervalMs: 1_000, what: 'no discovered instances after scaling to 0' });
    await awsOk(env, ['ecs', 'delete-service', '--service', 'web', '--force']);
    await awsOk(env, ['servicediscovery', 'delete-service', '--id', registry.Id]);
  } finally {
    await agent.close({ stopTasks: true });
    await proxy.close();
    await berth.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
