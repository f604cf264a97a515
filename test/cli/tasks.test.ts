// The client commands against a real Berth with a real agent (process driver): `berth run`
// passes on the essential container's exit status and streams its output, and reports a task
// that never started with its stop reason (exit 125); `berth ps` shows services and tasks, as
// text and as one JSON document; `berth logs -f` ends by itself when its tasks stop, and when
// the task never started; `| head` closes the pipe without a stack trace; `berth stop` and
// `berth events` do what they say.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ECSClient, RegisterTaskDefinitionCommand, CreateServiceCommand, DeleteServiceCommand, RunTaskCommand, DescribeTasksCommand, DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { eventually } from '../helpers/fixture.js';
import { berth, shell, startBerthCli, startCliBerth, type CliBerth } from './helpers.js';

let cb: CliBerth;
let ecs: ECSClient;

const WEB_JS = "require('http').createServer((q,s)=>s.end('hi')).listen(process.env.PORT);console.log('listening on '+process.env.PORT)";

before(async () => {
  cb = await startCliBerth();
  ecs = new ECSClient(cb.berth.clientConfig);
  const register = (family: string, containerDefinitions: object[]) => ecs.send(new RegisterTaskDefinitionCommand({ family, containerDefinitions: containerDefinitions as never }));
  await register('job', [{ name: 'main', image: 'host', memory: 32, command: ['sh', '-c', 'echo "hello $WHO"; echo "second line"; exit ${CODE:-0}'] }]);
  await register('pair', [
    { name: 'main', image: 'host', memory: 32, essential: true, command: ['sh', '-c', 'echo main; sleep 0.5; exit 4'] },
    { name: 'side', image: 'host', memory: 32, essential: false, command: ['sh', '-c', 'echo side; exit 9'] },
  ]);
  await register('secretive', [{ name: 'main', image: 'host', memory: 32, command: ['sh', '-c', 'echo never'], secrets: [{ name: 'TOKEN', valueFrom: '/no/such/parameter' }] }]);
  await register('chatty', [{ name: 'main', image: 'host', memory: 32, command: ['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; sleep 1; echo done'] }]);
  await register('slow', [{ name: 'main', image: 'host', memory: 32, command: ['sh', '-c', 'echo starting; sleep 2; echo finishing; exit 0'] }]);
  await register('sleeper', [{ name: 'main', image: 'host', memory: 32, command: ['sh', '-c', 'trap "echo bye; exit 0" TERM; echo up; while true; do sleep 0.2; done'] }]);
  await register('web', [{ name: 'web', image: 'host', memory: 32, portMappings: [{ containerPort: 8080, hostPort: 0 }], command: [process.execPath, '-e', WEB_JS] }]);
});
after(async () => {
  ecs.destroy();
  await cb.close();
});

test('berth run: the task output on stdout, then the essential container\'s exit status; --env reaches the container', async () => {
  const ok = await berth(['run', 'job', '--env', 'WHO=world'], cb.env);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, 'hello world\nsecond line\n');
  assert.match(ok.stderr, /^berth: started task [0-9a-f]{32} \(job:1\) in cluster default\n$/);

  const failed = await berth(['run', 'job', '-e', 'WHO=you', '-e', 'CODE=3'], cb.env);
  assert.equal(failed.status, 3, failed.stderr);
  assert.equal(failed.stdout, 'hello you\nsecond line\n');
  assert.match(failed.stderr, /berth: task [0-9a-f]{32} has stopped: Essential container in task exited \(main exited 3\)\n$/);

  // The essential container's status, not the other one's; both containers' output, labelled.
  const pair = await berth(['run', 'pair'], cb.env);
  assert.equal(pair.status, 4, pair.stderr);
  assert.match(pair.stdout, /^main \| main$/m);
  assert.match(pair.stdout, /^side \| side$/m);
});

test('berth run: a task that never starts prints its stop reason and exits 125; --output json is one document', async () => {
  const r = await berth(['run', 'secretive'], cb.env);
  assert.equal(r.status, 125, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /berth: task [0-9a-f]{32} did not start: ResourceInitializationError: unable to pull secrets or registry auth: .*\/no\/such\/parameter/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);

  const json = await berth(['run', 'job', '--env', 'CODE=7', '--output', 'json'], cb.env);
  assert.equal(json.status, 7, json.stderr);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.exitStatus, 7);
  assert.equal(doc.tasks.length, 1);
  assert.equal(doc.tasks[0].lastStatus, 'STOPPED');
  assert.equal(doc.tasks[0].stopCode, 'EssentialContainerExited');
  assert.deepEqual(doc.tasks[0].containers.map((c: { name: string; exitCode: number }) => [c.name, c.exitCode]), [['main', 7]]);

  const noRoom = await berth(['run', 'job', '--count', '10', '--detach'], cb.env);
  assert.equal(noRoom.status, 0, noRoom.stderr);
  assert.equal(noRoom.stdout.trim().split('\n').length, 10, 'ten task ids');
  assert.ok(noRoom.stdout.trim().split('\n').every((l) => /^[0-9a-f]{32}$/.test(l)));
});

