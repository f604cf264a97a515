/** Application load balancers: create, describe, delete, attributes, subnets, IP address type, capacity reservation. */
import type * as ELB from '../../generated/elbv2.js';
import type { Handlers } from '../types.js';
import type { Scope } from '../../domain/platform.js';
import { defaultSecurityGroup, resolveSecurityGroups, resolveSubnets } from '../../domain/ec2/lookup.js';
import { elbErrors } from '../../domain/elbv2/errors.js';
import { changeLoadBalancer, createLoadBalancer, deleteLoadBalancer, listLoadBalancers } from '../../domain/elbv2/loadBalancers.js';
import { requireLb } from '../../domain/elbv2/lookup.js';
import { LB_ATTRIBUTES, applyAttributes, attributeList, checkElbName, defaultAttributes, mergeElbTags, paginate } from './attributes.js';
import { elbArn, newId, type LoadBalancerRecord } from '../../domain/elbv2/records.js';
import { listAllListeners } from '../../domain/elbv2/listeners.js';
import type { DataPlaneView } from '../../domain/elbv2/dataPlane.js';

/** The hosted zone id ALBs report (Berth answers for every region with one fixed id). */
export const CANONICAL_HOSTED_ZONE_ID = 'Z35SXDOTRQ7X7K';

/**
 * The DNS name of a load balancer. It ends in `.localhost`, which resolvers such as curl's and
 * browsers' map to loopback, so `curl http://<DNSName>:<port>/` reaches the listener on this host.
 */
export function dnsNameOf(name: string, id: string, region: string, scheme: string): string {
  return `${scheme === 'internal' ? 'internal-' : ''}${name}-${id}.${region}.elb.localhost`.toLowerCase();
}

/**
 * A load balancer's state from its data plane: `active` once every listener is served,
 * `active_impaired` while one could not bind its port, `provisioning` while one is not applied yet.
 */
export async function loadBalancerStates(ctx: Scope, plane: DataPlaneView): Promise<(lb: LoadBalancerRecord) => ELB.LoadBalancerStateEnum> {
  const ports = new Map<string, number[]>();
  for (const l of await listAllListeners(ctx)) ports.set(l.value.lbArn, [...(ports.get(l.value.lbArn) ?? []), l.value.port]);
  return (lb) => {
    const states = (ports.get(lb.arn) ?? []).map((port) => plane.listenerState(port));
    return states.includes('failed') ? 'active_impaired' : states.includes('pending') ? 'provisioning' : 'active';
  };
}

export function describeLb(lb: LoadBalancerRecord, state: ELB.LoadBalancerStateEnum): ELB.LoadBalancer {
  return {
    LoadBalancerArn: lb.arn,
    DNSName: lb.dnsName,
    CanonicalHostedZoneId: CANONICAL_HOSTED_ZONE_ID,
    CreatedTime: new Date(lb.createdAt),
    LoadBalancerName: lb.name,
    Scheme: lb.scheme as ELB.LoadBalancerSchemeEnum,
    VpcId: lb.vpcId,
    State: { Code: state },
    Type: 'application',
    AvailabilityZones: lb.availabilityZones,
    SecurityGroups: lb.securityGroups,
    IpAddressType: lb.ipAddressType as ELB.IpAddressType,
  };
}

/**
 * The zones, VPC and subnets of a load balancer from its Subnets or SubnetMappings (not both),
 * checked against the EC2 model as ELBv2 does: every subnet exists (SubnetNotFound), all in one
 * VPC (InvalidSubnet), at most one per zone (InvalidConfigurationRequest), and at least two
 * zones (ValidationError). `subnet-a`, `subnet-b` and `subnet-c` name the default VPC's subnets
 * in zones a, b and c (see `resolveSubnets`), so callers written before EC2 was modelled work.
 */
