// `berth deploy --blue-green` against a real Berth, a real agent (process driver: each task is a
// tiny node HTTP server) and the embedded load balancer, with a load generator on the production
// listener the whole time: green (a task set behind the second target group) gets the test
// listener first, then production by the listener's weights, bakes, and blue goes, with not one
// failed request; a green that turns unhealthy while baking is rolled back by the weights alone
// (blue's tasks never stop) and berth deploy exits 1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, CreateServiceCommand, CreateTaskSetCommand, DescribeServicesCommand, DescribeTaskSetsCommand, ListTasksCommand, RegisterTaskDefinitionCommand, UpdateServicePrimaryTaskSetCommand } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client, CreateLoadBalancerCommand, CreateListenerCommand, DescribeListenersCommand, ModifyTargetGroupAttributesCommand, DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { eventually } from '../helpers/fixture.js';
import { createTestTargetGroup, freePort, get, loadGenerator } from '../lb/backends.js';
import { berth, startBerthCli, startCliBerth, type CliBerth } from './helpers.js';

/** The container: answers with its VERSION; /health fails once the file $FLAG exists. */
const WEB_JS =
  "const fs=require('fs');require('http').createServer((q,s)=>{if(q.url==='/health'&&process.env.FLAG&&fs.existsSync(process.env.FLAG)){s.statusCode=500;return s.end('sick')}s.setHeader('x-backend',process.env.VERSION);s.end(process.env.VERSION)}).listen(process.env.PORT)";

let cb: CliBerth;
let ecs: ECSClient;
let elb: ElasticLoadBalancingV2Client;
let prodPort: number;
let testPort: number;
let prodListener: string;
let testListener: string;
let blueTg: string;
let greenTg: string;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-bg-'));
  cb = await startCliBerth();
  ecs = new ECSClient(cb.berth.clientConfig);
  elb = new ElasticLoadBalancingV2Client(cb.berth.clientConfig);
  const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: 'bg', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
  blueTg = await createTestTargetGroup(elb, 'bg-blue', { HealthCheckPath: '/health' });
  greenTg = await createTestTargetGroup(elb, 'bg-green', { HealthCheckPath: '/health' });
  for (const tg of [blueTg, greenTg]) await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
  const both = { Type: 'forward' as const, ForwardConfig: { TargetGroups: [{ TargetGroupArn: blueTg, Weight: 1 }, { TargetGroupArn: greenTg, Weight: 0 }] } };
  prodPort = await freePort();
  testPort = await freePort();
  prodListener = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTP', Port: prodPort, DefaultActions: [both] }))).Listeners![0]!.ListenerArn!;
  testListener = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTP', Port: testPort, DefaultActions: [both] }))).Listeners![0]!.ListenerArn!;
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'web',
      containerDefinitions: [{ name: 'web', image: 'host', memory: 32, portMappings: [{ containerPort: 8080, hostPort: 0 }], command: [process.execPath, '-e', WEB_JS], environment: [{ name: 'VERSION', value: 'v1' }] }],
    }),
  );
  await ecs.send(new CreateServiceCommand({ cluster: 'default', serviceName: 'web', desiredCount: 2, deploymentController: { type: 'EXTERNAL' } }));
  const blue = (await ecs.send(new CreateTaskSetCommand({ cluster: 'default', service: 'web', taskDefinition: 'web:1', loadBalancers: [{ targetGroupArn: blueTg, containerName: 'web', containerPort: 8080 }] }))).taskSet!;
  await ecs.send(new UpdateServicePrimaryTaskSetCommand({ cluster: 'default', service: 'web', primaryTaskSet: blue.id! }));
  await eventually(async () => (await healthy(blueTg)) === 2, { what: 'blue: 2 healthy targets', timeoutMs: 30_000 });
  // Health is checked by the control plane; the listeners are served by a data-plane process that
  // may still be starting (a loaded machine): the deploy starts once both answer.
  for (const port of [prodPort, testPort]) await eventually(async () => (await get(port, '/').catch(() => undefined))?.status === 200, { what: `the listener on ${port} answering`, timeoutMs: 30_000 });
});
after(async () => {
  ecs.destroy();
  elb.destroy();
  await cb.close();
  rmSync(dir, { recursive: true, force: true });
});

async function healthy(tg: string): Promise<number> {
  return ((await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions ?? []).filter((h) => h.TargetHealth?.State === 'healthy').length;
}

async function weights(listener: string): Promise<Record<string, number>> {
  const l = (await elb.send(new DescribeListenersCommand({ ListenerArns: [listener] }))).Listeners![0]!;
  const out: Record<string, number> = {};
  for (const g of l.DefaultActions![0]!.ForwardConfig!.TargetGroups!) out[g.TargetGroupArn === blueTg ? 'blue' : 'green'] = g.Weight!;
  return out;
}

/** Polls a listener and remembers when it first answered each version. */
function watchVersions(port: number) {
  const firstSeen = new Map<string, number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const r = await get(port, '/');
        const v = String(r.headers['x-backend'] ?? '');
        if (v && !firstSeen.has(v)) firstSeen.set(v, Date.now());
      } catch {
        // counted by the load generator on production; the test listener is only watched
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    firstSeen,
    async stop() {
      running = false;
      await loop;
    },
  };
}

