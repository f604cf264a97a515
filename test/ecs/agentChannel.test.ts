/**
 * The control plane's side of the agent channel on the task-launch path, over real HTTP with
 * Berth's own signed client: the live-task index that Poll and placement read (kept in step by
 * every task write, rebuilt at start for state written without it), the woken long poll with
 * each task's spec as a structure, heartbeats that are not rewritten on rapid re-polls, and
 * reports checked against the channel's model at the gateway (a malformed one is refused
 * whole, changes nothing, and leaves the cluster answering).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTasksCommand, ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { startBerth, type Berth } from '../../src/berth.js';
import { callJson, type ClientConfig } from '../../src/client/awsClient.js';
import { ManualClock } from '../../src/clock.js';
import { KIND } from '../../src/domain/ecs/keys.js';
import type { ContainerInstanceRecord, TaskRecord } from '../../src/domain/ecs/records.js';
import type { AgentTask } from '../../src/generated/berthagent.js';
import { signRequest } from '../../src/protocol/sigv4.js';

const ECS = 'AmazonEC2ContainerServiceV20141113';

interface PollOut {
  fingerprint: string;
  instanceStatus: string;
  tasks: AgentTask[];
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
    await agent('ReportTaskState', { cluster: 'c1', taskArn: b, change: { status: 'STOPPED' } });
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
      assert.equal(polled.tasks[0]!.spec.family, 'web');
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
    // The spec is a structure of the channel's model: what the agent runs, and nothing else of ECS's definition.
    const spec = woken.tasks[0]!.spec;
    assert.equal(spec.taskArn, arn);
    assert.equal(spec.taskId, arn.split('/').pop());
    assert.deepEqual([spec.cluster, spec.family, spec.revision, spec.networkMode], ['c2', 'web', 1, 'bridge']);
    assert.deepEqual(spec.containers.map((c) => [c.name, c.image, c.memory, c.essential]), [['app', 'host', 512, true]]);
    assert.equal('mountPoints' in spec.containers[0]!, false, 'ECS fields the agent does not run are not sent');

    // Times travel as epoch seconds (awsJson's form) and are kept to the millisecond.
    const out = await agent('ReportTaskState', { cluster: 'c2', taskArn: arn, change: { status: 'RUNNING', pullStartedAt: 1_700_000_000.25, containers: [{ containerName: 'app', status: 'RUNNING' }] } });
    assert.deepEqual(out, { desiredStatus: 'RUNNING', lastStatus: 'RUNNING' });
    const described = await ecs('DescribeTasks', { cluster: 'c2', tasks: [arn] });
    assert.equal(described.tasks[0].lastStatus, 'RUNNING');
    assert.equal(described.tasks[0].containers[0].lastStatus, 'RUNNING');
    assert.equal(described.tasks[0].pullStartedAt, 1_700_000_000.25);

    await ecs('StopTask', { cluster: 'c2', task: arn });
    const stopping = await agent<PollOut>('Poll', { cluster: 'c2', containerInstanceArn: ci, waitSeconds: 0 });
    assert.deepEqual(stopping.tasks.map((t) => [t.taskArn, t.desiredStatus]), [[arn, 'STOPPED']]);
    await agent('ReportTaskState', { cluster: 'c2', taskArn: arn, change: { status: 'STOPPED' } });
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

/** A signed awsJson request to the agent channel, answered as status, error code and message (nothing thrown). */
async function rawAgentCall(berth: Berth, op: string, body: unknown): Promise<{ status: number; type: string; message: string }> {
  const url = new URL(`${berth.url}/`);
  const text = JSON.stringify(body);
  const headers = signRequest({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `BerthAgentV1.${op}` },
    body: text,
    accessKeyId: berth.credentials.accessKeyId,
    secretAccessKey: berth.credentials.secretAccessKey,
    region: 'us-east-1',
    service: 'ecs',
  });
  delete headers.host;
  const res = await fetch(url, { method: 'POST', headers, body: text });
  const out = (await res.json()) as { __type?: string; message?: string };
  return { status: res.status, type: out.__type ?? '', message: out.message ?? '' };
}

