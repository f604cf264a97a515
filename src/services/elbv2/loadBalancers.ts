/** Application load balancers: create, describe, delete, attributes. */
import type * as ELB from '../../generated/elbv2.js';
import type { Write } from '../../store/types.js';
import { mutate } from '../../domain/mutate.js';
import type { Handlers, RequestContext } from '../types.js';
import { elbErrors } from '../../domain/elbv2/errors.js';
import { listAll, requireLb, findLb } from '../../domain/elbv2/lookup.js';
import { LB_ATTRIBUTES, applyAttributes, attributeList, defaultAttributes, mergeElbTags, paginate } from './attributes.js';
import { KIND, elbArn, lbKey, newId, type LoadBalancerRecord } from '../../domain/elbv2/records.js';

const NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/;

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

function zonesOf(region: string, input: ELB.CreateLoadBalancerInput): ELB.AvailabilityZone[] {
  const subnets = input.SubnetMappings?.length ? input.SubnetMappings.map((m) => m.SubnetId ?? '') : (input.Subnets ?? []);
  if (new Set(subnets).size !== subnets.length) throw elbErrors.validation('A subnet is given more than once');
  return subnets.map((s, i) => ({ ZoneName: `${region}${String.fromCharCode(97 + (i % 6))}`, SubnetId: s, LoadBalancerAddresses: [] }));
}

export const loadBalancerHandlers: Handlers<ELB.Operations> = {
  async CreateLoadBalancer(input, ctx) {
    const name = input.Name;
    if (!NAME_RE.test(name) || name.toLowerCase().startsWith('internal-')) {
      throw elbErrors.validation(
        `Load balancer name '${name}' is not valid: use 1-32 letters, digits and hyphens, not starting or ending with a hyphen or starting with 'internal-'`,
      );
    }
    const type = input.Type ?? 'application';
    if (type !== 'application') throw elbErrors.validation(`Berth provides application load balancers only; load balancer type '${type}' is not supported`);
    const scheme = input.Scheme ?? 'internet-facing';
    const tags = mergeElbTags([], input.Tags ?? []);
    const zones = zonesOf(ctx.region, input);
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
    let existing: LoadBalancerRecord | undefined;
    await mutate<LoadBalancerRecord>(ctx.platform.store, KIND.lb, lbKey(ctx.region, name), (cur) => {
      if (!cur) return record;
      // Same settings: AWS treats the call as idempotent and returns the existing load balancer.
      const same =
        cur.scheme === scheme &&
        JSON.stringify(cur.availabilityZones.map((z) => z.SubnetId)) === JSON.stringify(zones.map((z) => z.SubnetId)) &&
        JSON.stringify(cur.securityGroups) === JSON.stringify(record.securityGroups);
      if (!same) throw elbErrors.duplicateLoadBalancerName();
      existing = cur;
      return undefined;
    });
    return { LoadBalancers: [existing ? describeLb(existing) : describeLb(record, 'provisioning')] };
  },

  async DescribeLoadBalancers(input, ctx) {
    if (input.Names?.length && input.LoadBalancerArns?.length) throw elbErrors.validation('Load balancer names and load balancer ARNs cannot be specified at the same time');
    let items = await listAll<LoadBalancerRecord>(ctx, KIND.lb, `${ctx.region}/`);
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
    const lb = await findLb(ctx, input.LoadBalancerArn);
    if (!lb) {
      if (!input.LoadBalancerArn.startsWith('arn:')) throw elbErrors.validation(`'${input.LoadBalancerArn}' is not a valid load balancer ARN`);
      return {};
    }
    if (lb.value.attributes['deletion_protection.enabled'] === 'true') {
      throw elbErrors.operationNotPermitted(`Load balancer '${lb.value.arn}' cannot be deleted because deletion protection is enabled`);
    }
    await deleteLbAndChildren(ctx, lb.value, lb.rev);
    return {};
  },

  async DescribeLoadBalancerAttributes(input, ctx) {
    const lb = await requireLb(ctx, input.LoadBalancerArn);
    return { Attributes: attributeList(lb.value.attributes) };
  },

  async ModifyLoadBalancerAttributes(input, ctx) {
    await requireLb(ctx, input.LoadBalancerArn);
    if (!input.Attributes.length) throw elbErrors.validation('At least one attribute must be given');
    const rec = await mutate<LoadBalancerRecord>(ctx.platform.store, KIND.lb, lbKey(ctx.region, input.LoadBalancerArn.split('/')[2]!), (cur) => {
      if (!cur || cur.arn !== input.LoadBalancerArn) throw elbErrors.loadBalancerNotFound();
      return { ...cur, attributes: applyAttributes(LB_ATTRIBUTES, cur.attributes, input.Attributes, 'Load balancer') };
    });
    return { Attributes: attributeList(rec.value!.attributes) };
  },

  async SetSecurityGroups(input, ctx) {
    const lb = await requireLb(ctx, input.LoadBalancerArn);
    await ctx.platform.store.commit([{ kind: KIND.lb, key: lb.key, value: { ...lb.value, securityGroups: input.SecurityGroups }, expectRev: lb.rev }]);
    return { SecurityGroupIds: input.SecurityGroups };
  },
};

/** Deletes a load balancer with its listeners and rules in one commit. */
async function deleteLbAndChildren(ctx: RequestContext, lb: LoadBalancerRecord, rev: number): Promise<void> {
  const writes: Write[] = [{ kind: KIND.lb, key: lbKey(ctx.region, lb.name), value: null, expectRev: rev }];
  for (const l of await listAll<{ lbArn: string }>(ctx, KIND.listener, `${ctx.region}/${lb.name}/`)) {
    if (l.value.lbArn === lb.arn) writes.push({ kind: KIND.listener, key: l.key, value: null, expectRev: l.rev });
  }
  const listenerKeys = new Set(writes.filter((w) => w.kind === KIND.listener).map((w) => w.key));
  for (const r of await listAll<unknown>(ctx, KIND.rule, `${ctx.region}/${lb.name}/`)) {
    const parent = r.key.split('/').slice(0, 3).join('/');
    if (listenerKeys.has(parent)) writes.push({ kind: KIND.rule, key: r.key, value: null, expectRev: r.rev });
  }
  await ctx.platform.store.commit(writes);
}
