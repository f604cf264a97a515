/** Pure builders of new EC2 records (ids made here), shared by the API's creates and the default VPC. */
import type { Tag } from '../common.js';
import { newEc2Id, type InternetGatewayRecord, type RouteTableRecord, type SecurityGroupRecord, type SecurityGroupRuleRecord, type SubnetRecord, type VpcRecord } from './records.js';
import type { Zone } from './zones.js';

/** A rule that lets everything out to 0.0.0.0/0 (every new group's egress). */
export function allowAllEgress(): SecurityGroupRuleRecord {
  return { id: newEc2Id('sgr'), protocol: '-1', cidrIpv4: '0.0.0.0/0' };
}

/** A new VPC with its main route table (the local route) and its default security group. */
export function buildVpc(region: string, now: number, cidrBlock: string, opts: { isDefault?: boolean; tags?: Tag[]; instanceTenancy?: string } = {}): { vpc: VpcRecord; mainRouteTable: RouteTableRecord; defaultGroup: SecurityGroupRecord } {
  const vpc: VpcRecord = {
    type: 'vpc',
    id: newEc2Id('vpc'),
    region,
    tags: opts.tags ?? [],
    createdAt: now,
    cidrBlock,
    isDefault: opts.isDefault ?? false,
    instanceTenancy: opts.instanceTenancy ?? 'default',
    enableDnsSupport: true,
    enableDnsHostnames: opts.isDefault ?? false,
    cidrAssociationId: newEc2Id('vpc-cidr-assoc'),
  };
  const mainRouteTable: RouteTableRecord = {
    type: 'rtb',
    id: newEc2Id('rtb'),
    region,
    tags: [],
    createdAt: now,
    vpcId: vpc.id,
    routes: [{ destinationCidrBlock: cidrBlock, gatewayId: 'local', origin: 'CreateRouteTable' }],
    associations: [{ id: newEc2Id('rtbassoc'), main: true }],
  };
  const groupId = newEc2Id('sg');
  const defaultGroup: SecurityGroupRecord = {
    type: 'sg',
    id: groupId,
    region,
    tags: [],
    createdAt: now,
    vpcId: vpc.id,
    groupName: 'default',
    description: 'default VPC security group',
    ingress: [{ id: newEc2Id('sgr'), protocol: '-1', referencedGroupId: groupId }],
    egress: [allowAllEgress()],
  };
  return { vpc, mainRouteTable, defaultGroup };
}

/** A new subnet. */
export function buildSubnet(region: string, now: number, vpcId: string, cidrBlock: string, zone: Zone, opts: { defaultForAz?: boolean; tags?: Tag[] } = {}): SubnetRecord {
  return {
    type: 'subnet',
    id: newEc2Id('subnet'),
    region,
    tags: opts.tags ?? [],
    createdAt: now,
    vpcId,
    cidrBlock,
    availabilityZone: zone.name,
    availabilityZoneId: zone.id,
    defaultForAz: opts.defaultForAz ?? false,
    mapPublicIpOnLaunch: opts.defaultForAz ?? false,
  };
}

/** A new, detached internet gateway. */
export function buildInternetGateway(region: string, now: number, tags: Tag[] = []): InternetGatewayRecord {
  return { type: 'igw', id: newEc2Id('igw'), region, tags, createdAt: now };
}
