/** Internet gateways (attach/detach, one per VPC), NAT gateways and elastic IP addresses. */
import type { Tag } from '../common.js';
import type { Scope } from '../platform.js';
import { buildInternetGateway } from './build.js';
import { ipOf, parseCidr } from './cidr.js';
import { ec2Errors } from './errors.js';
import { newEc2Id, type AddressRecord, type InternetGatewayRecord, type NatGatewayRecord } from './records.js';
import { ec2Transaction } from './tx.js';

/** Most elastic IP addresses per region (AWS's default quota). */
export const MAX_ADDRESSES = 5;
/** Most internet gateways per region (AWS's default quota). */
export const MAX_INTERNET_GATEWAYS = 5;
/** The block elastic IPs are drawn from: TEST-NET-3 (RFC 5737), which routes nowhere, as these addresses do. */
const ADDRESS_POOL = parseCidr('203.0.113.0/24')!;

export async function createInternetGateway(scope: Scope, tags: Tag[] = []): Promise<InternetGatewayRecord> {
  return ec2Transaction(scope, 'The internet gateway', async (tx) => {
    if ((await tx.list('igw')).length >= MAX_INTERNET_GATEWAYS) throw ec2Errors.limit('InternetGatewayLimitExceeded', `The maximum number of internet gateways (${MAX_INTERNET_GATEWAYS}) has been reached.`);
    const igw = buildInternetGateway(scope.region, scope.platform.clock.now(), tags);
    tx.put(igw);
    return igw;
  });
}

export async function deleteInternetGateway(scope: Scope, igwId: string): Promise<void> {
  await ec2Transaction(scope, `Internet gateway ${igwId}`, async (tx) => {
    const igw = await tx.get('igw', igwId);
    if (igw.vpcId) throw ec2Errors.dependencyViolation('internetGateway', igwId);
    tx.delete(igwId);
  });
}

/** Attaches a detached gateway to a VPC that has none. */
export async function attachInternetGateway(scope: Scope, igwId: string, vpcId: string): Promise<void> {
  await ec2Transaction(scope, `Internet gateway ${igwId}`, async (tx) => {
    const igw = await tx.get('igw', igwId);
    const vpc = await tx.get('vpc', vpcId);
    if (igw.vpcId) throw ec2Errors.alreadyAssociated(`resource ${igwId} is already attached to network ${igw.vpcId}`);
    const other = (await tx.list('igw')).find((g) => g.vpcId === vpcId);
    if (other) throw ec2Errors.alreadyAssociated(`Network ${vpcId} already has an internet gateway attached (${other.id})`);
    tx.touch(vpc);
    tx.put({ ...igw, vpcId });
  });
}

/** Detaches a gateway from the VPC it is attached to (routes through it become blackholes). */
export async function detachInternetGateway(scope: Scope, igwId: string, vpcId: string): Promise<void> {
  await ec2Transaction(scope, `Internet gateway ${igwId}`, async (tx) => {
    const igw = await tx.get('igw', igwId);
    await tx.get('vpc', vpcId);
    if (igw.vpcId !== vpcId) throw ec2Errors.gatewayNotAttached(igwId, vpcId);
    tx.put({ ...igw, vpcId: undefined });
  });
}

/** Allocates an elastic IP address (domain vpc). */
export async function allocateAddress(scope: Scope, tags: Tag[] = []): Promise<AddressRecord> {
  return ec2Transaction(scope, 'The address', async (tx) => {
    const all = await tx.list('eipalloc');
    if (all.length >= MAX_ADDRESSES) throw ec2Errors.addressLimit(MAX_ADDRESSES);
    const used = new Set(all.map((a) => a.publicIp));
    let ip = '';
    for (let i = 10; i < 250 && !ip; i++) if (!used.has(ipOf(ADDRESS_POOL.base + i))) ip = ipOf(ADDRESS_POOL.base + i);
    const rec: AddressRecord = { type: 'eipalloc', id: newEc2Id('eipalloc'), region: scope.region, tags, createdAt: scope.platform.clock.now(), publicIp: ip };
    tx.put(rec);
    return rec;
  });
}

/** The address with this allocation id or public IP. */
async function addressOf(tx: Parameters<Parameters<typeof ec2Transaction>[2]>[0], ref: { allocationId?: string; publicIp?: string }): Promise<AddressRecord> {
  if (ref.allocationId) return tx.get('eipalloc', ref.allocationId);
  if (!ref.publicIp) throw ec2Errors.missingParameter('AllocationId');
  const found = (await tx.list('eipalloc')).find((a) => a.publicIp === ref.publicIp);
  if (!found) throw ec2Errors.addressNotFound(ref.publicIp);
  return found;
}

/** Releases an address that is not associated (InvalidIPAddress.InUse otherwise). */
export async function releaseAddress(scope: Scope, ref: { allocationId?: string; publicIp?: string }): Promise<void> {
  await ec2Transaction(scope, 'The address', async (tx) => {
    const a = await addressOf(tx, ref);
    if (a.associationId) throw ec2Errors.addressInUse(a.id);
    tx.delete(a.id);
  });
}

