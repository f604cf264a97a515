// Faults of a replicated control plane, with real processes: two `berth up` replicas on one
// PostgreSQL and a `berth agent` (process driver) listing both.
// - The leader paused with SIGSTOP past its lease, then resumed: the other replica took over;
//   the paused one stands down, whatever it writes late is refused, nothing is launched twice.
// - PostgreSQL restarted as after a crash: the replicas stay up and reconnect, acknowledged
//   writes are there, and the change feed crosses replicas again.
// Figures (time to a new leader, refused writes, duplicate launches) go to the test's diagnostics.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ECSClient, CreateClusterCommand, ListClustersCommand, RegisterTaskDefinitionCommand, CreateServiceCommand, UpdateServiceCommand, DescribeServicesCommand, DescribeTasksCommand, ListTasksCommand, type Task } from '@aws-sdk/client-ecs';
import { eventually } from '../helpers/fixture.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { spawnBerth, spawnAgent, type BerthProcess, type AgentProcess, agentStateDirs } from '../helpers/processes.js';

const newStateDir = agentStateDirs();

const SLEEPER = { name: 'app', image: 'host', essential: true, cpu: 16, memory: 16, command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'] };

interface Health {
  replica: string;
  duties: Array<{ duty: string; leading: boolean; holder?: string; refusedWrites: number }>;
}

/** Two replicas (processes) on a fresh PostgreSQL, and an ECS client on the second. */
async function twoReplicas(t: TestContext) {
  const pg = await startTestPostgres();
  if (typeof pg === 'string') {
    t.skip(pg);
    return undefined;
  }
  const creds = { id: 'AKIA' + randomBytes(8).toString('hex').toUpperCase(), secret: randomBytes(20).toString('hex') };
  const env = { BERTH_ROOT_ACCESS_KEY_ID: creds.id, BERTH_ROOT_SECRET_ACCESS_KEY: creds.secret, BERTH_ACCOUNT_ID: '123456789012', BERTH_LEASE_TTL_MS: '1500', BERTH_AGENT_TIMEOUT_MS: '7000' };
  const args = ['--no-agent', '--ephemeral', '--store', pg.url, '--log-level', 'warn'];
  const replicas = await Promise.all([spawnBerth(args, env), spawnBerth(args, env)]);
  const client = (url: string) => new ECSClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: creds.id, secretAccessKey: creds.secret }, maxAttempts: 1 });
  const health = async (r: BerthProcess): Promise<Health> => (await (await fetch(`${r.url}/_berth/health`, { signal: AbortSignal.timeout(3_000) })).json()) as Health;
  const leads = async (r: BerthProcess, duty = 'service-controller') => (await health(r)).duties.find((d) => d.duty === duty)!.leading;
  const startAgent = async (order: BerthProcess[]): Promise<AgentProcess> => {
    const stateDir = newStateDir('berth-faults-agent-');
    return spawnAgent({ url: order.map((r) => r.url).join(','), accessKeyId: creds.id, secretAccessKey: creds.secret, cluster: 'ha', stateDir, az: 'us-east-1a' });
  };
  const close = async (pgServer: TestPostgres) => {
    for (const r of replicas) {
      if (r.child.exitCode !== null || r.child.signalCode !== null) continue;
      r.child.kill('SIGCONT');
      r.child.kill('SIGTERM');
      await r.exited;
    }
    pgServer.stop();
  };
  return { pg, replicas, client, health, leads, startAgent, close: () => close(pg) };
}

/** Every task of cluster `ha` (running and stopped). */
async function allTasks(ecs: ECSClient): Promise<Task[]> {
  const arns = [...(await ecs.send(new ListTasksCommand({ cluster: 'ha', desiredStatus: 'RUNNING' }))).taskArns!, ...(await ecs.send(new ListTasksCommand({ cluster: 'ha', desiredStatus: 'STOPPED' }))).taskArns!];
  return arns.length ? (await ecs.send(new DescribeTasksCommand({ cluster: 'ha', tasks: arns }))).tasks! : [];
}

async function runningExactly(ecs: ECSClient, n: number, timeoutMs = 20_000): Promise<Task[]> {
  return eventually(async () => {
    const ts = await allTasks(ecs);
    return ts.filter((x) => x.lastStatus === 'RUNNING').length === n && ts;
  }, { what: `${n} tasks running`, timeoutMs });
}

async function serviceEvents(ecs: ECSClient): Promise<string[]> {
  return (await ecs.send(new DescribeServicesCommand({ cluster: 'ha', services: ['app'] }))).services![0]!.events!.map((e) => e.message!);
}

