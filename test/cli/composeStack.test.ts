// `berth compose` on the docker driver with the real stores: examples/compose-stack (a front
// proxy behind Berth's load balancer, an API server, a worker, a client and a migration job in a
// node image, PostgreSQL and Redis in images of Debian's binaries), every image built FROM
// scratch from its `build:` (context, dockerfile, args, target) with the local engine, pushed
// to Berth's registry and pulled from there by the agent. Checked: the API writes and reads
// PostgreSQL and Redis through the front (curl), the worker takes jobs off Redis and writes
// PostgreSQL, the API started only after PostgreSQL answered (its start time after PostgreSQL's
// "ready" line), a changed environment rolls only the API, and down leaves no service, task,
// task definition, load balancer, listener, rule, target group, log group or container.
// Skipped, saying which, without a docker engine socket, PostgreSQL, redis-server, busybox or the aws CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerDriver } from '../../src/agent/drivers/docker.js';
import { DockerEngine, defaultDockerSocket } from '../../src/agent/drivers/dockerApi.js';
import { awsEnvFor, awsOk, eventually, freePort, hasAwsCli, startTestBerth } from '../helpers/fixture.js';
import { berth, REPO_ROOT, shell } from './helpers.js';
import { testAgent } from '../helpers/agents.js';

const APP = join(REPO_ROOT, 'examples', 'compose-stack');
const FILE = join(APP, 'compose.yaml');

function missing(): string | false {
  if (!existsSync(defaultDockerSocket())) return `no docker engine socket at ${defaultDockerSocket()}`;
  if (!existsSync('/usr/lib/postgresql')) return 'PostgreSQL is not installed (apt-get install postgresql)';
  if (spawnSync('sh', ['-c', 'command -v redis-server && command -v redis-cli && command -v busybox']).status !== 0) return 'redis-server, redis-cli or busybox is not installed (apt-get install redis-server busybox-static)';
  if (!hasAwsCli()) return 'the aws CLI is not installed';
  return false;
}

