// End to end with real agents: two `Agent`s (process driver) run a service's tasks as real
// processes behind a Berth load balancer; a rolling update to revision 2 serves every request
// through the listener (old answers, then new ones, never an error) and ends steady.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import {
  ECSClient,
  CreateClusterCommand,
  RegisterTaskDefinitionCommand,
  CreateServiceCommand,
  UpdateServiceCommand,
  DescribeServicesCommand,
  type Service,
} from '@aws-sdk/client-ecs';
import {
  ElasticLoadBalancingV2Client,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  CreateListenerCommand,
  ModifyTargetGroupAttributesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { startTestBerth, awsOk, hasAwsCli, eventually } from '../helpers/fixture.js';
import { Agent } from '../../src/agent/agent.js';
import {  } from '../../src/control/serviceController.js';
import { freePort } from '../lb/backends.js';
import { testAgent } from '../helpers/agents.js';

const WEB_JS = "require('http').createServer((q,s)=>s.end(process.env.VERSION)).listen(process.env.PORT)";

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
    req.end();
  });
}

test('real agents (process driver): service behind a load balancer, rolling update v1 -> v2 without a failed request', async (t) => {
  if (!hasAwsCli()) return t.skip('aws CLI not installed');
  const berth = await startTestBerth();
  berth.controller.configure({ intervalMs: 100 });
  berth.loadBalancer.configure({ secondMs: 50 });
  const ecs = new ECSClient(berth.clientConfig);
  const elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  const dirs: string[] = [];
  const agents: Agent[] = [];
  try {
    const C = 'e2e';
    await ecs.send(new CreateClusterCommand({ clusterName: C }));
    for (const az of ['us-east-1a', 'us-east-1b']) {
      const stateDir = mkdtempSync(join(tmpdir(), 'berth-svc-agent-'));
      dirs.push(stateDir);
      const agent = testAgent(berth, stateDir, { cluster: C, attributes: { 'ecs.availability-zone': az }, cpu: 1024, memoryMiB: 1024 });
      await agent.start();
      agents.push(agent);
    }
    const lbArn = (await elb.send(new CreateLoadBalancerCommand({ Name: 'e2e', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
    const tg = (
      await elb.send(new CreateTargetGroupCommand({ Name: 'e2e-web', Protocol: 'HTTP', Port: 80, TargetType: 'ip', HealthCheckPath: '/', HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2, HealthyThresholdCount: 2 }))
    ).TargetGroups![0]!.TargetGroupArn!;
    await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
    const port = await freePort();
    await elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: port, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] }));
    for (const v of ['v1', 'v2']) {
      await ecs.send(
        new RegisterTaskDefinitionCommand({
          family: 'e2e',
          containerDefinitions: [{ name: 'web', image: 'host', essential: true, cpu: 128, memory: 64, portMappings: [{ containerPort: 8080, hostPort: 0 }], command: [process.execPath, '-e', WEB_JS], environment: [{ name: 'VERSION', value: v }] }],
        }),
      );
    }
    await ecs.send(
      new CreateServiceCommand({ cluster: C, serviceName: 'web', taskDefinition: 'e2e:1', desiredCount: 2, loadBalancers: [{ targetGroupArn: tg, containerName: 'web', containerPort: 8080 }] }),
    );
    const describe = async (): Promise<Service> => (await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['web'] }))).services![0]!;
    await eventually(async () => (await describe()).events!.some((e) => e.message!.includes('steady state')), { what: 'v1 steady', timeoutMs: 30_000 });
    assert.equal((await get(port)).body, 'v1');

    const replies: { status: number; body: string }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) replies.push(await get(port));
    })();
    await ecs.send(new UpdateServiceCommand({ cluster: C, service: 'web', taskDefinition: 'e2e:2' }));
    await eventually(
      async () => {
        const s = await describe();
        return s.deployments!.length === 1 && s.deployments![0]!.rolloutState === 'COMPLETED' && s.taskDefinition!.endsWith('e2e:2') && s.runningCount === 2 && s.events![0]!.message!.includes('steady state');
      },
      { what: 'v2 rolled out', timeoutMs: 30_000 },
    );
    sampling = false;
    await sampler;
    await awsOk(berth.awsEnv, ['ecs', 'wait', 'services-stable', '--cluster', C, '--services', 'web']);
    const bad = replies.filter((r) => r.status !== 200);
    assert.deepEqual(bad, [], `${bad.length} of ${replies.length} requests failed`);
    assert.ok(replies.some((r) => r.body === 'v1') && replies.some((r) => r.body === 'v2'), 'old answers, then new ones');
    assert.equal((await get(port)).body, 'v2');
  } finally {
    for (const a of agents) await a.close({ stopTasks: true });
    ecs.destroy();
    elb.destroy();
    await berth.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
