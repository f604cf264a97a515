/**
 * The docker driver's volumes: a container's ECS mounts as the Engine API's `HostConfig.Mounts`,
 * the docker volumes they need created first, and a task's own volumes removed with the task.
 *
 * - `bind` (ECS host.sourcePath): a bind mount of the host path, created as a directory when
 *   missing (as the ECS agent has docker do; see bindOf).
 * - `docker` scope `task` and `task` (an ECS volume with no configuration): a docker volume
 *   `berth-<taskId>-<volume name>` labelled `berth.task-id` and `berth.volume-scope=task`, the
 *   volume's own labels and driver options applied; removed by the task's cleanup.
 * - `docker` scope `shared`: the docker volume named as the ECS volume is (as ECS names shared
 *   volumes), kept when tasks end; when missing it is created only with `autoprovision`, else the
 *   container cannot start (ECS's behaviour).
 * - `readOnly` mounts are read-only; `volumesFrom` is the engine's `VolumesFrom` (`:ro` when
 *   read-only), naming the other container's docker container.
 */
import type { ContainerSpec, MountSpec, VolumeSpec } from '../types.js';
import { EngineError, type DockerEngine } from './dockerApi.js';

const enc = encodeURIComponent;

/** Label marking a docker volume as one task's own (removed with it). */
export const VOLUME_SCOPE_LABEL = 'berth.volume-scope';

/** Name-safe form of a string for docker object names. */
function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '-');
}

/** The docker volume name of a task's own volume. */
export function taskVolumeName(taskId: string, volume: string): string {
  return `berth-${safe(taskId)}-${safe(volume)}`;
}

/** Whether a volume lives and goes with its task. */
function taskScoped(v: VolumeSpec): boolean {
  return v.kind === 'task' || (v.kind === 'docker' && v.docker?.scope !== 'shared');
}

/**
 * A bind mount in `Binds`' form (`host:container[:ro]`), which has the engine create a missing
 * host directory as the ECS agent's binds do (`Mounts` gained that only in API 1.42); undefined
 * for paths with a colon, which that form cannot carry (those go in `Mounts`, the host path
 * then has to exist).
 */
function bindOf(m: MountSpec): string | undefined {
  const src = m.volume.sourcePath ?? '';
  if (src.includes(':') || m.containerPath.includes(':')) return undefined;
  return `${src}:${m.containerPath}${m.readOnly ? ':ro' : ''}`;
}

/** The engine's mount (`Mounts` entry) for one ECS mount point. */
function engineMount(taskId: string, m: MountSpec): Record<string, unknown> {
  const v = m.volume;
  if (v.kind === 'bind') return { Type: 'bind', Source: v.sourcePath, Target: m.containerPath, ReadOnly: !!m.readOnly };
  const source = taskScoped(v) ? taskVolumeName(taskId, v.name) : v.name;
  return { Type: 'volume', Source: source, Target: m.containerPath, ReadOnly: !!m.readOnly };
}

/**
 * Makes sure the docker volumes a container mounts exist (creating task-scoped ones and
 * autoprovisioned shared ones), and answers its `HostConfig` fields: Mounts and VolumesFrom.
 * Throws, with a reason fit for the container, for a volume Berth cannot mount or a shared
 * volume that does not exist and is not to be created.
 */
export async function prepareMounts(engine: DockerEngine, taskId: string, c: ContainerSpec, containerName: (name: string) => string): Promise<{ Binds?: string[]; Mounts?: unknown[]; VolumesFrom?: string[] }> {
  const mounts = c.mounts ?? [];
  for (const m of mounts) await ensureVolume(engine, taskId, m.volume);
  const out: { Binds?: string[]; Mounts?: unknown[]; VolumesFrom?: string[] } = {};
  const binds: string[] = [];
  const others: unknown[] = [];
  for (const m of mounts) {
    const bind = m.volume.kind === 'bind' ? bindOf(m) : undefined;
    if (bind) binds.push(bind);
    else others.push(engineMount(taskId, m));
  }
  if (binds.length) out.Binds = binds;
  if (others.length) out.Mounts = others;
  if (c.volumesFrom?.length) out.VolumesFrom = c.volumesFrom.map((f) => `${containerName(f.sourceContainer)}${f.readOnly ? ':ro' : ''}`);
  return out;
}

/** Creates a volume's docker volume when it should and does not exist. */
async function ensureVolume(engine: DockerEngine, taskId: string, v: VolumeSpec): Promise<void> {
  if (v.kind === 'unsupported') throw new Error(`volume '${v.name}' is of a kind Berth does not mount (EFS, FSx)`);
  if (v.kind === 'bind') {
    if (!v.sourcePath?.startsWith('/')) throw new Error(`volume '${v.name}' has no absolute host sourcePath`);
    return;
  }
  const scoped = taskScoped(v);
  const name = scoped ? taskVolumeName(taskId, v.name) : v.name;
  if (await engine.callOr404('GET', `/volumes/${enc(name)}`)) return;
  if (!scoped && !v.docker?.autoprovision) {
    throw new Error(`docker volume '${name}' does not exist on this instance and the task definition's volume has autoprovision false`);
  }
  const labels: Record<string, string> = { ...(v.docker?.labels ?? {}), 'berth.managed': 'true' };
  if (scoped) Object.assign(labels, { 'berth.task-id': taskId, [VOLUME_SCOPE_LABEL]: 'task' });
  try {
    await engine.call('POST', '/volumes/create', { Name: name, Driver: v.docker?.driver ?? 'local', DriverOpts: v.docker?.driverOpts ?? {}, Labels: labels });
  } catch (e) {
    if (!(e instanceof EngineError && e.statusCode === 409)) throw e;
  }
}

/** Removes a task's own docker volumes (its containers are gone by now). Shared volumes are kept. */
export async function removeTaskVolumes(engine: DockerEngine, taskId: string): Promise<void> {
  const filters = JSON.stringify({ label: [`berth.task-id=${taskId}`, `${VOLUME_SCOPE_LABEL}=task`] });
  const found: { Volumes?: Array<{ Name: string }> | null } = await engine.call('GET', `/volumes?filters=${enc(filters)}`);
  for (const v of found.Volumes ?? []) {
    try {
      await engine.call('DELETE', `/volumes/${enc(v.Name)}`);
    } catch (e) {
      if (!(e instanceof EngineError && e.statusCode === 404)) throw e;
    }
  }
}
