// The process driver passes a task its host port in PORT / PORT_<containerPort>; a program written
// for a container engine listens on its containerPort instead, and nothing answers on the host
// port. After the container's grace (its health check's startPeriod, else 10 s) DescribeTasks says
// so in the container's reason, naming the port and the variables, while the task keeps
// RUNNING (it may be a worker that listens later); once something listens, the reason goes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, RegisterTaskDefinitionCommand, RunTaskCommand, DescribeTasksCommand, StopTaskCommand, type Container } from '@aws-sdk/client-ecs';
import { startTestBerth, eventually, freePort } from '../helpers/fixture.js';
import { killTaskProcessesUnder } from '../helpers/processes.js';
import { testAgent } from '../helpers/agents.js';

test('process driver: a mapped host port nothing listens on is shown in DescribeTasks (task RUNNING), and cleared once something listens', async () => {
  const berth = await startTestBerth();
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-portdiag-'));
  const agent = testAgent(berth, stateDir);
  const ecs = new ECSClient(berth.clientConfig);
  try {
    await agent.start();
    const containerPort = await freePort();
    // Listens on its containerPort, as it would in a container engine: never on the host port.
    await ecs.send(new RegisterTaskDefinitionCommand({
      family: 'wrong-port',
      containerDefinitions: [{ name: 'web', image: 'host', memory: 64, portMappings: [{ containerPort, hostPort: 0 }], command: [process.execPath, '-e', `require('http').createServer((q, s) => s.end('ok')).listen(${containerPort})`] }],
    }));
    // Listens where it is told, but only after a while (a 2 s startPeriod is its grace).
    await ecs.send(new RegisterTaskDefinitionCommand({
      family: 'late',
      containerDefinitions: [{
        name: 'web', image: 'host', memory: 64, portMappings: [{ containerPort: 8080, hostPort: 0 }],
        healthCheck: { command: ['CMD-SHELL', 'true'], startPeriod: 2, interval: 5 },
        command: ['sh', '-c', `sleep 8; exec ${process.execPath} -e "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT)"`],
      }],
    }));
    const wrong = (await ecs.send(new RunTaskCommand({ taskDefinition: 'wrong-port' }))).tasks![0]!.taskArn!;
    const late = (await ecs.send(new RunTaskCommand({ taskDefinition: 'late' }))).tasks![0]!.taskArn!;
    const describe = async (arn: string) => (await ecs.send(new DescribeTasksCommand({ tasks: [arn] }))).tasks![0]!;
    const withReason = (arn: string) =>
      eventually(async () => {
        const t = await describe(arn);
        return t.containers![0]!.reason ? t : undefined;
      }, { what: 'the container reason', timeoutMs: 30_000, intervalMs: 250 });

    // The late one first: its grace is 2 s, and it listens 8 s in.
    const t2 = await withReason(late);
    assert.equal(t2.lastStatus, 'RUNNING');
    assert.match(t2.containers![0]!.reason!, /^nothing listens on host port \d+: the process driver passes the port in PORT \/ PORT_8080;/);

    // The one on its containerPort: said after the default grace (10 s), while the task runs on.
    const t1 = await withReason(wrong);
    const b1 = t1.containers![0]!.networkBindings![0]!;
    assert.equal(t1.lastStatus, 'RUNNING');
    assert.equal(t1.containers![0]!.lastStatus, 'RUNNING');
    assert.equal(
      t1.containers![0]!.reason,
      `nothing listens on host port ${b1.hostPort}: the process driver passes the port in PORT / PORT_${containerPort}; this container may be listening on its containerPort ${containerPort} instead`,
    );
    // (it does answer on its containerPort: the diagnosis is right)
    assert.equal(await (await fetch(`http://127.0.0.1:${containerPort}/`)).text(), 'ok');

    // The late one listens by now: its reason goes.
    const fixed = await eventually(async () => {
      const t = await describe(late);
      return t.containers![0]!.reason === undefined ? t : undefined;
    }, { what: 'the reason to go once the container listens', timeoutMs: 30_000, intervalMs: 250 });
    const port = fixed.containers![0]!.networkBindings![0]!.hostPort!;
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'ok');
    assert.equal(fixed.lastStatus, 'RUNNING');
    assert.ok((await describe(wrong)).containers![0]!.reason, 'the other still says it');

    for (const arn of [wrong, late]) await ecs.send(new StopTaskCommand({ task: arn }));
    const stopped: Container = (await eventually(async () => {
      const t = await describe(wrong);
      return t.lastStatus === 'STOPPED' ? t : undefined;
    }, { what: 'the task to stop', timeoutMs: 30_000 })).containers![0]!;
    assert.equal(stopped.reason, undefined, 'a stopped container is not said to have had nothing listening');
  } finally {
    ecs.destroy();
    await agent.close({ stopTasks: true });
    await berth.close();
    killTaskProcessesUnder(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
  }
});
