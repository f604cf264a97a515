/**
 * EC2 networking resources (VPC, Subnet, InternetGateway, VPCGatewayAttachment, NatGateway, EIP,
 * RouteTable, Route, SubnetRouteTableAssociation, SecurityGroup, SecurityGroupIngress/Egress,
 * VPCEndpoint in endpoint.ts, LaunchTemplate in launchTemplate.ts),
 * through the EC2 API (the in-process invoker, as a client would call it). Ref and GetAtt answer
 * as CloudFormation documents for each type.
 */
import { ServiceError } from '../../../../errors.js';
import { ignoreNotFound, mergedTags, nameWithin, type ProviderContext, type ResourceProvider } from '../types.js';
import { vpcEndpoint } from './endpoint.js';
import { launchTemplate } from './launchTemplate.js';

type Out = Record<string, unknown>;
const ec2 = <T = Out>(ctx: ProviderContext, op: string, input: Record<string, unknown>) => ctx.invoker.call<T>(ctx.scope, 'ec2', op, input);
const tagSpec = (ctx: ProviderContext, resourceType: string, own: unknown) => {
  const tags = mergedTags(ctx.tags, own);
  return tags.length ? [{ ResourceType: resourceType, Tags: tags }] : undefined;
};
const bool = (v: unknown) => v === true || v === 'true';
const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/** Replaces a resource's tags with the stack's and the template's (the in-place update of `Tags`). */
async function retag(ctx: ProviderContext, id: string, own: unknown, before: unknown): Promise<void> {
  const now = mergedTags(ctx.tags, own);
  const gone = mergedTags(ctx.tags, before).filter((t) => !now.some((n) => n.Key === t.Key));
  if (gone.length) await ec2(ctx, 'DeleteTags', { Resources: [id], Tags: gone.map((t) => ({ Key: t.Key })) });
  if (now.length) await ec2(ctx, 'CreateTags', { Resources: [id], Tags: now });
}

async function vpcAttributes(ctx: ProviderContext, id: string): Promise<Out> {
  const out = await ec2<{ Vpcs?: Array<{ CidrBlock?: string; CidrBlockAssociationSet?: Array<{ AssociationId?: string }> }> }>(ctx, 'DescribeVpcs', { VpcIds: [id] });
  const v = out.Vpcs?.[0];
  const groups = await ec2<{ SecurityGroups?: Array<{ GroupId?: string }> }>(ctx, 'DescribeSecurityGroups', { Filters: [{ Name: 'vpc-id', Values: [id] }, { Name: 'group-name', Values: ['default'] }] });
  return {
    VpcId: id,
    CidrBlock: v?.CidrBlock,
    CidrBlockAssociations: (v?.CidrBlockAssociationSet ?? []).map((a) => a.AssociationId),
    DefaultSecurityGroup: groups.SecurityGroups?.[0]?.GroupId,
    DefaultNetworkAcl: `acl-${id.slice(4)}`,
    Ipv6CidrBlocks: [],
  };
}

/** Sets the DNS attributes the template gives (against their defaults on create, their previous values on update). */
async function setVpcDns(ctx: ProviderContext, id: string, props: Out, before?: Out): Promise<void> {
  for (const [key, fallback] of [['EnableDnsSupport', true], ['EnableDnsHostnames', false]] as const) {
    const want = props[key] === undefined ? fallback : bool(props[key]);
    const had = before?.[key] === undefined ? fallback : bool(before[key]);
    if (want !== had) await ec2(ctx, 'ModifyVpcAttribute', { VpcId: id, [key]: { Value: want } });
  }
}

const vpc: ResourceProvider = {
  async create(props, ctx) {
    const out = await ec2<{ Vpc: { VpcId: string } }>(ctx, 'CreateVpc', { CidrBlock: props.CidrBlock, InstanceTenancy: props.InstanceTenancy, TagSpecifications: tagSpec(ctx, 'vpc', props.Tags) });
    const id = out.Vpc.VpcId;
    await setVpcDns(ctx, id, props);
    return { physicalId: id, attributes: await vpcAttributes(ctx, id) };
  },
  async update(id, props, before, ctx) {
    await setVpcDns(ctx, id, props, before);
    await retag(ctx, id, props.Tags, before.Tags);
    return { physicalId: id, attributes: await vpcAttributes(ctx, id) };
  },
  async delete(id, _props, ctx) {
    if (id) await ignoreNotFound(ec2(ctx, 'DeleteVpc', { VpcId: id }));
  },
};

