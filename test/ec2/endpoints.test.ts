// VPC endpoints in the EC2 model, through @aws-sdk/client-ec2 v3 and the real aws CLI: a Gateway
// endpoint routes its service's prefix list through itself in its route tables, an Interface
// endpoint sits in subnets behind groups (private DNS only where the VPC resolves names); they keep
// their VPC, subnets and groups from being deleted; bad input gets EC2's error codes with nothing made.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  EC2Client,
  CreateVpcCommand,
  DeleteVpcCommand,
  CreateSubnetCommand,
  DeleteSubnetCommand,
  CreateRouteTableCommand,
  DescribeRouteTablesCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  CreateVpcEndpointCommand,
  DescribeVpcEndpointsCommand,
  ModifyVpcEndpointCommand,
  DeleteVpcEndpointsCommand,
  ModifyVpcAttributeCommand,
} from '@aws-sdk/client-ec2';
import { aws, errorOf, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';

let berth: TestBerth;
let ec2: EC2Client;
before(async () => {
  berth = await startTestBerth();
  ec2 = new EC2Client(berth.clientConfig);
});
after(async () => {
  ec2.destroy();
  await berth.close();
});

const endpointCount = async () => (await ec2.send(new DescribeVpcEndpointsCommand({}))).VpcEndpoints?.length ?? 0;

test('a Gateway endpoint routes through its route tables, follows ModifyVpcEndpoint, and holds its VPC until deleted', async () => {
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.9.0.0/16' }))).Vpc!.VpcId!;
  const [rt1, rt2] = [(await ec2.send(new CreateRouteTableCommand({ VpcId: vpc }))).RouteTable!.RouteTableId!, (await ec2.send(new CreateRouteTableCommand({ VpcId: vpc }))).RouteTable!.RouteTableId!];
  const created = (await ec2.send(new CreateVpcEndpointCommand({ VpcId: vpc, ServiceName: 'com.amazonaws.us-east-1.s3', RouteTableIds: [rt1], TagSpecifications: [{ ResourceType: 'vpc-endpoint', Tags: [{ Key: 'team', Value: 'a' }] }] }))).VpcEndpoint!;
  assert.equal(created.VpcEndpointType, 'Gateway');
  assert.match(created.VpcEndpointId!, /^vpce-[0-9a-f]{17}$/);
  assert.deepEqual(JSON.parse(created.PolicyDocument!).Statement[0].Effect, 'Allow', 'the full-access policy by default');
  const routes = async (rt: string) => (await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [rt] }))).RouteTables![0]!.Routes!.filter((r) => r.GatewayId === created.VpcEndpointId);
  const [route] = await routes(rt1);
  assert.match(route?.DestinationPrefixListId ?? '', /^pl-[0-9a-f]{8}$/);
  assert.equal(route?.State, 'active');

  await ec2.send(new ModifyVpcEndpointCommand({ VpcEndpointId: created.VpcEndpointId, AddRouteTableIds: [rt2], RemoveRouteTableIds: [rt1], PolicyDocument: '{"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}' }));
  const [e] = (await ec2.send(new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'tag:team', Values: ['a'] }] }))).VpcEndpoints!;
  assert.deepEqual(e?.RouteTableIds, [rt2]);
  assert.match(e?.PolicyDocument ?? '', /Deny/);
  assert.equal((await routes(rt1)).length, 0);
  assert.equal((await routes(rt2)).length, 1);

  assert.equal((await errorOf(ec2.send(new DeleteVpcCommand({ VpcId: vpc })))).name, 'DependencyViolation');
  const deleted = await ec2.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [created.VpcEndpointId!, 'vpce-0000000000000000a'] }));
  assert.deepEqual(deleted.Unsuccessful?.map((u) => [u.ResourceId, u.Error?.Code]), [['vpce-0000000000000000a', 'InvalidVpcEndpointId.NotFound']]);
  assert.equal((await routes(rt2)).length, 0, 'its routes go with it');
  assert.equal((await errorOf(ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [created.VpcEndpointId!] })))).name, 'InvalidVpcEndpointId.NotFound');
});

