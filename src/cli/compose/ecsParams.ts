/**
 * ecs-cli's companion file (`--ecs-params ecs-params.yml`, version 1): what ECS needs that compose
 * cannot say. Read: `task_definition.task_execution_role`, `task_role_arn`, `ecs_network_mode`
 * (bridge or host), `task_size.cpu_limit`/`mem_limit`, and per service `essential`,
 * `cpu_shares`, `mem_limit`, `mem_reservation`, `healthcheck`, `secrets` (`value_from`, `name`).
 * Everything else (`run_params`, `docker_volumes`, `placement_constraints`, ...) is reported once
 * with its path. Pure: the text comes in, the overrides go out; `applyEcsParams` lays them on a
 * planned task definition (before its hash is taken, so a changed file rolls the service).
 */
import { parseDocument } from 'yaml';
import { ComposeError } from './interpolate.js';
import { bytesMiB, durationS } from './model.js';

/** One service's overrides. */
export interface EcsParamsService {
  essential?: boolean;
  cpu_shares?: number;
  mem_limit?: number;
  mem_reservation?: number;
  healthCheck?: { command: string[]; interval?: number; timeout?: number; retries?: number; startPeriod?: number };
  secrets: Array<{ name: string; valueFrom: string }>;
}

/** The file, read. */
export interface EcsParams {
  executionRoleArn?: string;
  taskRoleArn?: string;
  networkMode?: 'bridge' | 'host';
  cpu?: string;
  memory?: string;
  services: Record<string, EcsParamsService>;
  /** Key paths read but not carried out. */
  unsupported: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses ecs-params.yml (`file` names it in errors). */
export function parseEcsParams(text: string, file: string): EcsParams {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw new ComposeError(`yaml: ${doc.errors[0]!.message.split('\n')[0]} (in ${file})`);
  const root = doc.toJS() as unknown;
  if (!isObj(root)) throw new ComposeError(`${file}: the ECS params file must be a mapping`);
  const unsupported: string[] = [];
  if (root.version !== undefined && String(root.version) !== '1') throw new ComposeError(`${file}: version ${String(root.version)} is not supported (only 1)`);
  for (const k of Object.keys(root)) if (k !== 'version' && k !== 'task_definition') unsupported.push(k);
  const td = isObj(root.task_definition) ? root.task_definition : {};
  const out: EcsParams = { services: {}, unsupported };
  const known = new Set(['task_execution_role', 'task_role_arn', 'ecs_network_mode', 'task_size', 'services']);
  for (const k of Object.keys(td)) if (!known.has(k)) unsupported.push(`task_definition.${k}`);
  if (typeof td.task_execution_role === 'string') out.executionRoleArn = td.task_execution_role;
  if (typeof td.task_role_arn === 'string') out.taskRoleArn = td.task_role_arn;
  if (td.ecs_network_mode !== undefined) {
    const mode = String(td.ecs_network_mode);
    if (mode === 'bridge' || mode === 'host') out.networkMode = mode;
    else unsupported.push('task_definition.ecs_network_mode');
  }
  if (isObj(td.task_size)) {
    if (td.task_size.cpu_limit !== undefined) out.cpu = String(td.task_size.cpu_limit);
    if (td.task_size.mem_limit !== undefined) out.memory = String(bytesMiB(td.task_size.mem_limit, 'task_definition.task_size.mem_limit'));
  }
  for (const [name, raw] of Object.entries(isObj(td.services) ? td.services : {})) {
    const at = `task_definition.services.${name}`;
    if (!isObj(raw)) throw new ComposeError(`${file}: ${at} must be a mapping`);
    const svc: EcsParamsService = { secrets: [] };
    for (const k of Object.keys(raw)) if (!['essential', 'cpu_shares', 'mem_limit', 'mem_reservation', 'healthcheck', 'secrets'].includes(k)) unsupported.push(`${at}.${k}`);
    if (raw.essential !== undefined) svc.essential = raw.essential === true;
    if (raw.cpu_shares !== undefined) {
      const n = Number(raw.cpu_shares);
      if (!Number.isInteger(n) || n < 0 || n > 196608) throw new ComposeError(`${file}: ${at}.cpu_shares must be a whole number of CPU units`);
      svc.cpu_shares = n;
    }
    svc.mem_limit = bytesMiB(raw.mem_limit, `${at}.mem_limit`);
    svc.mem_reservation = bytesMiB(raw.mem_reservation, `${at}.mem_reservation`);
    if (isObj(raw.healthcheck)) {
      const h = raw.healthcheck;
      const test = typeof h.test === 'string' ? ['CMD-SHELL', h.test] : Array.isArray(h.test) ? h.test.map(String) : undefined;
      if (!test) throw new ComposeError(`${file}: ${at}.healthcheck needs a test`);
      const secs = (v: unknown, k: string) => (v === undefined ? undefined : Math.round(durationS(v, `${at}.healthcheck.${k}`)!));
      svc.healthCheck = { command: test, interval: secs(h.interval, 'interval'), timeout: secs(h.timeout, 'timeout'), retries: h.retries === undefined ? undefined : Number(h.retries), startPeriod: secs(h.start_period, 'start_period') };
    }
    if (raw.secrets !== undefined) {
      if (!Array.isArray(raw.secrets)) throw new ComposeError(`${file}: ${at}.secrets must be a list`);
      for (const s of raw.secrets) {
        if (!isObj(s) || typeof s.value_from !== 'string' || typeof s.name !== 'string') throw new ComposeError(`${file}: ${at}.secrets entries need value_from and name`);
        svc.secrets.push({ name: s.name, valueFrom: s.value_from });
      }
    }
    out.services[name] = svc;
  }
  return out;
}

/** Lays the overrides of a service (and the task-level ones) on a planned task definition input. */
export function applyEcsParams(taskDefinition: Record<string, unknown>, service: string, params: EcsParams): void {
  if (params.executionRoleArn) taskDefinition.executionRoleArn = params.executionRoleArn;
  if (params.taskRoleArn) taskDefinition.taskRoleArn = params.taskRoleArn;
  if (params.networkMode) taskDefinition.networkMode = params.networkMode;
  if (params.cpu) taskDefinition.cpu = params.cpu;
  if (params.memory) taskDefinition.memory = params.memory;
  const s = params.services[service];
  const c = (taskDefinition.containerDefinitions as Array<Record<string, unknown>>)[0]!;
  if (params.networkMode === 'host') {
    // Host networking: the container port is the host port.
    c.portMappings = ((c.portMappings as Array<{ containerPort: number; protocol: string }>) ?? []).map((m) => ({ containerPort: m.containerPort, hostPort: m.containerPort, protocol: m.protocol }));
  }
  if (!s) return;
  if (s.essential !== undefined) c.essential = s.essential;
  if (s.cpu_shares !== undefined) c.cpu = s.cpu_shares;
  if (s.mem_limit !== undefined) c.memory = s.mem_limit;
  if (s.mem_reservation !== undefined) c.memoryReservation = s.mem_reservation;
  if (c.memory !== undefined && c.memoryReservation !== undefined && (c.memoryReservation as number) > (c.memory as number)) delete c.memoryReservation;
  if (s.healthCheck) c.healthCheck = { interval: 30, timeout: 5, retries: 3, startPeriod: 0, ...Object.fromEntries(Object.entries(s.healthCheck).filter(([, v]) => v !== undefined)) };
  if (s.secrets.length) c.secrets = [...((c.secrets as unknown[]) ?? []), ...s.secrets];
}
