/**
 * Amazon EC2 Auto Scaling (awsQuery, 2011-01-01), the part Berth serves: launch configurations
 * and groups whose instances are agent hosts on this machine (the controller in
 * src/control/autoScaling.ts launches and terminates them; handlers only record what is wanted).
 */
import type * as ASG from '../../generated/autoscaling.js';
import { ServiceModel } from '../../protocol/model.js';
import { asgErrors } from '../../domain/autoscaling/errors.js';
import {
  createGroup,
  createLaunchConfiguration,
  deleteGroup,
  deleteLaunchConfiguration,
  listGroups,
  listLaunchConfigurations,
  setDesiredCapacity,
  terminateInstance,
  updateGroup,
  type GroupShape,
} from '../../domain/autoscaling/groups.js';
import type { GroupInstance, GroupLaunchTemplate, GroupRecord, LaunchConfigurationRecord } from '../../domain/autoscaling/records.js';
import { decodeToken, encodeToken } from '../../domain/common.js';
import type { Handlers, ServiceDefinition } from '../types.js';

const MAX_PAGE = 100;

/** A page of `items` (sorted by `keyOf`) after the token, at most `max` (default 50, at most 100). */
function page<T>(items: T[], keyOf: (t: T) => string, token: string | undefined, max: number | undefined): { items: T[]; next?: string } {
  const after = decodeToken(token, () => asgErrors.validation('The NextToken value is invalid.'));
  const size = Math.min(MAX_PAGE, Math.max(1, max ?? 50));
  const rest = after === undefined ? items : items.filter((t) => keyOf(t) > after);
  const out = rest.slice(0, size);
  return { items: out, next: rest.length > size ? encodeToken(keyOf(out[out.length - 1]!)) : undefined };
}

const subnetsOf = (v: string | undefined) => (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);

function shapeOf(input: ASG.CreateAutoScalingGroupType | ASG.UpdateAutoScalingGroupType): GroupShape {
  if (input.MixedInstancesPolicy) throw asgErrors.validation('Berth launches instances from a launch configuration or a launch template; mixed instances policies are not supported yet.');
  const lt = input.LaunchTemplate;
  return {
    launchConfigurationName: input.LaunchConfigurationName,
    launchTemplate: lt ? { id: lt.LaunchTemplateId, name: lt.LaunchTemplateName, version: lt.Version } : undefined,
    minSize: input.MinSize,
    maxSize: input.MaxSize,
    desiredCapacity: input.DesiredCapacity,
    subnetIds: input.VPCZoneIdentifier === undefined ? undefined : subnetsOf(input.VPCZoneIdentifier),
    availabilityZones: input.AvailabilityZones,
    healthCheckType: input.HealthCheckType,
    healthCheckGracePeriod: input.HealthCheckGracePeriod,
    defaultCooldown: input.DefaultCooldown,
    newInstancesProtectedFromScaleIn: input.NewInstancesProtectedFromScaleIn,
    terminationPolicies: input.TerminationPolicies,
  };
}

function describeLc(lc: LaunchConfigurationRecord): ASG.LaunchConfiguration {
  return {
    LaunchConfigurationName: lc.name,
    LaunchConfigurationARN: lc.arn,
    ImageId: lc.imageId,
    InstanceType: lc.instanceType,
    SecurityGroups: lc.securityGroups,
    UserData: lc.userData,
    IamInstanceProfile: lc.iamInstanceProfile,
    KeyName: lc.keyName,
    AssociatePublicIpAddress: lc.associatePublicIpAddress,
    CreatedTime: new Date(lc.createdAt),
    InstanceMonitoring: { Enabled: true },
    BlockDeviceMappings: [],
    EbsOptimized: false,
  };
}

const templateSpec = (t: GroupLaunchTemplate | undefined): ASG.LaunchTemplateSpecification | undefined => (t ? { LaunchTemplateId: t.id, LaunchTemplateName: t.name, Version: t.version } : undefined);

const describeInstance = (i: GroupInstance): ASG.Instance => ({
  InstanceId: i.instanceId,
  AvailabilityZone: i.availabilityZone,
  LifecycleState: i.lifecycleState,
  HealthStatus: i.healthStatus,
  LaunchConfigurationName: i.launchConfigurationName || undefined,
  LaunchTemplate: templateSpec(i.launchTemplate),
  InstanceType: i.instanceType,
  ProtectedFromScaleIn: i.protectedFromScaleIn,
});

function describeGroup(g: GroupRecord): ASG.AutoScalingGroup {
  return {
    AutoScalingGroupName: g.name,
    AutoScalingGroupARN: g.arn,
    LaunchConfigurationName: g.launchConfigurationName || undefined,
    LaunchTemplate: templateSpec(g.launchTemplate),
    MinSize: g.minSize,
    MaxSize: g.maxSize,
    DesiredCapacity: g.desiredCapacity,
    DefaultCooldown: g.defaultCooldown,
    AvailabilityZones: g.availabilityZones,
    VPCZoneIdentifier: g.subnetIds.join(','),
    HealthCheckType: g.healthCheckType,
    HealthCheckGracePeriod: g.healthCheckGracePeriod,
    Instances: g.instances.map(describeInstance),
    CreatedTime: new Date(g.createdAt),
    Status: g.status,
    TerminationPolicies: g.terminationPolicies,
    NewInstancesProtectedFromScaleIn: g.newInstancesProtectedFromScaleIn,
    TargetGroupARNs: g.targetGroupArns,
    LoadBalancerNames: [],
    SuspendedProcesses: [],
    EnabledMetrics: [],
    Tags: g.tags.map((t) => ({ ResourceId: g.name, ResourceType: 'auto-scaling-group', Key: t.key, Value: t.value, PropagateAtLaunch: t.propagateAtLaunch })),
  };
}

