/** Security groups and their rules (IpPermissions in and out, SecurityGroupRules by id). */
import type * as EC2 from '../../generated/ec2.js';
import type { Handlers, RequestContext } from '../types.js';
import { ec2Errors } from '../../domain/ec2/errors.js';
import { listEc2 } from '../../domain/ec2/lookup.js';
import { authorize, createSecurityGroup, deleteSecurityGroup, revoke, type Direction, type Permission } from '../../domain/ec2/securityGroups.js';
import { mergeEc2Tags } from '../../domain/ec2/tags.js';
import type { SecurityGroupRecord, SecurityGroupRuleRecord } from '../../domain/ec2/records.js';
import { apiTags, byIds, compileFilters, page, tagsFor, type FilterTable } from './describe.js';

/** Rules grouped back into IpPermissions (one per protocol and port range), as EC2 describes them. */
function permissionsOf(rules: SecurityGroupRuleRecord[], ctx: RequestContext): EC2.IpPermission[] {
  const out = new Map<string, EC2.IpPermission>();
  for (const r of rules) {
    const key = `${r.protocol}/${r.fromPort ?? ''}/${r.toPort ?? ''}`;
    let p = out.get(key);
    if (!p) out.set(key, (p = { IpProtocol: r.protocol, FromPort: r.fromPort, ToPort: r.toPort, IpRanges: [], Ipv6Ranges: [], PrefixListIds: [], UserIdGroupPairs: [] }));
    if (r.cidrIpv4) p.IpRanges!.push({ CidrIp: r.cidrIpv4, Description: r.description });
    if (r.cidrIpv6) p.Ipv6Ranges!.push({ CidrIpv6: r.cidrIpv6, Description: r.description });
    if (r.prefixListId) p.PrefixListIds!.push({ PrefixListId: r.prefixListId, Description: r.description });
    if (r.referencedGroupId) p.UserIdGroupPairs!.push({ GroupId: r.referencedGroupId, UserId: ctx.platform.accountId, Description: r.description });
  }
  return [...out.values()];
}

function describeGroup(g: SecurityGroupRecord, ctx: RequestContext): EC2.SecurityGroup {
  return {
    GroupId: g.id,
    GroupName: g.groupName,
    Description: g.description,
    VpcId: g.vpcId,
    OwnerId: ctx.platform.accountId,
    SecurityGroupArn: `arn:aws:ec2:${ctx.region}:${ctx.platform.accountId}:security-group/${g.id}`,
    IpPermissions: permissionsOf(g.ingress, ctx),
    IpPermissionsEgress: permissionsOf(g.egress, ctx),
    Tags: apiTags(g.tags),
  };
}

function describeRule(g: SecurityGroupRecord, r: SecurityGroupRuleRecord, isEgress: boolean, ctx: RequestContext): EC2.SecurityGroupRule {
  return {
    SecurityGroupRuleId: r.id,
    GroupId: g.id,
    GroupOwnerId: ctx.platform.accountId,
    IsEgress: isEgress,
    IpProtocol: r.protocol,
    FromPort: r.fromPort ?? -1,
    ToPort: r.toPort ?? -1,
    CidrIpv4: r.cidrIpv4,
    CidrIpv6: r.cidrIpv6,
    PrefixListId: r.prefixListId,
    ReferencedGroupInfo: r.referencedGroupId ? { GroupId: r.referencedGroupId, UserId: ctx.platform.accountId } : undefined,
    Description: r.description,
    SecurityGroupRuleArn: `arn:aws:ec2:${ctx.region}:${ctx.platform.accountId}:security-group-rule/${r.id}`,
    Tags: [],
  };
}

const GROUP_FILTERS: FilterTable<SecurityGroupRecord> = {
  'group-id': (g) => [g.id],
  'group-name': (g) => [g.groupName],
  description: (g) => [g.description],
  'vpc-id': (g) => [g.vpcId],
  'owner-id': () => [],
  'ip-permission.protocol': (g) => g.ingress.map((r) => r.protocol),
  'ip-permission.from-port': (g) => g.ingress.map((r) => r.fromPort),
  'ip-permission.to-port': (g) => g.ingress.map((r) => r.toPort),
  'ip-permission.cidr': (g) => g.ingress.map((r) => r.cidrIpv4),
  'ip-permission.group-id': (g) => g.ingress.map((r) => r.referencedGroupId),
  'egress.ip-permission.protocol': (g) => g.egress.map((r) => r.protocol),
  'egress.ip-permission.cidr': (g) => g.egress.map((r) => r.cidrIpv4),
  'egress.ip-permission.group-id': (g) => g.egress.map((r) => r.referencedGroupId),
};

