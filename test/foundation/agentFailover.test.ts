// Agents and control-plane replicas: an agent lists several replicas (`--server a,b`), uses the
// first, and moves to the next when it stops answering; its long poll is woken by changes made
// through any replica (the change feed crosses replicas through PostgreSQL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  ECSClient,
  CreateClusterCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  CreateServiceCommand,
  UpdateServiceCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  DescribeContainerInstancesCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { startTestBerth, eventually } from '../helpers/fixture.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { spawnBerth, spawnAgent, agentStateDirs } from '../helpers/processes.js';
import { Agent } from '../../src/agent/agent.js';
import { ProcessDriver } from '../../src/agent/drivers/process.js';

const newStateDir = agentStateDirs();

const SLEEPER = { name: 'app', image: 'host', essential: true, cpu: 64, memory: 32, command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'] };

function credentials() {
  return { id: 'AKIA' + randomBytes(8).toString('hex').toUpperCase(), secret: randomBytes(20).toString('hex') };
}

test('an agent on replica A is woken by a task created through replica B (its long poll is far longer than the wait)', async (t) => {
  const pg = await startTestPostgres();
  if (typeof pg === 'string') return t.skip(pg);
  const creds = credentials();
  const env = { BERTH_ROOT_ACCESS_KEY_ID: creds.id, BERTH_ROOT_SECRET_ACCESS_KEY: creds.secret, BERTH_ACCOUNT_ID: '123456789012' };
  const [a, b] = await Promise.all([startTestBerth({ storeUrl: pg.url, env }), startTestBerth({ storeUrl: pg.url, env })]);
  const stateDir = newStateDir('berth-failover-agent-');
  const moves: string[] = [];
  const agent = new Agent({
    client: { endpoint: a.url, failoverEndpoints: [b.url], region: 'us-east-1', accessKeyId: creds.id, secretAccessKey: creds.secret, onFailover: (from, to) => moves.push(`${from}->${to}`) },
    cluster: 'default',
    driver: new ProcessDriver({ dataDir: join(stateDir, 'process') }),
    stateDir,
    cpu: 4096,
    memoryMiB: 4096,
    pollSeconds: 30, // the longest poll the channel admits: only a change can answer it sooner
    log: () => undefined,
  });
  const ecsB = new ECSClient(b.clientConfig);
  let aClosed = false;
  try {
    await agent.start();
    await ecsB.send(new RegisterTaskDefinitionCommand({ family: 'sleeper', containerDefinitions: [SLEEPER] }));
    const running = async (arn: string) => (await ecsB.send(new DescribeTasksCommand({ cluster: 'default', tasks: [arn] }))).tasks![0]!.lastStatus === 'RUNNING';
    const first = (await ecsB.send(new RunTaskCommand({ cluster: 'default', taskDefinition: 'sleeper' }))).tasks![0]!.taskArn!;
    await eventually(() => running(first), { what: 'the task created through B running on the agent polling A', timeoutMs: 10_000 });
    assert.deepEqual(moves, [], 'the agent stayed on A');

    // A goes away: the agent moves to B and is still woken promptly there.
    await a.close();
    aClosed = true;
    const second = (await ecsB.send(new RunTaskCommand({ cluster: 'default', taskDefinition: 'sleeper' }))).tasks![0]!.taskArn!;
    await eventually(() => running(second), { what: 'a task created after A went, running', timeoutMs: 10_000 });
    assert.deepEqual(moves, [`${a.url}->${b.url}`]);
    assert.ok(await running(first), 'the first task kept running');
  } finally {
    ecsB.destroy();
    await agent.close({ stopTasks: true }).catch(() => undefined);
    if (!aClosed) await a.close();
    await b.close();
    pg.stop();
  }
});

test('berth agent --server a,b: kill -9 of the replica it uses; it goes on through the other, its tasks keep running, nothing is launched twice', async (t) => {
  const pg = await startTestPostgres();
  if (typeof pg === 'string') return t.skip(pg);
  const creds = credentials();
  const env = {
    BERTH_ROOT_ACCESS_KEY_ID: creds.id,
    BERTH_ROOT_SECRET_ACCESS_KEY: creds.secret,
    BERTH_ACCOUNT_ID: '123456789012',
    BERTH_LEASE_TTL_MS: '2000',
    BERTH_AGENT_TIMEOUT_MS: '7000', // above the agent's 5 s long poll (its heartbeat)
  };
  const args = ['--no-agent', '--ephemeral', '--store', pg.url, '--log-level', 'warn'];
  const [a, b] = await Promise.all([spawnBerth(args, env), spawnBerth(args, env)]);
  const ecs = new ECSClient({ endpoint: b.url, region: 'us-east-1', credentials: { accessKeyId: creds.id, secretAccessKey: creds.secret }, maxAttempts: 1 });
  const stateDir = newStateDir('berth-failover-agent-');
  try {
    await ecs.send(new CreateClusterCommand({ clusterName: 'ha' }));
    const agent = await spawnAgent({ url: `${a.url},${b.url}`, accessKeyId: creds.id, secretAccessKey: creds.secret, cluster: 'ha', stateDir, az: 'us-east-1a' });
    assert.match(agent.output(), new RegExp(`server ${a.url},${b.url}`));
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'sleeper', containerDefinitions: [SLEEPER] }));
    await ecs.send(new CreateServiceCommand({ cluster: 'ha', serviceName: 'app', taskDefinition: 'sleeper', desiredCount: 3 }));
    const all = async (): Promise<Task[]> => {
      const arns = [
        ...(await ecs.send(new ListTasksCommand({ cluster: 'ha', desiredStatus: 'RUNNING' }))).taskArns!,
        ...(await ecs.send(new ListTasksCommand({ cluster: 'ha', desiredStatus: 'STOPPED' }))).taskArns!,
      ];
      return arns.length ? (await ecs.send(new DescribeTasksCommand({ cluster: 'ha', tasks: arns }))).tasks! : [];
    };
    const before = await eventually(async () => {
      const ts = await all();
      return ts.length === 3 && ts.every((x) => x.lastStatus === 'RUNNING') && ts;
    }, { what: '3 tasks running', timeoutMs: 30_000 });

    a.child.kill('SIGKILL');
    await a.exited;
    const killedAt = Date.now();
    await eventually(() => agent.output().includes(`${a.url} does not answer`) && agent.output().includes(`using ${b.url}`), { what: 'the agent to say it moved to B', timeoutMs: 15_000 });
    // Past the agent timeout: the instance never counted as disconnected (the agent polls B).
    while (Date.now() - killedAt < 9_000) {
      const ci = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'ha', containerInstances: [agent.arn] }))).containerInstances![0]!;
      assert.equal(ci.agentConnected, true, 'the agent stays connected through B');
      await new Promise((r) => setTimeout(r, 250));
    }
    // B acts (it holds or takes over the controller): one more task reaches the agent through B.
    await ecs.send(new UpdateServiceCommand({ cluster: 'ha', service: 'app', desiredCount: 4 }));
    const afterScale = await eventually(async () => {
      const ts = await all();
      return ts.filter((x) => x.lastStatus === 'RUNNING').length === 4 && ts;
    }, { what: '4 tasks running after the scale-up through B', timeoutMs: 20_000 });
    assert.equal(afterScale.length, 4, 'no task launched twice, none stopped');
    for (const old of before) assert.ok(afterScale.some((x) => x.taskArn === old.taskArn && x.lastStatus === 'RUNNING'), `${old.taskArn} kept running`);
    const events = (await ecs.send(new DescribeServicesCommand({ cluster: 'ha', services: ['app'] }))).services![0]!.events!.map((e) => e.message!);
    assert.equal(events.filter((m) => / has started \d+ tasks?:/.test(m)).length, 2, events.join('\n'));
    assert.equal(events.filter((m) => m.includes('has stopped')).length, 0, events.join('\n'));
    agent.child.kill('SIGTERM');
  } finally {
    ecs.destroy();
    b.child.kill('SIGTERM');
    await b.exited;
    if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
    pg.stop();
  }
});
