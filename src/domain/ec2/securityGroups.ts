/**
 * Security groups and their rules. A rule is one protocol, port range and peer (an IPv4 or IPv6
 * block, a prefix list or another group of the same VPC); the API's IpPermissions are expanded to
 * rules on the way in and grouped back on the way out. Enforcing them on traffic comes with task
 * networking; here they are the model templates and load balancers refer to.
 */
import type { Tag } from '../common.js';
import type { Scope } from '../platform.js';
import { allowAllEgress } from './build.js';
import { parseCidr } from './cidr.js';
import { ec2Errors } from './errors.js';
import { newEc2Id, type SecurityGroupRecord, type SecurityGroupRuleRecord } from './records.js';
import { ec2Transaction, type Ec2Tx } from './tx.js';
import { loadBalancersUsing } from './usage.js';

/** Most rules per direction per group (AWS's default quota). */
export const MAX_RULES_PER_DIRECTION = 60;
/** Most security groups per VPC (AWS's default quota). */
export const MAX_GROUPS_PER_VPC = 2500;

/** Ingress (inbound) or egress (outbound). */
export type Direction = 'ingress' | 'egress';

/** A group by id, or by name in a VPC (the default VPC when none is named). */
export interface GroupRef {
  groupId?: string;
  groupName?: string;
  vpcId?: string;
}

/** One IpPermission as the API has it. */
export interface Permission {
  ipProtocol?: string;
  fromPort?: number;
  toPort?: number;
  ipv4?: Array<{ cidr?: string; description?: string }>;
  ipv6?: Array<{ cidr?: string; description?: string }>;
  prefixLists?: Array<{ id?: string; description?: string }>;
  groups?: Array<{ groupId?: string; groupName?: string; description?: string }>;
}

async function defaultVpcId(tx: Ec2Tx): Promise<string> {
  const v = (await tx.list('vpc')).find((x) => x.isDefault);
  if (!v) throw ec2Errors.limit('VPCIdNotSpecified', 'No default VPC for this user: name a VPC (VpcId) or a group by its id.');
  return v.id;
}

/** The group a reference names (InvalidGroup.NotFound otherwise). */
export async function resolveGroup(tx: Ec2Tx, ref: GroupRef): Promise<SecurityGroupRecord> {
  if (ref.groupId !== undefined) return tx.get('sg', ref.groupId);
  if (ref.groupName === undefined) throw ec2Errors.missingParameter('GroupId');
  const vpcId = ref.vpcId ?? (await defaultVpcId(tx));
  const g = (await tx.list('sg')).find((x) => x.vpcId === vpcId && x.groupName === ref.groupName);
  if (!g) throw ec2Errors.groupNameNotFound(ref.groupName, vpcId);
  return g;
}

export async function createSecurityGroup(scope: Scope, input: { groupName: string; description: string; vpcId?: string; tags?: Tag[] }): Promise<SecurityGroupRecord> {
  const { groupName, description } = input;
  if (groupName.length === 0 || groupName.length > 255) throw ec2Errors.invalidParameterValue('Group names must be 1 to 255 characters long.');
  if (description.length > 255) throw ec2Errors.invalidParameterValue('Group descriptions must be at most 255 characters long.');
  if (groupName.toLowerCase().startsWith('sg-')) throw ec2Errors.invalidParameterValue("Group names may not be in the format sg-*: that is an id's form.");
  if (groupName === 'default') throw ec2Errors.groupReserved();
  return ec2Transaction(scope, 'The security group', async (tx) => {
    const vpc = input.vpcId !== undefined ? await tx.get('vpc', input.vpcId) : await tx.get('vpc', await defaultVpcId(tx));
    const inVpc = (await tx.list('sg')).filter((g) => g.vpcId === vpc.id);
    if (inVpc.some((g) => g.groupName === groupName)) throw ec2Errors.groupDuplicate(groupName, vpc.id);
    if (inVpc.length >= MAX_GROUPS_PER_VPC) throw ec2Errors.limit('SecurityGroupLimitExceeded', `The maximum number of security groups per VPC (${MAX_GROUPS_PER_VPC}) has been reached.`);
    const g: SecurityGroupRecord = { type: 'sg', id: newEc2Id('sg'), region: scope.region, tags: input.tags ?? [], createdAt: scope.platform.clock.now(), vpcId: vpc.id, groupName, description, ingress: [], egress: [allowAllEgress()] };
    tx.touch(vpc);
    tx.put(g);
    return g;
  });
}

