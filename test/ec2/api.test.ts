// The EC2 networking model through the real aws CLI v1 (EC2's own query protocol) and
// @aws-sdk/client-ec2 v3: the default VPC, VPCs and subnets with their CIDR rules, gateways,
// route tables, security groups, elastic IPs, tags and filters, pagination, DryRun, and AWS's
// error codes (InvalidVpcID.NotFound, DependencyViolation...).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  EC2Client,
  DescribeVpcsCommand,
  CreateVpcCommand,
  DeleteVpcCommand,
  CreateSubnetCommand,
  DeleteSubnetCommand,
  DescribeSubnetsCommand,
  CreateInternetGatewayCommand,
  AttachInternetGatewayCommand,
  DetachInternetGatewayCommand,
  DeleteInternetGatewayCommand,
  CreateRouteTableCommand,
  CreateRouteCommand,
  AssociateRouteTableCommand,
  DisassociateRouteTableCommand,
  DeleteRouteTableCommand,
  DescribeRouteTablesCommand,
  CreateSecurityGroupCommand,
  AuthorizeSecurityGroupIngressCommand,
  RevokeSecurityGroupIngressCommand,
  DescribeSecurityGroupsCommand,
  DeleteSecurityGroupCommand,
  AllocateAddressCommand,
  ReleaseAddressCommand,
  CreateNatGatewayCommand,
  DeleteNatGatewayCommand,
  DescribeNatGatewaysCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeTagsCommand,
  DescribeAvailabilityZonesCommand,
  DescribeAccountAttributesCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  ModifyVpcAttributeCommand,
  DescribeVpcAttributeCommand,
  paginateDescribeSubnets,
} from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client, CreateLoadBalancerCommand, DeleteLoadBalancerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { startTestBerth, aws, awsOk, errorOf, hasAwsCli, type TestBerth } from '../helpers/fixture.js';

let berth: TestBerth;
let ec2: EC2Client;

before(async () => {
  berth = await startTestBerth();
  ec2 = new EC2Client(berth.clientConfig);
});
after(async () => {
  ec2?.destroy();
  await berth?.close();
});

test('a default VPC with a default subnet per zone, its main route table, gateway and default group', async () => {
  const zones = (await ec2.send(new DescribeAvailabilityZonesCommand({}))).AvailabilityZones!;
  assert.deepEqual(zones.map((z) => [z.ZoneName, z.ZoneId, z.State]), [
    ['us-east-1a', 'use1-az1', 'available'],
    ['us-east-1b', 'use1-az2', 'available'],
    ['us-east-1c', 'use1-az3', 'available'],
  ]);
  const vpcs = (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs!;
  assert.equal(vpcs.length, 1);
  const vpc = vpcs[0]!;
  assert.equal(vpc.CidrBlock, '172.31.0.0/16');
  assert.match(vpc.VpcId!, /^vpc-[0-9a-f]{17}$/);
  const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }, { Name: 'default-for-az', Values: ['true'] }] }))).Subnets!;
  assert.deepEqual(subnets.map((s) => [s.AvailabilityZone, s.CidrBlock, s.MapPublicIpOnLaunch, s.AvailableIpAddressCount]).sort(), [
    ['us-east-1a', '172.31.0.0/20', true, 4091],
    ['us-east-1b', '172.31.16.0/20', true, 4091],
    ['us-east-1c', '172.31.32.0/20', true, 4091],
  ]);
  const main = (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }, { Name: 'association.main', Values: ['true'] }] }))).RouteTables!;
  assert.equal(main.length, 1);
  assert.deepEqual(main[0]!.Routes!.map((r) => [r.DestinationCidrBlock, r.GatewayId?.slice(0, 4), r.State]), [
    ['172.31.0.0/16', 'loca', 'active'],
    ['0.0.0.0/0', 'igw-', 'active'],
  ]);
  const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['default'] }, { Name: 'vpc-id', Values: [vpc.VpcId!] }] }))).SecurityGroups!;
  assert.equal(groups.length, 1);
  assert.deepEqual(groups[0]!.IpPermissions![0]!.UserIdGroupPairs!.map((p) => p.GroupId), [groups[0]!.GroupId]);
  const attrs = (await ec2.send(new DescribeAccountAttributesCommand({ AttributeNames: ['default-vpc', 'supported-platforms'] }))).AccountAttributes!;
  assert.deepEqual(attrs.map((a) => [a.AttributeName, a.AttributeValues![0]!.AttributeValue]), [
    ['default-vpc', vpc.VpcId],
    ['supported-platforms', 'VPC'],
  ]);
  const instances = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['running'] }] }));
  assert.deepEqual(instances.Reservations, []);
});

