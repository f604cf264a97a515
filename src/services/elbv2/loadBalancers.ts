/** Application load balancers: create, describe, delete, attributes, subnets, IP address type, capacity reservation. */
import type * as ELB from '../../generated/elbv2.js';
import type { Handlers } from '../types.js';
import { elbErrors } from '../../domain/elbv2/errors.js';
import { changeLoadBalancer, createLoadBalancer, deleteLoadBalancer, listLoadBalancers } from '../../domain/elbv2/loadBalancers.js';
import { requireLb } from '../../domain/elbv2/lookup.js';
import { LB_ATTRIBUTES, applyAttributes, attributeList, checkElbName, defaultAttributes, mergeElbTags, paginate } from './attributes.js';
import { elbArn, newId, type LoadBalancerRecord } from '../../domain/elbv2/records.js';

/** The hosted zone id ALBs report (Berth answers for every region with one fixed id). */
export const CANONICAL_HOSTED_ZONE_ID = 'Z35SXDOTRQ7X7K';

/**
 * The DNS name of a load balancer. It ends in `.localhost`, which resolvers such as curl's and
 * browsers' map to loopback, so `curl http://<DNSName>:<port>/` reaches the listener on this host.
 */
export function dnsNameOf(name: string, id: string, region: string, scheme: string): string {
  return `${scheme === 'internal' ? 'internal-' : ''}${name}-${id}.${region}.elb.localhost`.toLowerCase();
}

export function describeLb(lb: LoadBalancerRecord, state: 'provisioning' | 'active' = 'active'): ELB.LoadBalancer {
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
 * The availability zones of a load balancer's subnets (Subnets or SubnetMappings, not both). Berth
 * has no VPCs: any subnet id is taken, and the subnets get zones a, b, c... of the region in the
 * order given.
 */
function zonesOf(region: string, input: { Subnets?: string[]; SubnetMappings?: ELB.SubnetMapping[] }): ELB.AvailabilityZone[] {
  if (input.Subnets?.length && input.SubnetMappings?.length) throw elbErrors.validation('You can specify subnets or subnet mappings, not both');
  const subnets = input.SubnetMappings?.length ? input.SubnetMappings.map((m) => m.SubnetId ?? '') : (input.Subnets ?? []);
  if (subnets.some((id) => id === '')) throw elbErrors.validation('Each subnet mapping needs a SubnetId');
  if (new Set(subnets).size !== subnets.length) throw elbErrors.validation('A subnet is given more than once');
  return subnets.map((s, i) => ({ ZoneName: `${region}${String.fromCharCode(97 + (i % 6))}`, SubnetId: s, LoadBalancerAddresses: [] }));
}

/** An IP address type this load balancer may have: `dualstack-without-public-ipv4` only for internet-facing ones, as on ALB. */
function checkIpAddressType(type: string, scheme: string): void {
  if (type === 'dualstack-without-public-ipv4' && scheme === 'internal') {
    throw elbErrors.invalidConfig("IP address type 'dualstack-without-public-ipv4' is only available for internet-facing load balancers");
  }
}

export const loadBalancerHandlers: Handlers<ELB.Operations> = {
  async CreateLoadBalancer(input, ctx) {
    const name = input.Name;
    checkElbName('Load balancer', name);
    const type = input.Type ?? 'application';
    if (type !== 'application') throw elbErrors.validation(`Berth provides application load balancers only; load balancer type '${type}' is not supported`);
    const scheme = input.Scheme ?? 'internet-facing';
    const tags = mergeElbTags([], input.Tags ?? []);
    const zones = zonesOf(ctx.region, input);
    if (zones.length === 0) throw elbErrors.validation('At least one subnet must be specified');
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
      securityGroups: input.SecurityGroups ?? [],
      availabilityZones: zones,
      vpcId: 'vpc-berth',
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
    return { LoadBalancers: [describeLb(lb, created ? 'provisioning' : 'active')] };
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
    return { LoadBalancers: page.map((lb) => describeLb(lb)), NextMarker: nextMarker };
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
    await changeLoadBalancer(ctx, input.LoadBalancerArn, (cur) => ({ ...cur, securityGroups: input.SecurityGroups }));
    return { SecurityGroupIds: input.SecurityGroups };
  },

  async SetSubnets(input, ctx) {
    await requireLb(ctx, input.LoadBalancerArn);
    const zones = zonesOf(ctx.region, input);
    if (zones.length === 0) throw elbErrors.validation('At least one subnet must be specified');
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
};
