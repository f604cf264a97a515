/** VPCs and subnets: create (CIDR rules as EC2's), attributes, and deletes that refuse dependents. */
import type { Tag } from '../common.js';
import type { Scope } from '../platform.js';
import { buildSubnet, buildVpc } from './build.js';
import { contains, overlaps, parseCidr } from './cidr.js';
import { ec2Errors } from './errors.js';
import { loadBalancersUsing } from './usage.js';
import type { SubnetRecord, VpcRecord } from './records.js';
import { ec2Read, ec2Transaction } from './tx.js';
import { findZone, zonesOf } from './zones.js';

/** Most VPCs per region (AWS's default quota). */
export const MAX_VPCS = 5;
/** Most subnets per VPC (AWS's default quota). */
export const MAX_SUBNETS_PER_VPC = 200;

/** Creates a VPC with its main route table and default security group. */
export async function createVpc(scope: Scope, cidrBlock: string, opts: { tags?: Tag[]; instanceTenancy?: string } = {}): Promise<VpcRecord> {
  const c = parseCidr(cidrBlock);
  if (!c) throw ec2Errors.invalidCidr(cidrBlock, 'cidrBlock');
  if (c.prefix < 16 || c.prefix > 28) throw ec2Errors.vpcRange(cidrBlock);
  return ec2Transaction(scope, 'The VPC', async (tx) => {
    const vpcs = await tx.list('vpc');
    if (vpcs.length >= MAX_VPCS) throw ec2Errors.limit('VpcLimitExceeded', `The maximum number of VPCs (${MAX_VPCS}) has been reached.`);
    const built = buildVpc(scope.region, scope.platform.clock.now(), cidrBlock, opts);
    tx.put(built.vpc);
    tx.put(built.mainRouteTable);
    tx.put(built.defaultGroup);
    return built.vpc;
  });
}

/** Deletes a VPC that has nothing left in it but its main route table and default group (DependencyViolation otherwise). */
export async function deleteVpc(scope: Scope, vpcId: string): Promise<void> {
  await ec2Transaction(scope, `VPC ${vpcId}`, async (tx) => {
    await tx.get('vpc', vpcId);
    const inVpc = <T extends { vpcId?: string }>(xs: T[]) => xs.filter((x) => x.vpcId === vpcId);
    const subnets = inVpc(await tx.list('subnet'));
    const igws = inVpc(await tx.list('igw'));
    const nats = inVpc(await tx.list('nat')).filter((n) => n.state !== 'deleted');
    const tables = inVpc(await tx.list('rtb'));
    const groups = inVpc(await tx.list('sg'));
    const extraTables = tables.filter((t) => !t.associations.some((a) => a.main));
    const extraGroups = groups.filter((g) => g.groupName !== 'default');
    const endpoints = inVpc(await tx.list('vpce'));
    if (subnets.length || igws.length || nats.length || extraTables.length || extraGroups.length || endpoints.length) throw ec2Errors.dependencyViolation('vpc', vpcId);
    tx.delete(vpcId);
    for (const r of [...tables, ...groups]) tx.delete(r.id);
  });
}

/** Changes a VPC's DNS attributes. */
export async function setVpcAttributes(scope: Scope, vpcId: string, change: { enableDnsSupport?: boolean; enableDnsHostnames?: boolean }): Promise<VpcRecord> {
  return ec2Transaction(scope, `VPC ${vpcId}`, async (tx) => {
    const vpc = await tx.get('vpc', vpcId);
    const next = { ...vpc, ...definedOnly(change) };
    if (next.enableDnsHostnames && !next.enableDnsSupport) throw ec2Errors.invalidParameterCombination('enableDnsHostnames requires enableDnsSupport: DNS hostnames need DNS resolution.');
    tx.put(next);
    return next;
  });
}

