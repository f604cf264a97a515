// The server's request log: one line per request with time, principal, service.operation,
// status and ms, as text or JSON, filtered by level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ECSClient, ListClustersCommand, DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client, DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { startTestBerth, errorOf } from '../helpers/fixture.js';

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
