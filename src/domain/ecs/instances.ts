/**
 * ECS container instances in the store: the machines (agents) that run tasks. Registration
 * keeps the instance's total resources and attributes; what remains free is derived from the
 * live tasks placed on it (./liveIndex.ts) whenever it is needed, never stored.
 *
 * The agent channel keeps `agentConnected`, `lastHeartbeat` and `disconnectedAt` current:
 * every poll is a heartbeat (`recordHeartbeat`), and a sweep (`markStaleAgentsDisconnected`)
 * flips instances whose agent went silent. Every placement bumps the chosen instance's
 * `version` in the same commit as its new task, so two concurrent launches never overcommit it.
 */
import type * as ECS from '../../generated/ecs.js';
import type { StoredRecord } from '../../store/types.js';
import type { CqlInstance } from '../placement/cql.js';
import type { ContainerInstanceView } from '../placement/types.js';
import { hexId } from '../common.js';
import { mutate, retrying } from '../mutate.js';
import { ecsErrors } from './errors.js';
import { KIND, clusterNameOf, clusterScopedKey, containerInstanceArn, resourceRefOf, type Scope } from './keys.js';
import { liveTasksByInstance } from './liveIndex.js';
import type { ContainerInstanceRecord, TaskRecord } from './records.js';

/**
 * One container instance as placement sees it: the engine's instance view (remaining resources
 * = registered minus what live tasks reserve; usedPorts = ports taken) plus the groups of the
 * live tasks on it (for spread, distinctInstance and `task:group`).
 */
export interface PlacementCandidate extends ContainerInstanceView {
  taskGroups: string[];
}

/** The instance's registered totals as numbers and port sets. */
export function registeredTotals(resources: ECS.Resource[]) {
  const get = (n: string) => resources.find((r) => r.name === n);
  const num = (r?: ECS.Resource) => r?.integerValue ?? r?.longValue ?? (r?.doubleValue !== undefined ? Math.floor(r.doubleValue) : 0);
  return {
    cpu: num(get('CPU')),
    memory: num(get('MEMORY')),
    ports: new Set((get('PORTS')?.stringSetValue ?? []).map(Number)),
    udpPorts: new Set((get('PORTS_UDP')?.stringSetValue ?? []).map(Number)),
  };
}

/** Remaining CPU/memory and the ports in use, given the live tasks on the instance. */
export function remainingOf(ci: ContainerInstanceRecord, tasks: TaskRecord[]) {
  const t = registeredTotals(ci.registeredResources);
  let cpu = t.cpu;
  let memory = t.memory;
  const usedPorts = new Set(t.ports);
  const usedUdpPorts = new Set(t.udpPorts);
  for (const task of tasks) {
    cpu -= task.needs.cpu;
    memory -= task.needs.memory;
    for (const p of task.needs.ports) usedPorts.add(p);
    for (const p of task.needs.udpPorts) usedUdpPorts.add(p);
    for (const c of task.containers) {
      for (const b of c.networkBindings) if (b.hostPort) (b.protocol === 'udp' ? usedUdpPorts : usedPorts).add(b.hostPort);
    }
  }
  return { cpu, memory, usedPorts, usedUdpPorts };
}

/** The instance's attributes as a name -> value map (null for an attribute without a value). */
export function attributeMap(ci: ContainerInstanceRecord): Record<string, string | null> {
  return Object.fromEntries(ci.attributes.map((a) => [a.name, a.value ?? null]));
}

/** The instance as the cluster query language sees it (ListContainerInstances filters). */
export function cqlViewOf(ci: ContainerInstanceRecord, tasks: TaskRecord[]): CqlInstance {
  return {
    attributes: attributeMap(ci),
    ec2InstanceId: ci.ec2InstanceId,
    agentConnected: ci.agentConnected,
    agentVersion: ci.versionInfo.agentVersion,
    registeredAt: ci.registeredAt,
    runningTasksCount: tasks.filter((t) => t.lastStatus === 'RUNNING').length,
    taskGroups: tasks.map((t) => t.group),
  };
}

/** Loads an instance by id or ARN within a cluster. */
export async function findContainerInstance(s: Scope, clusterName: string, ref: string): Promise<StoredRecord<ContainerInstanceRecord> | undefined> {
  const r = resourceRefOf(s, 'container-instance', ref);
  if (!r || (r.cluster && r.cluster !== clusterName) || !/^[a-f0-9]{32}$/.test(r.id)) return undefined;
  return s.platform.store.get<ContainerInstanceRecord>(KIND.containerInstance, clusterScopedKey(s.region, clusterName, r.id));
}

/** Every instance of a cluster (any status). */
export async function clusterInstances(s: Scope, clusterName: string): Promise<StoredRecord<ContainerInstanceRecord>[]> {
  return s.platform.store.list<ContainerInstanceRecord>(KIND.containerInstance, { prefix: `${s.region}/${clusterName}/` });
}

