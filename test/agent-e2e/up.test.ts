// `berth up` on one machine just works: its local agent joins cluster "default", so run-task
// runs right away; with --ephemeral, shutdown stops the tasks it started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnBerth } from '../helpers/processes.js';
import { awsEnvFor, awsOk, eventually, hasAwsCli } from '../helpers/fixture.js';

const SERVER_JS = "require('http').createServer((q,s)=>s.end('up:'+process.pid)).listen(process.env.PORT)";

test('berth up --ephemeral --driver process: the local agent runs tasks; shutdown stops them', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const up = await spawnBerth(['--ephemeral', '--driver', 'process']);
  try {
    await eventually(() => /agent: process driver, cluster 'default'/.test(up.output()), { what: 'the local agent line' });
    const creds = /AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)/.exec(up.output())!;
    const env = awsEnvFor(up.url, { accessKeyId: creds[1]!, secretAccessKey: creds[2]! });
    const instances = await awsOk(env, ['ecs', 'describe-container-instances', '--container-instances', ...(await awsOk(env, ['ecs', 'list-container-instances'])).containerInstanceArns]);
    assert.equal(instances.containerInstances.length, 1);
    assert.equal(instances.containerInstances[0].agentConnected, true);
    await awsOk(env, ['ecs', 'register-task-definition', '--family', 'hello', '--container-definitions', JSON.stringify([{ name: 'web', image: 'host', memory: 32, portMappings: [{ containerPort: 80, hostPort: 0 }], command: [process.execPath, '-e', SERVER_JS] }])]);
    const taskArn = await awsOk(env, ['ecs', 'run-task', '--task-definition', 'hello', '--query', 'tasks[0].taskArn', '--output', 'text']);
    await awsOk(env, ['ecs', 'wait', 'tasks-running', '--tasks', taskArn]);
    const port = await awsOk(env, ['ecs', 'describe-tasks', '--tasks', taskArn, '--query', 'tasks[0].containers[0].networkBindings[0].hostPort', '--output', 'text']);
    const body = await eventually(async () => (await fetch(`http://127.0.0.1:${port}/`)).text(), { what: 'the task to answer' });
    assert.match(body, /^up:\d+$/);
    up.child.kill('SIGTERM');
    assert.equal(await up.exited, 0);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`), 'the ephemeral Berth stopped its task on shutdown');
  } finally {
    if (up.child.exitCode === null) up.child.kill('SIGKILL');
  }
});