/** The permissions a request gives: IpPermissions, or the older top-level form (IpProtocol, ports, CidrIp or a source group). */
function permissionsIn(input: EC2.AuthorizeSecurityGroupIngressRequest | EC2.AuthorizeSecurityGroupEgressRequest | EC2.RevokeSecurityGroupIngressRequest | EC2.RevokeSecurityGroupEgressRequest): Permission[] {
  const legacy = input.IpProtocol !== undefined || input.CidrIp !== undefined || input.FromPort !== undefined || input.SourceSecurityGroupName !== undefined;
  if (legacy && input.IpPermissions?.length) throw ec2Errors.invalidParameterCombination('Give the rule as IpPermissions or as IpProtocol/FromPort/ToPort/CidrIp, not both.');
  if (legacy) {
    const source = input.SourceSecurityGroupName;
    return [{ ipProtocol: input.IpProtocol ?? (source !== undefined ? '-1' : undefined), fromPort: input.FromPort, toPort: input.ToPort, ipv4: input.CidrIp !== undefined ? [{ cidr: input.CidrIp }] : [], groups: source !== undefined ? [{ groupName: source }] : [] }];
  }
  return (input.IpPermissions ?? []).map((p) => ({
    ipProtocol: p.IpProtocol,
    fromPort: p.FromPort,
    toPort: p.ToPort,
    ipv4: p.IpRanges?.map((r) => ({ cidr: r.CidrIp, description: r.Description })),
    ipv6: p.Ipv6Ranges?.map((r) => ({ cidr: r.CidrIpv6, description: r.Description })),
    prefixLists: p.PrefixListIds?.map((r) => ({ id: r.PrefixListId, description: r.Description })),
    groups: p.UserIdGroupPairs?.map((r) => ({ groupId: r.GroupId, groupName: r.GroupName, description: r.Description })),
  }));
}

async function authorizeHandler(direction: Direction, input: EC2.AuthorizeSecurityGroupIngressRequest | EC2.AuthorizeSecurityGroupEgressRequest, ctx: RequestContext) {
  const groupName = 'GroupName' in input ? input.GroupName : undefined;
  if (input.GroupId === undefined && groupName === undefined) throw ec2Errors.missingParameter('GroupId');
  const { group, added } = await authorize(ctx, { groupId: input.GroupId, groupName }, direction, permissionsIn(input));
  return { Return: true, SecurityGroupRules: added.map((r) => describeRule(group, r, direction === 'egress', ctx)) };
}

async function revokeHandler(direction: Direction, input: EC2.RevokeSecurityGroupIngressRequest | EC2.RevokeSecurityGroupEgressRequest, ctx: RequestContext) {
  const groupName = 'GroupName' in input ? input.GroupName : undefined;
  if (input.GroupId === undefined && groupName === undefined) throw ec2Errors.missingParameter('GroupId');
  await revoke(ctx, { groupId: input.GroupId, groupName }, direction, { perms: permissionsIn(input), ruleIds: input.SecurityGroupRuleIds });
  return { Return: true };
}

export const securityGroupHandlers: Handlers<EC2.Operations> = {
  async CreateSecurityGroup(input, ctx) {
    const g = await createSecurityGroup(ctx, { groupName: input.GroupName, description: input.Description, vpcId: input.VpcId, tags: mergeEc2Tags([], tagsFor(input.TagSpecifications, 'security-group')) });
    return { GroupId: g.id, SecurityGroupArn: describeGroup(g, ctx).SecurityGroupArn, Tags: apiTags(g.tags) };
  },
  async DeleteSecurityGroup(input, ctx) {
    if (input.GroupId === undefined && input.GroupName === undefined) throw ec2Errors.missingParameter('GroupId');
    const id = await deleteSecurityGroup(ctx, { groupId: input.GroupId, groupName: input.GroupName });
    return { Return: true, GroupId: id };
  },
  async DescribeSecurityGroups(input, ctx) {
    const match = compileFilters(input.Filters, GROUP_FILTERS);
    let all = byIds(await listEc2(ctx, 'sg'), input.GroupIds, (id) => ec2Errors.notFound('sg', id));
    if (input.GroupNames?.length) {
      // By name: groups of the default VPC, as on EC2.
      const def = (await listEc2(ctx, 'vpc')).find((v) => v.isDefault);
      all = input.GroupNames.map((n) => {
        const g = all.find((x) => x.groupName === n && x.vpcId === def?.id);
        if (!g) throw ec2Errors.groupNameNotFound(n, def?.id ?? '(no default VPC)');
        return g;
      });
    }
    const p = page(all.filter(match), input.MaxResults, input.NextToken);
    return { SecurityGroups: p.items.map((g) => describeGroup(g, ctx)), NextToken: p.nextToken };
  },
  async DescribeSecurityGroupRules(input, ctx) {
    const groups = await listEc2(ctx, 'sg');
    const rules = groups.flatMap((g) => [...g.ingress.map((r) => ({ g, r, egress: false })), ...g.egress.map((r) => ({ g, r, egress: true }))]).map((x) => ({ ...x, id: x.r.id, tags: [] }));
    const match = compileFilters(input.Filters, { 'group-id': (x) => [x.g.id], 'security-group-rule-id': (x) => [x.r.id] } satisfies FilterTable<(typeof rules)[number]>);
    const selected = byIds(rules, input.SecurityGroupRuleIds, (id) => ec2Errors.notFound('sgr', id)).filter(match);
    const p = page(selected, input.MaxResults, input.NextToken);
    return { SecurityGroupRules: p.items.map((x) => describeRule(x.g, x.r, x.egress, ctx)), NextToken: p.nextToken };
  },
  AuthorizeSecurityGroupIngress: (input, ctx) => authorizeHandler('ingress', input, ctx),
  AuthorizeSecurityGroupEgress: (input, ctx) => authorizeHandler('egress', input, ctx),
  RevokeSecurityGroupIngress: (input, ctx) => revokeHandler('ingress', input, ctx),
  RevokeSecurityGroupEgress: (input, ctx) => revokeHandler('egress', input, ctx),
};
