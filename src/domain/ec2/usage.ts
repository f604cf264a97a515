/** What outside EC2 uses its resources: load balancers in subnets and security groups (deletes of those refuse while they do). */
import { listLoadBalancers } from '../elbv2/loadBalancers.js';
import type { Scope } from '../platform.js';

/** Names of the region's load balancers in this subnet or with this security group. */
export async function loadBalancersUsing(scope: Scope, what: { subnetId?: string; groupId?: string }): Promise<string[]> {
  const lbs = await listLoadBalancers(scope);
  return lbs
    .filter(({ value: lb }) => (what.subnetId !== undefined && lb.availabilityZones.some((z) => z.SubnetId === what.subnetId)) || (what.groupId !== undefined && lb.securityGroups.includes(what.groupId)))
    .map((r) => r.value.name);
}
