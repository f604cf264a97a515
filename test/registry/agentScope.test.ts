// Registry credentials per agent (issue 17): the password an agent gets from GetAuthorizationToken
// pulls only the repositories of the tasks on its own container instance; it cannot push, delete,
// list the catalog or pull another repository, and loses a repository when its task stops. A
// password names the key that asked for it: once that key is deleted, the password is refused.
// Root's password still reaches everything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, CreateClusterCommand, RegisterTaskDefinitionCommand, StartTaskCommand, StopTaskCommand, DescribeTasksCommand } from '@aws-sdk/client-ecs';
import { IAMClient, CreateUserCommand, CreateAccessKeyCommand, DeleteAccessKeyCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { startTestBerth, eventually, type TestBerth } from '../helpers/fixture.js';
import { Agent } from '../../src/agent/agent.js';
import { ProcessDriver } from '../../src/agent/drivers/process.js';
import { callJson, type ClientConfig } from '../../src/client/awsClient.js';
import { killTaskProcessesUnder } from '../helpers/processes.js';
import { ecrOk, pushImage, registryAuth, v2, type Endpoint } from './helpers.js';

let berth: TestBerth;
let root: Endpoint;
const dirs: string[] = [];
const agents: Agent[] = [];
before(async () => {
  berth = await startTestBerth();
  root = { url: berth.url, credentials: berth.credentials };
});
after(async () => {
  for (const a of agents) await a.close({ stopTasks: true }).catch(() => undefined);
  await berth.close();
  for (const d of dirs) {
    killTaskProcessesUnder(d);
    rmSync(d, { recursive: true, force: true });
  }
});

test('an agent\'s registry password pulls only its own tasks\' repositories', async () => {
  const rootAuth = await registryAuth(root);
  for (const name of ['scope/a', 'scope/b']) await ecrOk(root, 'CreateRepository', { repositoryName: name });
  const a = await pushImage(root, rootAuth, 'scope/a', 'v1');
  await pushImage(root, rootAuth, 'scope/b', 'v1');
  const layer = (JSON.parse(a.manifest.toString()) as { layers: Array<{ digest: string }> }).layers[0]!.digest;

  // A joined agent (process driver: the image is not run, the command is).
  const cfg: ClientConfig = { endpoint: berth.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey };
  const ecs = new ECSClient(berth.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: 'reg' }));
  const { token } = await callJson<{ token: string }>(cfg, 'ecs', 'BerthAgentV1.CreateJoinToken', { cluster: 'reg' });
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-reg-agent-'));
  dirs.push(stateDir);
  const agent = new Agent({ client: { ...cfg, accessKeyId: 'unused', secretAccessKey: 'unused' }, cluster: 'reg', joinToken: token, driver: new ProcessDriver({ dataDir: join(stateDir, 'process') }), stateDir, pollSeconds: 1, log: () => undefined });
  await agent.start();
  agents.push(agent);
  const id = JSON.parse(readFileSync(join(stateDir, 'identity.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
  const asAgent: Endpoint = { url: berth.url, credentials: { accessKeyId: id.accessKeyId, secretAccessKey: id.secretAccessKey } };

  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'uses-a', containerDefinitions: [{ name: 'app', image: `${berth.registry.address}/scope/a:v1`, memory: 32, command: ['sleep', '60'] }] }));
  const taskArn = (await ecs.send(new StartTaskCommand({ cluster: 'reg', taskDefinition: 'uses-a', containerInstances: [agent.instanceArn!] }))).tasks![0]!.taskArn!;

  const agentAuth = await registryAuth(asAgent);
  // Its task's repository: manifest and blobs.
  assert.equal((await v2(root, 'GET', '/v2/', { auth: agentAuth })).status, 200);
  assert.equal((await v2(root, 'GET', '/v2/scope/a/manifests/v1', { auth: agentAuth })).status, 200);
  assert.equal((await v2(root, 'HEAD', `/v2/scope/a/manifests/${a.digest}`, { auth: agentAuth })).status, 200);
  assert.equal((await v2(root, 'GET', `/v2/scope/a/blobs/${layer}`, { auth: agentAuth })).status, 200);
  // Everything else: DENIED, saying why.
  const other = await v2(root, 'GET', '/v2/scope/b/manifests/v1', { auth: agentAuth });
  assert.equal(other.status, 403);
  assert.equal(other.code(), 'DENIED');
  assert.match(other.json().errors[0].message, /container-instance\/reg\/[a-f0-9]{32} is not authorized to pull from repository scope\/b: no task on its container instance runs an image of that repository/);
  for (const [method, path] of [['POST', '/v2/scope/a/blobs/uploads/'], ['PUT', '/v2/scope/a/manifests/v2'], ['DELETE', `/v2/scope/a/manifests/${a.digest}`], ['GET', '/v2/_catalog'], ['GET', '/v2/scope/a/tags/list']] as const) {
    const r = await v2(root, method, path, { auth: agentAuth, body: method === 'PUT' ? a.manifest : undefined, headers: method === 'PUT' ? { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' } : undefined });
    assert.equal(r.status, 403, `${method} ${path}: ${r.body.toString()}`);
    assert.equal(r.code(), 'DENIED');
  }
  // Root's password still reaches every repository.
  assert.equal((await v2(root, 'GET', '/v2/scope/b/manifests/v1', { auth: rootAuth })).status, 200);

  // The task stops: its repository is no longer the agent's to pull.
  await ecs.send(new StopTaskCommand({ cluster: 'reg', task: taskArn }));
  await eventually(async () => (await ecs.send(new DescribeTasksCommand({ cluster: 'reg', tasks: [taskArn] }))).tasks![0]!.lastStatus === 'STOPPED', { what: 'the task to stop', timeoutMs: 20_000 });
  assert.equal((await v2(root, 'GET', '/v2/scope/a/manifests/v1', { auth: agentAuth })).status, 403);
  ecs.destroy();
});

test('a registry password names the key that asked for it: deleting the key voids the password', async () => {
  const iam = new IAMClient(berth.clientConfig);
  await iam.send(new CreateUserCommand({ UserName: 'puller' }));
  await iam.send(new PutUserPolicyCommand({ UserName: 'puller', PolicyName: 'p', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }] }) }));
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'puller' }))).AccessKey!;
  const user: Endpoint = { url: berth.url, credentials: { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! } };
  const auth = await eventually(() => registryAuth(user), { what: 'the new key to work' });
  assert.equal((await v2(root, 'GET', '/v2/', { auth })).status, 200);
  await iam.send(new DeleteAccessKeyCommand({ UserName: 'puller', AccessKeyId: key.AccessKeyId! }));
  const r = await eventually(async () => {
    const x = await v2(root, 'GET', '/v2/', { auth });
    return x.status === 401 ? x : undefined;
  }, { what: 'the password to be refused' });
  assert.equal(r.code(), 'UNAUTHORIZED');
  assert.match(r.json().errors[0].message, /no longer active/);
  iam.destroy();
});

