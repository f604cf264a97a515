/**
 * Auto Scaling resources: AWS::AutoScaling::LaunchConfiguration and AutoScalingGroup, through
 * the Auto Scaling API. A group is complete once its desired instances are InService (their
 * agents registered), which is what a CreationPolicy's ResourceSignal stands for here (the
 * instances' cfn-signal never runs on an agent host). Deleting a group terminates its instances
 * (draining their tasks) and waits until they are gone.
 */
import { nameWithin, type ProviderContext, type ResourceProvider } from '../types.js';

type Out = Record<string, unknown>;
const asg = <T = Out>(ctx: ProviderContext, op: string, input: Record<string, unknown>) => ctx.invoker.call<T>(ctx.scope, 'autoscaling', op, input);
const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
const isMissing = (e: unknown) => /not found/i.test(String((e as Error)?.message ?? '')) && (e as { code?: string })?.code === 'ValidationError';

const launchConfiguration: ResourceProvider = {
  async create(props, ctx) {
    const name = str(props.LaunchConfigurationName) ?? nameWithin(ctx.plannedName, 255);
    await asg(ctx, 'CreateLaunchConfiguration', {
      LaunchConfigurationName: name,
      ImageId: props.ImageId,
      InstanceType: props.InstanceType,
      SecurityGroups: props.SecurityGroups,
      UserData: props.UserData,
      IamInstanceProfile: props.IamInstanceProfile,
      KeyName: props.KeyName,
      AssociatePublicIpAddress: props.AssociatePublicIpAddress,
    });
    return { physicalId: name, attributes: {} };
  },
  async delete(physicalId, props, ctx) {
    const name = physicalId ?? str(props.LaunchConfigurationName) ?? nameWithin(ctx.plannedName, 255);
    try {
      await asg(ctx, 'DeleteLaunchConfiguration', { LaunchConfigurationName: name });
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
  },
};

interface GroupOut {
  AutoScalingGroups?: Array<{ DesiredCapacity?: number; Instances?: Array<{ InstanceId?: string; LifecycleState?: string; HealthStatus?: string }> }>;
}

async function describe(ctx: ProviderContext, name: string) {
  return (await asg<GroupOut>(ctx, 'DescribeAutoScalingGroups', { AutoScalingGroupNames: [name] })).AutoScalingGroups?.[0];
}

/** Waits until the group has its desired number of InService instances and no other. */
async function waitInService(ctx: ProviderContext, name: string): Promise<void> {
  const deadline = ctx.clock.now() + ctx.stabilizeTimeoutMs;
  for (;;) {
    if (ctx.signal.aborted) throw new Error('Berth stopped while waiting for the group\'s instances');
    const g = await describe(ctx, name);
    const inService = (g?.Instances ?? []).filter((i) => i.LifecycleState === 'InService').length;
    if (g && inService === g.DesiredCapacity && (g.Instances ?? []).length === inService) return;
    if (ctx.clock.now() >= deadline) throw new Error(`Auto Scaling group ${name} did not reach ${g?.DesiredCapacity ?? '?'} InService instances within ${Math.round(ctx.stabilizeTimeoutMs / 1000)} s (${inService} are)`);
    await ctx.clock.sleep(500, ctx.signal);
  }
}

function groupInput(props: Out): Out {
  const subnets = Array.isArray(props.VPCZoneIdentifier) ? props.VPCZoneIdentifier.map(String).join(',') : str(props.VPCZoneIdentifier);
  return {
    LaunchConfigurationName: props.LaunchConfigurationName,
    LaunchTemplate: props.LaunchTemplate,
    MixedInstancesPolicy: props.MixedInstancesPolicy,
    MinSize: props.MinSize,
    MaxSize: props.MaxSize,
    DesiredCapacity: props.DesiredCapacity,
    VPCZoneIdentifier: subnets,
    AvailabilityZones: props.AvailabilityZones,
    HealthCheckType: props.HealthCheckType,
    HealthCheckGracePeriod: props.HealthCheckGracePeriod,
    DefaultCooldown: props.Cooldown,
    TerminationPolicies: props.TerminationPolicies,
    NewInstancesProtectedFromScaleIn: props.NewInstancesProtectedFromScaleIn,
  };
}

const autoScalingGroup: ResourceProvider = {
  async create(props, ctx) {
    const name = str(props.AutoScalingGroupName) ?? nameWithin(ctx.plannedName, 255);
    const own = Array.isArray(props.Tags) ? (props.Tags as Array<{ Key?: unknown; Value?: unknown; PropagateAtLaunch?: unknown }>) : [];
    const tags = [
      ...ctx.tags.filter((t) => !own.some((o) => o.Key === t.Key)).map((t) => ({ Key: t.Key, Value: t.Value, PropagateAtLaunch: true })),
      ...own.map((t) => ({ Key: t.Key, Value: t.Value, PropagateAtLaunch: t.PropagateAtLaunch === true || t.PropagateAtLaunch === 'true' })),
    ];
    await asg(ctx, 'CreateAutoScalingGroup', { AutoScalingGroupName: name, ...groupInput(props), Tags: tags });
    await waitInService(ctx, name);
    return { physicalId: name, attributes: {} };
  },
  async update(physicalId, props, _before, ctx) {
    await asg(ctx, 'UpdateAutoScalingGroup', { AutoScalingGroupName: physicalId, ...groupInput(props) });
    await waitInService(ctx, physicalId);
    return { physicalId, attributes: {} };
  },
  async delete(physicalId, props, ctx) {
    const name = physicalId ?? str(props.AutoScalingGroupName) ?? nameWithin(ctx.plannedName, 255);
    try {
      await asg(ctx, 'DeleteAutoScalingGroup', { AutoScalingGroupName: name, ForceDelete: true });
    } catch (e) {
      if (isMissing(e)) return;
      throw e;
    }
    const deadline = ctx.clock.now() + ctx.stabilizeTimeoutMs;
    while (await describe(ctx, name)) {
      if (ctx.clock.now() >= deadline || ctx.signal.aborted) throw new Error(`Auto Scaling group ${name} did not finish terminating its instances within ${Math.round(ctx.stabilizeTimeoutMs / 1000)} s`);
      await ctx.clock.sleep(500, ctx.signal);
    }
  },
};

export const autoScalingProviders: Record<string, ResourceProvider> = {
  'AWS::AutoScaling::LaunchConfiguration': launchConfiguration,
  'AWS::AutoScaling::AutoScalingGroup': autoScalingGroup,
};
