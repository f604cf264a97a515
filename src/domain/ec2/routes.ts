/** Route tables, their routes (to internet and NAT gateways) and their associations with subnets and gateways. */
import type { Tag } from '../common.js';
import type { Scope } from '../platform.js';
import { overlaps, parseCidr } from './cidr.js';
import { ec2Errors } from './errors.js';
import { newEc2Id, type RouteRecord, type RouteTableAssociationRecord, type RouteTableRecord } from './records.js';
import { ec2Transaction, type Ec2Tx } from './tx.js';

/** Most routes per route table (AWS's default quota). */
export const MAX_ROUTES = 50;
/** Most route tables per VPC (AWS's default quota). */
export const MAX_ROUTE_TABLES_PER_VPC = 200;

/** Where a route sends traffic (one of). */
export interface RouteTarget {
  gatewayId?: string;
  natGatewayId?: string;
  /** Targets Berth does not model, by parameter name, to refuse them by name. */
  other?: string;
}

export async function createRouteTable(scope: Scope, vpcId: string, tags: Tag[] = []): Promise<RouteTableRecord> {
  return ec2Transaction(scope, `VPC ${vpcId}`, async (tx) => {
    const vpc = await tx.get('vpc', vpcId);
    if ((await tx.list('rtb')).filter((t) => t.vpcId === vpcId).length >= MAX_ROUTE_TABLES_PER_VPC) {
      throw ec2Errors.limit('RouteTableLimitExceeded', `The maximum number of route tables per VPC (${MAX_ROUTE_TABLES_PER_VPC}) has been reached.`);
    }
    const t: RouteTableRecord = { type: 'rtb', id: newEc2Id('rtb'), region: scope.region, tags, createdAt: scope.platform.clock.now(), vpcId, routes: [{ destinationCidrBlock: vpc.cidrBlock, gatewayId: 'local', origin: 'CreateRouteTable' }], associations: [] };
    tx.touch(vpc);
    tx.put(t);
    return t;
  });
}

/** Deletes a route table with no associations (the main one, or one with subnets: DependencyViolation); gateway endpoints drop it. */
export async function deleteRouteTable(scope: Scope, rtbId: string): Promise<void> {
  await ec2Transaction(scope, `Route table ${rtbId}`, async (tx) => {
    const t = await tx.get('rtb', rtbId);
    if (t.associations.length) throw ec2Errors.dependencyViolation('routeTable', rtbId);
    // A gateway endpoint routing through it no longer names it.
    for (const e of await tx.list('vpce')) if (e.routeTableIds.includes(rtbId)) tx.put({ ...e, routeTableIds: e.routeTableIds.filter((id) => id !== rtbId) });
    tx.delete(rtbId);
  });
}

async function checkTarget(tx: Ec2Tx, t: RouteTableRecord, target: RouteTarget): Promise<Pick<RouteRecord, 'gatewayId' | 'natGatewayId'>> {
  if (target.other) throw ec2Errors.invalidParameterValue(`Berth routes to internet gateways (GatewayId) and NAT gateways (NatGatewayId) only; ${target.other} is not modelled.`);
  const given = [target.gatewayId, target.natGatewayId].filter((x) => x !== undefined);
  if (given.length !== 1) throw ec2Errors.invalidParameterCombination('The route needs exactly one target: GatewayId or NatGatewayId.');
  if (target.gatewayId !== undefined) {
    const igw = await tx.get('igw', target.gatewayId);
    if (igw.vpcId !== t.vpcId) throw ec2Errors.invalidParameterValue(`route table ${t.id} and network gateway ${igw.id} belong to different networks`);
    return { gatewayId: igw.id };
  }
  const nat = await tx.get('nat', target.natGatewayId!);
  if (nat.state === 'deleted') throw ec2Errors.notFound('nat', nat.id);
  if (nat.vpcId !== t.vpcId) throw ec2Errors.invalidParameterValue(`route table ${t.id} and NAT gateway ${nat.id} belong to different networks`);
  return { natGatewayId: nat.id };
}

