// Agents on separate hosts, simulated with network namespaces (test/helpers/netns.ts): each host
// has its own address, the control plane and its load balancer run on the root namespace's
// address of the bridge, and the load balancer reaches targets on their hosts' addresses (the
// agent registers the address it reaches the control plane from as `berth.address`). One host's
// network is cut: after the agent-lost timeout its tasks are replaced on the other host and the
// load balancer stops sending to them; when the network returns, its agent stops the old tasks,
// and no moment has two copies serving. Figures in the test's diagnostics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ECSClient, CreateClusterCommand, RegisterTaskDefinitionCommand, CreateServiceCommand, DescribeTasksCommand, ListTasksCommand, DescribeContainerInstancesCommand, type Task } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client, CreateLoadBalancerCommand, CreateTargetGroupCommand, CreateListenerCommand, DescribeTargetHealthCommand, ModifyTargetGroupAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { eventually, freePort } from '../helpers/fixture.js';
import { spawnBerth, spawnAgent, agentStateDirs } from '../helpers/processes.js';
import { createHosts } from '../helpers/netns.js';

const newStateDir = agentStateDirs();

/** A web server answering with the address and port it was reached on (the target's identity). */
const WEB_JS = "require('http').createServer((q,s)=>s.end(q.socket.localAddress.replace('::ffff:','')+':'+q.socket.localPort)).listen(process.env.PORT); process.on('SIGTERM', () => process.exit(0))";

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 80);
  } catch {
    return '(gone)';
  }
}

function get(host: string, port: number, timeoutMs = 3_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: String((e as NodeJS.ErrnoException).code ?? e) }));
    req.end();
  });
}

