// `berth compose` end to end on the process driver, with the example app of
// examples/compose-shop (front proxy behind Berth's load balancer, API server, worker, a
// Redis-like and a Postgres-like store, a migration job; small Node scripts wired by service
// name, hostname and environment only): up in dependency order (the API starts only once the
// database is healthy, after the migration completed), a curl through the front that writes and
// reads both stores, ps, logs, a changed environment rolling only its service, logs -f ending by
// itself, and down leaving nothing behind, as the aws CLI sees it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { awsEnvFor, awsOk, eventually, freePort, hasAwsCli } from '../helpers/fixture.js';
import { berth, REPO_ROOT, shell, startBerthCli, startCliBerth, type CliBerth } from './helpers.js';

const APP = join(REPO_ROOT, 'examples', 'compose-shop');
const FILE = join(APP, 'compose.yaml');
const SERVICES = ['api', 'front', 'postgres', 'redis', 'worker'];

let cb: CliBerth;
let env: NodeJS.ProcessEnv;
let awsEnv: NodeJS.ProcessEnv;
let frontPort: number;

before(async () => {
  cb = await startCliBerth();
  frontPort = await freePort();
  env = { ...cb.env, NODE: process.execPath, APP, FRONT_PORT: String(frontPort) };
  awsEnv = awsEnvFor(cb.berth.url, cb.berth.credentials);
});
after(async () => {
  await cb.close();
});

/** The task definition each of the project's ECS services runs. */
async function taskDefinitions(): Promise<Record<string, string>> {
  const out = await awsOk(awsEnv, ['ecs', 'describe-services', '--cluster', 'default', '--services', ...SERVICES.map((s) => `shop-${s}`)]);
  return Object.fromEntries(out.services.map((s: { serviceName: string; taskDefinition: string }) => [s.serviceName.slice('shop-'.length), s.taskDefinition.split('/').pop()]));
}

test('compose up, a request through the front, a rolling change of one service, logs -f, down', { skip: !hasAwsCli() && 'the aws CLI is not installed' }, async () => {
  const up = await berth(['compose', '-f', FILE, 'up', '--wait-timeout', '2m'], env);
  assert.equal(up.status, 0, up.stderr);
  const said = up.stderr;
  // Dependencies first: the migration waits for a healthy database; the API for both.
  const at = (s: string) => {
    const i = said.indexOf(s);
    assert.ok(i >= 0, `up says "${s}":\n${said}`);
    return i;
  };
  assert.ok(at('compose: postgres created') < at('compose: migrate waits for postgres (healthy)'));
  assert.ok(at('compose: migrate runs once') < at('compose: api waits for postgres (healthy)'));
  assert.ok(at('compose: api waits for postgres (healthy)') < at('compose: api created'));
  assert.ok(at('compose: api created') < at('compose: front created'));
  assert.match(said, /compose: worker created \(shop-worker, shop-worker:1, 2 tasks\)/);

  // Through the front (Berth's load balancer listener on the published port, then the front proxy).
  const write = await shell(`curl -sf -X POST "http://127.0.0.1:${frontPort}/items?name=apple" && curl -sf -X POST "http://127.0.0.1:${frontPort}/items?name=pear"`);
  assert.equal(write.status, 0, write.stderr);
  const read = JSON.parse((await shell(`curl -sf http://127.0.0.1:${frontPort}/items`)).stdout);
  assert.deepEqual(read.items, ['apple', 'pear'], 'the API wrote and read the Postgres-like store');
  assert.equal(read.writes, 2, 'and the Redis-like one (by its hostname `cache`)');
  assert.ok(read.workerTicks > 0, 'the worker reaches the Redis-like store by service name');
  assert.equal(read.dbAtStart, true, 'the API started only once the database answered (service_healthy)');
  assert.equal(read.greeting, 'hello');
  assert.equal(read.tokenLength, 'api-secret-for-tests'.length, 'the secret file reached the API (through SSM)');

  const ps = await berth(['compose', '-p', 'shop', 'ps'], env);
  assert.equal(ps.status, 0, ps.stderr);
  for (const s of SERVICES) assert.match(ps.stdout, new RegExp(`^${s} +[0-9a-f]{32} +RUNNING`, 'm'), ps.stdout);
  assert.match(ps.stdout, /^postgres .* HEALTHY /m);
  assert.equal(ps.stdout.match(/^worker /gm)?.length, 2);

  const logs = await berth(['compose', '-p', 'shop', 'logs', 'api', 'postgres'], env);
  assert.equal(logs.status, 0, logs.stderr);
  assert.match(logs.stdout, /api starting \(database answered: true\)/);
  assert.match(logs.stdout, /POST \/items\?name=apple 200/);
  assert.match(logs.stdout, /sql listening on \d+/);

  // A changed environment on one service rolls that service only.
  const before = await taskDefinitions();
  const again = await berth(['compose', '-f', FILE, 'up', '--wait-timeout', '2m'], { ...env, GREETING: 'bonjour' });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /compose: api updated: rolling to shop-api:2/);
  for (const s of ['front', 'postgres', 'redis', 'worker']) assert.match(again.stderr, new RegExp(`compose: ${s} unchanged`));
  const afterRoll = await taskDefinitions();
  assert.equal(afterRoll.api, 'shop-api:2');
  for (const s of ['front', 'postgres', 'redis', 'worker']) assert.equal(afterRoll[s], before[s], `${s} kept its task definition`);
  const rolled = JSON.parse((await shell(`curl -sf http://127.0.0.1:${frontPort}/items`)).stdout);
  assert.equal(rolled.greeting, 'bonjour');
  assert.deepEqual(rolled.items, ['apple', 'pear'], 'the stores kept their data: they were not restarted');

  // logs -f follows every service until down removes them, then ends by itself.
  const follow = startBerthCli(['compose', '-p', 'shop', 'logs', '-f'], env);
  await eventually(() => follow.output().includes('worker started'), { timeoutMs: 20_000, what: 'logs -f printing' });
  const down = await berth(['compose', '-p', 'shop', 'down', '-v'], env);
  assert.equal(down.status, 0, down.stderr);
  assert.match(down.stderr, /compose: project shop is down/);
  const followed = await follow.done;
  assert.equal(followed.status, 0, followed.stderr);
  assert.match(followed.stdout, /worker started/);

  // Nothing is left: no service, task, task definition, load balancer, listener, target group, log group or secret.
  const services = await awsOk(awsEnv, ['ecs', 'list-services', '--cluster', 'default']);
  assert.deepEqual(services.serviceArns, []);
  const tasks = await awsOk(awsEnv, ['ecs', 'list-tasks', '--cluster', 'default']);
  assert.deepEqual(tasks.taskArns, []);
  const tds = await awsOk(awsEnv, ['ecs', 'list-task-definitions', '--family-prefix', 'shop-']);
  assert.deepEqual(tds.taskDefinitionArns, []);
  assert.deepEqual((await awsOk(awsEnv, ['elbv2', 'describe-load-balancers'])).LoadBalancers, []);
  assert.deepEqual((await awsOk(awsEnv, ['elbv2', 'describe-target-groups'])).TargetGroups, []);
  assert.deepEqual((await awsOk(awsEnv, ['logs', 'describe-log-groups'])).logGroups.map((g: { logGroupName: string }) => g.logGroupName).filter((n: string) => n.includes('shop')), []);
  assert.deepEqual((await awsOk(awsEnv, ['ssm', 'get-parameters-by-path', '--path', '/compose/shop', '--recursive'])).Parameters, []);
});