/** Creates a subnet: its block inside the VPC's, /16 to /28, overlapping no other subnet of the VPC, in a zone of the region. */
export async function createSubnet(scope: Scope, input: { vpcId: string; cidrBlock: string; zone?: string; tags?: Tag[] }): Promise<SubnetRecord> {
  const c = parseCidr(input.cidrBlock);
  if (!c) throw ec2Errors.invalidCidr(input.cidrBlock, 'cidrBlock');
  const zones = zonesOf(scope.region);
  const zone = input.zone === undefined ? undefined : findZone(scope.region, input.zone);
  if (input.zone !== undefined && !zone) throw ec2Errors.unknownZone(input.zone, zones.map((z) => z.name));
  return ec2Transaction(scope, `VPC ${input.vpcId}`, async (tx) => {
    const vpc = await tx.get('vpc', input.vpcId);
    if (c.prefix < 16 || c.prefix > 28) throw ec2Errors.subnetRange(input.cidrBlock, 'a subnet has a prefix length from /16 to /28');
    if (!contains(parseCidr(vpc.cidrBlock)!, c)) throw ec2Errors.subnetRange(input.cidrBlock, `it is not within the VPC's block ${vpc.cidrBlock}`);
    const siblings = (await tx.list('subnet')).filter((s) => s.vpcId === vpc.id);
    if (siblings.length >= MAX_SUBNETS_PER_VPC) throw ec2Errors.limit('SubnetLimitExceeded', `The maximum number of subnets per VPC (${MAX_SUBNETS_PER_VPC}) has been reached.`);
    const clash = siblings.find((s) => overlaps(parseCidr(s.cidrBlock)!, c));
    if (clash) throw ec2Errors.subnetConflict(input.cidrBlock, `${clash.id}, ${clash.cidrBlock}`);
    // Without a zone, EC2 picks one: here the one with the fewest subnets of this VPC.
    const chosen = zone ?? zones.reduce((best, z) => (siblings.filter((s) => s.availabilityZone === z.name).length < siblings.filter((s) => s.availabilityZone === best.name).length ? z : best));
    const subnet = buildSubnet(scope.region, scope.platform.clock.now(), vpc.id, input.cidrBlock, chosen, { tags: input.tags });
    tx.touch(vpc);
    tx.put(subnet);
    return subnet;
  });
}

/** Deletes a subnet nothing uses (a NAT gateway, a load balancer, an instance, an interface endpoint: DependencyViolation). */
export async function deleteSubnet(scope: Scope, subnetId: string): Promise<void> {
  const lbs = await loadBalancersUsing(scope, { subnetId });
  await ec2Transaction(scope, `Subnet ${subnetId}`, async (tx) => {
    await tx.get('subnet', subnetId);
    const nats = (await tx.list('nat')).filter((n) => n.subnetId === subnetId && n.state !== 'deleted');
    const instances = (await tx.list('i')).filter((i) => i.subnetId === subnetId && i.state !== 'terminated');
    const endpoints = (await tx.list('vpce')).filter((e) => e.subnetIds.includes(subnetId));
    if (nats.length || instances.length || lbs.length || endpoints.length) throw ec2Errors.dependencyViolation('subnet', subnetId);
    // Its route table association goes with it, as on EC2.
    for (const t of await tx.list('rtb')) {
      if (t.associations.some((a) => a.subnetId === subnetId)) tx.put({ ...t, associations: t.associations.filter((a) => a.subnetId !== subnetId) });
    }
    tx.delete(subnetId);
  });
}

/** Changes whether instances launched in a subnet get a public IP. */
export async function setSubnetAttributes(scope: Scope, subnetId: string, change: { mapPublicIpOnLaunch?: boolean }): Promise<SubnetRecord> {
  return ec2Transaction(scope, `Subnet ${subnetId}`, async (tx) => {
    const s = await tx.get('subnet', subnetId);
    const next = { ...s, ...definedOnly(change) };
    tx.put(next);
    return next;
  });
}

/** The region's default VPC, if it has one. */
export async function defaultVpc(scope: Scope): Promise<VpcRecord | undefined> {
  return ec2Read(scope, async (tx) => (await tx.list('vpc')).find((v) => v.isDefault));
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
