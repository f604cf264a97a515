/**
 * Elastic Load Balancing v2 resources: LoadBalancer, TargetGroup, Listener and ListenerRule,
 * through the ELBv2 API.
 */
import { ignoreNotFound, mergedTags, nameWithin, type ProviderContext, type ResourceProvider } from '../types.js';

interface LoadBalancerOut {
  LoadBalancerArn?: string;
  LoadBalancerName?: string;
  DNSName?: string;
  CanonicalHostedZoneId?: string;
  SecurityGroups?: string[];
}

const call = <T = Record<string, unknown>>(ctx: ProviderContext, op: string, input: Record<string, unknown>) => ctx.invoker.call<T>(ctx.scope, 'elbv2', op, input);
/** The stack's and the resource's tags, or none at all (ELBv2 refuses an empty list). */
function elbTags(ctx: ProviderContext, own: unknown) {
  const tags = mergedTags(ctx.tags, own);
  return tags.length ? tags : undefined;
}
const keyValues = (v: unknown) => (Array.isArray(v) ? v : undefined);
/** `app/name/id` (or `net/...`) from a load balancer ARN; `targetgroup/name/id` from a target group's. */
const fullName = (arn: string, marker: string) => arn.slice(arn.indexOf(marker) + marker.length);

function lbAttributes(lb: LoadBalancerOut) {
  const arn = lb.LoadBalancerArn!;
  return {
    LoadBalancerArn: arn,
    DNSName: lb.DNSName,
    CanonicalHostedZoneID: lb.CanonicalHostedZoneId,
    LoadBalancerFullName: fullName(arn, ':loadbalancer/'),
    LoadBalancerName: lb.LoadBalancerName,
    SecurityGroups: lb.SecurityGroups ?? [],
  };
}

const loadBalancer: ResourceProvider = {
  async create(props, ctx) {
    const name = typeof props.Name === 'string' ? props.Name : nameWithin(ctx.plannedName, 32);
    const out = await call<{ LoadBalancers?: LoadBalancerOut[] }>(ctx, 'CreateLoadBalancer', {
      Name: name,
      Subnets: props.Subnets,
      SubnetMappings: props.SubnetMappings,
      SecurityGroups: props.SecurityGroups,
      Scheme: props.Scheme,
      Type: props.Type,
      IpAddressType: props.IpAddressType,
      Tags: elbTags(ctx, props.Tags),
    });
    const lb = out.LoadBalancers![0]!;
    if (keyValues(props.LoadBalancerAttributes)?.length) await call(ctx, 'ModifyLoadBalancerAttributes', { LoadBalancerArn: lb.LoadBalancerArn, Attributes: props.LoadBalancerAttributes });
    return { physicalId: lb.LoadBalancerArn!, attributes: lbAttributes(lb) };
  },
  async update(arn, props, before, ctx) {
    if (JSON.stringify(props.SecurityGroups) !== JSON.stringify(before.SecurityGroups) && props.SecurityGroups) await call(ctx, 'SetSecurityGroups', { LoadBalancerArn: arn, SecurityGroups: props.SecurityGroups });
    if (JSON.stringify(props.Subnets) !== JSON.stringify(before.Subnets) && props.Subnets) await call(ctx, 'SetSubnets', { LoadBalancerArn: arn, Subnets: props.Subnets });
    if (keyValues(props.LoadBalancerAttributes)?.length) await call(ctx, 'ModifyLoadBalancerAttributes', { LoadBalancerArn: arn, Attributes: props.LoadBalancerAttributes });
    const out = await call<{ LoadBalancers?: LoadBalancerOut[] }>(ctx, 'DescribeLoadBalancers', { LoadBalancerArns: [arn] });
    return { physicalId: arn, attributes: lbAttributes(out.LoadBalancers![0]!) };
  },
  async delete(arn, props, ctx) {
    if (!arn) {
      const name = typeof props.Name === 'string' ? props.Name : nameWithin(ctx.plannedName, 32);
      const out = await call<{ LoadBalancers?: LoadBalancerOut[] }>(ctx, 'DescribeLoadBalancers', { Names: [name] }).catch(() => ({ LoadBalancers: [] as LoadBalancerOut[] }));
      arn = out.LoadBalancers?.[0]?.LoadBalancerArn;
      if (!arn) return;
    }
    await ignoreNotFound(call(ctx, 'DeleteLoadBalancer', { LoadBalancerArn: arn }));
  },
};

const TG_MODIFIABLE = ['HealthCheckProtocol', 'HealthCheckPort', 'HealthCheckPath', 'HealthCheckEnabled', 'HealthCheckIntervalSeconds', 'HealthCheckTimeoutSeconds', 'HealthyThresholdCount', 'UnhealthyThresholdCount', 'Matcher'];

function tgAttributes(arn: string, name: string, lbs: string[] = []) {
  return { TargetGroupArn: arn, TargetGroupFullName: fullName(arn, ':'), TargetGroupName: name, LoadBalancerArns: lbs };
}

