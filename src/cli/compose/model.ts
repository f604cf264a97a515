/**
 * A compose project read as `docker compose config` reads it: YAML files parsed (yaml), each
 * interpolated against the shell environment over `.env` (or --env-file), merged in order by the
 * Compose Specification's merge rules, `extends` resolved, `profiles` applied, then validated and
 * normalized into `ComposeProject`. Keys of the specification that Berth does not carry out are
 * reported once each with their path (`unsupported`), never dropped silently; keys outside the
 * specification are errors worded as compose words them. Pure but for reading the files named.
 */
import { readFileSync, existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { parseBuild, type ComposeBuild } from './buildSpec.js';
import { ComposeError, interpolateTree, parseEnvFile } from './interpolate.js';
import { bytesMiB, commandOf, durationS, listOf, parsePort, positive, wholeNumber, type ComposePort } from './values.js';
import { parseServiceConfigs, parseTopConfigs, type ComposeConfig, type ComposeServiceConfig } from './configs.js';
import { parseServiceVolumes, parseTopVolumes, type ComposeMount, type ComposeVolume } from './volumes.js';

export { ComposeError } from './interpolate.js';
export { bytesMiB, commandOf, durationS, parsePort, type ComposePort } from './values.js';

/** A dependency of a service. */
export interface ComposeDependency {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
  required: boolean;
  restart: boolean;
}

/** A health check, durations in seconds. */
export interface ComposeHealthcheck {
  test: string[];
  interval: number;
  timeout: number;
  retries: number;
  start_period: number;
}

/** A secret a service uses: exposed as an environment variable named `target` (see docs/compose.md). */
export interface ComposeServiceSecret {
  source: string;
  target: string;
}

/** One service, normalized. Sizes in MiB, cpus in cores, durations in seconds. */
export interface ComposeService {
  name: string;
  image?: string;
  /** `build`: made with the local engine and pushed to Berth's registry (build.ts). */
  build?: ComposeBuild;
  command?: string[];
  entrypoint?: string[];
  environment: Record<string, string>;
  ports: ComposePort[];
  expose: number[];
  hostname?: string;
  aliases: string[];
  depends_on: Record<string, ComposeDependency>;
  healthcheck?: ComposeHealthcheck;
  mem_limit?: number;
  mem_reservation?: number;
  cpus?: number;
  cpu_shares?: number;
  replicas: number;
  restart?: string;
  labels: Record<string, string>;
  logging?: { driver: string; options: Record<string, string> };
  secrets: ComposeServiceSecret[];
  working_dir?: string;
  user?: string;
  stop_grace_period?: number;
  read_only?: boolean;
  /** Named, bind and anonymous volumes it mounts (volumes.ts). */
  volumes: ComposeMount[];
  /** Configs it mounts read-only (configs.ts). */
  configs: ComposeServiceConfig[];
  profiles: string[];
  /** `x-aws-role` / `x-aws-policies` and other extension fields, as written. */
  extensions: Record<string, unknown>;
}

/** A top-level secret: a file's content, an environment variable's value, or an SSM parameter. */
export interface ComposeSecret {
  file?: string;
  environment?: string;
  /** `x-berth-ssm` (or `external: true` with `name`): an existing SSM parameter name or ARN. */
  ssm?: string;
}

/** A project, normalized. */
export interface ComposeProject {
  name: string;
  /** The directory relative paths are read against (the first file's). */
  workingDir: string;
  services: Record<string, ComposeService>;
  secrets: Record<string, ComposeSecret>;
  volumes: Record<string, ComposeVolume>;
  configs: Record<string, ComposeConfig>;
  networks: Record<string, unknown>;
  /** Key paths of the specification Berth does not carry out, each once. */
  unsupported: string[];
  /** Other notes (obsolete `version`, unset variables), each once. */
  warnings: string[];
}

/** How to load a project. */
export interface LoadOptions {
  files: string[];
  projectName?: string;
  envFiles?: string[];
  profiles?: string[];
  /** The shell environment (default process.env). */
  env?: Record<string, string | undefined>;
  /** Reads a file (default: readFileSync utf8); tests pass their own. */
  readFile?: (path: string) => string;
}

const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_SERVICES = 200;

/** Every key the Compose Specification allows on a service. */
const SERVICE_KEYS = new Set(
  'annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent command configs container_name cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset credential_spec depends_on deploy develop device_cgroup_rules devices dns dns_opt dns_search domainname entrypoint env_file environment expose extends external_links extra_hosts gpus group_add healthcheck hostname image init ipc isolation labels label_file links logging mac_address mem_limit mem_reservation mem_swappiness memswap_limit network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform ports post_start pre_stop privileged profiles provider pull_policy read_only restart runtime scale secrets security_opt shm_size stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits use_api_socket user userns_mode uts volumes volumes_from working_dir'.split(' '),
);
/** The service keys Berth carries out (docs/compose.md says into what). */
const SERVICE_SUPPORTED = new Set(
  'build command configs cpu_shares cpus depends_on deploy entrypoint env_file environment expose extends healthcheck hostname image labels logging mem_limit mem_reservation networks ports profiles read_only restart scale secrets stop_grace_period user volumes working_dir'.split(' '),
);
const TOP_KEYS = new Set(['version', 'name', 'include', 'services', 'networks', 'volumes', 'secrets', 'configs', 'models']);
const DEPLOY_SUPPORTED = new Set(['replicas', 'resources', 'mode']);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads, interpolates, merges and normalizes a project. Throws ComposeError with compose's wording. */
export function loadProject(opts: LoadOptions): ComposeProject {
  const env = opts.env ?? process.env;
  const read = opts.readFile ?? ((p: string) => readText(p));
  const files = opts.files.map((f) => resolve(f));
  if (!files.length) throw new ComposeError('no configuration file provided: not found');
  const workingDir = dirname(files[0]!);
  const warnings = new Set<string>();
  // .env of the project directory, or the --env-file files in order; the shell wins over both.
  const dotenvFiles = opts.envFiles?.length ? opts.envFiles.map((f) => resolve(f)) : [resolve(workingDir, '.env')].filter((f) => opts.readFile || existsSync(f));
  let dotenv: Record<string, string> = {};
  for (const f of dotenvFiles) {
    let text: string;
    try {
      text = read(f);
    } catch (e) {
      if (!opts.envFiles?.length) continue;
      throw new ComposeError(`couldn't find env file: ${f}`);
    }
    dotenv = { ...dotenv, ...parseEnvFile(text, f, { ...dotenv, ...env }) };
  }
  const vars: Record<string, string | undefined> = { ...dotenv };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) vars[k] = v;
  const ctx = { vars, warnUnset: (name: string) => warnings.add(`The "${name}" variable is not set. Defaulting to a blank string.`) };

  let merged: Obj = {};
  const parsedByFile = new Map<string, Obj>();
  const parseFile = (file: string): Obj => {
    const cached = parsedByFile.get(file);
    if (cached) return cached;
    const doc = parseYaml(read(file), file);
    checkTopLevel(doc, file);
    const out = interpolateTree(doc, ctx, '') as Obj;
    parsedByFile.set(file, out);
    return out;
  };
  for (const file of files) merged = mergeTop(merged, parseFile(file));
  if ('version' in merged) warnings.add('the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion');

  const unsupported = new Set<string>();
  if ('include' in merged) unsupported.add('include');
  if ('models' in merged) unsupported.add('models');

  const rawServices = merged.services ?? {};
  if (!isObj(rawServices)) throw new ComposeError(`validating ${files[0]}: services must be a mapping`);
  const names = Object.keys(rawServices);
  if (names.length > MAX_SERVICES) throw new ComposeError(`a project has at most ${MAX_SERVICES} services (got ${names.length})`);

  // extends: resolved against the same merged file, or another file (read and interpolated alike).
  const resolving = new Set<string>();
  const resolved = new Map<string, Obj>();
  const resolveService = (name: string, services: Obj, file: string): Obj => {
    const key = `${file}#${name}`;
    const done = resolved.get(key);
    if (done) return done;
    if (resolving.has(key)) throw new ComposeError(`circular reference with extends in service "${name}"`);
    const raw = services[name];
    if (raw === null || raw === undefined) return {};
    if (!isObj(raw)) throw new ComposeError(`validating ${file}: services.${name} must be a mapping`);
    resolving.add(key);
    let out = raw;
    const ext = raw.extends;
    if (ext !== undefined) {
      const spec = typeof ext === 'string' ? { service: ext } : ext;
      if (!isObj(spec) || typeof spec.service !== 'string') throw new ComposeError(`validating ${file}: services.${name}.extends must be a string or a mapping with a service`);
      const baseFile = typeof spec.file === 'string' ? resolve(dirname(file), spec.file) : file;
      const baseServices = baseFile === file ? services : ((parseFile(baseFile).services ?? {}) as Obj);
      if (!(spec.service in baseServices)) throw new ComposeError(`cannot extend service "${name}" in ${file}: service "${spec.service}" not found in ${baseFile}`);
      const base = resolveService(spec.service, baseServices, baseFile);
      const { extends: _drop, ...own } = raw;
      out = mergeService(base, own);
    }
    resolving.delete(key);
    resolved.set(key, out);
    return out;
  };

  const rawName = opts.projectName ?? env.COMPOSE_PROJECT_NAME ?? (typeof merged.name === 'string' && merged.name ? merged.name : basename(workingDir));
  const name = normalizeProjectName(rawName);
  const volumes = parseTopVolumes(merged.volumes, name, unsupported);
  const configs = parseTopConfigs(merged.configs, workingDir, vars, unsupported);
  const activeProfiles = new Set(opts.profiles?.length ? opts.profiles : (env.COMPOSE_PROFILES ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const services: Record<string, ComposeService> = {};
  const disabled = new Set<string>();
  for (const service of names) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/.test(service)) throw new ComposeError(`validating ${files[0]}: services Additional property ${service} is not allowed`);
    const raw = resolveService(service, rawServices, files[0]!);
    const svc = normalizeService(service, raw, { workingDir, read, vars, volumes, configs }, unsupported);
    if (svc.profiles.length && !svc.profiles.some((p) => activeProfiles.has(p) || p === '*')) {
      disabled.add(service);
      continue;
    }
    services[service] = svc;
  }
  for (const svc of Object.values(services)) {
    for (const dep of Object.keys(svc.depends_on)) {
      if (services[dep]) continue;
      if (disabled.has(dep)) throw new ComposeError(`service "${dep}" was pulled in as dependency of service "${svc.name}" but is not enabled by the active profiles. You may fix this by adding a common profile to "${dep}" and "${svc.name}".`);
      if (svc.depends_on[dep]!.required) throw new ComposeError(`service "${svc.name}" depends on undefined service "${dep}": invalid compose project`);
      delete svc.depends_on[dep];
    }
    for (const [dep, d] of Object.entries(svc.depends_on)) {
      if (d.condition === 'service_healthy' && !services[dep]!.healthcheck) throw new ComposeError(`dependency failed to start: service "${dep}" has no healthcheck configured (service "${svc.name}" waits for it to be healthy)`);
    }
  }
  startOrder(services);

  const secrets: Record<string, ComposeSecret> = {};
  const rawSecrets = merged.secrets ?? {};
  if (!isObj(rawSecrets)) throw new ComposeError(`validating ${files[0]}: secrets must be a mapping`);
  for (const [name, def] of Object.entries(rawSecrets)) {
    if (!isObj(def)) throw new ComposeError(`validating ${files[0]}: secrets.${name} must be a mapping`);
    if (typeof def.file === 'string') secrets[name] = { file: resolve(workingDir, def.file) };
    else if (typeof def.environment === 'string') secrets[name] = { environment: def.environment };
    else if (typeof def['x-berth-ssm'] === 'string') secrets[name] = { ssm: def['x-berth-ssm'] };
    else if (def.external === true) secrets[name] = { ssm: typeof def.name === 'string' ? def.name : name };
    else throw new ComposeError(`secret "${name}" must declare either \`file\`, \`environment\`, \`x-berth-ssm\` or \`external\``);
  }
  for (const svc of Object.values(services)) {
    for (const s of svc.secrets) if (!secrets[s.source]) throw new ComposeError(`service "${svc.name}" refers to undefined secret ${s.source}: invalid compose project`);
  }
  const networks = isObj(merged.networks) ? merged.networks : {};
  return { name, workingDir, services, secrets, volumes, configs, networks, unsupported: [...unsupported], warnings: [...warnings] };
}

