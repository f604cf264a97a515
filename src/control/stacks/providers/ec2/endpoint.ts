/**
 * AWS::EC2::VPCEndpoint through the EC2 API: created with its route tables (Gateway) or subnets and
 * groups (Interface); route tables, subnets, groups, policy and private DNS change in place
 * (ModifyVpcEndpoint), the rest replaces. Ref is the endpoint id.
 */
import { ServiceError } from '../../../../errors.js';
import { mergedTags, type ProviderContext, type ResourceProvider } from '../types.js';

type Out = Record<string, unknown>;
interface Endpoint {
  VpcEndpointId: string;
  VpcId?: string;
  ServiceName?: string;
  RouteTableIds?: string[];
  SubnetIds?: string[];
  NetworkInterfaceIds?: string[];
  CreationTimestamp?: Date | string;
  DnsEntries?: Array<{ DnsName?: string; HostedZoneId?: string }>;
}
const ec2 = <T = Out>(ctx: ProviderContext, op: string, input: Record<string, unknown>) => ctx.invoker.call<T>(ctx.scope, 'ec2', op, input);
const ids = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const policyText = (v: unknown): string | undefined => (v === undefined || v === null || v === '' ? undefined : typeof v === 'string' ? v : JSON.stringify(v));

function attributes(e: Endpoint): Out {
  const created = e.CreationTimestamp instanceof Date ? e.CreationTimestamp.toISOString() : e.CreationTimestamp;
  return {
    Id: e.VpcEndpointId,
    CreationTimestamp: created,
    NetworkInterfaceIds: e.NetworkInterfaceIds ?? [],
    DnsEntries: (e.DnsEntries ?? []).map((d) => `${d.HostedZoneId}:${d.DnsName}`),
  };
}

async function described(ctx: ProviderContext, id: string): Promise<Endpoint> {
  const out = await ec2<{ VpcEndpoints?: Endpoint[] }>(ctx, 'DescribeVpcEndpoints', { VpcEndpointIds: [id] });
  return out.VpcEndpoints?.[0] ?? { VpcEndpointId: id };
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** Adds and removes members of one list (route tables, subnets, groups), as ModifyVpcEndpoint's Add/Remove pairs. */
function delta(name: string, now: unknown, before: unknown): Out {
  const [want, had] = [ids(now), ids(before)];
  const add = want.filter((x) => !had.includes(x));
  const remove = had.filter((x) => !want.includes(x));
  return { ...(add.length ? { [`Add${name}`]: add } : {}), ...(remove.length ? { [`Remove${name}`]: remove } : {}) };
}

export const vpcEndpoint: ResourceProvider = {
  async create(props, ctx) {
    const tags = mergedTags(ctx.tags, props.Tags);
    const out = await ec2<{ VpcEndpoint: Endpoint }>(ctx, 'CreateVpcEndpoint', {
      VpcId: props.VpcId,
      ServiceName: props.ServiceName,
      VpcEndpointType: props.VpcEndpointType,
      PolicyDocument: policyText(props.PolicyDocument),
      RouteTableIds: props.RouteTableIds,
      SubnetIds: props.SubnetIds,
      SecurityGroupIds: props.SecurityGroupIds,
      // CloudFormation's default is false (the API's, for Interface endpoints, true).
      PrivateDnsEnabled: props.PrivateDnsEnabled === true || props.PrivateDnsEnabled === 'true',
      TagSpecifications: tags.length ? [{ ResourceType: 'vpc-endpoint', Tags: tags }] : undefined,
    });
    const id = out.VpcEndpoint.VpcEndpointId;
    return { physicalId: id, attributes: attributes(await described(ctx, id)) };
  },
  async update(id, props, before, ctx) {
    const policy = policyText(props.PolicyDocument);
    const change: Out = {
      ...delta('RouteTableIds', props.RouteTableIds, before.RouteTableIds),
      ...delta('SubnetIds', props.SubnetIds, before.SubnetIds),
      ...delta('SecurityGroupIds', props.SecurityGroupIds, before.SecurityGroupIds),
      ...(policy !== policyText(before.PolicyDocument) ? (policy === undefined ? { ResetPolicy: true } : { PolicyDocument: policy }) : {}),
      ...(Boolean(props.PrivateDnsEnabled) !== Boolean(before.PrivateDnsEnabled) ? { PrivateDnsEnabled: props.PrivateDnsEnabled === true || props.PrivateDnsEnabled === 'true' } : {}),
    };
    if (Object.keys(change).length) await ec2(ctx, 'ModifyVpcEndpoint', { VpcEndpointId: id, ...change });
    return { physicalId: id, attributes: attributes(await described(ctx, id)) };
  },
  async delete(id, props, ctx) {
    let targets = id ? [id] : [];
    if (!id && typeof props.VpcId === 'string') {
      // Interrupted before its id was recorded: the endpoint of this VPC and service with exactly the template's route tables and subnets.
      const out = await ec2<{ VpcEndpoints?: Endpoint[] }>(ctx, 'DescribeVpcEndpoints', { Filters: [{ Name: 'vpc-id', Values: [props.VpcId] }, { Name: 'service-name', Values: [String(props.ServiceName ?? '')] }] });
      targets = (out.VpcEndpoints ?? []).filter((e) => sameSet(e.RouteTableIds ?? [], ids(props.RouteTableIds)) && sameSet(e.SubnetIds ?? [], ids(props.SubnetIds))).map((e) => e.VpcEndpointId);
    }
    if (!targets.length) return;
    const out = await ec2<{ Unsuccessful?: Array<{ ResourceId?: string; Error?: { Code?: string; Message?: string } }> }>(ctx, 'DeleteVpcEndpoints', { VpcEndpointIds: targets });
    const failed = (out.Unsuccessful ?? []).filter((u) => !/NotFound/.test(u.Error?.Code ?? ''));
    if (failed.length) throw new ServiceError(failed[0]!.Error?.Code ?? 'InternalFailure', failed[0]!.Error?.Message ?? `VPC endpoint ${failed[0]!.ResourceId} could not be deleted`);
  },
};