/** How many instances of a cluster are registered (not INACTIVE). */
export async function instanceCount(s: Scope, clusterName: string): Promise<number> {
  return (await clusterInstances(s, clusterName)).filter((r) => r.value.status !== 'INACTIVE').length;
}

/**
 * Every non-INACTIVE instance of a cluster as placement candidates, plus the records they
 * came from (keyed by id) so the caller can commit against their revisions.
 */
export async function candidatesFor(s: Scope, clusterName: string): Promise<{ candidates: PlacementCandidate[]; records: Map<string, StoredRecord<ContainerInstanceRecord>> }> {
  const recs = (await clusterInstances(s, clusterName)).filter((r) => r.value.status !== 'INACTIVE');
  const byInstance = await liveTasksByInstance(s, clusterName);
  const records = new Map(recs.map((r) => [r.value.id, r]));
  const candidates = recs.map((r): PlacementCandidate => {
    const ci = r.value;
    const tasks = byInstance.get(ci.id) ?? [];
    const reg = registeredTotals(ci.registeredResources);
    const rem = remainingOf(ci, tasks);
    return {
      id: ci.id,
      arn: ci.containerInstanceArn,
      ec2InstanceId: ci.ec2InstanceId,
      status: ci.status,
      agentConnected: ci.agentConnected,
      agentVersion: ci.versionInfo.agentVersion,
      registeredAt: ci.registeredAt,
      attributes: attributeMap(ci),
      registeredCpu: reg.cpu,
      registeredMemory: reg.memory,
      remainingCpu: rem.cpu,
      remainingMemory: rem.memory,
      usedPorts: [...[...rem.usedPorts].map((port) => ({ port })), ...[...rem.usedUdpPorts].map((port) => ({ port, protocol: 'udp' as const }))],
      runningTasksCount: tasks.length,
      taskGroups: tasks.map((t) => t.group),
    };
  });
  return { candidates, records };
}

/**
 * Read-modify-write of an instance (by id or ARN); `change` returns the new record or undefined
 * for no change. Throws InvalidParameterException if the instance is unknown.
 */
export async function mutateInstance(s: Scope, cluster: string, ref: string, change: (ci: ContainerInstanceRecord) => ContainerInstanceRecord | undefined): Promise<ContainerInstanceRecord> {
  const clusterName = clusterNameOf(s, cluster);
  return retrying(`Container instance ${ref}`, async () => {
    const rec = await findContainerInstance(s, clusterName, ref);
    if (!rec) throw ecsErrors.containerInstanceNotFound(ref);
    const next = change(structuredClone(rec.value));
    if (!next) return rec.value;
    await s.platform.store.commit([{ kind: KIND.containerInstance, key: rec.key, value: next, expectRev: rec.rev }]);
    return next;
  });
}

/** What a registration brings: the instance's resources, attributes and identity. */
export interface InstanceRegistration {
  /** Re-registration keeps the identity of this instance (by id or ARN); it must exist. */
  containerInstanceArn?: string;
  /**
   * The id the instance takes when `containerInstanceArn` names none yet: an agent that joined
   * with a join token registers the identity it was issued (src/domain/iam/agents.ts).
   */
  issuedId?: string;
  /** Re-registration of the same EC2 instance (from its identity document) keeps the identity too. */
  ec2InstanceId?: string;
  registeredResources: ECS.Resource[];
  /** Built-in and custom attributes; merged into an existing instance's. */
  attributes: ECS.Attribute[];
  versionInfo?: ECS.VersionInfo;
  tags: ECS.Tag[];
  /** Merges attributes and tags (validating the attribute limit). */
  merge: { attributes(cur: ECS.Attribute[], add: ECS.Attribute[]): ECS.Attribute[]; tags(cur: ECS.Tag[], add: ECS.Tag[]): ECS.Tag[] };
}

/** Registers (or re-registers) a container instance; it is ACTIVE with its agent connected. */
export async function registerInstance(s: Scope, clusterName: string, reg: InstanceRegistration): Promise<ContainerInstanceRecord> {
  const { store, clock } = s.platform;
  const prefix = `${s.region}/${clusterName}/`;
  return retrying('Container instance registration', async () => {
    let existing: StoredRecord<ContainerInstanceRecord> | undefined;
    if (reg.containerInstanceArn) {
      existing = await findContainerInstance(s, clusterName, reg.containerInstanceArn);
      if (!existing && !reg.issuedId) throw ecsErrors.containerInstanceNotFound(reg.containerInstanceArn);
    } else if (reg.ec2InstanceId) {
      existing = (await clusterInstances(s, clusterName)).find((r) => r.value.ec2InstanceId === reg.ec2InstanceId && r.value.status !== 'INACTIVE');
    }
    const now = clock.now();
    const id = existing?.value.id ?? reg.issuedId ?? hexId();
    const rec: ContainerInstanceRecord = {
      id,
      containerInstanceArn: containerInstanceArn(s, clusterName, id),
      clusterName,
      ec2InstanceId: reg.ec2InstanceId ?? existing?.value.ec2InstanceId,
      status: 'ACTIVE',
      registeredResources: reg.registeredResources,
      attributes: existing ? reg.merge.attributes(existing.value.attributes, reg.attributes) : reg.attributes,
      versionInfo: reg.versionInfo ?? existing?.value.versionInfo ?? {},
      agentConnected: true,
      lastHeartbeat: now,
      registeredAt: existing?.value.registeredAt ?? now,
      version: (existing?.value.version ?? 0) + 1,
      tags: existing ? reg.merge.tags(existing.value.tags, reg.tags) : reg.tags,
    };
    await store.commit([{ kind: KIND.containerInstance, key: `${prefix}${id}`, value: rec, expectRev: existing?.rev ?? 0 }]);
    return rec;
  });
}

