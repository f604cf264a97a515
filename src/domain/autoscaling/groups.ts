/**
 * Auto Scaling's transitions: launch configurations, groups and their capacity, and the
 * instance changes its controller records (launch, in service, terminating, gone). Every write
 * goes through `mutate`; the controller's transitions report whether they changed anything.
 */
import { randomUUID } from 'node:crypto';
import { mutate } from '../mutate.js';
import type { Scope } from '../platform.js';
import { resolveSubnets } from '../ec2/lookup.js';
import { zonesOf } from '../ec2/zones.js';
import { getLaunchTemplate, getLaunchTemplateVersion } from '../ec2/launchTemplates.js';
import { asgErrors } from './errors.js';
import { GROUP_KIND, LAUNCH_CONFIG_KIND, MAX_GROUPS, MAX_INSTANCES_PER_GROUP, MAX_LAUNCH_CONFIGURATIONS, asgKey, type GroupInstance, type GroupLaunchTemplate, type GroupRecord, type LaunchConfigurationRecord } from './records.js';

const arnOf = (s: Scope, kind: 'autoScalingGroup' | 'launchConfiguration', name: string) =>
  `arn:aws:autoscaling:${s.region}:${s.platform.accountId}:${kind}:${randomUUID()}:${kind}Name/${name}`;

/** Launch configurations of a region, in name order. */
export async function listLaunchConfigurations(s: Scope): Promise<LaunchConfigurationRecord[]> {
  return (await s.platform.store.list<LaunchConfigurationRecord>(LAUNCH_CONFIG_KIND, { prefix: `${s.region}/` })).map((r) => r.value);
}

export async function getLaunchConfiguration(s: Scope, name: string): Promise<LaunchConfigurationRecord | undefined> {
  return (await s.platform.store.get<LaunchConfigurationRecord>(LAUNCH_CONFIG_KIND, asgKey(s.region, name)))?.value;
}

export async function createLaunchConfiguration(s: Scope, lc: Omit<LaunchConfigurationRecord, 'arn' | 'createdAt'>): Promise<LaunchConfigurationRecord> {
  if ((await listLaunchConfigurations(s)).length >= MAX_LAUNCH_CONFIGURATIONS) throw asgErrors.limitExceeded(`You have ${MAX_LAUNCH_CONFIGURATIONS} launch configurations in ${s.region}, the most allowed: delete some first.`);
  const rec: LaunchConfigurationRecord = { ...lc, arn: arnOf(s, 'launchConfiguration', lc.name), createdAt: s.platform.clock.now() };
  await mutate<LaunchConfigurationRecord>(s.platform.store, LAUNCH_CONFIG_KIND, asgKey(s.region, lc.name), (cur) => {
    if (cur) throw asgErrors.alreadyExists('Launch Configuration', lc.name);
    return rec;
  });
  return rec;
}

export async function deleteLaunchConfiguration(s: Scope, name: string): Promise<void> {
  const users = (await listGroups(s)).filter((g) => g.launchConfigurationName === name);
  if (users.length) throw asgErrors.inUse(`Cannot delete launch configuration ${name} because it is attached to AutoScalingGroup ${users[0]!.name}`);
  const out = await mutate<LaunchConfigurationRecord>(s.platform.store, LAUNCH_CONFIG_KIND, asgKey(s.region, name), (cur) => (cur ? null : undefined));
  if (!out.before) throw asgErrors.launchConfigurationNotFound(name);
}

/** Groups of a region, in name order. */
export async function listGroups(s: Scope): Promise<GroupRecord[]> {
  return (await s.platform.store.list<GroupRecord>(GROUP_KIND, { prefix: `${s.region}/` })).map((r) => r.value);
}

/** Every region that has a group (the controller's sweep). */
export async function regionsWithGroups(s: Pick<Scope, 'platform'>): Promise<string[]> {
  const rows = await s.platform.store.list<GroupRecord>(GROUP_KIND);
  return [...new Set(rows.map((r) => r.key.slice(0, r.key.indexOf('/'))))];
}

export async function getGroup(s: Scope, name: string): Promise<GroupRecord | undefined> {
  return (await s.platform.store.get<GroupRecord>(GROUP_KIND, asgKey(s.region, name)))?.value;
}

/** What a create or update gives of a group's shape. */
export interface GroupShape {
  launchConfigurationName?: string;
  /** A LaunchTemplateSpecification: the template by id or name, and its version (default `$Default`). */
  launchTemplate?: { id?: string; name?: string; version?: string };
  minSize?: number;
  maxSize?: number;
  desiredCapacity?: number;
  subnetIds?: string[];
  availabilityZones?: string[];
  healthCheckType?: string;
  healthCheckGracePeriod?: number;
  defaultCooldown?: number;
  newInstancesProtectedFromScaleIn?: boolean;
  terminationPolicies?: string[];
  targetGroupArns?: string[];
}

