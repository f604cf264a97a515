/**
 * What the agents say their tasks use (CPU time and memory, sent with each Poll), kept in memory
 * per platform until the ECS metrics publisher (src/control/ecsMetrics.ts) turns it into
 * CloudWatch's CPUUtilization / MemoryUtilization. Per task it keeps a window: the sample the
 * last publication ended at and the latest one since, so a publication averages the CPU over the
 * whole window (not over the last sample's few seconds), and the memory samples' mean. Not
 * persisted: a restarted replica starts with the next samples. Bounded: at most MAX_TASKS tasks,
 * and a task no agent has reported for STALE_MS is forgotten.
 */
import type { Platform } from '../platform.js';

/** Most tasks whose usage is kept per platform (a new task past it is not kept). */
export const MAX_TASKS = 100_000;
/** A task not reported for this long is forgotten (its agent is gone, or the task stopped). */
export const STALE_MS = 180_000;

/** One sample as an agent sends it (`TaskUsage` of the agent channel). */
export interface TaskUsageSample {
  taskArn: string;
  /** CPU time the task's containers have used since they started, in ms. */
  cpuTimeMs: number;
  memoryBytes: number;
  /** When the agent took it (its wall clock), epoch ms. */
  sampledAt: number;
}

/** A task's usage over one publication window. */
export interface TaskUsageWindow {
  region: string;
  cluster: string;
  /** The container instance whose agent reported it (the publisher checks the task runs there). */
  containerInstanceArn: string;
  taskArn: string;
  /** Mean CPU use over the window, in vCPUs (1 = one core busy all the time). */
  vcpus: number;
  /** Mean of the memory samples of the window, in bytes. */
  memoryBytes: number;
}

interface Tracked {
  region: string;
  cluster: string;
  containerInstanceArn: string;
  start: { cpu: number; at: number };
  last: { cpu: number; at: number };
  memSum: number;
  memN: number;
  receivedAt: number;
}

/** The usage samples of one platform's tasks (one per platform: `taskUsageOf`). */
export class TaskUsageBook {
  private readonly tasks = new Map<string, Tracked>();

  /** Records an agent's samples (received at `now`, platform clock); older or repeated samples are ignored. */
  record(region: string, cluster: string, containerInstanceArn: string, samples: readonly TaskUsageSample[], now: number): void {
    for (const s of samples) {
      if (!Number.isFinite(s.cpuTimeMs) || !Number.isFinite(s.memoryBytes) || !Number.isFinite(s.sampledAt)) continue;
      const t = this.tasks.get(s.taskArn);
      if (!t) {
        if (this.tasks.size >= MAX_TASKS) continue;
        this.tasks.set(s.taskArn, { region, cluster, containerInstanceArn, start: { cpu: s.cpuTimeMs, at: s.sampledAt }, last: { cpu: s.cpuTimeMs, at: s.sampledAt }, memSum: s.memoryBytes, memN: 1, receivedAt: now });
        continue;
      }
      if (t.containerInstanceArn !== containerInstanceArn) continue;
      t.receivedAt = now;
      if (s.sampledAt <= t.last.at) continue;
      // CPU time that went down: the containers were replaced; the window starts again here.
      if (s.cpuTimeMs < t.last.cpu) t.start = { cpu: s.cpuTimeMs, at: s.sampledAt };
      t.last = { cpu: s.cpuTimeMs, at: s.sampledAt };
      t.memSum += s.memoryBytes;
      t.memN++;
    }
  }

  /**
   * The windows with something new since the last call, each then starting again at its latest
   * sample; forgets tasks not reported since `now - STALE_MS`.
   */
  drain(now: number): TaskUsageWindow[] {
    const out: TaskUsageWindow[] = [];
    for (const [taskArn, t] of this.tasks) {
      if (t.receivedAt < now - STALE_MS) {
        this.tasks.delete(taskArn);
        continue;
      }
      if (t.last.at <= t.start.at || t.memN === 0) continue;
      out.push({ region: t.region, cluster: t.cluster, containerInstanceArn: t.containerInstanceArn, taskArn, vcpus: (t.last.cpu - t.start.cpu) / (t.last.at - t.start.at), memoryBytes: t.memSum / t.memN });
      t.start = { ...t.last };
      t.memSum = 0;
      t.memN = 0;
    }
    return out;
  }
}

const books = new WeakMap<Platform, TaskUsageBook>();

/** The usage book of a platform (made on first use). */
export function taskUsageOf(platform: Platform): TaskUsageBook {
  let b = books.get(platform);
  if (!b) books.set(platform, (b = new TaskUsageBook()));
  return b;
}
