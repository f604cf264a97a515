// Container output reaches CloudWatch Logs exactly once across crashes: a task prints 10,000
// numbered lines (slowly, so shipping is under way) while what ships them is killed with SIGKILL
// mid-stream and started again on the same state: `berth up` with its in-process agent (process
// driver, killed twice; docker driver, once); and, with a standalone `berth agent`, first the
// server alone (`berth up --no-agent`, started again on the same port while the agent keeps
// running and keeps sending: batches in flight at the kill are in doubt), then the agent alone.
// Read back with GetLogEvents and with FilterLogEvents, the stream holds every line once, in
// order: nothing the dead agent had in memory is lost, nothing it had shipped is repeated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudWatchLogsClient, FilterLogEventsCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { ECSClient, CreateClusterCommand, DescribeTasksCommand, RegisterTaskDefinitionCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { eventually } from '../helpers/fixture.js';
import { spawnAgent, spawnBerth, agentStateDirs, type BerthProcess } from '../helpers/processes.js';
import { defaultDockerSocket } from '../../src/agent/drivers/dockerApi.js';
import { ensureBusyboxImage } from '../helpers/images.js';

const LINES = 10_000;
const GROUP = '/restart/app';
/** 10,000 numbered lines, 50 at a time every 0.1 s: about 20 s of output. */
const SCRIPT = `i=0; while [ $i -lt ${LINES} ]; do echo "line $i"; i=$((i+1)); if [ $((i % 50)) -eq 0 ]; then sleep 0.1; fi; done`;
const EXPECTED = Array.from({ length: LINES }, (_, i) => `line ${i}`);

/** Temp dirs (data and agent state), removed with the task processes under them after the tests. */
const tempDir = agentStateDirs();

function clientsFor(url: string, dataDir: string) {
  const creds = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
  const config = { endpoint: url, region: 'us-east-1', credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey }, maxAttempts: 1 };
  return { ecs: new ECSClient(config), logs: new CloudWatchLogsClient(config), creds };
}

/** Every message of the stream, oldest first. */
async function stored(logs: CloudWatchLogsClient, stream: string): Promise<string[]> {
  const out: string[] = [];
  let nextToken: string | undefined;
  for (;;) {
    let page;
    try {
      page = await logs.send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: stream, startFromHead: true, nextToken }));
    } catch (e) {
      if ((e as { name?: string }).name === 'ResourceNotFoundException') return out;
      throw e;
    }
    if (!page.events?.length) return out;
    out.push(...page.events.map((e) => e.message!));
    nextToken = page.nextForwardToken;
  }
}

/** Every message of the stream as FilterLogEvents pages it (oldest first). */
async function filtered(logs: CloudWatchLogsClient, stream: string): Promise<string[]> {
  const out: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await logs.send(new FilterLogEventsCommand({ logGroupName: GROUP, logStreamNames: [stream], nextToken }));
    out.push(...(page.events ?? []).map((e) => e.message!));
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

/** The number in the stream's newest line ("line N"), or -1: cheap to poll, unlike reading the whole stream. */
async function newest(logs: CloudWatchLogsClient, stream: string): Promise<number> {
  try {
    const page = await logs.send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: stream, startFromHead: false, limit: 1 }));
    const m = /^line (\d+)$/.exec(page.events?.[0]?.message ?? '');
    return m ? Number(m[1]) : -1;
  } catch (e) {
    if ((e as { name?: string }).name === 'ResourceNotFoundException') return -1;
    throw e;
  }
}

/** Says what is wrong with what was stored, in a readable way. */
function exactlyOnce(got: string[]): void {
  const seen = new Map<string, number>();
  for (const m of got) seen.set(m, (seen.get(m) ?? 0) + 1);
  const repeated = [...seen].filter(([, n]) => n > 1).map(([m]) => m);
  const missing = EXPECTED.filter((m) => !seen.has(m));
  assert.deepEqual({ repeated: repeated.slice(0, 10), repeatedCount: repeated.length, missing: missing.slice(0, 10), missingCount: missing.length }, { repeated: [], repeatedCount: 0, missing: [], missingCount: 0 });
  assert.deepEqual(got, EXPECTED, 'every line once, in order');
}

async function runPrinter(ecs: ECSClient, cluster: string, image: string): Promise<{ taskArn: string; stream: string }> {
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'printer',
      containerDefinitions: [
        {
          name: 'app',
          image,
          memory: 64,
          essential: true,
          command: ['sh', '-c', SCRIPT],
          logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': GROUP, 'awslogs-create-group': 'true', 'awslogs-stream-prefix': 'app' } },
        },
      ],
    }),
  );
  const run = await ecs.send(new RunTaskCommand({ cluster, taskDefinition: 'printer' }));
  assert.deepEqual(run.failures, []);
  const taskArn = run.tasks![0]!.taskArn!;
  return { taskArn, stream: `app/app/${taskArn.split('/').pop()}` };
}

async function killed(p: { child: import('node:child_process').ChildProcess }): Promise<void> {
  const gone = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGKILL');
  await gone;
}