function readText(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ComposeError(code === 'ENOENT' ? `open ${path}: no such file or directory` : `read ${path}: ${(e as Error).message}`);
  }
  if (text.length > MAX_FILE_BYTES) throw new ComposeError(`${path}: larger than ${MAX_FILE_BYTES} bytes`);
  return text;
}

function parseYaml(text: string, file: string): Obj {
  const doc = parseDocument(text, { uniqueKeys: true, merge: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0];
    throw new ComposeError(`yaml: ${line ? `line ${line.line}: ` : ''}${e.message.split('\n')[0]} (in ${file})`);
  }
  const value = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  if (value === null || value === undefined) throw new ComposeError(`empty compose file: ${file}`);
  if (!isObj(value)) throw new ComposeError(`validating ${file}: top-level object must be a mapping`);
  return value;
}

function checkTopLevel(doc: Obj, file: string): void {
  for (const k of Object.keys(doc)) {
    if (!TOP_KEYS.has(k) && !k.startsWith('x-')) throw new ComposeError(`validating ${file}: (root) Additional property ${k} is not allowed`);
  }
}

/** Lowercase letters, digits, dashes and underscores, starting with a letter or digit (as compose). */
export function normalizeProjectName(raw: string): string {
  const name = raw.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[^a-z0-9]+/, '');
  if (!name) throw new ComposeError(`project name must not be empty (derived from "${raw}"); set one with -p or a top-level name`);
  if (name.length > 48) throw new ComposeError(`project name "${name}" is longer than 48 characters`);
  return name;
}