test('ECR repository policies act as resource policies: an Allow naming a user allows without an identity policy, a Deny wins over one', async () => {
  const acct = berth.credentials.accountId;
  for (const name of ['rp/x', 'rp/y']) await ecrOk(root, 'CreateRepository', { repositoryName: name });
  const iam = new IAMClient(berth.clientConfig);
  const keys: Record<string, Endpoint> = {};
  for (const u of ['alice', 'bob']) {
    await iam.send(new CreateUserCommand({ UserName: u }));
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: u }))).AccessKey!;
    keys[u] = { url: berth.url, credentials: { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! } };
  }
  await iam.send(new PutUserPolicyCommand({ UserName: 'bob', PolicyName: 'all-ecr', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] }) }));
  iam.destroy();
  await ecrOk(root, 'SetRepositoryPolicy', {
    repositoryName: 'rp/x',
    policyText: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'AliceReads', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acct}:user/alice` }, Action: ['ecr:ListImages', 'ecr:DescribeImages'] },
        { Sid: 'NotBob', Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${acct}:user/bob` }, Action: 'ecr:ListImages' },
      ],
    }),
  });
  const { ecrCall } = await import('./helpers.js');
  const list = (who: string, repo: string) => ecrCall(keys[who]!, 'ListImages', { repositoryName: repo });
  // Alice has no identity policy: the repository's Allow naming her is enough, for that repository only.
  assert.equal((await eventually(async () => ((await list('alice', 'rp/x')).status === 200 ? true : undefined), { what: 'alice\'s key to work' })), true);
  const aliceY = await list('alice', 'rp/y');
  assert.equal(aliceY.body.__type, 'AccessDeniedException');
  assert.match(aliceY.body.message, new RegExp(`user/alice is not authorized to perform: ecr:ListImages on resource: arn:aws:ecr:us-east-1:${acct}:repository/rp/y`));
  assert.equal((await ecrCall(keys.alice!, 'BatchDeleteImage', { repositoryName: 'rp/x', imageIds: [{ imageTag: 'x' }] })).body.__type, 'AccessDeniedException');
  // Bob may do anything in ECR by his own policy, but the repository's Deny wins there.
  const bobX = await list('bob', 'rp/x');
  assert.equal(bobX.body.__type, 'AccessDeniedException');
  assert.match(bobX.body.message, /user\/bob is not authorized to perform: ecr:ListImages on resource: .*repository\/rp\/x.* explicit deny/);
  assert.equal((await list('bob', 'rp/y')).status, 200);
});