/** Waits for line `n` to be shipped while the task still prints (else the kill would not be mid-stream). */
async function midStream(logs: CloudWatchLogsClient, stream: string, n: number): Promise<number> {
  const last = await eventually(async () => {
    const l = await newest(logs, stream);
    return l >= n ? l : undefined;
  }, { what: `line ${n} in CloudWatch Logs`, timeoutMs: 60_000, intervalMs: 200 });
  assert.ok(last < LINES - 1, `the kill comes mid-stream (line ${last} of ${LINES} shipped)`);
  return last;
}

async function finished(ecs: ECSClient, logs: CloudWatchLogsClient, cluster: string, taskArn: string, stream: string): Promise<void> {
  await eventually(async () => (await ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }))).tasks?.[0]?.lastStatus === 'STOPPED', {
    what: 'the printer to finish',
    timeoutMs: 120_000,
    intervalMs: 250,
  });
  // A stopped task's containers are removed once their lines are shipped: what is there now is final.
  await eventually(async () => (await newest(logs, stream)) === LINES - 1, { what: 'the last line in CloudWatch Logs', timeoutMs: 30_000, intervalMs: 250 });
  exactlyOnce(await stored(logs, stream));
  exactlyOnce(await filtered(logs, stream));
}

for (const driver of ['process', 'docker'] as const) {
  test(`berth up (${driver} driver) killed with SIGKILL mid-stream and started again: every line in CloudWatch Logs exactly once`, async (t) => {
    let image = 'host';
    if (driver === 'docker') {
      if (!existsSync(defaultDockerSocket())) return t.skip(`no docker engine socket at ${defaultDockerSocket()}`);
      image = await ensureBusyboxImage();
    }
    const dataDir = tempDir(`berth-logs-up-${driver}-`);
    const args = ['--data-dir', dataDir, '--driver', driver];
    let up: BerthProcess = await spawnBerth(args);
    const outputs: string[] = [];
    await eventually(() => /agent: \w+ driver/.test(up.output()), { what: 'the local agent', timeoutMs: 20_000 });
    let c = clientsFor(up.url, dataDir);
    const { taskArn, stream } = await runPrinter(c.ecs, 'default', image);
    // Kill it mid-stream (twice with the process driver: the second agent is one that recovered).
    const kills = driver === 'process' ? [1500, 5000] : [2500];
    for (const n of kills) {
      await midStream(c.logs, stream, n);
      await killed(up);
      outputs.push(up.output());
      c.ecs.destroy();
      c.logs.destroy();
      up = await spawnBerth(args);
      c = clientsFor(up.url, dataDir);
    }
    try {
      await finished(c.ecs, c.logs, 'default', taskArn, stream).catch((e: Error) => {
        // What each berth said (its agent's log included) is the first thing to read on a failure.
        e.message += `\n--- berth up outputs ---\n${[...outputs, up.output()].join('\n=====\n')}`;
        throw e;
      });
    } finally {
      c.ecs.destroy();
      c.logs.destroy();
      up.child.kill('SIGTERM');
      await up.exited;
    }
  });
}

test('with a standalone berth agent: the server killed mid-stream and started again, then the agent: every line in CloudWatch Logs exactly once', async () => {
  const dataDir = tempDir('berth-logs-cp-');
  const stateDir = tempDir('berth-logs-agent-');
  let up = await spawnBerth(['--data-dir', dataDir, '--no-agent']);
  const outputs: string[] = [];
  // The agent knows one endpoint: the server comes back where it was.
  const port = new URL(up.url).port;
  let c = clientsFor(up.url, dataDir);
  const start = () => spawnAgent({ url: up.url, accessKeyId: c.creds.accessKeyId, secretAccessKey: c.creds.secretAccessKey, cluster: 'restart', stateDir, az: 'us-east-1a' });
  let agent: Awaited<ReturnType<typeof start>> | undefined;
  try {
    await c.ecs.send(new CreateClusterCommand({ clusterName: 'restart' }));
    agent = await start();
    const { taskArn, stream } = await runPrinter(c.ecs, 'restart', 'host');

    // The server dies under the agent, which goes on reading the task's output and sending it.
    await midStream(c.logs, stream, 1500);
    await killed(up);
    outputs.push(up.output());
    c.ecs.destroy();
    c.logs.destroy();
    up = await spawnBerth(['--data-dir', dataDir, '--no-agent', '--port', port]);
    c = clientsFor(up.url, dataDir);

    // Then the agent dies, and a new one takes over its state.
    const before = await midStream(c.logs, stream, 5000);
    assert.ok(before >= 5000, 'the agent shipped past the server restart');
    await killed(agent);
    const again = await start();
    assert.equal(again.arn, agent.arn, 'the same container instance');
    agent = again;
    await finished(c.ecs, c.logs, 'restart', taskArn, stream).catch((e: Error) => {
      e.message += `\n--- berth up outputs ---\n${[...outputs, up.output()].join('\n=====\n')}`;
      throw e;
    });
  } finally {
    agent?.child.kill('SIGTERM');
    c.ecs.destroy();
    c.logs.destroy();
    up.child.kill('SIGTERM');
    await up.exited;
  }
});
