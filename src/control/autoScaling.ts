/**
 * The Auto Scaling controller: keeps each group at its desired capacity of agent hosts, on the
 * platform clock, as a leadership duty. Per group and sweep:
 * - an instance whose agent process is not running is unhealthy and terminates (then replaced);
 * - a pending instance whose agent registered its container instance goes InService;
 * - a terminating instance's container instance is set DRAINING and the instance waits (at most
 *   `drainTimeoutMs`) until its tasks are gone; then its agent stops, the container instance is
 *   deregistered, and the instance leaves the group and EC2;
 * - missing instances launch (balanced across the group's subnets/zones); extra ones terminate
 *   (from the zone with most, oldest launch configuration, then oldest first);
 * - a group being deleted goes once its instances are gone.
 */
import type { Platform, Scope } from '../domain/platform.js';
import { addInstance, changeInstance, finishGroupDelete, launchSpecOf, listGroups, regionsWithGroups } from '../domain/autoscaling/groups.js';
import { clusterFromUserData, type AgentHostSupervisor } from '../domain/autoscaling/hosts.js';
import type { GroupInstance, GroupRecord } from '../domain/autoscaling/records.js';
import { newInstanceId, recordInstance, removeInstance } from '../domain/ec2/instances.js';
import { getEc2 } from '../domain/ec2/lookup.js';
import { zonesOf } from '../domain/ec2/zones.js';
import { clusterInstances, mutateInstance } from '../domain/ecs/instances.js';
import { liveTasksByInstance } from '../domain/ecs/liveIndex.js';
import { startLoop, type Loop } from './loop.js';

export interface AutoScalingOptions {
  intervalMs?: number;
  /** How long a terminating instance waits for its tasks to drain (default 5 minutes). */
  drainTimeoutMs?: number;
  /** Whether hosts can start yet (the endpoint they join is listening); until then nothing is done. */
  ready?: () => boolean;
  onError: (e: unknown) => void;
}

/** Starts the controller's loop. */
export function startAutoScaling(platform: Platform, hosts: AgentHostSupervisor, opts: AutoScalingOptions): Loop {
  const drainTimeoutMs = opts.drainTimeoutMs ?? 300_000;
  return startLoop(
    platform.clock,
    opts.intervalMs ?? 1_000,
    async () => {
      if (opts.ready && !opts.ready()) return;
      for (const region of await regionsWithGroups({ platform })) {
        const s: Scope = { platform, region };
        for (const g of await listGroups(s)) {
          try {
            await reconcileGroup(s, g, hosts, drainTimeoutMs);
          } catch (e) {
            opts.onError(e);
          }
        }
      }
    },
    opts.onError,
  );
}

/** The container instance an agent host registered (by its EC2 instance id), if any and not deregistered. */
async function containerInstanceOf(s: Scope, i: GroupInstance) {
  return (await clusterInstances(s, i.cluster).catch(() => [])).find((r) => r.value.ec2InstanceId === i.instanceId && r.value.status !== 'INACTIVE')?.value;
}

async function reconcileGroup(s: Scope, g: GroupRecord, hosts: AgentHostSupervisor, drainTimeoutMs: number): Promise<void> {
  const now = s.platform.clock.now();
  for (const i of g.instances) {
    const alive = hosts.running(i.instanceId);
    if (i.lifecycleState !== 'Terminating') {
      if (!alive) {
        await changeInstance(s, g.name, i.instanceId, (x) => (x.lifecycleState === 'Terminating' ? undefined : { ...x, healthStatus: 'Unhealthy', lifecycleState: 'Terminating', terminatingSince: now }));
        continue;
      }
      if (i.lifecycleState === 'Pending' && (await containerInstanceOf(s, i))) {
        await changeInstance(s, g.name, i.instanceId, (x) => (x.lifecycleState === 'Pending' ? { ...x, lifecycleState: 'InService' } : undefined));
      }
      continue;
    }
    // Terminating: drain first while the agent lives, then stop and forget it.
    const ci = await containerInstanceOf(s, i);
    if (alive && ci && now - (i.terminatingSince ?? now) < drainTimeoutMs) {
      const tasks = (await liveTasksByInstance(s, i.cluster)).get(ci.id) ?? [];
      if (tasks.length) {
        if (ci.status === 'ACTIVE') await mutateInstance(s, i.cluster, ci.id, (c) => (c.status === 'ACTIVE' ? { ...c, status: 'DRAINING', version: c.version + 1 } : undefined));
        continue;
      }
    }
    await hosts.stop(i.instanceId);
    if (ci) await mutateInstance(s, i.cluster, ci.id, (c) => (c.status === 'INACTIVE' ? undefined : { ...c, status: 'INACTIVE', agentConnected: false, deregisteredAt: now, version: c.version + 1 })).catch(() => undefined);
    await removeInstance(s, i.instanceId);
    await changeInstance(s, g.name, i.instanceId, () => null);
  }
  if (g.status) {
    await finishGroupDelete(s, g.name);
    return;
  }
  const fresh = (await listGroups(s)).find((x) => x.name === g.name);
  if (!fresh || fresh.status) return;
  const serving = fresh.instances.filter((i) => i.lifecycleState !== 'Terminating');
  if (serving.length < fresh.desiredCapacity) {
    for (let n = serving.length; n < fresh.desiredCapacity; n++) await launchOne(s, fresh, hosts);
  } else if (serving.length > fresh.desiredCapacity) {
    for (const victim of scaleInVictims(fresh, serving.length - fresh.desiredCapacity)) {
      await changeInstance(s, fresh.name, victim.instanceId, (x) => (x.lifecycleState === 'Terminating' ? undefined : { ...x, lifecycleState: 'Terminating', terminatingSince: now }));
    }
  }
}

