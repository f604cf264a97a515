// Berth publishes its load balancer's metrics into CloudWatch (AWS/ApplicationELB): real traffic
// through a listener to a real node:http backend, then the real aws CLI's
// `cloudwatch get-metric-statistics` and @aws-sdk/client-cloudwatch read the sums back, with
// ALB's dimensions. The publisher runs every 200 ms here (BERTH_METRICS_PUBLISH_MS).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudWatchClient, GetMetricStatisticsCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateListenerCommand, CreateLoadBalancerCommand, CreateRuleCommand, DescribeTargetHealthCommand, ElasticLoadBalancingV2Client, RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { awsOk, eventually, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { createTestTargetGroup, freePort, get } from '../lb/backends.js';

let berth: TestBerth;
let cw: CloudWatchClient;
let elb: ElasticLoadBalancingV2Client;
let backend: Server;
let port: number;
let lbDim: string;
let tgDim: string;
const started = new Date(Date.now() - 120_000);

before(async () => {
  berth = await startTestBerth({ env: { BERTH_METRICS_PUBLISH_MS: '200' } });
  berth.loadBalancer.configure({ secondMs: 50 });
  cw = new CloudWatchClient(berth.clientConfig);
  elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  // A backend answering /status/<code> with that code, /health with 200.
  backend = createServer((req, res) => {
    const m = /^\/status\/(\d{3})$/.exec(req.url ?? '');
    res.writeHead(m ? Number(m[1]) : 200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', () => r()));
  port = await freePort();
  const lb = await elb.send(new CreateLoadBalancerCommand({ Name: 'metrics-web', Subnets: ['subnet-a', 'subnet-b'] }));
  const lbArn = lb.LoadBalancers![0]!.LoadBalancerArn!;
  const tgArn = await createTestTargetGroup(elb, 'metrics-tg');
  await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tgArn, Targets: [{ Id: '127.0.0.1', Port: (backend.address() as AddressInfo).port }] }));
  const listener = await elb.send(
    new CreateListenerCommand({
      LoadBalancerArn: lbArn,
      Protocol: 'HTTP',
      Port: port,
      DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain', MessageBody: 'none' } }],
    }),
  );
  await elb.send(
    new CreateRuleCommand({ ListenerArn: listener.Listeners![0]!.ListenerArn!, Priority: 1, Conditions: [{ Field: 'path-pattern', Values: ['/status/*'] }], Actions: [{ Type: 'forward', TargetGroupArn: tgArn }] }),
  );
  await eventually(async () => (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }))).TargetHealthDescriptions?.[0]?.TargetHealth?.State === 'healthy', {
    what: 'a healthy target',
  });
  // The listener is served by a data-plane process: wait until it has applied the table.
  await berth.loadBalancer.settled();
  lbDim = lbArn.slice(lbArn.indexOf(':loadbalancer/') + ':loadbalancer/'.length);
  tgDim = tgArn.slice(tgArn.lastIndexOf(':') + 1);
});

after(async () => {
  cw?.destroy();
  elb?.destroy();
  await berth?.close();
  await new Promise((r) => backend?.close(r));
});

/** The Sum of one metric over the last minutes through the aws CLI (0 when no datapoint). */
async function cliSum(metric: string, dims: Record<string, string>): Promise<number> {
  const out = await awsOk(berth.awsEnv, [
    'cloudwatch',
    'get-metric-statistics',
    '--namespace',
    'AWS/ApplicationELB',
    '--metric-name',
    metric,
    '--dimensions',
    ...Object.entries(dims).map(([k, v]) => `Name=${k},Value=${v}`),
    '--start-time',
    started.toISOString(),
    '--end-time',
    new Date(Date.now() + 120_000).toISOString(),
    '--period',
    '3600',
    '--statistics',
    'Sum',
  ]);
  return (out.Datapoints as { Sum: number }[]).reduce((n, d) => n + d.Sum, 0);
}

test('requests through a listener show in AWS/ApplicationELB with ALB dimensions, counted once', async () => {
  for (let i = 0; i < 5; i++) assert.equal((await get(port, '/status/200')).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await get(port, '/status/503')).status, 503);
  assert.equal((await get(port, '/status/404')).status, 404);
  assert.equal((await get(port, '/nothing-here')).status, 404); // the fixed response: the load balancer's, not a target's
  const lb = { LoadBalancer: lbDim };
  const tg = { LoadBalancer: lbDim, TargetGroup: tgDim };
  await eventually(async () => (await cliSum('RequestCount', lb)) === 9, { what: 'RequestCount 9 for the load balancer', timeoutMs: 20_000, intervalMs: 300 });
  assert.equal(await cliSum('RequestCount', tg), 8);
  assert.equal(await cliSum('HTTPCode_Target_2XX_Count', tg), 5);
  assert.equal(await cliSum('HTTPCode_Target_5XX_Count', tg), 2);
  assert.equal(await cliSum('HTTPCode_Target_4XX_Count', tg), 1);
  assert.equal(await cliSum('HTTP_Fixed_Response_Count', lb), 1);
  // Several more publisher runs later nothing is counted twice.
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal(await cliSum('RequestCount', lb), 9);
  assert.equal(await cliSum('RequestCount', tg), 8);

  // TargetResponseTime: one sample per target response, in seconds.
  const rt = await cw.send(
    new GetMetricStatisticsCommand({
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'TargetResponseTime',
      Dimensions: [{ Name: 'LoadBalancer', Value: lbDim }, { Name: 'TargetGroup', Value: tgDim }],
      StartTime: started,
      EndTime: new Date(Date.now() + 120_000),
      Period: 3600,
      Statistics: ['SampleCount', 'Maximum'],
    }),
  );
  assert.equal(rt.Datapoints!.reduce((n, d) => n + d.SampleCount!, 0), 8);
  assert.equal(rt.Datapoints![0]!.Unit, 'Seconds');
  assert.ok(rt.Datapoints![0]!.Maximum! >= 0 && rt.Datapoints![0]!.Maximum! < 5);

  // The health gauges, per target group.
  const healthy = await cw.send(
    new GetMetricStatisticsCommand({
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HealthyHostCount',
      Dimensions: [{ Name: 'TargetGroup', Value: tgDim }, { Name: 'LoadBalancer', Value: lbDim }],
      StartTime: started,
      EndTime: new Date(Date.now() + 120_000),
      Period: 60,
      Statistics: ['Maximum'],
    }),
  );
  assert.ok(healthy.Datapoints!.length >= 1);
  assert.equal(Math.max(...healthy.Datapoints!.map((d) => d.Maximum!)), 1);

  const listed = await cw.send(new ListMetricsCommand({ Namespace: 'AWS/ApplicationELB', MetricName: 'RequestCount' }));
  const dimsOf = (listed.Metrics ?? []).map((m) => (m.Dimensions ?? []).map((d) => `${d.Name}=${d.Value}`).sort().join(','));
  assert.deepEqual(dimsOf.sort(), [`LoadBalancer=${lbDim}`, `LoadBalancer=${lbDim},TargetGroup=${tgDim}`].sort());
  assert.match(lbDim, /^app\/metrics-web\/[0-9a-f]+$/);
  assert.match(tgDim, /^targetgroup\/metrics-tg\/[0-9a-f]+$/);
});
