// `berth compose down --rmi local|all`: the project's image repositories in Berth's registry
// (those up/build made, tagged with the project) are removed: `local` those of services without
// an `image:` name (`<project>-<service>`), `all` every one; other repositories stay. An invalid
// value is refused before anything is removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { CreateClusterCommand, ECSClient } from '@aws-sdk/client-ecs';
import { startTestBerth } from '../helpers/fixture.js';
import { berth } from './helpers.js';

test('down --rmi local removes the built images without a custom name, --rmi all the rest; other repositories stay', async () => {
  const server = await startTestBerth();
  const ecr = new ECRClient(server.clientConfig);
  const env = { AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey, AWS_ENDPOINT_URL: server.url };
  const tag = [{ Key: 'berth:compose:project', Value: 'shop' }];
  const ecs = new ECSClient(server.clientConfig);
  try {
    await ecs.send(new CreateClusterCommand({ clusterName: 'default' }));
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'shop-web', tags: tag }));
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'acme/api', tags: tag }));
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'shop-unrelated' }));
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'other-web', tags: [{ Key: 'berth:compose:project', Value: 'other' }] }));
    const names = async () => ((await ecr.send(new DescribeRepositoriesCommand({}))).repositories ?? []).map((r) => r.repositoryName).sort();

    const bad = await berth(['compose', '-p', 'shop', 'down', '--rmi', 'some'], env);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--rmi.*some.*(local|choices)/s);
    assert.deepEqual(await names(), ['acme/api', 'other-web', 'shop-unrelated', 'shop-web']);

    const local = await berth(['compose', '-p', 'shop', 'down', '--rmi', 'local'], env);
    assert.equal(local.status, 0, local.stderr);
    assert.match(local.stderr, /image repository shop-web removed/);
    assert.deepEqual(await names(), ['acme/api', 'other-web', 'shop-unrelated']);

    const all = await berth(['compose', '-p', 'shop', 'down', '--rmi', 'all'], env);
    assert.equal(all.status, 0, all.stderr);
    assert.match(all.stderr, /image repository acme\/api removed/);
    assert.deepEqual(await names(), ['other-web', 'shop-unrelated']);
  } finally {
    ecr.destroy();
    ecs.destroy();
    await server.close();
  }
});
