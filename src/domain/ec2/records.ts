/**
 * EC2 networking records. Every resource is one record of the store kind `ec2`, keyed
 * `<region>/<id>`; the id's prefix says its type (`vpc-`, `subnet-`, `igw-`, `nat-`, `rtb-`,
 * `sg-`, `eipalloc-`, `i-`, `vpce-`), so one region's resources of a type are one key prefix, and tags
 * (which any resource carries) need no type to be found.
 */
import { randomBytes } from 'node:crypto';
import type { Tag } from '../common.js';

/** The store kind of every EC2 record. */
export const EC2_KIND = 'ec2';
/** The store kind of the per-region marker saying the default VPC was made (once, even if deleted since). */
export const EC2_DEFAULTS_KIND = 'ec2-defaults';

/** Id prefixes of the resource types, as EC2 spells them. */
export type ResourcePrefix = 'vpc' | 'subnet' | 'igw' | 'nat' | 'rtb' | 'sg' | 'eipalloc' | 'i' | 'vpce';

/** The EC2 resource type (`DescribeTags`' `resource-type`) of each id prefix. */
export const RESOURCE_TYPES: Readonly<Record<ResourcePrefix, string>> = {
  vpc: 'vpc',
  subnet: 'subnet',
  igw: 'internet-gateway',
  nat: 'natgateway',
  rtb: 'route-table',
  sg: 'security-group',
  eipalloc: 'elastic-ip',
  i: 'instance',
  vpce: 'vpc-endpoint',
};

/** A new id: the prefix and 17 hex digits, as EC2's long ids. */
export function newEc2Id(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

/** The store key of a resource. */
export function ec2Key(region: string, id: string): string {
  return `${region}/${id}`;
}

/** The type prefix of an id (`vpc-0abc` -> `vpc`), or undefined when it has none Berth knows. */
export function prefixOf(id: string): ResourcePrefix | undefined {
  const p = id.slice(0, id.indexOf('-'));
  return p in RESOURCE_TYPES ? (p as ResourcePrefix) : undefined;
}

/** What every EC2 record has. */
export interface Ec2Base {
  id: string;
  region: string;
  tags: Tag[];
  createdAt: number;
}

export interface VpcRecord extends Ec2Base {
  type: 'vpc';
  cidrBlock: string;
  isDefault: boolean;
  instanceTenancy: string;
  enableDnsSupport: boolean;
  enableDnsHostnames: boolean;
  /** The association id of the VPC's primary CIDR block. */
  cidrAssociationId: string;
}

export interface SubnetRecord extends Ec2Base {
  type: 'subnet';
  vpcId: string;
  cidrBlock: string;
  availabilityZone: string;
  availabilityZoneId: string;
  defaultForAz: boolean;
  mapPublicIpOnLaunch: boolean;
}

export interface InternetGatewayRecord extends Ec2Base {
  type: 'igw';
  /** The VPC it is attached to, if any (at most one). */
  vpcId?: string;
}

export interface NatGatewayRecord extends Ec2Base {
  type: 'nat';
  vpcId: string;
  subnetId: string;
  connectivityType: 'public' | 'private';
  allocationId?: string;
  publicIp?: string;
  privateIp: string;
  networkInterfaceId: string;
  /** `available`, or `deleted` (kept visible, as EC2 keeps deleted NAT gateways for a while). */
  state: 'available' | 'deleted';
  deletedAt?: number;
}

export interface RouteRecord {
  destinationCidrBlock?: string;
  destinationIpv6CidrBlock?: string;
  /** The prefix list of a gateway endpoint's service (its routes' destination). */
  destinationPrefixListId?: string;
  /** `local`, an internet gateway id, or a gateway VPC endpoint id (`vpce-`, with a prefix-list destination). */
  gatewayId?: string;
  natGatewayId?: string;
  origin: 'CreateRouteTable' | 'CreateRoute';
}

export interface RouteTableAssociationRecord {
  id: string;
  main: boolean;
  subnetId?: string;
  gatewayId?: string;
}

export interface RouteTableRecord extends Ec2Base {
  type: 'rtb';
  vpcId: string;
  routes: RouteRecord[];
  associations: RouteTableAssociationRecord[];
}

/** One security group rule: a protocol and port range with one peer. */
export interface SecurityGroupRuleRecord {
  id: string;
  /** `-1` (all), `tcp`, `udp`, `icmp`, `icmpv6` or a protocol number. */
  protocol: string;
  fromPort?: number;
  toPort?: number;
  cidrIpv4?: string;
  cidrIpv6?: string;
  prefixListId?: string;
  referencedGroupId?: string;
  description?: string;
}

export interface SecurityGroupRecord extends Ec2Base {
  type: 'sg';
  vpcId: string;
  groupName: string;
  description: string;
  ingress: SecurityGroupRuleRecord[];
  egress: SecurityGroupRuleRecord[];
}

export interface AddressRecord extends Ec2Base {
  type: 'eipalloc';
  publicIp: string;
  /** Where it is associated: an instance, or a NAT gateway (through its network interface). */
  associationId?: string;
  instanceId?: string;
  natGatewayId?: string;
  networkInterfaceId?: string;
  privateIp?: string;
}

/**
 * An instance as DescribeInstances shows it. Berth's instances are agent hosts (Auto Scaling
 * groups start them); this is the record their launcher writes.
 */
export interface InstanceRecord extends Ec2Base {
  type: 'i';
  imageId: string;
  instanceType: string;
  state: 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
  subnetId?: string;
  vpcId?: string;
  availabilityZone: string;
  privateIp?: string;
  securityGroupIds: string[];
  reservationId: string;
  launchedAt: number;
}

/**
 * A VPC endpoint: a Gateway endpoint (S3, DynamoDB) adds a route to its service's prefix list in
 * each of its route tables; an Interface endpoint sits in subnets with security groups. Berth has
 * no AWS services behind them: the record is the model (what DescribeVpcEndpoints shows and what
 * keeps its VPC, route tables, subnets and groups from being deleted under it).
 */
export interface VpcEndpointRecord extends Ec2Base {
  type: 'vpce';
  vpcId: string;
  serviceName: string;
  endpointType: 'Gateway' | 'Interface';
  /** The endpoint policy (JSON text); the full-access policy when none was given. */
  policyDocument: string;
  routeTableIds: string[];
  subnetIds: string[];
  securityGroupIds: string[];
  privateDnsEnabled: boolean;
  /** Interface endpoints: one network interface id per subnet, in the order of `subnetIds`. */
  networkInterfaceIds: string[];
}

export type Ec2Record = VpcRecord | SubnetRecord | InternetGatewayRecord | NatGatewayRecord | RouteTableRecord | SecurityGroupRecord | AddressRecord | InstanceRecord | VpcEndpointRecord;

/** The record type of each id prefix. */
export interface RecordOf {
  vpc: VpcRecord;
  subnet: SubnetRecord;
  igw: InternetGatewayRecord;
  nat: NatGatewayRecord;
  rtb: RouteTableRecord;
  sg: SecurityGroupRecord;
  eipalloc: AddressRecord;
  i: InstanceRecord;
  vpce: VpcEndpointRecord;
}