test('berth ps: services with deployments and health, tasks with status and host ports; --output json', async () => {
  await ecs.send(new CreateServiceCommand({ cluster: 'default', serviceName: 'web', taskDefinition: 'web', desiredCount: 2 }));
  const sleeper = (await ecs.send(new RunTaskCommand({ cluster: 'default', taskDefinition: 'sleeper' }))).tasks![0]!.taskArn!;
  await eventually(async () => {
    const s = (await ecs.send(new DescribeServicesCommand({ cluster: 'default', services: ['web'] }))).services![0]!;
    const t = (await ecs.send(new DescribeTasksCommand({ cluster: 'default', tasks: [sleeper] }))).tasks![0]!;
    return s.runningCount === 2 && s.deployments![0]!.rolloutState === 'COMPLETED' && t.lastStatus === 'RUNNING';
  }, { what: 'web steady and the sleeper running', timeoutMs: 30_000 });

  const text = await berth(['ps'], cb.env);
  assert.equal(text.status, 0, text.stderr);
  const [services, tasks] = text.stdout.split('\n\n');
  assert.match(services!, /^SERVICES\nNAME +STATUS +DESIRED +RUNNING +PENDING +TASK DEFINITION +DEPLOYMENTS +HEALTH\n/);
  assert.match(services!, /\nweb +ACTIVE +2 +2 +0 +web:1 +web:1 COMPLETED +-$/);
  assert.match(tasks!, /^TASKS\nID +SERVICE\/GROUP +TASK DEFINITION +STATUS +HEALTH +PORTS +STARTED\n/);
  const webRows = tasks!.split('\n').filter((l) => / web +web:1 +RUNNING /.test(l));
  assert.equal(webRows.length, 2, tasks);
  for (const row of webRows) assert.match(row, /^[0-9a-f]{32} +web +web:1 +RUNNING +- +0\.0\.0\.0:\d+->8080\/tcp +\d+[smh] ago$/);
  assert.match(tasks!, new RegExp(`\\n${sleeper.split('/').pop()} +family:sleeper +sleeper:1 +RUNNING +- +- +\\d+[smh] ago\\n`));
  assert.doesNotMatch(text.stdout, /\u001b\[/, 'no colour codes in a pipe');

  const json = await berth(['ps', '--output', 'json'], cb.env);
  assert.equal(json.status, 0, json.stderr);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.cluster, 'default');
  const web = doc.services.find((s: { name: string }) => s.name === 'web');
  assert.equal(web.desiredCount, 2);
  assert.equal(web.runningCount, 2);
  assert.equal(web.taskDefinition, 'web:1');
  assert.equal(web.deployments.length, 1);
  assert.equal(web.deployments[0].status, 'PRIMARY');
  assert.equal(web.deployments[0].rolloutState, 'COMPLETED');
  const webTasks = doc.tasks.filter((t: { service: string | null }) => t.service === 'web');
  assert.equal(webTasks.length, 2);
  for (const t of webTasks) {
    assert.match(t.id, /^[0-9a-f]{32}$/);
    assert.equal(t.lastStatus, 'RUNNING');
    assert.equal(t.ports.length, 1);
    assert.equal(t.ports[0].containerPort, 8080);
    assert.ok(t.ports[0].hostPort > 0);
    assert.match(t.startedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // The host port answers.
    assert.equal(await (await fetch(`http://127.0.0.1:${t.ports[0].hostPort}/`)).text(), 'hi');
  }
  assert.ok(doc.tasks.some((t: { arn: string; group: string }) => t.arn === sleeper && t.group === 'family:sleeper'));
  assert.ok(!doc.tasks.some((t: { lastStatus: string }) => t.lastStatus === 'STOPPED'), 'stopped tasks only with --all');
  const all = JSON.parse((await berth(['ps', '--all', '--output', 'json'], cb.env)).stdout);
  assert.ok(all.tasks.some((t: { lastStatus: string }) => t.lastStatus === 'STOPPED'), 'the earlier runs are listed with --all');

  // Stop the sleeper: it is asked to stop and the command waits for it, saying how it ended.
  const stopped = await berth(['stop', sleeper.split('/').pop()!, '--reason', 'enough'], cb.env);
  assert.equal(stopped.status, 0, stopped.stderr);
  assert.match(stopped.stdout, new RegExp(`^${sleeper.split('/').pop()}: stopped: enough \\(main exited 0\\)\\n$`));

  // Scale the service to 0 and watch it empty; its events say so.
  const down = await berth(['stop', '--service', 'web'], cb.env);
  assert.equal(down.status, 0, down.stderr);
  assert.match(down.stdout, /^web: desired count 2 → 0; waiting for its tasks to stop\n/);
  assert.match(down.stdout, /\nweb: stopped \(no task running\)\n$/);
  const after = JSON.parse((await berth(['ps', '--output', 'json'], cb.env)).stdout);
  assert.equal(after.services[0].desiredCount, 0);
  assert.equal(after.tasks.filter((t: { service: string | null }) => t.service === 'web').length, 0);

  const events = await berth(['events', 'web'], cb.env);
  assert.equal(events.status, 0, events.stderr);
  const lines = events.stdout.trim().split('\n');
  assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}\(service web\) has started 2 tasks: /, 'oldest first');
  assert.ok(lines.some((l) => /\(service web\) has stopped 2 running tasks: /.test(l)), events.stdout);
  const eventsJson = JSON.parse((await berth(['events', 'web', '--output', 'json'], cb.env)).stdout);
  // The same events (any newer ones come after).
  assert.deepEqual(eventsJson.map((e: { message: string }) => e.message).slice(0, lines.length), lines.map((l) => l.replace(/^\S+ {2}/, '')));

  // Following a service: its tasks' lines, labelled; it ends once the service is deleted.
  const following = startBerthCli(['logs', '-f', 'web'], cb.env);
  await eventually(() => following.output().includes('listening on'), { what: 'berth logs -f web to show the tasks\' lines', timeoutMs: 20_000 });
  await ecs.send(new DeleteServiceCommand({ cluster: 'default', service: 'web' }));
  const followed = await following.done;
  assert.equal(followed.status, 0, followed.stderr);
  assert.match(followed.stdout, /^web\/[0-9a-f]{8} \| listening on \d+$/m);
  assert.match(followed.stderr, /^berth: service web is gone and its tasks have stopped\n$/);
});

