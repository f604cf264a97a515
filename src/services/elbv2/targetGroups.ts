/** Target groups: create, describe, modify, delete, attributes, health check settings. */
import type * as ELB from '../../generated/elbv2.js';
import { changeTargetGroup, createTargetGroup, deleteTargetGroup, listTargetGroups } from '../../domain/elbv2/targetGroups.js';
import { targetGroupUsage } from '../../domain/elbv2/usage.js';
import type { Handlers } from '../types.js';
import { elbErrors } from '../../domain/elbv2/errors.js';
import { requireLb, requireTg } from '../../domain/elbv2/lookup.js';
import { TG_ATTRIBUTES, applyAttributes, attributeList, checkElbName, defaultAttributes, mergeElbTags, paginate } from './attributes.js';
import { elbArn, newId, type HealthCheckSettings, type TargetGroupRecord } from '../../domain/elbv2/records.js';

/** Checks a Matcher HttpCode: "200", "200,202", "200-299"; codes 200-499 as ALB allows. */
export function validMatcher(code: string): boolean {
  return code.split(',').every((part) => {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part.trim());
    if (!m) return false;
    const lo = Number(m[1]);
    const hi = m[2] ? Number(m[2]) : lo;
    return lo >= 200 && hi <= 499 && lo <= hi;
  });
}

export function describeTg(tg: TargetGroupRecord, lbArns: string[]): ELB.TargetGroup {
  const hc = tg.healthCheck;
  return {
    TargetGroupArn: tg.arn,
    TargetGroupName: tg.name,
    Protocol: tg.protocol as ELB.ProtocolEnum,
    ProtocolVersion: tg.protocolVersion,
    Port: tg.port,
    VpcId: tg.vpcId,
    HealthCheckProtocol: hc.protocol as ELB.ProtocolEnum,
    HealthCheckPort: hc.port,
    HealthCheckEnabled: hc.enabled,
    HealthCheckIntervalSeconds: hc.intervalSeconds,
    HealthCheckTimeoutSeconds: hc.timeoutSeconds,
    HealthyThresholdCount: hc.healthyThreshold,
    UnhealthyThresholdCount: hc.unhealthyThreshold,
    HealthCheckPath: hc.path,
    Matcher: { HttpCode: hc.matcher },
    LoadBalancerArns: lbArns,
    TargetType: tg.targetType as ELB.TargetTypeEnum,
    IpAddressType: tg.ipAddressType as ELB.TargetGroupIpAddressTypeEnum,
  };
}

type HcInput = Pick<
  ELB.CreateTargetGroupInput,
  | 'HealthCheckEnabled'
  | 'HealthCheckProtocol'
  | 'HealthCheckPort'
  | 'HealthCheckPath'
  | 'HealthCheckIntervalSeconds'
  | 'HealthCheckTimeoutSeconds'
  | 'HealthyThresholdCount'
  | 'UnhealthyThresholdCount'
  | 'Matcher'
>;

function healthCheckOf(base: HealthCheckSettings, input: HcInput): HealthCheckSettings {
  const hc: HealthCheckSettings = {
    enabled: input.HealthCheckEnabled ?? base.enabled,
    protocol: input.HealthCheckProtocol ?? base.protocol,
    port: input.HealthCheckPort ?? base.port,
    path: input.HealthCheckPath ?? base.path,
    intervalSeconds: input.HealthCheckIntervalSeconds ?? base.intervalSeconds,
    timeoutSeconds: input.HealthCheckTimeoutSeconds ?? base.timeoutSeconds,
    healthyThreshold: input.HealthyThresholdCount ?? base.healthyThreshold,
    unhealthyThreshold: input.UnhealthyThresholdCount ?? base.unhealthyThreshold,
    matcher: input.Matcher?.HttpCode ?? base.matcher,
  };
  if (hc.protocol !== 'HTTP' && hc.protocol !== 'HTTPS') throw elbErrors.validation(`Health check protocol '${hc.protocol}' is not valid for an application load balancer target group; use HTTP or HTTPS`);
  if (hc.port !== 'traffic-port' && !(/^\d+$/.test(hc.port) && Number(hc.port) >= 1 && Number(hc.port) <= 65535)) {
    throw elbErrors.validation(`Health check port '${hc.port}' must be 'traffic-port' or a port from 1 to 65535`);
  }
  if (!hc.path.startsWith('/') || hc.path.length > 1024) throw elbErrors.validation(`Health check path '${hc.path}' must start with '/' and be at most 1024 characters`);
  if (hc.timeoutSeconds >= hc.intervalSeconds) {
    throw elbErrors.validation(`Health check timeout (${hc.timeoutSeconds}) must be smaller than the interval (${hc.intervalSeconds})`);
  }
  if (input.Matcher?.GrpcCode !== undefined) throw elbErrors.validation('GrpcCode matchers apply to gRPC target groups, which Berth does not provide');
  if (!validMatcher(hc.matcher)) throw elbErrors.validation(`Health check matcher HttpCode '${hc.matcher}' is not valid: use codes from 200 to 499 like "200", "200,302" or "200-299"`);
  return hc;
}