test('the leader paused with SIGSTOP past its lease: the other takes over; resumed, it stands down (any late write it makes is refused and counted), nothing is launched twice', async (t) => {
  const c = await twoReplicas(t);
  if (!c) return;
  try {
    const [leader, follower] = (await eventually(async () => ((await c.leads(c.replicas[0]!)) ? c.replicas : (await c.leads(c.replicas[1]!)) ? [...c.replicas].reverse() : undefined), { what: 'a leader', timeoutMs: 30_000 }))!;
    const ecs = c.client(follower!.url);
    await ecs.send(new CreateClusterCommand({ clusterName: 'ha' }));
    // The agent polls the follower first, so the pause does not silence it.
    await c.startAgent([follower!, leader!]);
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'sleeper', containerDefinitions: [SLEEPER] }));
    await ecs.send(new CreateServiceCommand({ cluster: 'ha', serviceName: 'app', taskDefinition: 'sleeper', desiredCount: 2 }));
    await runningExactly(ecs, 2);

    leader!.child.kill('SIGSTOP');
    const pausedAt = Date.now();
    await ecs.send(new UpdateServiceCommand({ cluster: 'ha', service: 'app', desiredCount: 4 }));
    await eventually(() => c.leads(follower!), { what: 'the follower to take the lease', timeoutMs: 10_000, intervalMs: 25 });
    const newLeaderMs = Date.now() - pausedAt;
    await runningExactly(ecs, 4);
    // Resumed (well past its lease): more work arrives at once, while it may still believe it leads.
    leader!.child.kill('SIGCONT');
    await ecs.send(new UpdateServiceCommand({ cluster: 'ha', service: 'app', desiredCount: 6 }));
    await eventually(async () => !(await c.leads(leader!)), { what: 'the resumed replica to stand down', timeoutMs: 10_000 });
    const ts = await runningExactly(ecs, 6);
    // A few more rounds: nothing more happens.
    await new Promise((r) => setTimeout(r, 1_500));
    const final = await allTasks(ecs);
    const duplicates = final.length - 6;
    const refused = (await c.health(leader!)).duties.reduce((n, d) => n + d.refusedWrites, 0);
    t.diagnostic(`SIGSTOP: time to a new leader ${newLeaderMs} ms (lease TTL 1500 ms); late writes refused on the resumed replica: ${refused}; duplicate launches: ${duplicates}`);
    assert.equal(duplicates, 0, `exactly 6 tasks were ever launched: ${final.length}`);
    assert.deepEqual(final.map((x) => x.taskArn).sort(), ts.map((x) => x.taskArn).sort());
    const events = await serviceEvents(ecs);
    assert.equal(events.filter((m) => m.includes('has stopped')).length, 0, events.join('\n'));
    assert.equal(events.filter((m) => / has started \d+ tasks?:/.test(m)).length, 3, `three launches, each said once:\n${events.join('\n')}`);
    assert.equal((await c.health(follower!)).duties.find((d) => d.duty === 'service-controller')!.leading, true);
    ecs.destroy();
  } finally {
    await c.close();
  }
});

test('PostgreSQL restarted as after a crash: both replicas stay up and reconnect, acknowledged writes are there, the controller acts again and nothing is launched twice', async (t) => {
  const c = await twoReplicas(t);
  if (!c) return;
  if (!c.pg.restart) {
    await c.close();
    return t.skip('BERTH_TEST_POSTGRES_URL is set: that server cannot be restarted from here');
  }
  const [a, b] = c.replicas as [BerthProcess, BerthProcess];
  const ecsA = c.client(a.url);
  const ecsB = c.client(b.url);
  try {
    await ecsB.send(new CreateClusterCommand({ clusterName: 'ha' }));
    await c.startAgent([a, b]);
    await ecsB.send(new RegisterTaskDefinitionCommand({ family: 'sleeper', containerDefinitions: [SLEEPER] }));
    await ecsB.send(new CreateServiceCommand({ cluster: 'ha', serviceName: 'app', taskDefinition: 'sleeper', desiredCount: 2 }));
    await runningExactly(ecsB, 2);
    // Acknowledged writes through both replicas.
    for (let i = 0; i < 10; i++) await (i % 2 ? ecsA : ecsB).send(new CreateClusterCommand({ clusterName: `acked-${i}` }));

    const downAt = Date.now();
    await c.pg.restart(1_000);
    const names = async (ecs: ECSClient) => ((await ecs.send(new ListClustersCommand({}))).clusterArns ?? []).map((x) => x.split('/').pop()!).sort();
    const want = ['ha', ...Array.from({ length: 10 }, (_, i) => `acked-${i}`)].sort();
    await eventually(async () => JSON.stringify(await names(ecsA)) === JSON.stringify(want), { what: 'A answering with every acknowledged cluster', timeoutMs: 20_000 });
    await eventually(async () => JSON.stringify(await names(ecsB)) === JSON.stringify(want), { what: 'B answering with every acknowledged cluster', timeoutMs: 20_000 });
    const backMs = Date.now() - downAt;
    assert.equal(a.child.exitCode, null, `replica A is still running:\n${a.output()}`);
    assert.equal(b.child.exitCode, null, `replica B is still running:\n${b.output()}`);
    // Leases were lost while the database was away: taken again, and the controller acts.
    await eventually(async () => (await c.leads(a)) || (await c.leads(b)), { what: 'a leader again', timeoutMs: 15_000 });
    await ecsB.send(new UpdateServiceCommand({ cluster: 'ha', service: 'app', desiredCount: 3 }));
    await runningExactly(ecsB, 3);
    const final = await allTasks(ecsB);
    t.diagnostic(`PostgreSQL restart (down 1 s): both replicas answering with every acknowledged write ${backMs} ms after the stop; duplicate launches: ${final.length - 3}`);
    assert.equal(final.length, 3, 'nothing launched twice');
  } finally {
    ecsA.destroy();
    ecsB.destroy();
    await c.close();
  }
});
