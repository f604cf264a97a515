/**
 * Reads of EC2 records for the API and for other services (ELBv2 checks the subnets and security
 * groups a load balancer names; a CloudFormation provider resolves `AWS::EC2::Subnet::Id`s).
 */
import type { Scope } from '../platform.js';
import type { RecordOf, ResourcePrefix, SecurityGroupRecord, SubnetRecord, VpcRecord } from './records.js';
import { ec2Read } from './tx.js';

/** Every record of a type in the scope's region. */
export function listEc2<P extends ResourcePrefix>(scope: Scope, prefix: P): Promise<Array<RecordOf[P]>> {
  return ec2Read(scope, (tx) => tx.list(prefix));
}

/** One record by id (`<Type>.NotFound` otherwise). */
export function getEc2<P extends ResourcePrefix>(scope: Scope, prefix: P, id: string): Promise<RecordOf[P]> {
  return ec2Read(scope, (tx) => tx.get(prefix, id));
}

/**
 * Berth's short names for the default VPC's subnets, `subnet-a`, `subnet-b`, `subnet-c` (the
 * zone's letter), and `vpc-local` for the default VPC: what Berth's README and scripts written
 * before EC2 was modelled pass to ELBv2. They are resolved only where another service takes a
 * subnet or VPC id, and only when no real resource has that id.
 */
export const DEFAULT_VPC_ALIAS = 'vpc-local';

function aliasZoneLetter(id: string): string | undefined {
  return /^subnet-([a-c])$/.exec(id)?.[1];
}

/** The subnets these ids (or short names) name, in order; the first unknown one is thrown by `notFound`. */
export async function resolveSubnets(scope: Scope, ids: string[], notFound: (id: string) => Error): Promise<SubnetRecord[]> {
  const all = await listEc2(scope, 'subnet');
  const vpcs = await listEc2(scope, 'vpc');
  const defaultVpc = vpcs.find((v) => v.isDefault);
  return ids.map((id) => {
    const found = all.find((s) => s.id === id);
    if (found) return found;
    const letter = aliasZoneLetter(id);
    const alias = letter && defaultVpc ? all.find((s) => s.vpcId === defaultVpc.id && s.defaultForAz && s.availabilityZone === `${scope.region}${letter}`) : undefined;
    if (alias) return alias;
    throw notFound(id);
  });
}

/** The VPC this id (or `vpc-local`) names, or undefined. */
export async function resolveVpc(scope: Scope, id: string): Promise<VpcRecord | undefined> {
  const vpcs = await listEc2(scope, 'vpc');
  return vpcs.find((v) => v.id === id) ?? (id === DEFAULT_VPC_ALIAS ? vpcs.find((v) => v.isDefault) : undefined);
}

/** The security groups these ids name, in order; the first unknown one is thrown by `notFound`. */
export async function resolveSecurityGroups(scope: Scope, ids: string[], notFound: (id: string) => Error): Promise<SecurityGroupRecord[]> {
  const all = await listEc2(scope, 'sg');
  return ids.map((id) => {
    const g = all.find((x) => x.id === id);
    if (!g) throw notFound(id);
    return g;
  });
}

/** A VPC's default security group. */
export async function defaultSecurityGroup(scope: Scope, vpcId: string): Promise<SecurityGroupRecord | undefined> {
  return (await listEc2(scope, 'sg')).find((g) => g.vpcId === vpcId && g.groupName === 'default');
}

