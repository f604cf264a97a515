/**
 * Application Auto Scaling resources: AWS::ApplicationAutoScaling::ScalableTarget (Ref: the
 * target's id `<resource id>|<dimension>|<namespace>`, as CloudFormation gives it) and
 * ::ScalingPolicy (Ref and Arn: the policy's ARN; the target from ScalingTargetId or from
 * ResourceId/ScalableDimension/ServiceNamespace), through Berth's Application Auto Scaling API.
 * Updates re-register the target or put the policy again under its name.
 */
import type { ProviderContext, ProvidedResource, ResourceProvider } from '../types.js';

type Out = Record<string, unknown>;
const call = <T = Out>(ctx: ProviderContext, op: string, input: Record<string, unknown>) => ctx.invoker.call<T>(ctx.scope, 'applicationautoscaling', op, input);
const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
const missing = (e: unknown) => (e as { code?: string })?.code === 'ObjectNotFoundException';

/** A target's three parts, from its id `<resource id>|<dimension>|<namespace>`. */
function partsOf(id: string): { ResourceId: string; ScalableDimension: string; ServiceNamespace: string } {
  const [ResourceId = '', ScalableDimension = '', ServiceNamespace = ''] = id.split('|');
  return { ResourceId, ScalableDimension, ServiceNamespace };
}

async function register(props: Record<string, unknown>, ctx: ProviderContext): Promise<ProvidedResource> {
  if (Array.isArray(props.ScheduledActions) && props.ScheduledActions.length) throw new Error('ScheduledActions are not supported by Berth yet: scale on policies (AWS::ApplicationAutoScaling::ScalingPolicy).');
  await call(ctx, 'RegisterScalableTarget', {
    ServiceNamespace: props.ServiceNamespace,
    ResourceId: props.ResourceId,
    ScalableDimension: props.ScalableDimension,
    MinCapacity: props.MinCapacity,
    MaxCapacity: props.MaxCapacity,
    RoleARN: props.RoleARN,
    SuspendedState: props.SuspendedState,
  });
  const id = `${props.ResourceId}|${props.ScalableDimension}|${props.ServiceNamespace}`;
  return { physicalId: id, attributes: { Id: id } };
}

const scalableTarget: ResourceProvider = {
  create: register,
  update: (_id, props, _before, ctx) => register(props, ctx),
  async delete(physicalId, props, ctx) {
    const parts = physicalId ? partsOf(physicalId) : { ResourceId: props.ResourceId, ScalableDimension: props.ScalableDimension, ServiceNamespace: props.ServiceNamespace };
    try {
      await call(ctx, 'DeregisterScalableTarget', parts);
    } catch (e) {
      if (!missing(e)) throw e;
    }
  },
};

/** The target a policy acts on: ScalingTargetId, else its own three properties. */
function policyTarget(props: Record<string, unknown>) {
  const id = str(props.ScalingTargetId);
  if (id) return partsOf(id);
  return { ResourceId: props.ResourceId, ScalableDimension: props.ScalableDimension, ServiceNamespace: props.ServiceNamespace };
}

async function putPolicy(props: Record<string, unknown>, ctx: ProviderContext): Promise<ProvidedResource> {
  const out = await call<{ PolicyARN: string }>(ctx, 'PutScalingPolicy', {
    ...policyTarget(props),
    PolicyName: props.PolicyName,
    PolicyType: props.PolicyType,
    TargetTrackingScalingPolicyConfiguration: props.TargetTrackingScalingPolicyConfiguration,
    StepScalingPolicyConfiguration: props.StepScalingPolicyConfiguration,
  });
  return { physicalId: out.PolicyARN, attributes: { Arn: out.PolicyARN }, notes: { target: policyTarget(props), name: props.PolicyName } };
}

const scalingPolicy: ResourceProvider = {
  create: putPolicy,
  update: (_id, props, _before, ctx) => putPolicy(props, ctx),
  async delete(_physicalId, props, ctx, notes) {
    const target = (notes.target as Out | undefined) ?? policyTarget(props);
    try {
      await call(ctx, 'DeleteScalingPolicy', { ...target, PolicyName: notes.name ?? props.PolicyName });
    } catch (e) {
      if (!missing(e)) throw e;
    }
  },
};

export const applicationAutoScalingProviders: Record<string, ResourceProvider> = {
  'AWS::ApplicationAutoScaling::ScalableTarget': scalableTarget,
  'AWS::ApplicationAutoScaling::ScalingPolicy': scalingPolicy,
};