/** Deletes a group that is not its VPC's default and that nothing refers to (DependencyViolation otherwise). */
export async function deleteSecurityGroup(scope: Scope, ref: GroupRef): Promise<string> {
  const pre = await ec2Transaction(scope, 'The security group', (tx) => resolveGroup(tx, ref));
  const lbs = await loadBalancersUsing(scope, { groupId: pre.id });
  return ec2Transaction(scope, `Security group ${pre.id}`, async (tx) => {
    const g = await tx.get('sg', pre.id);
    if (g.groupName === 'default') throw ec2Errors.cannotDeleteDefault(g.id);
    if (lbs.length) throw ec2Errors.dependentObject(g.id, `load balancer ${lbs[0]}`);
    const referrer = (await tx.list('sg')).find((o) => o.id !== g.id && [...o.ingress, ...o.egress].some((r) => r.referencedGroupId === g.id));
    if (referrer) throw ec2Errors.dependentObject(g.id, `a rule of ${referrer.id}`);
    const instance = (await tx.list('i')).find((i) => i.state !== 'terminated' && i.securityGroupIds.includes(g.id));
    if (instance) throw ec2Errors.dependentObject(g.id, `instance ${instance.id}`);
    const endpoint = (await tx.list('vpce')).find((e) => e.securityGroupIds.includes(g.id));
    if (endpoint) throw ec2Errors.dependentObject(g.id, `VPC endpoint ${endpoint.id}`);
    tx.delete(g.id);
    return g.id;
  });
}

const PROTOCOL_NAMES: Readonly<Record<string, string>> = { '-1': '-1', all: '-1', tcp: 'tcp', '6': 'tcp', udp: 'udp', '17': 'udp', icmp: 'icmp', '1': 'icmp', icmpv6: 'icmpv6', '58': 'icmpv6' };

function normalizeProtocol(p: string | undefined): string {
  if (p === undefined) throw ec2Errors.missingParameter('IpProtocol');
  const known = PROTOCOL_NAMES[p.toLowerCase()];
  if (known) return known;
  if (/^\d{1,3}$/.test(p) && Number(p) <= 255) return String(Number(p));
  throw ec2Errors.invalidParameterValue(`Invalid value '${p.slice(0, 32)}' for IP protocol. Unknown protocol.`);
}

function portsOf(protocol: string, from: number | undefined, to: number | undefined): { fromPort?: number; toPort?: number } {
  if (protocol === '-1') return {};
  if (protocol === 'tcp' || protocol === 'udp') {
    if (from === undefined || to === undefined) throw ec2Errors.invalidParameterValue(`Invalid value 'Must specify both from and to ports with TCP/UDP.'`);
    if (from < 0 || to > 65535 || from > to) throw ec2Errors.invalidParameterValue(`Invalid port range ${from}-${to}: ports are 0 to 65535, the first at most the last.`);
    return { fromPort: from, toPort: to };
  }
  if (protocol === 'icmp' || protocol === 'icmpv6') {
    const type = from ?? -1;
    const code = to ?? -1;
    if (type < -1 || type > 255 || code < -1 || code > 255) throw ec2Errors.invalidParameterValue(`Invalid ICMP type ${type} or code ${code}: each is -1 (all) or 0 to 255.`);
    return { fromPort: type, toPort: code };
  }
  return from === undefined && to === undefined ? {} : { fromPort: from, toPort: to };
}

