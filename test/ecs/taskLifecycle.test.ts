// A task's life through the real SDK and CLI: an instance registers, RunTask places a task on
// it (its remaining resources drop), agent reports (SubmitTaskStateChange) move the task to
// RUNNING, the tasks-running waiter returns, StopTask and a STOPPED report finish it, and the
// resources come back. Also the agent-facing functions and the retention of stopped tasks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ECSClient,
  CreateClusterCommand,
  RegisterContainerInstanceCommand,
  DescribeContainerInstancesCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StartTaskCommand,
  StopTaskCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  SubmitTaskStateChangeCommand,
  SubmitContainerStateChangeCommand,
  DescribeClustersCommand,
  waitUntilTasksRunning,
  type Resource,
} from '@aws-sdk/client-ecs';
import { ManualClock } from '../../src/clock.js';
import { awsOk, eventually, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { applyTaskStateChange, findTask, pruneStoppedTasks, STOPPED_TASK_RETENTION_MS } from '../../src/domain/ecs/tasks.js';
import { tasksForInstance } from '../../src/domain/ecs/liveIndex.js';
import { resolvedTaskDefinition } from '../../src/domain/ecs/taskDefinitions.js';
import { findContainerInstance, recordHeartbeat, markStaleAgentsDisconnected } from '../../src/domain/ecs/instances.js';

let berth: TestBerth;
let ecs: ECSClient;
const clock = new ManualClock(Date.now());
const CLUSTER = 'life';

before(async () => {
  berth = await startTestBerth({ clock });
  ecs = new ECSClient(berth.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
  await ecs.send(new RegisterTaskDefinitionCommand({
    family: 'web',
    containerDefinitions: [
      { name: 'web', image: 'nginx', cpu: 256, memory: 512, portMappings: [{ containerPort: 80, hostPort: 8080 }] },
      { name: 'sidecar', image: 'busybox', memoryReservation: 64, essential: false, portMappings: [{ containerPort: 9000 }] },
    ],
  }));
});
after(async () => {
  ecs.destroy();
  await berth.close();
});

const num = (rs: Resource[] | undefined, name: string) => rs!.find((r) => r.name === name)!.integerValue;
const set = (rs: Resource[] | undefined, name: string) => rs!.find((r) => r.name === name)!.stringSetValue;

async function registerInstance(cluster: string, cpu = 2048, memory = 4096) {
  const out = await ecs.send(new RegisterContainerInstanceCommand({
    cluster,
    instanceIdentityDocument: JSON.stringify({ instanceId: `i-${Math.random().toString(16).slice(2, 12)}`, availabilityZone: 'us-east-1b', instanceType: 't3.medium', region: 'us-east-1' }),
    totalResources: [
      { name: 'CPU', type: 'INTEGER', integerValue: cpu },
      { name: 'MEMORY', type: 'INTEGER', integerValue: memory },
      { name: 'PORTS', type: 'STRINGSET', stringSetValue: ['22', '2375', '2376', '51678', '51679'] },
      { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [] },
    ],
    versionInfo: { agentVersion: '1.0.0-berth', dockerVersion: 'DockerVersion: 24.0.0' },
  }));
  return out.containerInstance!;
}

test('RunTask on an empty cluster fails like ECS and changes nothing', async () => {
  await ecs.send(new CreateClusterCommand({ clusterName: 'empty' }));
  await assert.rejects(ecs.send(new RunTaskCommand({ cluster: 'empty', taskDefinition: 'web' })), (e: Error) => {
    assert.equal(e.name, 'InvalidParameterException');
    assert.match(e.message, /No Container Instances were found in your cluster/);
    return true;
  });
  assert.deepEqual((await ecs.send(new ListTasksCommand({ cluster: 'empty', desiredStatus: 'STOPPED' }))).taskArns, []);
});

test('register, run, report RUNNING (waiter returns), stop, report STOPPED: every step is visible', async () => {
  const ci = await registerInstance(CLUSTER);
  assert.match(ci.containerInstanceArn!, new RegExp(`^arn:aws:ecs:us-east-1:\\d{12}:container-instance/${CLUSTER}/[0-9a-f]{32}$`));
  assert.equal(ci.status, 'ACTIVE');
  assert.equal(ci.agentConnected, true);
  assert.equal(num(ci.remainingResources, 'MEMORY'), 4096);
  assert.ok(ci.attributes!.some((a) => a.name === 'ecs.availability-zone' && a.value === 'us-east-1b'));
  assert.ok(ci.attributes!.some((a) => a.name === 'ecs.instance-type' && a.value === 't3.medium'));

  const run = await ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: 'web', startedBy: 'test-suite', overrides: { containerOverrides: [{ name: 'web', command: ['nginx', '-g', 'daemon off;'], environment: [{ name: 'A', value: '1' }] }] } }));
  assert.deepEqual(run.failures, []);
  const task = run.tasks![0]!;
  const taskId = task.taskArn!.split('/').pop()!;
  assert.match(task.taskArn!, new RegExp(`task/${CLUSTER}/[0-9a-f]{32}$`));
  assert.equal(task.containerInstanceArn, ci.containerInstanceArn);
  assert.equal(task.lastStatus, 'PENDING', 'bridge-mode tasks start PENDING (awsvpc ones PROVISIONING)');
  assert.equal(task.desiredStatus, 'RUNNING');
  assert.equal(task.group, 'family:web');
  assert.equal(task.startedBy, 'test-suite');
  assert.equal(task.availabilityZone, 'us-east-1b');
  assert.deepEqual(task.containers!.map((c) => [c.name, c.lastStatus]), [['web', 'PENDING'], ['sidecar', 'PENDING']]);
  assert.deepEqual(task.overrides!.containerOverrides![0]!.command, ['nginx', '-g', 'daemon off;']);

  // The instance's remaining resources drop by what the task reserves.
  let d = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: CLUSTER, containerInstances: [ci.containerInstanceArn!] }))).containerInstances![0]!;
  assert.equal(num(d.remainingResources, 'CPU'), 2048 - 256);
  assert.equal(num(d.remainingResources, 'MEMORY'), 4096 - 512 - 64);
  assert.ok(set(d.remainingResources, 'PORTS')!.includes('8080'));
  assert.equal(num(d.registeredResources, 'MEMORY'), 4096);
  assert.equal(d.pendingTasksCount, 1);

  // A second copy cannot get host port 8080; a huge one cannot get the memory.
  const clash = await ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: 'web' }));
  assert.deepEqual(clash.tasks, []);
  assert.deepEqual(clash.failures, [{ arn: ci.containerInstanceArn, reason: 'RESOURCE:PORTS' }]);
  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'huge', containerDefinitions: [{ name: 'h', image: 'x', memory: 100000 }] }));
  const huge = await ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: 'huge' }));
  assert.deepEqual(huge.failures, [{ arn: ci.containerInstanceArn, reason: 'RESOURCE:MEMORY' }]);

  // The agent's view: the task is assigned to this instance.
  const scope = { platform: berth.platform, region: 'us-east-1' };
  const assigned = await tasksForInstance(scope, CLUSTER, ci.containerInstanceArn!);
  assert.deepEqual(assigned.map((t) => t.taskArn), [task.taskArn]);
  // What the agent runs: the task definition with the RunTask overrides applied.
  const resolved = await resolvedTaskDefinition(scope, assigned[0]!);
  const webDef = resolved!.containerDefinitions!.find((c) => c.name === 'web')!;
  assert.deepEqual(webDef.command, ['nginx', '-g', 'daemon off;']);
  assert.deepEqual(webDef.environment, [{ name: 'A', value: '1' }]);
  assert.equal(resolved!.containerDefinitions!.find((c) => c.name === 'sidecar')!.command, undefined);

  // A waiter started now returns once the agent reports RUNNING.
  const waiter = waitUntilTasksRunning({ client: ecs, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { cluster: CLUSTER, tasks: [task.taskArn!] });
  await ecs.send(new SubmitTaskStateChangeCommand({ cluster: CLUSTER, task: task.taskArn, status: 'PENDING', pullStartedAt: new Date(clock.now()) }));
  await ecs.send(new SubmitContainerStateChangeCommand({ cluster: CLUSTER, task: taskId, containerName: 'sidecar', status: 'RUNNING', runtimeId: 'abc123', networkBindings: [{ bindIP: '0.0.0.0', containerPort: 9000, hostPort: 32768, protocol: 'tcp' }] }));
  await clock.advance(2000);
  await ecs.send(new SubmitTaskStateChangeCommand({
    cluster: CLUSTER,
    task: task.taskArn,
    status: 'RUNNING',
    containers: [{ containerName: 'web', status: 'RUNNING', runtimeId: 'def456', networkBindings: [{ bindIP: '0.0.0.0', containerPort: 80, hostPort: 8080, protocol: 'tcp' }] }],
  }));
  const w = await waiter;
  assert.equal(w.state, 'SUCCESS');
  if (hasAwsCli()) await awsOk(berth.awsEnv, ['ecs', 'wait', 'tasks-running', '--cluster', CLUSTER, '--tasks', task.taskArn!]);

  let t = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskId] }))).tasks![0]!;
  assert.equal(t.lastStatus, 'RUNNING');
  assert.equal(t.connectivity, 'CONNECTED');
  assert.ok(t.startedAt!.getTime() >= t.pullStartedAt!.getTime());
  assert.ok(t.createdAt instanceof Date);
  const web = t.containers!.find((c) => c.name === 'web')!;
  assert.equal(web.lastStatus, 'RUNNING');
  assert.deepEqual(web.networkBindings, [{ bindIP: '0.0.0.0', containerPort: 80, hostPort: 8080, protocol: 'tcp' }]);
  assert.equal(t.containers!.find((c) => c.name === 'sidecar')!.runtimeId, 'abc123');
  // The dynamic host port the agent bound shows up as in use.
  d = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: CLUSTER, containerInstances: [ci.containerInstanceArn!] }))).containerInstances![0]!;
  assert.ok(set(d.remainingResources, 'PORTS')!.includes('32768'));
  assert.equal(d.runningTasksCount, 1);
  const cl = (await ecs.send(new DescribeClustersCommand({ clusters: [CLUSTER] }))).clusters![0]!;
  assert.deepEqual([cl.registeredContainerInstancesCount, cl.runningTasksCount, cl.pendingTasksCount], [1, 1, 0]);
  // A stale report (PENDING after RUNNING) is acknowledged and ignored.
  const ack = await ecs.send(new SubmitTaskStateChangeCommand({ cluster: CLUSTER, task: task.taskArn, status: 'PENDING' }));
  assert.equal(ack.acknowledgment, 'ACK');
  assert.equal((await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskId] }))).tasks![0]!.lastStatus, 'RUNNING');

  // StopTask: desiredStatus STOPPED now; the agent then reports STOPPED.
  await clock.advance(1000);
  const stopped = (await ecs.send(new StopTaskCommand({ cluster: CLUSTER, task: taskId, reason: 'deploying v2' }))).task!;
  assert.equal(stopped.desiredStatus, 'STOPPED');
  assert.equal(stopped.lastStatus, 'RUNNING');
  assert.ok(stopped.stoppingAt instanceof Date);
  assert.equal(stopped.stopCode, 'UserInitiated');
  assert.deepEqual((await ecs.send(new ListTasksCommand({ cluster: CLUSTER, desiredStatus: 'STOPPED' }))).taskArns, [task.taskArn]);
  assert.deepEqual((await ecs.send(new ListTasksCommand({ cluster: CLUSTER }))).taskArns, []);
  // Still assigned to the instance until it is really stopped (the agent has to stop it).
  assert.equal((await tasksForInstance(scope, CLUSTER, ci.containerInstanceArn!))[0]!.desiredStatus, 'STOPPED');

  await clock.advance(1000);
  await ecs.send(new SubmitTaskStateChangeCommand({
    cluster: CLUSTER,
    task: task.taskArn,
    status: 'STOPPED',
    reason: 'ignored: the user already gave one',
    containers: [{ containerName: 'web', status: 'STOPPED', exitCode: 0, reason: 'stopped' }, { containerName: 'sidecar', status: 'STOPPED', exitCode: 137 }],
  }));
  t = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [task.taskArn!, 'ffffffffffffffffffffffffffffffff'] }))).tasks![0]!;
  assert.equal(t.lastStatus, 'STOPPED');
  assert.equal(t.stoppedReason, 'deploying v2');
  assert.equal(t.stopCode, 'UserInitiated');
  assert.ok(t.stoppedAt!.getTime() > t.startedAt!.getTime());
  assert.deepEqual(t.containers!.map((c) => [c.name, c.lastStatus, c.exitCode]), [['web', 'STOPPED', 0], ['sidecar', 'STOPPED', 137]]);
  if (hasAwsCli()) await awsOk(berth.awsEnv, ['ecs', 'wait', 'tasks-stopped', '--cluster', CLUSTER, '--tasks', task.taskArn!]);
  const missing = await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: ['ffffffffffffffffffffffffffffffff'] }));
  assert.deepEqual(missing.failures, [{ arn: `arn:aws:ecs:us-east-1:${berth.platform.accountId}:task/${CLUSTER}/ffffffffffffffffffffffffffffffff`, reason: 'MISSING' }]);

  // Resources are back.
  d = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: CLUSTER, containerInstances: [ci.containerInstanceArn!] }))).containerInstances![0]!;
  assert.equal(num(d.remainingResources, 'MEMORY'), 4096);
  assert.ok(!set(d.remainingResources, 'PORTS')!.includes('8080'));
  assert.deepEqual(await tasksForInstance(scope, CLUSTER, ci.containerInstanceArn!), []);

  // Stopped tasks stay describable for an hour; the retention sweep, which runs once a minute
  // on the injected clock, then removes them.
  await clock.advance(STOPPED_TASK_RETENTION_MS - 5000);
  assert.equal(await pruneStoppedTasks(scope), 0, 'not yet');
  assert.ok(await findTask(scope, CLUSTER, taskId));
  await clock.advance(61_000);
  await eventually(async () => (await findTask(scope, CLUSTER, taskId)) === undefined, { what: 'the sweep removed the stopped task' });
  clock.set(Date.now()); // back to real time for signed requests
  const gone = await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [task.taskArn!] }));
  assert.equal(gone.failures![0]!.reason, 'MISSING');
});