test('a VPC built the way templates build one, taken apart in order; deletes refuse dependents', async () => {
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16', TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'Name', Value: 'app' }] }] }))).Vpc!.VpcId!;
  await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } }));
  assert.equal((await ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: 'enableDnsHostnames' }))).EnableDnsHostnames?.Value, true);
  const a = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.0.0.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!;
  const b = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.0.1.0/24', AvailabilityZoneId: 'use1-az2' }))).Subnet!;
  assert.deepEqual([a.AvailabilityZone, b.AvailabilityZone, a.VpcId, a.DefaultForAz], ['us-east-1a', 'us-east-1b', vpcId, false]);
  // CIDR rules: outside the VPC, overlapping a sibling, malformed, an unknown zone.
  assert.equal((await errorOf(ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.1.0.0/24' })))).name, 'InvalidSubnet.Range');
  assert.equal((await errorOf(ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.0.0.128/25' })))).name, 'InvalidSubnet.Conflict');
  assert.equal((await errorOf(ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.0.0.300/24' })))).name, 'InvalidParameterValue');
  assert.equal((await errorOf(ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.0.9.0/24', AvailabilityZone: 'us-east-1z' })))).name, 'InvalidParameterValue');
  assert.equal((await errorOf(ec2.send(new CreateSubnetCommand({ VpcId: 'vpc-00000000000000000', CidrBlock: '10.0.9.0/24' })))).name, 'InvalidVpcID.NotFound');
  assert.equal((await errorOf(ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/8' })))).name, 'InvalidVpc.Range');

  const igw = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
  await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
  assert.equal((await errorOf(ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId })))).name, 'Resource.AlreadyAssociated');
  const rtb = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!.RouteTableId!;
  await ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }));
  assert.equal((await errorOf(ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw })))).name, 'RouteAlreadyExists');
  const assoc = (await ec2.send(new AssociateRouteTableCommand({ RouteTableId: rtb, SubnetId: a.SubnetId! }))).AssociationId!;
  assert.equal((await errorOf(ec2.send(new AssociateRouteTableCommand({ RouteTableId: rtb, SubnetId: a.SubnetId! })))).name, 'Resource.AlreadyAssociated');
  const bySubnet = (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [a.SubnetId!] }] }))).RouteTables!;
  assert.deepEqual(bySubnet.map((t) => t.RouteTableId), [rtb]);

  const eip = (await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' })))!;
  const nat = (await ec2.send(new CreateNatGatewayCommand({ SubnetId: a.SubnetId!, AllocationId: eip.AllocationId! }))).NatGateway!;
  assert.equal(nat.NatGatewayAddresses![0]!.PublicIp, eip.PublicIp);
  assert.equal((await errorOf(ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId! })))).name, 'InvalidIPAddress.InUse');

  const sg = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'web tier', VpcId: vpcId }))).GroupId!;
  const sg2 = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'app', Description: 'app tier', VpcId: vpcId }))).GroupId!;
  assert.equal((await errorOf(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'again', VpcId: vpcId })))).name, 'InvalidGroup.Duplicate');
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sg2, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, UserIdGroupPairs: [{ GroupId: sg }] }] }));

  // Everything with a dependent refuses to go.
  for (const [what, p] of [
    ['vpc', ec2.send(new DeleteVpcCommand({ VpcId: vpcId }))],
    ['subnet with a NAT gateway', ec2.send(new DeleteSubnetCommand({ SubnetId: a.SubnetId! }))],
    ['attached gateway', ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw }))],
    ['associated route table', ec2.send(new DeleteRouteTableCommand({ RouteTableId: rtb }))],
    ['referenced group', ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg }))],
  ] as const) {
    assert.equal((await errorOf(p)).name, 'DependencyViolation', what);
  }
  const defaultGroup = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'group-name', Values: ['default'] }] }))).SecurityGroups![0]!.GroupId!;
  assert.equal((await errorOf(ec2.send(new DeleteSecurityGroupCommand({ GroupId: defaultGroup })))).name, 'CannotDelete');

  // Taken apart in order, as CloudFormation would.
  await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: sg2, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, UserIdGroupPairs: [{ GroupId: sg }] }] }));
  assert.equal((await errorOf(ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: sg2, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, UserIdGroupPairs: [{ GroupId: sg }] }] })))).name, 'InvalidPermission.NotFound');
  await ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg }));
  await ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg2 }));
  assert.equal((await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: nat.NatGatewayId! }))).NatGatewayId, nat.NatGatewayId);
  assert.equal((await ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [nat.NatGatewayId!] }))).NatGateways![0]!.State, 'deleted');
  await ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId! }));
  await ec2.send(new DisassociateRouteTableCommand({ AssociationId: assoc }));
  await ec2.send(new DeleteRouteTableCommand({ RouteTableId: rtb }));
  await ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
  assert.equal((await errorOf(ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId })))).name, 'Gateway.NotAttached');
  await ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw }));
  await ec2.send(new DeleteSubnetCommand({ SubnetId: a.SubnetId! }));
  await ec2.send(new DeleteSubnetCommand({ SubnetId: b.SubnetId! }));
  await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
  const gone = await errorOf(ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })));
  assert.deepEqual([gone.name, gone.status], ['InvalidVpcID.NotFound', 400]);
  assert.match(gone.message, new RegExp(`The vpc ID '${vpcId}' does not exist`));
  // The main route table and default group went with the VPC.
  assert.deepEqual((await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).RouteTables, []);
  assert.deepEqual((await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).SecurityGroups, []);
});

