// IAM enforced on every call (issue 17), through the real aws CLI and @aws-sdk v3: a user with a
// policy for one cluster, deny over allow, a condition on aws:SourceIp, inactive keys, roles
// assumed with session credentials that carry only the role's permissions and expire.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { IAMClient, CreateUserCommand, CreateAccessKeyCommand, CreateRoleCommand, PutRolePolicyCommand, PutUserPolicyCommand, SimulatePrincipalPolicyCommand, GetRoleCommand } from '@aws-sdk/client-iam';
import { STSClient, AssumeRoleCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { SSMClient, GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { startTestBerth, awsEnvFor, aws, awsOk, errorOf, hasAwsCli, type TestBerth } from '../helpers/fixture.js';
import { ManualClock } from '../../src/clock.js';

let berth: TestBerth;
before(async () => {
  berth = await startTestBerth();
});
after(async () => {
  await berth?.close();
});

const doc = (...Statement: object[]): string => JSON.stringify({ Version: '2012-10-17', Statement });

test('a user with ecs:Describe* on one cluster: allowed there, denied elsewhere and for RunTask; deny wins; aws:SourceIp; inactive keys', { skip: !hasAwsCli() && 'the aws CLI is not installed' }, async () => {
  const root = berth.awsEnv;
  const acct = berth.credentials.accountId;
  const prod = `arn:aws:ecs:us-east-1:${acct}:cluster/prod`;
  await awsOk(root, ['ecs', 'create-cluster', '--cluster-name', 'prod']);
  await awsOk(root, ['ecs', 'create-cluster', '--cluster-name', 'dev']);
  const created = await awsOk(root, ['iam', 'create-user', '--user-name', 'alice']);
  assert.equal(created.User.Arn, `arn:aws:iam::${acct}:user/alice`);
  assert.match(created.User.UserId, /^AIDA[A-Z2-7]{16}$/);
  await awsOk(root, ['iam', 'put-user-policy', '--user-name', 'alice', '--policy-name', 'describe-prod', '--policy-document', doc({ Effect: 'Allow', Action: 'ecs:Describe*', Resource: prod })]);
  const key = (await awsOk(root, ['iam', 'create-access-key', '--user-name', 'alice'])).AccessKey;
  assert.match(key.AccessKeyId, /^AKIA/);
  const alice = awsEnvFor(berth.url, { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey });

  const who = await awsOk(alice, ['sts', 'get-caller-identity']);
  assert.equal(who.Arn, `arn:aws:iam::${acct}:user/alice`);
  assert.equal(who.UserId, created.User.UserId);

  const ok = await awsOk(alice, ['ecs', 'describe-clusters', '--clusters', 'prod']);
  assert.equal(ok.clusters[0].clusterName, 'prod');
  const other = await aws(alice, ['ecs', 'describe-clusters', '--clusters', 'dev']);
  assert.notEqual(other.status, 0);
  assert.match(other.stderr, /AccessDeniedException/);
  assert.match(other.stderr, new RegExp(`User: arn:aws:iam::${acct}:user/alice is not authorized to perform: ecs:DescribeClusters on resource: arn:aws:ecs:us-east-1:${acct}:cluster/dev because no identity-based policy allows the ecs:DescribeClusters action`));
  const run = await aws(alice, ['ecs', 'run-task', '--cluster', 'prod', '--task-definition', 'web']);
  assert.match(run.stderr, /AccessDeniedException.*ecs:RunTask on resource: arn:aws:ecs:us-east-1:\d{12}:task-definition\/web:\*/s);
  // A denied call changes nothing.
  assert.deepEqual((await new ECSClient(berth.clientConfig).send(new ListTasksCommand({ cluster: 'prod' }))).taskArns, []);

  // An explicit deny in a managed policy wins over the inline allow; detaching it restores access.
  const denyPolicy = (await awsOk(root, ['iam', 'create-policy', '--policy-name', 'no-prod', '--policy-document', doc({ Effect: 'Deny', Action: 'ecs:DescribeClusters', Resource: prod })])).Policy;
  await awsOk(root, ['iam', 'attach-user-policy', '--user-name', 'alice', '--policy-arn', denyPolicy.Arn]);
  const denied = await aws(alice, ['ecs', 'describe-clusters', '--clusters', 'prod']);
  assert.match(denied.stderr, /with an explicit deny in an identity-based policy/);
  assert.equal((await awsOk(root, ['iam', 'get-policy', '--policy-arn', denyPolicy.Arn])).Policy.AttachmentCount, 1);
  const busy = await aws(root, ['iam', 'delete-policy', '--policy-arn', denyPolicy.Arn]);
  assert.match(busy.stderr, /DeleteConflict/);
  await awsOk(root, ['iam', 'detach-user-policy', '--user-name', 'alice', '--policy-arn', denyPolicy.Arn]);
  await awsOk(alice, ['ecs', 'describe-clusters', '--clusters', 'prod']);

  // A condition on the caller's address: loopback is in 127.0.0.0/8, not in 10.0.0.0/8.
  await awsOk(root, ['ssm', 'put-parameter', '--name', '/app/x', '--value', 'v', '--type', 'String']);
  const fromRange = (cidr: string) => doc({ Effect: 'Allow', Action: 'ssm:GetParameter', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': cidr } } });
  await awsOk(root, ['iam', 'put-user-policy', '--user-name', 'alice', '--policy-name', 'ssm-from', '--policy-document', fromRange('127.0.0.0/8')]);
  assert.equal((await awsOk(alice, ['ssm', 'get-parameter', '--name', '/app/x'])).Parameter.Value, 'v');
  await awsOk(root, ['iam', 'put-user-policy', '--user-name', 'alice', '--policy-name', 'ssm-from', '--policy-document', fromRange('10.0.0.0/8')]);
  assert.match((await aws(alice, ['ssm', 'get-parameter', '--name', '/app/x'])).stderr, /AccessDeniedException/);

  // Bad documents are refused, saying why.
  const bad = await aws(root, ['iam', 'put-user-policy', '--user-name', 'alice', '--policy-name', 'bad', '--policy-document', '{"Statement":[{"Effect":"Allow","Action":"ecs:*"}]}']);
  assert.match(bad.stderr, /MalformedPolicyDocument.*must contain resources/s);

  // An inactive key is refused; a deleted user's keys must go first.
  await awsOk(root, ['iam', 'update-access-key', '--user-name', 'alice', '--access-key-id', key.AccessKeyId, '--status', 'Inactive']);
  const inactive = await aws(alice, ['sts', 'get-caller-identity']);
  assert.match(inactive.stderr, /InvalidClientTokenId/);
  assert.match((await aws(root, ['iam', 'delete-user', '--user-name', 'alice'])).stderr, /DeleteConflict/);
  // IAM itself is guarded too: alice may not create users.
  await awsOk(root, ['iam', 'update-access-key', '--user-name', 'alice', '--access-key-id', key.AccessKeyId, '--status', 'Active']);
  assert.match((await aws(alice, ['iam', 'create-user', '--user-name', 'mallory'])).stderr, /AccessDenied.*iam:CreateUser/s);
  assert.match((await aws(root, ['iam', 'get-user', '--user-name', 'mallory'])).stderr, /NoSuchEntity/);
});

test('roles: a trusted user assumes a role whose session can read /app/a/* only; the token is required; sessions expire; the simulator agrees', async () => {
  const clock = new ManualClock(Date.now());
  const b = await startTestBerth({ clock });
  try {
    const acct = b.credentials.accountId;
    // Clients sign with the server's (manual) time.
    const cfg = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) => ({ ...b.clientConfig, credentials, systemClockOffset: clock.now() - Date.now() });
    const iam = new IAMClient(b.clientConfig);
    await new SSMClient(b.clientConfig).send(new PutParameterCommand({ Name: '/app/a/x', Value: 'a', Type: 'String' }));
    await new SSMClient(b.clientConfig).send(new PutParameterCommand({ Name: '/app/b/x', Value: 'b', Type: 'String' }));
    await iam.send(new CreateUserCommand({ UserName: 'bob' }));
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: 'bob' }))).AccessKey!;
    const bobCreds = { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! };
    const trust = doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acct}:user/bob` }, Action: 'sts:AssumeRole' });
    const role = (await iam.send(new CreateRoleCommand({ RoleName: 'reader', AssumeRolePolicyDocument: trust }))).Role!;
    // IAM returns documents URL-encoded.
    assert.equal(decodeURIComponent((await iam.send(new GetRoleCommand({ RoleName: 'reader' }))).Role!.AssumeRolePolicyDocument!), trust);
    await iam.send(new PutRolePolicyCommand({ RoleName: 'reader', PolicyName: 'a', PolicyDocument: doc({ Effect: 'Allow', Action: 'ssm:GetParameter', Resource: `arn:aws:ssm:*:${acct}:parameter/app/a/*` }) }));

    // Root may not assume roles (as on AWS); an untrusted user may not either.
    assert.equal((await errorOf(new STSClient(b.clientConfig).send(new AssumeRoleCommand({ RoleArn: role.Arn, RoleSessionName: 'try' })))).name, 'AccessDenied');
    await iam.send(new CreateUserCommand({ UserName: 'eve' }));
    const ek = (await iam.send(new CreateAccessKeyCommand({ UserName: 'eve' }))).AccessKey!;
    const eveErr = await errorOf(new STSClient(cfg({ accessKeyId: ek.AccessKeyId!, secretAccessKey: ek.SecretAccessKey! })).send(new AssumeRoleCommand({ RoleArn: role.Arn, RoleSessionName: 'try' })));
    assert.equal(eveErr.name, 'AccessDenied');
    assert.match(eveErr.message, /user\/eve is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::\d{12}:role\/reader/);

    const assumed = await new STSClient(cfg(bobCreds)).send(new AssumeRoleCommand({ RoleArn: role.Arn, RoleSessionName: 'ci', DurationSeconds: 900 }));
    const c = assumed.Credentials!;
    assert.match(c.AccessKeyId!, /^ASIA/);
    assert.equal(assumed.AssumedRoleUser!.Arn, `arn:aws:sts::${acct}:assumed-role/reader/ci`);
    const session = { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
    const me = await new STSClient(cfg(session)).send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, `arn:aws:sts::${acct}:assumed-role/reader/ci`);
    assert.equal(me.UserId, `${role.RoleId}:ci`);
    const ssm = new SSMClient(cfg(session));
    assert.equal((await ssm.send(new GetParameterCommand({ Name: '/app/a/x' }))).Parameter!.Value, 'a');
    const denied = await errorOf(ssm.send(new GetParameterCommand({ Name: '/app/b/x' })));
    assert.equal(denied.name, 'AccessDeniedException');
    assert.match(denied.message, /assumed-role\/reader\/ci is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:\d{12}:parameter\/app\/b\/x/);
    // The session's keys without its token are refused.
    const noToken = await errorOf(new SSMClient(cfg({ accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey })).send(new GetParameterCommand({ Name: '/app/a/x' })));
    assert.equal(noToken.name, 'UnrecognizedClientException');

    // The simulator gives the same answers.
    const sim = await iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: role.Arn, ActionNames: ['ssm:GetParameter'], ResourceArns: [`arn:aws:ssm:us-east-1:${acct}:parameter/app/a/x`, `arn:aws:ssm:us-east-1:${acct}:parameter/app/b/x`] }));
    assert.deepEqual(sim.EvaluationResults!.map((r) => r.EvalDecision), ['allowed', 'implicitDeny']);

    // Past its expiry the session is refused.
    await clock.advance(901_000);
    const expired = await errorOf(new SSMClient(cfg(session)).send(new GetParameterCommand({ Name: '/app/a/x' })));
    assert.equal(expired.name, 'ExpiredTokenException');
  } finally {
    await b.close();
  }
});

test('a user\'s own permissions follow policy changes at once (cache dropped on IAM changes)', async () => {
  const iam = new IAMClient(berth.clientConfig);
  await iam.send(new CreateUserCommand({ UserName: 'carol' }));
  const k = (await iam.send(new CreateAccessKeyCommand({ UserName: 'carol' }))).AccessKey!;
  const ssm = new SSMClient({ ...berth.clientConfig, credentials: { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! } });
  await new SSMClient(berth.clientConfig).send(new PutParameterCommand({ Name: '/c/x', Value: 'c', Type: 'String' }));
  assert.equal((await errorOf(ssm.send(new GetParameterCommand({ Name: '/c/x' })))).name, 'AccessDeniedException');
  await iam.send(new PutUserPolicyCommand({ UserName: 'carol', PolicyName: 'p', PolicyDocument: doc({ Effect: 'Allow', Action: 'ssm:GetParameter', Resource: '*' }) }));
  assert.equal((await ssm.send(new GetParameterCommand({ Name: '/c/x' }))).Parameter!.Value, 'c');
});
