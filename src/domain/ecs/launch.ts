/**
 * Launching tasks: the common core of RunTask, StartTask and the service scheduler. Places each
 * task on a container instance with room (the pure engine in ../placement/ decides), or on the
 * named instances for StartTask, and commits each new task together with a `version` bump of its
 * instance, so two concurrent launches never overcommit one instance: the loser places again.
 */
import type * as ECS from '../../generated/ecs.js';
import type { Write } from '../../store/types.js';
import { hexId, mergeTags } from '../common.js';
import { retrying } from '../mutate.js';
import { PlacementValidationError, missingAttribute, place, validatePlacement } from '../placement/placement.js';
import { CqlError } from '../placement/cql.js';
import { requireCluster } from './clusters.js';
import { ecsErrors } from './errors.js';
import { CAPACITY_PROVIDER_ATTRIBUTE, isFargateProvider, nextProvider } from './capacityProviders.js';
import { candidatesFor, findContainerInstance, type PlacementCandidate } from './instances.js';
import { KIND, clusterArn, clusterNameOf, clusterScopedKey, taskArn, type Scope } from './keys.js';
import { liveIndexWrites } from './liveIndex.js';
import type { ContainerInstanceRecord, TaskDefinitionRecord, TaskRecord } from './records.js';
import { requireActiveTaskDefinition, requireTaskDefinitionForService, taskDefinitionConstraints, taskNeeds } from './taskDefinitions.js';

/** What to launch: the common core of RunTask, StartTask and the service scheduler. */
export interface LaunchSpec {
  /** Cluster name or ARN. */
  cluster: string;
  /** family, family:revision or ARN; must be ACTIVE. */
  taskDefinition: string;
  count: number;
  startedBy?: string;
  /** Default `family:<family>`; services use `service:<name>`. */
  group?: string;
  launchType?: ECS.LaunchType;
  overrides?: ECS.TaskOverride;
  placementConstraints?: ECS.PlacementConstraint[];
  placementStrategy?: ECS.PlacementStrategy[];
  tags?: ECS.Tag[];
  /** Tags to add from the task definition or service (propagateTags). */
  propagatedTags?: ECS.Tag[];
  enableExecuteCommand?: boolean;
  /** StartTask: exactly these instance ids/ARNs, one task each, no resource placement. */
  containerInstances?: string[];
  /**
   * Services keep running a revision deregistered after the deployment began (as ECS does);
   * RunTask/StartTask never set this.
   */
  allowInactiveTaskDefinition?: boolean;
  /**
   * The ACTIVE task definition `taskDefinition` names, when the caller has just resolved it in
   * the same request (RunTask): saves reading it again. Never set it to anything else.
   */
  resolvedTaskDefinition?: TaskDefinitionRecord;
  /**
   * Place by this capacity provider strategy (base, then weight; see `nextProvider`): each task
   * goes to the instances of the provider it falls to. `launchType` is then ignored.
   */
  capacityProviderStrategy?: ECS.CapacityProviderStrategyItem[];
  /** Tasks each provider already has in the group (a service deployment's live tasks), for the split. */
  providerCounts?: Readonly<Record<string, number>>;
  /** The image digest of each container by name (a service deployment's pinned images). */
  imageDigests?: Record<string, string>;
}

/** The result of a launch: created tasks (API shape + records) and per-task failures. */
export interface LaunchResult {
  tasks: TaskRecord[];
  failures: ECS.Failure[];
}

function validateOverrides(td: TaskDefinitionRecord, o: ECS.TaskOverride | undefined): void {
  const names = new Set((td.taskDefinition.containerDefinitions ?? []).map((c) => c.name));
  for (const co of o?.containerOverrides ?? []) {
    if (!co.name || !names.has(co.name)) {
      throw ecsErrors.invalidParameter(`Override for container named '${co.name ?? ''}' is not a container in the TaskDefinition.`);
    }
    if (co.cpu !== undefined && co.cpu < 0) throw ecsErrors.invalidParameter(`containerOverrides '${co.name}': cpu must not be negative.`);
    if (co.memory !== undefined && co.memory < 6) throw ecsErrors.invalidParameter(`containerOverrides '${co.name}': memory must be at least 6 MiB.`);
  }
}

