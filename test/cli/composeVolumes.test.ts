// `berth compose` volumes on the docker driver, end to end (compose file -> task definition
// volumes -> agent -> dockerd): a named volume keeps its data across `down` (without -v) and a
// new `up`, and is gone after `down -v`; a relative bind is the project directory's folder (what
// the task writes appears on the host) and `:ro` refuses writes. Skipped, saying so, without a
// docker engine socket. Configs (content and file) are mounted read-only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerDriver } from '../../src/agent/drivers/docker.js';
import { DockerEngine, defaultDockerSocket } from '../../src/agent/drivers/dockerApi.js';
import { eventually, startTestBerth } from '../helpers/fixture.js';
import { ensureBusyboxImage } from '../helpers/images.js';
import { berth } from './helpers.js';
import { testAgent } from '../helpers/agents.js';

const skip = existsSync(defaultDockerSocket()) ? false : `no docker engine socket at ${defaultDockerSocket()}`;

test('compose volumes on docker: a named volume survives down and up, down -v removes it; binds are relative to the project, :ro is read-only', { skip }, async () => {
  const image = await ensureBusyboxImage();
  const server = await startTestBerth();
  const dir = mkdtempSync(join(tmpdir(), 'berth-compose-volumes-'));
  const project = `vol${process.pid}`;
  const agent = testAgent(server, join(dir, 'agent'), { driver: new DockerDriver() });
  const env = { AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey, AWS_ENDPOINT_URL: server.url };
  const file = join(dir, 'compose.yaml');
  mkdirSync(join(dir, 'out'));
  mkdirSync(join(dir, 'conf'));
  writeFileSync(join(dir, 'conf', 'greeting'), 'hello\n');
  // Each run appends to the named volume and reports its count (and whether /conf is writable) through the bind.
  const script = "echo run >> /data/runs; wc -l < /data/runs > /out/count.tmp; if echo x 2>/dev/null > /conf/w; then echo writable; else cat /conf/greeting; fi > /out/conf; cat /motd /etc/app.conf > /out/configs; mv /out/count.tmp /out/count; trap 'exit 0' TERM; while true; do sleep 1; done";
  writeFileSync(
    file,
    ['services:', '  counter:', `    image: ${image}`, `    command: ["sh", "-c", ${JSON.stringify(script.replaceAll('$', '$$'))}]`, '    mem_limit: 32m', '    stop_grace_period: 5s', '    volumes: ["data:/data", "./out:/out", "./conf:/conf:ro"]', '    configs: [motd, {source: app, target: /etc/app.conf}]', 'volumes:', '  data: {}', 'configs:', '  motd: {content: "welcome\\n"}', '  app: {file: ./conf/greeting}', ''].join('\n'),
  );
  const engine = new DockerEngine();
  const volume = `${project}_data`;
  const volumeExists = async () => !!(await engine.callOr404('GET', `/volumes/${volume}`));
  const count = () => (existsSync(join(dir, 'out', 'count')) ? readFileSync(join(dir, 'out', 'count'), 'utf8').trim() : '');
  try {
    await agent.start();
    const up = await berth(['compose', '-f', file, '-p', project, 'up', '--wait-timeout', '2m'], env);
    assert.equal(up.status, 0, up.stderr + up.stdout);
    await eventually(() => count() === '1', { timeoutMs: 30_000, what: 'the first run to count 1 through the bind' });
    assert.equal(readFileSync(join(dir, 'out', 'conf'), 'utf8'), 'hello\n', 'the :ro bind is readable and refuses writes');
    assert.equal(existsSync(join(dir, 'conf', 'w')), false);
    assert.equal(readFileSync(join(dir, 'out', 'configs'), 'utf8'), 'welcome\nhello\n', 'configs by content and by file are mounted at /<name> and at target');
    const made: { Labels?: Record<string, string> } = await engine.call('GET', `/volumes/${volume}`);
    assert.equal(made.Labels?.['berth.compose-project'], project);

    const down = await berth(['compose', '-p', project, 'down'], env);
    assert.equal(down.status, 0, down.stderr);
    assert.equal(await volumeExists(), true, 'down without -v keeps the named volume');
    rmSync(join(dir, 'out', 'count'));
    const again = await berth(['compose', '-f', file, '-p', project, 'up', '--wait-timeout', '2m'], env);
    assert.equal(again.status, 0, again.stderr);
    await eventually(() => count() === '2', { timeoutMs: 30_000, what: 'the second run to find the first run\'s line in the named volume' });

    const downV = await berth(['compose', '-p', project, 'down', '-v'], env);
    assert.equal(downV.status, 0, downV.stderr);
    assert.match(downV.stderr, new RegExp(`volume ${volume} removed`));
    assert.equal(await volumeExists(), false, 'down -v removes the named volume');
  } finally {
    await agent.close({ stopTasks: true });
    await server.close();
    await engine.call('DELETE', `/volumes/${volume}`).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
