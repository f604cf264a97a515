// `berth compose` on the docker driver: services in different tasks find each other by service
// name and by `hostname` on the project's network (as under docker compose), the same
// <NAME>_HOST/_PORT variables as on the process driver point at those names, a
// service_healthy dependency is waited for, and down removes the project network with the last
// container. Skipped, saying so, without a docker engine socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerDriver } from '../../src/agent/drivers/docker.js';
import { DockerEngine, defaultDockerSocket } from '../../src/agent/drivers/dockerApi.js';
import { eventually, startTestBerth } from '../helpers/fixture.js';
import { ensureBusyboxImage } from '../helpers/images.js';
import { berth } from './helpers.js';
import { testAgent } from '../helpers/agents.js';

const skip = existsSync(defaultDockerSocket()) ? false : `no docker engine socket at ${defaultDockerSocket()}`;

test('compose on docker: names resolve across services on the project network; down removes it', { skip }, async () => {
  const image = await ensureBusyboxImage();
  const server = await startTestBerth();
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-compose-docker-'));
  const project = `dk${process.pid}`;
  const agent = testAgent(server, stateDir, { driver: new DockerDriver() });
  const env = { AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey, AWS_ENDPOINT_URL: server.url };
  const file = join(stateDir, 'compose.yaml');
  writeFileSync(
    file,
    [
      'services:',
      '  web:',
      `    image: ${image}`,
      '    hostname: webhost',
      '    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]',
      '    expose: ["8080"]',
      '    healthcheck: {test: ["CMD", "wget", "-qO-", "http://127.0.0.1:8080/"], interval: 5s, retries: 5}',
      '  client:',
      `    image: ${image}`,
      '    command: ["sh", "-c", "while true; do wget -qO- http://webhost:8080/ && wget -qO- http://$${WEB_HOST}:$${WEB_PORT_8080}/ && echo reached $$WEB_HOST; sleep 1; done"]',
      '    mem_limit: 32m',
      '    depends_on: {web: {condition: service_healthy}}',
      '',
    ].join('\n'),
  );
  try {
    await agent.start();
    const up = await berth(['compose', '-f', file, '-p', project, 'up', '--wait-timeout', '2m'], env);
    assert.equal(up.status, 0, up.stderr);
    assert.ok(up.stderr.indexOf('client waits for web (healthy)') < up.stderr.indexOf('client created'), up.stderr);
    const seen = await eventually(async () => {
      const r = await berth(['compose', '-p', project, 'logs', 'client'], env);
      return /ok\nok\nreached web/.test(r.stdout) && r.stdout;
    }, { timeoutMs: 30_000, what: 'the client reaching web by hostname and by <NAME>_HOST/_PORT' });
    assert.match(seen, /reached web/);
    const engine = new DockerEngine();
    const net = await engine.callOr404('GET', `/networks/berth-compose-${project}`);
    assert.ok(net, 'the project network exists');
    const down = await berth(['compose', '-p', project, 'down'], env);
    assert.equal(down.status, 0, down.stderr);
    await eventually(async () => (await engine.callOr404('GET', `/networks/berth-compose-${project}`)) === undefined, { timeoutMs: 90_000, what: 'the project network removed with its last container' });
  } finally {
    await agent.close({ stopTasks: true });
    await server.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
