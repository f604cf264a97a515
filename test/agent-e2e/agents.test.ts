// Agents as separate `berth agent` processes on one control plane: both register, start-task
// lands on the chosen one, kill -9 of an agent leaves its tasks running and a restarted agent
// takes them back without restarting anything; an essential container exiting 1 stops its
// task with ECS's reason; secrets from SSM reach the container; output lands in CloudWatch Logs,
// the crash's last line included, and `berth logs -f` follows it; a task whose spec the agent
// cannot use fails to start, saying why, and costs no other task.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, RegisterTaskDefinitionCommand, StartTaskCommand, DescribeTasksCommand, ListContainerInstancesCommand, DescribeContainerInstancesCommand, RunTaskCommand, CreateClusterCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { SSMClient, PutParameterCommand } from '@aws-sdk/client-ssm';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { startTestBerth, eventually, awsOk, hasAwsCli, type TestBerth } from '../helpers/fixture.js';
import { BERTH_BIN, spawnAgent, killTaskProcessesUnder, type AgentProcess } from '../helpers/processes.js';

let berth: TestBerth;
let ecs: ECSClient;
const dirs: string[] = [];
const children: ChildProcess[] = [];

before(async () => {
  berth = await startTestBerth();
  ecs = new ECSClient(berth.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: 'pair' }));
});
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  ecs.destroy();
  await berth.close();
  // Task processes outlive agents by design; end the ones these tests started.
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

function startAgent(stateDir: string, az: string): Promise<AgentProcess> {
  return spawnAgent({ url: berth.url, accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey, cluster: 'pair', stateDir, az });
}

async function describeTask(arn: string) {
  return (await ecs.send(new DescribeTasksCommand({ cluster: 'pair', tasks: [arn] }))).tasks![0]!;
}

const SERVER_JS = "const h=require('http');let n=0;h.createServer((q,s)=>s.end(JSON.stringify({pid:process.pid,n:++n,secret:process.env.DB_PASSWORD}))).listen(process.env.PORT);console.log('listening')";

test('two agent processes, start-task onto a chosen one, kill -9 and restart: nothing restarted', async () => {
  const a = mkdtempSync(join(tmpdir(), 'berth-agent-a-'));
  const b = mkdtempSync(join(tmpdir(), 'berth-agent-b-'));
  dirs.push(a, b);
  const agentA = await startAgent(a, 'us-east-1a');
  const agentB = await startAgent(b, 'us-east-1b');
  const listed = await ecs.send(new ListContainerInstancesCommand({ cluster: 'pair' }));
  assert.deepEqual(new Set(listed.containerInstanceArns), new Set([agentA.arn, agentB.arn]));

  const ssm = new SSMClient(berth.clientConfig);
  await ssm.send(new PutParameterCommand({ Name: '/pair/db-password', Type: 'SecureString', Value: 's3cr3t-value-42' }));
  ssm.destroy();
  await ecs.send(new RegisterTaskDefinitionCommand({
    family: 'api',
    containerDefinitions: [{
      name: 'api', image: 'host', memory: 64, essential: true,
      portMappings: [{ containerPort: 8080, hostPort: 0 }],
      command: [process.execPath, '-e', SERVER_JS],
      secrets: [{ name: 'DB_PASSWORD', valueFrom: '/pair/db-password' }],
    }],
  }));
  const started = await ecs.send(new StartTaskCommand({ cluster: 'pair', taskDefinition: 'api', containerInstances: [agentB.arn] }));
  const taskArn = started.tasks![0]!.taskArn!;
  assert.equal(started.tasks![0]!.containerInstanceArn, agentB.arn);
  const running = await eventually(async () => {
    const t = await describeTask(taskArn);
    return t.lastStatus === 'RUNNING' ? t : undefined;
  }, { what: 'the task to run on agent B', timeoutMs: 20_000 });
  const port = running.containers![0]!.networkBindings![0]!.hostPort!;
  const first = await eventually(async () => (await fetch(`http://127.0.0.1:${port}/`)).json(), { what: 'the api to answer' });
  assert.equal(first.secret, 's3cr3t-value-42', 'the SecureString reached the container environment');

  // The secret is nowhere on disk: not in the control plane's data dir, not in the agent's state.
  for (const dir of [berth.dataDir, b]) {
    const hits: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        const st = statSync(p);
        if (st.isDirectory()) walk(p);
        else if (st.isFile() && readFileSync(p).includes('s3cr3t-value-42')) hits.push(p);
      }
    };
    walk(dir);
    assert.deepEqual(hits, [], `secret found on disk in ${hits.join(', ')}`);
  }

  agentB.child.kill('SIGKILL');
  await new Promise((r) => agentB.child.once('exit', r));
  // While the agent is gone, the task keeps serving from the same process.
  const during = await (await fetch(`http://127.0.0.1:${port}/`)).json();
  assert.equal(during.pid, first.pid);
  await eventually(async () => {
    const ci = await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'pair', containerInstances: [agentB.arn] }));
    return ci.containerInstances?.[0]?.agentConnected === false;
  }, { what: 'agentConnected to turn false', timeoutMs: 30_000, intervalMs: 250 });

  const again = await startAgent(b, 'us-east-1b');
  assert.equal(again.arn, agentB.arn, 'the restarted agent keeps its container instance');
  await eventually(async () => {
    const ci = await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'pair', containerInstances: [agentB.arn] }));
    return ci.containerInstances?.[0]?.agentConnected === true;
  }, { what: 'agentConnected to turn true again' });
  const after = await (await fetch(`http://127.0.0.1:${port}/`)).json();
  assert.equal(after.pid, first.pid, 'same process: nothing restarted');
  assert.ok(after.n > first.n);
  const t = await describeTask(taskArn);
  assert.equal(t.lastStatus, 'RUNNING');
  assert.equal(t.containers![0]!.networkBindings![0]!.hostPort, port);
});