/** Checks sizes (min ≤ desired ≤ max, Berth's bound on hosts) and resolves subnets to zones. */
async function checkedShape(s: Scope, g: GroupRecord): Promise<GroupRecord> {
  if (!(g.minSize >= 0 && g.maxSize >= 0 && Number.isInteger(g.minSize) && Number.isInteger(g.maxSize))) throw asgErrors.validation('MinSize and MaxSize must be whole numbers of 0 or more.');
  if (g.minSize > g.maxSize) throw asgErrors.validation(`Max bound, ${g.maxSize}, must be greater than or equal to min bound, ${g.minSize}`);
  if (g.desiredCapacity < g.minSize) throw asgErrors.validation(`Desired capacity:${g.desiredCapacity} must be between the specified min size:${g.minSize} and max size:${g.maxSize}`);
  if (g.desiredCapacity > g.maxSize) throw asgErrors.validation(`Desired capacity:${g.desiredCapacity} must be between the specified min size:${g.minSize} and max size:${g.maxSize}`);
  if (g.desiredCapacity > MAX_INSTANCES_PER_GROUP) throw asgErrors.limitExceeded(`Berth runs at most ${MAX_INSTANCES_PER_GROUP} instances per group (each is an agent process on this host); asked for ${g.desiredCapacity}.`);
  if (g.subnetIds.length > 16) throw asgErrors.validation('VPCZoneIdentifier names at most 16 subnets.');
  if (g.subnetIds.length) {
    const subnets = await resolveSubnets(s, g.subnetIds, (id) => asgErrors.validation(`The subnet ID '${id.slice(0, 64)}' does not exist`));
    if (new Set(subnets.map((x) => x.vpcId)).size > 1) throw asgErrors.validation('The subnets of VPCZoneIdentifier must be in one VPC.');
    g.subnetIds = subnets.map((x) => x.id);
    g.availabilityZones = [...new Set(subnets.map((x) => x.availabilityZone))];
  } else {
    const zones = zonesOf(s.region).map((z) => z.name);
    if (!g.availabilityZones.length) throw asgErrors.validation('At least one Availability Zone or VPC Subnet is required.');
    for (const z of g.availabilityZones) if (!zones.includes(z)) throw asgErrors.validation(`Invalid Availability Zone: ${z.slice(0, 64)}`);
  }
  return g;
}

/** A group's launch template, checked: the template exists and has the version (resolved when an instance launches). */
async function checkedTemplate(s: Scope, spec: NonNullable<GroupShape['launchTemplate']>): Promise<GroupLaunchTemplate> {
  if (!!spec.id === !!spec.name) throw asgErrors.validation('A launch template is named by exactly one of LaunchTemplateId and LaunchTemplateName.');
  const version = spec.version ?? '$Default';
  const ref = { id: spec.id, name: spec.name };
  const t = (await getLaunchTemplate(s, ref).catch(() => undefined))?.value;
  if (!t) throw asgErrors.validation(`The launch template ${spec.id ?? spec.name} does not exist.`);
  if (!(await getLaunchTemplateVersion(s, ref, version).catch(() => undefined))) throw asgErrors.validation(`The launch template ${t.id} has no version ${version.slice(0, 20)}.`);
  return { id: t.id, name: t.name, version };
}

/** Where a group launches from: exactly one of a launch configuration and a launch template. */
async function launchSource(s: Scope, shape: GroupShape): Promise<Pick<GroupRecord, 'launchConfigurationName' | 'launchTemplate'> | undefined> {
  if (shape.launchConfigurationName !== undefined && shape.launchTemplate !== undefined) throw asgErrors.validation('Specify either LaunchConfigurationName or LaunchTemplate, not both.');
  if (shape.launchTemplate) return { launchConfigurationName: '', launchTemplate: await checkedTemplate(s, shape.launchTemplate) };
  if (shape.launchConfigurationName === undefined) return undefined;
  if (!(await getLaunchConfiguration(s, shape.launchConfigurationName))) throw asgErrors.launchConfigurationNotFound(shape.launchConfigurationName);
  return { launchConfigurationName: shape.launchConfigurationName, launchTemplate: undefined };
}

