/**
 * A task definition's `volumes` and its containers' `mountPoints` / `volumesFrom`, checked as
 * RegisterTaskDefinition checks them (ClientException naming the volume or container and the
 * field), with ECS's defaults filled in (a docker volume's scope `task`, driver `local`; an EFS
 * volume's root directory `/`), and the container instance attributes they need (placement
 * refuses instances without them, with ECS's reason ATTRIBUTE).
 *
 * Bounds (Berth's: ECS bounds the whole definition at 64 KiB): at most MAX_VOLUMES volumes, at
 * most MAX_MOUNTS mount points and MAX_VOLUMES_FROM volumesFrom entries per container, paths of
 * at most MAX_PATH characters, at most MAX_DOCKER_MAP_ENTRIES labels and driver options per
 * docker volume.
 */
import type * as ECS from '../../generated/ecs.js';
import { ecsErrors } from '../../domain/ecs/errors.js';

/** Most volumes one task definition may declare. */
export const MAX_VOLUMES = 50;
/** Most mount points of one container. */
export const MAX_MOUNTS = 50;
/** Most volumesFrom entries of one container. */
export const MAX_VOLUMES_FROM = 10;
/** Longest sourcePath / containerPath. */
export const MAX_PATH = 4096;
/** Most labels, and most driver options, of one docker volume. */
export const MAX_DOCKER_MAP_ENTRIES = 100;

/**
 * The attribute of instances that can mount volumes into containers (Berth's agents on the docker
 * driver advertise it; the process driver cannot, see src/agent/drivers/README.md). A task
 * definition whose containers mount anything requires it.
 */
export const MOUNTS_ATTRIBUTE = 'ecs.capability.berth.mounts';

const NAME_RE = /^[A-Za-z0-9_-]{1,255}$/;

function client(msg: string): never {
  throw ecsErrors.client(msg);
}

/** The first 200 characters of a user-given string, for messages. */
function shown(s: string | undefined): string {
  return (s ?? '').slice(0, 200);
}

/** Checks a docker label / driver option map: bounded, keys non-empty. */
function checkDockerMap(where: string, field: string, m: Record<string, string> | undefined): void {
  if (!m) return;
  const entries = Object.entries(m);
  if (entries.length > MAX_DOCKER_MAP_ENTRIES) client(`${where} dockerVolumeConfiguration.${field} can have at most ${MAX_DOCKER_MAP_ENTRIES} entries.`);
  for (const [k, v] of entries) {
    if (!k || k.length > 255) client(`${where} dockerVolumeConfiguration.${field} keys must be 1-255 characters.`);
    if (typeof v !== 'string' || v.length > MAX_PATH) client(`${where} dockerVolumeConfiguration.${field}.${shown(k)} must be a string of at most ${MAX_PATH} characters.`);
  }
}

/**
 * One volume with ECS's defaults filled in, checked: exactly one kind of configuration (host,
 * dockerVolumeConfiguration, efsVolumeConfiguration, fsxWindowsFileServerVolumeConfiguration,
 * or none: an empty volume the task gets for itself), an absolute `host.sourcePath`,
 * `autoprovision` only with scope `shared`; EFS as ECS checks it (see normalizeEfs).
 */
export function normalizeVolume(v: ECS.Volume): ECS.Volume {
  if (!v.name || !NAME_RE.test(v.name)) client(`Volume name '${shown(v.name)}' is not valid: up to 255 letters, numbers, hyphens and underscores.`);
  const where = `Invalid setting for volume '${v.name}'.`;
  const kinds = (['host', 'dockerVolumeConfiguration', 'efsVolumeConfiguration', 'fsxWindowsFileServerVolumeConfiguration', 's3filesVolumeConfiguration'] as const).filter((k) => v[k] !== undefined);
  if (kinds.length > 1) client(`${where} Only one of ${kinds.join(', ')} can be specified for a volume.`);
  if (v.host) {
    const p = v.host.sourcePath;
    if (p !== undefined) {
      if (p.length > MAX_PATH) client(`${where} host.sourcePath can be at most ${MAX_PATH} characters.`);
      if (!p.startsWith('/')) client(`${where} host.sourcePath '${shown(p)}' must be an absolute path.`);
      if (p.includes('\0')) client(`${where} host.sourcePath must not contain a NUL character.`);
    }
  }
  const dv = v.dockerVolumeConfiguration;
  if (dv) {
    const scope = dv.scope ?? 'task';
    if (dv.autoprovision && scope !== 'shared') client(`${where} autoprovision can only be true when the scope is 'shared'.`);
    if (dv.driver !== undefined && (!dv.driver || dv.driver.length > 255)) client(`${where} dockerVolumeConfiguration.driver must be 1-255 characters.`);
    checkDockerMap(where, 'labels', dv.labels);
    checkDockerMap(where, 'driverOpts', dv.driverOpts);
    return { ...v, dockerVolumeConfiguration: { ...dv, scope, ...(scope === 'shared' ? { autoprovision: dv.autoprovision ?? false } : {}), driver: dv.driver ?? 'local' } };
  }
  if (v.efsVolumeConfiguration) return { ...v, efsVolumeConfiguration: normalizeEfs(where, v.efsVolumeConfiguration) };
  return v;
}

/**
 * An EFS volume's `rootDirectory` defaults to `/`; an access point needs the root directory `/`
 * (or none) and transit encryption; IAM authorization needs transit encryption; a transit
 * encryption port needs transit encryption.
 */