export const autoScalingHandlers: Handlers<ASG.Operations> = {
  async CreateLaunchConfiguration(input, ctx) {
    if (input.InstanceId) throw asgErrors.validation('Berth cannot copy a launch configuration from an instance: give ImageId and InstanceType.');
    if (!input.ImageId) throw asgErrors.validation('ImageId is required.');
    if (!input.InstanceType) throw asgErrors.validation('InstanceType is required.');
    if (input.UserData !== undefined && Buffer.byteLength(input.UserData) > 21_848) throw asgErrors.validation('UserData is larger than 16 KB once decoded.');
    await createLaunchConfiguration(ctx, {
      name: input.LaunchConfigurationName,
      imageId: input.ImageId,
      instanceType: input.InstanceType,
      securityGroups: input.SecurityGroups ?? [],
      userData: input.UserData,
      iamInstanceProfile: input.IamInstanceProfile,
      keyName: input.KeyName,
      associatePublicIpAddress: input.AssociatePublicIpAddress,
    });
    return {};
  },
  async DescribeLaunchConfigurations(input, ctx) {
    let all = await listLaunchConfigurations(ctx);
    if (input.LaunchConfigurationNames?.length) all = all.filter((lc) => input.LaunchConfigurationNames!.includes(lc.name));
    const p = page(all, (lc) => lc.name, input.NextToken, input.MaxRecords);
    return { LaunchConfigurations: p.items.map(describeLc), NextToken: p.next };
  },
  async DeleteLaunchConfiguration(input, ctx) {
    await deleteLaunchConfiguration(ctx, input.LaunchConfigurationName);
    return {};
  },
  async CreateAutoScalingGroup(input, ctx) {
    const shape = shapeOf(input);
    if ((input.Tags?.length ?? 0) > 50) throw asgErrors.validation('A group takes at most 50 tags.');
    const tags = (input.Tags ?? []).map((t) => ({ key: t.Key, value: t.Value ?? '', propagateAtLaunch: t.PropagateAtLaunch ?? false }));
    await createGroup(ctx, input.AutoScalingGroupName, { ...shape, minSize: input.MinSize, maxSize: input.MaxSize }, tags);
    return {};
  },
  async UpdateAutoScalingGroup(input, ctx) {
    await updateGroup(ctx, input.AutoScalingGroupName, shapeOf(input));
    return {};
  },
  async DescribeAutoScalingGroups(input, ctx) {
    let all = await listGroups(ctx);
    if (input.AutoScalingGroupNames?.length) all = all.filter((g) => input.AutoScalingGroupNames!.includes(g.name));
    const p = page(all, (g) => g.name, input.NextToken, input.MaxRecords);
    return { AutoScalingGroups: p.items.map(describeGroup), NextToken: p.next };
  },
  async DeleteAutoScalingGroup(input, ctx) {
    await deleteGroup(ctx, input.AutoScalingGroupName, input.ForceDelete ?? false);
    return {};
  },
  async SetDesiredCapacity(input, ctx) {
    await setDesiredCapacity(ctx, input.AutoScalingGroupName, input.DesiredCapacity);
    return {};
  },
  async TerminateInstanceInAutoScalingGroup(input, ctx) {
    const { group, instance } = await terminateInstance(ctx, input.InstanceId, input.ShouldDecrementDesiredCapacity);
    return {
      Activity: {
        ActivityId: crypto.randomUUID(),
        AutoScalingGroupName: group.name,
        Description: `Terminating EC2 instance: ${instance.instanceId}`,
        Cause: `At ${new Date(ctx.platform.clock.now()).toISOString()} instance ${instance.instanceId} was taken out of service in response to a user request${input.ShouldDecrementDesiredCapacity ? ', shrinking the capacity' : ''}.`,
        StartTime: new Date(ctx.platform.clock.now()),
        StatusCode: 'InProgress',
        Progress: 0,
      },
    };
  },
  async DescribeAutoScalingInstances(input, ctx) {
    const all = (await listGroups(ctx))
      .flatMap((g) => g.instances.map((i) => ({ g, i })))
      .filter((x) => !input.InstanceIds?.length || input.InstanceIds.includes(x.i.instanceId))
      .sort((a, b) => (a.i.instanceId < b.i.instanceId ? -1 : 1));
    const p = page(all, (x) => x.i.instanceId, input.NextToken, input.MaxRecords);
    return { AutoScalingInstances: p.items.map(({ g, i }) => ({ ...describeInstance(i), AutoScalingGroupName: g.name })), NextToken: p.next };
  },
};

export function autoScalingService(): ServiceDefinition {
  return {
    name: 'autoscaling',
    model: ServiceModel.load('autoscaling'),
    protocol: 'query',
    signingNames: ['autoscaling'],
    servedPart: 'launch configurations and Auto Scaling groups whose instances are Berth agent hosts (create, update, describe, delete, desired capacity, instance termination)',
    validationErrorCode: 'ValidationError',
    handlers: autoScalingHandlers,
  };
}