export async function createGroup(s: Scope, name: string, shape: GroupShape & { minSize: number; maxSize: number }, tags: GroupRecord['tags']): Promise<GroupRecord> {
  const source = await launchSource(s, shape);
  if (!source) throw asgErrors.validation('Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.');
  if ((await listGroups(s)).length >= MAX_GROUPS) throw asgErrors.limitExceeded(`You have ${MAX_GROUPS} Auto Scaling groups in ${s.region}, the most allowed.`);
  const rec = await checkedShape(s, {
    name,
    arn: arnOf(s, 'autoScalingGroup', name),
    ...source,
    minSize: shape.minSize,
    maxSize: shape.maxSize,
    desiredCapacity: shape.desiredCapacity ?? shape.minSize,
    subnetIds: shape.subnetIds ?? [],
    availabilityZones: shape.availabilityZones ?? [],
    healthCheckType: shape.healthCheckType ?? 'EC2',
    healthCheckGracePeriod: shape.healthCheckGracePeriod ?? 0,
    defaultCooldown: shape.defaultCooldown ?? 300,
    newInstancesProtectedFromScaleIn: shape.newInstancesProtectedFromScaleIn ?? false,
    terminationPolicies: shape.terminationPolicies ?? ['Default'],
    targetGroupArns: shape.targetGroupArns ?? [],
    tags,
    instances: [],
    createdAt: s.platform.clock.now(),
  });
  await mutate<GroupRecord>(s.platform.store, GROUP_KIND, asgKey(s.region, name), (cur) => {
    if (cur) throw asgErrors.alreadyExists('AutoScalingGroup', name);
    return rec;
  });
  return rec;
}

/** Changes a group; sizes are checked together (a new min or max moves desired into range, as AWS does). */
export async function updateGroup(s: Scope, name: string, shape: GroupShape): Promise<GroupRecord> {
  const source = await launchSource(s, shape);
  const cur = await getGroup(s, name);
  if (!cur) throw asgErrors.groupNotFound(name);
  const next: GroupRecord = { ...structuredClone(cur) };
  const { launchConfigurationName: _lc, launchTemplate: _lt, ...rest } = shape;
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v;
  if (source) Object.assign(next, source);
  if (shape.desiredCapacity === undefined) next.desiredCapacity = Math.min(next.maxSize, Math.max(next.minSize, next.desiredCapacity));
  if (shape.subnetIds !== undefined && shape.subnetIds.length === 0 && shape.availabilityZones === undefined) next.subnetIds = cur.subnetIds;
  const checked = await checkedShape(s, next);
  const out = await mutate<GroupRecord>(s.platform.store, GROUP_KIND, asgKey(s.region, name), (g) => {
    if (!g) throw asgErrors.groupNotFound(name);
    if (g.status) throw asgErrors.scalingInProgress(`AutoScalingGroup ${name} is being deleted.`);
    return { ...checked, instances: g.instances, status: g.status };
  });
  return out.value!;
}

export async function setDesiredCapacity(s: Scope, name: string, desired: number): Promise<void> {
  await mutate<GroupRecord>(s.platform.store, GROUP_KIND, asgKey(s.region, name), (g) => {
    if (!g) throw asgErrors.groupNotFound(name);
    if (g.status) throw asgErrors.scalingInProgress(`AutoScalingGroup ${name} is being deleted.`);
    if (desired < g.minSize || desired > g.maxSize) throw asgErrors.validation(`New SetDesiredCapacity value ${desired} is ${desired < g.minSize ? 'below min value' : 'above max value'} ${desired < g.minSize ? g.minSize : g.maxSize} for the AutoScalingGroup.`);
    if (desired > MAX_INSTANCES_PER_GROUP) throw asgErrors.limitExceeded(`Berth runs at most ${MAX_INSTANCES_PER_GROUP} instances per group.`);
    return desired === g.desiredCapacity ? undefined : { ...g, desiredCapacity: desired };
  });
}

/**
 * Deletes a group: one with instances needs `force` (then it is marked `Delete in progress`, its
 * instances terminate, and the controller removes it once they are gone).
 */
export async function deleteGroup(s: Scope, name: string, force: boolean): Promise<void> {
  await mutate<GroupRecord>(s.platform.store, GROUP_KIND, asgKey(s.region, name), (g) => {
    if (!g) throw asgErrors.groupNotFound(name);
    if (g.instances.length === 0) return null;
    if (!force) throw asgErrors.inUse('You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.');
    const now = s.platform.clock.now();
    return { ...g, status: 'Delete in progress', minSize: 0, maxSize: 0, desiredCapacity: 0, instances: g.instances.map((i) => (i.lifecycleState === 'Terminating' ? i : { ...i, lifecycleState: 'Terminating', terminatingSince: now })) };
  });
}

