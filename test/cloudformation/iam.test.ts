// CloudFormation's IAM resources create real principals (issue 17): a stack's role and its
// policies exist in IAM (aws iam get-role), the role can be assumed and has exactly the stack's
// permissions, and deleting the stack removes them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aws, awsOk, awsEnvFor, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';

let berth: TestBerth;
let dir: string;
before(async () => {
  berth = await startTestBerth();
  dir = mkdtempSync(join(tmpdir(), 'cfn-iam-'));
});
after(async () => {
  await berth.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a stack with a role, an inline policy, a managed policy, an instance profile and a user: real, assumable, enforced, deleted with the stack', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const env = berth.awsEnv;
  const acct = berth.credentials.accountId;
  writeFileSync(
    join(dir, 'iam.yaml'),
    `
Resources:
  Deployer:
    Type: AWS::IAM::Role
    Properties:
      RoleName: deployer
      AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: Allow, Principal: { AWS: !Sub 'arn:aws:iam::\${AWS::AccountId}:root' }, Action: sts:AssumeRole }] }
  ListClusters:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: list-clusters
      Roles: [!Ref Deployer]
      PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: Allow, Action: ecs:ListClusters, Resource: '*' }] }
  ReadParams:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      Roles: [!Ref Deployer]
      PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: Allow, Action: ssm:GetParameter, Resource: !Sub 'arn:aws:ssm:*:\${AWS::AccountId}:parameter/app/*' }] }
  Ci:
    Type: AWS::IAM::User
    Properties:
      UserName: ci
      Policies: [{ PolicyName: assume, PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: Allow, Action: sts:AssumeRole, Resource: !GetAtt Deployer.Arn }] } }]
  Profile:
    Type: AWS::IAM::InstanceProfile
    Properties:
      Roles: [!Ref Deployer]
Outputs:
  PolicyArn: { Value: !Ref ReadParams }
`,
  );
  const deploy = await aws(env, ['cloudformation', 'deploy', '--stack-name', 'iam', '--template-file', join(dir, 'iam.yaml'), '--capabilities', 'CAPABILITY_NAMED_IAM']);
  assert.equal(deploy.status, 0, deploy.stderr);

  const role = (await awsOk(env, ['iam', 'get-role', '--role-name', 'deployer'])).Role;
  assert.equal(role.Arn, `arn:aws:iam::${acct}:role/deployer`);
  assert.match(role.RoleId, /^AROA/);
  assert.deepEqual((await awsOk(env, ['iam', 'list-role-policies', '--role-name', 'deployer'])).PolicyNames, ['list-clusters']);
  const policyArn = (await awsOk(env, ['cloudformation', 'describe-stacks', '--stack-name', 'iam'])).Stacks[0].Outputs[0].OutputValue;
  assert.deepEqual((await awsOk(env, ['iam', 'list-attached-role-policies', '--role-name', 'deployer'])).AttachedPolicies.map((p: any) => p.PolicyArn), [policyArn]);
  const profiles = (await awsOk(env, ['iam', 'list-instance-profiles'])).InstanceProfiles;
  assert.deepEqual(profiles.map((p: any) => p.Roles.map((r: any) => r.RoleName)), [['deployer']]);

  // Assumable (by the stack's user: root may not assume roles), and exactly as permitted as its policies say.
  const key = (await awsOk(env, ['iam', 'create-access-key', '--user-name', 'ci'])).AccessKey;
  const ci = awsEnvFor(berth.url, { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey });
  const creds = (await awsOk(ci, ['sts', 'assume-role', '--role-arn', role.Arn, '--role-session-name', 'ci'])).Credentials;
  const session = { ...awsEnvFor(berth.url, { accessKeyId: creds.AccessKeyId, secretAccessKey: creds.SecretAccessKey }), AWS_SESSION_TOKEN: creds.SessionToken };
  assert.equal((await awsOk(session, ['sts', 'get-caller-identity'])).Arn, `arn:aws:sts::${acct}:assumed-role/deployer/ci`);
  await awsOk(session, ['ecs', 'list-clusters']);
  assert.match((await aws(session, ['ecs', 'create-cluster', '--cluster-name', 'x'])).stderr, /AccessDeniedException/);
  await awsOk(env, ['ssm', 'put-parameter', '--name', '/app/a', '--value', 'v', '--type', 'String']);
  await awsOk(env, ['ssm', 'put-parameter', '--name', '/other/a', '--value', 'v', '--type', 'String']);
  assert.equal((await awsOk(session, ['ssm', 'get-parameter', '--name', '/app/a'])).Parameter.Value, 'v');
  assert.match((await aws(session, ['ssm', 'get-parameter', '--name', '/other/a'])).stderr, /AccessDeniedException/);

  // Deleting the stack deletes the principals and their policies (the user's key, made outside the stack, goes first).
  await awsOk(env, ['iam', 'delete-access-key', '--user-name', 'ci', '--access-key-id', key.AccessKeyId]);
  await awsOk(env, ['cloudformation', 'delete-stack', '--stack-name', 'iam']);
  await awsOk(env, ['cloudformation', 'wait', 'stack-delete-complete', '--stack-name', 'iam']);
  assert.match((await aws(env, ['iam', 'get-role', '--role-name', 'deployer'])).stderr, /NoSuchEntity/);
  assert.match((await aws(env, ['iam', 'get-policy', '--policy-arn', policyArn])).stderr, /NoSuchEntity/);
  assert.deepEqual((await awsOk(env, ['iam', 'list-instance-profiles'])).InstanceProfiles, []);
  assert.match((await aws(env, ['iam', 'get-user', '--user-name', 'ci'])).stderr, /NoSuchEntity/);
});
