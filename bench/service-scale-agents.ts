/**
 * End to end: one service scaled from 0 to N tasks (default 200) on 4 real agents with the
 * process driver (every task a real host process under its supervisor), over the real HTTP API,
 * until the service is steady (N running, one COMPLETED deployment).
 *  - peer, measured in the same run: the same N containers started directly through the process
 *    driver (4 at a time, one per "agent"), no control plane: the floor of running N processes.
 * Prints both times and the ratio (Berth / direct), and the memory the process driver's
 * supervisors hold at steady state (one per agent data dir).
 *
 *   npx tsc -p . && node dist/bench/service-scale-agents.js [tasks]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, CreateClusterCommand, CreateServiceCommand, DescribeServicesCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand, DeleteServiceCommand, ListTasksCommand } from '@aws-sdk/client-ecs';
import { startBerth } from '../src/berth.js';
import { Agent } from '../src/agent/agent.js';
import { ProcessDriver } from '../src/agent/drivers/process.js';
import type { DriverHandle } from '../src/agent/drivers/driver.js';

const N = Number(process.argv[2] ?? 200);
const AGENTS = 4;
const COMMAND = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'];

async function direct(root: string): Promise<number> {
  const drivers = Array.from({ length: AGENTS }, (_, i) => new ProcessDriver({ dataDir: join(root, `direct-${i}`) }));
  const handles: Array<{ d: ProcessDriver; h: DriverHandle }> = [];
  const t0 = performance.now();
  await Promise.all(
    drivers.map(async (d, i) => {
      for (let k = i; k < N; k += AGENTS) {
        const h = await d.start({ taskId: `direct${k}`, container: { name: 'app', image: 'host', command: COMMAND, memory: 16 } });
        handles.push({ d, h });
      }
    }),
  );
  const took = performance.now() - t0;
  await Promise.all(handles.map(({ d, h }) => d.stop(h, 2000).then(() => d.destroy(h))));
  for (const d of drivers) d.close();
  return took;
}

/** The process driver's supervisors serving data dirs under `root`: how many, and their resident memory. */
function supervisorsUnder(root: string): { count: number; rssMiB: number } {
  let count = 0;
  let rssKiB = 0;
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('processSupervisor.js') || !cmd.includes(root)) continue;
      count++;
      rssKiB += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return { count, rssMiB: rssKiB / 1024 };
}

async function viaBerth(root: string): Promise<{ took: number; supervisors: { count: number; rssMiB: number }; berthClose: () => Promise<void> }> {
  const berth = await startBerth({ port: 0, ephemeral: true, env: {} });
  const client = { endpoint: berth.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey };
  const ecs = new ECSClient({ endpoint: berth.url, region: 'us-east-1', credentials: { accessKeyId: client.accessKeyId, secretAccessKey: client.secretAccessKey }, maxAttempts: 1 });
  await ecs.send(new CreateClusterCommand({ clusterName: 'scale' }));
  const agents: Agent[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const stateDir = join(root, `agent-${i}`);
    const a = new Agent({ client, cluster: 'scale', driver: new ProcessDriver({ dataDir: join(stateDir, 'process') }), stateDir, cpu: 65536, memoryMiB: 65536, attributes: { 'ecs.availability-zone': `us-east-1${'abcd'[i]}` }, log: () => undefined });
    await a.start();
    agents.push(a);
  }
  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'app', containerDefinitions: [{ name: 'app', image: 'host', memory: 16, command: COMMAND }] }));
  await ecs.send(new CreateServiceCommand({ cluster: 'scale', serviceName: 'app', taskDefinition: 'app', desiredCount: 0 }));
  const t0 = performance.now();
  await ecs.send(new UpdateServiceCommand({ cluster: 'scale', service: 'app', desiredCount: N }));
  for (;;) {
    const s = (await ecs.send(new DescribeServicesCommand({ cluster: 'scale', services: ['app'] }))).services![0]!;
    if (s.runningCount === N && s.deployments!.length === 1) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const took = performance.now() - t0;
  return {
    took,
    supervisors: supervisorsUnder(root),
    berthClose: async () => {
      await ecs.send(new DeleteServiceCommand({ cluster: 'scale', service: 'app', force: true }));
      for (;;) {
        const left = (await ecs.send(new ListTasksCommand({ cluster: 'scale' }))).taskArns!.length;
        if (left === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      for (const a of agents) await a.close({ stopTasks: true });
      ecs.destroy();
      await berth.close();
    },
  };
}

const root = mkdtempSync(join(tmpdir(), 'berth-scale-'));
try {
  const floor = await direct(root);
  const berth = await viaBerth(root);
  await berth.berthClose();
  console.log(`service 0 -> ${N} tasks on ${AGENTS} agents (process driver)`);
  console.log(`  direct driver starts (peer): ${(floor / 1000).toFixed(2)} s`);
  console.log(`  Berth, UpdateService to steady: ${(berth.took / 1000).toFixed(2)} s`);
  console.log(`  ratio Berth / direct: ${(berth.took / floor).toFixed(2)}`);
  console.log(`  supervising ${N} containers at steady state: ${berth.supervisors.count} supervisor process(es), ${berth.supervisors.rssMiB.toFixed(0)} MiB resident in all`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
