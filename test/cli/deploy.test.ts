// `berth deploy` and `berth rollback` against a real Berth, a real agent (process driver: each
// task is a tiny node HTTP server) and a real load balancer, with a load generator on the
// listener the whole time: a new revision rolls out with progress printed, exit 0 and not one
// failed request; a revision whose container exits at once trips the deployment circuit
// breaker, is rolled back, and `berth deploy` exits 1 with the breaker's reason; `berth
// rollback` returns the service to the revision before.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ECSClient, RegisterTaskDefinitionCommand, CreateServiceCommand, DescribeServicesCommand, type Service } from '@aws-sdk/client-ecs';
import {
  ElasticLoadBalancingV2Client,
  CreateLoadBalancerCommand,
  CreateListenerCommand,
  ModifyTargetGroupAttributesCommand,
  DescribeTargetHealthCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { eventually } from '../helpers/fixture.js';
import { createTestTargetGroup, TASK_TARGET_HEALTH, freePort, loadGenerator } from '../lb/backends.js';
import { berth, startCliBerth, type CliBerth } from './helpers.js';

/** The container: answers every request with its VERSION (body and x-backend header). */
const WEB_JS = "require('http').createServer((q,s)=>{s.setHeader('x-backend',process.env.VERSION);s.end(process.env.VERSION)}).listen(process.env.PORT)";

let cb: CliBerth;
let ecs: ECSClient;
let elb: ElasticLoadBalancingV2Client;
let port: number;
let targetGroup: string;

async function describe(): Promise<Service> {
  return (await ecs.send(new DescribeServicesCommand({ cluster: 'default', services: ['web'] }))).services![0]!;
}

async function healthyTargets(): Promise<number> {
  const out = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroup }));
  return (out.TargetHealthDescriptions ?? []).filter((h) => h.TargetHealth?.State === 'healthy').length;
}

before(async () => {
  cb = await startCliBerth();
  ecs = new ECSClient(cb.berth.clientConfig);
  elb = new ElasticLoadBalancingV2Client(cb.berth.clientConfig);
  const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: 'cli', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
  targetGroup = await createTestTargetGroup(elb, 'cli-web', { HealthCheckPath: '/', ...TASK_TARGET_HEALTH });
  await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: targetGroup, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
  port = await freePort();
  await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTP', Port: port, DefaultActions: [{ Type: 'forward', TargetGroupArn: targetGroup }] }));
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'web',
      containerDefinitions: [{ name: 'web', image: 'host', memory: 32, portMappings: [{ containerPort: 8080, hostPort: 0 }], command: [process.execPath, '-e', WEB_JS], environment: [{ name: 'VERSION', value: 'v1' }] }],
    }),
  );
  await ecs.send(
    new CreateServiceCommand({
      cluster: 'default',
      serviceName: 'web',
      taskDefinition: 'web:1',
      desiredCount: 2,
      loadBalancers: [{ targetGroupArn: targetGroup, containerName: 'web', containerPort: 8080 }],
      deploymentConfiguration: { minimumHealthyPercent: 100, maximumPercent: 200, deploymentCircuitBreaker: { enable: true, rollback: true } },
    }),
  );
  await eventually(async () => {
    const s = await describe();
    return s.deployments!.length === 1 && s.deployments![0]!.rolloutState === 'COMPLETED' && (await healthyTargets()) === 2;
  }, { what: 'web:1 steady behind the load balancer', timeoutMs: 30_000 });
});
after(async () => {
  ecs.destroy();
  elb.destroy();
  await cb.close();
});

