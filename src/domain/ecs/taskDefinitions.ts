/**
 * ECS task definitions in the store: immutable revisions numbered per family, with a per-family
 * counter so revision numbers are never reused (even after deletion). Lookup by reference
 * (`family`, `family:revision`, ARN), the resources a task of a revision reserves, its own
 * placement constraints, and the one way a task's overrides are applied to its definition.
 */
import type * as ECS from '../../generated/ecs.js';
import { parseArn } from '../common.js';
import { retrying } from '../mutate.js';
import type { StoredRecord } from '../../store/types.js';
import { ecsErrors } from './errors.js';
import { KIND, taskDefinitionArn, taskDefinitionKey, type Scope } from './keys.js';
import type { FamilyRecord, TaskDefinitionRecord, TaskRecord, TaskResourceNeeds } from './records.js';

/** CPU units from "1024", "1 vCPU", "0.5 vcpu". */
export function parseCpu(v: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(vcpu)?\s*$/i.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] ? Math.round(n * 1024) : Number.isInteger(n) ? n : undefined;
}

/** MiB from "2048", "2 GB", "0.5GB". */
export function parseMemory(v: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(gb)?\s*$/i.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] ? Math.round(n * 1024) : Number.isInteger(n) ? n : undefined;
}

/** The task definition's own placement constraints, as placement takes them (memberOf is the only type a task definition may give). */
export function taskDefinitionConstraints(td: ECS.TaskDefinition | undefined): Array<{ type: 'memberOf'; expression?: string }> {
  return (td?.placementConstraints ?? []).map((c) => ({ type: 'memberOf' as const, expression: c.expression }));
}

/** Resources one task of `td` needs, given optional RunTask overrides. */
export function taskNeeds(td: ECS.TaskDefinition, overrides?: ECS.TaskOverride): TaskResourceNeeds {
  const containers = td.containerDefinitions ?? [];
  const ov = (name?: string) => overrides?.containerOverrides?.find((o) => o.name === name);
  const taskCpu = overrides?.cpu ?? td.cpu;
  const taskMem = overrides?.memory ?? td.memory;
  const cpu = taskCpu !== undefined ? parseCpu(taskCpu) ?? 0 : containers.reduce((s, c) => s + (ov(c.name)?.cpu ?? c.cpu ?? 0), 0);
  const memory =
    taskMem !== undefined
      ? parseMemory(taskMem) ?? 0
      : containers.reduce((s, c) => {
          const o = ov(c.name);
          return s + (o?.memoryReservation ?? o?.memory ?? c.memoryReservation ?? c.memory ?? 0);
        }, 0);
  const ports: number[] = [];
  const udpPorts: number[] = [];
  if (td.networkMode !== 'awsvpc') {
    for (const c of containers) {
      for (const p of c.portMappings ?? []) {
        const hp = td.networkMode === 'host' ? p.containerPort : p.hostPort;
        if (hp) (p.protocol === 'udp' ? udpPorts : ports).push(hp);
      }
    }
  }
  return { cpu, memory, ports, udpPorts };
}

/** Splits a task definition reference into family and optional revision; undefined if malformed. */
export function parseTaskDefinitionRef(s: Scope, ref: string): { family: string; revision?: number } | undefined {
  let body = ref;
  if (ref.startsWith('arn:')) {
    const p = parseArn(ref);
    if (!p || p.service !== 'ecs' || !p.resource.startsWith('task-definition/')) return undefined;
    if (p.region !== s.region || p.accountId !== s.platform.accountId) return undefined;
    body = p.resource.slice('task-definition/'.length);
    if (!body.includes(':')) return undefined;
  }
  const m = /^([A-Za-z0-9_-]{1,255})(?::(\d{1,10}))?$/.exec(body);
  if (!m) return undefined;
  return { family: m[1]!, revision: m[2] !== undefined ? Number(m[2]) : undefined };
}

/**
 * Finds the revision a reference names: `family` (latest ACTIVE), `family:rev` or an ARN.
 * Returns undefined when none exists.
 */
export async function findTaskDefinition(s: Scope, ref: string): Promise<StoredRecord<TaskDefinitionRecord> | undefined> {
  const p = parseTaskDefinitionRef(s, ref);
  if (!p) return undefined;
  if (p.revision !== undefined) return s.platform.store.get<TaskDefinitionRecord>(KIND.taskDefinition, taskDefinitionKey(s.region, p.family, p.revision));
  // Fast path (RunTask by family on the launch path): the family's newest revision is usually
  // the ACTIVE one wanted; only if it is not (deregistered, deleted) scan every revision.
  const fam = await s.platform.store.get<FamilyRecord>(KIND.taskDefinitionFamily, `${s.region}/${p.family}`);
  if (fam) {
    const latest = await s.platform.store.get<TaskDefinitionRecord>(KIND.taskDefinition, taskDefinitionKey(s.region, p.family, fam.value.lastRevision));
    if (latest?.value.taskDefinition.status === 'ACTIVE') return latest;
  }
  const all = await s.platform.store.list<TaskDefinitionRecord>(KIND.taskDefinition, { prefix: `${s.region}/${p.family}/` });
  for (let i = all.length - 1; i >= 0; i--) if (all[i]!.value.taskDefinition.status === 'ACTIVE') return all[i];
  return undefined;
}

/** The revision a reference names, whatever its status; throws ClientException ("Unable to describe task definition") if none. */
export async function requireTaskDefinition(s: Scope, ref: string): Promise<TaskDefinitionRecord> {
  const rec = await findTaskDefinition(s, ref);
  if (!rec) throw ecsErrors.taskDefinitionNotFound();
  return rec.value;
}

