/**
 * The default VPC of a region, made on the first EC2 use of the region as AWS accounts have one:
 * 172.31.0.0/16, a default subnet (a /20, public IPs on launch) in each of Berth's zones, an
 * internet gateway attached to it, and the main route table sending 0.0.0.0/0 there. Made once:
 * a marker record says so, so a default VPC deleted by its owner is not made again (as on AWS).
 */
import { ConflictError } from '../../store/types.js';
import type { Scope } from '../platform.js';
import { buildInternetGateway, buildSubnet, buildVpc } from './build.js';
import { EC2_DEFAULTS_KIND, EC2_KIND, ec2Key, type Ec2Record } from './records.js';
import { zonesOf } from './zones.js';

/** The default VPC's block and its subnets' (one /20 per zone, in order). */
export const DEFAULT_VPC_CIDR = '172.31.0.0/16';

/** Makes the region's default VPC if it never had one (several callers at once: one makes it). */
export async function ensureDefaults(scope: Scope): Promise<void> {
  const { store, clock } = scope.platform;
  if (await store.get(EC2_DEFAULTS_KIND, scope.region)) return;
  const now = clock.now();
  const { vpc, mainRouteTable, defaultGroup } = buildVpc(scope.region, now, DEFAULT_VPC_CIDR, { isDefault: true });
  const igw = { ...buildInternetGateway(scope.region, now), vpcId: vpc.id };
  mainRouteTable.routes.push({ destinationCidrBlock: '0.0.0.0/0', gatewayId: igw.id, origin: 'CreateRoute' });
  const subnets = zonesOf(scope.region).map((z, i) => buildSubnet(scope.region, now, vpc.id, `172.31.${i * 16}.0/20`, z, { defaultForAz: true }));
  const records: Ec2Record[] = [vpc, mainRouteTable, defaultGroup, igw, ...subnets];
  try {
    await store.commit([
      { kind: EC2_DEFAULTS_KIND, key: scope.region, value: { vpcId: vpc.id, createdAt: now }, expectRev: 0 },
      ...records.map((r) => ({ kind: EC2_KIND, key: ec2Key(scope.region, r.id), value: r, expectRev: 0 })),
    ]);
  } catch (e) {
    // Another request made them first.
    if (!(e instanceof ConflictError)) throw e;
  }
}