test('an Interface endpoint: one subnet per zone, groups of its VPC, private DNS only with DNS hostnames; it holds its subnet and group', async () => {
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.8.0.0/16' }))).Vpc!.VpcId!;
  const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.8.1.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
  const sameZone = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.8.2.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
  const group = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpc, GroupName: 'ep', Description: 'endpoint' }))).GroupId!;
  const input = { VpcId: vpc, VpcEndpointType: 'Interface' as const, ServiceName: 'com.amazonaws.us-east-1.ecr.api', SubnetIds: [subnet], SecurityGroupIds: [group] };
  const before = await endpointCount();
  const noDns = await errorOf(ec2.send(new CreateVpcEndpointCommand(input)));
  assert.equal(noDns.name, 'InvalidParameter');
  assert.match(noDns.message, /enableDnsHostnames/);
  const twoInZone = await errorOf(ec2.send(new CreateVpcEndpointCommand({ ...input, PrivateDnsEnabled: false, SubnetIds: [subnet, sameZone] })));
  assert.match(twoInZone.message, /one subnet per availability zone/);
  assert.equal(await endpointCount(), before, 'nothing made by a refused call');

  await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpc, EnableDnsHostnames: { Value: true } }));
  const e = (await ec2.send(new CreateVpcEndpointCommand(input))).VpcEndpoint!;
  assert.equal(e.PrivateDnsEnabled, true);
  assert.deepEqual(e.Groups?.map((g) => g.GroupId), [group]);
  assert.equal(e.NetworkInterfaceIds?.length, 1);
  assert.match(e.DnsEntries?.[0]?.DnsName ?? '', new RegExp(`^${e.VpcEndpointId}\\.ecr\\.api\\.us-east-1\\.vpce\\.amazonaws\\.com$`));
  assert.equal((await errorOf(ec2.send(new DeleteSubnetCommand({ SubnetId: subnet })))).name, 'DependencyViolation');
  assert.equal((await errorOf(ec2.send(new DeleteSecurityGroupCommand({ GroupId: group })))).name, 'DependencyViolation');
  await ec2.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [e.VpcEndpointId!] }));
  await ec2.send(new DeleteSecurityGroupCommand({ GroupId: group }));
  for (const s of [subnet, sameZone]) await ec2.send(new DeleteSubnetCommand({ SubnetId: s }));
  await ec2.send(new DeleteVpcCommand({ VpcId: vpc }));
});

test('bad endpoint requests get EC2 error codes and change nothing', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.7.0.0/16' }))).Vpc!.VpcId!;
  const before = await endpointCount();
  const cases: Array<[string[], RegExp]> = [
    [['--service-name', 'com.amazonaws.eu-west-1.s3'], /InvalidServiceName.*com\.amazonaws\.us-east-1\./],
    [['--service-name', 'com.amazonaws.us-east-1.sqs'], /InvalidServiceName.*Gateway endpoints exist for s3 and dynamodb only/],
    [['--service-name', 'com.amazonaws.us-east-1.S3!'], /InvalidServiceName/],
    [['--service-name', 'com.amazonaws.us-east-1.s3', '--policy-document', '{not json'], /InvalidParameterValue.*not valid JSON/],
    [['--service-name', 'com.amazonaws.us-east-1.s3', '--route-table-ids', 'rtb-0000000000000000a'], /InvalidRouteTableID\.NotFound/],
    [['--service-name', 'com.amazonaws.us-east-1.s3', '--policy-document', `{"Statement":[],"x":"${'a'.repeat(20_500)}"}`], /longer than 20480/],
    [['--service-name', 'com.amazonaws.us-east-1.s3', '--vpc-endpoint-type', 'GatewayLoadBalancer'], /UnsupportedOperation/],
  ];
  for (const [args, want] of cases) {
    const r = await aws(berth.awsEnv, ['ec2', 'create-vpc-endpoint', '--vpc-id', vpc, ...args]);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, want, args.join(' '));
  }
  const tooMany = await errorOf(ec2.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: Array.from({ length: 101 }, (_, i) => `vpce-${String(i).padStart(17, '0')}`) })));
  assert.equal(tooMany.name, 'InvalidParameterValue');
  assert.equal(await endpointCount(), before);
  await ec2.send(new DeleteVpcCommand({ VpcId: vpc }));
});
