// Berth publishes ECS's service utilisation into CloudWatch (AWS/ECS): a real agent with the
// process driver runs two services, one task burning a CPU and one idle; the real aws CLI's
// `cloudwatch get-metric-statistics` reads CPUUtilization (>0 for the busy one, near 0 for the
// idle one) and MemoryUtilization, by ClusterName+ServiceName and by ClusterName alone. The
// publisher runs every second here (BERTH_METRICS_PUBLISH_MS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateServiceCommand, DeleteServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { awsOk, eventually, hasAwsCli, startTestBerth } from '../helpers/fixture.js';
import { killTaskProcessesUnder } from '../helpers/processes.js';
import { cpuUnits, memoryMiB } from '../../src/control/ecsMetrics.js';
import { testAgent } from '../helpers/agents.js';

test('task sizes as ECS writes them', () => {
  assert.equal(cpuUnits('256'), 256);
  assert.equal(cpuUnits('1 vCPU'), 1024);
  assert.equal(cpuUnits('0.5 vcpu'), 512);
  assert.equal(cpuUnits('lots'), 0);
  assert.equal(memoryMiB('512'), 512);
  assert.equal(memoryMiB('2 GB'), 2048);
  assert.equal(memoryMiB(undefined), 0);
});

test('AWS/ECS CPUUtilization and MemoryUtilization of services, through the aws CLI', { skip: !hasAwsCli() && 'no aws CLI' }, async () => {
  const berth = await startTestBerth({ env: { BERTH_METRICS_PUBLISH_MS: '1000' } });
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-ecsmetrics-'));
  const agent = testAgent(berth, stateDir);
  const ecs = new ECSClient(berth.clientConfig);
  const started = new Date(Date.now() - 120_000);
  try {
    await agent.start();
    // 256 CPU units (a quarter vCPU): a task busy on one core is at ~400%.
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'burn', cpu: '256', memory: '128', containerDefinitions: [{ name: 'main', image: 'host', command: [process.execPath, '-e', 'for (;;) {}'] }] }));
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'idle', cpu: '256', memory: '128', containerDefinitions: [{ name: 'main', image: 'host', command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] }] }));
    await ecs.send(new CreateServiceCommand({ serviceName: 'burn', taskDefinition: 'burn', desiredCount: 1 }));
    await ecs.send(new CreateServiceCommand({ serviceName: 'idle', taskDefinition: 'idle', desiredCount: 1 }));

    const stats = async (metric: string, dims: Record<string, string>) => {
      const out = await awsOk(berth.awsEnv, [
        'cloudwatch', 'get-metric-statistics', '--namespace', 'AWS/ECS', '--metric-name', metric,
        '--dimensions', ...Object.entries(dims).map(([k, v]) => `Name=${k},Value=${v}`),
        '--start-time', started.toISOString(), '--end-time', new Date(Date.now() + 120_000).toISOString(),
        '--period', '60', '--statistics', 'Average', 'Maximum', 'SampleCount',
      ]);
      return out.Datapoints as Array<{ Average: number; Maximum: number; SampleCount: number; Unit: string }>;
    };
    const busy = await eventually(async () => {
      const d = await stats('CPUUtilization', { ClusterName: 'default', ServiceName: 'burn' });
      return d.some((p) => p.Maximum > 50) ? d : undefined;
    }, { what: 'CPUUtilization of the busy service', timeoutMs: 60_000, intervalMs: 1000 });
    assert.equal(busy[0]!.Unit, 'Percent');
    // A busy core against a quarter vCPU reservation: well above 100% at its peak, never absurd.
    assert.ok(Math.max(...busy.map((p) => p.Maximum)) < 1000, JSON.stringify(busy));

    const idle = await eventually(async () => {
      const d = await stats('CPUUtilization', { ClusterName: 'default', ServiceName: 'idle' });
      return d.length ? d : undefined;
    }, { what: 'CPUUtilization of the idle service', timeoutMs: 30_000, intervalMs: 1000 });
    // Node's start-up may land in the first window: the idle task's later windows are near 0.
    assert.ok(Math.min(...idle.map((p) => p.Average)) < 10, JSON.stringify(idle));

    const mem = await eventually(async () => {
      const d = await stats('MemoryUtilization', { ClusterName: 'default', ServiceName: 'idle' });
      return d.length ? d : undefined;
    }, { what: 'MemoryUtilization', timeoutMs: 30_000, intervalMs: 1000 });
    // Node's resident set (tens of MiB) against 128 MiB.
    assert.ok(mem[0]!.Average > 1 && mem[0]!.Average < 200, JSON.stringify(mem));
    assert.equal(mem[0]!.Unit, 'Percent');

    // The cluster-level series counts both services' tasks.
    const cluster = await stats('CPUUtilization', { ClusterName: 'default' });
    assert.ok(cluster.length > 0 && cluster.some((p) => p.Maximum > 50), JSON.stringify(cluster));
    // ListMetrics shows the dimension sets dashboards look for.
    const listed = await awsOk(berth.awsEnv, ['cloudwatch', 'list-metrics', '--namespace', 'AWS/ECS', '--metric-name', 'CPUUtilization']);
    const sets = (listed.Metrics as Array<{ Dimensions: Array<{ Name: string; Value: string }> }>).map((m) => m.Dimensions.map((d) => `${d.Name}=${d.Value}`).sort().join(','));
    assert.ok(sets.includes('ClusterName=default,ServiceName=burn') && sets.includes('ClusterName=default'), sets.join(' | '));

    for (const s of ['burn', 'idle']) await ecs.send(new DeleteServiceCommand({ service: s, force: true }));
  } finally {
    ecs.destroy();
    await agent.close({ stopTasks: true });
    killTaskProcessesUnder(stateDir);
    await berth.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
