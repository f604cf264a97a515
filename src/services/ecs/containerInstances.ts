/**
 * ECS container instance operations: registration (what agents call first), describe/list
 * (remaining resources and task counts derived from the live tasks on each), draining,
 * deregistration and attributes. The records and their transitions are the domain's
 * (src/domain/ecs/instances.ts).
 */
import type * as ECS from '../../generated/ecs.js';
import { mergeTags } from '../../domain/common.js';
import { requireCluster } from '../../domain/ecs/clusters.js';
import { ecsErrors } from '../../domain/ecs/errors.js';
import { cqlViewOf, findContainerInstance, mutateInstance, registerInstance, registeredTotals, remainingOf } from '../../domain/ecs/instances.js';
import { containerInstanceArn } from '../../domain/ecs/keys.js';
import { revokeInstanceKey } from '../../domain/iam/agents.js';
import { listContainerInstances } from '../../domain/ecs/listing.js';
import { liveTasksByInstance } from '../../domain/ecs/liveIndex.js';
import type { ContainerInstanceRecord, TaskRecord } from '../../domain/ecs/records.js';
import { compileCql, type CqlInstance } from '../../domain/placement/cql.js';
import { checkDescribeCount, checkMaxResults } from './validation.js';
import { instanceCapacityProvider } from '../../domain/ecs/capacityProviders.js';
import type { Handlers } from '../types.js';
import type { Scope } from '../../domain/platform.js';

const ATTR_NAME_RE = /^[A-Za-z0-9_.\-/]{1,128}$/;
const ATTR_VALUE_RE = /^[A-Za-z0-9_.\-/:@ ]{1,128}$/;

function resourcesOf(v: { cpu: number; memory: number; usedPorts: Set<number>; usedUdpPorts: Set<number> }): ECS.Resource[] {
  const set = (s: Set<number>) => [...s].sort((a, b) => a - b).map(String);
  return [
    { name: 'CPU', type: 'INTEGER', integerValue: v.cpu, doubleValue: 0, longValue: 0 },
    { name: 'MEMORY', type: 'INTEGER', integerValue: v.memory, doubleValue: 0, longValue: 0 },
    { name: 'PORTS', type: 'STRINGSET', stringSetValue: set(v.usedPorts), integerValue: 0, doubleValue: 0, longValue: 0 },
    { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: set(v.usedUdpPorts), integerValue: 0, doubleValue: 0, longValue: 0 },
  ];
}

/** The API shape of an instance, with counts and remaining resources from its live tasks. */
export function describeContainerInstance(ci: ContainerInstanceRecord, tasks: TaskRecord[], includeTags = false): ECS.ContainerInstance {
  const reg = registeredTotals(ci.registeredResources);
  return {
    containerInstanceArn: ci.containerInstanceArn,
    ec2InstanceId: ci.ec2InstanceId,
    capacityProviderName: instanceCapacityProvider(ci),
    version: ci.version,
    versionInfo: ci.versionInfo,
    status: ci.status,
    statusReason: ci.statusReason,
    agentConnected: ci.agentConnected,
    registeredAt: ci.registeredAt as unknown as Date,
    registeredResources: resourcesOf({ cpu: reg.cpu, memory: reg.memory, usedPorts: reg.ports, usedUdpPorts: reg.udpPorts }),
    remainingResources: resourcesOf(remainingOf(ci, tasks)),
    runningTasksCount: tasks.filter((t) => t.lastStatus === 'RUNNING').length,
    pendingTasksCount: tasks.filter((t) => ['PROVISIONING', 'PENDING', 'ACTIVATING'].includes(t.lastStatus)).length,
    attributes: ci.attributes,
    attachments: [],
    tags: includeTags ? ci.tags : undefined,
  };
}

function validateAttribute(a: ECS.Attribute): void {
  if (!ATTR_NAME_RE.test(a.name)) {
    throw ecsErrors.invalidParameter(`Attribute name '${a.name.slice(0, 200)}' is not valid: 1-128 letters, numbers, hyphens, underscores, periods and slashes.`);
  }
  if (a.value !== undefined && !ATTR_VALUE_RE.test(a.value)) {
    throw ecsErrors.invalidParameter(`Attribute value '${a.value.slice(0, 200)}' for '${a.name}' is not valid: 1-128 letters, numbers, spaces and _ . - / : @.`);
  }
  if (a.targetType !== undefined && a.targetType !== 'container-instance') throw ecsErrors.invalidParameter("targetType must be 'container-instance'.");
}

