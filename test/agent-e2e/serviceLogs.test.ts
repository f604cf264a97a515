// Regression (issue: "update-service tasks ship nothing"): a service with an awslogs
// logConfiguration is moved to a new revision with `aws ecs update-service`; every line the new
// revision's container prints reaches CloudWatch Logs, including lines printed after it has been
// quiet for a while. Once per driver, each with a real agent and a real Berth over HTTP.
//
// The cause, on the docker driver: the engine's log stream was read over Node's global HTTP
// agent, which since Node 19 closes a socket idle for 5 s. A service's container that printed
// nothing for 5 s had its follow stream cut; the driver took the end of the stream for the end
// of the container's output, read the tail once and stopped, so nothing it printed afterwards
// was ever shipped (and a container quiet for its first seconds shipped nothing at all: its
// stream existed, with 0 bytes). Service tasks are long-lived and often quiet, hence the report.
// Nothing in it is particular to deployments: the same container started with run-task lost
// the same lines before the fix (checked); a one-off task that prints and exits at once did not,
// which is why run-task seemed to ship fine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { startTestBerth, awsOk, hasAwsCli, eventually, type TestBerth } from '../helpers/fixture.js';
import { ProcessDriver } from '../../src/agent/drivers/process.js';
import { DockerDriver } from '../../src/agent/drivers/docker.js';
import { defaultDockerSocket } from '../../src/agent/drivers/dockerApi.js';
import type { Driver } from '../../src/agent/drivers/driver.js';
import { ensureBusyboxImage } from '../helpers/images.js';
import { testAgent } from '../helpers/agents.js';

const GROUP = '/svc/web';

/** A container printing `first`, then (quiet for longer than an idle connection lives) `second` and `third`, then idling. */
function containerDefs(image: string, revision: number): string {
  const script =
    revision === 1
      ? 'trap "exit 0" TERM; while true; do echo "rev1 tick"; sleep 0.5; done'
      : 'trap "exit 0" TERM; echo "rev2 first"; sleep 7; echo "rev2 second"; sleep 8; echo "rev2 third"; while true; do sleep 0.2; done';
  return JSON.stringify([
    {
      name: 'web',
      image,
      essential: true,
      memory: 32,
      command: ['sh', '-c', script],
      logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': GROUP, 'awslogs-create-group': 'true', 'awslogs-stream-prefix': 'svc' } },
    },
  ]);
}

async function withAgent(driverName: 'process' | 'docker', fn: (berth: TestBerth) => Promise<void>): Promise<void> {
  const berth = await startTestBerth();
  berth.controller.configure({ intervalMs: 100 });
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-svclogs-'));
  const driver: Driver = driverName === 'process' ? new ProcessDriver({ dataDir: join(stateDir, 'process') }) : new DockerDriver();
  const agent = testAgent(berth, stateDir, { driver });
  try {
    await agent.start();
    await fn(berth);
  } finally {
    await agent.close({ stopTasks: true });
    await berth.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

for (const driverName of ['process', 'docker'] as const) {
  test(`${driverName} driver: after update-service to a new revision, every line of the new task reaches CloudWatch Logs, quiet spells included`, async (t) => {
    if (!hasAwsCli()) return t.skip('aws CLI not installed');
    let image = 'host';
    if (driverName === 'docker') {
      if (!existsSync(defaultDockerSocket())) return t.skip(`no docker engine socket at ${defaultDockerSocket()}`);
      image = await ensureBusyboxImage();
    }
    await withAgent(driverName, async (berth) => {
      const env = berth.awsEnv;
      await awsOk(env, ['ecs', 'register-task-definition', '--family', 'web', '--container-definitions', containerDefs(image, 1)]);
      await awsOk(env, ['ecs', 'create-service', '--service-name', 'web', '--task-definition', 'web:1', '--desired-count', '1']);
      const runningOf = async (revision: number) => {
        const arns: string[] = (await awsOk(env, ['ecs', 'list-tasks', '--service-name', 'web', '--desired-status', 'RUNNING'])).taskArns;
        if (!arns.length) return undefined;
        const tasks = (await awsOk(env, ['ecs', 'describe-tasks', '--tasks', ...arns])).tasks as Array<{ taskArn: string; taskDefinitionArn: string; lastStatus: string }>;
        return tasks.find((x) => x.lastStatus === 'RUNNING' && x.taskDefinitionArn.endsWith(`task-definition/web:${revision}`));
      };
      await eventually(() => runningOf(1), { what: 'the first revision to run', timeoutMs: 30_000, intervalMs: 250 });

      await awsOk(env, ['ecs', 'register-task-definition', '--family', 'web', '--container-definitions', containerDefs(image, 2)]);
      await awsOk(env, ['ecs', 'update-service', '--service', 'web', '--task-definition', 'web:2']);
      const task = await eventually(() => runningOf(2), { what: 'the new revision to run', timeoutMs: 30_000, intervalMs: 250 });
      const taskId = task.taskArn.split('/').pop()!;

      const logs = new CloudWatchLogsClient(berth.clientConfig);
      try {
        const read = async () => ((await logs.send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: `svc/web/${taskId}`, startFromHead: true }))).events ?? []).map((e) => e.message);
        const lines = await eventually(async () => {
          const m = await read();
          return m.includes('rev2 third') ? m : undefined;
        }, { what: 'the line printed after 15 s of quiet to reach CloudWatch Logs', timeoutMs: 45_000, intervalMs: 250 });
        assert.deepEqual(lines, ['rev2 first', 'rev2 second', 'rev2 third']);
      } finally {
        logs.destroy();
      }
    });
  });
}
