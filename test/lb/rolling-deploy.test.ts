// The seed rolling-deploy scenario of issue 19 on each load balancer plane: three real agents
// (process driver) run a service of 4 tasks behind a Berth listener; a new revision rolls out
// while 8 clients send requests through the listener without pause. Every request is answered
// 200 (old answers, then new ones), the deployment completes, and the test prints how long the
// deploy took (the figure is under 15 s; speed is not asserted here, only a deadline).
// The HAProxy plane's case is skipped when haproxy is not installed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { ECSClient, CreateClusterCommand, RegisterTaskDefinitionCommand, CreateServiceCommand, UpdateServiceCommand, DescribeServicesCommand, type Service } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client, CreateLoadBalancerCommand, CreateListenerCommand, ModifyTargetGroupAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { startTestBerth, eventually } from '../helpers/fixture.js';
import { Agent } from '../../src/agent/agent.js';
import type { LbPlaneKind } from '../../src/lb/options.js';
import { createTestTargetGroup, freePort } from './backends.js';
import { testAgent } from '../helpers/agents.js';

const HAPROXY = spawnSync('sh', ['-c', 'command -v haproxy']).stdout?.toString().trim() ?? '';
const WEB_JS = "require('http').createServer((q,s)=>s.end(process.env.VERSION)).listen(process.env.PORT)";
const CLIENTS = 8;

/** One request on a new connection; status 0 and the error when it failed. */
function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
    req.end();
  });
}

for (const plane of ['embedded', 'haproxy'] as LbPlaneKind[]) {
  const skip = plane === 'haproxy' && !HAPROXY ? 'haproxy is not installed (apt-get install -y haproxy)' : false;
  describe(`rolling deploy on the ${plane} plane`, { skip }, () => {
    test('3 agents, a service of 4 behind the listener, a new revision under load: no failed request', async () => {
      const berth = await startTestBerth({ loadBalancer: { plane, secondMs: 50 } });
      berth.controller.configure({ intervalMs: 100 });
      const ecs = new ECSClient(berth.clientConfig);
      const elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
      const dirs: string[] = [];
      const agents: Agent[] = [];
      try {
        const C = `roll-${plane}`;
        await ecs.send(new CreateClusterCommand({ clusterName: C }));
        for (const az of ['us-east-1a', 'us-east-1b', 'us-east-1c']) {
          const stateDir = mkdtempSync(join(tmpdir(), 'berth-roll-agent-'));
          dirs.push(stateDir);
          const agent = testAgent(berth, stateDir, { cluster: C, attributes: { 'ecs.availability-zone': az }, cpu: 1024, memoryMiB: 1024 });
          await agent.start();
          agents.push(agent);
        }
        const lbArn = (await elb.send(new CreateLoadBalancerCommand({ Name: C, Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
        // Health-check "seconds" of 50 ms: a 500 ms interval and a 400 ms timeout, 10 failures to
        // be cut, so that a machine busy with other work does not fail checks of healthy tasks
        // (that would be the service replacing them, not the load balancer failing requests).
        const tg = await createTestTargetGroup(elb, `${C}-web`, { HealthCheckPath: '/', HealthCheckIntervalSeconds: 10, HealthCheckTimeoutSeconds: 8, UnhealthyThresholdCount: 10 });
        await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
        const port = await freePort();
        await elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: port, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] }));
        for (const v of ['v1', 'v2']) {
          await ecs.send(
            new RegisterTaskDefinitionCommand({
              family: C,
              containerDefinitions: [{ name: 'web', image: 'host', essential: true, cpu: 128, memory: 64, portMappings: [{ containerPort: 8080, hostPort: 0 }], command: [process.execPath, '-e', WEB_JS], environment: [{ name: 'VERSION', value: v }] }],
            }),
          );
        }
        await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: 'web', taskDefinition: `${C}:1`, desiredCount: 4, loadBalancers: [{ targetGroupArn: tg, containerName: 'web', containerPort: 8080 }] }));
        const describeService = async (): Promise<Service> => (await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['web'] }))).services![0]!;
        await eventually(async () => (await describeService()).events!.some((e) => e.message!.includes('steady state')), { what: 'v1 steady', timeoutMs: 60_000 });
        // Steady state comes from the control plane's health checks; the data plane serving the
        // new listener's port (a haproxy reload, a process start on a busy machine) can lag it.
        await eventually(async () => (await get(port)).body === 'v1', { what: 'the listener answering v1', timeoutMs: 30_000 });

        const replies: { status: number; body: string }[] = [];
        let sampling = true;
        const clients = Array.from({ length: CLIENTS }, async () => {
          while (sampling) replies.push(await get(port));
        });
        const started = performance.now();
        await ecs.send(new UpdateServiceCommand({ cluster: C, service: 'web', taskDefinition: `${C}:2` }));
        await eventually(
          async () => {
            const s = await describeService();
            return s.deployments!.length === 1 && s.deployments![0]!.rolloutState === 'COMPLETED' && s.taskDefinition!.endsWith(`${C}:2`) && s.runningCount === 4;
          },
          { what: 'v2 rolled out', timeoutMs: 60_000, intervalMs: 50 },
        );
        const deploySeconds = (performance.now() - started) / 1000;
        sampling = false;
        await Promise.all(clients);
        const bad = replies.filter((r) => r.status !== 200);
        if (bad.length) console.log(`# service events: ${JSON.stringify((await describeService()).events!.slice(0, 15).map((e) => e.message))}`);
        console.log(`# ${plane} plane: deploy of 4 tasks took ${deploySeconds.toFixed(1)} s; ${replies.length} requests during it, ${bad.length} failed`);
        assert.deepEqual(bad.slice(0, 5), [], `${bad.length} of ${replies.length} requests failed`);
        assert.ok(replies.length >= CLIENTS * 5, `the listener was under load: ${replies.length} requests`);
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
  });
}
