/**
 * The control plane's side of the agent channel on the task-launch path, over real HTTP with
 * Berth's own signed client: the live-task index that Poll and placement read (kept in step by
 * every task write, rebuilt at start for state written without it), the woken long poll, and
 * heartbeats that are not rewritten on rapid re-polls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth, type Berth } from '../../src/berth.js';
import { callJson, type ClientConfig } from '../../src/client/awsClient.js';
import { ManualClock } from '../../src/clock.js';
import { KIND } from '../../src/domain/ecs/keys.js';
import type { ContainerInstanceRecord } from '../../src/domain/ecs/records.js';

const ECS = 'AmazonEC2ContainerServiceV20141113';

interface PollOut {
  fingerprint: string;
  instanceStatus: string;
  tasks: Array<{ taskArn: string; desiredStatus: string; lastStatus: string; spec: string }>;
}

function clientOf(berth: Berth): { ecs: <T = any>(op: string, input: unknown) => Promise<T>; agent: <T = any>(op: string, input: unknown) => Promise<T> } {
  const cfg: ClientConfig = { endpoint: berth.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey };
  return {
    ecs: (op, input) => callJson(cfg, 'ecs', `${ECS}.${op}`, input),
    agent: (op, input) => callJson(cfg, 'ecs', `BerthAgentV1.${op}`, input),
  };
}

/** A cluster with a 512 MiB task definition and one instance with room for two such tasks. */
async function setUp(berth: Berth, cluster: string): Promise<string> {
  const { ecs } = clientOf(berth);
  await ecs('CreateCluster', { clusterName: cluster });
  await ecs('RegisterTaskDefinition', { family: 'web', containerDefinitions: [{ name: 'app', image: 'host', memory: 512, essential: true }] });
  const reg = await ecs('RegisterContainerInstance', {
    cluster,
    totalResources: [
      { name: 'CPU', type: 'INTEGER', integerValue: 2048 },
      { name: 'MEMORY', type: 'INTEGER', integerValue: 1024 },
    ],
  });
  return reg.containerInstance.containerInstanceArn as string;
}