test('berth logs -f ends by itself when its task stops, with every line, and says so', async () => {
  const run = await berth(['run', 'slow', '--detach'], cb.env);
  const id = run.stdout.trim();
  const follow = await berth(['logs', '-f', id], cb.env);
  assert.equal(follow.status, 0, follow.stderr);
  assert.equal(follow.stdout, 'starting\nfinishing\n');
  assert.match(follow.stderr, new RegExp(`^berth: task ${id} has stopped: Essential container in task exited \\(main exited 0\\)\\n$`));

  // Several tasks: labelled lines, and an end once all have stopped.
  const two = (await berth(['run', 'job', '--count', '2', '--detach'], cb.env)).stdout.trim().split('\n');
  const both = await berth(['logs', '-f', ...two], cb.env);
  assert.equal(both.status, 0, both.stderr);
  for (const t of two) assert.match(both.stdout, new RegExp(`^main/${t.slice(0, 8)} \\| hello $`, 'm'));
  assert.match(both.stderr, /berth: all 2 tasks have stopped\n$/);
});

test('berth logs -f of a task that never started ends at once with its stop reason', async () => {
  const run = await berth(['run', 'secretive', '--detach'], cb.env);
  const id = run.stdout.trim();
  await eventually(async () => (await ecs.send(new DescribeTasksCommand({ cluster: 'default', tasks: [id] }))).tasks![0]!.lastStatus === 'STOPPED', { what: 'the task to fail', timeoutMs: 20_000 });
  for (const args of [['logs', '-f', id], ['logs', id]]) {
    const r = await berth(args, cb.env);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^berth: task ${id} did not start: ResourceInitializationError: `));
  }
});

test('| head: a closed pipe ends every command quietly (no EPIPE, no stack trace)', async () => {
  const run = await berth(['run', 'chatty', '--detach'], cb.env);
  const id = run.stdout.trim();
  await eventually(async () => (await berth(['logs', id], cb.env)).stdout.includes('line 1999'), { what: 'the output shipped', timeoutMs: 20_000 });
  const cases = [`logs ${id}`, `logs -f ${id}`, 'run chatty', 'ps --all', 'events web', '--help'];
  for (const args of cases) {
    // berth's own exit status, through the pipe (POSIX sh has no pipefail).
    const script = `{ $BERTH ${args}; echo "status=$?" >&2; } | head -n 2`;
    const r = await shell(script, cb.env);
    assert.match(r.stderr, /status=0\n$/, `${script}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at |Error/, `${script} closes quietly: ${r.stderr}`);
    assert.ok(r.stdout.split('\n').length <= 3, script);
  }
  const head = await shell(`$BERTH logs ${id} | head -n 2`, cb.env);
  assert.equal(head.stdout, 'line 0\nline 1\n');
});