test('berth deploy --env: registers web:2, rolls it out with progress, exits 0; the load generator sees no failed request', async () => {
  const load = loadGenerator(port, '/', 2);
  const r = await berth(['deploy', 'web', '--env', 'VERSION=v2'], cb.env);
  await load.stop();
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.equal(r.stderr, '');
  const out = r.stdout;
  assert.match(out, /^Registered web:2 \(from web:1, env VERSION\)\n/);
  assert.match(out, /\nDeploying web in cluster default: web:1 → web:2 \(deployment ecs-svc\/\d+\)\n/);
  // Plain lines in a pipe, one per change: the new tasks start, get healthy in the target group...
  assert.match(out, /\n {2}web:2 \(new\) +IN_PROGRESS +\d\/2 running/);
  assert.match(out, /\n {2}web:2 \(new\) +(IN_PROGRESS|COMPLETED) +2\/2 running · 2\/2 healthy in cli-web\n/);
  // ...the old ones drain and stop, and the service's events come along.
  assert.match(out, /\n {2}web:1 \(old\) +\d running · [12] draining · \d stopped\n/);
  assert.match(out, /\n {2}web:1 \(old\) +0 running · 0 draining · 2 stopped\n/);
  assert.match(out, /\n\d\d:\d\d:\d\d {2}registered 1 targets in \(target-group cli-web\)\n/);
  assert.match(out, /\n\d\d:\d\d:\d\d {2}has begun draining connections on \d tasks\.\n/);
  assert.match(out, /\n\d\d:\d\d:\d\d {2}\(deployment ecs-svc\/\d+\) deployment completed\.\n/);
  assert.match(out, /\n✔ web: deployment ecs-svc\/\d+ completed in \d+s: web:2, 2 tasks running\n$/);
  assert.doesNotMatch(out, /\u001b/, 'no escape codes in a pipe');
  // Every line printed once in a row: a pipe gets one line per change, not a redraw per poll.
  const lines = out.split('\n');
  for (let i = 1; i < lines.length; i++) if (lines[i]!.startsWith('  ')) assert.notEqual(lines[i], lines[i - 1], `line ${i} repeats`);

  assert.equal(load.failures(), 0, `failed requests during the deploy: ${JSON.stringify([...load.stats.byStatus])}`);
  assert.ok(load.stats.byBackend.get('v1')! > 0 && load.stats.byBackend.get('v2')! > 0, `old answers, then new ones: ${JSON.stringify([...load.stats.byBackend])}`);
  const s = await describe();
  assert.match(s.taskDefinition!, /task-definition\/web:2$/);
  assert.equal(s.runningCount, 2);
});

test('berth deploy of a revision that exits at once: the circuit breaker fails it, rolls back, and berth deploy exits 1 with the reason', async () => {
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'web',
      containerDefinitions: [{ name: 'web', image: 'host', memory: 32, portMappings: [{ containerPort: 8080, hostPort: 0 }], command: ['sh', '-c', 'echo crashing; exit 1'] }],
    }),
  );
  const load = loadGenerator(port, '/', 2);
  const r = await berth(['deploy', 'web', '--task-definition', 'web:3'], cb.env);
  await load.stop();
  assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(
    r.stderr,
    /^berth: web: deployment ecs-svc\/\d+ failed: ECS deployment circuit breaker: tasks failed to start \(\d+ tasks failed; first: task [0-9a-f]{32} has stopped: Essential container in task exited \(web exited 1\)\); rolled back to web:2 \(rollback completed\)\n$/,
  );
  assert.match(r.stdout, /^Deploying web in cluster default: web:2 → web:3 \(deployment ecs-svc\/\d+\)\n/);
  assert.match(r.stdout, /\n {2}web:3 \(new\) +FAILED +0\/2 running · 0\/2 healthy in cli-web · \d+ failed\n/);
  assert.match(r.stdout, /\n {2}web:2 \(rollback\) +COMPLETED +2\/2 running · 2\/2 healthy in cli-web\n/);
  assert.match(r.stdout, /deployment failed: tasks failed to start\.\n/);
  assert.match(r.stdout, /rolling back to deployment ecs-svc\/\d+\.\n/);
  assert.equal(load.failures(), 0, `the old revision kept serving: ${JSON.stringify([...load.stats.byStatus])}`);
  const s = await describe();
  assert.match(s.taskDefinition!, /task-definition\/web:2$/, 'the service is back on web:2');
});

test('berth rollback: back to the revision before (web:1), followed to completion; --output json is one document', async () => {
  const load = loadGenerator(port, '/', 2);
  const r = await berth(['rollback', 'web', '--output', 'json'], cb.env);
  await load.stop();
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.outcome, 'COMPLETED');
  assert.equal(doc.service, 'web');
  assert.equal(doc.previousTaskDefinition, 'web:2');
  assert.equal(doc.taskDefinition, 'web:1');
  assert.equal(doc.rolloutState, 'COMPLETED');
  assert.match(doc.deploymentId, /^ecs-svc\/\d+$/);
  assert.ok(doc.events.some((e: { message: string }) => /deployment completed/.test(e.message)));
  assert.equal(load.failures(), 0);
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'v1');

  // Deploying what already runs changes nothing and says so; --detach returns at once.
  const same = await berth(['deploy', 'web', '--task-definition', 'web:1'], cb.env);
  assert.equal(same.status, 0, same.stderr);
  assert.match(same.stdout, /^web already runs web:1: nothing to deploy/);
  const detached = await berth(['deploy', 'web', '--task-definition', 'web:2', '--detach'], cb.env);
  assert.equal(detached.status, 0, detached.stderr);
  assert.match(detached.stdout, /^Deploying web: web:1 → web:2, deployment ecs-svc\/\d+ started \(follow it with: berth events web -f\)\n$/);
  await eventually(async () => (await describe()).deployments!.length === 1, { what: 'the detached deployment to finish', timeoutMs: 30_000 });
});
