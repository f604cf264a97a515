/**
 * VPC endpoints: Gateway endpoints (S3, DynamoDB) route their service's prefix list through
 * themselves in each of their route tables; Interface endpoints sit in subnets (one network
 * interface each) behind security groups. Nothing answers behind them in Berth (it has no S3 or
 * DynamoDB): they are the model a template builds, kept consistent with the VPC around them.
 */
import { createHash } from 'node:crypto';
import type { Tag } from '../common.js';
import type { Scope } from '../platform.js';
import { ec2Errors } from './errors.js';
import { MAX_ROUTES } from './routes.js';
import { newEc2Id, type RouteTableRecord, type VpcEndpointRecord } from './records.js';
import { ec2Transaction, type Ec2Tx } from './tx.js';

/** Most endpoints per VPC (AWS's default quotas: 20 gateway endpoints per region, 50 interface endpoints per VPC). */
export const MAX_GATEWAY_ENDPOINTS = 20;
export const MAX_INTERFACE_ENDPOINTS_PER_VPC = 50;
/** Most route tables, subnets or security groups one endpoint may name. */
export const MAX_ENDPOINT_MEMBERS = 16;
/** Longest endpoint policy (AWS: 20,480 characters). */
export const MAX_POLICY_LENGTH = 20_480;
/** The services that have Gateway endpoints (every other one is Interface only). */
export const GATEWAY_SERVICES = ['s3', 'dynamodb'] as const;
/** The policy an endpoint has when none is given: full access. */
export const FULL_ACCESS_POLICY = JSON.stringify({ Version: '2008-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }] });

/** The prefix list of a gateway service (`pl-` and 8 hex digits, the same for a region and service). */
export function prefixListOf(serviceName: string): string {
  return `pl-${createHash('sha256').update(serviceName).digest('hex').slice(0, 8)}`;
}

/** The service part of `com.amazonaws.<region>.<service>` (InvalidServiceName for any other name or region). */
export function endpointService(region: string, serviceName: string): string {
  const head = `com.amazonaws.${region}.`;
  if (!serviceName.startsWith(head)) throw ec2Errors.invalidServiceName(serviceName, `AWS services in ${region} are named ${head}<service>.`);
  const svc = serviceName.slice(head.length);
  if (svc.length < 1 || svc.length > 64 || !/^[a-z0-9][a-z0-9.-]*$/.test(svc)) throw ec2Errors.invalidServiceName(serviceName, 'the service part is 1 to 64 lower-case letters, digits, dots and hyphens.');
  return svc;
}

function checkPolicy(policy: string | undefined): string {
  if (policy === undefined) return FULL_ACCESS_POLICY;
  if (policy.length > MAX_POLICY_LENGTH) throw ec2Errors.invalidParameterValue(`The policy document is longer than ${MAX_POLICY_LENGTH} characters.`);
  let doc: unknown;
  try {
    doc = JSON.parse(policy);
  } catch {
    throw ec2Errors.invalidParameterValue('The policy document is not valid JSON.');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc) || !('Statement' in doc)) throw ec2Errors.invalidParameterValue('The policy document must be a JSON object with a Statement.');
  return policy;
}

function bounded(ids: string[] | undefined, what: string): string[] {
  const list = [...new Set(ids ?? [])];
  if (list.length > MAX_ENDPOINT_MEMBERS) throw ec2Errors.invalidParameterValue(`At most ${MAX_ENDPOINT_MEMBERS} ${what} can be given for one endpoint.`);
  return list;
}

/** What CreateVpcEndpoint takes. */
export interface EndpointInput {
  vpcId: string;
  serviceName: string;
  endpointType?: string;
  policyDocument?: string;
  routeTableIds?: string[];
  subnetIds?: string[];
  securityGroupIds?: string[];
  privateDnsEnabled?: boolean;
  tags?: Tag[];
}

/** Adds the endpoint's route to a table of its VPC (RouteAlreadyExists if the table routes that prefix list already). */
async function routeThrough(tx: Ec2Tx, e: VpcEndpointRecord, rtbId: string): Promise<void> {
  const t = await tx.get('rtb', rtbId);
  if (t.vpcId !== e.vpcId) throw ec2Errors.invalidParameterValue(`route table ${rtbId} is not in the endpoint's VPC ${e.vpcId}`);
  const pl = prefixListOf(e.serviceName);
  if (t.routes.some((r) => r.destinationPrefixListId === pl)) throw ec2Errors.routeExists(pl);
  if (t.routes.length >= MAX_ROUTES) throw ec2Errors.limit('RouteLimitExceeded', `The maximum number of routes per route table (${MAX_ROUTES}) has been reached.`);
  tx.put({ ...t, routes: [...t.routes, { destinationPrefixListId: pl, gatewayId: e.id, origin: 'CreateRoute' }] });
}

/** Removes the endpoint's route from a table (a table already gone is skipped). */
async function unroute(tx: Ec2Tx, e: VpcEndpointRecord, rtbId: string): Promise<void> {
  const t: RouteTableRecord | undefined = await tx.find('rtb', rtbId);
  if (t) tx.put({ ...t, routes: t.routes.filter((r) => r.gatewayId !== e.id) });
}

/** Checks subnets and groups of an Interface endpoint: in its VPC, one subnet per zone. */
async function checkPlacement(tx: Ec2Tx, vpcId: string, subnetIds: string[], groupIds: string[]): Promise<void> {
  const zones = new Set<string>();
  for (const id of subnetIds) {
    const s = await tx.get('subnet', id);
    if (s.vpcId !== vpcId) throw ec2Errors.invalidParameterValue(`subnet ${id} is not in the endpoint's VPC ${vpcId}`);
    if (zones.has(s.availabilityZone)) throw ec2Errors.invalidParameterValue(`Found another subnet in zone ${s.availabilityZone}: an endpoint takes one subnet per availability zone.`);
    zones.add(s.availabilityZone);
    tx.touch(s);
  }
  for (const id of groupIds) {
    const g = await tx.get('sg', id);
    if (g.vpcId !== vpcId) throw ec2Errors.invalidParameterValue(`security group ${id} is not in the endpoint's VPC ${vpcId}`);
    tx.touch(g);
  }
}

/** Creates an endpoint (Gateway unless asked otherwise, as EC2's default). */
export async function createVpcEndpoint(scope: Scope, input: EndpointInput): Promise<VpcEndpointRecord> {
  const svc = endpointService(scope.region, input.serviceName);
  const endpointType = (input.endpointType ?? 'Gateway') as VpcEndpointRecord['endpointType'];
  if (endpointType !== 'Gateway' && endpointType !== 'Interface') throw ec2Errors.unsupported(`Berth models Gateway and Interface endpoints; ${String(input.endpointType).slice(0, 32)} endpoints are not modelled.`);
  if (endpointType === 'Gateway' && !(GATEWAY_SERVICES as readonly string[]).includes(svc)) throw ec2Errors.invalidServiceName(input.serviceName, `Gateway endpoints exist for ${GATEWAY_SERVICES.join(' and ')} only; use an Interface endpoint.`);
  const routeTableIds = bounded(input.routeTableIds, 'route tables');
  const subnetIds = bounded(input.subnetIds, 'subnets');
  const securityGroupIds = bounded(input.securityGroupIds, 'security groups');
  if (endpointType === 'Gateway' && (subnetIds.length || securityGroupIds.length)) throw ec2Errors.invalidParameter('Gateway endpoints take route tables, not subnets or security groups.');
  if (endpointType === 'Interface' && routeTableIds.length) throw ec2Errors.invalidParameter('Interface endpoints take subnets and security groups, not route tables.');
  const policyDocument = checkPolicy(input.policyDocument);
  return ec2Transaction(scope, 'The VPC endpoint', async (tx) => {
    const vpc = await tx.get('vpc', input.vpcId);
    const all = await tx.list('vpce');
    if (endpointType === 'Gateway' && all.filter((e) => e.endpointType === 'Gateway').length >= MAX_GATEWAY_ENDPOINTS) throw ec2Errors.limit('VpcEndpointLimitExceeded', `The maximum number of gateway endpoints (${MAX_GATEWAY_ENDPOINTS}) has been reached.`);
    if (endpointType === 'Interface' && all.filter((e) => e.endpointType === 'Interface' && e.vpcId === vpc.id).length >= MAX_INTERFACE_ENDPOINTS_PER_VPC) {
      throw ec2Errors.limit('VpcEndpointLimitExceeded', `The maximum number of interface endpoints per VPC (${MAX_INTERFACE_ENDPOINTS_PER_VPC}) has been reached.`);
    }
    const privateDnsEnabled = endpointType === 'Interface' && (input.privateDnsEnabled ?? true);
    if (privateDnsEnabled && !(vpc.enableDnsSupport && vpc.enableDnsHostnames)) throw ec2Errors.invalidParameter(`Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for ${vpc.id}`);
    await checkPlacement(tx, vpc.id, subnetIds, securityGroupIds);
    const groups = endpointType === 'Interface' && !securityGroupIds.length ? (await tx.list('sg')).filter((g) => g.vpcId === vpc.id && g.groupName === 'default').map((g) => g.id) : securityGroupIds;
    const e: VpcEndpointRecord = {
      type: 'vpce',
      id: newEc2Id('vpce'),
      region: scope.region,
      tags: input.tags ?? [],
      createdAt: scope.platform.clock.now(),
      vpcId: vpc.id,
      serviceName: input.serviceName,
      endpointType,
      policyDocument,
      routeTableIds,
      subnetIds,
      securityGroupIds: groups,
      privateDnsEnabled,
      networkInterfaceIds: subnetIds.map(() => newEc2Id('eni')),
    };
    for (const id of routeTableIds) await routeThrough(tx, e, id);
    tx.touch(vpc);
    tx.put(e);
    return e;
  });
}

/** What ModifyVpcEndpoint changes. */
export interface EndpointChange {
  policyDocument?: string;
  resetPolicy?: boolean;
  addRouteTableIds?: string[];
  removeRouteTableIds?: string[];
  addSubnetIds?: string[];
  removeSubnetIds?: string[];
  addSecurityGroupIds?: string[];
  removeSecurityGroupIds?: string[];
  privateDnsEnabled?: boolean;
}

/** Changes an endpoint's policy, route tables (Gateway), subnets, groups and private DNS (Interface). */
export async function modifyVpcEndpoint(scope: Scope, id: string, change: EndpointChange): Promise<VpcEndpointRecord> {
  if (change.resetPolicy && change.policyDocument !== undefined) throw ec2Errors.invalidParameterCombination('Give either ResetPolicy or PolicyDocument, not both.');
  const policy = change.policyDocument !== undefined ? checkPolicy(change.policyDocument) : undefined;
  const lists = {
    addRt: bounded(change.addRouteTableIds, 'route tables'),
    removeRt: bounded(change.removeRouteTableIds, 'route tables'),
    addSn: bounded(change.addSubnetIds, 'subnets'),
    removeSn: bounded(change.removeSubnetIds, 'subnets'),
    addSg: bounded(change.addSecurityGroupIds, 'security groups'),
    removeSg: bounded(change.removeSecurityGroupIds, 'security groups'),
  };
  return ec2Transaction(scope, `VPC endpoint ${id}`, async (tx) => {
    const e = await tx.get('vpce', id);
    const gateway = e.endpointType === 'Gateway';
    if (gateway && (lists.addSn.length || lists.addSg.length || change.privateDnsEnabled !== undefined)) throw ec2Errors.invalidParameter('Gateway endpoints take route tables, not subnets, security groups or private DNS.');
    if (!gateway && lists.addRt.length) throw ec2Errors.invalidParameter('Interface endpoints take subnets and security groups, not route tables.');
    const next: VpcEndpointRecord = { ...e };
    if (policy !== undefined) next.policyDocument = policy;
    if (change.resetPolicy) next.policyDocument = FULL_ACCESS_POLICY;
    for (const rt of lists.removeRt) if (e.routeTableIds.includes(rt)) await unroute(tx, e, rt);
    next.routeTableIds = e.routeTableIds.filter((rt) => !lists.removeRt.includes(rt));
    for (const rt of lists.addRt) if (!next.routeTableIds.includes(rt)) await routeThrough(tx, e, rt);
    next.routeTableIds = [...new Set([...next.routeTableIds, ...lists.addRt])];
    const keptSubnets = e.subnetIds.map((s, i) => [s, e.networkInterfaceIds[i]!] as const).filter(([s]) => !lists.removeSn.includes(s));
    const added = lists.addSn.filter((s) => !keptSubnets.some(([k]) => k === s)).map((s) => [s, newEc2Id('eni')] as const);
    next.subnetIds = [...keptSubnets, ...added].map(([s]) => s);
    next.networkInterfaceIds = [...keptSubnets, ...added].map(([, n]) => n);
    next.securityGroupIds = [...new Set([...e.securityGroupIds.filter((g) => !lists.removeSg.includes(g)), ...lists.addSg])];
    for (const list of [next.routeTableIds, next.subnetIds, next.securityGroupIds]) if (list.length > MAX_ENDPOINT_MEMBERS) throw ec2Errors.invalidParameterValue(`An endpoint names at most ${MAX_ENDPOINT_MEMBERS} route tables, subnets or security groups.`);
    if (!gateway) {
      await checkPlacement(tx, e.vpcId, next.subnetIds, next.securityGroupIds);
      if (change.privateDnsEnabled !== undefined) {
        const vpc = await tx.get('vpc', e.vpcId);
        if (change.privateDnsEnabled && !(vpc.enableDnsSupport && vpc.enableDnsHostnames)) throw ec2Errors.invalidParameter(`Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for ${vpc.id}`);
        next.privateDnsEnabled = change.privateDnsEnabled;
      }
    }
    tx.put(next);
    return next;
  });
}

/** Deletes endpoints, each on its own (routes through a Gateway endpoint go with it); returns the ids that could not be, with why. */
export async function deleteVpcEndpoints(scope: Scope, ids: string[]): Promise<Array<{ id: string; code: string; message: string }>> {
  const failed: Array<{ id: string; code: string; message: string }> = [];
  for (const id of [...new Set(ids)]) {
    try {
      await ec2Transaction(scope, `VPC endpoint ${id}`, async (tx) => {
        const e = await tx.get('vpce', id);
        for (const rt of e.routeTableIds) await unroute(tx, e, rt);
        tx.delete(id);
      });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (!e.code) throw err;
      failed.push({ id, code: e.code, message: e.message ?? '' });
    }
  }
  return failed;
}
