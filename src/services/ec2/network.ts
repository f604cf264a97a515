/** VPCs, subnets, internet and NAT gateways, elastic IPs, route tables and routes. */
import type * as EC2 from '../../generated/ec2.js';
import type { Handlers, RequestContext } from '../types.js';
import { ec2Errors } from '../../domain/ec2/errors.js';
import { parseCidr, sizeOf } from '../../domain/ec2/cidr.js';
import { listEc2 } from '../../domain/ec2/lookup.js';
import { createSubnet, createVpc, deleteSubnet, deleteVpc, setSubnetAttributes, setVpcAttributes } from '../../domain/ec2/vpcs.js';
import { allocateAddress, associateAddress, attachInternetGateway, createInternetGateway, createNatGateway, deleteInternetGateway, deleteNatGateway, detachInternetGateway, disassociateAddress, releaseAddress } from '../../domain/ec2/gateways.js';
import { associateRouteTable, createRoute, createRouteTable, deleteRoute, deleteRouteTable, disassociateRouteTable, replaceRoute, replaceRouteTableAssociation, type RouteTarget } from '../../domain/ec2/routes.js';
import { mergeEc2Tags } from '../../domain/ec2/tags.js';
import { findZone } from '../../domain/ec2/zones.js';
import type { AddressRecord, InternetGatewayRecord, NatGatewayRecord, RouteTableRecord, SubnetRecord, VpcRecord } from '../../domain/ec2/records.js';
import { apiTags, byIds, compileFilters, page, tagsFor, type FilterTable } from './describe.js';

const arnOf = (ctx: RequestContext, type: string, id: string) => `arn:aws:ec2:${ctx.region}:${ctx.platform.accountId}:${type}/${id}`;

export function describeVpc(v: VpcRecord, ctx: RequestContext): EC2.Vpc {
  return {
    VpcId: v.id,
    CidrBlock: v.cidrBlock,
    CidrBlockAssociationSet: [{ AssociationId: v.cidrAssociationId, CidrBlock: v.cidrBlock, CidrBlockState: { State: 'associated' } }],
    DhcpOptionsId: 'default',
    InstanceTenancy: v.instanceTenancy as EC2.Tenancy,
    IsDefault: v.isDefault,
    OwnerId: ctx.platform.accountId,
    State: 'available',
    Tags: apiTags(v.tags),
  };
}

export function describeSubnet(s: SubnetRecord, ctx: RequestContext): EC2.Subnet {
  return {
    SubnetId: s.id,
    SubnetArn: arnOf(ctx, 'subnet', s.id),
    VpcId: s.vpcId,
    CidrBlock: s.cidrBlock,
    AvailabilityZone: s.availabilityZone,
    AvailabilityZoneId: s.availabilityZoneId,
    AvailableIpAddressCount: sizeOf(parseCidr(s.cidrBlock)!) - 5,
    DefaultForAz: s.defaultForAz,
    MapPublicIpOnLaunch: s.mapPublicIpOnLaunch,
    AssignIpv6AddressOnCreation: false,
    Ipv6CidrBlockAssociationSet: [],
    OwnerId: ctx.platform.accountId,
    State: 'available',
    Tags: apiTags(s.tags),
  };
}

function describeIgw(g: InternetGatewayRecord, ctx: RequestContext): EC2.InternetGateway {
  return { InternetGatewayId: g.id, OwnerId: ctx.platform.accountId, Attachments: g.vpcId ? [{ VpcId: g.vpcId, State: 'available' as EC2.AttachmentStatus }] : [], Tags: apiTags(g.tags) };
}

function describeNat(n: NatGatewayRecord): EC2.NatGateway {
  return {
    NatGatewayId: n.id,
    SubnetId: n.subnetId,
    VpcId: n.vpcId,
    ConnectivityType: n.connectivityType,
    State: n.state,
    CreateTime: new Date(n.createdAt),
    DeleteTime: n.deletedAt !== undefined ? new Date(n.deletedAt) : undefined,
    NatGatewayAddresses: [
      { AllocationId: n.allocationId, PublicIp: n.publicIp, PrivateIp: n.privateIp, NetworkInterfaceId: n.networkInterfaceId, IsPrimary: true, Status: n.state === 'deleted' ? 'disassociating' : 'succeeded' },
    ],
    Tags: apiTags(n.tags),
  };
}

