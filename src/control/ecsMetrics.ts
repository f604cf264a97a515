/**
 * Publishes ECS's service utilisation metrics into CloudWatch, as ECS does: namespace `AWS/ECS`,
 * `CPUUtilization` and `MemoryUtilization` in Percent, with dimensions ClusterName+ServiceName
 * (the service's tasks) and ClusterName alone (every task of the cluster). A task's CPU is the
 * CPU time its containers used over the window (src/domain/ecs/taskUsage.ts, sent by the agents
 * with their polls) as a percentage of the task's reserved CPU (task-level `cpu`, else the sum of
 * its containers' `cpu`, else one vCPU); its memory is the window's mean as a percentage of its
 * reserved memory (task-level `memory`, else the sum of its containers' `memory` or
 * `memoryReservation`). Each run puts, per dimension set, one statistic set over the tasks
 * (SampleCount = tasks, so Average is the mean over the tasks).
 *
 * Each replica publishes what its own agents' polls brought (not a duty): CloudWatch adds the
 * statistic sets up. Deviation: ECS's cluster-level figure is against the container instances'
 * registered capacity; here it is over the tasks' reservations, as the service-level one.
 */
import type { Platform } from '../domain/platform.js';
import { putMetricData, type Dimension, type Sample } from '../domain/cloudwatch/metrics.js';
import { findTask } from '../domain/ecs/tasks.js';
import { applyOverrides, findTaskDefinition } from '../domain/ecs/taskDefinitions.js';
import { taskUsageOf } from '../domain/ecs/taskUsage.js';
import type * as ECS from '../generated/ecs.js';
import { startLoop, type Loop } from './loop.js';

/** ECS's CloudWatch namespace. */
export const ECS_NAMESPACE = 'AWS/ECS';
/** How often the publisher runs by default (ECS publishes once a minute). */
export const ECS_METRICS_PUBLISH_INTERVAL_MS = 60_000;
/** Most samples one PutMetricData commit carries. */
const SAMPLES_PER_PUT = 1000;
const MIB = 1024 * 1024;

/** CPU units of a task definition's `cpu` ("256", "1 vCPU", "0.5 vcpu"), or 0. */
export function cpuUnits(cpu: string | undefined): number {
  if (!cpu) return 0;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(vcpu)?\s*$/i.exec(cpu);
  if (!m) return 0;
  return m[2] ? Number(m[1]) * 1024 : Number(m[1]);
}

/** MiB of a task definition's `memory` ("512", "1 GB", "0.5gb"), or 0. */
export function memoryMiB(memory: string | undefined): number {
  if (!memory) return 0;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(gb)?\s*$/i.exec(memory);
  if (!m) return 0;
  return m[2] ? Number(m[1]) * 1024 : Number(m[1]);
}

/** The reservations utilisation is measured against: CPU units and memory MiB (0 when none). */
export function reservationsOf(td: ECS.TaskDefinition): { cpu: number; memoryMiB: number } {
  const containers = td.containerDefinitions ?? [];
  const cpu = cpuUnits(td.cpu) || containers.reduce((s, c) => s + (c.cpu ?? 0), 0) || 1024;
  const mem = memoryMiB(td.memory) || containers.reduce((s, c) => s + (c.memory ?? c.memoryReservation ?? 0), 0);
  return { cpu, memoryMiB: mem };
}

/** n / sum / min / max of values. */
class Stat {
  n = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  add(v: number): void {
    this.n++;
    this.sum += v;
    this.min = Math.min(this.min, v);
    this.max = Math.max(this.max, v);
  }
}

/** One run: drains the usage windows and puts their utilisation; returns how many samples were put. */
export async function publishEcsMetrics(platform: Platform): Promise<number> {
  const now = platform.clock.now();
  const windows = taskUsageOf(platform).drain(now);
  // Per region, per dimension-set key: the CPU and memory statistics.
  const groups = new Map<string, { region: string; dims: Dimension[]; cpu: Stat; mem: Stat }>();
  const defs = new Map<string, ECS.TaskDefinition | undefined>();
  const add = (region: string, dims: Dimension[], cpuPct: number, memPct: number | undefined) => {
    const key = JSON.stringify([region, dims]);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { region, dims, cpu: new Stat(), mem: new Stat() }));
    g.cpu.add(cpuPct);
    if (memPct !== undefined) g.mem.add(memPct);
  };
  for (const w of windows) {
    const scope = { platform, region: w.region };
    const task = (await findTask(scope, w.cluster, w.taskArn))?.value;
    // Only what the task's own instance reports counts.
    if (!task || task.containerInstanceArn !== w.containerInstanceArn) continue;
    const defKey = `${w.region}|${task.taskDefinitionArn}`;
    if (!defs.has(defKey)) defs.set(defKey, (await findTaskDefinition(scope, task.taskDefinitionArn))?.value.taskDefinition);
    const base = defs.get(defKey);
    if (!base) continue;
    const r = reservationsOf(task.overrides ? applyOverrides(base, task.overrides) : base);
    const cpuPct = ((w.vcpus * 1024) / r.cpu) * 100;
    const memPct = r.memoryMiB > 0 ? (w.memoryBytes / (r.memoryMiB * MIB)) * 100 : undefined;
    add(w.region, [{ Name: 'ClusterName', Value: w.cluster }], cpuPct, memPct);
    if (task.group.startsWith('service:')) add(w.region, [{ Name: 'ClusterName', Value: w.cluster }, { Name: 'ServiceName', Value: task.group.slice('service:'.length) }], cpuPct, memPct);
  }
  const minute = Math.floor(now / 60_000) * 60_000;
  const byRegion = new Map<string, Sample[]>();
  for (const g of groups.values()) {
    const samples = byRegion.get(g.region) ?? [];
    byRegion.set(g.region, samples);
    for (const [metricName, s] of [['CPUUtilization', g.cpu], ['MemoryUtilization', g.mem]] as const) {
      if (s.n > 0) samples.push({ metricName, dimensions: g.dims, timestamp: minute, n: s.n, sum: s.sum, min: s.min, max: s.max, unit: 'Percent', storageResolution: 60 });
    }
  }
  let put = 0;
  for (const [region, samples] of byRegion) {
    for (let i = 0; i < samples.length; i += SAMPLES_PER_PUT) {
      await putMetricData({ platform, region }, ECS_NAMESPACE, samples.slice(i, i + SAMPLES_PER_PUT));
      put += Math.min(SAMPLES_PER_PUT, samples.length - i);
    }
  }
  return put;
}

/** Starts publishing every `intervalMs` on the platform clock (the usage this replica's agents reported). */
export function startEcsMetricsPublisher(platform: Platform, opts: { intervalMs?: number; onError: (e: unknown) => void }): Loop {
  return startLoop(platform.clock, opts.intervalMs ?? ECS_METRICS_PUBLISH_INTERVAL_MS, () => publishEcsMetrics(platform), opts.onError);
}