test('tags, tag filters, DescribeTags, pagination, DryRun and an operation Berth does not serve', async () => {
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }))).Vpc!.VpcId!;
  for (let i = 0; i < 7; i++) await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.20.${i}.0/24` }));
  const ids = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).Subnets!.map((s) => s.SubnetId!);
  assert.equal(ids.length, 7);
  // Spread over the zones when none is named.
  const zones = new Set((await ec2.send(new DescribeSubnetsCommand({ SubnetIds: ids }))).Subnets!.map((s) => s.AvailabilityZone));
  assert.equal(zones.size, 3);
  await ec2.send(new CreateTagsCommand({ Resources: [vpcId, ids[0]!], Tags: [{ Key: 'Name', Value: 'tagged-one' }, { Key: 'env', Value: 'test' }] }));
  const named = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:Name', Values: ['tagged-*'] }] }))).Subnets!;
  assert.deepEqual(named.map((s) => s.SubnetId), [ids[0]]);
  assert.deepEqual((await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'tag-key', Values: ['env'] }] }))).Vpcs!.map((v) => v.VpcId), [vpcId]);
  const tags = (await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [vpcId] }] }))).Tags!;
  assert.deepEqual(tags.map((t) => [t.Key, t.Value, t.ResourceType]).sort(), [
    ['Name', 'tagged-one', 'vpc'],
    ['env', 'test', 'vpc'],
  ]);
  await ec2.send(new DeleteTagsCommand({ Resources: [vpcId], Tags: [{ Key: 'env' }] }));
  assert.deepEqual((await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [vpcId] }] }))).Tags!.map((t) => t.Key), ['Name']);
  assert.equal((await errorOf(ec2.send(new CreateTagsCommand({ Resources: ['subnet-00000000000000000'], Tags: [{ Key: 'a', Value: 'b' }] })))).name, 'InvalidSubnetID.NotFound');
  assert.equal((await errorOf(ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'no-such-filter', Values: ['x'] }] })))).name, 'InvalidParameterValue');

  // Pages of 5: every subnet once, the last page without a token.
  const seen: string[] = [];
  for await (const p of paginateDescribeSubnets({ client: ec2, pageSize: 5 }, { Filters: [{ Name: 'vpc-id', Values: [vpcId] }] })) seen.push(...p.Subnets!.map((s) => s.SubnetId!));
  assert.deepEqual(seen.sort(), [...ids].sort());
  const first = await ec2.send(new DescribeSubnetsCommand({ MaxResults: 5 }));
  assert.equal(first.Subnets!.length, 5);
  assert.ok(first.NextToken);
  assert.equal((await errorOf(ec2.send(new DescribeSubnetsCommand({ NextToken: 'garbage' })))).name, 'InvalidNextToken');

  const dry = await errorOf(ec2.send(new CreateVpcCommand({ CidrBlock: '10.30.0.0/16', DryRun: true })));
  assert.deepEqual([dry.name, dry.status], ['DryRunOperation', 412]);
  assert.equal((await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'cidr', Values: ['10.30.0.0/16'] }] }))).Vpcs!.length, 0);

  const run = await errorOf(ec2.send(new RunInstancesCommand({ ImageId: 'ami-12345678', MinCount: 1, MaxCount: 1 })));
  assert.deepEqual([run.name, run.status], ['UnsupportedOperation', 501]);
  assert.match(run.message, /RunInstances/);
  const missing = await errorOf(ec2.send(new CreateSubnetCommand({ VpcId: vpcId } as never)));
  assert.equal(missing.name, 'MissingParameter');
  assert.match(missing.message, /CidrBlock/);
});

test('the aws CLI v1: describe, create with tags, security group rules, filters and errors', { skip: !hasAwsCli() && 'the aws CLI is not installed' }, async () => {
  const env = berth.awsEnv;
  const vpcs = await awsOk(env, ['ec2', 'describe-vpcs', '--filters', 'Name=isDefault,Values=true']);
  assert.equal(vpcs.Vpcs.length, 1);
  const defaultVpc = vpcs.Vpcs[0].VpcId as string;
  const subnets = await awsOk(env, ['ec2', 'describe-subnets', '--filters', `Name=vpc-id,Values=${defaultVpc}`, 'Name=availability-zone,Values=us-east-1a,us-east-1b', '--query', 'Subnets[].AvailabilityZone']);
  assert.deepEqual(subnets.sort(), ['us-east-1a', 'us-east-1b']);
  const vpcId = (await awsOk(env, ['ec2', 'create-vpc', '--cidr-block', '10.50.0.0/16', '--tag-specifications', 'ResourceType=vpc,Tags=[{Key=Name,Value=cli-vpc}]', '--query', 'Vpc.VpcId', '--output', 'text'])) as string;
  assert.match(vpcId, /^vpc-/);
  assert.equal(await awsOk(env, ['ec2', 'describe-vpcs', '--filters', 'Name=tag:Name,Values=cli-vpc', '--query', 'Vpcs[0].VpcId', '--output', 'text']), vpcId);
  const sg = (await awsOk(env, ['ec2', 'create-security-group', '--group-name', 'cli-sg', '--description', 'from the CLI', '--vpc-id', vpcId, '--query', 'GroupId', '--output', 'text'])) as string;
  // The CLI's shorthand (--protocol/--port/--cidr) and the full IpPermissions form.
  await awsOk(env, ['ec2', 'authorize-security-group-ingress', '--group-id', sg, '--protocol', 'tcp', '--port', '80', '--cidr', '0.0.0.0/0']);
  await awsOk(env, ['ec2', 'authorize-security-group-ingress', '--group-id', sg, '--ip-permissions', 'IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=10.0.0.0/8,Description=internal}]']);
  const dup = await aws(env, ['ec2', 'authorize-security-group-ingress', '--group-id', sg, '--protocol', 'tcp', '--port', '80', '--cidr', '0.0.0.0/0']);
  assert.notEqual(dup.status, 0);
  assert.match(dup.stderr, /InvalidPermission\.Duplicate/);
  const perms = await awsOk(env, ['ec2', 'describe-security-groups', '--group-ids', sg, '--query', 'SecurityGroups[0].IpPermissions']);
  assert.deepEqual(perms.map((p: { FromPort: number; IpRanges: Array<{ CidrIp: string }> }) => [p.FromPort, p.IpRanges[0]!.CidrIp]).sort(), [
    [443, '10.0.0.0/8'],
    [80, '0.0.0.0/0'],
  ]);
  assert.deepEqual(await awsOk(env, ['ec2', 'describe-security-groups', '--filters', 'Name=group-name,Values=cli-sg', '--query', 'SecurityGroups[].GroupId']), [sg]);
  const rules = await awsOk(env, ['ec2', 'describe-security-group-rules', '--filters', `Name=group-id,Values=${sg}`]);
  assert.equal(rules.SecurityGroupRules.length, 3); // two in, one out (all traffic)
  await awsOk(env, ['ec2', 'revoke-security-group-ingress', '--group-id', sg, '--protocol', 'tcp', '--port', '80', '--cidr', '0.0.0.0/0']);

  const notFound = await aws(env, ['ec2', 'describe-vpcs', '--vpc-ids', 'vpc-0123456789abcdef0']);
  assert.notEqual(notFound.status, 0);
  assert.match(notFound.stderr, /InvalidVpcID\.NotFound.*vpc-0123456789abcdef0/);
  const dep = await aws(env, ['ec2', 'delete-vpc', '--vpc-id', vpcId]);
  assert.match(dep.stderr, /DependencyViolation/);
  await awsOk(env, ['ec2', 'delete-security-group', '--group-id', sg]);
  await awsOk(env, ['ec2', 'delete-vpc', '--vpc-id', vpcId]);
  const zones = await awsOk(env, ['ec2', 'describe-availability-zones', '--query', 'AvailabilityZones[].ZoneName']);
  assert.deepEqual(zones, ['us-east-1a', 'us-east-1b', 'us-east-1c']);
  const addr = await awsOk(env, ['ec2', 'allocate-address', '--domain', 'vpc']);
  assert.deepEqual((await awsOk(env, ['ec2', 'describe-addresses', '--filters', `Name=allocation-id,Values=${addr.AllocationId}`])).Addresses.map((a: { PublicIp: string }) => a.PublicIp), [addr.PublicIp]);
  await awsOk(env, ['ec2', 'release-address', '--allocation-id', addr.AllocationId]);
  assert.deepEqual((await awsOk(env, ['ec2', 'describe-instances'])).Reservations, []);
  const unserved = await aws(env, ['ec2', 'describe-images', '--owners', 'self']);
  assert.notEqual(unserved.status, 0);
  assert.match(unserved.stderr, /UnsupportedOperation.*DescribeImages/);
  const dry = await aws(env, ['ec2', 'create-vpc', '--cidr-block', '10.60.0.0/16', '--dry-run']);
  assert.match(dry.stderr, /DryRunOperation/);
});

test('load balancers use the model: their subnets and groups must exist in one VPC, and cannot be deleted under them', async () => {
  const elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  try {
    const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.70.0.0/16' }))).Vpc!.VpcId!;
    const a = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.70.0.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    const a2 = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.70.9.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    const b = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.70.1.0/24', AvailabilityZone: 'us-east-1b' }))).Subnet!.SubnetId!;
    const sg = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'lb', Description: 'lb', VpcId: vpcId }))).GroupId!;
    const defaultSg = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['default'] }, { Name: 'vpc-id', Values: [vpcId] }] }))).SecurityGroups![0]!.GroupId!;
    const otherVpcGroup = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'elsewhere', Description: 'default VPC' }))).GroupId!;
    const create = (Name: string, Subnets: string[], SecurityGroups?: string[]) => elb.send(new CreateLoadBalancerCommand({ Name, Subnets, SecurityGroups }));
    assert.equal((await errorOf(create('x', [a, 'subnet-a']))).name, 'InvalidSubnetException');
    assert.equal((await errorOf(create('x', [a, a2]))).name, 'InvalidConfigurationRequestException');
    assert.equal((await errorOf(create('x', [a]))).name, 'ValidationError');
    assert.equal((await errorOf(create('x', [a, b], [otherVpcGroup]))).name, 'InvalidSecurityGroupException');
    const plain = (await create('plain', [a, b])).LoadBalancers![0]!;
    assert.deepEqual([plain.VpcId, plain.SecurityGroups], [vpcId, [defaultSg]]);
    const lb = (await create('with-group', [a, b], [sg])).LoadBalancers![0]!;
    assert.equal((await errorOf(ec2.send(new DeleteSubnetCommand({ SubnetId: a })))).name, 'DependencyViolation');
    assert.equal((await errorOf(ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg })))).name, 'DependencyViolation');
    await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: lb.LoadBalancerArn! }));
    await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: plain.LoadBalancerArn! }));
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg }));
    for (const id of [a, a2, b]) await ec2.send(new DeleteSubnetCommand({ SubnetId: id }));
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: otherVpcGroup }));
    await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
  } finally {
    elb.destroy();
  }
});