function describeAddress(a: AddressRecord, ctx: RequestContext): EC2.Address {
  return {
    AllocationId: a.id,
    PublicIp: a.publicIp,
    Domain: 'vpc',
    AssociationId: a.associationId,
    InstanceId: a.instanceId,
    NetworkInterfaceId: a.networkInterfaceId,
    NetworkInterfaceOwnerId: a.networkInterfaceId ? ctx.platform.accountId : undefined,
    PrivateIpAddress: a.privateIp,
    PublicIpv4Pool: 'amazon',
    NetworkBorderGroup: ctx.region,
    Tags: apiTags(a.tags),
  };
}

function describeRouteTable(t: RouteTableRecord, ctx: RequestContext, igws: InternetGatewayRecord[], nats: NatGatewayRecord[]): EC2.RouteTable {
  const live = (r: RouteTableRecord['routes'][number]) =>
    r.gatewayId === 'local' ||
    r.destinationPrefixListId !== undefined || (r.gatewayId !== undefined && igws.some((g) => g.id === r.gatewayId && g.vpcId === t.vpcId)) || (r.natGatewayId !== undefined && nats.some((n) => n.id === r.natGatewayId && n.state !== 'deleted'));
  return {
    RouteTableId: t.id,
    VpcId: t.vpcId,
    OwnerId: ctx.platform.accountId,
    PropagatingVgws: [],
    Routes: t.routes.map((r) => ({
      DestinationCidrBlock: r.destinationCidrBlock,
      DestinationIpv6CidrBlock: r.destinationIpv6CidrBlock,
      DestinationPrefixListId: r.destinationPrefixListId,
      GatewayId: r.gatewayId,
      NatGatewayId: r.natGatewayId,
      Origin: r.origin,
      State: live(r) ? 'active' : 'blackhole',
    })),
    Associations: t.associations.map((a) => ({ RouteTableAssociationId: a.id, RouteTableId: t.id, Main: a.main, SubnetId: a.subnetId, GatewayId: a.gatewayId, AssociationState: { State: 'associated' } })),
    Tags: apiTags(t.tags),
  };
}

const VPC_FILTERS: FilterTable<VpcRecord> = {
  'vpc-id': (v) => [v.id],
  'cidr': (v) => [v.cidrBlock],
  'cidr-block-association.cidr-block': (v) => [v.cidrBlock],
  'cidr-block-association.association-id': (v) => [v.cidrAssociationId],
  'cidr-block-association.state': () => ['associated'],
  'dhcp-options-id': () => ['default'],
  'is-default': (v) => [v.isDefault],
  isDefault: (v) => [v.isDefault],
  'owner-id': () => [],
  state: () => ['available'],
};

const SUBNET_FILTERS: FilterTable<SubnetRecord> = {
  'subnet-id': (s) => [s.id],
  subnetId: (s) => [s.id],
  'vpc-id': (s) => [s.vpcId],
  vpcId: (s) => [s.vpcId],
  'availability-zone': (s) => [s.availabilityZone],
  availabilityZone: (s) => [s.availabilityZone],
  'availability-zone-id': (s) => [s.availabilityZoneId],
  availabilityZoneId: (s) => [s.availabilityZoneId],
  'cidr-block': (s) => [s.cidrBlock],
  cidrBlock: (s) => [s.cidrBlock],
  cidr: (s) => [s.cidrBlock],
  'default-for-az': (s) => [s.defaultForAz],
  defaultForAz: (s) => [s.defaultForAz],
  'map-public-ip-on-launch': (s) => [s.mapPublicIpOnLaunch],
  state: () => ['available'],
  'subnet-arn': () => [],
};

const IGW_FILTERS: FilterTable<InternetGatewayRecord> = {
  'internet-gateway-id': (g) => [g.id],
  'attachment.vpc-id': (g) => [g.vpcId],
  'attachment.state': (g) => (g.vpcId ? ['available'] : []),
};

const NAT_FILTERS: FilterTable<NatGatewayRecord> = {
  'nat-gateway-id': (n) => [n.id],
  'subnet-id': (n) => [n.subnetId],
  'vpc-id': (n) => [n.vpcId],
  state: (n) => [n.state],
};

const ADDRESS_FILTERS: FilterTable<AddressRecord> = {
  'allocation-id': (a) => [a.id],
  'association-id': (a) => [a.associationId],
  'public-ip': (a) => [a.publicIp],
  'instance-id': (a) => [a.instanceId],
  'network-interface-id': (a) => [a.networkInterfaceId],
  'private-ip-address': (a) => [a.privateIp],
  domain: () => ['vpc'],
  'network-border-group': (a) => [a.region],
};

