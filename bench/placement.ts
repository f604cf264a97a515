/**
 * Placement throughput: 10,000 tasks onto 1,000 simulated container instances, in process
 * (decision only), with spread(attribute:ecs.availability-zone) + binpack(memory) and a memberOf
 * constraint. Printed beside Nomad's published C1M figure (~3,750 placements/s; a distributed
 * cluster scheduler, so a reference point rather than a like-for-like peer) and beside a naive
 * re-computing placer measured in the same run.
 *
 *   npx tsc -p . && node dist/bench/placement.js
 */
import { place, seededRandom } from '../src/domain/placement/placement.js';
import type { ContainerInstanceView, ExistingTaskRef, PlacementRequest } from '../src/domain/placement/types.js';
import { placeNaive } from '../test/control/reference-placement.js';

const NOMAD_C1M_PER_SEC = 3750; // 1,000,000 containers in < 5 min, HashiCorp C1M (2016)
const TARGET_PER_SEC = 5000;
const INSTANCES = 1000;
const TASKS = 10_000;

function cluster(n: number): ContainerInstanceView[] {
  const rnd = seededRandom(2026);
  const azs = ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1d'];
  const types = ['m5.xlarge', 'm5.2xlarge', 'c5.2xlarge', 't3.xlarge'];
  return Array.from({ length: n }, (_, i) => {
    const big = rnd() < 0.5;
    return {
      id: `ci-${i.toString(16).padStart(8, '0')}`,
      arn: `arn:aws:ecs:us-east-1:000000000000:container-instance/bench/ci-${i}`,
      ec2InstanceId: `i-${i.toString(16).padStart(17, '0')}`,
      status: 'ACTIVE',
      agentConnected: true,
      attributes: { 'ecs.availability-zone': azs[i % azs.length]!, 'ecs.instance-type': types[Math.floor(rnd() * types.length)]!, 'ecs.os-type': 'linux', stack: 'prod' },
      registeredCpu: big ? 8192 : 4096,
      registeredMemory: big ? 32768 : 16384,
      remainingCpu: big ? 8192 : 4096,
      remainingMemory: big ? 32768 : 16384,
      usedPorts: [{ port: 22 }, { port: 2375 }, { port: 2376 }, { port: 51678 }, { port: 51679 }],
      runningTasksCount: 0,
    };
  });
}

function request(instances: ContainerInstanceView[], count: number, existingTasks: ExistingTaskRef[] = []): PlacementRequest {
  return {
    count,
    task: { cpu: 256, memory: 512, group: 'service:web', serviceName: 'web' },
    instances,
    existingTasks,
    constraints: [{ type: 'memberOf', expression: 'attribute:ecs.instance-type =~ (m5|c5).* and attribute:stack == prod' }],
    strategy: [
      { type: 'spread', field: 'attribute:ecs.availability-zone' },
      { type: 'binpack', field: 'memory' },
    ],
  };
}

function rate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s`;
}

function main(): void {
  const instances = cluster(INSTANCES);

  // Warm-up (JIT), not measured.
  place(request(instances, 1000));

  // 1. One call placing all 10,000 copies (e.g. a service scaled to 10,000); median of 5 runs
  //    (the machine is shared, single runs are noisy).
  let t0 = 0;
  const runs: number[] = [];
  let one = place(request(instances, 1));
  for (let r = 0; r < 5; r++) {
    t0 = performance.now();
    one = place(request(instances, TASKS));
    runs.push(performance.now() - t0);
  }
  const oneMs = runs.sort((a, b) => a - b)[2]!;
  if (one.unplaced !== 0) throw new Error(`bench cluster too small: ${one.unplaced} unplaced (${one.message})`);

  // 2. 100 calls of 100 copies, each seeing the previous placements (a busy scheduler loop).
  let current = instances.map((i) => ({ ...i }));
  const existing: ExistingTaskRef[] = [];
  let batchMs = 0;
  let placedInBatches = 0;
  for (let b = 0; b < TASKS / 100; b++) {
    t0 = performance.now();
    const r = place(request(current, 100, existing));
    batchMs += performance.now() - t0;
    placedInBatches += r.placements.length;
    const byId = new Map(current.map((i) => [i.id, i]));
    for (const p of r.placements) {
      const i = byId.get(p.containerInstanceId)!;
      i.remainingCpu -= 256;
      i.remainingMemory -= 512;
      i.runningTasksCount = (i.runningTasksCount ?? 0) + 1;
      existing.push({ containerInstanceId: p.containerInstanceId, group: 'service:web' });
    }
    current = [...byId.values()];
  }

  // 3. Naive baseline (recomputes everything per copy): a smaller run, it is far slower.
  const NAIVE_TASKS = 40;
  t0 = performance.now();
  const naive = placeNaive(request(instances, NAIVE_TASKS));
  const naiveMs = performance.now() - t0;
  const same = place(request(instances, NAIVE_TASKS));
  const agree = naive.placements.every((p, k) => p.containerInstanceId === same.placements[k]?.containerInstanceId);

  const perSec = (TASKS / oneMs) * 1000;
  console.log(`placement: ${TASKS.toLocaleString('en-US')} tasks on ${INSTANCES.toLocaleString('en-US')} instances, spread(az)+binpack(memory), memberOf(CQL)`);
  console.log(`  berth, one call of ${TASKS} (median of 5): ${oneMs.toFixed(1)} ms  ${rate(TASKS, oneMs)}  (runs: ${runs.map((r) => r.toFixed(0)).join(', ')} ms)`);
  console.log(`  berth, 100 calls of 100:          ${batchMs.toFixed(1)} ms  ${rate(placedInBatches, batchMs)}`);
  console.log(`  naive re-computing placer (${NAIVE_TASKS}): ${naiveMs.toFixed(1)} ms  ${rate(NAIVE_TASKS, naiveMs)}  (same choices: ${agree})`);
  console.log(`  reference: Nomad C1M (published)  ${NOMAD_C1M_PER_SEC.toLocaleString('en-US')}/s`);
  console.log(`  ratio vs Nomad C1M: ${(perSec / NOMAD_C1M_PER_SEC).toFixed(1)}x; target >= ${TARGET_PER_SEC.toLocaleString('en-US')}/s: ${perSec >= TARGET_PER_SEC ? 'met' : 'NOT met'}`);
  const azs: Record<string, number> = {};
  const byId = new Map(instances.map((i) => [i.id, i]));
  for (const p of one.placements) {
    const az = byId.get(p.containerInstanceId)!.attributes['ecs.availability-zone']!;
    azs[az] = (azs[az] ?? 0) + 1;
  }
  console.log(`  per-AZ spread of the one-call run: ${JSON.stringify(azs)}`);
}

main();