function normalizeEfs(where: string, efs: ECS.EFSVolumeConfiguration): ECS.EFSVolumeConfiguration {
  if (!efs.fileSystemId) client(`${where} efsVolumeConfiguration.fileSystemId should not be null or empty.`);
  const encrypted = efs.transitEncryption === 'ENABLED';
  const auth = efs.authorizationConfig;
  if (auth?.accessPointId) {
    if (efs.rootDirectory !== undefined && efs.rootDirectory !== '/') {
      client(`${where} When an access point is specified in authorizationConfig, the root directory must either be omitted or set to '/'.`);
    }
    if (!encrypted) client(`${where} Transit encryption must be enabled when an access point is specified in authorizationConfig.`);
  }
  if (auth?.iam === 'ENABLED' && !encrypted) client(`${where} Transit encryption must be enabled when IAM authorization is enabled.`);
  if (efs.transitEncryptionPort !== undefined && !encrypted) client(`${where} A transit encryption port can only be set when transit encryption is enabled.`);
  if (efs.transitEncryptionPort !== undefined && (efs.transitEncryptionPort < 1 || efs.transitEncryptionPort > 65535)) {
    client(`${where} transitEncryptionPort ${efs.transitEncryptionPort} is outside 1-65535.`);
  }
  return { ...efs, rootDirectory: efs.rootDirectory ?? '/' };
}

/** All volumes of a registration, normalized, with unique names and within MAX_VOLUMES. */
export function normalizeVolumes(volumes: ECS.Volume[] | undefined): ECS.Volume[] {
  const list = volumes ?? [];
  if (list.length > MAX_VOLUMES) client(`A task definition can have at most ${MAX_VOLUMES} volumes.`);
  const out = list.map(normalizeVolume);
  const seen = new Set<string>();
  for (const v of out) {
    if (seen.has(v.name!)) client(`Volume names must be unique within a task definition: '${v.name}' is used twice.`);
    seen.add(v.name!);
  }
  return out;
}

/**
 * A container's mountPoints and volumesFrom: each mount names a volume of the task and an
 * absolute containerPath, no path mounted twice; volumesFrom names another container of the
 * task. They are kept as given (`readOnly` absent means read-write).
 */
export function checkContainerMounts(c: ECS.ContainerDefinition, volumeNames: ReadonlySet<string>, containerNames: ReadonlySet<string>): Pick<ECS.ContainerDefinition, 'mountPoints' | 'volumesFrom'> {
  const where = `Invalid setting for container '${c.name}'.`;
  const mounts = c.mountPoints ?? [];
  if (mounts.length > MAX_MOUNTS) client(`${where} A container can have at most ${MAX_MOUNTS} mountPoints.`);
  const paths = new Set<string>();
  const mountPoints = mounts.map((m): ECS.MountPoint => {
    if (!m.sourceVolume || !volumeNames.has(m.sourceVolume)) client(`${where} Unknown volume '${shown(m.sourceVolume)}': mountPoints.sourceVolume must name one of the task's volumes.`);
    if (!m.containerPath) client(`${where} mountPoints.containerPath should not be empty.`);
    if (m.containerPath.length > MAX_PATH) client(`${where} mountPoints.containerPath can be at most ${MAX_PATH} characters.`);
    if (!m.containerPath.startsWith('/')) client(`${where} mountPoints.containerPath '${shown(m.containerPath)}' must be an absolute path.`);
    if (m.containerPath.includes('\0') || m.containerPath.includes(',')) client(`${where} mountPoints.containerPath must not contain a NUL character or a comma.`);
    const normal = m.containerPath.replace(/\/+$/, '') || '/';
    if (paths.has(normal)) client(`${where} containerPath '${shown(m.containerPath)}' is mounted more than once.`);
    paths.add(normal);
    return m;
  });
  const from = c.volumesFrom ?? [];
  if (from.length > MAX_VOLUMES_FROM) client(`${where} A container can have at most ${MAX_VOLUMES_FROM} volumesFrom entries.`);
  const volumesFrom = from.map((v): ECS.VolumeFrom => {
    if (!v.sourceContainer || !containerNames.has(v.sourceContainer) || v.sourceContainer === c.name) {
      client(`${where} volumesFrom names container '${shown(v.sourceContainer)}', which is not another container in this task definition.`);
    }
    return v;
  });
  return { mountPoints, volumesFrom };
}

/**
 * The instance attributes the volumes need: MOUNTS_ATTRIBUTE when any container mounts a volume
 * or another container's volumes; `ecs.capability.docker-plugin.<driver>` per docker volume
 * driver (as the ECS agent advertises its volume plugins, `local` included); ECS's
 * `ecs.capability.efs` for EFS volumes (no Berth agent advertises it: Berth does not mount EFS).
 */
export function volumeAttributes(volumes: ECS.Volume[], containers: ECS.ContainerDefinition[]): string[] {
  const names: string[] = [];
  if (containers.some((c) => c.mountPoints?.length || c.volumesFrom?.length)) names.push(MOUNTS_ATTRIBUTE);
  for (const v of volumes) {
    if (v.dockerVolumeConfiguration) names.push(`ecs.capability.docker-plugin.${v.dockerVolumeConfiguration.driver ?? 'local'}`);
    if (v.efsVolumeConfiguration) names.push('ecs.capability.efs');
  }
  return names;
}
