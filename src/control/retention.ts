/**
 * The ECS retention sweep: tasks STOPPED and services INACTIVE for longer than an hour (by the
 * platform clock) are removed, in every region, as ECS stops showing them.
 */
import { KIND } from '../domain/ecs/keys.js';
import { pruneInactiveServices } from '../domain/ecs/services.js';
import { STOPPED_TASK_RETENTION_MS, pruneStoppedTasks } from '../domain/ecs/tasks.js';
import type { Platform } from '../domain/platform.js';
import { startLoop, type Loop } from './loop.js';

/** Removes expired STOPPED tasks and INACTIVE services in every region. Returns how many went. */
export async function sweepExpired(platform: Platform): Promise<number> {
  const regions = new Set<string>();
  for (const kind of [KIND.task, KIND.service]) for (const r of await platform.store.list(kind)) regions.add(r.key.split('/')[0]!);
  let n = 0;
  for (const region of regions) {
    n += await pruneStoppedTasks({ platform, region }, STOPPED_TASK_RETENTION_MS);
    n += await pruneInactiveServices({ platform, region }, STOPPED_TASK_RETENTION_MS);
  }
  return n;
}

export function startRetentionSweep(platform: Platform, onError: (e: unknown) => void): Loop {
  return startLoop(platform.clock, 60_000, () => sweepExpired(platform), onError);
}