const ROUTE_TABLE_FILTERS: FilterTable<RouteTableRecord> = {
  'route-table-id': (t) => [t.id],
  'vpc-id': (t) => [t.vpcId],
  'association.main': (t) => (t.associations.some((a) => a.main) ? [true] : [false]),
  'association.subnet-id': (t) => t.associations.map((a) => a.subnetId),
  'association.gateway-id': (t) => t.associations.map((a) => a.gatewayId),
  'association.route-table-association-id': (t) => t.associations.map((a) => a.id),
  'association.route-table-id': (t) => (t.associations.length ? [t.id] : []),
  'route.destination-cidr-block': (t) => t.routes.map((r) => r.destinationCidrBlock),
  'route.destination-ipv6-cidr-block': (t) => t.routes.map((r) => r.destinationIpv6CidrBlock),
  'route.destination-prefix-list-id': (t) => t.routes.map((r) => r.destinationPrefixListId),
  'route.gateway-id': (t) => t.routes.map((r) => r.gatewayId),
  'route.nat-gateway-id': (t) => t.routes.map((r) => r.natGatewayId),
  'route.origin': (t) => t.routes.map((r) => r.origin),
};

/** The one target a CreateRoute/ReplaceRoute names (targets Berth does not model by parameter name). */
function targetOf(input: EC2.CreateRouteRequest | EC2.ReplaceRouteRequest): RouteTarget {
  const others = (['InstanceId', 'VpcPeeringConnectionId', 'TransitGatewayId', 'NetworkInterfaceId', 'EgressOnlyInternetGatewayId', 'CarrierGatewayId', 'LocalGatewayId', 'CoreNetworkArn', 'DestinationPrefixListId'] as const).filter(
    (k) => (input as unknown as Record<string, unknown>)[k] !== undefined,
  );
  if ('VpcEndpointId' in input && input.VpcEndpointId !== undefined) others.push('VpcEndpointId' as never);
  return { gatewayId: input.GatewayId, natGatewayId: input.NatGatewayId, other: others[0] };
}

