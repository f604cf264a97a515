/**
 * Control-plane replicas at work: 20 agents x 25 tasks (process driver: every task a real host
 * process) on a fresh PostgreSQL, with 3 `berth up` replicas (separate processes) and, as the
 * peer measured in the same run, with 1. Agents are spread over the replicas (agent i uses
 * replica i mod R first, the others as failover). One service of 500 tasks is created; measured:
 *  - time to steady state: CreateService until 500 running and the deployment COMPLETED;
 *  - control-plane request p99: every request the replicas served meanwhile (from their JSON
 *    request logs), long polls (BerthAgentV1.Poll) left out since they wait by design; and the
 *    p99 of a client's DescribeServices, round robin over the replicas, every 50 ms.
 * Prints both runs and the ratios (3 replicas / 1).
 *
 *   npx tsc -p . && node dist/bench/replicas.js [agents] [tasksPerAgent]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ECSClient, CreateClusterCommand, CreateServiceCommand, DescribeServicesCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand, DeleteServiceCommand, ListTasksCommand } from '@aws-sdk/client-ecs';
import { Agent } from '../src/agent/agent.js';
import { ProcessDriver } from '../src/agent/drivers/process.js';
import { startTestPostgres } from '../test/helpers/postgres.js';
import { spawnBerth, killTaskProcessesUnder, type BerthProcess } from '../test/helpers/processes.js';

const AGENTS = Number(process.argv[2] ?? 20);
const PER_AGENT = Number(process.argv[3] ?? 25);
const N = AGENTS * PER_AGENT;
const TASK_MEMORY = 16;
const COMMAND = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'];

interface RunResult {
  replicas: number;
  steadyMs: number;
  requests: number;
  requestP50: number;
  requestP99: number;
  probeP99: number;
}

function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** The non-Poll request durations a replica logged after `since` (JSON request log lines). */
function requestTimes(r: BerthProcess, since: number): number[] {
  const out: number[] = [];
  for (const line of r.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const l = JSON.parse(line) as { time?: string; operation?: string; ms?: number };
      if (l.ms === undefined || !l.operation || l.operation.endsWith('.Poll') || Date.parse(l.time ?? '') < since) continue;
      out.push(l.ms);
    } catch {
      /* not a request line */
    }
  }
  return out;
}

async function run(replicaCount: number): Promise<RunResult> {
  const pg = await startTestPostgres();
  if (typeof pg === 'string') throw new Error(pg);
  const root = mkdtempSync(join(tmpdir(), 'berth-bench-replicas-'));
  const creds = { accessKeyId: 'AKIA' + randomBytes(8).toString('hex').toUpperCase(), secretAccessKey: randomBytes(20).toString('hex') };
  const env = { BERTH_ROOT_ACCESS_KEY_ID: creds.accessKeyId, BERTH_ROOT_SECRET_ACCESS_KEY: creds.secretAccessKey, BERTH_ACCOUNT_ID: '123456789012' };
  const replicas = await Promise.all(Array.from({ length: replicaCount }, () => spawnBerth(['--no-agent', '--ephemeral', '--store', pg.url, '--log-level', 'info', '--log-format', 'json'], env)));
  const urls = replicas.map((r) => r.url);
  const clients = urls.map((endpoint) => new ECSClient({ endpoint, region: 'us-east-1', credentials: creds, maxAttempts: 1 }));
  const agents: Agent[] = [];
  try {
    await clients[0]!.send(new CreateClusterCommand({ clusterName: 'bench' }));
    for (let i = 0; i < AGENTS; i++) {
      const first = i % replicaCount;
      const order = [...urls.slice(first), ...urls.slice(0, first)];
      const stateDir = join(root, `agent-${i}`);
      const a = new Agent({
        client: { endpoint: order[0]!, failoverEndpoints: order.slice(1), region: 'us-east-1', ...creds },
        cluster: 'bench',
        driver: new ProcessDriver({ dataDir: join(stateDir, 'process') }),
        stateDir,
        cpu: 65536,
        memoryMiB: PER_AGENT * TASK_MEMORY, // exactly PER_AGENT tasks fit on each
        attributes: { 'ecs.availability-zone': `us-east-1${'abc'[i % 3]}` },
        log: () => undefined,
      });
      await a.start();
      agents.push(a);
    }
    await clients[0]!.send(new RegisterTaskDefinitionCommand({ family: 'app', containerDefinitions: [{ name: 'app', image: 'host', memory: TASK_MEMORY, command: COMMAND }] }));
    const t0 = Date.now();
    await clients[replicaCount - 1]!.send(new CreateServiceCommand({ cluster: 'bench', serviceName: 'app', taskDefinition: 'app', desiredCount: N }));
    const probe: number[] = [];
    for (let k = 0; ; k++) {
      const p0 = performance.now();
      const s = (await clients[k % replicaCount]!.send(new DescribeServicesCommand({ cluster: 'bench', services: ['app'] }))).services![0]!;
      probe.push(performance.now() - p0);
      if (s.runningCount === N && s.deployments!.length === 1 && s.deployments![0]!.rolloutState === 'COMPLETED') break;
      if (Date.now() - t0 > 600_000) throw new Error(`not steady after 10 min: ${s.runningCount}/${N} running`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const steadyMs = Date.now() - t0;
    const times = replicas.flatMap((r) => requestTimes(r, t0));
    // Scale in and wait for every task to stop, so the processes go before the next run.
    await clients[0]!.send(new UpdateServiceCommand({ cluster: 'bench', service: 'app', desiredCount: 0 }));
    for (;;) {
      const left = (await clients[0]!.send(new ListTasksCommand({ cluster: 'bench', desiredStatus: 'RUNNING' }))).taskArns!.length;
      const s = (await clients[0]!.send(new DescribeServicesCommand({ cluster: 'bench', services: ['app'] }))).services![0]!;
      if (!left && s.runningCount === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await clients[0]!.send(new DeleteServiceCommand({ cluster: 'bench', service: 'app' }));
    return { replicas: replicaCount, steadyMs, requests: times.length, requestP50: percentile(times, 50), requestP99: percentile(times, 99), probeP99: percentile(probe, 99) };
  } finally {
    for (const a of agents) await a.close({ stopTasks: true }).catch(() => undefined);
    for (const c of clients) c.destroy();
    for (const r of replicas) {
      r.child.kill('SIGTERM');
      await r.exited;
    }
    killTaskProcessesUnder(root);
    rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    pg.stop();
  }
}

async function main(): Promise<void> {
  console.log(`${AGENTS} agents x ${PER_AGENT} tasks (process driver), one service of ${N} tasks, PostgreSQL store`);
  const one = await run(1);
  const three = await run(3);
  const row = (r: RunResult) =>
    `${String(r.replicas).padStart(8)}  ${(r.steadyMs / 1000).toFixed(1).padStart(9)} s  ${String(r.requests).padStart(8)}  ${r.requestP50.toFixed(1).padStart(7)} ms  ${r.requestP99.toFixed(1).padStart(7)} ms  ${r.probeP99.toFixed(1).padStart(7)} ms`;
  console.log('replicas  to steady     requests  req p50     req p99     DescribeServices p99');
  console.log(row(one));
  console.log(row(three));
  console.log(`ratio (3 / 1): time to steady ${(three.steadyMs / one.steadyMs).toFixed(2)}x, request p99 ${(three.requestP99 / one.requestP99).toFixed(2)}x, DescribeServices p99 ${(three.probeP99 / one.probeP99).toFixed(2)}x`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