async function subnetAttributes(ctx: ProviderContext, id: string): Promise<Out> {
  const out = await ec2<{ Subnets?: Array<Record<string, unknown>> }>(ctx, 'DescribeSubnets', { SubnetIds: [id] });
  const s = out.Subnets?.[0] ?? {};
  return { SubnetId: id, VpcId: s.VpcId, AvailabilityZone: s.AvailabilityZone, AvailabilityZoneId: s.AvailabilityZoneId, CidrBlock: s.CidrBlock, NetworkAclAssociationId: `aclassoc-${id.slice(7)}`, Ipv6CidrBlocks: [] };
}

const subnet: ResourceProvider = {
  async create(props, ctx) {
    const out = await ec2<{ Subnet: { SubnetId: string } }>(ctx, 'CreateSubnet', {
      VpcId: props.VpcId,
      CidrBlock: props.CidrBlock,
      AvailabilityZone: str(props.AvailabilityZone),
      AvailabilityZoneId: str(props.AvailabilityZoneId),
      TagSpecifications: tagSpec(ctx, 'subnet', props.Tags),
    });
    const id = out.Subnet.SubnetId;
    if (bool(props.MapPublicIpOnLaunch)) await ec2(ctx, 'ModifySubnetAttribute', { SubnetId: id, MapPublicIpOnLaunch: { Value: true } });
    return { physicalId: id, attributes: await subnetAttributes(ctx, id) };
  },
  async update(id, props, before, ctx) {
    if (bool(props.MapPublicIpOnLaunch) !== bool(before.MapPublicIpOnLaunch)) await ec2(ctx, 'ModifySubnetAttribute', { SubnetId: id, MapPublicIpOnLaunch: { Value: bool(props.MapPublicIpOnLaunch) } });
    await retag(ctx, id, props.Tags, before.Tags);
    return { physicalId: id, attributes: await subnetAttributes(ctx, id) };
  },
  async delete(id, _props, ctx) {
    if (id) await ignoreNotFound(ec2(ctx, 'DeleteSubnet', { SubnetId: id }));
  },
};

const internetGateway: ResourceProvider = {
  async create(props, ctx) {
    const out = await ec2<{ InternetGateway: { InternetGatewayId: string } }>(ctx, 'CreateInternetGateway', { TagSpecifications: tagSpec(ctx, 'internet-gateway', props.Tags) });
    const id = out.InternetGateway.InternetGatewayId;
    return { physicalId: id, attributes: { InternetGatewayId: id } };
  },
  async update(id, props, before, ctx) {
    await retag(ctx, id, props.Tags, before.Tags);
    return { physicalId: id, attributes: { InternetGatewayId: id } };
  },
  async delete(id, _props, ctx) {
    if (id) await ignoreNotFound(ec2(ctx, 'DeleteInternetGateway', { InternetGatewayId: id }));
  },
};

const gatewayAttachment: ResourceProvider = {
  async create(props, ctx) {
    if (props.InternetGatewayId === undefined) throw new ServiceError('ValidationError', 'Berth models internet gateway attachments: InternetGatewayId is required (VPN gateways are not modelled).');
    await ec2(ctx, 'AttachInternetGateway', { InternetGatewayId: props.InternetGatewayId, VpcId: props.VpcId });
    return { physicalId: `IGW|${String(props.VpcId)}`, attributes: {} };
  },
  async delete(id, props, ctx) {
    if (!id || props.InternetGatewayId === undefined) return;
    await ignoreNotFound(ec2(ctx, 'DetachInternetGateway', { InternetGatewayId: props.InternetGatewayId, VpcId: props.VpcId }).catch((e) => {
      if ((e as { code?: string }).code === 'Gateway.NotAttached') return;
      throw e;
    }));
  },
};

