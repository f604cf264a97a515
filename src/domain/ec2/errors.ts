/** EC2's error catalog: every error the EC2 domain and handlers throw is made here, with AWS's codes and wording. */
import { ServiceError } from '../../errors.js';

/** What each resource type is called in EC2's "not found" and "malformed id" errors. */
const NOT_FOUND: Readonly<Record<string, { code: string; noun: string }>> = {
  vpc: { code: 'InvalidVpcID', noun: 'vpc ID' },
  subnet: { code: 'InvalidSubnetID', noun: 'subnet ID' },
  igw: { code: 'InvalidInternetGatewayID', noun: 'internetGateway ID' },
  rtb: { code: 'InvalidRouteTableID', noun: 'routeTable ID' },
  sg: { code: 'InvalidGroup', noun: 'security group' },
  eipalloc: { code: 'InvalidAllocationID', noun: 'allocation ID' },
  i: { code: 'InvalidInstanceID', noun: 'instance ID' },
  sgr: { code: 'InvalidSecurityGroupRuleId', noun: 'security group rule ID' },
  vpce: { code: 'InvalidVpcEndpointId', noun: 'Vpc Endpoint Id' },
};

export const ec2Errors = {
  invalidParameterValue: (msg: string) => new ServiceError('InvalidParameterValue', msg),
  invalidParameter: (msg: string) => new ServiceError('InvalidParameter', msg),
  invalidParameterCombination: (msg: string) => new ServiceError('InvalidParameterCombination', msg),
  missingParameter: (name: string) => new ServiceError('MissingParameter', `The request must contain the parameter ${name}`),
  /** An id of the right prefix that names nothing (`InvalidVpcID.NotFound`...). */
  notFound: (prefix: string, id: string) => {
    if (prefix === 'nat') return new ServiceError('NatGatewayNotFound', `The Nat Gateway ${id.slice(0, 64)} was not found`);
    const t = NOT_FOUND[prefix] ?? { code: 'InvalidID', noun: 'ID' };
    return new ServiceError(`${t.code}.NotFound`, `The ${t.noun} '${id.slice(0, 64)}' does not exist`);
  },
  /** An id that is not of the form its parameter needs (`vpc-...` for a VPC id). */
  malformed: (prefix: string, id: string) => {
    const t = NOT_FOUND[prefix] ?? { code: 'InvalidID', noun: 'ID' };
    return new ServiceError(prefix === 'nat' || prefix === 'eipalloc' ? 'InvalidParameterValue' : `${t.code}.Malformed`, `Invalid id: "${id.slice(0, 64)}" (expecting "${prefix}-...")`);
  },
  dependencyViolation: (what: string, id: string) => new ServiceError('DependencyViolation', `The ${what} '${id}' has dependencies and cannot be deleted.`),
  dependentObject: (id: string, by: string) => new ServiceError('DependencyViolation', `resource ${id} has a dependent object (${by})`),
  invalidCidr: (cidr: string, param: string) => new ServiceError('InvalidParameterValue', `Value (${cidr.slice(0, 64)}) for parameter ${param} is invalid. This is not a valid CIDR block.`),
  vpcRange: (cidr: string) => new ServiceError('InvalidVpc.Range', `The CIDR '${cidr}' is invalid: a VPC's block has a prefix length from /16 to /28.`),
  subnetRange: (cidr: string, why: string) => new ServiceError('InvalidSubnet.Range', `The CIDR '${cidr}' is invalid for this subnet: ${why}.`),
  subnetConflict: (cidr: string, other: string) => new ServiceError('InvalidSubnet.Conflict', `The CIDR '${cidr}' conflicts with another subnet (${other}).`),
  unknownZone: (zone: string, zones: string[]) =>
    new ServiceError('InvalidParameterValue', `Value (${zone.slice(0, 64)}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: ${zones.join(', ')}.`),
  invalidZone: (zone: string) => new ServiceError('InvalidParameterValue', `Invalid availability zone: [${zone.slice(0, 64)}]`),
  alreadyAssociated: (msg: string) => new ServiceError('Resource.AlreadyAssociated', msg),
  gatewayNotAttached: (igw: string, vpc: string) => new ServiceError('Gateway.NotAttached', `resource ${igw} is not attached to network ${vpc}`),
  routeExists: (dest: string) => new ServiceError('RouteAlreadyExists', `The route identified by ${dest} already exists.`),
  routeNotFound: (dest: string, rtb: string) => new ServiceError('InvalidRoute.NotFound', `no route with destination-cidr-block ${dest} in route table ${rtb}`),
  associationNotFound: (id: string) => new ServiceError('InvalidAssociationID.NotFound', `The association ID '${id.slice(0, 64)}' does not exist`),
  groupDuplicate: (name: string, vpc: string) => new ServiceError('InvalidGroup.Duplicate', `The security group '${name.slice(0, 255)}' already exists for VPC '${vpc}'`),
  groupNameNotFound: (name: string, vpc: string) => new ServiceError('InvalidGroup.NotFound', `The security group '${name.slice(0, 255)}' does not exist in VPC '${vpc}'`),
  groupReserved: () => new ServiceError('InvalidGroup.Reserved', "The security group 'default' is reserved: every VPC has one, made with it."),
  cannotDeleteDefault: (id: string) => new ServiceError('CannotDelete', `the specified group: "${id}" name: "default" cannot be deleted by a user`),
  permissionDuplicate: (rule: string) => new ServiceError('InvalidPermission.Duplicate', `the specified rule "${rule}" already exists`),
  permissionNotFound: () => new ServiceError('InvalidPermission.NotFound', 'The specified rule does not exist in this security group.'),
  permissionMalformed: (msg: string) => new ServiceError('InvalidPermission.Malformed', msg),
  rulesPerGroupExceeded: (max: number) => new ServiceError('RulesPerSecurityGroupLimitExceeded', `The maximum number of rules per security group (${max}) has been reached.`),
  addressInUse: (id: string) => new ServiceError('InvalidIPAddress.InUse', `Address ${id} is in use.`),
  addressLimit: (max: number) => new ServiceError('AddressLimitExceeded', `The maximum number of addresses (${max}) has been reached.`),
  addressNotFound: (ip: string) => new ServiceError('InvalidAddress.NotFound', `Address '${ip.slice(0, 64)}' not found.`),
  limit: (code: string, msg: string) => new ServiceError(code, msg),
  dryRun: () => new ServiceError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412),
  invalidFilter: (name: string) => new ServiceError('InvalidParameterValue', `The filter '${name.slice(0, 128)}' is invalid`),
  invalidToken: () => new ServiceError('InvalidNextToken', 'The token is not one this API returned, or has expired'),
  tagError: (msg: string) => new ServiceError('InvalidParameterValue', msg),
  unsupported: (msg: string) => new ServiceError('UnsupportedOperation', msg),
  invalidServiceName: (name: string, why: string) => new ServiceError('InvalidServiceName', `The Vpc Endpoint Service '${name.slice(0, 128)}' does not exist: ${why}`),
};