test('agents on two hosts behind the load balancer; one host cut off: its tasks are replaced on the other, then stopped when it returns, never two copies serving', async (t) => {
  const lab = createHosts(2);
  if (typeof lab === 'string') return t.skip(lab);
  const [hostA, hostB] = lab.hosts as [typeof lab.hosts[0], typeof lab.hosts[0]];
  const creds = { id: 'AKIA' + randomBytes(8).toString('hex').toUpperCase(), secret: randomBytes(20).toString('hex') };
  const env = {
    BERTH_ROOT_ACCESS_KEY_ID: creds.id,
    BERTH_ROOT_SECRET_ACCESS_KEY: creds.secret,
    BERTH_ACCOUNT_ID: '123456789012',
    BERTH_LB_SECOND_MS: '100', // the load balancer's second: health checks every 500 ms
    BERTH_AGENT_TIMEOUT_MS: '7000', // above the agent's 5 s long poll (its heartbeat)
    BERTH_INSTANCE_LOST_AFTER_MS: '1000',
  };
  // The control plane on the bridge's address (its host), its load balancer on loopback.
  const berth = await spawnBerth(['--no-agent', '--ephemeral', '--host', lab.gatewayIp, '--log-level', 'warn'], env);
  const config = { endpoint: berth.url, region: 'us-east-1', credentials: { accessKeyId: creds.id, secretAccessKey: creds.secret }, maxAttempts: 1 };
  const ecs = new ECSClient(config);
  const elb = new ElasticLoadBalancingV2Client(config);
  let sampling = false;
  try {
    await ecs.send(new CreateClusterCommand({ clusterName: 'hosts' }));
    const agents = [];
    for (const [host, az] of [[hostA, 'us-east-1a'], [hostB, 'us-east-1b']] as const) {
      const stateDir = newStateDir('berth-netns-agent-');
      agents.push(await spawnAgent({ url: berth.url, accessKeyId: creds.id, secretAccessKey: creds.secret, cluster: 'hosts', stateDir, az, exec: host.exec }));
    }
    const [agentA, agentB] = agents as [(typeof agents)[0], (typeof agents)[0]];
    const instances = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'hosts', containerInstances: [agentA.arn, agentB.arn] }))).containerInstances!;
    const addressOf = (arn: string) => instances.find((i) => i.containerInstanceArn === arn)!.attributes!.find((a) => a.name === 'berth.address')?.value;
    assert.equal(addressOf(agentA.arn), hostA.ip, 'agent A registers its host address');
    assert.equal(addressOf(agentB.arn), hostB.ip, 'agent B registers its host address');

    const lbArn = (await elb.send(new CreateLoadBalancerCommand({ Name: 'hosts', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
    const tg = (
      await elb.send(new CreateTargetGroupCommand({ Name: 'hosts-web', Protocol: 'HTTP', Port: 80, TargetType: 'ip', HealthCheckPath: '/', HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2, HealthyThresholdCount: 2, UnhealthyThresholdCount: 2 }))
    ).TargetGroups![0]!.TargetGroupArn!;
    await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
    const port = await freePort();
    await elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: port, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] }));
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'web',
        containerDefinitions: [{ name: 'web', image: 'host', cpu: 64, memory: 64, portMappings: [{ containerPort: 8080, hostPort: 0 }], command: [process.execPath, '-e', WEB_JS] }],
      }),
    );
    const N = 4;
    await ecs.send(
      new CreateServiceCommand({
        cluster: 'hosts',
        serviceName: 'web',
        taskDefinition: 'web:1',
        desiredCount: N,
        loadBalancers: [{ targetGroupArn: tg, containerName: 'web', containerPort: 8080 }],
        deploymentConfiguration: { minimumHealthyPercent: 100, maximumPercent: 200 },
      }),
    );
    const targets = async () => ((await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions ?? []).map((h) => ({ id: h.Target!.Id!, port: h.Target!.Port!, state: h.TargetHealth!.State! }));
    const tasks = async (): Promise<Task[]> => {
      const arns = [...(await ecs.send(new ListTasksCommand({ cluster: 'hosts', desiredStatus: 'RUNNING' }))).taskArns!, ...(await ecs.send(new ListTasksCommand({ cluster: 'hosts', desiredStatus: 'STOPPED' }))).taskArns!];
      return arns.length ? (await ecs.send(new DescribeTasksCommand({ cluster: 'hosts', tasks: arns }))).tasks! : [];
    };

    // 1. N tasks spread over the two hosts, served through the load balancer on both hosts' addresses.
    const initial = await eventually(async () => {
      const ts = await targets();
      return ts.length === N && ts.every((x) => x.state === 'healthy') && ts;
    }, { what: `${N} healthy targets`, timeoutMs: 30_000 });
    assert.deepEqual([...new Set(initial.map((x) => x.id))].sort(), [hostA.ip, hostB.ip].sort(), 'targets on both hosts, at their addresses');
    const seen = new Set<string>();
    await eventually(async () => {
      const r = await get('127.0.0.1', port);
      if (r.status === 200) seen.add(r.body.split(':')[0]!);
      return seen.size === 2;
    }, { what: 'answers through the load balancer from both hosts', timeoutMs: 10_000, intervalMs: 10 });
    const before = await tasks();
    const oldOnB = before.filter((x) => x.containerInstanceArn === agentB.arn);
    assert.equal(before.length, N);
    assert.equal(oldOnB.length, N / 2, 'spread over the two hosts');
    const oldTargets = initial.filter((x) => x.id === hostB.ip);

    // Requests through the load balancer for the whole fault.
    sampling = true;
    const answers: Array<{ at: number; status: number; body: string }> = [];
    const sampler = (async () => {
      while (sampling) {
        const r = await get('127.0.0.1', port);
        answers.push({ at: Date.now(), ...r });
        await new Promise((res) => setTimeout(res, 10));
      }
    })();
    // The target list and the live task count, watched all along. Tasks failing their health
    // checks (host B's, once cut off) are replaced start-first, as ECS does when maximumPercent
    // allows: copies beyond N are the replacements, bounded by maximumPercent (200%: 2N), never more.
    const watch = { maxTargets: 0, maxLive: 0, bTargetsAfterReplace: 0, samples: 0 };
    let replacedAt = 0;
    const watcher = (async () => {
      while (sampling) {
        const ts = await targets().catch(() => undefined);
        const live = await ecs.send(new ListTasksCommand({ cluster: 'hosts', desiredStatus: 'RUNNING' })).catch(() => undefined);
        if (ts) {
          const serving = ts.filter((x) => x.state !== 'draining' && x.state !== 'unused');
          watch.maxTargets = Math.max(watch.maxTargets, serving.length);
          if (replacedAt && serving.some((x) => x.id === hostB.ip)) watch.bTargetsAfterReplace++;
        }
        if (live) watch.maxLive = Math.max(watch.maxLive, live.taskArns!.length);
        watch.samples++;
        await new Promise((res) => setTimeout(res, 100));
      }
    })();

    // 2. Host B's network is cut.
    const cutAt = Date.now();
    lab.cut(hostB);
    await eventually(async () => {
      const ts = await targets();
      return ts.length === N && ts.every((x) => x.id === hostA.ip && x.state === 'healthy');
    }, { what: `${N} healthy targets, all on host A`, timeoutMs: 30_000, intervalMs: 100 });
    replacedAt = Date.now();
    const replacementMs = replacedAt - cutAt;
    const afterReplace = await tasks();
    for (const old of oldOnB) {
      const now = afterReplace.find((x) => x.taskArn === old.taskArn)!;
      assert.equal(now.lastStatus, 'STOPPED', `${old.taskArn} marked STOPPED while its host is cut off`);
    }
    // The load balancer no longer sends to host B.
    const markAt = answers.length;
    await eventually(() => answers.length - markAt >= 30, { what: '30 more answers', timeoutMs: 10_000 });
    const lateToB = answers.slice(markAt).filter((a) => a.body.startsWith(`${hostB.ip}:`));
    assert.deepEqual(lateToB, [], 'no answer from host B after the replacement');

    // The network returns: agent B stops its old tasks (they are STOPPED for the control plane).
    const restoredAt = Date.now();
    lab.restore(hostB);
    await eventually(async () => {
      for (const o of oldTargets) if ((await get(hostB.ip, o.port, 1_000)).body !== 'ECONNREFUSED') return false;
      return true;
    }, { what: 'the old tasks on host B stopped by their agent', timeoutMs: 30_000, intervalMs: 200 });
    const oldStoppedMs = Date.now() - restoredAt;
    await eventually(async () => {
      const ci = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'hosts', containerInstances: [agentB.arn] }))).containerInstances![0]!;
      return ci.agentConnected === true;
    }, { what: 'agent B connected again', timeoutMs: 15_000 });
    // Nothing of the service runs on host B any more: its agent and the process driver's
    // supervisor are all that is left there.
    const tasksOnB = () => lab.pids(hostB).filter((p) => p !== agentB.child.pid && !readCmdline(p).includes('processSupervisor'));
    await eventually(() => tasksOnB().length === 0, { what: 'no task process left on host B', timeoutMs: 15_000, intervalMs: 200 }).catch((e: Error) => {
      throw new Error(`${e.message}: ${tasksOnB().map((p) => `${p} ${readCmdline(p)}`).join(', ')}`);
    });
    sampling = false;
    await Promise.all([sampler, watcher]);

    const final = await tasks();
    const running = final.filter((x) => x.lastStatus === 'RUNNING');
    const failed = answers.filter((a) => a.status !== 200);
    const duplicates = Math.max(0, watch.maxTargets - N) + Math.max(0, watch.maxLive - N);
    const beyondMaximum = Math.max(0, watch.maxTargets - 2 * N) + Math.max(0, watch.maxLive - 2 * N);
    const neverRanCount = () => final.filter((x) => !before.some((b) => b.taskArn === x.taskArn) && x.containerInstanceArn === agentB.arn).length;
    t.diagnostic(
      `host B cut off: tasks replaced on host A in ${replacementMs} ms (agent timeout 7000 ms + lost after 1000 ms); ` +
        `${answers.length} requests through the load balancer, ${failed.length} failed (${[...new Set(failed.map((f) => `${f.status} ${f.body}`.slice(0, 40)))].join('; ')}), ` +
        `failed in the first ${failed.length ? Math.max(...failed.map((f) => f.at - cutAt)) : 0} ms after the cut; ` +
        `old tasks stopped ${oldStoppedMs} ms after the network returned; ${neverRanCount()} launch(es) placed on the cut host before it counted as lost (never ran); at most ${watch.maxTargets} targets serving and ${watch.maxLive} tasks RUNNING (${watch.samples} samples); copies beyond ${N} (start-first replacements): ${duplicates}`,
    );
    assert.equal(watch.bTargetsAfterReplace, 0, 'no target on host B once replaced (the old copies never serve again)');
    assert.equal(beyondMaximum, 0, `never more than maximumPercent (200%) of ${N} copies serving or running`);
    assert.equal(running.length, N);
    assert.ok(running.every((x) => x.containerInstanceArn === agentA.arn), 'the replacements stay on host A');
    const describe = final.map((x) => `${x.taskArn!.split('/').pop()} ${x.containerInstanceArn === agentA.arn ? 'A' : 'B'} ${x.lastStatus} ${x.stopCode ?? ''} ${x.stoppedReason ?? ''} started ${x.startedAt?.toISOString() ?? '-'} stopped ${x.stoppedAt?.toISOString() ?? '-'}`);
    // Tasks failing their health checks during the cut are replaced before the host counts as
    // lost, and a replacement may be placed on the cut host (spread over zones): it never runs.
    const neverRan = final.filter((x) => !before.some((b) => b.taskArn === x.taskArn) && x.containerInstanceArn === agentB.arn);
    assert.ok(neverRan.every((x) => x.lastStatus === 'STOPPED' && x.startedAt === undefined), `launches on the cut host never ran:\n${describe.join('\n')}`);
    assert.equal(final.length - neverRan.length, N + N / 2, `exactly the cut host's tasks were launched again on host A:\n${describe.join('\n')}`);
    assert.ok(failed.every((f) => f.at - cutAt < replacementMs), 'no request failed once the replacements served');
  } finally {
    sampling = false;
    ecs.destroy();
    elb.destroy();
    berth.child.kill('SIGTERM');
    await berth.exited;
    lab.destroy();
  }
});