/** Checks placement constraints and strategies as ECS does; throws InvalidParameterException. */
export function checkPlacementInput(constraints: ECS.PlacementConstraint[] | undefined, strategy: ECS.PlacementStrategy[] | undefined): void {
  try {
    validatePlacement(constraints, strategy);
  } catch (e) {
    if (e instanceof PlacementValidationError) throw ecsErrors.invalidParameter(e.message);
    throw e;
  }
}

function newTask(s: Scope, clusterName: string, td: TaskDefinitionRecord, spec: LaunchSpec, ci: ContainerInstanceRecord | undefined, now: number): TaskRecord {
  const id = hexId();
  const arnOf = taskArn(s, clusterName, id);
  const def = td.taskDefinition;
  const ov = (name?: string) => spec.overrides?.containerOverrides?.find((o) => o.name === name);
  const tags = mergeTags(spec.propagatedTags ?? [], spec.tags ?? [], ecsErrors.invalidParameter);
  return {
    taskId: id,
    taskArn: arnOf,
    clusterName,
    clusterArn: clusterArn(s, clusterName),
    taskDefinitionArn: def.taskDefinitionArn,
    family: def.family,
    containerInstanceId: ci?.id,
    containerInstanceArn: ci?.containerInstanceArn,
    availabilityZone: ci?.attributes.find((a) => a.name === 'ecs.availability-zone')?.value,
    launchType: spec.launchType ?? 'EC2',
    // awsvpc tasks provision their network first (PROVISIONING); others start PENDING, as on ECS.
    lastStatus: def.networkMode === 'awsvpc' ? 'PROVISIONING' : 'PENDING',
    desiredStatus: 'RUNNING',
    startedBy: spec.startedBy,
    group: spec.group ?? `family:${def.family}`,
    overrides: spec.overrides ?? {},
    cpu: spec.overrides?.cpu ?? def.cpu,
    memory: spec.overrides?.memory ?? def.memory,
    containers: (def.containerDefinitions ?? []).map((c) => {
      const o = ov(c.name);
      const cpu = o?.cpu ?? c.cpu;
      const mem = o?.memory ?? c.memory;
      const res = o?.memoryReservation ?? c.memoryReservation;
      return {
        containerArn: `arn:aws:ecs:${s.region}:${s.platform.accountId}:container/${clusterName}/${id}/${hexId()}`,
        name: c.name!,
        image: c.image,
        imageDigest: spec.imageDigests?.[c.name!],
        essential: c.essential !== false,
        lastStatus: 'PENDING',
        networkBindings: [],
        hasHealthCheck: !!c.healthCheck,
        healthStatus: 'UNKNOWN' as const,
        cpu: cpu !== undefined ? String(cpu) : undefined,
        memory: mem !== undefined ? String(mem) : undefined,
        memoryReservation: res !== undefined ? String(res) : undefined,
      };
    }),
    tags,
    enableExecuteCommand: spec.enableExecuteCommand ?? false,
    healthStatus: 'UNKNOWN',
    version: 1,
    needs: taskNeeds(def, spec.overrides),
    createdAt: now,
  };
}

/** The writes that create a task: its record (which must not exist yet) and its index entry. */
function newTaskWrites(region: string, clusterName: string, t: TaskRecord): Write[] {
  return [{ kind: KIND.task, key: clusterScopedKey(region, clusterName, t.taskId), value: t, expectRev: 0 }, ...liveIndexWrites(region, undefined, t)];
}