async function placementOf(ctx: Scope, input: { Subnets?: string[]; SubnetMappings?: ELB.SubnetMapping[] }): Promise<{ zones: ELB.AvailabilityZone[]; vpcId: string }> {
  if (input.Subnets?.length && input.SubnetMappings?.length) throw elbErrors.validation('You can specify subnets or subnet mappings, not both');
  const ids = input.SubnetMappings?.length ? input.SubnetMappings.map((m) => m.SubnetId ?? '') : (input.Subnets ?? []);
  if (ids.some((id) => id === '')) throw elbErrors.validation('Each subnet mapping needs a SubnetId');
  if (new Set(ids).size !== ids.length) throw elbErrors.validation('A subnet is given more than once');
  if (ids.length === 0) throw elbErrors.validation('At least two subnets in two different Availability Zones must be specified');
  const subnets = await resolveSubnets(ctx, ids, (id) => elbErrors.subnetNotFound(id));
  const vpcs = new Set(subnets.map((s) => s.vpcId));
  if (vpcs.size > 1) throw elbErrors.invalidSubnet(`The subnets must all belong to the same VPC; they belong to ${[...vpcs].join(', ')}`);
  const zones = new Set(subnets.map((s) => s.availabilityZone));
  if (zones.size < subnets.length) throw elbErrors.invalidConfig('A load balancer cannot be attached to multiple subnets in the same Availability Zone');
  if (zones.size < 2) throw elbErrors.validation('At least two subnets in two different Availability Zones must be specified');
  return { zones: subnets.map((s) => ({ ZoneName: s.availabilityZone, SubnetId: s.id, LoadBalancerAddresses: [] })), vpcId: subnets[0]!.vpcId };
}

/** The security groups a load balancer names, each an existing group of its VPC (InvalidSecurityGroup); none: the VPC's default group. */
async function securityGroupsOf(ctx: Scope, ids: string[] | undefined, vpcId: string): Promise<string[]> {
  if (!ids?.length) {
    const def = await defaultSecurityGroup(ctx, vpcId);
    return def ? [def.id] : [];
  }
  const groups = await resolveSecurityGroups(ctx, ids, (id) => elbErrors.invalidSecurityGroup(`Security group '${id}' does not exist`));
  const other = groups.find((g) => g.vpcId !== vpcId);
  if (other) throw elbErrors.invalidSecurityGroup(`Security group '${other.id}' does not belong to VPC '${vpcId}'`);
  return groups.map((g) => g.id);
}

/** An IP address type this load balancer may have: `dualstack-without-public-ipv4` only for internet-facing ones, as on ALB. */
function checkIpAddressType(type: string, scheme: string): void {
  if (type === 'dualstack-without-public-ipv4' && scheme === 'internal') {
    throw elbErrors.invalidConfig("IP address type 'dualstack-without-public-ipv4' is only available for internet-facing load balancers");
  }
}

