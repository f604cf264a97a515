// `berth run` with the docker driver: an image that cannot be pulled stops the task before it
// starts (CannotPullContainerError), and `berth run` prints that reason and exits 125; `berth
// logs -f` of that task ends at once, saying the same. Skipped, saying so, without a docker
// engine socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, CreateClusterCommand, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { DockerDriver } from '../../src/agent/drivers/docker.js';
import { defaultDockerSocket } from '../../src/agent/drivers/dockerApi.js';
import { startTestBerth } from '../helpers/fixture.js';
import { berth } from './helpers.js';
import { testAgent } from '../helpers/agents.js';

const skip = existsSync(defaultDockerSocket()) ? false : `no docker engine socket at ${defaultDockerSocket()}`;

test('berth run of an image that cannot be pulled: CannotPullContainerError, exit 125; logs -f ends at once', { skip }, async () => {
  const server = await startTestBerth();
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-cli-docker-'));
  const ecs = new ECSClient(server.clientConfig);
  const agent = testAgent(server, stateDir, { cluster: 'dock', driver: new DockerDriver() });
  try {
    await ecs.send(new CreateClusterCommand({ clusterName: 'dock' }));
    await agent.start();
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'nopull', containerDefinitions: [{ name: 'app', image: 'berth-test.invalid/no-such-image:1', memory: 32 }] }));
    const env = { AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey, AWS_ENDPOINT_URL: server.url };
    const r = await berth(['run', 'nopull', '--cluster', 'dock'], env);
    assert.equal(r.status, 125, r.stderr);
    assert.equal(r.stdout, '');
    const m = /berth: task ([0-9a-f]{32}) did not start: CannotPullContainerError: .*berth-test\.invalid/.exec(r.stderr);
    assert.ok(m, r.stderr);
    const logs = await berth(['logs', '-f', '--cluster', 'dock', m[1]!], env);
    assert.equal(logs.status, 0, logs.stderr);
    assert.match(logs.stderr, new RegExp(`^berth: task ${m[1]} did not start: CannotPullContainerError: `));
  } finally {
    ecs.destroy();
    await agent.close({ stopTasks: true });
    await server.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
