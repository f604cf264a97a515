/**
 * ECS task definitions: immutable revisions numbered per family. RegisterTaskDefinition
 * validates the way ECS does (ClientException with a message naming the container and field),
 * fills the defaults ECS fills, and adds what ECS adds (revision, status, ARN, registeredAt/By,
 * compatibilities, requiresAttributes).
 */
import type * as ECS from '../../generated/ecs.js';
import { decodeToken, encodeToken, mergeTags, pageOf, parseArn } from '../common.js';
import type { Handlers, RequestContext } from '../types.js';
import { ConflictError, type StoredRecord } from '../../store/types.js';
import { ecsErrors } from './errors.js';
import { KIND, taskDefinitionArn, taskDefinitionKey, type Scope } from './keys.js';

/** A registered revision as stored: the described shape plus its tags. Never edited except status. */
export interface TaskDefinitionRecord {
  taskDefinition: ECS.TaskDefinition & { family: string; revision: number; taskDefinitionArn: string; status: ECS.TaskDefinitionStatus };
  tags: ECS.Tag[];
}

/** Per-family counter, so revision numbers are never reused (even after deletion). */
interface FamilyRecord {
  family: string;
  lastRevision: number;
}

const NAME_RE = /^[A-Za-z0-9_-]{1,255}$/;

/** The resources a task of this definition reserves on a container instance. */
export interface TaskResourceNeeds {
  cpu: number;
  memory: number;
  /** TCP host ports that must be free (static mappings only; dynamic host ports are not reserved). */
  ports: number[];
  udpPorts: number[];
}

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