const natGateway: ResourceProvider = {
  async create(props, ctx) {
    const out = await ec2<{ NatGateway: { NatGatewayId: string } }>(ctx, 'CreateNatGateway', {
      SubnetId: props.SubnetId,
      AllocationId: str(props.AllocationId),
      ConnectivityType: str(props.ConnectivityType),
      TagSpecifications: tagSpec(ctx, 'natgateway', props.Tags),
    });
    const id = out.NatGateway.NatGatewayId;
    return { physicalId: id, attributes: { NatGatewayId: id } };
  },
  async update(id, props, before, ctx) {
    await retag(ctx, id, props.Tags, before.Tags);
    return { physicalId: id, attributes: { NatGatewayId: id } };
  },
  async delete(id, _props, ctx) {
    if (id) await ignoreNotFound(ec2(ctx, 'DeleteNatGateway', { NatGatewayId: id }));
  },
};

const eip: ResourceProvider = {
  async create(props, ctx) {
    const out = await ec2<{ AllocationId: string; PublicIp: string }>(ctx, 'AllocateAddress', { Domain: 'vpc', TagSpecifications: tagSpec(ctx, 'elastic-ip', props.Tags) });
    if (str(props.InstanceId)) await ec2(ctx, 'AssociateAddress', { AllocationId: out.AllocationId, InstanceId: props.InstanceId });
    return { physicalId: out.PublicIp, attributes: { AllocationId: out.AllocationId, PublicIp: out.PublicIp }, notes: { allocationId: out.AllocationId } };
  },
  async update(id, props, before, ctx, notes) {
    const allocationId = String(notes.allocationId ?? '');
    if (allocationId) await retag(ctx, allocationId, props.Tags, before.Tags);
    return { physicalId: id, attributes: { AllocationId: allocationId, PublicIp: id }, notes };
  },
  async delete(id, _props, ctx, notes) {
    if (!id) return;
    const allocationId = str(notes.allocationId);
    await ignoreNotFound(ec2(ctx, 'ReleaseAddress', allocationId ? { AllocationId: allocationId } : { PublicIp: id }));
  },
};

const routeTable: ResourceProvider = {
  async create(props, ctx) {
    const out = await ec2<{ RouteTable: { RouteTableId: string } }>(ctx, 'CreateRouteTable', { VpcId: props.VpcId, TagSpecifications: tagSpec(ctx, 'route-table', props.Tags) });
    const id = out.RouteTable.RouteTableId;
    return { physicalId: id, attributes: { RouteTableId: id } };
  },
  async update(id, props, before, ctx) {
    await retag(ctx, id, props.Tags, before.Tags);
    return { physicalId: id, attributes: { RouteTableId: id } };
  },
  async delete(id, _props, ctx) {
    if (id) await ignoreNotFound(ec2(ctx, 'DeleteRouteTable', { RouteTableId: id }));
  },
};

const routeTarget = (props: Out) => ({ GatewayId: str(props.GatewayId), NatGatewayId: str(props.NatGatewayId), InstanceId: str(props.InstanceId), NetworkInterfaceId: str(props.NetworkInterfaceId), VpcPeeringConnectionId: str(props.VpcPeeringConnectionId), TransitGatewayId: str(props.TransitGatewayId) });
const route: ResourceProvider = {
  async create(props, ctx) {
    const dest = str(props.DestinationCidrBlock) ?? str(props.DestinationIpv6CidrBlock);
    if (!dest) throw new ServiceError('ValidationError', 'A route needs DestinationCidrBlock (or DestinationIpv6CidrBlock).');
    await ec2(ctx, 'CreateRoute', { RouteTableId: props.RouteTableId, DestinationCidrBlock: str(props.DestinationCidrBlock), DestinationIpv6CidrBlock: str(props.DestinationIpv6CidrBlock), ...routeTarget(props) });
    return { physicalId: `${String(props.RouteTableId)}|${dest}`, attributes: {} };
  },
  async update(id, props, _before, ctx) {
    await ec2(ctx, 'ReplaceRoute', { RouteTableId: props.RouteTableId, DestinationCidrBlock: str(props.DestinationCidrBlock), DestinationIpv6CidrBlock: str(props.DestinationIpv6CidrBlock), ...routeTarget(props) });
    return { physicalId: id, attributes: {} };
  },
  async delete(id, props, ctx) {
    if (!id) return;
    await ignoreNotFound(ec2(ctx, 'DeleteRoute', { RouteTableId: props.RouteTableId, DestinationCidrBlock: str(props.DestinationCidrBlock), DestinationIpv6CidrBlock: str(props.DestinationIpv6CidrBlock) }));
  },
};