/** What one task needs and how it may be placed. */
export interface LaunchRequirements {
  cpu: number;
  memory: number;
  /** Static TCP / UDP host ports. */
  ports: number[];
  udpPorts: number[];
  /** `family:<family>` or `service:<name>`. */
  group: string;
  constraints: ECS.PlacementConstraint[];
  strategy: ECS.PlacementStrategy[];
  /** The task definition's `requiresAttributes`; instances lacking one fail with ATTRIBUTE. */
  requiredAttributes?: ECS.Attribute[];
}

export type TaskPlacement =
  | { ok: true; candidate: PlacementCandidate }
  /** No candidate fits: one failure per candidate, with the reason ECS reports for it. */
  | { ok: false; failures: { arn?: string; reason: string }[] };

/**
 * Picks an instance for one task: ACTIVE instances with a connected agent that satisfy the
 * constraints and have the CPU, memory and host ports, ordered by the strategy (default
 * random, as RunTask). Failure reasons are ECS's (RESOURCE:MEMORY, AGENT, MemberOf, ...).
 */
export function placeTask(candidates: PlacementCandidate[], req: LaunchRequirements): TaskPlacement {
  let res;
  try {
    res = place({
      count: 1,
      task: {
        cpu: req.cpu,
        memory: req.memory,
        hostPorts: [...req.ports.map((port) => ({ port })), ...req.udpPorts.map((port) => ({ port, protocol: 'udp' as const }))],
        group: req.group,
        requiredAttributes: req.requiredAttributes,
      },
      instances: candidates,
      existingTasks: candidates.flatMap((c) => c.taskGroups.map((group) => ({ containerInstanceId: c.id, group }))),
      constraints: req.constraints,
      strategy: req.strategy,
      random: Math.random,
    });
  } catch (e) {
    if (e instanceof PlacementValidationError || e instanceof CqlError) return { ok: false, failures: [{ reason: e.message }] };
    throw e;
  }
  const chosen = res.placements[0];
  if (chosen) return { ok: true, candidate: candidates.find((c) => c.id === chosen.containerInstanceId)! };
  return { ok: false, failures: res.failures.map((f) => ({ arn: f.arn, reason: f.reason })) };
}

/**
 * Creates `count` tasks of an ACTIVE task definition in a cluster, placing each on a
 * container instance with room (or on the named instances for StartTask). Tasks start
 * lastStatus PENDING (PROVISIONING for awsvpc), desiredStatus RUNNING; agents move them on. Returns what was
 * created and a failure per task that could not be placed. Throws ServiceErrors for bad
 * input (unknown cluster, inactive task definition, no instances at all).
 */
