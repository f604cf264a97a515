// `aws cloudformation deploy` (change sets and waiters) against a real Berth with the real aws
// CLI: create, an update with --parameter-overrides, an update that fails and rolls back with
// the reason in describe-stack-events, exports, delete; and an EC2 type failing the stack with
// a reason naming it. The CLI's waiters poll each second (test/helpers/awsWaiters.ts): deploy's
// own 30 s between DescribeStacks calls would be most of this file's time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand, ValidateTemplateCommand } from '@aws-sdk/client-cloudformation';
import { aws, awsOk, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { withFastWaiters } from '../helpers/awsWaiters.js';

const TEMPLATE = `
AWSTemplateFormatVersion: '2010-09-09'
Description: logs and parameters
Parameters:
  Version: { Type: String, Default: v1 }
  Retention: { Type: String, Default: '7' }
Resources:
  Group:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub '/berth/\${AWS::StackName}'
      RetentionInDays: !Ref Retention
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub '/\${AWS::StackName}/version'
      Type: String
      Value: !Sub '\${Version}:\${Group.Arn}'
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: { Statement: [{ Effect: Allow, Principal: { Service: ecs-tasks.amazonaws.com }, Action: sts:AssumeRole }] }
Outputs:
  Value: { Value: !GetAtt Param.Value, Export: { Name: !Sub '\${AWS::StackName}-value' } }
  RoleArn: { Value: !GetAtt Role.Arn }
`;

let berth: TestBerth;
let dir: string;
before(async () => {
  berth = await startTestBerth();
  dir = mkdtempSync(join(tmpdir(), 'cfn-'));
  writeFileSync(join(dir, 'stack.yaml'), TEMPLATE);
});
after(async () => {
  await berth.close();
  rmSync(dir, { recursive: true, force: true });
});

const param = (env: NodeJS.ProcessEnv, name: string) => awsOk(env, ['ssm', 'get-parameter', '--name', name, '--query', 'Parameter.Value', '--output', 'text']);

test('aws cloudformation deploy: create, update with --parameter-overrides, failed update rolled back, delete', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const env = withFastWaiters(berth.awsEnv);
  const deploy = (...extra: string[]) => aws(env, ['cloudformation', 'deploy', '--stack-name', 'app', '--template-file', join(dir, 'stack.yaml'), ...extra]);
  const noCaps = await deploy();
  assert.notEqual(noCaps.status, 0);
  assert.match(noCaps.stderr, /InsufficientCapabilities|CAPABILITY_IAM/);
  // The refused change set left a stack in REVIEW_IN_PROGRESS behind, as on AWS; it goes with a delete.
  await awsOk(env, ['cloudformation', 'delete-stack', '--stack-name', 'app']);

  const created = await deploy('--capabilities', 'CAPABILITY_IAM');
  assert.equal(created.status, 0, created.stderr);
  const stack = (await awsOk(env, ['cloudformation', 'describe-stacks', '--stack-name', 'app'])).Stacks[0];
  assert.equal(stack.StackStatus, 'CREATE_COMPLETE');
  assert.match(await param(env, '/app/version'), /^v1:arn:aws:logs:us-east-1:\d{12}:log-group:\/berth\/app:\*$/);
  assert.match(stack.Outputs.find((o: any) => o.OutputKey === 'RoleArn').OutputValue, /^arn:aws:iam::\d{12}:role\/app-Role-[A-Z0-9]+$/);
  const exports = await awsOk(env, ['cloudformation', 'list-exports']);
  assert.equal(exports.Exports[0].Name, 'app-value');
  const groups = await awsOk(env, ['logs', 'describe-log-groups', '--log-group-name-prefix', '/berth/app']);
  assert.equal(groups.logGroups[0].retentionInDays, 7);

  const updated = await deploy('--capabilities', 'CAPABILITY_IAM', '--parameter-overrides', 'Version=v2');
  assert.equal(updated.status, 0, updated.stderr);
  assert.match(await param(env, '/app/version'), /^v2:/);
  assert.equal((await awsOk(env, ['cloudformation', 'describe-stacks', '--stack-name', 'app'])).Stacks[0].StackStatus, 'UPDATE_COMPLETE');

  // 8 days is not a retention Logs accepts: the update fails, and everything goes back.
  const failing = await deploy('--capabilities', 'CAPABILITY_IAM', '--parameter-overrides', 'Version=v3', 'Retention=8');
  assert.notEqual(failing.status, 0);
  const after = (await awsOk(env, ['cloudformation', 'describe-stacks', '--stack-name', 'app'])).Stacks[0];
  assert.equal(after.StackStatus, 'UPDATE_ROLLBACK_COMPLETE');
  assert.deepEqual(after.Parameters.find((p: any) => p.ParameterKey === 'Version').ParameterValue, 'v2');
  const events = (await awsOk(env, ['cloudformation', 'describe-stack-events', '--stack-name', 'app'])).StackEvents;
  const failed = events.find((e: any) => e.LogicalResourceId === 'Group' && e.ResourceStatus === 'UPDATE_FAILED');
  assert.ok(failed, JSON.stringify(events.slice(0, 10)));
  assert.match(failed.ResourceStatusReason, /retentionInDays/);
  assert.ok(events.some((e: any) => e.ResourceStatus === 'UPDATE_ROLLBACK_IN_PROGRESS' && /failed to update: \[Group\]/.test(e.ResourceStatusReason)));
  assert.equal(groups.logGroups[0].retentionInDays, (await awsOk(env, ['logs', 'describe-log-groups', '--log-group-name-prefix', '/berth/app'])).logGroups[0].retentionInDays);
  assert.match(await param(env, '/app/version'), /^v2:/);

  await awsOk(env, ['cloudformation', 'delete-stack', '--stack-name', 'app']);
  await awsOk(env, ['cloudformation', 'wait', 'stack-delete-complete', '--stack-name', 'app']);
  assert.equal((await awsOk(env, ['logs', 'describe-log-groups', '--log-group-name-prefix', '/berth/app'])).logGroups.length, 0);
  assert.notEqual((await aws(env, ['ssm', 'get-parameter', '--name', '/app/version'])).status, 0);
  assert.equal((await awsOk(env, ['cloudformation', 'list-exports'])).Exports.length, 0);
});