/** Where the next instance goes: the subnet (or zone) with the fewest of the group's instances. */
function placement(g: GroupRecord): { subnetId?: string; zone?: string } {
  const serving = g.instances.filter((i) => i.lifecycleState !== 'Terminating');
  if (g.subnetIds.length) {
    const counts = g.subnetIds.map((id) => ({ id, n: serving.filter((i) => i.subnetId === id).length }));
    counts.sort((a, b) => a.n - b.n);
    return { subnetId: counts[0]!.id };
  }
  const zones = g.availabilityZones.map((z) => ({ z, n: serving.filter((i) => i.availabilityZone === z).length })).sort((a, b) => a.n - b.n);
  return { zone: zones[0]?.z };
}

async function launchOne(s: Scope, g: GroupRecord, hosts: AgentHostSupervisor): Promise<void> {
  const lc = await launchSpecOf(s, g);
  if (!lc) return;
  const where = placement(g);
  const subnet = where.subnetId ? await getEc2(s, 'subnet', where.subnetId).catch(() => undefined) : undefined;
  if (where.subnetId && !subnet) return; // its subnet is gone: nothing can launch there
  const zone = subnet?.availabilityZone ?? where.zone ?? zonesOf(s.region)[0]!.name;
  const now = s.platform.clock.now();
  const instance: GroupInstance = {
    instanceId: newInstanceId(),
    availabilityZone: zone,
    subnetId: subnet?.id,
    lifecycleState: 'Pending',
    healthStatus: 'Healthy',
    launchConfigurationName: lc.launchConfigurationName,
    launchTemplate: lc.launchTemplate,
    imageId: lc.imageId,
    instanceType: lc.instanceType,
    protectedFromScaleIn: g.newInstancesProtectedFromScaleIn,
    launchedAt: now,
    cluster: clusterFromUserData(lc.userData),
  };
  if (!(await addInstance(s, g.name, instance))) return;
  g.instances.push(instance);
  await recordInstance(s, instance.instanceId, {
    imageId: lc.imageId,
    instanceType: lc.instanceType,
    subnetId: subnet?.id,
    availabilityZone: zone,
    securityGroupIds: lc.securityGroups.filter((x) => x.startsWith('sg-')),
    tags: [{ key: 'aws:autoscaling:groupName', value: g.name }, ...g.tags.filter((t) => t.propagateAtLaunch).map((t) => ({ key: t.key, value: t.value }))],
  });
  try {
    await hosts.start({ instanceId: instance.instanceId, region: s.region, cluster: instance.cluster, availabilityZone: zone, instanceType: lc.instanceType, imageId: lc.imageId });
  } catch {
    // Not running: the next sweep finds it dead, terminates and replaces it.
  }
}

/** AWS's default termination policy, simplified: the zone with most instances, then instances of an older launch configuration, then the oldest; never a protected one. */
export function scaleInVictims(g: GroupRecord, count: number): GroupInstance[] {
  const pool = g.instances.filter((i) => i.lifecycleState !== 'Terminating' && !i.protectedFromScaleIn);
  const out: GroupInstance[] = [];
  while (out.length < count && pool.length) {
    const byZone = new Map<string, GroupInstance[]>();
    for (const i of pool) byZone.set(i.availabilityZone, [...(byZone.get(i.availabilityZone) ?? []), i]);
    const zone = [...byZone.values()].sort((a, b) => b.length - a.length)[0]!;
    zone.sort((a, b) => Number(a.launchConfigurationName === g.launchConfigurationName) - Number(b.launchConfigurationName === g.launchConfigurationName) || a.launchedAt - b.launchedAt);
    const victim = zone[0]!;
    out.push(victim);
    pool.splice(pool.indexOf(victim), 1);
  }
  return out;
}
