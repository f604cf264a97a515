/**
 * Amazon EC2, the networking model (EC2's own query protocol, src/protocol/ec2.ts): VPCs with a
 * default VPC per region, subnets, internet and NAT gateways, route tables, security groups,
 * elastic IPs, VPC endpoints, zones, account attributes, tags, and DescribeInstances. See README.md.
 */
import type * as EC2 from '../../generated/ec2.js';
import { ServiceModel } from '../../protocol/model.js';
import { ec2Errors } from '../../domain/ec2/errors.js';
import type { Handler, Handlers, ServiceDefinition } from '../types.js';
import { networkHandlers } from './network.js';
import { securityGroupHandlers } from './securityGroups.js';
import { accountHandlers } from './account.js';
import { endpointHandlers } from './endpoints.js';
import { launchTemplateHandlers } from './launchTemplates.js';

/** Every EC2 handler, typed; a CloudFormation provider calls these as the API would. */
export const ec2Handlers: Handlers<EC2.Operations> = { ...networkHandlers, ...securityGroupHandlers, ...accountHandlers, ...endpointHandlers, ...launchTemplateHandlers };

/** `DryRun`: the request is checked (decoded and validated) and answered DryRunOperation, with nothing done, as EC2 does. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function withDryRun(h: Handler<any, any>): Handler<any, any> {
  return async (input, ctx) => {
    if ((input as { DryRun?: boolean }).DryRun === true) throw ec2Errors.dryRun();
    return h(input, ctx);
  };
}

export function ec2Service(): ServiceDefinition {
  const handlers = Object.fromEntries(Object.entries(ec2Handlers).map(([k, h]) => [k, h && withDryRun(h)]));
  return {
    name: 'ec2',
    model: ServiceModel.load('ec2'),
    protocol: 'ec2',
    signingNames: ['ec2'],
    servedPart: 'the networking model (VPCs, subnets, internet and NAT gateways, route tables, security groups, elastic IPs, VPC endpoints, tags), launch templates, DescribeAvailabilityZones, DescribeRegions, DescribeAccountAttributes and DescribeInstances',
    validationErrorCode: 'InvalidParameterValue',
    handlers,
  };
}