/** The rules an IpPermission stands for, peers checked (groups resolved within the VPC). */
async function expand(tx: Ec2Tx, g: SecurityGroupRecord, perms: Permission[]): Promise<SecurityGroupRuleRecord[]> {
  const out: SecurityGroupRuleRecord[] = [];
  for (const p of perms) {
    const protocol = normalizeProtocol(p.ipProtocol);
    const ports = portsOf(protocol, p.fromPort, p.toPort);
    const base = { protocol, ...ports };
    const peers = (p.ipv4?.length ?? 0) + (p.ipv6?.length ?? 0) + (p.prefixLists?.length ?? 0) + (p.groups?.length ?? 0);
    if (peers === 0) throw ec2Errors.invalidParameterValue('A rule needs a peer: a CIDR block (IpRanges/Ipv6Ranges), a prefix list or a security group (UserIdGroupPairs).');
    for (const r of p.ipv4 ?? []) {
      if (r.cidr === undefined || !parseCidr(r.cidr)) throw ec2Errors.invalidParameterValue(`CIDR block ${(r.cidr ?? '').slice(0, 64)} is malformed`);
      out.push({ id: newEc2Id('sgr'), ...base, cidrIpv4: r.cidr, description: r.description });
    }
    for (const r of p.ipv6 ?? []) {
      if (r.cidr === undefined || !/^[0-9a-fA-F:]{2,39}\/\d{1,3}$/.test(r.cidr)) throw ec2Errors.invalidParameterValue(`CIDR block ${(r.cidr ?? '').slice(0, 64)} is malformed`);
      out.push({ id: newEc2Id('sgr'), ...base, cidrIpv6: r.cidr.toLowerCase(), description: r.description });
    }
    for (const r of p.prefixLists ?? []) {
      if (!r.id?.startsWith('pl-')) throw ec2Errors.invalidParameterValue(`Invalid prefix list id '${(r.id ?? '').slice(0, 64)}'`);
      out.push({ id: newEc2Id('sgr'), ...base, prefixListId: r.id, description: r.description });
    }
    for (const r of p.groups ?? []) {
      const peer = await resolveGroup(tx, { groupId: r.groupId, groupName: r.groupName, vpcId: g.vpcId });
      if (peer.vpcId !== g.vpcId) throw ec2Errors.invalidParameterValue(`You have specified two resources that belong to different networks: ${g.id} (${g.vpcId}) and ${peer.id} (${peer.vpcId}).`);
      if (peer.id !== g.id) tx.touch(peer);
      out.push({ id: newEc2Id('sgr'), ...base, referencedGroupId: peer.id, description: r.description });
    }
  }
  return out;
}

/** Whether two rules allow the same thing (ids and descriptions aside). */
function sameRule(a: SecurityGroupRuleRecord, b: SecurityGroupRuleRecord): boolean {
  return a.protocol === b.protocol && a.fromPort === b.fromPort && a.toPort === b.toPort && a.cidrIpv4 === b.cidrIpv4 && a.cidrIpv6 === b.cidrIpv6 && a.prefixListId === b.prefixListId && a.referencedGroupId === b.referencedGroupId;
}

/** How EC2 names a rule in its duplicate error. */
function describeRule(r: SecurityGroupRuleRecord): string {
  const peer = r.cidrIpv4 ?? r.cidrIpv6 ?? r.prefixListId ?? r.referencedGroupId;
  const proto = r.protocol === '-1' ? 'ALL' : r.protocol.toUpperCase();
  return `peer: ${peer}, ${proto}${r.fromPort !== undefined ? `, from port: ${r.fromPort}, to port: ${r.toPort}` : ''}, ALLOW`;
}

/** Adds rules to a group (InvalidPermission.Duplicate for one it has); returns the rules added. */
export async function authorize(scope: Scope, ref: GroupRef, direction: Direction, perms: Permission[]): Promise<{ group: SecurityGroupRecord; added: SecurityGroupRuleRecord[] }> {
  if (perms.length === 0) throw ec2Errors.missingParameter('IpPermissions');
  return ec2Transaction(scope, 'The security group', async (tx) => {
    const g = await resolveGroup(tx, ref);
    const added = await expand(tx, g, perms);
    const rules = [...g[direction]];
    for (const r of added) {
      if (rules.some((x) => sameRule(x, r))) throw ec2Errors.permissionDuplicate(describeRule(r));
      rules.push(r);
    }
    if (rules.length > MAX_RULES_PER_DIRECTION) throw ec2Errors.rulesPerGroupExceeded(MAX_RULES_PER_DIRECTION);
    const next = { ...g, [direction]: rules };
    tx.put(next);
    return { group: next, added };
  });
}

/** Removes rules, by their permissions or their rule ids (InvalidPermission.NotFound for one the group does not have). */
export async function revoke(scope: Scope, ref: GroupRef, direction: Direction, what: { perms?: Permission[]; ruleIds?: string[] }): Promise<SecurityGroupRecord> {
  if (!what.perms?.length && !what.ruleIds?.length) throw ec2Errors.missingParameter('IpPermissions');
  return ec2Transaction(scope, 'The security group', async (tx) => {
    const g = await resolveGroup(tx, ref);
    let rules = [...g[direction]];
    for (const id of what.ruleIds ?? []) {
      if (!rules.some((r) => r.id === id)) throw ec2Errors.notFound('sgr', id);
      rules = rules.filter((r) => r.id !== id);
    }
    for (const r of await expand(tx, g, what.perms ?? [])) {
      if (!rules.some((x) => sameRule(x, r))) throw ec2Errors.permissionNotFound();
      rules = rules.filter((x) => !sameRule(x, r));
    }
    const next = { ...g, [direction]: rules };
    tx.put(next);
    return next;
  });
}
