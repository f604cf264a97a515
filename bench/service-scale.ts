/**
 * Service controller at scale: S services x T tasks on I simulated container instances (the
 * test-side agent simulator: in-process heartbeats and task reports, no real processes), over
 * the real HTTP API.
 *  - peer, measured in the same run: the same S x T tasks launched directly (the RunTask path,
 *    `launchTasks`, controller off) until all are RUNNING: the raw cost of placing and running;
 *  - Berth: CreateService x S until every service is steady (the controller's loop on top);
 *  - a rolling update of every service to revision 2 until every deployment is COMPLETED.
 * The ratio (service / direct) is the scheduler's overhead; > 1 means slower than the peer.
 *
 *   npx tsc -p . && node dist/bench/service-scale.js [services] [tasksPerService] [instances]
 */
import { ECSClient, CreateClusterCommand, CreateServiceCommand, DescribeServicesCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { startTestBerth, type TestBerth } from '../test/helpers/fixture.js';
import { AgentSimulator } from '../test/services-control/simulator.js';
import { launchTasks } from '../src/domain/ecs/launch.js';
import { type TaskRecord } from '../src/domain/ecs/records.js';
import { KIND } from '../src/domain/ecs/keys.js';

const S = Number(process.argv[2] ?? 20);
const T = Number(process.argv[3] ?? 10);
const I = Number(process.argv[4] ?? 20);
const C = 'bench';

async function setup(controller: boolean): Promise<{ berth: TestBerth; ecs: ECSClient; sim: AgentSimulator }> {
  const berth = await startTestBerth();
  berth.controller.configure({ enabled: controller, intervalMs: 200, minHealthyRunningMs: 0 });
  const ecs = new ECSClient(berth.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: C }));
  const sim = new AgentSimulator(berth, ecs, { cluster: C, intervalMs: 50, heartbeatMs: 1000 });
  for (let i = 0; i < I; i++) await sim.addInstance({ cpu: 4096 * 4, memory: 16384 * 4, az: `us-east-1${'abc'[i % 3]}` });
  for (const v of ['1', '2']) await ecs.send(new RegisterTaskDefinitionCommand({ family: 'app', containerDefinitions: [{ name: 'app', image: `app:${v}`, cpu: 16, memory: 16 }] }));
  return { berth, ecs, sim };
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function running(berth: TestBerth): Promise<number> {
  return (await berth.platform.store.list<TaskRecord>(KIND.task, { prefix: `us-east-1/${C}/` })).filter((r) => r.value.lastStatus === 'RUNNING' && r.value.desiredStatus === 'RUNNING').length;
}

async function allServices(ecs: ECSClient, ok: (s: NonNullable<Awaited<ReturnType<ECSClient['send']>>>) => boolean): Promise<boolean> {
  for (let i = 0; i < S; i += 10) {
    const names = Array.from({ length: Math.min(10, S - i) }, (_, k) => `svc${i + k}`);
    const out = await ecs.send(new DescribeServicesCommand({ cluster: C, services: names }));
    if (!out.services!.every((s) => ok(s as never))) return false;
  }
  return true;
}

async function main(): Promise<void> {
  // Peer: direct launches, controller off.
  let env = await setup(false);
  let t0 = performance.now();
  for (let i = 0; i < S; i++) for (let left = T; left > 0; left -= 10) await launchTasks({ platform: env.berth.platform, region: 'us-east-1' }, { cluster: C, taskDefinition: 'app:1', count: Math.min(10, left), group: `family:peer${i}` });
  await until('direct tasks running', async () => (await running(env.berth)) === S * T);
  const direct = performance.now() - t0;
  await env.sim.stop();
  env.ecs.destroy();
  await env.berth.close();

  // Berth: services through the controller.
  env = await setup(true);
  const { berth, ecs, sim } = env;
  const controller = berth.controller;
  t0 = performance.now();
  for (let i = 0; i < S; i++) await ecs.send(new CreateServiceCommand({ cluster: C, serviceName: `svc${i}`, taskDefinition: 'app:1', desiredCount: T }));
  await until('services steady', () => allServices(ecs, (s: any) => s.runningCount === T && s.deployments.length === 1 && s.deployments[0].rolloutState === 'COMPLETED'));
  const create = performance.now() - t0;
  const r1 = controller.reconciles;
  t0 = performance.now();
  for (let i = 0; i < S; i++) await ecs.send(new UpdateServiceCommand({ cluster: C, service: `svc${i}`, taskDefinition: 'app:2' }));
  await until('rollouts completed', () => allServices(ecs, (s: any) => s.runningCount === T && s.deployments.length === 1 && s.deployments[0].taskDefinition.endsWith('app:2') && s.deployments[0].rolloutState === 'COMPLETED'));
  const update = performance.now() - t0;
  const r2 = controller.reconciles;
  await sim.stop();
  ecs.destroy();
  await berth.close();

  const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`service scale: ${S} services x ${T} tasks on ${I} instances (simulated agents, 200 ms controller tick)`);
  console.log(`  direct launch (peer, controller off) to all RUNNING:   ${f(direct)}`);
  console.log(`  CreateService x ${S} to all steady:                      ${f(create)}  ratio ${(create / direct).toFixed(2)}  (${r1} reconciles)`);
  console.log(`  rolling update of all to revision 2, all COMPLETED:    ${f(update)}  ratio ${(update / direct).toFixed(2)}  (${r2 - r1} reconciles)`);
  if (controller.errors.length) console.log(`  controller errors: ${controller.errors.slice(-3).join(' | ')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