/**
 * Records an agent heartbeat: agentConnected (default true, clearing `disconnectedAt`) and
 * lastHeartbeat = now. With `minIntervalMs`, a heartbeat that would change nothing but a
 * lastHeartbeat written less than that long ago is not written again (agents re-poll at once
 * after every answer, and each write is a durable commit). Throws if the instance is unknown.
 */
export async function recordHeartbeat(
  s: Scope,
  cluster: string,
  containerInstance: string,
  opts: { connected?: boolean; versionInfo?: ECS.VersionInfo; minIntervalMs?: number } = {},
): Promise<ContainerInstanceRecord> {
  const now = s.platform.clock.now();
  const connected = opts.connected ?? true;
  return mutateInstance(s, cluster, containerInstance, (ci) => {
    if (
      opts.minIntervalMs !== undefined &&
      ci.agentConnected === connected &&
      opts.versionInfo === undefined &&
      ci.lastHeartbeat !== undefined &&
      now >= ci.lastHeartbeat &&
      now - ci.lastHeartbeat < opts.minIntervalMs
    ) {
      return undefined;
    }
    return {
      ...ci,
      agentConnected: connected,
      lastHeartbeat: now,
      disconnectedAt: connected ? undefined : ci.disconnectedAt ?? now,
      versionInfo: opts.versionInfo ?? ci.versionInfo,
    };
  });
}

/**
 * Marks agentConnected=false (and `disconnectedAt`) on the instances of a region whose last
 * heartbeat is older than `agentTimeoutMs`. Returns their ids.
 */
export async function markStaleAgentsDisconnected(s: Scope, agentTimeoutMs: number): Promise<string[]> {
  const now = s.platform.clock.now();
  const cutoff = now - agentTimeoutMs;
  const out: string[] = [];
  for (const r of await s.platform.store.list<ContainerInstanceRecord>(KIND.containerInstance, { prefix: `${s.region}/` })) {
    const ci = r.value;
    if (!ci.agentConnected || ci.status === 'INACTIVE' || (ci.lastHeartbeat ?? ci.registeredAt) >= cutoff) continue;
    const m = await mutate<ContainerInstanceRecord>(s.platform.store, KIND.containerInstance, r.key, (cur) =>
      cur && cur.agentConnected && cur.status !== 'INACTIVE' && (cur.lastHeartbeat ?? cur.registeredAt) < cutoff ? { ...cur, agentConnected: false, disconnectedAt: now } : undefined,
    );
    if (m.changed) out.push(ci.id);
  }
  return out;
}

/** Every region that has container instances (for sweeps that run per region). */
export async function regionsWithInstances(store: Scope['platform']['store']): Promise<string[]> {
  const regions = new Set<string>();
  for (const r of await store.list(KIND.containerInstance)) regions.add(r.key.slice(0, r.key.indexOf('/')));
  return [...regions];
}

/** One agent (container instance) as a status page shows it. Times are epoch ms. */
export interface AgentStatus {
  region: string;
  cluster: string;
  containerInstanceArn: string;
  status: ContainerInstanceRecord['status'];
  agentConnected: boolean;
  lastHeartbeat?: number;
  /** Tasks placed on it that are not STOPPED. */
  liveTasks: number;
}

/**
 * The agents of every region and cluster (INACTIVE instances left out), at most `limit` of them
 * in key order, and how many there are in all.
 */
export async function agentStatuses(store: Scope['platform']['store'], limit: number): Promise<{ agents: AgentStatus[]; total: number }> {
  const records = (await store.list<ContainerInstanceRecord>(KIND.containerInstance)).filter((r) => r.value.status !== 'INACTIVE');
  const live = new Map<string, number>();
  for (const e of await store.list(KIND.liveTaskOnInstance)) {
    const instanceKey = e.key.slice(0, e.key.lastIndexOf('/'));
    live.set(instanceKey, (live.get(instanceKey) ?? 0) + 1);
  }
  const agents = records.slice(0, limit).map((r) => ({
    region: r.key.slice(0, r.key.indexOf('/')),
    cluster: r.value.clusterName,
    containerInstanceArn: r.value.containerInstanceArn,
    status: r.value.status,
    agentConnected: r.value.agentConnected,
    lastHeartbeat: r.value.lastHeartbeat,
    liveTasks: live.get(r.key) ?? 0,
  }));
  return { agents, total: records.length };
}