/** Marks an instance for termination (optionally lowering desired capacity); returns its group. */
export async function terminateInstance(s: Scope, instanceId: string, decrement: boolean): Promise<{ group: GroupRecord; instance: GroupInstance }> {
  const group = (await listGroups(s)).find((g) => g.instances.some((i) => i.instanceId === instanceId));
  if (!group) throw asgErrors.validation(`Instance Id not found - No managed instance found for instance ID: ${instanceId.slice(0, 64)}`);
  const out = await mutate<GroupRecord>(s.platform.store, GROUP_KIND, asgKey(s.region, group.name), (g) => {
    const inst = g?.instances.find((i) => i.instanceId === instanceId);
    if (!g || !inst) throw asgErrors.validation(`Instance Id not found - No managed instance found for instance ID: ${instanceId.slice(0, 64)}`);
    if (decrement && g.desiredCapacity - 1 < g.minSize) throw asgErrors.validation(`Currently, desiredSize equals minSize (${g.minSize}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.`);
    if (inst.lifecycleState === 'Terminating') return undefined;
    inst.lifecycleState = 'Terminating';
    inst.terminatingSince = s.platform.clock.now();
    if (decrement) g.desiredCapacity -= 1;
    return g;
  });
  return { group: out.value!, instance: out.value!.instances.find((i) => i.instanceId === instanceId)! };
}

/**
 * Changes one instance of a group as the controller decides (`null` removes it); reports
 * whether anything was written. A group gone, or the instance gone: nothing.
 */
export async function changeInstance(s: Scope, groupName: string, instanceId: string, change: (i: GroupInstance) => GroupInstance | null | undefined): Promise<boolean> {
  const out = await mutate<GroupRecord>(s.platform.store, GROUP_KIND, asgKey(s.region, groupName), (g) => {
    const i = g?.instances.findIndex((x) => x.instanceId === instanceId) ?? -1;
    if (!g || i < 0) return undefined;
    const next = change(g.instances[i]!);
    if (next === undefined) return undefined;
    if (next === null) g.instances.splice(i, 1);
    else g.instances[i] = next;
    return g;
  });
  return out.changed;
}

/** Adds a launched instance to a group, if the group still wants one more (false: it does not, or is gone). */
export async function addInstance(s: Scope, groupName: string, instance: GroupInstance): Promise<boolean> {
  const out = await mutate<GroupRecord>(s.platform.store, GROUP_KIND, asgKey(s.region, groupName), (g) => {
    if (!g || g.status) return undefined;
    if (g.instances.filter((i) => i.lifecycleState !== 'Terminating').length >= g.desiredCapacity) return undefined;
    g.instances.push(instance);
    return g;
  });
  return out.changed;
}

/** Removes a group being deleted once its instances are gone; reports whether it did. */
export async function finishGroupDelete(s: Scope, name: string): Promise<boolean> {
  const out = await mutate<GroupRecord>(s.platform.store, GROUP_KIND, asgKey(s.region, name), (g) => (g && g.status && g.instances.length === 0 ? null : undefined));
  return out.changed;
}

/** What an instance of a group launches as, from its launch configuration or its launch template's version (resolved now, as `$Latest` moves). */
export interface LaunchSpec {
  imageId: string;
  instanceType: string;
  securityGroups: string[];
  /** Base64, as given. */
  userData?: string;
  launchConfigurationName: string;
  launchTemplate?: GroupLaunchTemplate;
}

/** The group's launch spec; undefined when what it launches from is gone. */
export async function launchSpecOf(s: Scope, g: GroupRecord): Promise<LaunchSpec | undefined> {
  if (g.launchTemplate) {
    const v = await getLaunchTemplateVersion(s, { id: g.launchTemplate.id }, g.launchTemplate.version).catch(() => undefined);
    if (!v) return undefined;
    const d = v.data;
    const strings = (x: unknown) => (Array.isArray(x) ? x.filter((e): e is string => typeof e === 'string') : []);
    return {
      imageId: typeof d.ImageId === 'string' ? d.ImageId : '',
      instanceType: typeof d.InstanceType === 'string' ? d.InstanceType : '',
      securityGroups: [...strings(d.SecurityGroupIds), ...strings(d.SecurityGroups)],
      userData: typeof d.UserData === 'string' ? d.UserData : undefined,
      launchConfigurationName: '',
      launchTemplate: { ...g.launchTemplate, version: String(v.number) },
    };
  }
  const lc = await getLaunchConfiguration(s, g.launchConfigurationName);
  return lc && { imageId: lc.imageId, instanceType: lc.instanceType, securityGroups: lc.securityGroups, userData: lc.userData, launchConfigurationName: lc.name };
}
