// Agent identity and task roles: an agent that joined with a join token acts only as its own
// container instance (the agent-channel attacks are denied with AWS-shaped errors and change
// nothing); a task whose role may read /app/a/* runs the aws CLI inside its process: it reads
// /app/a/x and is denied /app/b/x, and its credentials rotate before they expire; a task's
// secrets are read only when its execution role may read them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, CreateClusterCommand, RegisterTaskDefinitionCommand, StartTaskCommand, DescribeTasksCommand } from '@aws-sdk/client-ecs';
import { SSMClient, PutParameterCommand, GetParametersCommand } from '@aws-sdk/client-ssm';
import { IAMClient, CreateRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { startTestBerth, eventually, hasAwsCli, AWS_CLI, type TestBerth } from '../helpers/fixture.js';
import { Agent } from '../../src/agent/agent.js';
import { ProcessDriver } from '../../src/agent/drivers/process.js';
import { callJson, AwsApiError, type ClientConfig } from '../../src/client/awsClient.js';
import { killTaskProcessesUnder } from '../helpers/processes.js';

let berth: TestBerth;
let root: ClientConfig;
const dirs: string[] = [];
const agents: Agent[] = [];

before(async () => {
  berth = await startTestBerth();
  root = { endpoint: berth.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey };
  const ecs = new ECSClient(berth.clientConfig);
  for (const c of ['blue', 'green']) await ecs.send(new CreateClusterCommand({ clusterName: c }));
  ecs.destroy();
});
after(async () => {
  for (const a of agents) await a.close({ stopTasks: true }).catch(() => undefined);
  await berth.close();
  for (const d of dirs) {
    killTaskProcessesUnder(d);
    rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
});

const channel = <T>(cfg: ClientConfig, op: string, input: unknown) => callJson<T>(cfg, 'ecs', `BerthAgentV1.${op}`, input);

async function joinedAgent(cluster: string, opts: { taskCredentialSeconds?: number } = {}): Promise<{ agent: Agent; creds: ClientConfig }> {
  const { token } = await channel<{ token: string }>(root, 'CreateJoinToken', { cluster });
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-joined-'));
  dirs.push(stateDir);
  // The client starts with no usable key: everything after Join is signed with the instance's.
  const client: ClientConfig = { endpoint: berth.url, region: 'us-east-1', accessKeyId: 'unused', secretAccessKey: 'unused' };
  const agent = new Agent({ client, cluster, joinToken: token, driver: new ProcessDriver({ dataDir: join(stateDir, 'process') }), stateDir, pollSeconds: 1, log: () => undefined, ...opts });
  await agent.start();
  agents.push(agent);
  // The instance's key pair, as the agent keeps it (0600) in its state dir.
  const id = JSON.parse(readFileSync(join(stateDir, 'identity.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
  assert.equal(statSync(join(stateDir, 'identity.json')).mode & 0o777, 0o600);
  return { agent, creds: { ...client, accessKeyId: id.accessKeyId, secretAccessKey: id.secretAccessKey } };
}

async function denied(p: Promise<unknown>): Promise<AwsApiError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof AwsApiError, `expected an AWS error, got ${String(e)}`);
  assert.match(e.code, /^AccessDenied(Exception)?$/);
  assert.match(e.message, /is not authorized to perform: /);
  return e;
}

test('an agent that joined acts only as its own instance: the agent-channel attacks are denied, nothing changes', async () => {
  const a = await joinedAgent('blue');
  const b = await joinedAgent('blue');
  assert.match(a.agent.instanceArn!, /:container-instance\/blue\/[a-f0-9]{32}$/);
  const ecs = new ECSClient(berth.clientConfig);
  const ssm = new SSMClient(berth.clientConfig);
  await ssm.send(new PutParameterCommand({ Name: '/blue/b-secret', Type: 'SecureString', Value: 'only-for-b' }));
  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'sleeper', containerDefinitions: [{ name: 'app', image: 'host', memory: 32, command: ['sh', '-c', 'echo up; sleep 60'], secrets: [{ name: 'S', valueFrom: '/blue/b-secret' }] }] }));
  const started = await ecs.send(new StartTaskCommand({ cluster: 'blue', taskDefinition: 'sleeper', containerInstances: [b.agent.instanceArn!] }));
  const taskArn = started.tasks![0]!.taskArn!;
  await eventually(async () => (await ecs.send(new DescribeTasksCommand({ cluster: 'blue', tasks: [taskArn] }))).tasks![0]!.lastStatus === 'RUNNING', { what: 'the task to run on agent B (its secret read by B)', timeoutMs: 20_000 });

  // Agent A's credentials against B's instance and task.
  await denied(channel(a.creds, 'Poll', { cluster: 'blue', containerInstanceArn: b.agent.instanceArn }));
  await denied(channel(a.creds, 'ReportTaskState', { cluster: 'blue', taskArn, change: { status: 'STOPPED', reason: 'forged' } }));
  await denied(channel(a.creds, 'GetTaskSecrets', { cluster: 'blue', taskArn }));
  const ssmAsA = new SSMClient({ ...berth.clientConfig, credentials: { accessKeyId: a.creds.accessKeyId, secretAccessKey: a.creds.secretAccessKey } });
  await assert.rejects(ssmAsA.send(new GetParametersCommand({ Names: ['/blue/b-secret'], WithDecryption: true })), (e: Error) => e.name === 'AccessDeniedException');
  ssmAsA.destroy();
  // A fake instance in another cluster, or a new one in its own, or a join token of its own.
  await denied(callJson(a.creds, 'ecs', 'AmazonEC2ContainerServiceV20141113.RegisterContainerInstance', { cluster: 'green' }));
  await denied(callJson(a.creds, 'ecs', 'AmazonEC2ContainerServiceV20141113.RegisterContainerInstance', { cluster: 'blue' }));
  await denied(channel(a.creds, 'CreateJoinToken', { cluster: 'green' }));
  await denied(callJson(a.creds, 'ecs', 'AmazonEC2ContainerServiceV20141113.ListClusters', {}));

  // Nothing changed: B's task still runs, and B still may do all of it for itself.
  const t = (await ecs.send(new DescribeTasksCommand({ cluster: 'blue', tasks: [taskArn] }))).tasks![0]!;
  assert.equal(t.lastStatus, 'RUNNING');
  assert.equal(t.desiredStatus, 'RUNNING');
  const own = await channel<{ secrets: Array<{ value: string }> }>(b.creds, 'GetTaskSecrets', { cluster: 'blue', taskArn });
  assert.equal(own.secrets[0]!.value, 'only-for-b');
  ecs.destroy();
  ssm.destroy();
});

