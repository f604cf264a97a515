// The leader killed (kill -9) in the middle of a rolling deployment behind the load balancer:
// two `berth up` replicas on one PostgreSQL (each serving the load balancer on its own address,
// as on two hosts), a `berth agent` running web servers (process driver). The other replica
// takes the lease and finishes the rollout; requests through its load balancer never fail and
// no task is launched twice. Figures in the test's diagnostics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { ECSClient, CreateClusterCommand, RegisterTaskDefinitionCommand, CreateServiceCommand, UpdateServiceCommand, DescribeServicesCommand, DescribeTasksCommand, ListTasksCommand, type Task } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client, CreateLoadBalancerCommand, CreateTargetGroupCommand, CreateListenerCommand, DescribeTargetHealthCommand, ModifyTargetGroupAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { eventually, freePort } from '../helpers/fixture.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { spawnBerth, spawnAgent, type BerthProcess, agentStateDirs } from '../helpers/processes.js';

const newStateDir = agentStateDirs();

const WEB_JS = "require('http').createServer((q,s)=>s.end(process.env.VERSION)).listen(process.env.PORT); process.on('SIGTERM', () => process.exit(0))";

function get(host: string, port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
    req.end();
  });
}

test('kill -9 of the leader during a rolling deployment: the other replica finishes it, 0 failed requests through the load balancer, no task launched twice', async (t) => {
  const pg = await startTestPostgres();
  if (typeof pg === 'string') return t.skip(pg);
  const creds = { id: 'AKIA' + randomBytes(8).toString('hex').toUpperCase(), secret: randomBytes(20).toString('hex') };
  const env = { BERTH_ROOT_ACCESS_KEY_ID: creds.id, BERTH_ROOT_SECRET_ACCESS_KEY: creds.secret, BERTH_ACCOUNT_ID: '123456789012', BERTH_LEASE_TTL_MS: '1500', BERTH_LB_SECOND_MS: '100', BERTH_AGENT_TIMEOUT_MS: '7000' };
  const args = ['--no-agent', '--ephemeral', '--store', pg.url, '--log-level', 'warn'];
  // Each replica's load balancer on its own loopback address (two hosts would each have theirs).
  const lbHosts = ['127.0.0.2', '127.0.0.3'];
  const replicas = await Promise.all(lbHosts.map((h) => spawnBerth(args, { ...env, BERTH_LB_HOST: h })));
  const leads = async (r: BerthProcess) =>
    ((await (await fetch(`${r.url}/_berth/health`, { signal: AbortSignal.timeout(3_000) })).json()) as { duties: Array<{ duty: string; leading: boolean }> }).duties.find((d) => d.duty === 'service-controller')!.leading;
  // 1-based inside `eventually` (0 would read as "not yet"), 0-based after.
  const leaderIndex = (await eventually(async () => ((await leads(replicas[0]!)) ? 1 : (await leads(replicas[1]!)) ? 2 : undefined), { what: 'a leader', timeoutMs: 30_000 }))! - 1;
  const leader = replicas[leaderIndex!]!;
  const follower = replicas[1 - leaderIndex!]!;
  const lbHost = lbHosts[1 - leaderIndex!]!;
  const config = { endpoint: follower.url, region: 'us-east-1', credentials: { accessKeyId: creds.id, secretAccessKey: creds.secret }, maxAttempts: 1 };
  const ecs = new ECSClient(config);
  const elb = new ElasticLoadBalancingV2Client(config);
  let sampling = false;
  try {
    await ecs.send(new CreateClusterCommand({ clusterName: 'ha' }));
    const stateDir = newStateDir('berth-rolling-agent-');
    await spawnAgent({ url: `${follower.url},${leader.url}`, accessKeyId: creds.id, secretAccessKey: creds.secret, cluster: 'ha', stateDir, az: 'us-east-1a' });

    const lbArn = (await elb.send(new CreateLoadBalancerCommand({ Name: 'ha', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
    const tg = (
      await elb.send(new CreateTargetGroupCommand({ Name: 'ha-web', Protocol: 'HTTP', Port: 80, TargetType: 'ip', HealthCheckPath: '/', HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2, HealthyThresholdCount: 2, UnhealthyThresholdCount: 2 }))
    ).TargetGroups![0]!.TargetGroupArn!;
    await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
    const port = await freePort();
    await elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: port, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] }));
    for (const version of ['v1', 'v2']) {
      await ecs.send(
        new RegisterTaskDefinitionCommand({
          family: 'web',
          containerDefinitions: [{ name: 'web', image: 'host', cpu: 64, memory: 64, portMappings: [{ containerPort: 8080, hostPort: 0 }], command: [process.execPath, '-e', WEB_JS], environment: [{ name: 'VERSION', value: version }] }],
        }),
      );
    }
    await ecs.send(
      new CreateServiceCommand({
        cluster: 'ha',
        serviceName: 'web',
        taskDefinition: 'web:1',
        desiredCount: 3,
        loadBalancers: [{ targetGroupArn: tg, containerName: 'web', containerPort: 8080 }],
        deploymentConfiguration: { minimumHealthyPercent: 100, maximumPercent: 200 },
      }),
    );
    const healthy = async () => ((await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions ?? []).filter((h) => h.TargetHealth?.State === 'healthy').length;
    await eventually(async () => (await healthy()) === 3 && (await get(lbHost, port)).body === 'v1', { what: '3 healthy targets answering v1 through the load balancer', timeoutMs: 30_000 });

    // Requests through the surviving replica's load balancer for the whole rollout.
    sampling = true;
    const answers: Array<{ status: number; body: string }> = [];
    const sampler = (async () => {
      while (sampling) {
        answers.push(await get(lbHost, port));
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await ecs.send(new UpdateServiceCommand({ cluster: 'ha', service: 'web', taskDefinition: 'web:2' }));
    const tasks = async (): Promise<Task[]> => {
      const arns = [...(await ecs.send(new ListTasksCommand({ cluster: 'ha', desiredStatus: 'RUNNING' }))).taskArns!, ...(await ecs.send(new ListTasksCommand({ cluster: 'ha', desiredStatus: 'STOPPED' }))).taskArns!];
      return arns.length ? (await ecs.send(new DescribeTasksCommand({ cluster: 'ha', tasks: arns }))).tasks! : [];
    };
    // Mid-rollout: new tasks launched, old ones still serving.
    await eventually(async () => (await tasks()).some((x) => x.taskDefinitionArn!.endsWith('web:2') && x.lastStatus === 'RUNNING'), { what: 'a v2 task running', timeoutMs: 20_000, intervalMs: 20 });
    leader.child.kill('SIGKILL');
    await leader.exited;
    const killedAt = Date.now();
    await eventually(() => leads(follower), { what: 'the follower to take the lease', timeoutMs: 10_000, intervalMs: 25 });
    const newLeaderMs = Date.now() - killedAt;
    await eventually(
      async () => {
        const s = (await ecs.send(new DescribeServicesCommand({ cluster: 'ha', services: ['web'] }))).services![0]!;
        return s.deployments!.length === 1 && s.deployments![0]!.rolloutState === 'COMPLETED' && s.deployments![0]!.taskDefinition!.endsWith('web:2') && s.runningCount === 3;
      },
      { what: 'the rollout to web:2 completed by the new leader', timeoutMs: 30_000 },
    );
    await eventually(async () => (await get(lbHost, port)).body === 'v2' && (await healthy()) === 3, { what: 'v2 served', timeoutMs: 10_000 });
    sampling = false;
    await sampler;

    const all = await tasks();
    const v2 = all.filter((x) => x.taskDefinitionArn!.endsWith('web:2'));
    const failed = answers.filter((a) => a.status !== 200 || !/^v[12]$/.test(a.body));
    const duplicates = all.length - 6;
    t.diagnostic(`kill -9 of the leader mid-rollout: time to a new leader ${newLeaderMs} ms (lease TTL 1500 ms); ${answers.length} requests, ${failed.length} failed; duplicate launches: ${duplicates}`);
    assert.deepEqual(failed, [], `every request answered 200 by v1 or v2 (${answers.length} requests)`);
    assert.ok(answers.some((a) => a.body === 'v1') && answers.some((a) => a.body === 'v2'), 'both versions served during the rollout');
    assert.equal(v2.length, 3, `exactly 3 v2 tasks were launched: ${v2.length}`);
    assert.equal(duplicates, 0, `3 v1 and 3 v2 tasks in all: ${all.length}`);
    assert.ok(v2.every((x) => x.lastStatus === 'RUNNING'));
  } finally {
    sampling = false;
    ecs.destroy();
    elb.destroy();
    for (const r of replicas) {
      if (r.child.exitCode !== null || r.child.signalCode !== null) continue;
      r.child.kill('SIGTERM');
      await r.exited;
    }
    pg.stop();
  }
});