/** The load balancer operations; `plane` tells their state (see `loadBalancerStates`). */
export const loadBalancerHandlers = (plane: DataPlaneView): Handlers<ELB.Operations> => ({
  async CreateLoadBalancer(input, ctx) {
    const name = input.Name;
    checkElbName('Load balancer', name);
    const type = input.Type ?? 'application';
    if (type !== 'application') throw elbErrors.validation(`Berth provides application load balancers only; load balancer type '${type}' is not supported`);
    const scheme = input.Scheme ?? 'internet-facing';
    const tags = mergeElbTags([], input.Tags ?? []);
    const { zones, vpcId } = await placementOf(ctx, input);
    const securityGroups = await securityGroupsOf(ctx, input.SecurityGroups, vpcId);
    checkIpAddressType(input.IpAddressType ?? 'ipv4', scheme);
    const id = newId();
    const record: LoadBalancerRecord = {
      name,
      arn: elbArn(ctx, `loadbalancer/app/${name}/${id}`),
      id,
      region: ctx.region,
      dnsName: dnsNameOf(name, id, ctx.region, scheme),
      scheme,
      type,
      ipAddressType: input.IpAddressType ?? 'ipv4',
      securityGroups,
      availabilityZones: zones,
      vpcId,
      createdAt: ctx.platform.clock.now(),
      attributes: defaultAttributes(LB_ATTRIBUTES),
      tags,
    };
    // Same settings: AWS treats the call as idempotent and returns the existing load balancer.
    const { lb, created } = await createLoadBalancer(
      ctx,
      record,
      (cur) =>
        cur.scheme === scheme &&
        JSON.stringify(cur.availabilityZones.map((z) => z.SubnetId)) === JSON.stringify(zones.map((z) => z.SubnetId)) &&
        JSON.stringify(cur.securityGroups) === JSON.stringify(record.securityGroups),
    );
    return { LoadBalancers: [describeLb(lb, created ? 'provisioning' : (await loadBalancerStates(ctx, plane))(lb))] };
  },

  async DescribeLoadBalancers(input, ctx) {
    if (input.Names?.length && input.LoadBalancerArns?.length) throw elbErrors.validation('Load balancer names and load balancer ARNs cannot be specified at the same time');
    let items = await listLoadBalancers(ctx);
    if (input.Names?.length) {
      for (const n of input.Names) if (!items.some((r) => r.value.name === n)) throw elbErrors.loadBalancerNotFound(`Load balancers '[${n}]' not found`);
      items = items.filter((r) => input.Names!.includes(r.value.name));
    }
    if (input.LoadBalancerArns?.length) {
      if (input.LoadBalancerArns.length > 20) throw elbErrors.validation('At most 20 load balancer ARNs can be described at once');
      for (const a of input.LoadBalancerArns) if (!items.some((r) => r.value.arn === a)) throw elbErrors.loadBalancerNotFound(`Load balancer '${a}' not found`);
      items = items.filter((r) => input.LoadBalancerArns!.includes(r.value.arn));
    }
    const { page, nextMarker } = paginate(items, input.Marker, input.PageSize);
    const stateOf = await loadBalancerStates(ctx, plane);
    return { LoadBalancers: page.map((lb) => describeLb(lb, stateOf(lb))), NextMarker: nextMarker };
  },

  async DeleteLoadBalancer(input, ctx) {
    // Deleting a load balancer that does not exist succeeds, as on AWS.
    if (!input.LoadBalancerArn.startsWith('arn:')) throw elbErrors.validation(`'${input.LoadBalancerArn}' is not a valid load balancer ARN`);
    await deleteLoadBalancer(ctx, input.LoadBalancerArn);
    return {};
  },

  async DescribeLoadBalancerAttributes(input, ctx) {
    const lb = await requireLb(ctx, input.LoadBalancerArn);
    return { Attributes: attributeList(lb.value.attributes) };
  },

  async ModifyLoadBalancerAttributes(input, ctx) {
    await requireLb(ctx, input.LoadBalancerArn);
    if (!input.Attributes.length) throw elbErrors.validation('At least one attribute must be given');
    const rec = await changeLoadBalancer(ctx, input.LoadBalancerArn, (cur) => ({ ...cur, attributes: applyAttributes(LB_ATTRIBUTES, cur.attributes, input.Attributes, 'Load balancer') }));
    return { Attributes: attributeList(rec.attributes) };
  },

  async SetSecurityGroups(input, ctx) {
    const lb = await requireLb(ctx, input.LoadBalancerArn);
    const groups = await securityGroupsOf(ctx, input.SecurityGroups, lb.value.vpcId);
    await changeLoadBalancer(ctx, input.LoadBalancerArn, (cur) => ({ ...cur, securityGroups: groups }));
    return { SecurityGroupIds: groups };
  },

  async SetSubnets(input, ctx) {
    const lb = await requireLb(ctx, input.LoadBalancerArn);
    const { zones, vpcId } = await placementOf(ctx, input);
    if (vpcId !== lb.value.vpcId) throw elbErrors.invalidSubnet(`The subnets must belong to the load balancer's VPC ${lb.value.vpcId}`);
    if (input.EnablePrefixForIpv6SourceNat === 'on') throw elbErrors.validation('Source NAT for IPv6 prefixes applies to network load balancers, which Berth does not provide');
    const rec = await changeLoadBalancer(ctx, input.LoadBalancerArn, (cur) => {
      const ipAddressType = input.IpAddressType ?? cur.ipAddressType;
      checkIpAddressType(ipAddressType, cur.scheme);
      return { ...cur, availabilityZones: zones, ipAddressType };
    });
    return { AvailabilityZones: rec.availabilityZones, IpAddressType: rec.ipAddressType as ELB.IpAddressType };
  },

  async SetIpAddressType(input, ctx) {
    const rec = await changeLoadBalancer(ctx, input.LoadBalancerArn, (cur) => {
      checkIpAddressType(input.IpAddressType, cur.scheme);
      return { ...cur, ipAddressType: input.IpAddressType };
    });
    return { IpAddressType: rec.ipAddressType as ELB.IpAddressType };
  },

  async DescribeCapacityReservation(input, ctx) {
    // Berth reserves no capacity: an ALB without a reservation, whose zones hold none.
    await requireLb(ctx, input.LoadBalancerArn);
    return { CapacityReservationState: [] };
  },
});