// ---- merging (Compose Specification, "Merge and override") ----

/** Sequences merged by appending unique entries; everything else in a service overrides or merges as a mapping. */
const APPEND_UNIQUE = new Set(['ports', 'expose', 'external_links', 'dns', 'dns_search', 'tmpfs', 'cap_add', 'cap_drop', 'env_file', 'volumes', 'devices', 'security_opt', 'profiles', 'label_file']);
const REPLACED = new Set(['command', 'entrypoint']);
const AS_MAP = new Set(['environment', 'labels', 'depends_on', 'networks', 'extra_hosts', 'sysctls', 'ulimits', 'annotations']);

function mergeTop(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (k === 'services' && isObj(base.services) && isObj(v)) {
      const services: Obj = { ...base.services };
      for (const [name, s] of Object.entries(v)) services[name] = isObj(services[name]) && isObj(s) ? mergeService(services[name] as Obj, s) : s;
      out.services = services;
    } else if (isObj(base[k]) && isObj(v)) out[k] = deepMerge(base[k] as Obj, v);
    else out[k] = v;
  }
  return out;
}

/** Merges an overriding service definition into a base one. */
export function mergeService(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = base[k];
    if (b === undefined || REPLACED.has(k)) out[k] = v;
    else if (AS_MAP.has(k)) out[k] = { ...asMap(b, k), ...asMap(v, k) };
    else if (APPEND_UNIQUE.has(k) && Array.isArray(b) && Array.isArray(v)) {
      const seen = new Set(b.map((x) => JSON.stringify(x)));
      out[k] = [...b, ...v.filter((x) => !seen.has(JSON.stringify(x)))];
    } else if (k === 'secrets' && Array.isArray(b) && Array.isArray(v)) {
      const src = (x: unknown) => (isObj(x) ? String(x.source) : String(x));
      const overSources = new Set(v.map(src));
      out[k] = [...b.filter((x) => !overSources.has(src(x))), ...v];
    } else if (isObj(b) && isObj(v)) out[k] = deepMerge(b, v);
    else out[k] = v;
  }
  return out;
}