/** Checks attributes given to Put/DeleteAttributes: valid, each with a targetId naming a registered instance. */
async function checkAttributeTargets(ctx: Scope, clusterName: string, attributes: ECS.Attribute[]): Promise<void> {
  for (const a of attributes) {
    validateAttribute(a);
    if (!a.targetId) throw ecsErrors.invalidParameter(`Attribute '${a.name}' needs a targetId (the container instance ID or ARN).`);
    const rec = await findContainerInstance(ctx, clusterName, a.targetId);
    if (!rec || rec.value.status === 'INACTIVE') throw ecsErrors.targetNotFound(`Could not find ${a.targetId}.`);
  }
}

function mergeAttributes(cur: ECS.Attribute[], add: ECS.Attribute[]): ECS.Attribute[] {
  const m = new Map(cur.map((a) => [a.name, a]));
  for (const a of add) m.set(a.name, { name: a.name, value: a.value });
  if ([...m.values()].filter((a) => !a.name.startsWith('ecs.') && !a.name.startsWith('com.amazonaws.')).length > 10) {
    throw ecsErrors.attributeLimit('A container instance can have at most 10 custom attributes.');
  }
  return [...m.values()];
}

interface IdentityDocument {
  instanceId?: string;
  availabilityZone?: string;
  instanceType?: string;
  architecture?: string;
  imageId?: string;
}

function tasksOf(s: Scope, clusterName: string): Promise<Map<string, TaskRecord[]>> {
  return liveTasksByInstance(s, clusterName);
}

