/**
 * The index of live tasks by the container instance they are placed on
 * (`KIND.liveTaskOnInstance`: `<region>/<cluster>/<containerInstanceId>/<taskId>` -> `{}`), so an
 * agent's poll and placement read the live tasks of one instance or cluster without reading
 * every stopped task.
 *
 * Invariant: an entry exists exactly while its task exists, has a container instance and is not
 * STOPPED. Every task write commits `liveIndexWrites(before, after)` in the same batch, so the
 * index never disagrees with a committed task; readers still check each task they read back.
 */
import type { StoredRecord, Write } from '../../store/types.js';
import { retrying } from '../mutate.js';
import { KIND, clusterNameOf, clusterScopedKey, resourceRefOf, type Scope } from './keys.js';
import type { TaskRecord } from './records.js';

/** Whether a task still holds resources on its instance (not yet STOPPED). */
export function isLive(t: TaskRecord): boolean {
  return t.lastStatus !== 'STOPPED';
}

/** Store key of a live task's entry in the by-instance index. */
function liveIndexKey(region: string, t: TaskRecord): string {
  return `${region}/${t.clusterName}/${t.containerInstanceId!}/${t.taskId}`;
}

function inLiveIndex(t: TaskRecord | undefined | null): boolean {
  return !!t && !!t.containerInstanceId && isLive(t);
}

/**
 * The writes that keep the index in step with a task going from `before` to `after`
 * (undefined or null: absent); commit them in the same batch as the task's write.
 */
export function liveIndexWrites(region: string, before: TaskRecord | undefined | null, after: TaskRecord | undefined | null): Write[] {
  const was = inLiveIndex(before);
  const is = inLiveIndex(after);
  if (is && !was) return [{ kind: KIND.liveTaskOnInstance, key: liveIndexKey(region, after!), value: {} }];
  if (was && !is) return [{ kind: KIND.liveTaskOnInstance, key: liveIndexKey(region, before!), value: null }];
  return [];
}

/**
 * Live tasks placed on container instances of a cluster, from the index: all of the cluster's,
 * or only those of one instance id; in task id order per instance. Each task is read and
 * checked, so an entry left behind never yields a stopped task.
 */
async function liveTasksFromIndex(s: Scope, clusterName: string, instanceId?: string): Promise<TaskRecord[]> {
  const { store } = s.platform;
  const prefix = instanceId === undefined ? `${s.region}/${clusterName}/` : `${s.region}/${clusterName}/${instanceId}/`;
  const entries = await store.list(KIND.liveTaskOnInstance, { prefix });
  const instances: string[] = [];
  const keys: string[] = [];
  for (const e of entries) {
    const slash = e.key.lastIndexOf('/');
    instances.push(e.key.slice(e.key.lastIndexOf('/', slash - 1) + 1, slash));
    keys.push(clusterScopedKey(s.region, clusterName, e.key.slice(slash + 1)));
  }
  const out: TaskRecord[] = [];
  (await store.getMany<TaskRecord>(KIND.task, keys)).forEach((r, i) => {
    if (r && isLive(r.value) && r.value.containerInstanceId === instances[i]) out.push(r.value);
  });
  return out;
}

/** Live tasks of a cluster, grouped by container instance id. */
export async function liveTasksByInstance(s: Scope, clusterName: string): Promise<Map<string, TaskRecord[]>> {
  const m = new Map<string, TaskRecord[]>();
  for (const t of await liveTasksFromIndex(s, clusterName)) {
    const a = m.get(t.containerInstanceId!) ?? [];
    a.push(t);
    m.set(t.containerInstanceId!, a);
  }
  return m;
}

/**
 * Tasks assigned to a container instance that still need its agent's attention (not yet
 * STOPPED), including those with desiredStatus STOPPED the agent must stop.
 */
export async function tasksForInstance(s: Scope, cluster: string, containerInstance: string): Promise<TaskRecord[]> {
  const clusterName = clusterNameOf(s, cluster);
  const ci = resourceRefOf(s, 'container-instance', containerInstance);
  if (!ci || ci.id.includes('/')) return [];
  return liveTasksFromIndex(s, clusterName, ci.id);
}

/**
 * Fills the index for live tasks that have no entry yet (state written before the index
 * existed) and drops entries of tasks that are gone or STOPPED. Run once at start. A missing
 * entry is added together with an unchanged rewrite of its task, conditional on the task's
 * revision, so a concurrent stop cannot leave a live entry behind.
 */
export async function rebuildLiveTaskIndex(store: Scope['platform']['store']): Promise<void> {
  const entries = new Set((await store.list(KIND.liveTaskOnInstance)).map((e) => e.key));
  const wanted = new Set<string>();
  for (const r of await store.list<TaskRecord>(KIND.task)) {
    const region = r.key.slice(0, r.key.indexOf('/'));
    if (!inLiveIndex(r.value)) continue;
    const key = liveIndexKey(region, r.value);
    wanted.add(key);
    if (entries.has(key)) continue;
    let first = true;
    await retrying(`Task ${r.key}`, async () => {
      const cur: StoredRecord<TaskRecord> | undefined = first ? r : await store.get<TaskRecord>(KIND.task, r.key);
      first = false;
      if (!cur || !inLiveIndex(cur.value)) return;
      await store.commit([{ kind: KIND.task, key: cur.key, value: cur.value, expectRev: cur.rev }, ...liveIndexWrites(region, undefined, cur.value)]);
    });
  }
  for (const key of entries) if (!wanted.has(key)) await store.commit([{ kind: KIND.liveTaskOnInstance, key, value: null }]);
}