/** Associates an address with an instance (reassociating it only when allowed). */
export async function associateAddress(scope: Scope, input: { allocationId?: string; publicIp?: string; instanceId?: string; networkInterfaceId?: string; allowReassociation?: boolean }): Promise<AddressRecord> {
  return ec2Transaction(scope, 'The address', async (tx) => {
    const a = await addressOf(tx, input);
    if (input.networkInterfaceId) throw ec2Errors.invalidParameterValue(`Berth models no network interfaces: associate the address with an instance (InstanceId), not '${input.networkInterfaceId.slice(0, 64)}'.`);
    if (!input.instanceId) throw ec2Errors.missingParameter('InstanceId');
    const inst = await tx.get('i', input.instanceId);
    if (inst.state === 'terminated') throw ec2Errors.invalidParameterValue(`The instance '${inst.id}' is terminated.`);
    if (a.natGatewayId || (a.associationId && !input.allowReassociation && a.instanceId !== inst.id)) throw ec2Errors.alreadyAssociated(`Address ${a.publicIp} is already associated`);
    // An instance has one public address: the one it had goes back to the pool of unassociated ones.
    for (const other of await tx.list('eipalloc')) if (other.instanceId === inst.id && other.id !== a.id) tx.put(disassociated(other));
    const next: AddressRecord = { ...a, associationId: newEc2Id('eipassoc'), instanceId: inst.id, privateIp: inst.privateIp };
    tx.touch(inst);
    tx.put(next);
    return next;
  });
}

/** Disassociates an address by its association id (or public IP). */
export async function disassociateAddress(scope: Scope, ref: { associationId?: string; publicIp?: string }): Promise<void> {
  await ec2Transaction(scope, 'The address', async (tx) => {
    const all = await tx.list('eipalloc');
    const a = ref.associationId ? all.find((x) => x.associationId === ref.associationId) : all.find((x) => x.publicIp === ref.publicIp);
    if (!a) throw ref.associationId ? ec2Errors.associationNotFound(ref.associationId) : ec2Errors.addressNotFound(ref.publicIp ?? '');
    if (a.natGatewayId) throw ec2Errors.invalidParameterValue(`Address ${a.publicIp} belongs to NAT gateway ${a.natGatewayId}: delete the gateway to free it.`);
    if (!a.associationId) return;
    tx.put(disassociated(a));
  });
}

function disassociated(a: AddressRecord): AddressRecord {
  return { ...a, associationId: undefined, instanceId: undefined, natGatewayId: undefined, networkInterfaceId: undefined, privateIp: undefined };
}

/** Creates a NAT gateway in a subnet; a public one takes an unassociated elastic IP. */
export async function createNatGateway(scope: Scope, input: { subnetId: string; allocationId?: string; connectivityType?: 'public' | 'private'; tags?: Tag[] }): Promise<NatGatewayRecord> {
  const connectivityType = input.connectivityType ?? 'public';
  if (connectivityType === 'public' && !input.allocationId) throw ec2Errors.missingParameter('AllocationId');
  if (connectivityType === 'private' && input.allocationId) throw ec2Errors.invalidParameterCombination('A private NAT gateway takes no elastic IP address (AllocationId).');
  return ec2Transaction(scope, 'The NAT gateway', async (tx) => {
    const subnet = await tx.get('subnet', input.subnetId);
    const id = newEc2Id('nat');
    const networkInterfaceId = newEc2Id('eni');
    const sc = parseCidr(subnet.cidrBlock)!;
    const taken = new Set((await tx.list('nat')).filter((n) => n.subnetId === subnet.id).map((n) => n.privateIp));
    let privateIp = ipOf(sc.base + 4);
    for (let i = 4; taken.has(privateIp) && i < 2 ** (32 - sc.prefix) - 1; i++) privateIp = ipOf(sc.base + i);
    let publicIp: string | undefined;
    if (input.allocationId) {
      const a = await tx.get('eipalloc', input.allocationId);
      if (a.associationId) throw ec2Errors.alreadyAssociated(`Elastic IP address [${a.id}] is already associated`);
      publicIp = a.publicIp;
      tx.put({ ...a, associationId: newEc2Id('eipassoc'), natGatewayId: id, networkInterfaceId, privateIp });
    }
    const nat: NatGatewayRecord = {
      type: 'nat',
      id,
      region: scope.region,
      tags: input.tags ?? [],
      createdAt: scope.platform.clock.now(),
      vpcId: subnet.vpcId,
      subnetId: subnet.id,
      connectivityType,
      allocationId: input.allocationId,
      publicIp,
      privateIp,
      networkInterfaceId,
      state: 'available',
    };
    tx.touch(subnet);
    tx.put(nat);
    return nat;
  });
}

/** Deletes a NAT gateway: it stays visible as `deleted`, and its address is free again. */
export async function deleteNatGateway(scope: Scope, natId: string): Promise<NatGatewayRecord> {
  return ec2Transaction(scope, `NAT gateway ${natId}`, async (tx) => {
    const nat = await tx.get('nat', natId);
    if (nat.state === 'deleted') return nat;
    for (const a of await tx.list('eipalloc')) if (a.natGatewayId === natId) tx.put(disassociated(a));
    const next: NatGatewayRecord = { ...nat, state: 'deleted', deletedAt: scope.platform.clock.now() };
    tx.put(next);
    return next;
  });
}
