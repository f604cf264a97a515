// A stack acts with its caller's permissions, or its service role's (RoleARN), never more:
// its resources are created by calls authorized by IAM as that principal, as on AWS. Without
// this, anyone allowed cloudformation:CreateStack could create whatever a template names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CloudFormationClient, CreateStackCommand, DeleteStackCommand, DescribeStackEventsCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient, PutRolePolicyCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { errorOf, eventually, startTestBerth, type TestBerth } from '../helpers/fixture.js';

let berth: TestBerth;
let iam: IAMClient;
let logs: CloudWatchLogsClient;
before(async () => {
  berth = await startTestBerth();
  iam = new IAMClient(berth.clientConfig);
  logs = new CloudWatchLogsClient(berth.clientConfig);
});
after(async () => {
  iam.destroy();
  logs.destroy();
  await berth.close();
});

const doc = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const allow = (Action: string | string[], Resource: string | string[] = '*') => ({ Effect: 'Allow', Action, Resource });

/** A user with one inline policy, and a CloudFormation client signed with its keys. */
async function userClient(name: string, policy: string): Promise<CloudFormationClient> {
  await iam.send(new CreateUserCommand({ UserName: name }));
  await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'p', PolicyDocument: policy }));
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
  return new CloudFormationClient({ ...berth.clientConfig, credentials: { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! } });
}

const logGroupTemplate = (group: string) => JSON.stringify({ Resources: { Group: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: group } } } });

async function settled(cfn: CloudFormationClient, name: string): Promise<string> {
  return eventually(
    async () => {
      const s = (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
      return s?.StackStatus && !s.StackStatus.endsWith('_IN_PROGRESS') ? s.StackStatus : undefined;
    },
    { what: `stack ${name} to settle`, timeoutMs: 30_000, intervalMs: 100 },
  );
}

const groupExists = async (name: string) => ((await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }))).logGroups ?? []).some((g) => g.logGroupName === name);

test("a stack creates only what its caller may: without logs:CreateLogGroup it rolls back with IAM's reason, with it the group exists", async () => {
  const weak = await userClient('cfn-only', doc(allow('cloudformation:*')));
  await weak.send(new CreateStackCommand({ StackName: 'weak', TemplateBody: logGroupTemplate('/op/weak') }));
  assert.equal(await settled(weak, 'weak'), 'ROLLBACK_COMPLETE');
  const events = (await weak.send(new DescribeStackEventsCommand({ StackName: 'weak' }))).StackEvents ?? [];
  const failed = events.find((e) => e.LogicalResourceId === 'Group' && e.ResourceStatus === 'CREATE_FAILED');
  assert.match(failed?.ResourceStatusReason ?? '', /arn:aws:iam::\d{12}:user\/cfn-only is not authorized to perform: logs:CreateLogGroup/);
  assert.equal(await groupExists('/op/weak'), false);
  weak.destroy();

  const able = await userClient('cfn-logs', doc(allow(['cloudformation:*', 'logs:*'])));
  await able.send(new CreateStackCommand({ StackName: 'able', TemplateBody: logGroupTemplate('/op/able') }));
  assert.equal(await settled(able, 'able'), 'CREATE_COMPLETE');
  assert.equal(await groupExists('/op/able'), true);
  // Deleting acts as the deleter: one without logs:DeleteLogGroup cannot remove the group.
  const other = await userClient('cfn-only-2', doc(allow('cloudformation:*')));
  await other.send(new DeleteStackCommand({ StackName: 'able' }));
  assert.equal(await settled(able, 'able'), 'DELETE_FAILED');
  assert.equal(await groupExists('/op/able'), true);
  await able.send(new DeleteStackCommand({ StackName: 'able' }));
  await eventually(async () => !(await groupExists('/op/able')), { what: 'the group to go with the stack', timeoutMs: 30_000 });
  able.destroy();
  other.destroy();
});

test('a service role (RoleARN): needs iam:PassRole and a trust in CloudFormation, then the stack acts with the role, not the caller', async () => {
  const acct = berth.credentials.accountId;
  const trustCfn = doc({ Effect: 'Allow', Principal: { Service: 'cloudformation.amazonaws.com' }, Action: 'sts:AssumeRole' });
  await iam.send(new CreateRoleCommand({ RoleName: 'cfn-deployer', AssumeRolePolicyDocument: trustCfn }));
  await iam.send(new PutRolePolicyCommand({ RoleName: 'cfn-deployer', PolicyName: 'logs', PolicyDocument: doc(allow('logs:*')) }));
  await iam.send(new CreateRoleCommand({ RoleName: 'not-for-cfn', AssumeRolePolicyDocument: doc({ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }) }));
  const roleArn = `arn:aws:iam::${acct}:role/cfn-deployer`;

  // No iam:PassRole: refused before anything starts.
  const noPass = await userClient('no-pass', doc(allow('cloudformation:*')));
  let e = await errorOf(noPass.send(new CreateStackCommand({ StackName: 'by-role', TemplateBody: logGroupTemplate('/op/role'), RoleARN: roleArn })));
  assert.equal(e.name, 'AccessDenied');
  assert.match(e.message, /iam:PassRole/);
  noPass.destroy();

  // The caller itself has no logs permission at all: the role's are what count.
  const deployer = await userClient('passer', doc(allow('cloudformation:*'), allow('iam:PassRole', [roleArn, `arn:aws:iam::${acct}:role/not-for-cfn`])));
  e = await errorOf(deployer.send(new CreateStackCommand({ StackName: 'by-bad-role', TemplateBody: logGroupTemplate('/op/bad'), RoleARN: `arn:aws:iam::${acct}:role/not-for-cfn` })));
  assert.equal(e.name, 'ValidationError');
  assert.match(e.message, /is invalid or cannot be assumed/);
  await deployer.send(new CreateStackCommand({ StackName: 'by-role', TemplateBody: logGroupTemplate('/op/role'), RoleARN: roleArn }));
  assert.equal(await settled(deployer, 'by-role'), 'CREATE_COMPLETE');
  assert.equal(await groupExists('/op/role'), true);
  assert.equal((await deployer.send(new DescribeStacksCommand({ StackName: 'by-role' }))).Stacks?.[0]?.RoleARN, roleArn);
  // The delete uses the stack's role too.
  await deployer.send(new DeleteStackCommand({ StackName: 'by-role' }));
  await eventually(async () => !(await groupExists('/op/role')), { what: 'the group to go with the stack', timeoutMs: 30_000 });
  deployer.destroy();
});

test("SSM parameter types resolve with the caller's permissions: no ssm:GetParameters, no value", async () => {
  const ssm = new SSMClient(berth.clientConfig);
  await ssm.send(new PutParameterCommand({ Name: '/op/private', Value: 'hidden-value', Type: 'String' }));
  ssm.destroy();
  const template = JSON.stringify({
    Parameters: { P: { Type: 'AWS::SSM::Parameter::Value<String>', Default: '/op/private' } },
    Resources: { Group: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: { 'Fn::Sub': '/op/${P}' } } } },
  });
  const cfn = await userClient('no-ssm', doc(allow(['cloudformation:*', 'logs:*'])));
  const e = await errorOf(cfn.send(new CreateStackCommand({ StackName: 'peek', TemplateBody: template })));
  assert.match(e.name, /^AccessDenied/);
  assert.match(e.message, /ssm:GetParameters/);
  assert.equal(await groupExists('/op/hidden-value'), false);
  cfn.destroy();
});