function destinationOf(dest: { cidr?: string; ipv6Cidr?: string }): { key: 'destinationCidrBlock' | 'destinationIpv6CidrBlock'; value: string } {
  if ((dest.cidr === undefined) === (dest.ipv6Cidr === undefined)) throw ec2Errors.invalidParameterCombination('A route needs exactly one destination: DestinationCidrBlock or DestinationIpv6CidrBlock.');
  if (dest.cidr !== undefined) {
    if (!parseCidr(dest.cidr)) throw ec2Errors.invalidCidr(dest.cidr, 'destinationCidrBlock');
    return { key: 'destinationCidrBlock', value: dest.cidr };
  }
  if (!/^[0-9a-fA-F:]{2,39}\/\d{1,3}$/.test(dest.ipv6Cidr!)) throw ec2Errors.invalidCidr(dest.ipv6Cidr!, 'destinationIpv6CidrBlock');
  return { key: 'destinationIpv6CidrBlock', value: dest.ipv6Cidr!.toLowerCase() };
}

/** Adds a route (RouteAlreadyExists for a destination the table routes already). */
export async function createRoute(scope: Scope, rtbId: string, dest: { cidr?: string; ipv6Cidr?: string }, target: RouteTarget): Promise<void> {
  const d = destinationOf(dest);
  await ec2Transaction(scope, `Route table ${rtbId}`, async (tx) => {
    const t = await tx.get('rtb', rtbId);
    if (t.routes.some((r) => r[d.key] === d.value)) throw ec2Errors.routeExists(d.value);
    if (d.key === 'destinationCidrBlock') {
      const local = t.routes.find((r) => r.gatewayId === 'local' && r.destinationCidrBlock);
      if (local && overlaps(parseCidr(local.destinationCidrBlock!)!, parseCidr(d.value)!) && parseCidr(d.value)!.prefix >= parseCidr(local.destinationCidrBlock!)!.prefix) {
        throw ec2Errors.invalidParameterValue(`The destination CIDR block ${d.value} is equal to or more specific than one of this VPC's CIDR blocks (${local.destinationCidrBlock}), whose route is local.`);
      }
    }
    if (t.routes.length >= MAX_ROUTES) throw ec2Errors.limit('RouteLimitExceeded', `The maximum number of routes per route table (${MAX_ROUTES}) has been reached.`);
    const via = await checkTarget(tx, t, target);
    tx.put({ ...t, routes: [...t.routes, { [d.key]: d.value, ...via, origin: 'CreateRoute' }] });
  });
}

/** Points an existing route somewhere else. */
export async function replaceRoute(scope: Scope, rtbId: string, dest: { cidr?: string; ipv6Cidr?: string }, target: RouteTarget): Promise<void> {
  const d = destinationOf(dest);
  await ec2Transaction(scope, `Route table ${rtbId}`, async (tx) => {
    const t = await tx.get('rtb', rtbId);
    const i = t.routes.findIndex((r) => r[d.key] === d.value && r.gatewayId !== 'local');
    if (i < 0) throw ec2Errors.routeNotFound(d.value, rtbId);
    const via = await checkTarget(tx, t, target);
    const routes = [...t.routes];
    routes[i] = { [d.key]: d.value, ...via, origin: 'CreateRoute' };
    tx.put({ ...t, routes });
  });
}

export async function deleteRoute(scope: Scope, rtbId: string, dest: { cidr?: string; ipv6Cidr?: string }): Promise<void> {
  const d = destinationOf(dest);
  await ec2Transaction(scope, `Route table ${rtbId}`, async (tx) => {
    const t = await tx.get('rtb', rtbId);
    const r = t.routes.find((x) => x[d.key] === d.value);
    if (!r) throw ec2Errors.routeNotFound(d.value, rtbId);
    if (r.gatewayId === 'local') throw ec2Errors.invalidParameterValue(`cannot remove local route ${d.value} in route table ${rtbId}`);
    tx.put({ ...t, routes: t.routes.filter((x) => x !== r) });
  });
}

