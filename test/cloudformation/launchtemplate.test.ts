// EC2 launch templates: the API with the real aws CLI (create, versions from a source version,
// $Latest/$Default, the default version, delete; AWS's error codes), and a stack whose Auto
// Scaling group launches from an AWS::EC2::LaunchTemplate: its instance is a real `berth agent`
// joining the cluster the version's UserData names (ECS_CLUSTER=); GetAtt LatestVersionNumber
// and DefaultVersionNumber; an update of the data adds version 2 as the default; delete leaves
// neither the template nor an agent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CloudFormationClient, CreateStackCommand, DeleteStackCommand, DescribeStacksCommand, UpdateStackCommand } from '@aws-sdk/client-cloudformation';
import { ECSClient, ListContainerInstancesCommand } from '@aws-sdk/client-ecs';
import { EC2Client, CreateLaunchTemplateCommand, DeleteLaunchTemplateCommand, DescribeLaunchTemplatesCommand, ModifyLaunchTemplateCommand } from '@aws-sdk/client-ec2';
import { awsOk, eventually, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';

let berth: TestBerth;
before(async () => {
  berth = await startTestBerth({ env: { BERTH_ASG_INTERVAL_MS: '250' } });
});
after(async () => {
  await berth.close();
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('the launch template API with the aws CLI: versions, $Latest and $Default, the default version, delete, errors', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const env = berth.awsEnv;
  const data = JSON.stringify({ ImageId: 'ami-berth', InstanceType: 't3.micro', UserData: b64('ECS_CLUSTER=one\n') });
  const created = await awsOk(env, ['ec2', 'create-launch-template', '--launch-template-name', 'hosts', '--version-description', 'first', '--launch-template-data', data, '--tag-specifications', 'ResourceType=launch-template,Tags=[{Key=team,Value=infra}]']);
  const id = created.LaunchTemplate.LaunchTemplateId as string;
  assert.match(id, /^lt-[0-9a-f]{17}$/);
  assert.equal(created.LaunchTemplate.LatestVersionNumber, 1);
  assert.deepEqual(created.LaunchTemplate.Tags, [{ Key: 'team', Value: 'infra' }]);

  const ec2 = new EC2Client(berth.clientConfig);
  const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { name?: string; message?: string }) => `${e.name}: ${e.message}`);
  assert.match(await code(ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'hosts', LaunchTemplateData: { InstanceType: 't3.micro' } }))), /^InvalidLaunchTemplateName.AlreadyExistsException/);
  assert.match(await code(ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'a b', LaunchTemplateData: { InstanceType: 't3.micro' } }))), /^InvalidParameterValue.*'a b' at 'launchTemplateName'/);

  const v2 = await awsOk(env, ['ec2', 'create-launch-template-version', '--launch-template-id', id, '--source-version', '1', '--launch-template-data', JSON.stringify({ InstanceType: 't3.small' })]);
  assert.equal(v2.LaunchTemplateVersion.VersionNumber, 2);
  assert.equal(v2.LaunchTemplateVersion.DefaultVersion, false);
  // From version 1: its ImageId and UserData kept, its InstanceType replaced.
  assert.deepEqual(v2.LaunchTemplateVersion.LaunchTemplateData, { ImageId: 'ami-berth', InstanceType: 't3.small', UserData: b64('ECS_CLUSTER=one\n') });
  const latest = await awsOk(env, ['ec2', 'describe-launch-template-versions', '--launch-template-name', 'hosts', '--versions', '$Latest', '$Default']);
  assert.deepEqual(latest.LaunchTemplateVersions.map((v: { VersionNumber: number }) => v.VersionNumber), [1, 2]);
  const modified = await ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: id, DefaultVersion: '2' }));
  assert.equal(modified.LaunchTemplate!.DefaultVersionNumber, 2);
  assert.match(await code(ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: id, DefaultVersion: '9' }))), /^InvalidLaunchTemplateVersion.NotFound/);

  const listed = await ec2.send(new DescribeLaunchTemplatesCommand({ Filters: [{ Name: 'launch-template-name', Values: ['host*'] }] }));
  assert.deepEqual(listed.LaunchTemplates!.map((t) => [t.LaunchTemplateId, t.DefaultVersionNumber, t.LatestVersionNumber]), [[id, 2, 2]]);
  await ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: id }));
  assert.match(await code(ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [id] }))), /^InvalidLaunchTemplateId.NotFound/);
  assert.match(await code(ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: 'lt-nope' }))), /^InvalidLaunchTemplateId.Malformed/);
});

