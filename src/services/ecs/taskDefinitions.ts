/**
 * ECS task definition operations. RegisterTaskDefinition validates the way ECS does
 * (ClientException with a message naming the container and field), fills the defaults ECS
 * fills, and adds what ECS adds (compatibilities, requiresAttributes); the domain numbers and
 * stores the revision (src/domain/ecs/taskDefinitions.ts).
 */
import type * as ECS from '../../generated/ecs.js';
import { mergeTags } from '../../domain/common.js';
import { ecsErrors } from '../../domain/ecs/errors.js';
import { listTaskDefinitionFamilies, listTaskDefinitions } from '../../domain/ecs/listing.js';
import { findTaskDefinition, parseCpu, parseMemory, parseTaskDefinitionRef, registerRevision, requireTaskDefinition, setTaskDefinitionStatus } from '../../domain/ecs/taskDefinitions.js';
import { checkMaxResults } from './validation.js';
import { checkContainerMounts, normalizeVolumes, volumeAttributes } from './taskDefinitionVolumes.js';
import type { Handlers } from '../types.js';

const NAME_RE = /^[A-Za-z0-9_-]{1,255}$/;

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
  // A task definition that requires FARGATE is refused for what Fargate does not run, in ECS's
  // words, before anything about its containers.
  if (requires.includes('FARGATE')) {
    const problem = fargateTaskProblem(input, networkMode, taskCpu, taskMem);
    if (problem) client(problem);
  }
  if (input.containerDefinitions.length === 0) client('Container list cannot be empty.');
  if (input.containerDefinitions.length > 10) client('A task definition can have at most 10 containers.');
  const volumes = normalizeVolumes(input.volumes);
  const volumeNames = new Set(volumes.map((v) => v.name!));
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
    if (c.hostname !== undefined && networkMode === 'awsvpc') client('hostname is not supported on container when networkMode=awsvpc.');
    if (c.links?.length && networkMode !== 'bridge') client(`Links are not supported when networkMode=${networkMode}.`);
    for (const l of c.links ?? []) {
      const target = l.split(':')[0]!;
      if (!names.has(target) || target === c.name) client(`${where} Link '${l}' names container '${target}', which is not another container in this task definition.`);
    }
    for (const d of c.dependsOn ?? []) {
      if (!names.has(d.containerName) || d.containerName === c.name) {
        client(`${where} dependsOn names container '${d.containerName}', which is not another container in this task definition.`);
      }
    }
    const mounts = checkContainerMounts(c, volumeNames, names);
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
      mountPoints: mounts.mountPoints ?? [],
      volumesFrom: mounts.volumesFrom ?? [],
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
  const fargateProblem = fargateTaskProblem(input, networkMode, taskCpu, taskMem) ?? fargateContainerProblem(volumes, containers);
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
    requiresAttributes: requiredAttributes(input, networkMode, containers, volumes),
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

/**
 * Why a task definition cannot run on Fargate as a whole, in ECS's words (undefined: it can): the
 * awsvpc network mode, no host PID or IPC namespace, task-level cpu and memory of one of
 * Fargate's sizes.
 */
function fargateTaskProblem(input: ECS.RegisterTaskDefinitionRequest, networkMode: ECS.NetworkMode, cpu: number | undefined, mem: number | undefined): string | undefined {
  if (networkMode !== 'awsvpc') return 'Fargate only supports network mode \u2018awsvpc\u2019.';
  if (input.pidMode === 'host') return "Tasks using the Fargate launch type do not support pidMode 'host'. The supported value for pidMode is 'task'.";
  if (input.ipcMode !== undefined) return 'Tasks using the Fargate launch type do not support ipcMode.';
  if (cpu === undefined) return "Fargate requires that 'cpu' be defined at the task level.";
  if (mem === undefined) return "Fargate requires that 'memory' be defined at the task level.";
  if (!fargateMemoryOk(cpu, mem)) return `No Fargate configuration exists for given values: ${cpu} CPU, ${mem} memory. See the Amazon ECS documentation for the valid values.`;
  return undefined;
}

/** Why a task definition's volumes or containers cannot run on Fargate (undefined: they can). */
function fargateContainerProblem(volumes: ECS.Volume[], containers: ECS.ContainerDefinition[]): string | undefined {
  if (volumes.some((v) => v.host?.sourcePath)) return 'Fargate does not support host volumes with a sourcePath.';
  if (containers.some((c) => c.links?.length)) return 'Links are not supported when networkMode=awsvpc.';
  return undefined;
}

function requiredAttributes(input: ECS.RegisterTaskDefinitionRequest, networkMode: ECS.NetworkMode, cs: ECS.ContainerDefinition[], volumes: ECS.Volume[]): ECS.Attribute[] {
  const names = new Set<string>(volumeAttributes(volumes, cs));
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

export const taskDefinitionHandlers: Handlers<ECS.Operations> = {
  async RegisterTaskDefinition(input, ctx) {
    const body = normalize(input);
    const tags = mergeTags([], input.tags ?? [], ecsErrors.invalidParameter);
    const rec = await registerRevision(ctx, input.family, body, tags, ctx.principal.arn);
    return { taskDefinition: rec.taskDefinition, tags: tags.length ? tags : undefined };
  },

  async DescribeTaskDefinition(input, ctx) {
    const rec = await requireTaskDefinition(ctx, input.taskDefinition);
    return { taskDefinition: rec.taskDefinition, tags: input.include?.includes('TAGS') ? rec.tags : undefined };
  },

  async ListTaskDefinitions(input, ctx) {
    const maxResults = checkMaxResults(input.maxResults, 100);
    const status = input.status ?? 'ACTIVE';
    const page = await listTaskDefinitions(ctx, {
      family: input.familyPrefix,
      descending: input.sort === 'DESC',
      token: input.nextToken,
      maxResults,
      filter: (r) => r.taskDefinition.status === status,
    });
    return { taskDefinitionArns: page.items.map((r) => r.taskDefinition.taskDefinitionArn), nextToken: page.nextToken };
  },

  async ListTaskDefinitionFamilies(input, ctx) {
    const maxResults = checkMaxResults(input.maxResults, 100);
    const page = await listTaskDefinitionFamilies(ctx, { familyPrefix: input.familyPrefix, status: input.status ?? 'ACTIVE', token: input.nextToken, maxResults });
    return { families: page.items, nextToken: page.nextToken };
  },

  async DeregisterTaskDefinition(input, ctx) {
    const p = parseTaskDefinitionRef(ctx, input.taskDefinition);
    if (!p || p.revision === undefined) throw ecsErrors.client(`Invalid revision number: '${input.taskDefinition}'. Name the revision to deregister as family:revision or a full ARN.`);
    const r = await setTaskDefinitionStatus(ctx, input.taskDefinition, ['ACTIVE'], 'INACTIVE', 'deregisteredAt');
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
      const r = await setTaskDefinitionStatus(ctx, ref, ['INACTIVE'], 'DELETE_IN_PROGRESS', 'deleteRequestedAt');
      if (r === 'wrong-status') failures.push({ arn: rec.value.taskDefinition.taskDefinitionArn, reason: 'The specified task definition is still in ACTIVE status. Please deregister the target and try again.' });
      else taskDefinitions.push(r.taskDefinition);
    }
    return { taskDefinitions, failures };
  },
};