const subnetRouteTableAssociation: ResourceProvider = {
  async create(props, ctx) {
    const out = await ec2<{ AssociationId: string }>(ctx, 'AssociateRouteTable', { RouteTableId: props.RouteTableId, SubnetId: props.SubnetId });
    return { physicalId: out.AssociationId, attributes: { Id: out.AssociationId } };
  },
  async update(id, props, _before, ctx) {
    const out = await ec2<{ NewAssociationId: string }>(ctx, 'ReplaceRouteTableAssociation', { AssociationId: id, RouteTableId: props.RouteTableId });
    return { physicalId: out.NewAssociationId, attributes: { Id: out.NewAssociationId } };
  },
  async delete(id, _props, ctx) {
    if (id) await ignoreNotFound(ec2(ctx, 'DisassociateRouteTable', { AssociationId: id }));
  },
};

/** One rule of a template (a group's inline rule or a standalone Ingress/Egress resource) as the API's IpPermissions. */
function permission(rule: Out, direction: 'ingress' | 'egress'): Out {
  const protocol = String(rule.IpProtocol ?? '-1');
  const all = protocol === '-1' || protocol === 'all';
  const peerGroup = str(direction === 'ingress' ? rule.SourceSecurityGroupId : rule.DestinationSecurityGroupId);
  const prefixList = str(direction === 'ingress' ? rule.SourcePrefixListId : rule.DestinationPrefixListId);
  return {
    IpProtocol: all ? '-1' : protocol,
    FromPort: all ? undefined : rule.FromPort,
    ToPort: all ? undefined : rule.ToPort,
    IpRanges: str(rule.CidrIp) ? [{ CidrIp: rule.CidrIp, Description: str(rule.Description) }] : undefined,
    Ipv6Ranges: str(rule.CidrIpv6) ? [{ CidrIpv6: rule.CidrIpv6, Description: str(rule.Description) }] : undefined,
    PrefixListIds: prefixList ? [{ PrefixListId: prefixList, Description: str(rule.Description) }] : undefined,
    UserIdGroupPairs: peerGroup ? [{ GroupId: peerGroup, Description: str(rule.Description) }] : undefined,
  };
}
const rules = (v: unknown): Out[] => (Array.isArray(v) ? (v.filter((x) => x && typeof x === 'object') as Out[]) : []);

/** Makes a group's inline rules the template's: revokes the ones not wanted and authorizes the new ones (the default egress rule stays unless the template lists egress rules). */
async function syncGroupRules(ctx: ProviderContext, groupId: string, props: Out, before: Out | undefined): Promise<void> {
  for (const direction of ['ingress', 'egress'] as const) {
    const key = direction === 'ingress' ? 'SecurityGroupIngress' : 'SecurityGroupEgress';
    const want = rules(props[key]).map((r) => JSON.stringify(permission(r, direction)));
    const had = before ? rules(before[key]).map((r) => JSON.stringify(permission(r, direction))) : [];
    const op = direction === 'ingress' ? 'Ingress' : 'Egress';
    const defaultEgress = JSON.stringify(permission({ IpProtocol: '-1', CidrIp: '0.0.0.0/0' }, 'egress'));
    if (direction === 'egress') {
      // With no egress rules, a group keeps AWS's default allow-all; with some, only those.
      if (!before || had.length === 0) had.push(defaultEgress);
      if (want.length === 0) want.push(defaultEgress);
    }
    const remove = had.filter((h) => !want.includes(h));
    const add = want.filter((w) => !had.includes(w));
    if (add.length) await ec2(ctx, `AuthorizeSecurityGroup${op}`, { GroupId: groupId, IpPermissions: add.map((a) => JSON.parse(a)) });
    if (remove.length) await ignoreNotFound(ec2(ctx, `RevokeSecurityGroup${op}`, { GroupId: groupId, IpPermissions: remove.map((a) => JSON.parse(a)) }));
  }
}

async function groupAttributes(ctx: ProviderContext, id: string): Promise<Out> {
  const out = await ec2<{ SecurityGroups?: Array<{ VpcId?: string; GroupName?: string }> }>(ctx, 'DescribeSecurityGroups', { GroupIds: [id] });
  return { GroupId: id, VpcId: out.SecurityGroups?.[0]?.VpcId };
}