test('berth deploy --blue-green: green on the test listener first, then production by weights, bake, blue removed; no failed request', async () => {
  const load = loadGenerator(prodPort, '/', 2);
  const onTest = watchVersions(testPort);
  const onProd = watchVersions(prodPort);
  const r = await berth(['deploy', 'web', '--env', 'VERSION=v2', '--blue-green', '--listener', prodListener, '--test-listener', testListener, '--test-wait', '1s', '--bake', '2s'], cb.env);
  await load.stop();
  await onTest.stop();
  await onProd.stop();
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^Registered web:2 \(from web:1, env VERSION\)\n/);
  assert.match(r.stdout, /\nBlue\/green deploy of web in cluster default: web:1 \(blue, bg-blue\) → web:2 \(green, bg-green\)\n/);
  assert.match(r.stdout, /\n {2}green: 2\/2 running · 2\/2 healthy in bg-green\n {2}test listener → green \(1s before production\)\n {2}production listener → green\n {2}baking for 2s\n/);
  assert.match(r.stdout, /\n✔ web: web:2 serves production \(task set ecs-svc\/\d+\) after \d+s\n$/);
  assert.equal(load.failures(), 0, `failed requests during the deploy: ${JSON.stringify([...load.stats.byStatus])}`);
  assert.ok(load.stats.byBackend.get('v1')! > 0 && load.stats.byBackend.get('v2')! > 0, JSON.stringify([...load.stats.byBackend]));
  const testFirst = onTest.firstSeen.get('v2');
  const prodFirst = onProd.firstSeen.get('v2');
  assert.ok(testFirst !== undefined && prodFirst !== undefined && testFirst < prodFirst, `the test listener saw v2 (${testFirst}) before production (${prodFirst})`);
  assert.deepEqual(await weights(prodListener), { blue: 0, green: 1 });
  const sets = (await ecs.send(new DescribeTaskSetsCommand({ cluster: 'default', service: 'web' }))).taskSets!;
  assert.equal(sets.length, 1, 'blue is gone');
  assert.equal(sets[0]!.status, 'PRIMARY');
  assert.match(sets[0]!.taskDefinition!, /web:2$/);
  assert.match((await ecs.send(new DescribeServicesCommand({ cluster: 'default', services: ['web'] }))).services![0]!.taskDefinition!, /web:2$/);
  await eventually(async () => (await healthy(blueTg)) === 0 && (await healthy(greenTg)) === 2, { what: 'blue drained, green serving', timeoutMs: 20_000 });
});

test('berth deploy --blue-green whose green turns unhealthy while baking: rolled back by the listener weights alone, exit 1', async () => {
  // Now green (web:2, bg-green) is the blue of this round: the new revision goes behind bg-blue.
  blueTg = greenTg; // names of the roles this round
  const flag = join(dir, 'sick');
  const blueTasks = new Set((await ecs.send(new ListTasksCommand({ cluster: 'default', serviceName: 'web' }))).taskArns);
  const weightsBefore = await weights(prodListener);
  const load = loadGenerator(prodPort, '/', 2);
  const run = startBerthCli(['deploy', 'web', '--env', 'VERSION=v3', '--env', `FLAG=${flag}`, '--blue-green', '--listener', prodListener, '--test-listener', testListener, '--test-wait', '1s', '--bake', '60s'], cb.env);
  // Once production serves v3, v3's health checks start failing.
  await eventually(async () => (await get(prodPort, '/')).headers['x-backend'] === 'v3', { what: 'production on v3', timeoutMs: 60_000 });
  writeFileSync(flag, '');
  const r = await run.done;
  await load.stop();
  assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /\n {2}production listener → green\n {2}baking for 1m00s\n {2}production and test listeners → blue\n$/);
  assert.match(r.stderr, /^berth: web: bake failed \(\d green targets? unhealthy in bg-blue\); traffic is back on blue \(web:2\) by the listener weights and green task set ecs-svc\/\d+ was deleted\n$/);
  assert.deepEqual(await weights(prodListener), weightsBefore, 'production forwards as before');
  assert.equal((await get(prodPort, '/')).headers['x-backend'], 'v2');
  assert.equal(load.failures(), 0, `failed requests: ${JSON.stringify([...load.stats.byStatus])}`);
  // Blue was never touched: the same tasks still run; green goes.
  await eventually(async () => (await ecs.send(new DescribeTaskSetsCommand({ cluster: 'default', service: 'web' }))).taskSets!.length === 1, { what: 'green removed', timeoutMs: 20_000 });
  const now = new Set((await ecs.send(new ListTasksCommand({ cluster: 'default', serviceName: 'web', desiredStatus: 'RUNNING' }))).taskArns);
  assert.deepEqual(now, blueTasks, 'the blue tasks kept running, none replaced');
});
