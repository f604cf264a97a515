// An agent host lost for real: `berth up` as a process (agent timeout 7 s and lost grace shortened
// through its environment), three `berth agent` processes with the process driver, each in its
// own availability zone, a service of 6 spread over the zones (2 each); kill -9 of one agent ->
// its instance is declared lost, its tasks are marked STOPPED and 6 run again on the other two
// within 15 s, with events.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ECSClient, CreateClusterCommand, RegisterTaskDefinitionCommand, CreateServiceCommand, DescribeServicesCommand, ListTasksCommand, DescribeTasksCommand, DescribeContainerInstancesCommand, type Task } from '@aws-sdk/client-ecs';
import { eventually } from '../helpers/fixture.js';
import { spawnBerth, spawnAgent, killTaskProcessesUnder, type AgentProcess } from '../helpers/processes.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  // Task processes outlive a killed agent by design; end the ones this test started.
  for (const d of dirs) {
    killTaskProcessesUnder(d);
    // A killed supervisor may still be flushing its log: retry, and never fail the file over cleanup.
    try {
      rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    } catch {
      /* left in the temp dir */
    }
  }
});

function startAgent(url: string, creds: { id: string; secret: string }, stateDir: string, az: string): Promise<AgentProcess> {
  return spawnAgent({ url, accessKeyId: creds.id, secretAccessKey: creds.secret, cluster: 'lost', stateDir, az });
}

test('three agents in three zones, 6 tasks spread 2 per zone; kill -9 of one: 6 run again on the other two within 15 s of it being declared lost', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-lost-'));
  dirs.push(dataDir);
  const creds = { id: 'AKIA' + randomBytes(8).toString('hex').toUpperCase(), secret: randomBytes(20).toString('hex') };
  const up = await spawnBerth(['--no-agent', '--data-dir', dataDir], {
    BERTH_ROOT_ACCESS_KEY_ID: creds.id,
    BERTH_ROOT_SECRET_ACCESS_KEY: creds.secret,
    BERTH_AGENT_TIMEOUT_MS: '7000', // above the agent's 5 s long poll (its heartbeat)
    BERTH_INSTANCE_LOST_AFTER_MS: '500',
  });
  children.push(up.child);
  const ecs = new ECSClient({ endpoint: up.url, region: 'us-east-1', credentials: { accessKeyId: creds.id, secretAccessKey: creds.secret }, maxAttempts: 1 });
  try {
    await ecs.send(new CreateClusterCommand({ clusterName: 'lost' }));
    const agents: Array<{ child: ChildProcess; arn: string }> = [];
    for (const az of ['us-east-1a', 'us-east-1b', 'us-east-1c']) {
      const stateDir = mkdtempSync(join(tmpdir(), 'berth-lost-agent-'));
      dirs.push(stateDir);
      agents.push(await startAgent(up.url, creds, stateDir, az));
    }
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'sleeper',
        containerDefinitions: [{ name: 'app', image: 'host', essential: true, cpu: 64, memory: 32, command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'] }],
      }),
    );
    await ecs.send(
      new CreateServiceCommand({
        cluster: 'lost',
        serviceName: 'app',
        taskDefinition: 'sleeper',
        desiredCount: 6,
        placementStrategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }],
      }),
    );
    const live = async (): Promise<Task[]> => {
      const arns = (await ecs.send(new ListTasksCommand({ cluster: 'lost', serviceName: 'app' }))).taskArns!;
      return arns.length ? (await ecs.send(new DescribeTasksCommand({ cluster: 'lost', tasks: arns }))).tasks! : [];
    };
    const first = await eventually(async () => {
      const ts = await live();
      return ts.length === 6 && ts.every((t) => t.lastStatus === 'RUNNING') && ts;
    }, { what: '6 tasks running', timeoutMs: 30_000 });
    const perInstance = (ts: Task[]) => agents.map((a) => ts.filter((t) => t.containerInstanceArn === a.arn).length);
    assert.deepEqual(perInstance(first), [2, 2, 2], 'spread over the zones: 2 per zone');

    const [victim, ...survivors] = agents;
    const lostTasks = first.filter((t) => t.containerInstanceArn === victim!.arn);
    victim!.child.kill('SIGKILL');
    await eventually(async () => {
      const ci = await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'lost', containerInstances: [victim!.arn] }));
      return ci.containerInstances?.[0]?.agentConnected === false;
    }, { what: 'the instance to be declared lost', timeoutMs: 30_000, intervalMs: 100 });
    const declaredLost = Date.now();
    const replaced = await eventually(async () => {
      const ts = await live();
      return ts.length === 6 && ts.every((t) => t.lastStatus === 'RUNNING' && survivors.some((a) => a.arn === t.containerInstanceArn)) && ts;
    }, { what: '6 tasks on the surviving agents', timeoutMs: 30_000 });
    const took = Date.now() - declaredLost;
    assert.ok(took < 15_000, `6 running again within 15 s of the instance being declared lost (${took} ms)`);
    assert.deepEqual(perInstance(replaced), [0, 3, 3]);
    const events = (await ecs.send(new DescribeServicesCommand({ cluster: 'lost', services: ['app'] }))).services![0]!.events!.map((e) => e.message!);
    for (const lost of lostTasks) {
      const old = (await ecs.send(new DescribeTasksCommand({ cluster: 'lost', tasks: [lost.taskArn!] }))).tasks![0]!;
      assert.equal(old.lastStatus, 'STOPPED');
      assert.equal(old.stoppedReason, 'Task stopped because its container instance was lost (agent disconnected)');
      const id = lost.taskArn!.split('/').pop()!;
      assert.ok(events.some((m) => m.startsWith('(service app) has stopped') && m.includes(`(task ${id})`)), JSON.stringify(events));
    }
    assert.ok(events.some((m) => /^\(service app\) has started 2 tasks: /.test(m)), JSON.stringify(events));
  } finally {
    ecs.destroy();
    up.child.kill('SIGTERM');
    await up.exited;
  }
});
