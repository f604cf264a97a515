// Issue 4's acceptance path, with the aws CLI only: register a two-container task definition,
// run-task, wait tasks-running, curl the web container on its host port from networkBindings,
// stop-task, wait tasks-stopped, exit codes in describe-tasks. Once per driver, each with a
// real agent talking to a real Berth over HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestBerth, awsOk, hasAwsCli, eventually, type TestBerth } from '../helpers/fixture.js';
import { Agent } from '../../src/agent/agent.js';
import { ProcessDriver } from '../../src/agent/drivers/process.js';
import { DockerDriver } from '../../src/agent/drivers/docker.js';
import type { Driver } from '../../src/agent/drivers/driver.js';
import { existsSync } from 'node:fs';
import { ensureBusyboxImage } from '../helpers/images.js';
import { defaultDockerSocket } from '../../src/agent/drivers/dockerApi.js';
import { testAgent } from '../helpers/agents.js';

const WEB_JS = "require('http').createServer((q,s)=>s.end('hello from '+process.env.GREETING)).listen(process.env.PORT)";

function containersFor(driver: 'process' | 'docker', image: string) {
  if (driver === 'process') {
    return [
      { name: 'web', image: 'host', essential: true, memory: 128, portMappings: [{ containerPort: 8080, hostPort: 0 }], command: [process.execPath, '-e', WEB_JS], environment: [{ name: 'GREETING', value: 'berth' }] },
      { name: 'sidecar', image: 'host', essential: false, memory: 64, command: ['sh', '-c', 'echo sidecar up; trap "echo bye; exit 0" TERM; while true; do sleep 0.2; done'] },
    ];
  }
  return [
    { name: 'web', image, essential: true, memory: 64, stopTimeout: 2, portMappings: [{ containerPort: 8080, hostPort: 0 }], command: ['sh', '-c', 'echo "hello from $GREETING" > /www/index.html && exec httpd -f -p 8080 -h /www'], environment: [{ name: 'GREETING', value: 'berth' }] },
    { name: 'sidecar', image, essential: false, memory: 32, links: ['web'], command: ['sh', '-c', 'trap "exit 0" TERM; until wget -q -O- http://web:8080/; do sleep 0.2; done; echo; echo reached web; while true; do sleep 0.2; done'] },
  ];
}

async function withAgent(driverName: 'process' | 'docker', fn: (berth: TestBerth, agent: Agent) => Promise<void>): Promise<void> {
  const berth = await startTestBerth();
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-agent-'));
  const driver: Driver = driverName === 'process' ? new ProcessDriver({ dataDir: join(stateDir, 'process') }) : new DockerDriver();
  const agent = testAgent(berth, stateDir, { driver, pollSeconds: 2 });
  try {
    await agent.start();
    await fn(berth, agent);
  } finally {
    await agent.close({ stopTasks: true });
    await berth.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

for (const driverName of ['process', 'docker'] as const) {
  test(`${driverName} driver: run-task, wait tasks-running, curl, stop-task, wait tasks-stopped (aws CLI)`, async (t) => {
    if (!hasAwsCli()) return t.skip('aws CLI not installed');
    let image = 'host';
    if (driverName === 'docker') {
      // Skipped only without an engine socket at all; an engine that does not answer fails.
      if (!existsSync(defaultDockerSocket())) return t.skip(`no docker engine socket at ${defaultDockerSocket()}`);
      image = await ensureBusyboxImage();
    }
    await withAgent(driverName, async (berth) => {
      const env = berth.awsEnv;
      const instances = await awsOk(env, ['ecs', 'list-container-instances']);
      assert.equal(instances.containerInstanceArns.length, 1);

      const tdArn = await awsOk(env, [
        'ecs', 'register-task-definition', '--family', 'web',
        '--container-definitions', JSON.stringify(containersFor(driverName, image)),
        '--query', 'taskDefinition.taskDefinitionArn', '--output', 'text',
      ]);
      assert.match(tdArn, /:task-definition\/web:1$/);
      const run = await awsOk(env, ['ecs', 'run-task', '--task-definition', 'web']);
      assert.deepEqual(run.failures, []);
      const taskArn: string = run.tasks[0].taskArn;

      await awsOk(env, ['ecs', 'wait', 'tasks-running', '--tasks', taskArn]);
      const running = (await awsOk(env, ['ecs', 'describe-tasks', '--tasks', taskArn])).tasks[0];
      assert.equal(running.lastStatus, 'RUNNING');
      const web = running.containers.find((c: { name: string }) => c.name === 'web');
      assert.equal(web.lastStatus, 'RUNNING');
      const binding = web.networkBindings[0];
      assert.equal(binding.containerPort, 8080);
      assert.ok(binding.hostPort >= 49153 && binding.hostPort <= 65535, `dynamic host port ${binding.hostPort}`);
      const body = await eventually(async () => {
        const r = await fetch(`http://127.0.0.1:${binding.hostPort}/`);
        return r.ok ? r.text() : undefined;
      }, { what: 'the web container to answer' });
      assert.match(body, /hello from berth/);
      for (const k of ['createdAt', 'pullStartedAt', 'startedAt']) assert.ok(running[k], `${k} is set`);

      if (driverName === 'docker') {
        // The sidecar reached the web container by its link name, inside the task.
        const logs = await eventually(async () => {
          const out = await awsOk(env, ['logs', 'filter-log-events', '--log-group-name', '/berth/default', '--filter-pattern', '"reached web"']);
          return out.events.length ? out.events : undefined;
        }, { what: 'the sidecar to reach web by link', timeoutMs: 20_000 });
        assert.match(logs[0].logStreamName, /^web\/sidecar\//);
      }

      await awsOk(env, ['ecs', 'stop-task', '--task', taskArn, '--reason', 'done testing']);
      await awsOk(env, ['ecs', 'wait', 'tasks-stopped', '--tasks', taskArn]);
      const stopped = (await awsOk(env, ['ecs', 'describe-tasks', '--tasks', taskArn])).tasks[0];
      assert.equal(stopped.lastStatus, 'STOPPED');
      assert.equal(stopped.stoppedReason, 'done testing');
      assert.equal(stopped.stopCode, 'UserInitiated');
      for (const k of ['stoppingAt', 'stoppedAt', 'executionStoppedAt']) assert.ok(stopped[k], `${k} is set`);
      const exits = Object.fromEntries(stopped.containers.map((c: { name: string; exitCode: number }) => [c.name, c.exitCode]));
      assert.equal(exits.sidecar, 0, 'the sidecar exits 0 on SIGTERM');
      assert.ok(exits.web === 143 || exits.web === 0 || exits.web === 137, `web exit code ${exits.web}`);
      await assert.rejects(fetch(`http://127.0.0.1:${binding.hostPort}/`), 'the web container is gone');
    });
  });
}
