/**
 * ELBv2 records as stored, where they live and how their ARNs are written. Every key starts with
 * the region, so regions are separate as on AWS. Child records (listeners, rules, targets) are
 * keyed under their parent's name, and each record keeps its parent's ARN so a parent recreated
 * under the same name never adopts the old children (they are deleted with the parent).
 */
import type * as ELB from '../../generated/elbv2.js';
import { arn, hexId, parseArn } from '../common.js';
import type { Scope } from '../platform.js';

export const KIND = {
  lb: 'elbv2.lb',
  tg: 'elbv2.tg',
  listener: 'elbv2.listener',
  rule: 'elbv2.rule',
  target: 'elbv2.target',
} as const;

export interface LoadBalancerRecord {
  name: string;
  arn: string;
  id: string;
  region: string;
  dnsName: string;
  scheme: string;
  type: string;
  ipAddressType: string;
  securityGroups: string[];
  availabilityZones: ELB.AvailabilityZone[];
  vpcId: string;
  createdAt: number;
  attributes: Record<string, string>;
  tags: ELB.Tag[];
}

export interface HealthCheckSettings {
  enabled: boolean;
  protocol: string;
  /** A port number as a string, or `traffic-port`. */
  port: string;
  path: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  matcher: string;
}

export interface TargetGroupRecord {
  name: string;
  arn: string;
  id: string;
  region: string;
  protocol: string;
  protocolVersion: string;
  port: number;
  vpcId: string;
  targetType: string;
  ipAddressType: string;
  healthCheck: HealthCheckSettings;
  attributes: Record<string, string>;
  tags: ELB.Tag[];
  createdAt: number;
}

export interface ListenerRecord {
  arn: string;
  id: string;
  region: string;
  lbName: string;
  lbArn: string;
  port: number;
  protocol: string;
  /** The default certificate of an HTTPS listener (empty for HTTP), as DescribeListeners shows it. */
  certificates: ELB.Certificate[];
  /**
   * The listener's other certificates (AddListenerCertificates), by ARN: the data plane serves
   * the one whose names match a client's SNI server name, else the default.
   */
  extraCertificates?: string[];
  sslPolicy?: string;
  alpnPolicy?: string[];
  defaultActions: ELB.Action[];
  /** The ARN DescribeRules reports for the listener's default rule. */
  defaultRuleArn: string;
  tags: ELB.Tag[];
}

export interface RuleRecord {
  arn: string;
  id: string;
  region: string;
  lbName: string;
  listenerArn: string;
  listenerId: string;
  priority: number;
  conditions: ELB.RuleCondition[];
  actions: ELB.Action[];
  tags: ELB.Tag[];
}

/**
 * A registered target; `registeredAt` tells registrations of the same address apart. `draining`
 * targets were deregistered (at `drainingSince`): they receive no new requests, and the
 * target-drain controller (src/control/targetDrain.ts) deletes the record once their in-flight
 * requests finished or the deregistration delay passed.
 */
export interface TargetRecord {
  tgArn: string;
  tgName: string;
  region: string;
  id: string;
  port: number;
  availabilityZone?: string;
  state: 'registered' | 'draining';
  registeredAt: number;
  drainingSince?: number;
}

export const lbKey = (region: string, name: string) => `${region}/${name}`;
export const tgKey = (region: string, name: string) => `${region}/${name}`;
export const listenerKey = (region: string, lbName: string, id: string) => `${region}/${lbName}/${id}`;
export const ruleKey = (region: string, lbName: string, listenerId: string, id: string) => `${region}/${lbName}/${listenerId}/${id}`;
export const targetKey = (region: string, tgName: string, id: string, port: number) => `${region}/${tgName}/${id}/${port}`;

export function newId(): string {
  return hexId(8);
}

export function elbArn(ctx: Scope, resource: string): string {
  return arn('elasticloadbalancing', ctx.region, ctx.platform.accountId, resource);
}

/** The pieces of an ELBv2 ARN of this account and region, or undefined for anything else. */
export function resourceOf(ctx: Scope, s: string, type: string): string[] | undefined {
  const p = parseArn(s);
  if (!p || p.service !== 'elasticloadbalancing' || p.region !== ctx.region || p.accountId !== ctx.platform.accountId) return undefined;
  const parts = p.resource.split('/');
  if (parts[0] !== type) return undefined;
  return parts.slice(1);
}

/** What kind of ELBv2 resource an ARN names (for tags), or undefined if it is not one. */
export function arnType(s: string): 'loadbalancer' | 'targetgroup' | 'listener' | 'listener-rule' | undefined {
  const p = parseArn(s);
  if (!p || p.service !== 'elasticloadbalancing') return undefined;
  const t = p.resource.split('/')[0];
  return t === 'loadbalancer' || t === 'targetgroup' || t === 'listener' || t === 'listener-rule' ? t : undefined;
}
