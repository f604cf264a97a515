/**
 * Compose volumes: the top-level `volumes:` (named volumes) and a service's `volumes:` (short
 * syntax `[source:]target[:mode]` and the long syntax), read as the Compose Specification reads
 * them, and their ECS form (docs/compose.md):
 * - a named volume is an ECS docker volume of scope `shared` named `<project>_<name>` (compose's
 *   name; `name:` overrides), `autoprovision` true (false for `external`, which must exist),
 *   its driver, driver_opts and labels, plus the labels that let `down -v` find it;
 * - a bind (a source starting with `.`, `/` or `~`) is an ECS host volume, a relative path
 *   resolved against the project directory;
 * - an anonymous volume (a target alone) is an ECS volume with no configuration: empty, the
 *   task's own.
 * `read_only` / `:ro` become the mount point's readOnly. tmpfs, npipe, cluster and image mounts,
 * bind propagation and selinux, and volume nocopy / subpath are reported unsupported.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { DockerEngine, defaultDockerSocket, EngineError } from '../../agent/drivers/dockerApi.js';
import { ComposeError } from './interpolate.js';
import { listOf } from './values.js';

/** A top-level named volume, normalized. */
export interface ComposeVolume {
  /** The docker volume's name. */
  name: string;
  driver: string;
  driver_opts: Record<string, string>;
  labels: Record<string, string>;
  external: boolean;
}

/** A volume a service mounts, normalized (long syntax). */
export interface ComposeMount {
  type: 'volume' | 'bind';
  /** The top-level volume's key (type volume), the absolute host path (bind), none (anonymous). */
  source?: string;
  target: string;
  read_only: boolean;
}

/** Label of a docker volume naming the compose project that made it (`down -v` removes by it). */
export const VOLUME_PROJECT_LABEL = 'berth.compose-project';
/** Most volumes a service mounts, and most top-level volumes (ECS's task definition bound is 50). */
export const MAX_COMPOSE_VOLUMES = 50;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, path: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (Array.isArray(v)) {
    const out: Record<string, string> = {};
    for (const item of v) {
      const s = String(item);
      const eq = s.indexOf('=');
      out[eq < 0 ? s : s.slice(0, eq)] = eq < 0 ? '' : s.slice(eq + 1);
    }
    return out;
  }
  if (!isObj(v)) throw new ComposeError(`validating compose file: ${path} must be a mapping`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? '' : String(x)]));
}

/** The top-level `volumes:` of a project named `project`. */
export function parseTopVolumes(raw: unknown, project: string, unsupported: Set<string>): Record<string, ComposeVolume> {
  if (raw === undefined || raw === null) return {};
  if (!isObj(raw)) throw new ComposeError('validating compose file: volumes must be a mapping');
  const keys = Object.keys(raw);
  if (keys.length > MAX_COMPOSE_VOLUMES) throw new ComposeError(`a project has at most ${MAX_COMPOSE_VOLUMES} volumes (got ${keys.length})`);
  const out: Record<string, ComposeVolume> = {};
  for (const key of keys) {
    const def = raw[key] ?? {};
    if (!isObj(def)) throw new ComposeError(`validating compose file: volumes.${key} must be a mapping`);
    for (const k of Object.keys(def)) {
      if (k.startsWith('x-')) continue;
      if (!['driver', 'driver_opts', 'labels', 'external', 'name'].includes(k)) throw new ComposeError(`validating compose file: volumes.${key} additional properties '${k}' not allowed`);
    }
    const external = def.external === true;
    const name = typeof def.name === 'string' && def.name ? def.name : external ? key : `${project}_${key}`;
    // The docker volume's name is also the ECS volume's (ECS names shared docker volumes so).
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(name)) throw new ComposeError(`volume "${key}": the name "${name}" cannot be an ECS volume name (letters, digits, hyphens and underscores; set another with name:)`);
    const driver = def.driver === undefined ? 'local' : String(def.driver);
    if (driver !== 'local') unsupported.add(`volumes.${key}.driver`);
    out[key] = { name, driver, driver_opts: stringMap(def.driver_opts, `volumes.${key}.driver_opts`), labels: stringMap(def.labels, `volumes.${key}.labels`), external };
  }
  return out;
}

/** Whether a short-syntax source is a host path (else a named volume). */
function isPath(source: string): boolean {
  return source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
}

function hostPath(source: string, workingDir: string): string {
  if (source === '~' || source.startsWith('~/')) return resolve(homedir(), source.slice(2));
  return resolve(workingDir, source);
}

