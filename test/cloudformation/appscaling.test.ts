// CloudFormation's Application Auto Scaling resources: a stack with an ECS service, its
// ScalableTarget and a target tracking ScalingPolicy (ScalingTargetId: !Ref of the target)
// registers them in Application Auto Scaling (seen through its SDK), and deleting the stack
// deregisters the target and its policy. The service starts at 0 tasks (stable with no agent);
// registering the target raises it to the minimum.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudFormationClient, CreateStackCommand, DeleteStackCommand, DescribeStacksCommand, waitUntilStackCreateComplete, waitUntilStackDeleteComplete } from '@aws-sdk/client-cloudformation';
import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, DescribeScalingPoliciesCommand } from '@aws-sdk/client-application-auto-scaling';
import { ECSClient, DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { startTestBerth } from '../helpers/fixture.js';

const TEMPLATE = `
Resources:
  Cluster:
    Type: AWS::ECS::Cluster
    Properties: { ClusterName: scaled }
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: scaled
      ContainerDefinitions: [{ Name: web, Image: host, Memory: 64, Command: ['true'] }]
  Service:
    Type: AWS::ECS::Service
    Properties: { ServiceName: web, Cluster: !Ref Cluster, TaskDefinition: !Ref Task, DesiredCount: 0 }
  Target:
    Type: AWS::ApplicationAutoScaling::ScalableTarget
    Properties:
      ServiceNamespace: ecs
      ScalableDimension: ecs:service:DesiredCount
      ResourceId: !Sub 'service/\${Cluster}/\${Service.Name}'
      MinCapacity: 2
      MaxCapacity: 6
  Cpu:
    Type: AWS::ApplicationAutoScaling::ScalingPolicy
    Properties:
      PolicyName: cpu60
      PolicyType: TargetTrackingScaling
      ScalingTargetId: !Ref Target
      TargetTrackingScalingPolicyConfiguration:
        TargetValue: 60
        ScaleInCooldown: 120
        PredefinedMetricSpecification: { PredefinedMetricType: ECSServiceAverageCPUUtilization }
Outputs:
  PolicyArn: { Value: !GetAtt Cpu.Arn }
  TargetId: { Value: !Ref Target }
`;

test('ScalableTarget and ScalingPolicy from a stack, gone with it', async () => {
  const berth = await startTestBerth();
  const cfn = new CloudFormationClient(berth.clientConfig);
  const scaling = new ApplicationAutoScalingClient(berth.clientConfig);
  const ecs = new ECSClient(berth.clientConfig);
  try {
    await cfn.send(new CreateStackCommand({ StackName: 'scaled', TemplateBody: TEMPLATE }));
    await waitUntilStackCreateComplete({ client: cfn, maxWaitTime: 300, minDelay: 1, maxDelay: 2 }, { StackName: 'scaled' });
    const outputs = Object.fromEntries(((await cfn.send(new DescribeStacksCommand({ StackName: 'scaled' }))).Stacks![0]!.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    assert.equal(outputs.TargetId, 'service/scaled/web|ecs:service:DesiredCount|ecs');
    const targets = (await scaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' }))).ScalableTargets!;
    assert.deepEqual(targets.map((t) => [t.ResourceId, t.MinCapacity, t.MaxCapacity]), [['service/scaled/web', 2, 6]]);
    const policies = (await scaling.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'ecs' }))).ScalingPolicies!;
    assert.equal(policies.length, 1);
    assert.equal(policies[0]!.PolicyARN, outputs.PolicyArn);
    assert.equal(policies[0]!.TargetTrackingScalingPolicyConfiguration!.TargetValue, 60);
    assert.equal(policies[0]!.TargetTrackingScalingPolicyConfiguration!.ScaleInCooldown, 120);
    // Registering raised the service to the minimum.
    assert.equal((await ecs.send(new DescribeServicesCommand({ cluster: 'scaled', services: ['web'] }))).services![0]!.desiredCount, 2);

    await cfn.send(new DeleteStackCommand({ StackName: 'scaled' }));
    await waitUntilStackDeleteComplete({ client: cfn, maxWaitTime: 300, minDelay: 1, maxDelay: 2 }, { StackName: 'scaled' });
    assert.deepEqual((await scaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' }))).ScalableTargets, []);
    assert.deepEqual((await scaling.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'ecs' }))).ScalingPolicies, []);
  } finally {
    cfn.destroy();
    scaling.destroy();
    ecs.destroy();
    await berth.close();
  }
});