function template(instanceType: string): string {
  return JSON.stringify({
    Resources: {
      Cluster: { Type: 'AWS::ECS::Cluster' },
      HostTemplate: {
        Type: 'AWS::EC2::LaunchTemplate',
        Properties: {
          LaunchTemplateData: {
            ImageId: 'ami-berth',
            InstanceType: instanceType,
            UserData: { 'Fn::Base64': { 'Fn::Sub': '#!/bin/bash\necho ECS_CLUSTER=${Cluster} >> /etc/ecs/ecs.config\n' } },
          },
        },
      },
      Hosts: {
        Type: 'AWS::AutoScaling::AutoScalingGroup',
        Properties: {
          VPCZoneIdentifier: ['subnet-a'],
          LaunchTemplate: { LaunchTemplateId: { Ref: 'HostTemplate' }, Version: { 'Fn::GetAtt': ['HostTemplate', 'LatestVersionNumber'] } },
          MinSize: '0',
          MaxSize: '2',
          DesiredCapacity: '1',
        },
      },
    },
    Outputs: {
      Cluster: { Value: { Ref: 'Cluster' } },
      Template: { Value: { Ref: 'HostTemplate' } },
      Latest: { Value: { 'Fn::GetAtt': ['HostTemplate', 'LatestVersionNumber'] } },
      Default: { Value: { 'Fn::GetAtt': ['HostTemplate', 'DefaultVersionNumber'] } },
    },
  });
}

test('an Auto Scaling group launching from AWS::EC2::LaunchTemplate: its agent joins the UserData cluster; an update adds the default version; delete leaves nothing', { skip: !hasAwsCli() && 'aws CLI not installed', timeout: 120_000 }, async () => {
  const cfn = new CloudFormationClient(berth.clientConfig);
  const ecs = new ECSClient(berth.clientConfig);
  const groups = async () => (await awsOk(berth.awsEnv, ['autoscaling', 'describe-auto-scaling-groups'])).AutoScalingGroups;
  const ec2 = new EC2Client(berth.clientConfig);
  const settled = (status: string) =>
    eventually(async () => {
      const s = (await cfn.send(new DescribeStacksCommand({ StackName: 'lt-hosts' })).catch(() => undefined))?.Stacks?.[0];
      return (!s || !/_IN_PROGRESS$/.test(s.StackStatus!)) && (s ?? { StackStatus: 'DELETE_COMPLETE', Outputs: [] });
    }, { timeoutMs: 90_000, what: `lt-hosts to reach ${status}` }).then((s) => {
      assert.equal(s.StackStatus, status, 'StackStatusReason' in s ? s.StackStatusReason : '');
      return Object.fromEntries((s.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    });

  await cfn.send(new CreateStackCommand({ StackName: 'lt-hosts', TemplateBody: template('t3.micro') }));
  const out = await settled('CREATE_COMPLETE');
  assert.equal(out.Latest, '1');
  assert.equal(out.Default, '1');
  assert.match(out.Template!, /^lt-/);
  const group = (await groups())[0];
  assert.deepEqual(group.LaunchTemplate, { LaunchTemplateId: out.Template, LaunchTemplateName: group.LaunchTemplate!.LaunchTemplateName, Version: '1' });
  assert.equal(group.Instances![0]!.LaunchTemplate?.Version, '1');
  // The instance's agent registered in the cluster its UserData names.
  const instances = await eventually(async () => (await ecs.send(new ListContainerInstancesCommand({ cluster: out.Cluster }))).containerInstanceArns?.length === 1, { what: 'the agent in the stack cluster' });
  assert.ok(instances);

  await cfn.send(new UpdateStackCommand({ StackName: 'lt-hosts', TemplateBody: template('t3.small') }));
  const updated = await settled('UPDATE_COMPLETE');
  assert.equal(updated.Template, out.Template);
  assert.equal(updated.Latest, '2');
  assert.equal(updated.Default, '2');

  await cfn.send(new DeleteStackCommand({ StackName: 'lt-hosts' }));
  await settled('DELETE_COMPLETE');
  assert.deepEqual((await ec2.send(new DescribeLaunchTemplatesCommand({}))).LaunchTemplates?.filter((t) => t.LaunchTemplateId === out.Template), []);
  assert.deepEqual(await groups(), []);
});