/** A service's `volumes:` list, normalized; named sources must be top-level volumes. */
export function parseServiceVolumes(raw: unknown, at: string, workingDir: string, volumes: Record<string, ComposeVolume>, unsupported: Set<string>): ComposeMount[] {
  const list = listOf(raw, `${at}.volumes`);
  if (list.length > MAX_COMPOSE_VOLUMES) throw new ComposeError(`${at}.volumes: at most ${MAX_COMPOSE_VOLUMES} volumes`);
  const named = (source: string): string => {
    if (!volumes[source]) throw new ComposeError(`service "${at.slice('services.'.length)}" refers to undefined volume ${source}: invalid compose project`);
    return source;
  };
  const out: ComposeMount[] = [];
  for (const [i, item] of list.entries()) {
    const path = `${at}.volumes[${i}]`;
    if (typeof item === 'string') {
      const parts = item.split(':');
      if (parts.length > 3 || parts.some((p) => !p)) throw new ComposeError(`${path}: invalid volume specification: '${item}'`);
      let [source, target, mode] = parts.length === 1 ? [undefined, parts[0]!, undefined] : parts.length === 2 && (parts[1] === 'ro' || parts[1] === 'rw') ? [undefined, parts[0]!, parts[1]] : [parts[0], parts[1]!, parts[2]];
      const options = (mode ?? '').split(',').filter(Boolean);
      for (const o of options) if (o !== 'ro' && o !== 'rw') unsupported.add(`${path}:${o}`);
      if (!target.startsWith('/')) throw new ComposeError(`${path}: invalid volume specification: '${item}': the mount target must be an absolute path`);
      const read_only = options.includes('ro');
      if (source === undefined) out.push({ type: 'volume', target, read_only });
      else if (isPath(source)) out.push({ type: 'bind', source: hostPath(source, workingDir), target, read_only });
      else out.push({ type: 'volume', source: named(source), target, read_only });
      continue;
    }
    if (!isObj(item)) throw new ComposeError(`validating compose file: ${path} must be a string or a mapping`);
    const type = String(item.type ?? 'volume');
    const target = item.target;
    if (typeof target !== 'string' || !target.startsWith('/')) throw new ComposeError(`${path}.target must be an absolute path`);
    if (type !== 'volume' && type !== 'bind') {
      unsupported.add(`${path}.type: ${type}`);
      continue;
    }
    for (const k of Object.keys(item)) if (!['type', 'source', 'target', 'read_only', 'bind', 'volume'].includes(k) && !k.startsWith('x-')) unsupported.add(`${path}.${k}`);
    if (isObj(item.bind)) for (const k of Object.keys(item.bind)) if (k !== 'create_host_path') unsupported.add(`${path}.bind.${k}`);
    if (isObj(item.volume)) for (const k of Object.keys(item.volume)) unsupported.add(`${path}.volume.${k}`);
    const read_only = item.read_only === true;
    const source = item.source === undefined || item.source === null || item.source === '' ? undefined : String(item.source);
    if (type === 'bind') {
      if (!source) throw new ComposeError(`${path}: a bind mount needs a source`);
      out.push({ type, source: hostPath(source, workingDir), target, read_only });
    } else out.push({ type, ...(source ? { source: named(source) } : {}), target, read_only });
  }
  return out;
}

/**
 * A service's mounts as ECS task definition `volumes` and the container's `mountPoints` (see the
 * file's comment). ECS volume names: the docker volume's for named volumes, `bind-<n>` and
 * `anon-<n>` for the others.
 */
export function ecsVolumesOf(project: string, mounts: ComposeMount[], volumes: Record<string, ComposeVolume>): { volumes: Obj[]; mountPoints: Obj[] } {
  const ecsVolumes = new Map<string, Obj>();
  const mountPoints: Obj[] = [];
  for (const [i, m] of mounts.entries()) {
    let name: string;
    if (m.type === 'bind') {
      name = `bind-${i}`;
      ecsVolumes.set(name, { name, host: { sourcePath: m.source } });
    } else if (m.source) {
      const v = volumes[m.source]!;
      name = v.name;
      const labels = { ...v.labels, ...(v.external ? {} : { [VOLUME_PROJECT_LABEL]: project, 'com.docker.compose.project': project, 'com.docker.compose.volume': m.source }) };
      ecsVolumes.set(name, { name, dockerVolumeConfiguration: { scope: 'shared', autoprovision: !v.external, driver: v.driver, ...(Object.keys(v.driver_opts).length ? { driverOpts: v.driver_opts } : {}), labels } });
    } else {
      name = `anon-${i}`;
      ecsVolumes.set(name, { name });
    }
    mountPoints.push({ sourceVolume: name, containerPath: m.target, readOnly: m.read_only });
  }
  return { volumes: [...ecsVolumes.values()], mountPoints };
}

/** How long `down -v` waits for a volume still held by a container the agent is removing. */
const VOLUME_BUSY_WAIT_MS = 30_000;

/**
 * `down -v`: removes the project's named volumes (labelled VOLUME_PROJECT_LABEL; external ones
 * never are) from the docker engine this command reaches (DOCKER_HOST, as `build` uses). Docker
 * volumes live on the agents' hosts and ECS has no API that removes them, so this reaches the
 * ones on this host's engine, and says so: volumes on other hosts are left (listed by
 * `docker volume ls --filter label=berth.compose-project=<project>` there). Answers the names removed.
 */
export async function removeProjectVolumes(project: string, say: (line: string) => void, engine?: DockerEngine): Promise<string[]> {
  const socket = defaultDockerSocket();
  if (!engine && !existsSync(socket)) {
    say(`compose: no docker engine at ${socket}: the project's volumes on the agents' hosts are left (remove them there with docker volume rm)`);
    return [];
  }
  const e = engine ?? new DockerEngine(socket);
  const filters = JSON.stringify({ label: [`${VOLUME_PROJECT_LABEL}=${project}`] });
  const found: { Volumes?: Array<{ Name: string }> | null } = await e.call('GET', `/volumes?filters=${encodeURIComponent(filters)}`);
  const removed: string[] = [];
  for (const v of found.Volumes ?? []) {
    const deadline = Date.now() + VOLUME_BUSY_WAIT_MS;
    for (;;) {
      try {
        await e.call('DELETE', `/volumes/${encodeURIComponent(v.Name)}`);
        removed.push(v.Name);
        say(`compose: volume ${v.Name} removed`);
        break;
      } catch (err) {
        if (err instanceof EngineError && err.statusCode === 404) break;
        // In use: a stopped task's container the agent has not removed yet.
        if (err instanceof EngineError && err.statusCode === 409 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        throw new ComposeError(`removing volume ${v.Name}: ${(err as Error).message}`);
      }
    }
  }
  if (!removed.length) say(`compose: no volumes of project ${project} on the docker engine at ${e.socketPath}`);
  return removed;
}