test('agent functions: heartbeats, an essential container exiting stops the task, StartTask targets an instance', async () => {
  await ecs.send(new CreateClusterCommand({ clusterName: 'agentfn' }));
  const ci = await registerInstance('agentfn');
  const scope = { platform: berth.platform, region: 'us-east-1' };
  const started = await ecs.send(new StartTaskCommand({ cluster: 'agentfn', taskDefinition: 'web', containerInstances: [ci.containerInstanceArn!], group: 'batch' }));
  const task = started.tasks![0]!;
  assert.equal(task.containerInstanceArn, ci.containerInstanceArn);
  assert.equal(task.group, 'batch');
  await applyTaskStateChange(scope, { cluster: 'agentfn', task: task.taskArn!, status: 'RUNNING' });
  const rec = await applyTaskStateChange(scope, { cluster: 'agentfn', task: task.taskArn!, status: 'STOPPED', reason: 'Essential container in task exited', containers: [{ containerName: 'web', status: 'STOPPED', exitCode: 1 }] });
  assert.equal(rec.stopCode, 'EssentialContainerExited');
  assert.equal(rec.desiredStatus, 'STOPPED');
  const t = (await ecs.send(new DescribeTasksCommand({ cluster: 'agentfn', tasks: [task.taskArn!] }))).tasks![0]!;
  assert.equal(t.stoppedReason, 'Essential container in task exited');
  assert.equal(t.containers!.find((c) => c.name === 'web')!.exitCode, 1);

  // Heartbeats: the agent-timeout sweep (on the injected clock) marks silent agents
  // disconnected, and placement then skips them.
  clock.set(Date.now());
  const id = ci.containerInstanceArn!.split('/').pop()!;
  assert.deepEqual(await markStaleAgentsDisconnected(scope, 15_000), [], 'heard from just now');
  await clock.advance(16_000);
  await eventually(async () => (await findContainerInstance(scope, 'agentfn', id))?.value.agentConnected === false, { what: 'the sweep marked it disconnected' });
  clock.set(Date.now());
  let d = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'agentfn', containerInstances: [ci.containerInstanceArn!] }))).containerInstances![0]!;
  assert.equal(d.agentConnected, false);
  const r = await ecs.send(new RunTaskCommand({ cluster: 'agentfn', taskDefinition: 'web' }));
  assert.deepEqual(r.failures, [{ arn: ci.containerInstanceArn, reason: 'AGENT' }]);
  // A task that never started on an instance whose agent is gone is stopped at once by StopTask.
  const stranded = (await ecs.send(new StartTaskCommand({ cluster: 'agentfn', taskDefinition: 'web', containerInstances: [ci.containerInstanceArn!] }))).tasks![0]!;
  const st = (await ecs.send(new StopTaskCommand({ cluster: 'agentfn', task: stranded.taskArn! }))).task!;
  assert.deepEqual([st.lastStatus, st.desiredStatus, st.stopCode], ['STOPPED', 'STOPPED', 'UserInitiated']);
  await recordHeartbeat(scope, 'agentfn', ci.containerInstanceArn!);
  d = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'agentfn', containerInstances: [ci.containerInstanceArn!] }))).containerInstances![0]!;
  assert.equal(d.agentConnected, true);
  const ok = await ecs.send(new RunTaskCommand({ cluster: 'agentfn', taskDefinition: 'web', count: 1 }));
  assert.equal(ok.tasks!.length, 1);
});