test('a join token joins its own cluster only', async () => {
  const { token } = await channel<{ token: string }>(root, 'CreateJoinToken', { cluster: 'blue' });
  const [accessKeyId, secretAccessKey] = [token.slice(0, token.indexOf(':')), token.slice(token.indexOf(':') + 1)];
  const asToken: ClientConfig = { ...root, accessKeyId, secretAccessKey };
  await denied(channel(asToken, 'Join', { cluster: 'green' }));
  await denied(callJson(asToken, 'ecs', 'AmazonEC2ContainerServiceV20141113.RegisterContainerInstance', { cluster: 'blue' }));
  await denied(channel(asToken, 'Poll', { cluster: 'blue', containerInstanceArn: 'x' }));
});

test('a task role: the aws CLI in the task reads /app/a/x, is denied /app/b/x; credentials rotate; the execution role gates secrets', { skip: !hasAwsCli() && 'no aws CLI' }, async () => {
  const iam = new IAMClient(berth.clientConfig);
  const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
  await iam.send(new CreateRoleCommand({ RoleName: 'app-a', AssumeRolePolicyDocument: trust }));
  await iam.send(new PutRolePolicyCommand({ RoleName: 'app-a', PolicyName: 'read-a', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ssm:GetParameter*', Resource: 'arn:aws:ssm:*:*:parameter/app/a/*' }] }) }));
  await iam.send(new CreateRoleCommand({ RoleName: 'exec-a', AssumeRolePolicyDocument: trust }));
  await iam.send(new PutRolePolicyCommand({ RoleName: 'exec-a', PolicyName: 'secrets-a', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ssm:GetParameters', Resource: 'arn:aws:ssm:*:*:parameter/app/a/*' }] }) }));
  iam.destroy();
  const ssm = new SSMClient(berth.clientConfig);
  await ssm.send(new PutParameterCommand({ Name: '/app/a/x', Type: 'String', Value: 'value-of-a' }));
  await ssm.send(new PutParameterCommand({ Name: '/app/b/x', Type: 'String', Value: 'value-of-b' }));
  ssm.destroy();
  const acct = berth.credentials.accountId;
  const { agent } = await joinedAgent('green', { taskCredentialSeconds: 12 });
  const script = [
    'while true; do',
    '  a=$(aws --endpoint-url "$AWS_ENDPOINT_URL" ssm get-parameter --name /app/a/x --query Parameter.Value --output text 2>&1)',
    '  b=$(aws --endpoint-url "$AWS_ENDPOINT_URL" ssm get-parameter --name /app/b/x 2>&1 | tr "\\n" " ")',
    '  k=$(curl -s -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_CREDENTIALS_FULL_URI" 2>/dev/null || python3 -c "import os,urllib.request as u;print(u.urlopen(u.Request(os.environ[\'AWS_CONTAINER_CREDENTIALS_FULL_URI\'],headers={\'Authorization\':os.environ[\'AWS_CONTAINER_AUTHORIZATION_TOKEN\']})).read().decode())")',
    '  echo "A=$a"; echo "B=$b"; echo "K=$k"; sleep 2;',
    'done',
  ].join('\n');
  const ecs = new ECSClient(berth.clientConfig);
  await ecs.send(new RegisterTaskDefinitionCommand({
    family: 'reader',
    taskRoleArn: `arn:aws:iam::${acct}:role/app-a`,
    executionRoleArn: `arn:aws:iam::${acct}:role/exec-a`,
    containerDefinitions: [{
      name: 'app', image: 'host', memory: 64, command: ['sh', '-c', script],
      secrets: [{ name: 'A', valueFrom: '/app/a/x' }],
      environment: [
        { name: 'AWS_ENDPOINT_URL', value: berth.url }, { name: 'AWS_DEFAULT_REGION', value: 'us-east-1' }, { name: 'AWS_CONFIG_FILE', value: '/dev/null' },
        { name: 'AWS_SHARED_CREDENTIALS_FILE', value: '/dev/null' }, { name: 'PATH', value: `${join(AWS_CLI, '..')}:/usr/bin:/bin` }, { name: 'AWS_MAX_ATTEMPTS', value: '1' },
      ],
    }],
  }));
  const started = await ecs.send(new StartTaskCommand({ cluster: 'green', taskDefinition: 'reader', containerInstances: [agent.instanceArn!] }));
  const taskArn = started.tasks![0]!.taskArn!;
  const taskId = taskArn.split('/').pop()!;
  const { CloudWatchLogsClient, GetLogEventsCommand } = await import('@aws-sdk/client-cloudwatch-logs');
  const logs = new CloudWatchLogsClient(berth.clientConfig);
  const lines = async () => ((await logs.send(new GetLogEventsCommand({ logGroupName: '/berth/green', logStreamName: `reader/app/${taskId}`, startFromHead: true })).catch(() => ({ events: [] }))).events ?? []).map((e) => e.message ?? '');
  const first = await eventually(async () => {
    const l = await lines();
    return l.some((x) => x.startsWith('A=')) && l.some((x) => x.startsWith('B=')) && l.some((x) => x.startsWith('K={')) ? l : undefined;
  }, { what: 'the task to call Berth with its role', timeoutMs: 60_000, intervalMs: 500 });
  assert.ok(first.includes('A=value-of-a'), first.join('\n'));
  const b = first.find((x) => x.startsWith('B='))!;
  assert.match(b, /AccessDeniedException.*assumed-role\/app-a\/.*ssm:GetParameter/);
  const key = (l: string) => JSON.parse(l.slice(2)) as { AccessKeyId: string; Expiration: string; RoleArn: string };
  const k1 = key(first.find((x) => x.startsWith('K={'))!);
  assert.equal(k1.RoleArn, `arn:aws:iam::${acct}:role/app-a`);
  // Rotation: a new key is served before the first one expires, and the task keeps reading.
  const rotated = await eventually(async () => {
    const l = await lines();
    const ks = l.filter((x) => x.startsWith('K={')).map(key);
    return ks.find((k) => k.AccessKeyId !== k1.AccessKeyId);
  }, { what: 'the credentials to rotate', timeoutMs: 30_000, intervalMs: 500 });
  assert.ok(Date.parse(rotated.Expiration) > Date.parse(k1.Expiration));
  const after = await eventually(async () => {
    const l = await lines();
    const idx = l.findIndex((x) => x.startsWith('K={') && key(x).AccessKeyId === rotated.AccessKeyId);
    return idx >= 0 && l.slice(idx).some((x) => x === 'A=value-of-a') ? true : undefined;
  }, { what: 'reads with the rotated key', timeoutMs: 20_000, intervalMs: 500 });
  assert.ok(after);

  // The execution role may not read /app/b/*: a task injecting it fails to start, saying why.
  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'bad-secret', executionRoleArn: `arn:aws:iam::${acct}:role/exec-a`, containerDefinitions: [{ name: 'app', image: 'host', memory: 32, command: ['sleep', '30'], secrets: [{ name: 'B', valueFrom: '/app/b/x' }] }] }));
  const bad = (await ecs.send(new StartTaskCommand({ cluster: 'green', taskDefinition: 'bad-secret', containerInstances: [agent.instanceArn!] }))).tasks![0]!.taskArn!;
  const stopped = await eventually(async () => {
    const t = (await ecs.send(new DescribeTasksCommand({ cluster: 'green', tasks: [bad] }))).tasks![0]!;
    return t.lastStatus === 'STOPPED' ? t : undefined;
  }, { what: 'the task with an unreadable secret to stop', timeoutMs: 20_000 });
  assert.match(stopped.stoppedReason!, /ResourceInitializationError.*assumed-role\/exec-a\/.*not authorized to perform: ssm:Get/);
  logs.destroy();
  ecs.destroy();
});
