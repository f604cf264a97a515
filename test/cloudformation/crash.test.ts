// kill -9 of a real `berth up` in the middle of a stack's creation: after a restart on the same
// data dir the stack ends (here rolled back, the operation's run being gone, with the reason in
// its events) and no resource of it is left in ECS, ELBv2, Logs or SSM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, CreateStackCommand, DeleteStackCommand, DescribeStackEventsCommand, DescribeStackResourcesCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ECSClient, ListClustersCommand, ListServicesCommand, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client, DescribeLoadBalancersCommand, DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { SSMClient, GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import { eventually, freePort } from '../helpers/fixture.js';
import { spawnBerth } from '../helpers/processes.js';
import { readCredentials } from '../../src/config/credentials.js';

/**
 * Several resources, most independent, and an ECS service that cannot become stable (no agent
 * runs here): the create is caught with the service in progress and the rest done or under way.
 */
function template(listenerPort: number): string {
  const resources: Record<string, unknown> = {
    Cluster: { Type: 'AWS::ECS::Cluster' },
    TaskDefinition: {
      Type: 'AWS::ECS::TaskDefinition',
      Properties: { ContainerDefinitions: [{ Name: 'app', Image: 'host', Memory: 32, Command: ['sleep', '600'] }] },
    },
    Service: { Type: 'AWS::ECS::Service', Properties: { Cluster: { Ref: 'Cluster' }, TaskDefinition: { Ref: 'TaskDefinition' }, DesiredCount: 1 } },
    LoadBalancer: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer', Properties: { Subnets: ['subnet-a', 'subnet-b'] } },
    TargetGroup: { Type: 'AWS::ElasticLoadBalancingV2::TargetGroup', Properties: { Port: 80, Protocol: 'HTTP', TargetType: 'ip', VpcId: 'vpc-local' } },
    Listener: {
      Type: 'AWS::ElasticLoadBalancingV2::Listener',
      Properties: { LoadBalancerArn: { Ref: 'LoadBalancer' }, Port: listenerPort, Protocol: 'HTTP', DefaultActions: [{ Type: 'forward', TargetGroupArn: { Ref: 'TargetGroup' } }] },
    },
    // Waits for the service: never created.
    AfterService: { Type: 'AWS::SSM::Parameter', DependsOn: 'Service', Properties: { Name: '/crash/after-service', Type: 'String', Value: 'x' } },
  };
  for (let i = 0; i < 6; i++) {
    resources[`Group${i}`] = { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: `/crash/group-${i}` } };
    resources[`Param${i}`] = { Type: 'AWS::SSM::Parameter', Properties: { Name: `/crash/param-${i}`, Type: 'String', Value: { 'Fn::GetAtt': [`Group${i}`, 'Arn'] } } };
  }
  return JSON.stringify({ Resources: resources });
}

type Resources = NonNullable<import('@aws-sdk/client-cloudformation').DescribeStackResourcesOutput['StackResources']>;

/** Creates the stack on a real `berth up`, kills it -9 once `when` holds, restarts it and checks the end. */
async function killMidCreate(when: (rs: Resources) => boolean, minComplete: number): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-cfn-crash-'));
  try {
    const first = await spawnBerth(['--no-agent', '--data-dir', dataDir]);
    const credentials = readCredentials(dataDir)!;
    const config = (url: string) => ({ endpoint: url, region: 'us-east-1', credentials, maxAttempts: 1 });
    const cfn1 = new CloudFormationClient(config(first.url));
    await cfn1.send(new CreateStackCommand({ StackName: 'crash', TemplateBody: template(await freePort()) }));
    const atKill = await eventually(
      async () => {
        const rs = (await cfn1.send(new DescribeStackResourcesCommand({ StackName: 'crash' }))).StackResources ?? [];
        return when(rs) && rs;
      },
      { what: 'the moment to kill', timeoutMs: 30_000, intervalMs: 10 },
    );
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');
    cfn1.destroy();
    assert.ok(atKill.filter((r) => r.ResourceStatus === 'CREATE_COMPLETE').length >= minComplete, JSON.stringify(atKill.map((r) => [r.LogicalResourceId, r.ResourceStatus])));

    const second = await spawnBerth(['--no-agent', '--data-dir', dataDir]);
    const cfn = new CloudFormationClient(config(second.url));
    const ecs = new ECSClient(config(second.url));
    const elb = new ElasticLoadBalancingV2Client(config(second.url));
    const logs = new CloudWatchLogsClient(config(second.url));
    const ssm = new SSMClient(config(second.url));
    try {
      const status = await eventually(
        async () => {
          const s = (await cfn.send(new DescribeStacksCommand({ StackName: 'crash' }))).Stacks![0]!.StackStatus!;
          return /(_COMPLETE|_FAILED)$/.test(s) && s;
        },
        { what: 'the interrupted create to end', timeoutMs: 60_000, intervalMs: 200 },
      );
      assert.equal(status, 'ROLLBACK_COMPLETE');
      const events = (await cfn.send(new DescribeStackEventsCommand({ StackName: 'crash' }))).StackEvents ?? [];
      assert.ok(
        events.some((e) => e.ResourceStatus === 'ROLLBACK_IN_PROGRESS' && /restarted/.test(e.ResourceStatusReason ?? '')),
        JSON.stringify(events.slice(0, 8).map((e) => [e.LogicalResourceId, e.ResourceStatus, e.ResourceStatusReason])),
      );
      const left = (await cfn.send(new DescribeStackResourcesCommand({ StackName: 'crash' }))).StackResources ?? [];
      for (const r of left) assert.ok(r.ResourceStatus === 'DELETE_COMPLETE' || (r.ResourceStatus === 'CREATE_FAILED' && !r.PhysicalResourceId) || r.ResourceStatus === undefined, `${r.LogicalResourceId}: ${r.ResourceStatus}`);

      // Nothing of it anywhere.
      const clusters = (await ecs.send(new ListClustersCommand({}))).clusterArns ?? [];
      assert.deepEqual(clusters.filter((a) => /cluster\/crash-/.test(a)), []);
      for (const cluster of clusters) assert.deepEqual((await ecs.send(new ListServicesCommand({ cluster }))).serviceArns, [], cluster);
      assert.deepEqual((await ecs.send(new ListTaskDefinitionsCommand({ status: 'ACTIVE' }))).taskDefinitionArns, []);
      assert.deepEqual((await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers, []);
      assert.deepEqual((await elb.send(new DescribeTargetGroupsCommand({}))).TargetGroups, []);
      assert.deepEqual((await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/crash' }))).logGroups, []);
      assert.deepEqual((await ssm.send(new GetParametersByPathCommand({ Path: '/crash', Recursive: true }))).Parameters, []);

      await cfn.send(new DeleteStackCommand({ StackName: 'crash' }));
      await eventually(async () => !(await cfn.send(new DescribeStacksCommand({ StackName: 'crash' })).then(() => true, () => false)), { what: 'the stack to go', timeoutMs: 30_000, intervalMs: 200 });
    } finally {
      for (const c of [cfn, ecs, elb, logs, ssm]) c.destroy();
      second.child.kill('SIGTERM');
      await second.exited;
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

test('kill -9 of berth mid-create, the service in creation: after a restart the stack rolls back and leaves no resource behind', () =>
  killMidCreate((rs) => rs.find((r) => r.LogicalResourceId === 'Service')?.ResourceStatus === 'CREATE_IN_PROGRESS', 3));

test('kill -9 of berth as the first resources are being created: the same', () => killMidCreate((rs) => rs.some((r) => r.ResourceStatus === 'CREATE_IN_PROGRESS'), 0));
