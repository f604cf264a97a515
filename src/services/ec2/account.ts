/** Zones, regions, account attributes, tags on any resource, and instances (agent hosts, once Auto Scaling starts them). */
import type * as EC2 from '../../generated/ec2.js';
import type { Handlers } from '../types.js';
import { ec2Errors } from '../../domain/ec2/errors.js';
import { listEc2 } from '../../domain/ec2/lookup.js';
import { createTags, deleteTags } from '../../domain/ec2/tags.js';
import { findZone, zonesOf, type Zone } from '../../domain/ec2/zones.js';
import { RESOURCE_TYPES, type Ec2Record, type InstanceRecord, type ResourcePrefix } from '../../domain/ec2/records.js';
import { MAX_ADDRESSES } from '../../domain/ec2/gateways.js';
import { apiTags, byIds, compileFilters, domainTags, page, type FilterTable } from './describe.js';

/** The regions DescribeRegions lists (Berth answers in any of them; each is separate). */
export const REGIONS = [
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'eu-north-1',
  'ap-south-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-southeast-1', 'ap-southeast-2', 'sa-east-1',
];

const ZONE_FILTERS: FilterTable<Zone & { tags?: never[] }> = {
  'zone-name': (z) => [z.name],
  'zone-id': (z) => [z.id],
  'region-name': (z) => [z.region],
  state: () => ['available'],
  'zone-type': () => ['availability-zone'],
  'group-name': (z) => [z.region],
  'opt-in-status': () => ['opt-in-not-required'],
};

const INSTANCE_FILTERS: FilterTable<InstanceRecord> = {
  'instance-id': (i) => [i.id],
  'instance-state-name': (i) => [i.state],
  'instance-type': (i) => [i.instanceType],
  'image-id': (i) => [i.imageId],
  'vpc-id': (i) => [i.vpcId],
  'subnet-id': (i) => [i.subnetId],
  'availability-zone': (i) => [i.availabilityZone],
  'private-ip-address': (i) => [i.privateIp],
  'reservation-id': (i) => [i.reservationId],
  'instance.group-id': (i) => i.securityGroupIds,
};

const STATE_CODES: Readonly<Record<InstanceRecord['state'], number>> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };

function describeInstance(i: InstanceRecord): EC2.Instance {
  return {
    InstanceId: i.id,
    ImageId: i.imageId,
    InstanceType: i.instanceType as EC2.InstanceType,
    State: { Code: STATE_CODES[i.state], Name: i.state },
    LaunchTime: new Date(i.launchedAt),
    Placement: { AvailabilityZone: i.availabilityZone, Tenancy: 'default' },
    SubnetId: i.subnetId,
    VpcId: i.vpcId,
    PrivateIpAddress: i.privateIp,
    SecurityGroups: i.securityGroupIds.map((id) => ({ GroupId: id })),
    Architecture: 'x86_64',
    Tags: apiTags(i.tags),
  };
}

type TagFilterRow = { id: string; resourceId: string; type: string; key: string; value: string; tags?: never[] };