export const targetGroupHandlers: Handlers<ELB.Operations> = {
  async CreateTargetGroup(input, ctx) {
    const name = input.Name;
    checkElbName('Target group', name);
    const targetType = input.TargetType ?? 'instance';
    if (targetType !== 'instance' && targetType !== 'ip') throw elbErrors.validation(`Berth supports target types 'instance' and 'ip'; '${targetType}' is not supported`);
    if (input.Protocol === undefined || input.Port === undefined) throw elbErrors.validation(`A protocol and a port are required for target groups of type '${targetType}'`);
    if (input.Protocol !== 'HTTP' && input.Protocol !== 'HTTPS') throw elbErrors.validation(`Protocol '${input.Protocol}' is not valid for an application load balancer target group; use HTTP or HTTPS`);
    const version = input.ProtocolVersion ?? 'HTTP1';
    if (!['HTTP1', 'HTTP2', 'GRPC'].includes(version)) throw elbErrors.validation(`Protocol version '${version}' must be HTTP1, HTTP2 or GRPC`);
    if (version !== 'HTTP1') throw elbErrors.validation(`Berth forwards to targets over HTTP/1.1; protocol version '${version}' is not supported`);
    const healthCheck = healthCheckOf(
      { enabled: true, protocol: input.Protocol, port: 'traffic-port', path: '/', intervalSeconds: 30, timeoutSeconds: 5, healthyThreshold: 5, unhealthyThreshold: 2, matcher: '200' },
      input,
    );
    const tags = mergeElbTags([], input.Tags ?? []);
    const id = newId();
    const record: TargetGroupRecord = {
      name,
      arn: elbArn(ctx, `targetgroup/${name}/${id}`),
      id,
      region: ctx.region,
      protocol: input.Protocol,
      protocolVersion: version,
      port: input.Port,
      vpcId: input.VpcId ?? 'vpc-berth',
      targetType,
      ipAddressType: input.IpAddressType ?? 'ipv4',
      healthCheck,
      attributes: defaultAttributes(TG_ATTRIBUTES),
      tags,
      createdAt: ctx.platform.clock.now(),
    };
    const { tg, created } = await createTargetGroup(
      ctx,
      record,
      (cur) =>
        cur.protocol === record.protocol &&
        cur.port === record.port &&
        cur.targetType === record.targetType &&
        cur.vpcId === record.vpcId &&
        JSON.stringify(cur.healthCheck) === JSON.stringify(record.healthCheck),
    );
    const usage = created ? new Map<string, Set<string>>() : await targetGroupUsage(ctx);
    return { TargetGroups: [describeTg(tg, [...(usage.get(tg.arn) ?? [])])] };
  },

  async DescribeTargetGroups(input, ctx) {
    const given = [input.LoadBalancerArn ? 1 : 0, input.Names?.length ? 1 : 0, input.TargetGroupArns?.length ? 1 : 0].reduce((a, b) => a + b, 0);
    if (given > 1) throw elbErrors.validation('Only one of LoadBalancerArn, Names and TargetGroupArns can be specified');
    let items = await listTargetGroups(ctx);
    const usage = await targetGroupUsage(ctx);
    if (input.LoadBalancerArn) {
      await requireLb(ctx, input.LoadBalancerArn);
      items = items.filter((r) => usage.get(r.value.arn)?.has(input.LoadBalancerArn!));
    }
    if (input.Names?.length) {
      for (const n of input.Names) if (!items.some((r) => r.value.name === n)) throw elbErrors.targetGroupNotFound(`Target groups '[${n}]' not found`);
      items = items.filter((r) => input.Names!.includes(r.value.name));
    }
    if (input.TargetGroupArns?.length) {
      for (const a of input.TargetGroupArns) if (!items.some((r) => r.value.arn === a)) throw elbErrors.targetGroupNotFound(`Target groups '[${a}]' not found`);
      items = items.filter((r) => input.TargetGroupArns!.includes(r.value.arn));
    }
    const { page, nextMarker } = paginate(items, input.Marker, input.PageSize);
    return { TargetGroups: page.map((tg) => describeTg(tg, [...(usage.get(tg.arn) ?? [])])), NextMarker: nextMarker };
  },

  async ModifyTargetGroup(input, ctx) {
    const next = await changeTargetGroup(ctx, input.TargetGroupArn, (tg) => ({ ...tg, healthCheck: healthCheckOf(tg.healthCheck, input) }));
    const usage = await targetGroupUsage(ctx);
    return { TargetGroups: [describeTg(next, [...(usage.get(next.arn) ?? [])])] };
  },

  async DeleteTargetGroup(input, ctx) {
    // Deleting a target group that does not exist succeeds, as on AWS.
    if (!input.TargetGroupArn.startsWith('arn:')) throw elbErrors.validation(`'${input.TargetGroupArn}' is not a valid target group ARN`);
    await deleteTargetGroup(ctx, input.TargetGroupArn);
    return {};
  },

  async DescribeTargetGroupAttributes(input, ctx) {
    const tg = await requireTg(ctx, input.TargetGroupArn);
    return { Attributes: attributeList(tg.value.attributes) };
  },

  async ModifyTargetGroupAttributes(input, ctx) {
    await requireTg(ctx, input.TargetGroupArn);
    if (!input.Attributes.length) throw elbErrors.validation('At least one attribute must be given');
    const rec = await changeTargetGroup(ctx, input.TargetGroupArn, (cur) => ({ ...cur, attributes: applyAttributes(TG_ATTRIBUTES, cur.attributes, input.Attributes, 'Target group') }));
    return { Attributes: attributeList(rec.attributes) };
  },
};