export const containerInstanceHandlers: Handlers<ECS.Operations> = {
  async DiscoverPollEndpoint(_input, ctx) {
    // One endpoint serves everything: the agent's polls, telemetry and Service Connect go where
    // this request went (whichever cluster or instance it names).
    return { endpoint: ctx.endpoint, telemetryEndpoint: ctx.endpoint, serviceConnectEndpoint: ctx.endpoint };
  },

  async RegisterContainerInstance(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    let doc: IdentityDocument = {};
    if (input.instanceIdentityDocument !== undefined) {
      try {
        doc = JSON.parse(input.instanceIdentityDocument) as IdentityDocument;
        if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not an object');
      } catch {
        throw ecsErrors.client('instanceIdentityDocument is not a valid JSON instance identity document.');
      }
    }
    const resources = input.totalResources ?? [];
    for (const r of resources) {
      if (!['CPU', 'MEMORY', 'PORTS', 'PORTS_UDP'].includes(r.name ?? '') && !(r.name ?? '').startsWith('GPU')) {
        throw ecsErrors.invalidParameter(`Unknown resource '${r.name ?? ''}': use CPU, MEMORY, PORTS or PORTS_UDP.`);
      }
      if ((r.name === 'CPU' || r.name === 'MEMORY') && (r.integerValue ?? r.longValue ?? r.doubleValue ?? -1) < 0) {
        throw ecsErrors.invalidParameter(`Resource ${r.name} needs a non-negative integerValue.`);
      }
      for (const p of r.stringSetValue ?? []) {
        if ((r.name === 'PORTS' || r.name === 'PORTS_UDP') && !/^\d{1,5}$/.test(p)) throw ecsErrors.invalidParameter(`Resource ${r.name} has a value '${p}' that is not a port number.`);
      }
    }
    for (const a of input.attributes ?? []) validateAttribute(a);
    const tags = mergeTags([], input.tags ?? [], ecsErrors.invalidParameter);
    const builtin: ECS.Attribute[] = [
      { name: 'ecs.os-type', value: 'linux' },
      { name: 'ecs.os-family', value: 'LINUX' },
      { name: 'ecs.cpu-architecture', value: doc.architecture === 'arm64' ? 'arm64' : 'x86_64' },
      { name: 'ecs.capability.task-eni' },
      { name: 'ecs.capability.container-health-check' },
      { name: 'ecs.capability.container-ordering' },
      { name: 'ecs.capability.execution-role-awslogs' },
      { name: 'ecs.capability.secrets.ssm.environment-variables' },
      { name: 'ecs.capability.env-files.s3' },
      { name: 'com.amazonaws.ecs.capability.task-iam-role' },
      { name: 'com.amazonaws.ecs.capability.logging-driver.awslogs' },
      { name: 'com.amazonaws.ecs.capability.logging-driver.json-file' },
      // As the ECS agent's default ECS_AVAILABLE_LOGGING_DRIVERS; Berth's agents capture output themselves.
      { name: 'com.amazonaws.ecs.capability.logging-driver.none' },
      { name: 'com.amazonaws.ecs.capability.docker-remote-api.1.18' },
      { name: 'com.amazonaws.ecs.capability.docker-remote-api.1.21' },
      ...(doc.availabilityZone ? [{ name: 'ecs.availability-zone', value: doc.availabilityZone }] : [{ name: 'ecs.availability-zone', value: `${ctx.region}a` }]),
      ...(doc.instanceType ? [{ name: 'ecs.instance-type', value: doc.instanceType }] : []),
      ...(doc.imageId ? [{ name: 'ecs.ami-id', value: doc.imageId }] : []),
    ];
    const rec = await registerInstance(ctx, cluster.clusterName, {
      containerInstanceArn: input.containerInstanceArn,
      // An agent key registers the one identity it was issued (the gateway checked the ARN names it).
      issuedId: ctx.principal.agent?.containerInstanceId,
      ec2InstanceId: doc.instanceId,
      registeredResources: resources,
      attributes: mergeAttributes(builtin, input.attributes ?? []),
      versionInfo: input.versionInfo,
      tags,
      merge: { attributes: mergeAttributes, tags: (cur, add) => mergeTags(cur, add, ecsErrors.invalidParameter) },
    });
    const tasks = (await tasksOf(ctx, cluster.clusterName)).get(rec.id) ?? [];
    return { containerInstance: describeContainerInstance(rec, tasks, true) };
  },

  async DeregisterContainerInstance(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const rec = await findContainerInstance(ctx, cluster.clusterName, input.containerInstance);
    if (!rec || rec.value.status === 'INACTIVE') throw ecsErrors.containerInstanceNotFound(input.containerInstance);
    const tasks = (await tasksOf(ctx, cluster.clusterName)).get(rec.value.id) ?? [];
    if (tasks.length && !input.force) {
      throw ecsErrors.invalidParameter(`Found ${tasks.length} live task(s) on the container instance. Stop them first, or pass force to deregister anyway (the tasks are orphaned).`);
    }
    const now = ctx.platform.clock.now();
    const next = await mutateInstance(ctx, cluster.clusterName, rec.value.id, (ci) => ({ ...ci, status: 'INACTIVE', agentConnected: false, deregisteredAt: now, version: ci.version + 1 }));
    // An instance that joined with a join token: its agent key dies with it.
    await revokeInstanceKey(ctx, cluster.clusterName, rec.value.id);
    return { containerInstance: describeContainerInstance(next, [], true) };
  },

  async DescribeContainerInstances(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    checkDescribeCount(input.containerInstances, 'Container instances', 100);
    const byInstance = await tasksOf(ctx, cluster.clusterName);
    const containerInstances: ECS.ContainerInstance[] = [];
    const failures: ECS.Failure[] = [];
    for (const ref of input.containerInstances) {
      const rec = await findContainerInstance(ctx, cluster.clusterName, ref);
      if (rec) containerInstances.push(describeContainerInstance(rec.value, byInstance.get(rec.value.id) ?? [], input.include?.includes('TAGS')));
      else failures.push({ arn: ref.startsWith('arn:') ? ref : containerInstanceArn(ctx, cluster.clusterName, ref), reason: 'MISSING' });
    }
    return { containerInstances, failures };
  },

  async ListContainerInstances(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const maxResults = checkMaxResults(input.maxResults, 100);
    let match: ((s: CqlInstance) => boolean) | undefined;
    if (input.filter !== undefined) {
      try {
        match = compileCql(input.filter);
      } catch (e) {
        throw ecsErrors.invalidParameter(`Invalid filter '${input.filter}': ${(e as Error).message}.`);
      }
    }
    const byInstance = match ? await tasksOf(ctx, cluster.clusterName) : new Map<string, TaskRecord[]>();
    const page = await listContainerInstances(ctx, cluster.clusterName, {
      token: input.nextToken,
      maxResults,
      filter: (ci) => {
        if (input.status ? ci.status !== input.status : ci.status === 'INACTIVE') return false;
        return match ? match(cqlViewOf(ci, byInstance.get(ci.id) ?? [])) : true;
      },
    });
    return { containerInstanceArns: page.items.map((ci) => ci.containerInstanceArn), nextToken: page.nextToken };
  },

  async UpdateContainerInstancesState(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    if (input.status !== 'ACTIVE' && input.status !== 'DRAINING') {
      throw ecsErrors.invalidParameter(`Container instances can only be set to ACTIVE or DRAINING (got '${input.status}').`);
    }
    if (input.containerInstances.length === 0 || input.containerInstances.length > 10) throw ecsErrors.invalidParameter('Between 1 and 10 container instances must be given.');
    const byInstance = await tasksOf(ctx, cluster.clusterName);
    const containerInstances: ECS.ContainerInstance[] = [];
    const failures: ECS.Failure[] = [];
    for (const ref of input.containerInstances) {
      const rec = await findContainerInstance(ctx, cluster.clusterName, ref);
      if (!rec || rec.value.status === 'INACTIVE') {
        failures.push({ arn: ref, reason: 'MISSING' });
        continue;
      }
      const next = await mutateInstance(ctx, cluster.clusterName, rec.value.id, (ci) => (ci.status === input.status ? undefined : { ...ci, status: input.status as 'ACTIVE' | 'DRAINING', version: ci.version + 1 }));
      containerInstances.push(describeContainerInstance(next, byInstance.get(next.id) ?? []));
    }
    return { containerInstances, failures };
  },

  async PutAttributes(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    if (input.attributes.length === 0 || input.attributes.length > 10) throw ecsErrors.invalidParameter('Between 1 and 10 attributes can be put at once.');
    // Check every attribute and target first, so a bad one leaves nothing half-applied.
    await checkAttributeTargets(ctx, cluster.clusterName, input.attributes);
    const byTarget = new Map<string, ECS.Attribute[]>();
    for (const a of input.attributes) byTarget.set(a.targetId!, [...(byTarget.get(a.targetId!) ?? []), a]);
    for (const [target, attrs] of byTarget) await mutateInstance(ctx, cluster.clusterName, target, (ci) => ({ ...ci, attributes: mergeAttributes(ci.attributes, attrs) }));
    return { attributes: input.attributes };
  },

  async DeleteAttributes(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    if (input.attributes.length === 0 || input.attributes.length > 10) throw ecsErrors.invalidParameter('Between 1 and 10 attributes can be deleted at once.');
    await checkAttributeTargets(ctx, cluster.clusterName, input.attributes);
    for (const a of input.attributes) {
      await mutateInstance(ctx, cluster.clusterName, a.targetId!, (ci) => ({ ...ci, attributes: ci.attributes.filter((x) => x.name !== a.name) }));
    }
    return { attributes: input.attributes };
  },

  async ListAttributes(input, ctx) {
    const cluster = await requireCluster(ctx, input.cluster);
    const maxResults = checkMaxResults(input.maxResults, 100);
    if (input.attributeValue !== undefined && input.attributeName === undefined) {
      throw ecsErrors.invalidParameter('attributeValue can only be given together with attributeName.');
    }
    // One page holds whole instances: the token is the last instance key, as elsewhere.
    const page = await listContainerInstances(ctx, cluster.clusterName, {
      token: input.nextToken,
      maxResults,
      filter: (ci) => ci.status !== 'INACTIVE' && ci.attributes.some((a) => matchAttr(a, input)),
    });
    const attributes = page.items.flatMap((ci) =>
      ci.attributes.filter((a) => matchAttr(a, input)).map((a) => ({ name: a.name, value: a.value, targetType: 'container-instance' as const, targetId: ci.containerInstanceArn })),
    );
    return { attributes, nextToken: page.nextToken };
  },
};

function matchAttr(a: ECS.Attribute, q: { attributeName?: string; attributeValue?: string }): boolean {
  if (q.attributeName !== undefined && a.name !== q.attributeName) return false;
  if (q.attributeValue !== undefined && a.value !== q.attributeValue) return false;
  return true;
}

