/**
 * Instance records (what DescribeInstances shows). Berth's instances are agent hosts that Auto
 * Scaling launches; its controller writes them here when it launches one and removes them when
 * it terminates one (a terminated instance is not kept, so replacements never pile up).
 */
import type { Scope } from '../platform.js';
import { ec2Transaction } from './tx.js';
import { newEc2Id, type InstanceRecord } from './records.js';

/** What a launch says of the new instance. */
export interface InstanceLaunch {
  imageId: string;
  instanceType: string;
  subnetId?: string;
  availabilityZone: string;
  securityGroupIds: string[];
  tags: Array<{ key: string; value: string }>;
}

/** A fresh instance id (`i-` and 17 hex digits). */
export function newInstanceId(): string {
  return newEc2Id('i');
}

/** Records a launched instance (`running`), with a private address in its subnet's block. */
export async function recordInstance(scope: Scope, id: string, launch: InstanceLaunch): Promise<InstanceRecord> {
  return ec2Transaction(scope, `Instance ${id}`, async (tx) => {
    const subnet = launch.subnetId ? await tx.find('subnet', launch.subnetId) : undefined;
    if (subnet) tx.touch(subnet);
    const now = scope.platform.clock.now();
    const rec: InstanceRecord = {
      type: 'i',
      id,
      region: scope.region,
      tags: launch.tags,
      createdAt: now,
      imageId: launch.imageId,
      instanceType: launch.instanceType,
      state: 'running',
      subnetId: subnet?.id,
      vpcId: subnet?.vpcId,
      availabilityZone: subnet?.availabilityZone ?? launch.availabilityZone,
      privateIp: subnet ? privateIpIn(subnet.cidrBlock, id) : undefined,
      securityGroupIds: launch.securityGroupIds,
      reservationId: newEc2Id('r'),
      launchedAt: now,
    };
    tx.put(rec);
    return rec;
  });
}

/** Removes a terminated instance's record (absent: nothing to do). */
export async function removeInstance(scope: Scope, id: string): Promise<void> {
  await ec2Transaction(scope, `Instance ${id}`, async (tx) => {
    if (await tx.find('i', id)) tx.delete(id);
  });
}

/** An address inside `cidr` derived from the id (stable for an instance; not checked for uniqueness: the model does not route). */
function privateIpIn(cidr: string, id: string): string | undefined {
  const [base, bits] = cidr.split('/');
  const parts = (base ?? '').split('.').map(Number);
  const prefix = Number(bits);
  if (parts.length !== 4 || !(prefix >= 0 && prefix <= 30)) return undefined;
  const size = 2 ** (32 - prefix);
  const start = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  const offset = 4 + (parseInt(id.slice(2, 10), 16) % Math.max(1, size - 5));
  const ip = (start + offset) >>> 0;
  return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
}