/**
 * Resolves a task definition for launching tasks or services: it must exist and be ACTIVE.
 * Throws InvalidParameterException (as CreateService/RunTask do on AWS) otherwise.
 */
export async function requireActiveTaskDefinition(s: Scope, ref: string): Promise<TaskDefinitionRecord> {
  const rec = await findTaskDefinition(s, ref);
  if (!rec) throw ecsErrors.taskDefinitionMissing(ref);
  if (rec.value.taskDefinition.status !== 'ACTIVE') throw ecsErrors.taskDefinitionInactive(ref);
  return rec.value;
}

/**
 * The revision a service's deployment runs: it must exist and not be being deleted (services
 * keep running a revision deregistered after the deployment began, as ECS does).
 */
export async function requireTaskDefinitionForService(s: Scope, ref: string): Promise<TaskDefinitionRecord> {
  const rec = await findTaskDefinition(s, ref);
  if (!rec || rec.value.taskDefinition.status === 'DELETE_IN_PROGRESS') throw ecsErrors.taskDefinitionMissing(ref);
  return rec.value;
}

/**
 * A task definition with a task's overrides applied, i.e. what an agent must run: container
 * `command` and `cpu`/`memory`/`memoryReservation` replaced, `environment` merged by name
 * (override wins), `environmentFiles` appended; task-level cpu, memory and roles replaced.
 */
export function applyOverrides(td: ECS.TaskDefinition, o: ECS.TaskOverride | undefined): ECS.TaskDefinition {
  if (!o) return td;
  const containerDefinitions = (td.containerDefinitions ?? []).map((c) => {
    const co = o.containerOverrides?.find((x) => x.name === c.name);
    if (!co) return c;
    const env = new Map((c.environment ?? []).map((e) => [e.name, e]));
    for (const e of co.environment ?? []) env.set(e.name, e);
    return {
      ...c,
      ...(co.command ? { command: co.command } : {}),
      ...(co.cpu !== undefined ? { cpu: co.cpu } : {}),
      ...(co.memory !== undefined ? { memory: co.memory } : {}),
      ...(co.memoryReservation !== undefined ? { memoryReservation: co.memoryReservation } : {}),
      environment: [...env.values()],
      environmentFiles: [...(c.environmentFiles ?? []), ...(co.environmentFiles ?? [])],
    };
  });
  return {
    ...td,
    containerDefinitions,
    cpu: o.cpu ?? td.cpu,
    memory: o.memory ?? td.memory,
    taskRoleArn: o.taskRoleArn ?? td.taskRoleArn,
    executionRoleArn: o.executionRoleArn ?? td.executionRoleArn,
  };
}

/** The task definition a task runs, with its overrides applied (undefined if it was deleted). */
export async function resolvedTaskDefinition(s: Scope, task: Pick<TaskRecord, 'taskDefinitionArn' | 'overrides'>): Promise<ECS.TaskDefinition | undefined> {
  const rec = await findTaskDefinition(s, task.taskDefinitionArn);
  return rec ? applyOverrides(rec.value.taskDefinition, task.overrides) : undefined;
}

/**
 * Stores the next revision of `family` with `body` (validated and defaulted by the caller):
 * the revision number comes from the family's counter, committed with the revision itself.
 */
export async function registerRevision(s: Scope, family: string, body: ECS.TaskDefinition, tags: ECS.Tag[], registeredBy: string): Promise<TaskDefinitionRecord> {
  const { store, clock } = s.platform;
  const famKey = `${s.region}/${family}`;
  return retrying(`Task definition family ${family}`, async () => {
    const fam = await store.get<FamilyRecord>(KIND.taskDefinitionFamily, famKey);
    const revision = (fam?.value.lastRevision ?? 0) + 1;
    const rec: TaskDefinitionRecord = {
      taskDefinition: {
        ...body,
        family,
        revision,
        taskDefinitionArn: taskDefinitionArn(s, family, revision),
        status: 'ACTIVE',
        registeredAt: clock.now() as unknown as Date,
        registeredBy,
      },
      tags,
    };
    await store.commit([
      { kind: KIND.taskDefinitionFamily, key: famKey, value: { family, lastRevision: revision }, expectRev: fam?.rev ?? 0 },
      { kind: KIND.taskDefinition, key: taskDefinitionKey(s.region, family, revision), value: rec, expectRev: 0 },
    ]);
    return rec;
  });
}

/**
 * Moves a revision to status `to` (stamping `field`) if it is in one of `from`; returns the
 * record, or 'wrong-status' when it is in none of them. Throws ClientException if it is unknown.
 */
export async function setTaskDefinitionStatus(
  s: Scope,
  ref: string,
  from: ECS.TaskDefinitionStatus[],
  to: ECS.TaskDefinitionStatus,
  field: 'deregisteredAt' | 'deleteRequestedAt',
): Promise<TaskDefinitionRecord | 'wrong-status'> {
  return retrying(`Task definition ${ref}`, async () => {
    const rec = await findTaskDefinition(s, ref);
    if (!rec) throw ecsErrors.taskDefinitionNotFound();
    const td = rec.value.taskDefinition;
    if (td.status === to) return rec.value;
    if (!from.includes(td.status)) return 'wrong-status';
    const next: TaskDefinitionRecord = { ...rec.value, taskDefinition: { ...td, status: to, [field]: s.platform.clock.now() } };
    await s.platform.store.commit([{ kind: KIND.taskDefinition, key: rec.key, value: next, expectRev: rec.rev }]);
    return next;
  });
}
