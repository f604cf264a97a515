/** VPC endpoints: CreateVpcEndpoint, DescribeVpcEndpoints, ModifyVpcEndpoint, DeleteVpcEndpoints. */
import type * as EC2 from '../../generated/ec2.js';
import type { Handlers, RequestContext } from '../types.js';
import { ec2Errors } from '../../domain/ec2/errors.js';
import { listEc2 } from '../../domain/ec2/lookup.js';
import { createVpcEndpoint, deleteVpcEndpoints, modifyVpcEndpoint } from '../../domain/ec2/endpoints.js';
import { mergeEc2Tags } from '../../domain/ec2/tags.js';
import type { VpcEndpointRecord } from '../../domain/ec2/records.js';
import { apiTags, byIds, compileFilters, page, tagsFor, type FilterTable } from './describe.js';

/** Most endpoints one DeleteVpcEndpoints call names. */
export const MAX_DELETE_ENDPOINTS = 100;

function describeEndpoint(e: VpcEndpointRecord, ctx: RequestContext): EC2.VpcEndpoint {
  const service = e.serviceName.split('.').slice(3).join('.');
  return {
    VpcEndpointId: e.id,
    VpcEndpointType: e.endpointType,
    VpcId: e.vpcId,
    ServiceName: e.serviceName,
    State: 'available' as EC2.State,
    PolicyDocument: e.policyDocument,
    RouteTableIds: e.routeTableIds,
    SubnetIds: e.subnetIds,
    Groups: e.endpointType === 'Interface' ? e.securityGroupIds.map((g) => ({ GroupId: g })) : [],
    IpAddressType: 'ipv4',
    DnsOptions: e.endpointType === 'Interface' ? { DnsRecordIpType: 'ipv4' } : undefined,
    PrivateDnsEnabled: e.privateDnsEnabled,
    RequesterManaged: false,
    NetworkInterfaceIds: e.networkInterfaceIds,
    DnsEntries: e.endpointType === 'Interface' ? [{ DnsName: `${e.id}.${service}.${ctx.region}.vpce.amazonaws.com`, HostedZoneId: 'Z7HUB22UULQXV' }] : [],
    CreationTimestamp: new Date(e.createdAt),
    Tags: apiTags(e.tags),
    OwnerId: ctx.platform.accountId,
  };
}

const ENDPOINT_FILTERS: FilterTable<VpcEndpointRecord> = {
  'vpc-endpoint-id': (e) => [e.id],
  'vpc-id': (e) => [e.vpcId],
  'service-name': (e) => [e.serviceName],
  'vpc-endpoint-type': (e) => [e.endpointType],
  'vpc-endpoint-state': () => ['available'],
  'ip-address-type': () => ['ipv4'],
};

export const endpointHandlers: Handlers<EC2.Operations> = {
  async CreateVpcEndpoint(input, ctx) {
    if (input.ServiceName === undefined) throw ec2Errors.missingParameter('ServiceName');
    if (input.ServiceNetworkArn || input.ResourceConfigurationArn || input.ServiceRegion || input.SubnetConfigurations?.length) {
      throw ec2Errors.unsupported('Berth models Gateway and Interface endpoints to AWS services in this region; service networks, resource configurations, other regions and subnet configurations are not modelled.');
    }
    if (input.IpAddressType !== undefined && input.IpAddressType !== 'ipv4') throw ec2Errors.unsupported('Berth models IPv4 endpoints only (IpAddressType ipv4).');
    const e = await createVpcEndpoint(ctx, {
      vpcId: input.VpcId,
      serviceName: input.ServiceName,
      endpointType: input.VpcEndpointType,
      policyDocument: input.PolicyDocument,
      routeTableIds: input.RouteTableIds,
      subnetIds: input.SubnetIds,
      securityGroupIds: input.SecurityGroupIds,
      privateDnsEnabled: input.PrivateDnsEnabled,
      tags: mergeEc2Tags([], tagsFor(input.TagSpecifications, 'vpc-endpoint')),
    });
    return { VpcEndpoint: { ...describeEndpoint(e, ctx), State: (e.endpointType === 'Interface' ? 'pending' : 'available') as EC2.State }, ClientToken: input.ClientToken };
  },
  async DescribeVpcEndpoints(input, ctx) {
    const match = compileFilters(input.Filters, ENDPOINT_FILTERS);
    const all = byIds(await listEc2(ctx, 'vpce'), input.VpcEndpointIds, (id) => ec2Errors.notFound('vpce', id)).filter(match);
    const p = page(all, input.MaxResults, input.NextToken);
    return { VpcEndpoints: p.items.map((e) => describeEndpoint(e, ctx)), NextToken: p.nextToken };
  },
  async ModifyVpcEndpoint(input, ctx) {
    if (input.IpAddressType !== undefined && input.IpAddressType !== 'ipv4') throw ec2Errors.unsupported('Berth models IPv4 endpoints only (IpAddressType ipv4).');
    if (input.SubnetConfigurations?.length) throw ec2Errors.unsupported('Subnet configurations (chosen endpoint addresses) are not modelled.');
    await modifyVpcEndpoint(ctx, input.VpcEndpointId, {
      policyDocument: input.PolicyDocument,
      resetPolicy: input.ResetPolicy,
      addRouteTableIds: input.AddRouteTableIds,
      removeRouteTableIds: input.RemoveRouteTableIds,
      addSubnetIds: input.AddSubnetIds,
      removeSubnetIds: input.RemoveSubnetIds,
      addSecurityGroupIds: input.AddSecurityGroupIds,
      removeSecurityGroupIds: input.RemoveSecurityGroupIds,
      privateDnsEnabled: input.PrivateDnsEnabled,
    });
    return { Return: true };
  },
  async DeleteVpcEndpoints(input, ctx) {
    if (input.VpcEndpointIds.length > MAX_DELETE_ENDPOINTS) throw ec2Errors.invalidParameterValue(`At most ${MAX_DELETE_ENDPOINTS} endpoints can be deleted in one call.`);
    const failed = await deleteVpcEndpoints(ctx, input.VpcEndpointIds);
    return { Unsuccessful: failed.map((f) => ({ ResourceId: f.id, Error: { Code: f.code, Message: f.message } })) };
  },
};