export const accountHandlers: Handlers<EC2.Operations> = {
  async DescribeAvailabilityZones(input, ctx) {
    let zones = zonesOf(ctx.region);
    for (const n of [...(input.ZoneNames ?? []), ...(input.ZoneIds ?? [])]) if (!findZone(ctx.region, n)) throw ec2Errors.invalidZone(n);
    if (input.ZoneNames?.length || input.ZoneIds?.length) zones = zones.filter((z) => input.ZoneNames?.includes(z.name) || input.ZoneIds?.includes(z.id));
    const match = compileFilters(input.Filters, ZONE_FILTERS);
    return {
      AvailabilityZones: zones.filter(match).map((z) => ({
        ZoneName: z.name,
        ZoneId: z.id,
        State: 'available',
        RegionName: z.region,
        GroupName: z.region,
        NetworkBorderGroup: z.region,
        OptInStatus: 'opt-in-not-required',
        ZoneType: 'availability-zone',
        Messages: [],
      })),
    };
  },
  async DescribeRegions(input, ctx) {
    for (const n of input.RegionNames ?? []) if (!REGIONS.includes(n) && n !== ctx.region) throw ec2Errors.invalidParameterValue(`Invalid region: ${n.slice(0, 64)}`);
    const names = [...new Set([...REGIONS, ctx.region])].filter((r) => !input.RegionNames?.length || input.RegionNames.includes(r));
    const rows = names.map((r) => ({ id: r, tags: [] as never[] }));
    const match = compileFilters<(typeof rows)[number]>(input.Filters, { 'region-name': (r) => [r.id], endpoint: (r) => [`ec2.${r.id}.amazonaws.com`], 'opt-in-status': () => ['opt-in-not-required'] });
    return { Regions: rows.filter(match).map((r) => ({ RegionName: r.id, Endpoint: `ec2.${r.id}.amazonaws.com`, OptInStatus: 'opt-in-not-required' })) };
  },
  async DescribeAccountAttributes(input, ctx) {
    const def = (await listEc2(ctx, 'vpc')).find((v) => v.isDefault);
    const all: Record<string, string[]> = {
      'supported-platforms': ['VPC'],
      'default-vpc': [def?.id ?? 'none'],
      'max-instances': ['20'],
      'vpc-max-security-groups-per-interface': ['5'],
      'max-elastic-ips': [String(MAX_ADDRESSES)],
      'vpc-max-elastic-ips': [String(MAX_ADDRESSES)],
    };
    const names = input.AttributeNames?.length ? input.AttributeNames : Object.keys(all);
    for (const n of names) if (!all[n]) throw ec2Errors.invalidParameterValue(`Value (${n.slice(0, 64)}) for parameter attributeName is invalid: it is one of ${Object.keys(all).join(', ')}.`);
    return { AccountAttributes: names.map((n) => ({ AttributeName: n, AttributeValues: all[n]!.map((v) => ({ AttributeValue: v })) })) };
  },

  async CreateTags(input, ctx) {
    await createTags(ctx, input.Resources, domainTags(input.Tags));
    return {};
  },
  async DeleteTags(input, ctx) {
    await deleteTags(ctx, input.Resources, input.Tags === undefined ? undefined : input.Tags.map((t) => ({ key: t.Key, value: t.Value })));
    return {};
  },
  async DescribeTags(input, ctx) {
    const rows: TagFilterRow[] = [];
    for (const prefix of Object.keys(RESOURCE_TYPES) as ResourcePrefix[]) {
      for (const r of (await listEc2(ctx, prefix)) as Ec2Record[]) {
        for (const t of r.tags) rows.push({ id: `${r.id}\u0000${t.key}`, resourceId: r.id, type: RESOURCE_TYPES[prefix], key: t.key!, value: t.value ?? '' });
      }
    }
    // DescribeTags' own filters are about the tag itself: key, value, resource-id, resource-type.
    const match = compileFilters<TagFilterRow>(input.Filters?.filter((f) => !f.Name?.startsWith('tag:')), {
      key: (x) => [x.key],
      value: (x) => [x.value],
      'resource-id': (x) => [x.resourceId],
      'resource-type': (x) => [x.type],
    });
    const tagFilters = (input.Filters ?? []).filter((f) => f.Name?.startsWith('tag:'));
    const filtered = rows.filter((x) => match({ ...x, tags: undefined }) && tagFilters.every((f) => f.Name!.slice(4) === x.key && (f.Values ?? []).includes(x.value)));
    const p = page(filtered, input.MaxResults, input.NextToken);
    return { Tags: p.items.map((x) => ({ ResourceId: x.resourceId, ResourceType: x.type as EC2.ResourceType, Key: x.key, Value: x.value })), NextToken: p.nextToken };
  },

  async DescribeInstances(input, ctx) {
    const match = compileFilters(input.Filters, INSTANCE_FILTERS);
    const all = byIds(await listEc2(ctx, 'i'), input.InstanceIds, (id) => ec2Errors.notFound('i', id)).filter(match);
    const p = page(all, input.MaxResults, input.NextToken);
    const byReservation = new Map<string, InstanceRecord[]>();
    for (const i of p.items) byReservation.set(i.reservationId, [...(byReservation.get(i.reservationId) ?? []), i]);
    return {
      Reservations: [...byReservation].map(([id, instances]) => ({ ReservationId: id, OwnerId: ctx.platform.accountId, Groups: [], Instances: instances.map(describeInstance) })),
      NextToken: p.nextToken,
    };
  },
};
