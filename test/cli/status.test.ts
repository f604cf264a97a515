// `berth status` against two replicas on one PostgreSQL database: every replica (alive, or gone
// after a kill -9), the leader of each duty, the agents and their last heartbeat; the first
// endpoint of --server that answers is asked; the operator token when the server has one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ECSClient, RegisterTaskDefinitionCommand, RunTaskCommand, DescribeTasksCommand } from '@aws-sdk/client-ecs';
import { startTestBerth, eventually, freePort } from '../helpers/fixture.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { spawnBerth, killTaskProcessesUnder } from '../helpers/processes.js';
import { Agent } from '../../src/agent/agent.js';
import { ProcessDriver } from '../../src/agent/drivers/process.js';
import type { HealthDocument } from '../../src/cli/status.js';
import { berth } from './helpers.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) {
    killTaskProcessesUnder(d);
    rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
});

test('berth status: the replicas, the leader of each duty, the agents and their heartbeats; a replica killed shows as gone', async (t) => {
  const pg = await startTestPostgres();
  if (typeof pg === 'string') return t.skip(pg);
  const token = randomBytes(16).toString('hex');
  const creds = { id: 'AKIA' + randomBytes(8).toString('hex').toUpperCase(), secret: randomBytes(20).toString('hex') };
  const env = { BERTH_ROOT_ACCESS_KEY_ID: creds.id, BERTH_ROOT_SECRET_ACCESS_KEY: creds.secret, BERTH_ACCOUNT_ID: '123456789012', BERTH_LEASE_TTL_MS: '1500', BERTH_OPERATOR_TOKEN: token };
  const a = await startTestBerth({ storeUrl: pg.url, env });
  const b = await spawnBerth(['--no-agent', '--ephemeral', '--store', pg.url, '--log-level', 'warn'], env);
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-status-agent-'));
  dirs.push(stateDir);
  const agent = new Agent({
    client: { endpoint: a.url, region: 'us-east-1', accessKeyId: creds.id, secretAccessKey: creds.secret },
    cluster: 'default',
    driver: new ProcessDriver({ dataDir: join(stateDir, 'process') }),
    stateDir,
    cpu: 1024,
    memoryMiB: 1024,
    pollSeconds: 1,
    log: () => undefined,
  });
  const ecs = new ECSClient(a.clientConfig);
  try {
    await agent.start();
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'sleeper', containerDefinitions: [{ name: 'app', image: 'host', memory: 32, command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'] }] }));
    const task = (await ecs.send(new RunTaskCommand({ cluster: 'default', taskDefinition: 'sleeper' }))).tasks![0]!.taskArn!;
    await eventually(async () => (await ecs.send(new DescribeTasksCommand({ cluster: 'default', tasks: [task] }))).tasks![0]!.lastStatus === 'RUNNING', { what: 'the task running' });

    // Nothing listens on the first endpoint: the second answers.
    const closed = `http://127.0.0.1:${await freePort()}`;
    const cliEnv = { BERTH_OPERATOR_TOKEN: token };
    const status = async (...extra: string[]) => berth(['status', '--server', `${closed},${a.url}`, ...extra], cliEnv);
    const json = await eventually(async () => {
      const r = await status('--output', 'json');
      assert.equal(r.status, 0, r.stderr);
      const h = JSON.parse(r.stdout) as HealthDocument & { endpoint: string };
      // Leases are short here (1.5 s), so on a loaded machine a duty can change hands between
      // the reads behind one document: wait for a document that agrees with itself.
      const leader = h.duties.find((d) => d.duty === 'service-controller')?.holder;
      const consistent = h.replicas?.some((r) => r.id === leader && r.leads.includes('service-controller')) && h.duties.every((d) => d.holder);
      return h.replicas?.length === 2 && h.replicas.every((x) => x.alive && x.url) && consistent && h;
    }, { what: 'both replicas listed alive with their URLs, each duty led by one of them' });
    assert.equal(json.endpoint, a.url);
    assert.deepEqual(json.replicas!.map((r) => r.url).sort(), [a.url, b.url].sort());
    assert.equal(json.replicas!.filter((r) => r.self).length, 1);
    const leader = json.duties.find((d) => d.duty === 'service-controller')!.holder!;
    assert.ok(json.replicas!.some((r) => r.id === leader && r.leads.includes('service-controller')), 'the leader of the service controller is a listed replica');
    for (const d of json.duties) assert.ok(d.holder, `${d.duty} has a leader`);
    assert.equal(json.agents?.length, 1);
    const ag = json.agents![0]!;
    assert.equal(ag.containerInstanceArn, agent.instanceArn);
    assert.equal(ag.agentConnected, true);
    assert.equal(ag.liveTasks, 1);
    assert.ok(Date.now() - ag.lastHeartbeat! < 10_000, 'a recent heartbeat');

    const text = await status();
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^Berth \S+ at http:\/\/127\.0\.0\.1:\d+ \(replica \S+, postgres store\): ok\n/);
    assert.match(text.stdout, /\nReplicas \(2 alive\)\n  ID +URL +VERSION +HEARTBEAT +STATE +LEADS\n/);
    assert.match(text.stdout, new RegExp(`\\n  service-controller +${leader.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +ends in \\d+s\\n`));
    assert.match(text.stdout, new RegExp(`\\n  default +${agent.instanceArn!.split('/').pop()} +ACTIVE +yes +\\d+s ago +1\\n`));
    assert.match(text.stdout, /\nAgents \(1 of 1 agent connected\)\n/);

    // Without the operator token: refused, said plainly.
    const refused = await berth(['status', '--server', a.url], {});
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^berth: Unauthorized: This endpoint needs Authorization: Bearer/);

    // B is killed: it shows as gone, and A leads every duty.
    b.child.kill('SIGKILL');
    await b.exited;
    const gone = await eventually(async () => {
      const h = JSON.parse((await status('--output', 'json')).stdout) as HealthDocument;
      const rb = h.replicas!.find((r) => r.url === b.url);
      return rb && !rb.alive && h.duties.every((d) => d.leading) && h;
    }, { what: 'B gone and A leading every duty', timeoutMs: 15_000 });
    assert.ok(gone.replicas!.find((r) => r.url === a.url)!.alive);
    assert.match((await status()).stdout, /\nReplicas \(1 alive\)\n[\s\S]* gone /);
  } finally {
    ecs.destroy();
    await agent.close({ stopTasks: true }).catch(() => undefined);
    if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
    await a.close();
    pg.stop();
  }
});

test('berth status: an endpoint list that is not URLs is a usage error; no server answering is said plainly', async () => {
  const bad = await berth(['status', '--server', 'http://127.0.0.1:1,ftp://x']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^berth: The endpoint must be an http:\/\/ or https:\/\/ URL: got 'ftp:\/\/x'\.\nRun 'berth status --help' for usage\.\n$/);
  const port = await freePort();
  const none = await berth(['status', '--server', `http://127.0.0.1:${port}`]);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /^berth: cannot reach Berth at http:\/\/127\.0\.0\.1:\d+/);
});
