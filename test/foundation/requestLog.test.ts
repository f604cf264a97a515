// The server's request log: one line per request with time, principal, service.operation,
// status and ms, as text or JSON, filtered by level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ECSClient, ListClustersCommand, DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client, DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { startTestBerth, errorOf, awsEnvFor, awsOk, eventually, hasAwsCli } from '../helpers/fixture.js';
import { spawnBerth } from '../helpers/processes.js';

test('info: every request, text lines with principal, service.operation, status and ms; refusals carry their error code', async () => {
  const lines: string[] = [];
  const berth = await startTestBerth({ log: { level: 'info', format: 'text', write: (l) => lines.push(l) } });
  try {
    const ecs = new ECSClient(berth.clientConfig);
    const elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
    await ecs.send(new ListClustersCommand({}));
    await elb.send(new DescribeLoadBalancersCommand({}));
    const bad = new ECSClient({ ...berth.clientConfig, credentials: { accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' } });
    assert.equal((await errorOf(bad.send(new ListClustersCommand({})))).status, 403);
    await fetch(`${berth.url}/nothing-here`);
    for (const c of [ecs, elb, bad]) c.destroy();
    const at = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;
    assert.ok(lines.every((l) => at.test(l) && l.endsWith('\n')), lines.join(''));
    assert.match(lines[0]!, / root ecs\.ListClusters 200 [\d.]+ms\n$/);
    assert.match(lines[1]!, / root elbv2\.DescribeLoadBalancers 200 [\d.]+ms\n$/);
    assert.match(lines[2]!, / AKIDNOBODY AmazonEC2ContainerServiceV20141113\.ListClusters 403 [\d.]+ms UnrecognizedClientException\n$/);
    assert.match(lines[3]!, / - GET \/nothing-here 404 [\d.]+ms NotFound\n$/);
    assert.equal(lines.length, 4);
  } finally {
    await berth.close();
  }
});

test('warn: only refused requests; json: one object a line with the request id', async () => {
  const lines: string[] = [];
  const berth = await startTestBerth({ log: { level: 'warn', format: 'json', write: (l) => lines.push(l) } });
  try {
    const ecs = new ECSClient(berth.clientConfig);
    await ecs.send(new ListClustersCommand({}));
    assert.equal((await errorOf(ecs.send(new DescribeServicesCommand({ cluster: 'nope', services: ['web'] })))).name, 'ClusterNotFoundException');
    ecs.destroy();
    assert.equal(lines.length, 1, lines.join(''));
    const r = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(r.operation, 'ecs.DescribeServices');
    assert.equal(r.error, 'ClusterNotFoundException');
    assert.equal(r.status, 400);
    assert.equal(r.level, 'warn');
    assert.equal(r.principal, 'root');
    assert.match(String(r.requestId), /^[0-9a-f-]{36}$/);
    assert.equal(typeof r.ms, 'number');
    assert.ok(r.error);
  } finally {
    await berth.close();
  }
});

test('berth up logs requests at info by default, and says when a task fails to start or its container fails', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  // An agent timeout above the agent's 5 s long poll: only the hand-registered instance below goes.
  const up = await spawnBerth(['--ephemeral', '--driver', 'process'], { BERTH_AGENT_TIMEOUT_MS: '8000' });
  try {
    await eventually(() => /agent: process driver/.test(up.output()), { what: 'the local agent' });
    const creds = /AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)/.exec(up.output())!;
    const env = awsEnvFor(up.url, { accessKeyId: creds[1]!, secretAccessKey: creds[2]! });
    await awsOk(env, ['ecs', 'register-task-definition', '--family', 'broken', '--container-definitions', JSON.stringify([{ name: 'app', image: 'host', memory: 32, command: ['/bin/true'], logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/no/such/group', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'x' } } }])]);
    await awsOk(env, ['ecs', 'register-task-definition', '--family', 'fails', '--container-definitions', JSON.stringify([{ name: 'app', image: 'host', memory: 32, command: ['/bin/sh', '-c', 'exit 7'] }])]);
    const broken = (await awsOk(env, ['ecs', 'run-task', '--task-definition', 'broken'])).tasks[0].taskArn.split('/').pop();
    const fails = (await awsOk(env, ['ecs', 'run-task', '--task-definition', 'fails'])).tasks[0].taskArn.split('/').pop();
    await eventually(() => up.output().includes(`task ${broken} (broken:1, family:broken) failed to start: ResourceInitializationError`), { what: 'the failed start in the log', timeoutMs: 20_000 });
    await eventually(() => up.output().includes(`task ${fails} (fails:1, family:fails) stopped: app exited 7`), { what: 'the failed container in the log', timeoutMs: 20_000 });
    assert.match(up.output(), /Z root ecs\.RunTask 200 [\d.]+ms/);
    // An instance whose agent stops polling is said too (here: one registered by hand, never polling).
    const ci = (await awsOk(env, ['ecs', 'register-container-instance', '--total-resources', JSON.stringify([{ name: 'CPU', type: 'INTEGER', integerValue: 1024 }])])).containerInstance.containerInstanceArn.split('/').pop();
    await eventually(() => up.output().includes(`container instance ${ci} (cluster default): its agent stopped polling`), { what: 'the disconnected agent in the log', timeoutMs: 20_000 });
    assert.match(up.output(), /Z WARN task /);
  } finally {
    up.child.kill('SIGTERM');
    await up.exited;
  }
});