test('a malformed report is refused whole at the gateway, changes nothing, and RunTask and DescribeTasks keep answering', async () => {
  const berth = await startBerth({ port: 0, ephemeral: true, env: {} });
  const sdk = new ECSClient({ endpoint: berth.url, region: 'us-east-1', credentials: { accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey } });
  try {
    await setUp(berth, 'c4');
    const { ecs, agent } = clientOf(berth);
    const arn = (await ecs('RunTask', { cluster: 'c4', taskDefinition: 'web' })).tasks[0].taskArn as string;
    const binding = { bindIP: '0.0.0.0', containerPort: 80, hostPort: 8080, protocol: 'tcp' };
    await agent('ReportTaskState', { cluster: 'c4', taskArn: arn, change: { status: 'RUNNING', containers: [{ containerName: 'app', status: 'RUNNING', runtimeId: 'pid-1', networkBindings: [binding] }] } });
    const record = () => berth.platform.store.get<TaskRecord>(KIND.task, `us-east-1/c4/${arn.split('/').pop()}`);
    const before = (await record())!;

    const IPE = 'InvalidParameterException';
    const SER = 'SerializationException';
    const { hostPort: _omitted, ...noHostPort } = binding;
    const cases: Array<[what: string, change: unknown, code: string, message: RegExp]> = [
      // The report that was once stored and then made RunTask and DescribeTasks answer 500.
      ['networkBindings: 1', { containers: [{ containerName: 'app', networkBindings: 1 }] }, SER, /NUMBER_VALUE can not be converted to a list at 'change\.containers\.1\.member\.networkBindings'/],
      ['a hostPort of 70000', { containers: [{ containerName: 'app', networkBindings: [{ ...binding, hostPort: 70000 }] }] }, IPE, /Value '70000' at 'change\.containers\.1\.member\.networkBindings\.1\.member\.hostPort' failed to satisfy constraint: Member must have value less than or equal to 65535/],
      ['a binding without hostPort', { containers: [{ containerName: 'app', networkBindings: [noHostPort] }] }, IPE, /Value null at 'change\.containers\.1\.member\.networkBindings\.1\.member\.hostPort' failed to satisfy constraint: Member must not be null/],
      ['a binding protocol sctp', { containers: [{ containerName: 'app', networkBindings: [{ ...binding, protocol: 'sctp' }] }] }, IPE, /Member must satisfy enum value set: \[tcp, udp\]/],
      ['an unknown task status', { status: 'EXPLODED' }, IPE, /Value 'EXPLODED' at 'change\.status' failed to satisfy constraint: Member must satisfy enum value set: \[PROVISIONING, PENDING/],
      ['an unknown container status', { containers: [{ containerName: 'app', status: 'DEAD' }] }, IPE, /'change\.containers\.1\.member\.status'.*enum value set: \[PENDING, RUNNING, STOPPED\]/],
      ['an unknown stop code', { status: 'STOPPED', stopCode: 'Gremlins' }, IPE, /'change\.stopCode'/],
      ['an over-long reason', { status: 'STOPPED', reason: 'x'.repeat(10_000) }, IPE, /at 'change\.reason' failed to satisfy constraint: Member must have length less than or equal to 255/],
      ['10,000 containers', { status: 'STOPPED', containers: Array.from({ length: 10_000 }, () => ({ containerName: 'app', status: 'STOPPED' })) }, IPE, /\.\.\. \(10000 items\)\]' at 'change\.containers' failed to satisfy constraint: Member must have length less than or equal to 10/],
      ['an exit code beyond 32 bits', { containers: [{ containerName: 'app', exitCode: 2 ** 40 }] }, SER, /can not be converted to an Integer .* at 'change\.containers\.1\.member\.exitCode'/],
      ['a timestamp no date can hold', { status: 'STOPPED', executionStoppedAt: 1e20 }, SER, /can not be converted to a Timestamp .*at 'change\.executionStoppedAt'/],
      ['the change as a JSON string (the old wire, carrying that report)', JSON.stringify({ containers: [{ containerName: 'app', networkBindings: 1 }] }), SER, /STRING_VALUE can not be converted to a structure at 'change'/],
      ['no change at all', undefined, IPE, /Value null at 'change' failed to satisfy constraint: Member must not be null/],
      // Valid by the model, refused by the domain: still all or nothing.
      ['a container the task does not have', { status: 'STOPPED', containers: [{ containerName: 'nope', status: 'STOPPED' }] }, IPE, /Container 'nope' is not a container of task/],
    ];
    for (const [what, change, code, message] of cases) {
      const r = await rawAgentCall(berth, 'ReportTaskState', { cluster: 'c4', taskArn: arn, change });
      assert.equal(r.status, 400, what);
      assert.equal(r.type, code, `${what}: ${r.message}`);
      assert.match(r.message, message, what);
      assert.ok(r.message.length < 2_000, `${what}: the message is short (${r.message.length} characters)`);
      assert.equal((await record())!.rev, before.rev, `${what}: the task is unchanged`);
    }

    // The cluster answers as before, through the SDK: the task as the good report left it, and room for one more.
    const described = await sdk.send(new DescribeTasksCommand({ cluster: 'c4', tasks: [arn] }));
    assert.equal(described.$metadata.httpStatusCode, 200);
    assert.equal(described.tasks![0]!.lastStatus, 'RUNNING');
    assert.deepEqual(described.tasks![0]!.containers![0]!.networkBindings, [binding]);
    const run = await sdk.send(new RunTaskCommand({ cluster: 'c4', taskDefinition: 'web' }));
    assert.equal(run.$metadata.httpStatusCode, 200);
    assert.equal(run.tasks!.length, 1);
  } finally {
    sdk.destroy();
    await berth.close();
  }
});
