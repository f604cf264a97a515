/**
 * Compose configs: the top-level `configs:` (`file:`, `content:`, `environment:`) and a
 * service's `configs:` (short: a name; long: source and target), mounted read-only at
 * `/<name>` or `target`, as docker compose mounts them outside swarm.
 *
 * How they reach the container: as a bind of a host file, read-only (an ECS host volume):
 * - `file:` binds that file (its path resolved against the project directory), as docker compose does;
 * - `content:` and `environment:` are written by `berth compose up` to
 *   `<project dir>/.berth/compose/<project>/configs/<name>` (CONFIG_DIR), which is bound.
 * So the agent running the service must see the same path as the command (the same host, or a
 * shared filesystem); on another host the engine finds no such file and makes an empty directory
 * there, as it does for any missing ECS host sourcePath. The process driver mounts nothing, so it
 * is not offered tasks with configs (see src/agent/drivers/README.md). `uid`, `gid`, `mode` and
 * `external` configs are reported unsupported.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ComposeError } from './interpolate.js';
import { listOf } from './values.js';

/** A top-level config: a file to bind, or content `up` writes under CONFIG_DIR. */
export interface ComposeConfig {
  file?: string;
  content?: string;
}

/** A config a service mounts. */
export interface ComposeServiceConfig {
  source: string;
  target: string;
}

/** Where `up` writes configs given by content, under the project directory. */
export const CONFIG_DIR = '.berth/compose';
/** Most configs of a project, and the largest content (bytes). */
export const MAX_CONFIGS = 50;
export const MAX_CONFIG_BYTES = 1024 * 1024;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The top-level `configs:`; `vars` are the interpolation variables (`environment:` reads them). */
export function parseTopConfigs(raw: unknown, workingDir: string, vars: Record<string, string | undefined>, unsupported: Set<string>): Record<string, ComposeConfig> {
  if (raw === undefined || raw === null) return {};
  if (!isObj(raw)) throw new ComposeError('validating compose file: configs must be a mapping');
  const names = Object.keys(raw);
  if (names.length > MAX_CONFIGS) throw new ComposeError(`a project has at most ${MAX_CONFIGS} configs (got ${names.length})`);
  const out: Record<string, ComposeConfig> = {};
  for (const name of names) {
    if (!/^[A-Za-z0-9_-]{1,200}$/.test(name)) throw new ComposeError(`config "${name}": Berth's config names are letters, digits, hyphens and underscores`);
    const def = raw[name];
    if (!isObj(def)) throw new ComposeError(`validating compose file: configs.${name} must be a mapping`);
    if (def.external === true) {
      unsupported.add(`configs.${name}.external`);
      continue;
    }
    if (typeof def.file === 'string') out[name] = { file: resolve(workingDir, def.file) };
    else if (typeof def.content === 'string') out[name] = { content: def.content };
    else if (typeof def.environment === 'string') out[name] = { content: vars[def.environment] ?? '' };
    else throw new ComposeError(`config "${name}" must declare either \`file\`, \`content\` or \`environment\``);
    if ((out[name]!.content?.length ?? 0) > MAX_CONFIG_BYTES) throw new ComposeError(`config "${name}" is larger than ${MAX_CONFIG_BYTES} bytes`);
  }
  return out;
}

/** A service's `configs:`, each naming a top-level config; target `/<source>` unless given. */
export function parseServiceConfigs(raw: unknown, at: string, configs: Record<string, ComposeConfig>, unsupported: Set<string>): ComposeServiceConfig[] {
  const out: ComposeServiceConfig[] = [];
  for (const item of listOf(raw, `${at}.configs`)) {
    const spec = typeof item === 'string' ? { source: item } : item;
    if (!isObj(spec) || typeof spec.source !== 'string') throw new ComposeError(`validating compose file: ${at}.configs must be a list of names or of mappings with a source`);
    for (const k of ['uid', 'gid', 'mode']) if (k in spec) unsupported.add(`${at}.configs.${spec.source}.${k}`);
    if (!configs[spec.source]) {
      if (unsupported.has(`configs.${spec.source}.external`)) continue;
      throw new ComposeError(`service "${at.slice('services.'.length)}" refers to undefined config ${spec.source}: invalid compose project`);
    }
    const target = typeof spec.target === 'string' && spec.target ? (spec.target.startsWith('/') ? spec.target : `/${spec.target}`) : `/${spec.source}`;
    out.push({ source: spec.source, target });
  }
  return out;
}

/** The host file a config is bound from. */
export function configHostPath(workingDir: string, project: string, name: string, c: ComposeConfig): string {
  return c.file ?? join(workingDir, CONFIG_DIR, project, 'configs', name);
}

/** Writes the configs given by content where their binds read them (`up`, before registering). */
export function writeConfigFiles(workingDir: string, project: string, configs: Record<string, ComposeConfig>): void {
  for (const [name, c] of Object.entries(configs)) {
    if (c.content === undefined) continue;
    const path = configHostPath(workingDir, project, name, c);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, c.content, { mode: 0o644 });
  }
}

/** A service's configs as ECS host volumes `config-<name>` and read-only mount points. */
export function ecsConfigsOf(workingDir: string, project: string, mounts: ComposeServiceConfig[], configs: Record<string, ComposeConfig>): { volumes: Obj[]; mountPoints: Obj[] } {
  const volumes = new Map<string, Obj>();
  const mountPoints: Obj[] = [];
  for (const m of mounts) {
    const name = `config-${m.source}`;
    volumes.set(name, { name, host: { sourcePath: configHostPath(workingDir, project, m.source, configs[m.source]!) } });
    mountPoints.push({ sourceVolume: name, containerPath: m.target, readOnly: true });
  }
  return { volumes: [...volumes.values()], mountPoints };
}