test('a resource type Berth does not provide fails the stack with a reason naming the type, then rolls back', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const env = withFastWaiters(berth.awsEnv);
  const body = JSON.stringify({ Resources: { Group: { Type: 'AWS::Logs::LogGroup' }, Vm: { Type: 'AWS::EC2::Instance', DependsOn: 'Group', Properties: { ImageId: 'ami-0000000000000be27' } } } });
  await awsOk(env, ['cloudformation', 'create-stack', '--stack-name', 'net', '--template-body', body]);
  const r = await aws(env, ['cloudformation', 'wait', 'stack-create-complete', '--stack-name', 'net']);
  assert.notEqual(r.status, 0);
  const s = (await awsOk(env, ['cloudformation', 'describe-stacks', '--stack-name', 'net'])).Stacks[0];
  assert.equal(s.StackStatus, 'ROLLBACK_COMPLETE');
  const events = (await awsOk(env, ['cloudformation', 'describe-stack-events', '--stack-name', 'net'])).StackEvents;
  const failed = events.find((e: any) => e.LogicalResourceId === 'Vm' && e.ResourceStatus === 'CREATE_FAILED');
  assert.match(failed.ResourceStatusReason, /AWS::EC2::Instance is not supported by Berth yet/);
  assert.ok(events.some((e: any) => e.LogicalResourceId === 'Group' && e.ResourceStatus === 'DELETE_COMPLETE'));
});

test('@aws-sdk v3: ValidateTemplate and malformed templates answer ValidationError with the place', async () => {
  const cfn = new CloudFormationClient(berth.clientConfig);
  try {
    const v = await cfn.send(new ValidateTemplateCommand({ TemplateBody: TEMPLATE }));
    assert.deepEqual(v.Capabilities, ['CAPABILITY_IAM']);
    assert.deepEqual(v.Parameters?.map((p) => p.ParameterKey).sort(), ['Retention', 'Version']);
    await assert.rejects(cfn.send(new ValidateTemplateCommand({ TemplateBody: 'Resources:\n  A: !Ref [\n' })), (e: any) => e.name === 'ValidationError' && /line \d+, column \d+/.test(e.message));
    await assert.rejects(cfn.send(new DescribeStacksCommand({ StackName: 'nope' })), (e: any) => e.name === 'ValidationError' && /Stack with id nope does not exist/.test(e.message));
  } finally {
    cfn.destroy();
  }
});