// Fargate's valid task-size combinations (CPU units -> allowed MiB).
function fargateMemoryOk(cpu: number, mem: number): boolean {
  const gb = (a: number, b: number, step = 1) => mem >= a * 1024 && mem <= b * 1024 && mem % (step * 1024) === 0;
  switch (cpu) {
    case 256: return [512, 1024, 2048].includes(mem);
    case 512: return gb(1, 4);
    case 1024: return gb(2, 8);
    case 2048: return gb(4, 16);
    case 4096: return gb(8, 30);
    case 8192: return gb(16, 60, 4);
    case 16384: return gb(32, 120, 8);
    default: return false;
  }
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

function client(msg: string): never {
  throw ecsErrors.client(msg);
}

/** Validates a registration and returns the task definition body with ECS's defaults filled in. */
function normalize(input: ECS.RegisterTaskDefinitionRequest): ECS.TaskDefinition {
  if (!NAME_RE.test(input.family)) {
    client(`Family '${input.family.slice(0, 300)}' is not valid: up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.`);
  }
  const networkMode: ECS.NetworkMode = input.networkMode ?? 'bridge';
  const requires = input.requiresCompatibilities ?? [];
  const ec2ish = requires.length === 0 || requires.includes('EC2') || requires.includes('EXTERNAL');
  let taskCpu: number | undefined;
  let taskMem: number | undefined;
  if (input.cpu !== undefined) {
    taskCpu = parseCpu(input.cpu);
    if (taskCpu === undefined || taskCpu < 128 || taskCpu > 196608) client(`Invalid 'cpu' setting for task: '${input.cpu}'. Use CPU units (e.g. '1024') or vCPUs (e.g. '1 vCPU'), at least 128 units.`);
  }
  if (input.memory !== undefined) {
    taskMem = parseMemory(input.memory);
    if (taskMem === undefined || taskMem < 6) client(`Invalid 'memory' setting for task: '${input.memory}'. Use MiB (e.g. '2048') or GB (e.g. '2 GB').`);
  }
  if (input.containerDefinitions.length === 0) client('Container list cannot be empty.');
  if (input.containerDefinitions.length > 10) client('A task definition can have at most 10 containers.');
  const volumes = input.volumes ?? [];
  const volumeNames = new Set<string>();
  for (const v of volumes) {
    if (!v.name || !NAME_RE.test(v.name)) client(`Volume name '${v.name ?? ''}' is not valid: up to 255 letters, numbers, hyphens and underscores.`);
    if (volumeNames.has(v.name)) client(`Volume names must be unique within a task definition: '${v.name}' is used twice.`);
    volumeNames.add(v.name);
  }
  const names = new Set<string>();
  for (const c of input.containerDefinitions) {
    if (!c.name) client('Container.name should not be null or empty.');
    if (!NAME_RE.test(c.name)) client(`Container name '${c.name.slice(0, 300)}' is not valid: up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.`);
    if (names.has(c.name)) client(`Container names must be unique within a task definition: '${c.name}' is used more than once.`);
    names.add(c.name);
    if (!c.image) client(`Container.image should not be null or empty (container '${c.name}').`);
  }
  const hostPortsSeen = new Set<string>();
  const containers = input.containerDefinitions.map((c): ECS.ContainerDefinition => {
    const where = `Invalid setting for container '${c.name}'.`;
    if (c.memory !== undefined && c.memory < 6) client(`${where} The 'memory' value must be at least 6 MiB.`);
    if (c.memoryReservation !== undefined && c.memoryReservation < 6) client(`${where} The 'memoryReservation' value must be at least 6 MiB.`);
    if (c.memory !== undefined && c.memoryReservation !== undefined && c.memory < c.memoryReservation) {
      client(`${where} 'memory' must be greater than or equal to 'memoryReservation'.`);
    }
    if (ec2ish && taskMem === undefined && c.memory === undefined && c.memoryReservation === undefined) {
      client(`${where} At least one of 'memory' or 'memoryReservation' must be specified (or set 'memory' at the task level).`);
    }
    if (taskMem !== undefined && c.memory !== undefined && c.memory > taskMem) client(`${where} Container memory ${c.memory} exceeds the task memory ${taskMem}.`);
    if (c.cpu !== undefined && (c.cpu < 0 || c.cpu > 196608)) client(`${where} 'cpu' must be between 0 and 196608 units.`);
    if (c.stopTimeout !== undefined && (c.stopTimeout < 0 || c.stopTimeout > 120)) client(`${where} 'stopTimeout' must be between 0 and 120 seconds.`);
    if (c.hostname !== undefined && networkMode === 'awsvpc') client(`${where} 'hostname' is not supported when networkMode=awsvpc.`);
    if (c.links?.length && networkMode !== 'bridge') client(`${where} Links are only supported when networkMode=bridge (this task uses '${networkMode}').`);
    for (const l of c.links ?? []) {
      const target = l.split(':')[0]!;
      if (!names.has(target) || target === c.name) client(`${where} Link '${l}' names container '${target}', which is not another container in this task definition.`);
    }
    for (const d of c.dependsOn ?? []) {
      if (!names.has(d.containerName) || d.containerName === c.name) {
        client(`${where} dependsOn names container '${d.containerName}', which is not another container in this task definition.`);
      }
    }
    for (const m of c.mountPoints ?? []) {
      if (!m.sourceVolume || !volumeNames.has(m.sourceVolume)) client(`${where} Unknown volume '${m.sourceVolume ?? ''}': mountPoints.sourceVolume must name one of the task's volumes.`);
      if (!m.containerPath) client(`${where} mountPoints.containerPath should not be empty.`);
    }
    for (const v of c.volumesFrom ?? []) {
      if (!v.sourceContainer || !names.has(v.sourceContainer)) client(`${where} volumesFrom names container '${v.sourceContainer ?? ''}', which is not in this task definition.`);
    }
    const portMappings = (c.portMappings ?? []).map((p): ECS.PortMapping => {
      if (p.containerPort === undefined && !p.containerPortRange) client(`${where} A port mapping needs 'containerPort'.`);
      if (p.containerPort !== undefined && (p.containerPort < 0 || p.containerPort > 65535)) client(`${where} containerPort ${p.containerPort} is outside 0-65535.`);
      if (p.hostPort !== undefined && (p.hostPort < 0 || p.hostPort > 65535)) client(`${where} hostPort ${p.hostPort} is outside 0-65535.`);
      let hostPort = p.hostPort;
      if (networkMode === 'host' || networkMode === 'awsvpc') {
        if (hostPort !== undefined && hostPort !== p.containerPort) {
          client(`${where} When networkMode=${networkMode}, the host ports and container ports in port mappings must match (got hostPort ${hostPort}, containerPort ${p.containerPort}).`);
        }
        hostPort = p.containerPort;
      }
      const protocol = p.protocol ?? 'tcp';
      const effective = networkMode === 'bridge' ? p.hostPort : hostPort;
      if (effective) {
        const k = `${protocol}/${effective}`;
        if (hostPortsSeen.has(k)) client(`${where} Host port ${effective}/${protocol} is mapped more than once in this task definition.`);
        hostPortsSeen.add(k);
      }
      return { ...p, ...(hostPort !== undefined ? { hostPort } : {}), protocol };
    });
    const hc = c.healthCheck
      ? { ...c.healthCheck, interval: c.healthCheck.interval ?? 30, timeout: c.healthCheck.timeout ?? 5, retries: c.healthCheck.retries ?? 3 }
      : undefined;
    if (hc) {
      if (hc.command.length === 0) client(`${where} healthCheck.command should not be empty (e.g. ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]).`);
      if (hc.interval < 5 || hc.interval > 300) client(`${where} healthCheck.interval must be between 5 and 300 seconds.`);
      if (hc.timeout < 2 || hc.timeout > 120) client(`${where} healthCheck.timeout must be between 2 and 120 seconds.`);
      if (hc.retries < 1 || hc.retries > 10) client(`${where} healthCheck.retries must be between 1 and 10.`);
      if (hc.startPeriod !== undefined && (hc.startPeriod < 0 || hc.startPeriod > 300)) client(`${where} healthCheck.startPeriod must be between 0 and 300 seconds.`);
    }
    if (c.logConfiguration?.logDriver === 'awslogs' && requires.includes('FARGATE') && !input.executionRoleArn) {
      client('Fargate requires task definition to have execution role ARN to support log driver awslogs.');
    }
    for (const s of c.secrets ?? []) if (!s.name || !s.valueFrom) client(`${where} Each secret needs 'name' and 'valueFrom'.`);
    return {
      ...c,
      cpu: c.cpu ?? 0,
      portMappings,
      essential: c.essential ?? true,
      environment: c.environment ?? [],
      mountPoints: c.mountPoints ?? [],
      volumesFrom: c.volumesFrom ?? [],
      ...(hc ? { healthCheck: hc } : {}),
    };
  });
  if (!containers.some((c) => c.essential)) client('A task definition must have at least one essential container.');
  if (networkMode === 'awsvpc' && requires.includes('EC2') === false && requires.length === 0) {
    /* awsvpc on EC2 is allowed without requiresCompatibilities */
  }
  for (const pc of input.placementConstraints ?? []) {
    if (pc.type !== 'memberOf' || !pc.expression) client("Task definition placement constraints must be of type 'memberOf' with an expression.");
  }
  if ((input.placementConstraints ?? []).length > 10) client('A task definition can have at most 10 placement constraints.');
  const fargateProblem = fargateIncompatibility(networkMode, taskCpu, taskMem, volumes, containers);
  if (requires.includes('FARGATE') && fargateProblem) client(fargateProblem);
  const compatibilities: ECS.Compatibility[] = ['EC2'];
  if (networkMode !== 'awsvpc') compatibilities.unshift('EXTERNAL');
  if (!fargateProblem) compatibilities.push('FARGATE');
  return {
    family: input.family,
    containerDefinitions: containers,
    taskRoleArn: input.taskRoleArn,
    executionRoleArn: input.executionRoleArn,
    networkMode,
    volumes,
    placementConstraints: input.placementConstraints ?? [],
    requiresCompatibilities: input.requiresCompatibilities,
    compatibilities,
    requiresAttributes: requiredAttributes(input, networkMode, containers),
    cpu: taskCpu !== undefined ? String(taskCpu) : undefined,
    memory: taskMem !== undefined ? String(taskMem) : undefined,
    pidMode: input.pidMode,
    ipcMode: input.ipcMode,
    proxyConfiguration: input.proxyConfiguration,
    inferenceAccelerators: input.inferenceAccelerators,
    ephemeralStorage: input.ephemeralStorage,
    runtimePlatform: input.runtimePlatform,
    enableFaultInjection: input.enableFaultInjection ?? false,
  };
}

function fargateIncompatibility(
  networkMode: ECS.NetworkMode,
  cpu: number | undefined,
  mem: number | undefined,
  volumes: ECS.Volume[],
  containers: ECS.ContainerDefinition[],
): string | undefined {
  if (networkMode !== 'awsvpc') return `Fargate only supports network mode 'awsvpc' (this task definition uses '${networkMode}').`;
  if (cpu === undefined) return "Fargate requires that 'cpu' be defined at the task level.";
  if (mem === undefined) return "Fargate requires that 'memory' be defined at the task level.";
  if (!fargateMemoryOk(cpu, mem)) return `No Fargate configuration exists for given values: ${cpu} CPU, ${mem} memory. See the Fargate task size table for valid combinations.`;
  if (volumes.some((v) => v.host?.sourcePath)) return 'Fargate does not support host volumes with a sourcePath.';
  if (containers.some((c) => c.links?.length)) return 'Fargate does not support container links.';
  return undefined;
}

function requiredAttributes(input: ECS.RegisterTaskDefinitionRequest, networkMode: ECS.NetworkMode, cs: ECS.ContainerDefinition[]): ECS.Attribute[] {
  const names = new Set<string>();
  if (networkMode === 'awsvpc') names.add('ecs.capability.task-eni');
  if (input.taskRoleArn) names.add('com.amazonaws.ecs.capability.task-iam-role');
  for (const c of cs) {
    const driver = c.logConfiguration?.logDriver;
    if (driver) names.add(`com.amazonaws.ecs.capability.logging-driver.${driver}`);
    if (driver === 'awslogs' && input.executionRoleArn) names.add('ecs.capability.execution-role-awslogs');
    if (c.healthCheck) names.add('ecs.capability.container-health-check');
    if (c.dependsOn?.length) names.add('ecs.capability.container-ordering');
    if (c.secrets?.some((s) => s.valueFrom.includes(':ssm:') || !s.valueFrom.startsWith('arn:'))) names.add('ecs.capability.secrets.ssm.environment-variables');
    if (c.secrets?.some((s) => s.valueFrom.includes(':secretsmanager:'))) names.add('ecs.capability.secrets.asm.environment-variables');
    if (c.environmentFiles?.length) names.add('ecs.capability.env-files.s3');
    if (c.dockerLabels && Object.keys(c.dockerLabels).length) names.add('com.amazonaws.ecs.capability.docker-remote-api.1.18');
    if (c.ulimits?.length) names.add('com.amazonaws.ecs.capability.docker-remote-api.1.18');
    if (c.memoryReservation !== undefined) names.add('com.amazonaws.ecs.capability.docker-remote-api.1.21');
    if (c.stopTimeout !== undefined) names.add('ecs.capability.container-ordering');
  }
  return [...names].sort().map((name) => ({ name }));
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

async function requireTaskDefinition(ctx: RequestContext, ref: string): Promise<StoredRecord<TaskDefinitionRecord>> {
  const rec = await findTaskDefinition(ctx, ref);
  if (!rec) throw ecsErrors.taskDefinitionNotFound();
  return rec;
}

function checkMax(v: number | undefined, dflt: number): number {
  const n = v ?? dflt;
  if (n < 1 || n > 100) throw ecsErrors.invalidParameter('maxResults must be between 1 and 100.');
  return n;
}

async function setStatus(ctx: RequestContext, ref: string, from: ECS.TaskDefinitionStatus[], to: ECS.TaskDefinitionStatus, field: 'deregisteredAt' | 'deleteRequestedAt'): Promise<TaskDefinitionRecord | 'wrong-status'> {
  for (let i = 0; i < 20; i++) {
    const rec = await requireTaskDefinition(ctx, ref);
    const td = rec.value.taskDefinition;
    if (td.status === to) return rec.value;
    if (!from.includes(td.status)) return 'wrong-status';
    const next: TaskDefinitionRecord = { ...rec.value, taskDefinition: { ...td, status: to, [field]: ctx.platform.clock.now() } };
    try {
      await ctx.platform.store.commit([{ kind: KIND.taskDefinition, key: rec.key, value: next, expectRev: rec.rev }]);
      return next;
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }
  }
  throw ecsErrors.client('The task definition is being changed concurrently; retry.');
}

export const taskDefinitionHandlers: Handlers<ECS.Operations> = {
  async RegisterTaskDefinition(input, ctx) {
    const body = normalize(input);
    const tags = mergeTags([], input.tags ?? [], ecsErrors.invalidParameter);
    const { store, clock } = ctx.platform;
    const famKey = `${ctx.region}/${input.family}`;
    for (let i = 0; ; i++) {
      const fam = await store.get<FamilyRecord>(KIND.taskDefinitionFamily, famKey);
      const revision = (fam?.value.lastRevision ?? 0) + 1;
      const rec: TaskDefinitionRecord = {
        taskDefinition: {
          ...body,
          family: input.family,
          revision,
          taskDefinitionArn: taskDefinitionArn(ctx, input.family, revision),
          status: 'ACTIVE',
          registeredAt: clock.now() as unknown as Date,
          registeredBy: ctx.principal.arn,
        },
        tags,
      };
      try {
        await store.commit([
          { kind: KIND.taskDefinitionFamily, key: famKey, value: { family: input.family, lastRevision: revision }, expectRev: fam?.rev ?? 0 },
          { kind: KIND.taskDefinition, key: taskDefinitionKey(ctx.region, input.family, revision), value: rec, expectRev: 0 },
        ]);
        return { taskDefinition: rec.taskDefinition, tags: tags.length ? tags : undefined };
      } catch (e) {
        if (!(e instanceof ConflictError) || i >= 50) throw e;
      }
    }
  },

  async DescribeTaskDefinition(input, ctx) {
    const rec = await requireTaskDefinition(ctx, input.taskDefinition);
    return { taskDefinition: rec.value.taskDefinition, tags: input.include?.includes('TAGS') ? rec.value.tags : undefined };
  },

  async ListTaskDefinitions(input, ctx) {
    const maxResults = checkMax(input.maxResults, 100);
    const status = input.status ?? 'ACTIVE';
    // Despite its name, familyPrefix names one whole family (as ECS documents it).
    const prefix = input.familyPrefix !== undefined ? `${ctx.region}/${input.familyPrefix}/` : `${ctx.region}/`;
    const filter = (r: StoredRecord<TaskDefinitionRecord>) => r.value.taskDefinition.status === status;
    if ((input.sort ?? 'ASC') === 'ASC') {
      const page = await pageOf<TaskDefinitionRecord>(ctx.platform.store, KIND.taskDefinition, prefix, { token: input.nextToken, maxResults, filter, invalidToken: ecsErrors.invalidToken });
      return { taskDefinitionArns: page.items.map((r) => r.value.taskDefinition.taskDefinitionArn), nextToken: page.nextToken };
    }
    // Descending: the token is the last key handed out; the next page continues below it.
    const before = decodeToken(input.nextToken, ecsErrors.invalidToken);
    if (before !== undefined && !before.startsWith(prefix)) throw ecsErrors.invalidToken();
    const all = (await ctx.platform.store.list<TaskDefinitionRecord>(KIND.taskDefinition, { prefix })).filter(filter).reverse();
    const rest = before === undefined ? all : all.filter((r) => r.key < before);
    const items = rest.slice(0, maxResults);
    const more = rest.length > maxResults;
    return { taskDefinitionArns: items.map((r) => r.value.taskDefinition.taskDefinitionArn), nextToken: more ? encodeToken(items[items.length - 1]!.key) : undefined };
  },

  async ListTaskDefinitionFamilies(input, ctx) {
    const maxResults = checkMax(input.maxResults, 100);
    const status = input.status ?? 'ACTIVE';
    const prefix = `${ctx.region}/`;
    const after = decodeToken(input.nextToken, ecsErrors.invalidToken);
    const families: string[] = [];
    const famRecords = await ctx.platform.store.list<FamilyRecord>(KIND.taskDefinitionFamily, { prefix: `${prefix}${input.familyPrefix ?? ''}` });
    let nextToken: string | undefined;
    for (const f of famRecords) {
      if (after !== undefined && f.key <= after) continue;
      const revs = await ctx.platform.store.list<TaskDefinitionRecord>(KIND.taskDefinition, { prefix: `${f.key}/` });
      const active = revs.some((r) => r.value.taskDefinition.status === 'ACTIVE');
      const ok = status === 'ALL' ? revs.length > 0 : status === 'ACTIVE' ? active : revs.length > 0 && !active;
      if (!ok) continue;
      if (families.length === maxResults) {
        nextToken = encodeToken(famRecords.find((x) => x.value.family === families[families.length - 1])!.key);
        break;
      }
      families.push(f.value.family);
    }
    return { families, nextToken };
  },

  async DeregisterTaskDefinition(input, ctx) {
    const p = parseTaskDefinitionRef(ctx, input.taskDefinition);
    if (!p || p.revision === undefined) throw ecsErrors.client(`Invalid revision number: '${input.taskDefinition}'. Name the revision to deregister as family:revision or a full ARN.`);
    const r = await setStatus(ctx, input.taskDefinition, ['ACTIVE'], 'INACTIVE', 'deregisteredAt');
    if (r === 'wrong-status') throw ecsErrors.client('The task definition is being deleted and cannot be deregistered.');
    return { taskDefinition: r.taskDefinition };
  },

  async DeleteTaskDefinitions(input, ctx) {
    if (input.taskDefinitions.length > 10) throw ecsErrors.invalidParameter('At most 10 task definitions can be deleted at once.');
    const taskDefinitions: ECS.TaskDefinition[] = [];
    const failures: ECS.Failure[] = [];
    for (const ref of input.taskDefinitions) {
      const p = parseTaskDefinitionRef(ctx, ref);
      if (!p || p.revision === undefined) {
        failures.push({ arn: ref, reason: 'The specified task definition identifier is invalid. Specify a valid name or ARN and try again.' });
        continue;
      }
      const rec = await findTaskDefinition(ctx, ref);
      if (!rec) {
        failures.push({ arn: ref, reason: 'The specified task definition does not exist. Specify a valid account, family, revision and try again.' });
        continue;
      }
      const r = await setStatus(ctx, ref, ['INACTIVE'], 'DELETE_IN_PROGRESS', 'deleteRequestedAt');
      if (r === 'wrong-status') failures.push({ arn: rec.value.taskDefinition.taskDefinitionArn, reason: 'The specified task definition is still in ACTIVE status. Please deregister the target and try again.' });
      else taskDefinitions.push(r.taskDefinition);
    }
    return { taskDefinitions, failures };
  },
};