const securityGroup: ResourceProvider = {
  async create(props, ctx) {
    const name = str(props.GroupName) ?? nameWithin(ctx.plannedName, 255);
    const out = await ec2<{ GroupId: string }>(ctx, 'CreateSecurityGroup', { GroupName: name, Description: props.GroupDescription, VpcId: str(props.VpcId), TagSpecifications: tagSpec(ctx, 'security-group', props.Tags) });
    try {
      await syncGroupRules(ctx, out.GroupId, props, undefined);
    } catch (e) {
      await ignoreNotFound(ec2(ctx, 'DeleteSecurityGroup', { GroupId: out.GroupId }));
      throw e;
    }
    return { physicalId: out.GroupId, attributes: await groupAttributes(ctx, out.GroupId) };
  },
  async update(id, props, before, ctx) {
    await syncGroupRules(ctx, id, props, before);
    await retag(ctx, id, props.Tags, before.Tags);
    return { physicalId: id, attributes: await groupAttributes(ctx, id) };
  },
  async delete(id, props, ctx) {
    if (id) {
      await ignoreNotFound(ec2(ctx, 'DeleteSecurityGroup', { GroupId: id }));
      return;
    }
    // Interrupted before its id was recorded: find it by its planned name in its VPC.
    const name = str(props.GroupName) ?? nameWithin(ctx.plannedName, 255);
    const filters = [{ Name: 'group-name', Values: [name] }, ...(str(props.VpcId) ? [{ Name: 'vpc-id', Values: [props.VpcId] }] : [])];
    const out = await ec2<{ SecurityGroups?: Array<{ GroupId?: string }> }>(ctx, 'DescribeSecurityGroups', { Filters: filters });
    for (const g of out.SecurityGroups ?? []) if (g.GroupId) await ignoreNotFound(ec2(ctx, 'DeleteSecurityGroup', { GroupId: g.GroupId }));
  },
};

/** A standalone AWS::EC2::SecurityGroupIngress / Egress: one rule, its id the physical id. */
function standaloneRule(direction: 'ingress' | 'egress'): ResourceProvider {
  const op = direction === 'ingress' ? 'Ingress' : 'Egress';
  return {
    async create(props, ctx) {
      const groupId = str(props.GroupId);
      if (!groupId) throw new ServiceError('ValidationError', `A security group ${direction} rule needs GroupId (rules by GroupName belong to EC2-Classic and default-VPC groups, not modelled here).`);
      const out = await ec2<{ SecurityGroupRules?: Array<{ SecurityGroupRuleId?: string }> }>(ctx, `AuthorizeSecurityGroup${op}`, { GroupId: groupId, IpPermissions: [permission(props, direction)] });
      const ruleId = out.SecurityGroupRules?.[0]?.SecurityGroupRuleId ?? `sgr-${groupId.slice(3)}`;
      return { physicalId: ruleId, attributes: { Id: ruleId } };
    },
    async delete(id, props, ctx) {
      if (!id || !str(props.GroupId)) return;
      await ignoreNotFound(ec2(ctx, `RevokeSecurityGroup${op}`, { GroupId: props.GroupId, SecurityGroupRuleIds: [id] }));
    },
  };
}

export const ec2Providers: Record<string, ResourceProvider> = {
  'AWS::EC2::LaunchTemplate': launchTemplate,
  'AWS::EC2::VPC': vpc,
  'AWS::EC2::Subnet': subnet,
  'AWS::EC2::InternetGateway': internetGateway,
  'AWS::EC2::VPCGatewayAttachment': gatewayAttachment,
  'AWS::EC2::NatGateway': natGateway,
  'AWS::EC2::EIP': eip,
  'AWS::EC2::RouteTable': routeTable,
  'AWS::EC2::Route': route,
  'AWS::EC2::SubnetRouteTableAssociation': subnetRouteTableAssociation,
  'AWS::EC2::SecurityGroup': securityGroup,
  'AWS::EC2::SecurityGroupIngress': standaloneRule('ingress'),
  'AWS::EC2::SecurityGroupEgress': standaloneRule('egress'),
  'AWS::EC2::VPCEndpoint': vpcEndpoint,
};