const targetGroup: ResourceProvider = {
  async create(props, ctx) {
    const name = typeof props.Name === 'string' ? props.Name : nameWithin(ctx.plannedName, 32);
    const { Targets, TargetGroupAttributes, Tags, Name: _n, ...rest } = props;
    const out = await call<{ TargetGroups?: Array<{ TargetGroupArn?: string }> }>(ctx, 'CreateTargetGroup', { ...rest, Name: name, Tags: elbTags(ctx, Tags) });
    const arn = out.TargetGroups![0]!.TargetGroupArn!;
    if (keyValues(TargetGroupAttributes)?.length) await call(ctx, 'ModifyTargetGroupAttributes', { TargetGroupArn: arn, Attributes: TargetGroupAttributes });
    if (keyValues(Targets)?.length) await call(ctx, 'RegisterTargets', { TargetGroupArn: arn, Targets });
    return { physicalId: arn, attributes: tgAttributes(arn, name) };
  },
  async update(arn, props, before, ctx) {
    const changed = Object.fromEntries(TG_MODIFIABLE.filter((k) => props[k] !== undefined).map((k) => [k, props[k]]));
    if (Object.keys(changed).length) await call(ctx, 'ModifyTargetGroup', { TargetGroupArn: arn, ...changed });
    if (keyValues(props.TargetGroupAttributes)?.length) await call(ctx, 'ModifyTargetGroupAttributes', { TargetGroupArn: arn, Attributes: props.TargetGroupAttributes });
    if (JSON.stringify(props.Targets) !== JSON.stringify(before.Targets)) {
      if (keyValues(before.Targets)?.length) await call(ctx, 'DeregisterTargets', { TargetGroupArn: arn, Targets: before.Targets });
      if (keyValues(props.Targets)?.length) await call(ctx, 'RegisterTargets', { TargetGroupArn: arn, Targets: props.Targets });
    }
    const out = await call<{ TargetGroups?: Array<{ TargetGroupName?: string; LoadBalancerArns?: string[] }> }>(ctx, 'DescribeTargetGroups', { TargetGroupArns: [arn] });
    const tg = out.TargetGroups![0]!;
    return { physicalId: arn, attributes: tgAttributes(arn, tg.TargetGroupName!, tg.LoadBalancerArns) };
  },
  async delete(arn, props, ctx) {
    if (!arn) {
      const name = typeof props.Name === 'string' ? props.Name : nameWithin(ctx.plannedName, 32);
      const out = await call<{ TargetGroups?: Array<{ TargetGroupArn?: string }> }>(ctx, 'DescribeTargetGroups', { Names: [name] }).catch(() => ({ TargetGroups: [] as Array<{ TargetGroupArn?: string }> }));
      arn = out.TargetGroups?.[0]?.TargetGroupArn;
      if (!arn) return;
    }
    await ignoreNotFound(call(ctx, 'DeleteTargetGroup', { TargetGroupArn: arn }));
  },
};

const listener: ResourceProvider = {
  async create(props, ctx) {
    const out = await call<{ Listeners?: Array<{ ListenerArn?: string }> }>(ctx, 'CreateListener', { ...props, Tags: elbTags(ctx, props.Tags) });
    const arn = out.Listeners![0]!.ListenerArn!;
    return { physicalId: arn, attributes: { ListenerArn: arn } };
  },
  async update(arn, props, _before, ctx) {
    const { LoadBalancerArn: _lb, ...rest } = props;
    await call(ctx, 'ModifyListener', { ...rest, ListenerArn: arn });
    return { physicalId: arn, attributes: { ListenerArn: arn } };
  },
  async delete(arn, _props, ctx) {
    if (arn) await ignoreNotFound(call(ctx, 'DeleteListener', { ListenerArn: arn }));
  },
};

const listenerRule: ResourceProvider = {
  async create(props, ctx) {
    const out = await call<{ Rules?: Array<{ RuleArn?: string; IsDefault?: boolean }> }>(ctx, 'CreateRule', props);
    const arn = out.Rules![0]!.RuleArn!;
    return { physicalId: arn, attributes: { RuleArn: arn, IsDefault: false } };
  },
  async update(arn, props, before, ctx) {
    await call(ctx, 'ModifyRule', { RuleArn: arn, Conditions: props.Conditions, Actions: props.Actions });
    if (String(props.Priority) !== String(before.Priority)) await call(ctx, 'SetRulePriorities', { RulePriorities: [{ RuleArn: arn, Priority: props.Priority }] });
    return { physicalId: arn, attributes: { RuleArn: arn, IsDefault: false } };
  },
  async delete(arn, _props, ctx) {
    if (arn) await ignoreNotFound(call(ctx, 'DeleteRule', { RuleArn: arn }));
  },
};

export const elbv2Providers: Record<string, ResourceProvider> = {
  'AWS::ElasticLoadBalancingV2::LoadBalancer': loadBalancer,
  'AWS::ElasticLoadBalancingV2::TargetGroup': targetGroup,
  'AWS::ElasticLoadBalancingV2::Listener': listener,
  'AWS::ElasticLoadBalancingV2::ListenerRule': listenerRule,
};
