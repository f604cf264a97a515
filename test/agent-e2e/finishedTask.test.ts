// A task runs at most once on an agent: when its container has exited and the task is cleaned
// up, a poll answer that still lists it as RUNNING (its STOPPED report has not landed yet) must
// not start it again. Before, it did: the task ran twice and its output was shipped twice (the
// exactly-once logs test caught it, a task that finished while its agent was down). Here the
// STOPPED report is held back by a proxy in front of the control plane, so the stale answers
// come for sure; after a restart of the agent the task's end is still remembered (and reported).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, RegisterTaskDefinitionCommand, RunTaskCommand, DescribeTasksCommand } from '@aws-sdk/client-ecs';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { startTestBerth, eventually } from '../helpers/fixture.js';
import { Agent } from '../../src/agent/agent.js';
import { ProcessDriver } from '../../src/agent/drivers/process.js';
import { killTaskProcessesUnder } from '../helpers/processes.js';

/** Forwards every request to `target`, but holds STOPPED task reports while `hold` is true. */
async function reportHoldingProxy(target: string): Promise<{ url: string; held: () => number; release: () => void; server: Server }> {
  let hold = true;
  let held = 0;
  const waiting: Array<() => void> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const forward = () => {
        const up = request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', () => res.destroy());
        up.end(body);
      };
      const isStopReport = String(req.headers['x-amz-target'] ?? '').endsWith('.ReportTaskState') && body.includes('"status":"STOPPED"');
      if (isStopReport && hold) {
        held++;
        waiting.push(forward);
      } else forward();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held,
    release: () => {
      hold = false;
      for (const f of waiting.splice(0)) f();
    },
    server,
  };
}

test('a task that ended is not started again by a poll answer from before its STOPPED report landed, nor after an agent restart', async () => {
  const berth = await startTestBerth();
  const proxy = await reportHoldingProxy(berth.url);
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-once-'));
  const newAgent = () =>
    new Agent({
      client: { endpoint: proxy.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey, timeoutMs: 60_000 },
      cluster: 'default',
      driver: new ProcessDriver({ dataDir: join(stateDir, 'process') }),
      stateDir,
      pollSeconds: 1,
      log: () => undefined,
    });
  let agent = newAgent();
  const ecs = new ECSClient(berth.clientConfig);
  const logs = new CloudWatchLogsClient(berth.clientConfig);
  try {
    await agent.start();
    await ecs.send(new RegisterTaskDefinitionCommand({
      family: 'once',
      containerDefinitions: [{
        name: 'job', image: 'host', memory: 32, command: ['sh', '-c', 'echo ran'],
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/once', 'awslogs-create-group': 'true', 'awslogs-stream-prefix': 'job' } },
      }],
    }));
    const taskArn = (await ecs.send(new RunTaskCommand({ taskDefinition: 'once' }))).tasks![0]!.taskArn!;
    const stream = `job/job/${taskArn.split('/').pop()}`;
    const runs = async () => ((await logs.send(new GetLogEventsCommand({ logGroupName: '/once', logStreamName: stream, startFromHead: true }))).events ?? []).filter((e) => e.message === 'ran').length;
    // The job ran and ended; its STOPPED report is held, so every poll still lists it RUNNING.
    await eventually(() => proxy.held() > 0, { what: 'the STOPPED report', timeoutMs: 20_000 });
    await eventually(async () => (await runs()) >= 1, { what: 'the output of the run' });
    // Several polls answer meanwhile (one a second): none may start it again.
    const deadline = Date.now() + 4_000;
    await eventually(() => Date.now() > deadline, { what: 'four seconds of stale polls', timeoutMs: 10_000, intervalMs: 200 });
    assert.equal(await runs(), 1, 'ran once');
    // The control plane does not know of the end yet: RUNNING, or PENDING when the job ended
    // before its RUNNING report went out (the agent then sends one report, held with the rest).
    assert.ok(['PENDING', 'RUNNING'].includes((await ecs.send(new DescribeTasksCommand({ tasks: [taskArn] }))).tasks![0]!.lastStatus!), 'the control plane does not know yet');
    assert.ok(readdirSync(join(stateDir, 'tasks')).some((f) => f.endsWith('.stopped')), 'its end is on record');

    // The agent restarts before its report lands: the new one remembers the end and reports it.
    await agent.close();
    agent = newAgent();
    await agent.start();
    const again = Date.now() + 3_000;
    await eventually(() => Date.now() > again, { what: 'three seconds of stale polls', timeoutMs: 10_000, intervalMs: 200 });
    assert.equal(await runs(), 1, 'still ran once');
    proxy.release();
    const stopped = await eventually(async () => {
      const t = (await ecs.send(new DescribeTasksCommand({ tasks: [taskArn] }))).tasks![0]!;
      return t.lastStatus === 'STOPPED' ? t : undefined;
    }, { what: 'the task to be STOPPED', timeoutMs: 20_000 });
    assert.equal(stopped.containers![0]!.exitCode, 0);
    assert.equal(stopped.stopCode, 'EssentialContainerExited');
    // Once the control plane knows, the record goes.
    await eventually(() => !readdirSync(join(stateDir, 'tasks')).some((f) => f.endsWith('.stopped')), { what: 'the end record to go' });
    assert.equal(await runs(), 1);
  } finally {
    proxy.release();
    ecs.destroy();
    logs.destroy();
    await agent.close({ stopTasks: true });
    proxy.server.closeAllConnections();
    proxy.server.close();
    await berth.close();
    killTaskProcessesUnder(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
  }
});