function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObj(base[k]) && isObj(v) ? deepMerge(base[k] as Obj, v) : v;
  return out;
}

/** A list (`KEY=VALUE`, or names for depends_on/networks) or a mapping, as a mapping. */
function asMap(v: unknown, key: string): Obj {
  if (isObj(v)) return v;
  if (!Array.isArray(v)) return {};
  const out: Obj = {};
  for (const item of v) {
    const s = String(item);
    if (key === 'depends_on' || key === 'networks') out[s] = null;
    else {
      const i = s.indexOf(key === 'extra_hosts' ? ':' : '=');
      out[i < 0 ? s : s.slice(0, i)] = i < 0 ? null : s.slice(i + 1);
    }
  }
  return out;
}

// ---- normalizing one service ----

/** What normalizing a service reads besides the service: the project directory, files, variables, top-level volumes. */
interface ServiceContext {
  workingDir: string;
  read: (p: string) => string;
  vars: Record<string, string | undefined>;
  volumes: Record<string, ComposeVolume>;
  configs: Record<string, ComposeConfig>;
}

function normalizeService(name: string, raw: Obj, sc: ServiceContext, unsupported: Set<string>): ComposeService {
  const { workingDir, read, vars } = sc;
  const at = `services.${name}`;
  for (const k of Object.keys(raw)) {
    if (k.startsWith('x-')) continue;
    if (!SERVICE_KEYS.has(k)) throw new ComposeError(`validating compose file: ${at} additional properties '${k}' not allowed`);
    if (!SERVICE_SUPPORTED.has(k)) unsupported.add(`${at}.${k}`);
  }
  if (raw.image === undefined && raw.build === undefined) throw new ComposeError(`service "${name}" has neither an image nor a build context specified: invalid compose project`);
  const str = (k: string): string | undefined => {
    const v = raw[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' && typeof v !== 'number') throw new ComposeError(`validating compose file: ${at}.${k} must be a string`);
    return String(v);
  };

  // environment: env_file first, `environment` over it; a name without value comes from the shell.
  const environment: Record<string, string> = {};
  const envFiles = raw.env_file === undefined ? [] : Array.isArray(raw.env_file) ? raw.env_file : [raw.env_file];
  for (const ef of envFiles) {
    const spec = isObj(ef) ? ef : { path: ef, required: true };
    const path = resolve(workingDir, String(spec.path));
    let text: string;
    try {
      text = read(path);
    } catch (e) {
      if (spec.required === false) continue;
      throw new ComposeError(`env file ${path} not found: ${(e as Error).message}`);
    }
    Object.assign(environment, parseEnvFile(text, path, vars, (k) => vars[k]));
  }
  if (raw.environment !== undefined && !isObj(raw.environment) && !Array.isArray(raw.environment)) throw new ComposeError(`validating compose file: ${at}.environment must be a mapping`);
  for (const [k, v] of Object.entries(asMap(raw.environment, 'environment'))) {
    if (v === null || v === undefined) {
      if (vars[k] !== undefined) environment[k] = vars[k]!;
    } else if (isObj(v) || Array.isArray(v)) throw new ComposeError(`validating compose file: ${at}.environment.${k} must be a string, number, boolean or null`);
    else environment[k] = String(v);
  }

  const ports = listOf(raw.ports, `${at}.ports`).flatMap((p, i) => parsePort(p, `${at}.ports[${i}]`));
  const expose = listOf(raw.expose, `${at}.expose`).map((p, i) => {
    const n = Number(String(p).split('/')[0]);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ComposeError(`${at}.expose[${i}]: invalid port ${String(p)}`);
    return n;
  });

  const depends_on: Record<string, ComposeDependency> = {};
  if (raw.depends_on !== undefined && !isObj(raw.depends_on) && !Array.isArray(raw.depends_on)) throw new ComposeError(`validating compose file: ${at}.depends_on must be a list or a mapping`);
  for (const [dep, spec] of Object.entries(asMap(raw.depends_on, 'depends_on'))) {
    const s = isObj(spec) ? spec : {};
    const condition = (s.condition ?? 'service_started') as ComposeDependency['condition'];
    if (!['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition)) throw new ComposeError(`${at}.depends_on.${dep}.condition must be one of service_started, service_healthy, service_completed_successfully`);
    if (s.restart !== undefined) unsupported.add(`${at}.depends_on.${dep}.restart`);
    depends_on[dep] = { condition, required: s.required !== false, restart: s.restart === true };
  }

  let healthcheck: ComposeHealthcheck | undefined;
  if (isObj(raw.healthcheck) && raw.healthcheck.disable !== true) {
    const h = raw.healthcheck;
    const test = typeof h.test === 'string' ? ['CMD-SHELL', h.test] : Array.isArray(h.test) ? h.test.map(String) : undefined;
    if (test && test[0] !== 'NONE') {
      if (test[0] !== 'CMD' && test[0] !== 'CMD-SHELL') throw new ComposeError(`${at}.healthcheck.test must start either by "CMD", "CMD-SHELL" or "NONE"`);
      healthcheck = {
        test,
        interval: durationS(h.interval, `${at}.healthcheck.interval`) ?? 30,
        timeout: durationS(h.timeout, `${at}.healthcheck.timeout`) ?? 30,
        retries: h.retries === undefined ? 3 : wholeNumber(h.retries, `${at}.healthcheck.retries`),
        start_period: durationS(h.start_period, `${at}.healthcheck.start_period`) ?? 0,
      };
      if (h.start_interval !== undefined) unsupported.add(`${at}.healthcheck.start_interval`);
    }
  }

  let replicas = raw.scale === undefined ? 1 : wholeNumber(raw.scale, `${at}.scale`);
  let mem_limit = bytesMiB(raw.mem_limit, `${at}.mem_limit`);
  let mem_reservation = bytesMiB(raw.mem_reservation, `${at}.mem_reservation`);
  let cpus = raw.cpus === undefined ? undefined : positive(raw.cpus, `${at}.cpus`);
  if (raw.deploy !== undefined) {
    if (!isObj(raw.deploy)) throw new ComposeError(`validating compose file: ${at}.deploy must be a mapping`);
    const d = raw.deploy;
    for (const k of Object.keys(d)) if (!DEPLOY_SUPPORTED.has(k) && !k.startsWith('x-')) unsupported.add(`${at}.deploy.${k}`);
    if (d.mode !== undefined && d.mode !== 'replicated') unsupported.add(`${at}.deploy.mode`);
    if (d.replicas !== undefined) replicas = wholeNumber(d.replicas, `${at}.deploy.replicas`);
    const res = isObj(d.resources) ? d.resources : {};
    for (const k of Object.keys(res)) if (k !== 'limits' && k !== 'reservations') unsupported.add(`${at}.deploy.resources.${k}`);
    const limits = isObj(res.limits) ? res.limits : {};
    const reservations = isObj(res.reservations) ? res.reservations : {};
    for (const k of Object.keys(limits)) if (k !== 'memory' && k !== 'cpus') unsupported.add(`${at}.deploy.resources.limits.${k}`);
    for (const k of Object.keys(reservations)) if (k !== 'memory' && k !== 'cpus') unsupported.add(`${at}.deploy.resources.reservations.${k}`);
    mem_limit = bytesMiB(limits.memory, `${at}.deploy.resources.limits.memory`) ?? mem_limit;
    mem_reservation = bytesMiB(reservations.memory, `${at}.deploy.resources.reservations.memory`) ?? mem_reservation;
    if (limits.cpus !== undefined) cpus = positive(limits.cpus, `${at}.deploy.resources.limits.cpus`);
  }
  if (replicas > 100) throw new ComposeError(`${at}: at most 100 replicas (got ${replicas})`);

  let logging: ComposeService['logging'];
  if (isObj(raw.logging)) {
    const driver = String(raw.logging.driver ?? 'awslogs');
    if (driver !== 'awslogs') unsupported.add(`${at}.logging.driver`);
    const options: Record<string, string> = {};
    if (isObj(raw.logging.options)) for (const [k, v] of Object.entries(raw.logging.options)) options[k] = String(v);
    logging = { driver, options };
  }

  const secrets = listOf(raw.secrets, `${at}.secrets`).map((s) => {
    if (typeof s === 'string') return { source: s, target: s };
    if (isObj(s) && typeof s.source === 'string') {
      for (const k of ['uid', 'gid', 'mode']) if (k in s) unsupported.add(`${at}.secrets.${s.source}.${k}`);
      return { source: s.source, target: typeof s.target === 'string' ? s.target : s.source };
    }
    throw new ComposeError(`validating compose file: ${at}.secrets must be a list of names or of mappings with a source`);
  });

  const aliases: string[] = [];
  if (isObj(raw.networks)) {
    for (const [net, spec] of Object.entries(raw.networks)) {
      if (isObj(spec)) {
        for (const k of Object.keys(spec)) if (k !== 'aliases') unsupported.add(`${at}.networks.${net}.${k}`);
        aliases.push(...listOf(spec.aliases, `${at}.networks.${net}.aliases`).map(String));
      }
    }
  }
  const restart = str('restart');
  if (restart !== undefined && !['no', 'always', 'on-failure', 'unless-stopped'].includes(restart.split(':')[0]!)) throw new ComposeError(`${at}.restart: invalid restart policy "${restart}"`);
  if (restart !== undefined && restart !== 'always' && restart !== 'unless-stopped') unsupported.add(`${at}.restart`);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(asMap(raw.labels, 'labels'))) labels[k] = v === null ? '' : String(v);
  const extensions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (k.startsWith('x-')) extensions[k] = v;
  if ('x-aws-policies' in extensions) unsupported.add(`${at}.x-aws-policies`);
  for (const k of Object.keys(extensions)) if (k.startsWith('x-aws-') && k !== 'x-aws-role' && k !== 'x-aws-policies') unsupported.add(`${at}.${k}`);

  return {
    name,
    image: str('image'),
    build: parseBuild(raw.build, at, workingDir, unsupported),
    command: commandOf(raw.command, `${at}.command`),
    entrypoint: commandOf(raw.entrypoint, `${at}.entrypoint`),
    environment,
    ports,
    expose,
    hostname: str('hostname'),
    aliases,
    depends_on,
    healthcheck,
    mem_limit,
    mem_reservation,
    cpus,
    cpu_shares: raw.cpu_shares === undefined ? undefined : wholeNumber(raw.cpu_shares, `${at}.cpu_shares`),
    replicas,
    restart,
    labels,
    logging,
    secrets,
    working_dir: str('working_dir'),
    user: str('user'),
    stop_grace_period: durationS(raw.stop_grace_period, `${at}.stop_grace_period`),
    read_only: raw.read_only === undefined ? undefined : raw.read_only === true,
    volumes: parseServiceVolumes(raw.volumes, at, workingDir, sc.volumes, unsupported),
    configs: parseServiceConfigs(raw.configs, at, sc.configs, unsupported),
    profiles: listOf(raw.profiles, `${at}.profiles`).map(String),
    extensions,
  };
}

/**
 * The services in the order `up` starts them (every dependency before its dependents; by name
 * otherwise). Throws on a cycle, naming it.
 */
export function startOrder(services: Record<string, ComposeService>): string[] {
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new ComposeError(`dependency cycle detected: ${[...trail.slice(trail.indexOf(name)), name].join(' -> ')}`);
    state.set(name, 'visiting');
    for (const dep of Object.keys(services[name]!.depends_on).sort()) visit(dep, [...trail, name]);
    state.set(name, 'done');
    out.push(name);
  };
  for (const name of Object.keys(services).sort()) visit(name, []);
  return out;
}