/** Associates a table with a subnet of its VPC (or a gateway, for edge routing); a subnet has at most one explicit table. */
export async function associateRouteTable(scope: Scope, rtbId: string, to: { subnetId?: string; gatewayId?: string }): Promise<RouteTableAssociationRecord> {
  if ((to.subnetId === undefined) === (to.gatewayId === undefined)) throw ec2Errors.invalidParameterCombination('Associate the route table with exactly one of SubnetId or GatewayId.');
  return ec2Transaction(scope, `Route table ${rtbId}`, async (tx) => {
    const t = await tx.get('rtb', rtbId);
    const target = to.subnetId !== undefined ? await tx.get('subnet', to.subnetId) : await tx.get('igw', to.gatewayId!);
    if (target.vpcId !== t.vpcId) throw ec2Errors.invalidParameterValue(`route table ${rtbId} and ${target.id} belong to different networks`);
    const tables = await tx.list('rtb');
    const existing = tables.find((x) => x.associations.some((a) => (to.subnetId !== undefined ? a.subnetId === to.subnetId : a.gatewayId === to.gatewayId)));
    if (existing) throw ec2Errors.alreadyAssociated(`the specified association for route table ${rtbId} conflicts with an existing association (${existing.id})`);
    const assoc: RouteTableAssociationRecord = { id: newEc2Id('rtbassoc'), main: false, ...(to.subnetId !== undefined ? { subnetId: to.subnetId } : { gatewayId: to.gatewayId }) };
    tx.touch(target);
    tx.put({ ...t, associations: [...t.associations, assoc] });
    return assoc;
  });
}

async function tableWithAssociation(tx: Ec2Tx, associationId: string): Promise<{ t: RouteTableRecord; a: RouteTableAssociationRecord }> {
  if (!associationId.startsWith('rtbassoc-')) throw ec2Errors.associationNotFound(associationId);
  for (const t of await tx.list('rtb')) {
    const a = t.associations.find((x) => x.id === associationId);
    if (a) return { t, a };
  }
  throw ec2Errors.associationNotFound(associationId);
}

/** Removes an explicit association (the subnet falls back to the main table); the main association cannot be. */
export async function disassociateRouteTable(scope: Scope, associationId: string): Promise<void> {
  await ec2Transaction(scope, 'The route table association', async (tx) => {
    const { t, a } = await tableWithAssociation(tx, associationId);
    if (a.main) throw ec2Errors.invalidParameterValue(`cannot disassociate the main route table association ${associationId}`);
    tx.put({ ...t, associations: t.associations.filter((x) => x.id !== associationId) });
  });
}

/** Moves an association to another table of the same VPC (the main one too: that table becomes main). Returns the new association id. */
export async function replaceRouteTableAssociation(scope: Scope, associationId: string, rtbId: string): Promise<RouteTableAssociationRecord> {
  return ec2Transaction(scope, 'The route table association', async (tx) => {
    const { t, a } = await tableWithAssociation(tx, associationId);
    const target = await tx.get('rtb', rtbId);
    if (target.vpcId !== t.vpcId) throw ec2Errors.invalidParameterValue(`route table ${rtbId} and the association ${associationId} belong to different networks`);
    const moved: RouteTableAssociationRecord = { ...a, id: newEc2Id('rtbassoc') };
    if (target.id === t.id) {
      tx.put({ ...t, associations: t.associations.map((x) => (x.id === associationId ? moved : x)) });
    } else {
      tx.put({ ...t, associations: t.associations.filter((x) => x.id !== associationId) });
      tx.put({ ...target, associations: [...target.associations, moved] });
    }
    return moved;
  });
}