test('Poll and placement see live tasks stored without index entries once Berth restarts', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-index-'));
  try {
    let berth = await startBerth({ port: 0, dataDir, env: {} });
    const ci = await setUp(berth, 'c1');
    let { ecs, agent } = clientOf(berth);
    const a = (await ecs('RunTask', { cluster: 'c1', taskDefinition: 'web' })).tasks[0].taskArn as string;
    const b = (await ecs('RunTask', { cluster: 'c1', taskDefinition: 'web' })).tasks[0].taskArn as string;
    await agent('ReportTaskState', { cluster: 'c1', taskArn: b, change: JSON.stringify({ status: 'STOPPED' }) });
    // State as an older Berth wrote it: no index entries at all.
    const entries = await berth.platform.store.list(KIND.liveTaskOnInstance);
    assert.equal(entries.length, 1, 'one live task, one entry');
    await berth.platform.store.commit(entries.map((e) => ({ kind: e.kind, key: e.key, value: null })));
    await berth.close();

    berth = await startBerth({ port: 0, dataDir, env: {} });
    ({ ecs, agent } = clientOf(berth));
    try {
      const polled = await agent<PollOut>('Poll', { cluster: 'c1', containerInstanceArn: ci, waitSeconds: 0 });
      assert.deepEqual(polled.tasks.map((t) => t.taskArn), [a]);
      assert.equal(JSON.parse(polled.tasks[0]!.spec).family, 'web');
      // The live task holds 512 of 1024 MiB: one more fits, a third does not.
      const c = await ecs('RunTask', { cluster: 'c1', taskDefinition: 'web' });
      assert.equal(c.tasks.length, 1);
      const d = await ecs('RunTask', { cluster: 'c1', taskDefinition: 'web' });
      assert.equal(d.tasks.length, 0);
      assert.match(d.failures[0].reason, /RESOURCE:MEMORY/);
      const again = await agent<PollOut>('Poll', { cluster: 'c1', containerInstanceArn: ci, waitSeconds: 0 });
      assert.deepEqual(again.tasks.map((t) => t.taskArn).sort(), [a, c.tasks[0].taskArn].sort());
    } finally {
      await berth.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a waiting Poll is answered with a task RunTask places; a STOPPED task leaves the agent view', async () => {
  const berth = await startBerth({ port: 0, ephemeral: true, env: {} });
  try {
    const ci = await setUp(berth, 'c2');
    const { ecs, agent } = clientOf(berth);
    const first = await agent<PollOut>('Poll', { cluster: 'c2', containerInstanceArn: ci, waitSeconds: 0 });
    assert.deepEqual(first.tasks, []);
    const waiting = agent<PollOut>('Poll', { cluster: 'c2', containerInstanceArn: ci, fingerprint: first.fingerprint, waitSeconds: 20 });
    const started = Date.now();
    const run = await ecs('RunTask', { cluster: 'c2', taskDefinition: 'web' });
    const woken = await waiting;
    assert.ok(Date.now() - started < 10_000, 'answered on the change, not at the end of the wait');
    const arn = run.tasks[0].taskArn as string;
    assert.deepEqual(woken.tasks.map((t) => [t.taskArn, t.desiredStatus, t.lastStatus]), [[arn, 'RUNNING', 'PENDING']]);
    assert.notEqual(woken.fingerprint, first.fingerprint);

    const out = await agent('ReportTaskState', { cluster: 'c2', taskArn: arn, change: JSON.stringify({ status: 'RUNNING', containers: [{ containerName: 'app', status: 'RUNNING' }] }) });
    assert.deepEqual(out, { desiredStatus: 'RUNNING', lastStatus: 'RUNNING' });
    const described = await ecs('DescribeTasks', { cluster: 'c2', tasks: [arn] });
    assert.equal(described.tasks[0].lastStatus, 'RUNNING');
    assert.equal(described.tasks[0].containers[0].lastStatus, 'RUNNING');

    await ecs('StopTask', { cluster: 'c2', task: arn });
    const stopping = await agent<PollOut>('Poll', { cluster: 'c2', containerInstanceArn: ci, waitSeconds: 0 });
    assert.deepEqual(stopping.tasks.map((t) => [t.taskArn, t.desiredStatus]), [[arn, 'STOPPED']]);
    await agent('ReportTaskState', { cluster: 'c2', taskArn: arn, change: JSON.stringify({ status: 'STOPPED' }) });
    const after = await agent<PollOut>('Poll', { cluster: 'c2', containerInstanceArn: ci, waitSeconds: 0 });
    assert.deepEqual(after.tasks, []);
    assert.deepEqual(await berth.platform.store.list(KIND.liveTaskOnInstance), []);
    // Still describable after it stopped.
    assert.equal((await ecs('DescribeTasks', { cluster: 'c2', tasks: [arn] })).tasks[0].lastStatus, 'STOPPED');
  } finally {
    await berth.close();
  }
});

test('rapid re-polls do not rewrite the heartbeat; a later poll or a reconnect does', async () => {
  const clock = new ManualClock(Date.now());
  const berth = await startBerth({ port: 0, ephemeral: true, env: {}, clock });
  try {
    const ci = await setUp(berth, 'c3');
    const { agent } = clientOf(berth);
    const id = ci.split('/').pop()!;
    const rec = () => berth.platform.store.get<ContainerInstanceRecord>(KIND.containerInstance, `us-east-1/c3/${id}`);
    await agent('Poll', { cluster: 'c3', containerInstanceArn: ci, waitSeconds: 0 });
    const r1 = (await rec())!;
    assert.equal(r1.value.agentConnected, true);
    assert.equal(r1.value.lastHeartbeat, clock.now());
    await clock.advance(100);
    await agent('Poll', { cluster: 'c3', containerInstanceArn: ci, waitSeconds: 0 });
    assert.equal((await rec())!.rev, r1.rev, 'no write 100 ms after the last heartbeat');
    await clock.advance(5_000);
    await agent('Poll', { cluster: 'c3', containerInstanceArn: ci, waitSeconds: 0 });
    const r2 = (await rec())!;
    assert.equal(r2.value.lastHeartbeat, clock.now());
    // Disconnected (as the stale-agent sweep marks it): the very next poll reconnects it.
    await berth.platform.store.commit([{ kind: KIND.containerInstance, key: r2.key, value: { ...r2.value, agentConnected: false }, expectRev: r2.rev }]);
    await agent('Poll', { cluster: 'c3', containerInstanceArn: ci, waitSeconds: 0 });
    assert.equal((await rec())!.value.agentConnected, true);
    // An unknown instance still gets the answer agents act on.
    await assert.rejects(agent('Poll', { cluster: 'c3', containerInstanceArn: ci.replace(id, 'f'.repeat(32)), waitSeconds: 0 }), (e: Error) => {
      assert.equal(e.name, 'InvalidParameterException');
      assert.match(e.message, /not registered/);
      return true;
    });
  } finally {
    await berth.close();
  }
});
