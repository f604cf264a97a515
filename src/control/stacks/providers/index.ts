/**
 * The registry of resource providers: one folder per AWS service, each exporting its
 * providers by resource type. Adding a service's resources (EC2 networking, Auto Scaling...)
 * is one folder and one line here. A type with no provider fails the stack with a reason
 * naming it (`unsupportedReason`).
 */
import type { ResourceProvider } from './types.js';
import { isCustomResourceType } from '../../../domain/cloudformation/template/spec.js';
import { ecsProviders } from './ecs/index.js';
import { elbv2Providers } from './elbv2/index.js';
import { logsProviders } from './logs/index.js';
import { ssmProviders } from './ssm/index.js';
import { iamProviders } from './iam/index.js';
import { cloudFormationProviders } from './cloudformation/index.js';
import { ec2Providers } from './ec2/index.js';
import { autoScalingProviders } from './autoscaling/index.js';
import { cloudWatchProviders } from './cloudwatch/index.js';
import { applicationAutoScalingProviders } from './applicationautoscaling/index.js';
import { serviceDiscoveryProviders } from './servicediscovery/index.js';

const REGISTRY: ReadonlyMap<string, ResourceProvider> = new Map(
  Object.entries({ ...ecsProviders, ...elbv2Providers, ...logsProviders, ...ssmProviders, ...iamProviders, ...cloudFormationProviders, ...ec2Providers, ...autoScalingProviders, ...cloudWatchProviders, ...applicationAutoScalingProviders, ...serviceDiscoveryProviders }),
);

/** The provider of a resource type, if Berth has one. */
export function providerFor(type: string): ResourceProvider | undefined {
  return REGISTRY.get(type) ?? (isCustomResourceType(type) ? REGISTRY.get('AWS::CloudFormation::CustomResource') : undefined);
}

/** Every resource type Berth can create. */
export function supportedTypes(): string[] {
  return [...REGISTRY.keys()].sort();
}

/** Why a type cannot be created here, for the resource's CREATE_FAILED event. */
export function unsupportedReason(type: string): string {
  const service = type.split('::')[1] ?? type;
  if (service === 'EC2' || service === 'AutoScaling') {
    return `Resource type ${type} is not supported by Berth yet: ${service === 'EC2' ? 'Berth models EC2 networking (VPCs, subnets, gateways, routes, addresses, security groups, VPC endpoints); its instances are agent hosts launched by Auto Scaling groups' : 'Berth serves launch configurations and Auto Scaling groups'}`;
  }
  return `Resource type ${type} is not supported by Berth (supported: ${[...new Set(supportedTypes().map((t) => t.split('::').slice(0, 2).join('::')))].join(', ')})`;
}