export async function launchTasks(s: Scope, spec: LaunchSpec): Promise<LaunchResult> {
  const clusterName = clusterNameOf(s, spec.cluster);
  await requireCluster(s, clusterName);
  const td =
    spec.resolvedTaskDefinition ??
    ((spec.allowInactiveTaskDefinition ? await requireTaskDefinitionForService(s, spec.taskDefinition) : await requireActiveTaskDefinition(s, spec.taskDefinition)));
  if (spec.count < 1 || spec.count > 10) throw ecsErrors.invalidParameter('count must be between 1 and 10.');
  validateOverrides(td, spec.overrides);
  checkPlacementInput(spec.placementConstraints, spec.placementStrategy);
  const launchType = spec.launchType ?? 'EC2';
  const { store, clock } = s.platform;

  // FARGATE / MANAGED_INSTANCES are accepted but placed like EC2: Berth runs every task on
  // container instances registered by its agents.
  if (launchType === 'FARGATE' && !td.taskDefinition.compatibilities?.includes('FARGATE')) {
    throw ecsErrors.invalidParameter('Task definition does not support launch_type FARGATE.');
  }
  if (spec.containerInstances) {
    if (spec.containerInstances.length < 1 || spec.containerInstances.length > 10) throw ecsErrors.invalidParameter('Between 1 and 10 container instances must be given.');
    const writes: Write[] = [];
    const tasks: TaskRecord[] = [];
    const failures: ECS.Failure[] = [];
    const now = clock.now();
    for (const ref of spec.containerInstances) {
      const ci = await findContainerInstance(s, clusterName, ref);
      if (!ci || ci.value.status === 'INACTIVE') {
        failures.push({ arn: ref, reason: 'MISSING' });
        continue;
      }
      const attrs = Object.fromEntries((ci.value.attributes ?? []).map((a) => [a.name, a.value ?? null]));
      if (missingAttribute(attrs, td.taskDefinition.requiresAttributes)) {
        failures.push({ arn: ci.value.containerInstanceArn, reason: 'ATTRIBUTE' });
        continue;
      }
      const t = newTask(s, clusterName, td, { ...spec, launchType }, ci.value, now);
      tasks.push(t);
      writes.push(...newTaskWrites(s.region, clusterName, t));
    }
    if (writes.length) await store.commit(writes);
    return { tasks, failures };
  }

  const tasks: TaskRecord[] = [];
  const failures: ECS.Failure[] = [];
  const needs = taskNeeds(td.taskDefinition, spec.overrides);
  const requirements: LaunchRequirements = {
    ...needs,
    group: spec.group ?? `family:${td.taskDefinition.family}`,
    constraints: [...taskDefinitionConstraints(td.taskDefinition), ...(spec.placementConstraints ?? [])],
    strategy: spec.placementStrategy ?? [],
    requiredAttributes: td.taskDefinition.requiresAttributes,
  };
  const strategy = spec.capacityProviderStrategy?.length ? spec.capacityProviderStrategy : undefined;
  const providerCounts = new Map(Object.entries(spec.providerCounts ?? {}));
  for (let n = 0; n < spec.count; n++) {
    const provider = strategy ? nextProvider(strategy, providerCounts) : undefined;
    if (strategy && !provider) {
      failures.push({ reason: 'No capacity provider in the strategy has a weight above 0 or a base left to fill.' });
      break;
    }
    // Another launch that placed on the same instance first makes the commit fail: place again
    // on what is left.
    const placed = await retrying(`Placement in cluster ${clusterName}`, async () => {
      const { candidates: all, records } = await candidatesFor(s, clusterName);
      if (records.size === 0) {
        if (tasks.length === 0) throw ecsErrors.noContainerInstances();
        failures.push({ reason: 'No Container Instances were found in your cluster.' });
        return false;
      }
      const candidates = provider && !isFargateProvider(provider) ? all.filter((c) => c.attributes[CAPACITY_PROVIDER_ATTRIBUTE] === provider) : all;
      if (provider && candidates.length === 0) {
        failures.push({ reason: `No Container Instances of capacity provider ${provider} were found in your cluster (instances join it with the attribute ${CAPACITY_PROVIDER_ATTRIBUTE}=${provider}).` });
        return false;
      }
      const res = placeTask(candidates, requirements);
      if (!res.ok) {
        if (res.failures.length) failures.push(...res.failures);
        else failures.push({ reason: 'No ACTIVE container instances with a connected agent were found in your cluster.' });
        return false;
      }
      const ciRec = records.get(res.candidate.id)!;
      const taskLaunchType = provider ? (isFargateProvider(provider) ? 'FARGATE' : 'EC2') : launchType;
      const t = newTask(s, clusterName, td, { ...spec, launchType: taskLaunchType }, ciRec.value, clock.now());
      if (provider) {
        t.capacityProviderName = provider;
        providerCounts.set(provider, (providerCounts.get(provider) ?? 0) + 1);
      }
      await store.commit([
        { kind: KIND.containerInstance, key: ciRec.key, value: { ...ciRec.value, version: ciRec.value.version + 1 }, expectRev: ciRec.rev },
        ...newTaskWrites(s.region, clusterName, t),
      ]);
      tasks.push(t);
      return true;
    });
    if (!placed) break;
  }
  return { tasks, failures };
}