test('compose up --build on docker: the API reads and writes PostgreSQL and Redis through the front; one service rolls; down leaves nothing', { skip: missing() }, async () => {
  const server = await startTestBerth();
  server.controller.configure({ intervalMs: 100 });
  server.loadBalancer.configure({ secondMs: 50 });
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-compose-stack-'));
  const contexts = join(stateDir, 'contexts');
  const project = `st${process.pid}`;
  const agent = testAgent(server, join(stateDir, 'agent'), { driver: new DockerDriver() });
  const frontPort = await freePort();
  const env: NodeJS.ProcessEnv = { AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey, AWS_ENDPOINT_URL: server.url, CONTEXTS: contexts, FRONT_PORT: String(frontPort) };
  const awsEnv = awsEnvFor(server.url, server.credentials);
  const compose = (args: string[], extra: NodeJS.ProcessEnv = {}) => berth(['compose', '-f', FILE, '-p', project, ...args], { ...env, ...extra });
  const engine = new DockerEngine();
  /** What went wrong, for a failed assertion's message: the services' last events and the stopped tasks' reasons. */
  const diagnosis = async () => {
    const ps = await compose(['ps', '-a']);
    const services = await awsOk(awsEnv, ['ecs', 'describe-services', '--cluster', 'default', '--services', ...['api', 'front', 'client', 'worker'].map((s) => `${project}-${s}`)]).catch((e) => ({ services: [], error: String(e) }));
    const events = services.services.map((s: { serviceName: string; events?: Array<{ message: string }> }) => `${s.serviceName}: ${(s.events ?? []).slice(0, 4).map((e) => e.message).join(' | ')}`);
    const stopped = await awsOk(awsEnv, ['ecs', 'list-tasks', '--cluster', 'default', '--desired-status', 'STOPPED']);
    const reasons = stopped.taskArns.length ? (await awsOk(awsEnv, ['ecs', 'describe-tasks', '--cluster', 'default', '--tasks', ...stopped.taskArns.slice(0, 20)])).tasks.map((t: { group: string; stoppedReason?: string; containers: Array<{ reason?: string; exitCode?: number }> }) => `${t.group}: ${t.stoppedReason} ${t.containers.map((c) => `${c.exitCode ?? ''} ${c.reason ?? ''}`).join(';')}`) : [];
    return `\n${ps.stdout}\n${events.join('\n')}\nstopped:\n${reasons.join('\n')}`;
  };
  try {
    const laid = spawnSync(process.execPath, [join(APP, 'contexts.mjs'), contexts], { encoding: 'utf8' });
    assert.equal(laid.status, 0, laid.stderr);
    const pgVersion = spawnSync('cat', [join(contexts, 'postgres', 'version')], { encoding: 'utf8' }).stdout.trim();
    env.PG_VERSION = pgVersion;
    await agent.start();

    const up = await compose(['up', '--build', '--wait-timeout', '3m']);
    assert.equal(up.status, 0, up.stderr + (up.status ? await diagnosis() : ''));
    const said = up.stderr;
    const at = (s: string) => {
      const i = said.indexOf(s);
      assert.ok(i >= 0, `up says "${s}":\n${said}`);
      return i;
    };
    // Three images built (the five node services share one), each pushed to Berth's registry.
    assert.equal(said.match(/compose: building /g)?.length, 3, said);
    assert.match(said, /compose: building stack\/app:1 \(api, client, front, migrate, worker\)/);
    assert.ok(at('compose: postgres created') < at('compose: migrate waits for postgres (healthy)'));
    assert.ok(at('compose: migrate runs once') < at('compose: api waits for postgres (healthy)'));
    assert.ok(at('compose: api waits for postgres (healthy)') < at('compose: api created'));
    assert.ok(at('compose: api created') < at('compose: front created'));

    // The task definitions run the pushed images, by digest, from Berth's registry.
    const registry = new URL(server.url).host;
    for (const s of ['api', 'postgres', 'redis']) {
      const td = await awsOk(awsEnv, ['ecs', 'describe-task-definition', '--task-definition', `${project}-${s}`]);
      const repo = s === 'api' ? 'stack/app' : `stack/${s}`;
      assert.match(td.taskDefinition.containerDefinitions[0].image, new RegExp(`^${registry.replace(/\./g, '\\.')}/${repo}@sha256:[0-9a-f]{64}$`));
    }
    const images = await awsOk(awsEnv, ['ecr', 'describe-images', '--repository-name', 'stack/app']);
    assert.deepEqual(images.imageDetails.map((d: { imageTags: string[] }) => d.imageTags), [['1']]);

    // Through the front: Berth's load balancer on the published port, the front proxy, the API.
    const front = `http://127.0.0.1:${frontPort}`;
    // The listener's data plane may take a moment to serve the new listener's port.
    await eventually(async () => (await shell(`curl -sf ${front}/health`)).status === 0, { timeoutMs: 30_000, what: `the front answering on ${front}` });
    const write = await shell(`curl -sf -X POST "${front}/items?name=apple" && curl -sf -X POST "${front}/items?name=pear"`);
    assert.equal(write.status, 0, write.stderr);
    const read = await eventually(async () => {
      const body = JSON.parse((await shell(`curl -sf ${front}/items`)).stdout || '{}');
      return body.processed === 2 && body;
    }, { timeoutMs: 30_000, what: 'the worker processing both items (Redis list -> PostgreSQL row)' });
    assert.deepEqual(read.items, ['apple', 'pear'], 'rows written to and read from PostgreSQL');
    assert.equal(read.writes, 2, 'a counter in Redis (reached by its hostname `cache`)');
    assert.match(read.server, new RegExp(`^${pgVersion}\\.`), 'a real PostgreSQL answers');
    assert.match(read.redis, /^\d+\.\d+/, 'a real Redis answers');
    assert.equal(read.greeting, 'hello');
    assert.equal(read.version, '1', 'the build arg reached the image');

    // service_healthy held: the API started after PostgreSQL said it was ready (both clocks are this host's).
    assert.equal(read.dbAtStart, true);
    const pgLogs = await compose(['logs', 'postgres']);
    const ready = /(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC \[\d+\] LOG: +database system is ready to accept connections/.exec(pgLogs.stdout);
    assert.ok(ready, pgLogs.stdout);
    assert.ok(Date.parse(`${ready[1]!.replace(' ', 'T')}Z`) <= Date.parse(read.startedAt), `api started ${read.startedAt}, postgres ready ${ready[1]}`);

    const clientSaw = await eventually(async () => {
      const r = await compose(['logs', 'client']);
      return /client: 200, 2 items, 2 processed/.test(r.stdout) && r.stdout;
    }, { timeoutMs: 20_000, what: 'the client reading through the front by name' });
    assert.match(clientSaw, /client reading http:\/\/front:8080\/items/);

    // A changed environment on one service rolls that service only (no build: the images are in the registry).
    const tdOf = async () => {
      const out = await awsOk(awsEnv, ['ecs', 'describe-services', '--cluster', 'default', '--services', ...['api', 'front', 'postgres', 'redis', 'worker', 'client'].map((s) => `${project}-${s}`)]);
      return Object.fromEntries(out.services.map((s: { serviceName: string; taskDefinition: string }) => [s.serviceName.slice(project.length + 1), s.taskDefinition.split('/').pop()]));
    };
    const before = await tdOf();
    const again = await compose(['up', '--wait-timeout', '3m'], { GREETING: 'bonjour' });
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /compose: building/);
    assert.match(again.stderr, new RegExp(`compose: api updated: rolling to ${project}-api:2`));
    const after = await tdOf();
    for (const s of ['front', 'postgres', 'redis', 'worker', 'client']) {
      assert.match(again.stderr, new RegExp(`compose: ${s} unchanged`));
      assert.equal(after[s], before[s], `${s} kept its task definition`);
    }
    // The name `api` may still resolve to the old task for a moment while it stops (docker's DNS round robin).
    const rolled = await eventually(async () => {
      const body = JSON.parse((await shell(`curl -sf ${front}/items`)).stdout || '{}');
      return body.greeting === 'bonjour' && body;
    }, { timeoutMs: 30_000, what: 'the rolled API answering through the front' });
    assert.deepEqual(rolled.items, ['apple', 'pear'], 'PostgreSQL kept its rows: it was not restarted');

    const down = await compose(['down']);
    assert.equal(down.status, 0, down.stderr);
    // Deleted services leave the list once the controller has seen their tasks stopped (DRAINING ->
    // INACTIVE). The example's processes end on SIGTERM (node handlers; postgres stops on SIGINT,
    // its image's STOPSIGNAL); the deadline is past ECS's 30 s stop timeout all the same.
    await eventually(async () => (await awsOk(awsEnv, ['ecs', 'list-services', '--cluster', 'default'])).serviceArns.length === 0, { timeoutMs: 90_000, what: 'no service left' });
    assert.deepEqual((await awsOk(awsEnv, ['ecs', 'list-tasks', '--cluster', 'default'])).taskArns, []);
    assert.deepEqual((await awsOk(awsEnv, ['ecs', 'list-task-definitions', '--family-prefix', `${project}-`])).taskDefinitionArns, []);
    assert.deepEqual((await awsOk(awsEnv, ['elbv2', 'describe-load-balancers'])).LoadBalancers, [], 'no load balancer, so no listener and no rule');
    assert.deepEqual((await awsOk(awsEnv, ['elbv2', 'describe-target-groups'])).TargetGroups, []);
    assert.deepEqual((await awsOk(awsEnv, ['logs', 'describe-log-groups'])).logGroups, []);
    await eventually(async () => {
      const left = await engine.call<unknown[]>('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`berth.network=berth-compose-${project}`] }))}`);
      return left.length === 0 && (await engine.callOr404('GET', `/networks/berth-compose-${project}`)) === undefined;
    }, { timeoutMs: 90_000, what: 'no container of the project and no project network left' });
  } finally {
    // A failed run still removes what it made (best effort), before the agent stops.
    await compose(['down', '--timeout', '1m']).catch(() => undefined);
    await agent.close({ stopTasks: true });
    await server.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