test('essential container exit 1 stops the task with the reason; every line reaches the logs; berth logs -f follows', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-agent-c-'));
  dirs.push(dir);
  const agent = await startAgent(dir, 'us-east-1c');
  await ecs.send(new RegisterTaskDefinitionCommand({
    family: 'crasher',
    containerDefinitions: [{
      name: 'app', image: 'host', memory: 32, essential: true,
      command: ['sh', '-c', 'for i in 1 2 3; do echo "line $i"; done; echo "ERROR something broke"; sleep 1.5; echo "late line"; echo "ERROR last words"; exit 1'],
      logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/test/crasher', 'awslogs-create-group': 'true', 'awslogs-stream-prefix': 'app' } },
    }],
  }));
  const run = await ecs.send(new StartTaskCommand({ cluster: 'pair', taskDefinition: 'crasher', containerInstances: [agent.arn] }));
  const taskArn = run.tasks![0]!.taskArn!;
  const taskId = taskArn.split('/').pop()!;

  // berth logs -f, started while the task runs, shows lines as they come.
  const follower = spawn(process.execPath, [BERTH_BIN, 'logs', '-f', '--cluster', 'pair', taskId], {
    env: { PATH: process.env.PATH, AWS_ACCESS_KEY_ID: berth.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: berth.credentials.secretAccessKey, AWS_ENDPOINT_URL: berth.url, AWS_REGION: 'us-east-1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(follower);
  let followed = '';
  const arrivals: Array<{ at: number; text: string }> = [];
  follower.stdout!.on('data', (d) => {
    followed += d;
    arrivals.push({ at: Date.now(), text: String(d) });
  });
  follower.stderr!.on('data', (d) => (followed += d));

  const stopped = await eventually(async () => {
    const t = await describeTask(taskArn);
    return t.lastStatus === 'STOPPED' ? t : undefined;
  }, { what: 'the task to stop', timeoutMs: 20_000 });
  assert.equal(stopped.stopCode, 'EssentialContainerExited');
  assert.equal(stopped.stoppedReason, 'Essential container in task exited');
  assert.equal(stopped.containers![0]!.exitCode, 1);

  const logs = new CloudWatchLogsClient(berth.clientConfig);
  const lines = await eventually(async () => {
    const out = await logs.send(new GetLogEventsCommand({ logGroupName: '/test/crasher', logStreamName: `app/app/${taskId}`, startFromHead: true }));
    const msgs = (out.events ?? []).map((e) => e.message);
    return msgs.includes('ERROR last words') ? msgs : undefined;
  }, { what: 'the last line in CloudWatch Logs' });
  assert.deepEqual(lines, ['line 1', 'line 2', 'line 3', 'ERROR something broke', 'late line', 'ERROR last words']);
  logs.destroy();
  if (hasAwsCli()) {
    const filtered = await awsOk(berth.awsEnv, ['logs', 'filter-log-events', '--log-group-name', '/test/crasher', '--filter-pattern', '"ERROR"']);
    assert.deepEqual(filtered.events.map((e: { message: string }) => e.message), ['ERROR something broke', 'ERROR last words']);
  }
  await eventually(() => followed.includes('ERROR last words'), { what: `berth logs -f to show the last line (got: ${followed})`, timeoutMs: 5_000 });
  assert.match(followed, /line 1\nline 2\nline 3\nERROR something broke\nlate line\nERROR last words/);
  follower.kill('SIGTERM');
  // "late line" was printed 1.5 s after the others, while the follower was already following:
  // it must have been shown while following (a generous bound: on a loaded machine the agent's
  // shipping and the follower's poll take longer than on a quiet one; this is not a speed check).
  const events = await new CloudWatchLogsClient(berth.clientConfig).send(new GetLogEventsCommand({ logGroupName: '/test/crasher', logStreamName: `app/app/${taskId}`, startFromHead: true }));
  const written = events.events!.find((e) => e.message === 'late line')!.timestamp!;
  const shown = arrivals.find((a) => a.text.includes('late line'))!.at;
  assert.ok(shown - written <= 5000, `berth logs -f showed a new line ${shown - written} ms after it was written`);
});

test('a missing secret stops the task before any container starts, naming the parameter (a long reason cut to fit the report)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-agent-d-'));
  dirs.push(dir);
  await startAgent(dir, 'us-east-1d');
  await ecs.send(new RegisterTaskDefinitionCommand({
    family: 'needs-secret',
    // A name this long makes a reason longer than a report carries: cut, never refused (which would leave the task PENDING).
    containerDefinitions: [{ name: 'app', image: 'host', memory: 32, command: ['sh', '-c', 'echo started; sleep 30'], secrets: [{ name: 'TOKEN', valueFrom: `/does/not/exist/${'x'.repeat(300)}` }] }],
  }));
  const run = await ecs.send(new RunTaskCommand({ cluster: 'pair', taskDefinition: 'needs-secret', placementConstraints: [{ type: 'memberOf', expression: 'attribute:ecs.availability-zone == us-east-1d' }] }));
  const taskArn = run.tasks![0]!.taskArn!;
  const stopped = await eventually(async () => {
    const t = await describeTask(taskArn);
    return t.lastStatus === 'STOPPED' ? t : undefined;
  }, { what: 'the task to stop', timeoutMs: 20_000 });
  assert.equal(stopped.stopCode, 'TaskFailedToStart');
  assert.match(stopped.stoppedReason!, /^ResourceInitializationError: unable to pull secrets or registry auth: .*\/does\/not\/exist/);
  assert.equal(stopped.stoppedReason!.length, 255);
  assert.equal(stopped.containers![0]!.exitCode, undefined, 'no container ever ran');
});