export const networkHandlers: Handlers<EC2.Operations> = {
  async CreateVpc(input, ctx) {
    if (input.CidrBlock === undefined) throw ec2Errors.missingParameter('CidrBlock');
    if (input.AmazonProvidedIpv6CidrBlock || input.Ipv6CidrBlock || input.Ipv4IpamPoolId || input.Ipv6IpamPoolId) throw ec2Errors.unsupported('Berth models IPv4 VPCs with a CidrBlock; IPv6 blocks and IPAM pools are not modelled.');
    const vpc = await createVpc(ctx, input.CidrBlock, { tags: mergeEc2Tags([], tagsFor(input.TagSpecifications, 'vpc')), instanceTenancy: input.InstanceTenancy });
    return { Vpc: { ...describeVpc(vpc, ctx), State: 'pending' } };
  },
  async DeleteVpc(input, ctx) {
    await deleteVpc(ctx, input.VpcId);
    return {};
  },
  async DescribeVpcs(input, ctx) {
    const match = compileFilters(input.Filters, VPC_FILTERS);
    const all = byIds(await listEc2(ctx, 'vpc'), input.VpcIds, (id) => ec2Errors.notFound('vpc', id)).filter(match);
    const p = page(all, input.MaxResults, input.NextToken);
    return { Vpcs: p.items.map((v) => describeVpc(v, ctx)), NextToken: p.nextToken };
  },
  async ModifyVpcAttribute(input, ctx) {
    const given = [input.EnableDnsSupport, input.EnableDnsHostnames, input.EnableNetworkAddressUsageMetrics].filter((x) => x !== undefined);
    if (given.length !== 1) throw ec2Errors.invalidParameterCombination('Give exactly one attribute to modify per call (EnableDnsSupport or EnableDnsHostnames).');
    if (input.EnableNetworkAddressUsageMetrics) throw ec2Errors.unsupported('Berth does not model network address usage metrics.');
    await setVpcAttributes(ctx, input.VpcId, { enableDnsSupport: input.EnableDnsSupport?.Value, enableDnsHostnames: input.EnableDnsHostnames?.Value });
    return {};
  },
  async DescribeVpcAttribute(input, ctx) {
    const vpc = byIds(await listEc2(ctx, 'vpc'), [input.VpcId], (id) => ec2Errors.notFound('vpc', id))[0]!;
    const out: EC2.DescribeVpcAttributeResult = { VpcId: vpc.id };
    if (input.Attribute === 'enableDnsSupport') out.EnableDnsSupport = { Value: vpc.enableDnsSupport };
    else if (input.Attribute === 'enableDnsHostnames') out.EnableDnsHostnames = { Value: vpc.enableDnsHostnames };
    else out.EnableNetworkAddressUsageMetrics = { Value: false };
    return out;
  },

  async CreateSubnet(input, ctx) {
    if (input.CidrBlock === undefined) throw ec2Errors.missingParameter('CidrBlock');
    if (input.Ipv6CidrBlock || input.Ipv6Native || input.OutpostArn) throw ec2Errors.unsupported('Berth models IPv4 subnets in its availability zones; IPv6 and Outposts subnets are not modelled.');
    const zone = input.AvailabilityZone ?? input.AvailabilityZoneId;
    if (input.AvailabilityZone !== undefined && input.AvailabilityZoneId !== undefined && findZone(ctx.region, input.AvailabilityZone)?.id !== input.AvailabilityZoneId) {
      throw ec2Errors.invalidParameterCombination('AvailabilityZone and AvailabilityZoneId name different zones.');
    }
    const s = await createSubnet(ctx, { vpcId: input.VpcId, cidrBlock: input.CidrBlock, zone, tags: mergeEc2Tags([], tagsFor(input.TagSpecifications, 'subnet')) });
    return { Subnet: { ...describeSubnet(s, ctx), State: 'pending' } };
  },
  async DeleteSubnet(input, ctx) {
    await deleteSubnet(ctx, input.SubnetId);
    return {};
  },
  async DescribeSubnets(input, ctx) {
    const match = compileFilters(input.Filters, SUBNET_FILTERS);
    const all = byIds(await listEc2(ctx, 'subnet'), input.SubnetIds, (id) => ec2Errors.notFound('subnet', id)).filter(match);
    const p = page(all, input.MaxResults, input.NextToken);
    return { Subnets: p.items.map((s) => describeSubnet(s, ctx)), NextToken: p.nextToken };
  },
  async ModifySubnetAttribute(input, ctx) {
    if (input.MapPublicIpOnLaunch === undefined) throw ec2Errors.unsupported('Berth models one subnet attribute: MapPublicIpOnLaunch.');
    await setSubnetAttributes(ctx, input.SubnetId, { mapPublicIpOnLaunch: input.MapPublicIpOnLaunch.Value });
    return {};
  },

  async CreateInternetGateway(input, ctx) {
    const g = await createInternetGateway(ctx, mergeEc2Tags([], tagsFor(input.TagSpecifications, 'internet-gateway')));
    return { InternetGateway: describeIgw(g, ctx) };
  },
  async DeleteInternetGateway(input, ctx) {
    await deleteInternetGateway(ctx, input.InternetGatewayId);
    return {};
  },
  async AttachInternetGateway(input, ctx) {
    await attachInternetGateway(ctx, input.InternetGatewayId, input.VpcId);
    return {};
  },
  async DetachInternetGateway(input, ctx) {
    await detachInternetGateway(ctx, input.InternetGatewayId, input.VpcId);
    return {};
  },
  async DescribeInternetGateways(input, ctx) {
    const match = compileFilters(input.Filters, IGW_FILTERS);
    const all = byIds(await listEc2(ctx, 'igw'), input.InternetGatewayIds, (id) => ec2Errors.notFound('igw', id)).filter(match);
    const p = page(all, input.MaxResults, input.NextToken);
    return { InternetGateways: p.items.map((g) => describeIgw(g, ctx)), NextToken: p.nextToken };
  },

  async CreateNatGateway(input, ctx) {
    if (input.SubnetId === undefined) throw ec2Errors.missingParameter('SubnetId');
    if (input.SecondaryAllocationIds?.length || input.SecondaryPrivateIpAddresses?.length || input.SecondaryPrivateIpAddressCount) throw ec2Errors.unsupported('Berth models NAT gateways with one address; secondary addresses are not modelled.');
    const n = await createNatGateway(ctx, { subnetId: input.SubnetId, allocationId: input.AllocationId, connectivityType: input.ConnectivityType, tags: mergeEc2Tags([], tagsFor(input.TagSpecifications, 'natgateway')) });
    return { NatGateway: describeNat(n), ClientToken: input.ClientToken };
  },
  async DeleteNatGateway(input, ctx) {
    const n = await deleteNatGateway(ctx, input.NatGatewayId);
    return { NatGatewayId: n.id };
  },
  async DescribeNatGateways(input, ctx) {
    const match = compileFilters(input.Filter, NAT_FILTERS);
    const all = byIds(await listEc2(ctx, 'nat'), input.NatGatewayIds, (id) => ec2Errors.notFound('nat', id)).filter(match);
    const p = page(all, input.MaxResults, input.NextToken);
    return { NatGateways: p.items.map(describeNat), NextToken: p.nextToken };
  },

  async AllocateAddress(input, ctx) {
    if (input.Domain === 'standard') throw ec2Errors.unsupported('EC2-Classic addresses (Domain standard) no longer exist: allocate with Domain vpc.');
    if (input.Address || input.PublicIpv4Pool || input.CustomerOwnedIpv4Pool || input.IpamPoolId) throw ec2Errors.unsupported('Berth allocates addresses from its own pool; a chosen address or pool is not modelled.');
    const a = await allocateAddress(ctx, mergeEc2Tags([], tagsFor(input.TagSpecifications, 'elastic-ip')));
    return { AllocationId: a.id, PublicIp: a.publicIp, Domain: 'vpc', PublicIpv4Pool: 'amazon', NetworkBorderGroup: ctx.region };
  },
  async ReleaseAddress(input, ctx) {
    await releaseAddress(ctx, { allocationId: input.AllocationId, publicIp: input.PublicIp });
    return {};
  },
  async AssociateAddress(input, ctx) {
    const a = await associateAddress(ctx, { allocationId: input.AllocationId, publicIp: input.PublicIp, instanceId: input.InstanceId, networkInterfaceId: input.NetworkInterfaceId, allowReassociation: input.AllowReassociation });
    return { AssociationId: a.associationId };
  },
  async DisassociateAddress(input, ctx) {
    await disassociateAddress(ctx, { associationId: input.AssociationId, publicIp: input.PublicIp });
    return {};
  },
  async DescribeAddresses(input, ctx) {
    const match = compileFilters(input.Filters, ADDRESS_FILTERS);
    let all = byIds(await listEc2(ctx, 'eipalloc'), input.AllocationIds, (id) => ec2Errors.notFound('eipalloc', id));
    if (input.PublicIps?.length) {
      for (const ip of input.PublicIps) if (!all.some((a) => a.publicIp === ip)) throw ec2Errors.addressNotFound(ip);
      all = all.filter((a) => input.PublicIps!.includes(a.publicIp));
    }
    return { Addresses: all.filter(match).map((a) => describeAddress(a, ctx)) };
  },

  async CreateRouteTable(input, ctx) {
    const t = await createRouteTable(ctx, input.VpcId, mergeEc2Tags([], tagsFor(input.TagSpecifications, 'route-table')));
    return { RouteTable: describeRouteTable(t, ctx, [], []), ClientToken: input.ClientToken };
  },
  async DeleteRouteTable(input, ctx) {
    await deleteRouteTable(ctx, input.RouteTableId);
    return {};
  },
  async DescribeRouteTables(input, ctx) {
    const match = compileFilters(input.Filters, ROUTE_TABLE_FILTERS);
    const all = byIds(await listEc2(ctx, 'rtb'), input.RouteTableIds, (id) => ec2Errors.notFound('rtb', id)).filter(match);
    const p = page(all, input.MaxResults, input.NextToken);
    const [igws, nats] = [await listEc2(ctx, 'igw'), await listEc2(ctx, 'nat')];
    return { RouteTables: p.items.map((t) => describeRouteTable(t, ctx, igws, nats)), NextToken: p.nextToken };
  },
  async CreateRoute(input, ctx) {
    await createRoute(ctx, input.RouteTableId, { cidr: input.DestinationCidrBlock, ipv6Cidr: input.DestinationIpv6CidrBlock }, targetOf(input));
    return { Return: true };
  },
  async ReplaceRoute(input, ctx) {
    await replaceRoute(ctx, input.RouteTableId, { cidr: input.DestinationCidrBlock, ipv6Cidr: input.DestinationIpv6CidrBlock }, targetOf(input));
    return {};
  },
  async DeleteRoute(input, ctx) {
    if (input.DestinationPrefixListId !== undefined) throw ec2Errors.unsupported('Berth models routes to CIDR blocks; prefix-list destinations are not modelled.');
    await deleteRoute(ctx, input.RouteTableId, { cidr: input.DestinationCidrBlock, ipv6Cidr: input.DestinationIpv6CidrBlock });
    return {};
  },
  async AssociateRouteTable(input, ctx) {
    const a = await associateRouteTable(ctx, input.RouteTableId, { subnetId: input.SubnetId, gatewayId: input.GatewayId });
    return { AssociationId: a.id, AssociationState: { State: 'associated' } };
  },
  async DisassociateRouteTable(input, ctx) {
    await disassociateRouteTable(ctx, input.AssociationId);
    return {};
  },
  async ReplaceRouteTableAssociation(input, ctx) {
    const a = await replaceRouteTableAssociation(ctx, input.AssociationId, input.RouteTableId);
    return { NewAssociationId: a.id, AssociationState: { State: 'associated' } };
  },
};