test('a task whose spec the agent cannot use fails to start, naming the problem; the next task runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-agent-e-'));
  dirs.push(dir);
  await startAgent(dir, 'us-east-1e');
  const onAgentE = [{ type: 'memberOf' as const, expression: 'attribute:ecs.availability-zone == us-east-1e' }];
  // RegisterTaskDefinition admits any integer ulimit; the agent channel's model only -1 (unlimited) and up.
  await ecs.send(new RegisterTaskDefinitionCommand({
    family: 'bad-ulimit',
    containerDefinitions: [{ name: 'app', image: 'host', memory: 32, command: ['sh', '-c', 'echo started; sleep 30'], ulimits: [{ name: 'nofile', softLimit: -5, hardLimit: 1024 }] }],
  }));
  await ecs.send(new RegisterTaskDefinitionCommand({
    family: 'fine',
    containerDefinitions: [{ name: 'app', image: 'host', memory: 32, command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'] }],
  }));
  const bad = (await ecs.send(new RunTaskCommand({ cluster: 'pair', taskDefinition: 'bad-ulimit', placementConstraints: onAgentE }))).tasks![0]!.taskArn!;
  const fine = (await ecs.send(new RunTaskCommand({ cluster: 'pair', taskDefinition: 'fine', placementConstraints: onAgentE }))).tasks![0]!.taskArn!;
  const stopped = await eventually(async () => {
    const t = await describeTask(bad);
    return t.lastStatus === 'STOPPED' ? t : undefined;
  }, { what: 'the task with the unusable spec to stop', timeoutMs: 20_000 });
  assert.equal(stopped.stopCode, 'TaskFailedToStart');
  assert.match(stopped.stoppedReason!, /^The agent cannot run this task, its spec does not fit the agent channel's model: Value '-5' at 'spec\.containers\.1\.member\.ulimits\.1\.member\.softLimit' failed to satisfy constraint: Member must have value greater than or equal to -1/);
  await eventually(async () => (await describeTask(fine)).lastStatus === 'RUNNING', { what: 'the other task to run', timeoutMs: 20_000 });
  await ecs.send(new StopTaskCommand({ cluster: 'pair', task: fine }));
  await eventually(async () => (await describeTask(fine)).lastStatus === 'STOPPED', { what: 'the other task to stop', timeoutMs: 20_000 });
});
