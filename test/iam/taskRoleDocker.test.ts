// Task roles on the docker driver: a FROM-scratch image running the AWS SDK for JavaScript v3
// (@aws-sdk/client-ssm, default credential chain) on a bridge network, as an ECS task whose role
// may read /app/a/*: it reads /app/a/x and is denied /app/b/x, and its credentials rotate before
// they expire (10-second sessions, the SDK fetching again). Two agents on this host each serve
// their endpoint on 169.254.170.2 on a port of their own; an endpoint refuses another task's
// id or token.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ECSClient, CreateClusterCommand, RegisterTaskDefinitionCommand, StartTaskCommand, DescribeTasksCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { SSMClient, PutParameterCommand } from '@aws-sdk/client-ssm';
import { IAMClient, CreateRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { startTestBerth, eventually, type TestBerth } from '../helpers/fixture.js';
import { Agent } from '../../src/agent/agent.js';
import { DockerDriver } from '../../src/agent/drivers/docker.js';
import { DockerEngine } from '../../src/agent/drivers/dockerApi.js';
import { ECS_CREDENTIALS_ADDRESS, ensureHostAddress, TaskCredentialsServer } from '../../src/agent/taskCredentials.js';
import { callJson, type ClientConfig } from '../../src/client/awsClient.js';
import { systemClock } from '../../src/clock.js';
import { ensureSdkImage } from './sdkImage.js';

/** The task's program: every half second, both reads and the credentials the SDK signed them with. */
const READER = `
const { SSMClient, GetParameterCommand } = require('@aws-sdk/client-ssm');
const ssm = new SSMClient({ endpoint: process.env.BERTH_ENDPOINT, region: 'us-east-1', maxAttempts: 2 });
const read = (name) => ssm.send(new GetParameterCommand({ Name: name })).then((o) => o.Parameter.Value, (e) => e.name + ': ' + e.message);
(async () => {
  for (let i = 0; i < 400; i++) {
    const at = Date.now();
    const a = await read('/app/a/x');
    const b = await read('/app/b/x');
    const c = await ssm.config.credentials();
    console.log(JSON.stringify({ at, a, b, key: c.accessKeyId, expiration: c.expiration && c.expiration.toISOString() }));
    await new Promise((r) => setTimeout(r, 500));
  }
})();
`;

interface Line {
  at: number;
  a: string;
  b: string;
  key: string;
  expiration: string;
}

let berth: TestBerth | undefined;
const agents: Agent[] = [];
const dirs: string[] = [];
after(async () => {
  for (const a of agents) await a.close({ stopTasks: true }).catch(() => undefined);
  await berth?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The IPv4 address of a host interface (`ip`: node lists only interfaces with a carrier, and docker0 has none while no container runs). */
function addressOf(ifname: string): string | undefined {
  const out = spawnSync('ip', ['-4', '-o', 'addr', 'show', 'dev', ifname], { encoding: 'utf8' }).stdout ?? '';
  return /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
}

/** Why this host cannot run the test, or undefined. */
async function unavailable(engine: DockerEngine): Promise<string | undefined> {
  const fp = await new DockerDriver({ socketPath: engine.socketPath }).fingerprint();
  if (!fp.available) return `no docker engine: ${fp.detail}`;
  try {
    await ensureHostAddress(ECS_CREDENTIALS_ADDRESS, process.getuid?.() === 0);
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

test('a task role on the docker driver: the SDK in a container reads /app/a/x, is denied /app/b/x, its credentials rotate; per-task tokens; two agents', async (t) => {
  const engine = new DockerEngine();
  const why = await unavailable(engine);
  if (why) return t.skip(why);
  // Containers on the default bridge reach the host at its gateway address: Berth listens there.
  const bridge = await engine.call<{ IPAM: { Config: Array<{ Gateway?: string }> }; Options?: Record<string, string> }>('GET', '/networks/bridge');
  const bridgeIf = bridge.Options?.['com.docker.network.bridge.name'] ?? 'docker0';
  const gateway = bridge.IPAM.Config.find((c) => c.Gateway && !c.Gateway.includes(':'))?.Gateway ?? addressOf(bridgeIf);
  if (!gateway) return t.skip('the docker bridge network has no IPv4 gateway');
  const image = ensureSdkImage(engine, READER);
  berth = await startTestBerth({ host: gateway });
  const root: ClientConfig = { endpoint: berth.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey };
  const acct = berth.credentials.accountId;

  const iam = new IAMClient(berth.clientConfig);
  const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
  await iam.send(new CreateRoleCommand({ RoleName: 'reader-a', AssumeRolePolicyDocument: trust }));
  await iam.send(new PutRolePolicyCommand({ RoleName: 'reader-a', PolicyName: 'read-a', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ssm:GetParameter*', Resource: 'arn:aws:ssm:*:*:parameter/app/a/*' }] }) }));
  iam.destroy();
  const ssm = new SSMClient(berth.clientConfig);
  await ssm.send(new PutParameterCommand({ Name: '/app/a/x', Type: 'String', Value: 'value-of-a' }));
  await ssm.send(new PutParameterCommand({ Name: '/app/b/x', Type: 'String', Value: 'value-of-b' }));
  ssm.destroy();
  const ecs = new ECSClient(berth.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: 'roles' }));

  // Two agents on this host, joined with join tokens (scoped keys), each with its own state dir.
  for (let i = 0; i < 2; i++) {
    const { token } = await callJson<{ token: string }>(root, 'ecs', 'BerthAgentV1.CreateJoinToken', { cluster: 'roles' });
    const stateDir = mkdtempSync(join(tmpdir(), 'berth-role-docker-'));
    dirs.push(stateDir);
    const agent = new Agent({ client: { ...root, accessKeyId: 'unused', secretAccessKey: 'unused' }, cluster: 'roles', joinToken: token, driver: new DockerDriver({ socketPath: engine.socketPath }), stateDir, pollSeconds: 1, taskCredentialSeconds: 10, log: () => undefined });
    await agent.start();
    agents.push(agent);
  }

  await ecs.send(new RegisterTaskDefinitionCommand({
    family: 'sdk-reader',
    taskRoleArn: `arn:aws:iam::${acct}:role/reader-a`,
    containerDefinitions: [{ name: 'app', image: await image, memory: 256, stopTimeout: 2, environment: [{ name: 'BERTH_ENDPOINT', value: berth.url }] }],
  }));
  const taskArns: string[] = [];
  for (const a of agents) taskArns.push((await ecs.send(new StartTaskCommand({ cluster: 'roles', taskDefinition: 'sdk-reader', containerInstances: [a.instanceArn!] }))).tasks![0]!.taskArn!);
  const taskIds = taskArns.map((arn) => arn.split('/').pop()!);

  const logs = new CloudWatchLogsClient(berth.clientConfig);
  const lines = async (taskId: string): Promise<Line[]> => {
    const out = await logs.send(new GetLogEventsCommand({ logGroupName: '/berth/roles', logStreamName: `sdk-reader/app/${taskId}`, startFromHead: true })).catch(() => ({ events: [] }));
    return (out.events ?? []).flatMap((e) => (e.message?.startsWith('{') ? [JSON.parse(e.message) as Line] : []));
  };

  // Each task reads with its role through its own agent's endpoint.
  for (const id of taskIds) {
    const first = await eventually(async () => (await lines(id))[0], { what: `task ${id} to call Berth with its role`, timeoutMs: 90_000, intervalMs: 500 });
    assert.equal(first.a, 'value-of-a', JSON.stringify(first));
    assert.match(first.b, new RegExp(`^AccessDeniedException: User: arn:aws:sts::${acct}:assumed-role/reader-a/${id} is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:${acct}:parameter/app/b/x`));
    assert.ok(Date.parse(first.expiration) - first.at <= 11_000, `a 10-second session: ${JSON.stringify(first)}`);
  }

  // Rotation: the SDK gets a new key before the first one expires, and keeps reading with it.
  const [k1, rotated] = await eventually(async () => {
    const l = await lines(taskIds[0]!);
    const next = l.find((x) => x.key !== l[0]!.key);
    return next && l.some((x) => x.key === next.key && x.a === 'value-of-a') ? [l[0]!, next] as const : undefined;
  }, { what: 'the credentials to rotate', timeoutMs: 30_000, intervalMs: 500 });
  assert.ok(rotated.at < Date.parse(k1.expiration), `rotated at ${new Date(rotated.at).toISOString()}, before the first key's expiry ${k1.expiration}`);
  assert.ok(Date.parse(rotated.expiration) > Date.parse(k1.expiration));

  // What the containers were given: a URI on 169.254.170.2, a port per agent, a token per task.
  const envs = await Promise.all(taskArns.map(async (arn) => {
    const task = (await ecs.send(new DescribeTasksCommand({ cluster: 'roles', tasks: [arn] }))).tasks![0]!;
    const inspect = await engine.call<{ Config: { Env: string[] }; HostConfig: { NetworkMode: string } }>('GET', `/containers/${task.containers![0]!.runtimeId}/json`);
    assert.notEqual(inspect.HostConfig.NetworkMode, 'host');
    const env = Object.fromEntries(inspect.Config.Env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    return { uri: new URL(env.AWS_CONTAINER_CREDENTIALS_FULL_URI!), token: env.AWS_CONTAINER_AUTHORIZATION_TOKEN! };
  }));
  const [e1, e2] = envs as [typeof envs[0], typeof envs[0]];
  assert.equal(e1.uri.hostname, ECS_CREDENTIALS_ADDRESS);
  assert.equal(e2.uri.hostname, ECS_CREDENTIALS_ADDRESS);
  assert.notEqual(e1.uri.port, e2.uri.port, 'each agent listens on a port of its own');
  assert.notEqual(e1.token, e2.token);
  const get = (uri: URL, path: string, token: string) => fetch(new URL(path, uri), { headers: { authorization: token } });
  const own = await get(e1.uri, e1.uri.pathname, e1.token);
  assert.equal(own.status, 200);
  assert.equal(((await own.json()) as { RoleArn: string }).RoleArn, `arn:aws:iam::${acct}:role/reader-a`);
  // Task 1's address with task 2's token; task 2's id with task 1's token at task 2's agent; task 1 at task 2's agent.
  assert.equal((await get(e1.uri, e1.uri.pathname, e2.token)).status, 401);
  assert.equal((await get(e2.uri, e2.uri.pathname, e1.token)).status, 401);
  assert.equal((await get(e2.uri, e1.uri.pathname, e1.token)).status, 404);
  assert.equal((await get(e1.uri, e1.uri.pathname, '')).status, 401);

  // A stopped task's credentials are no longer served.
  await ecs.send(new StopTaskCommand({ cluster: 'roles', task: taskArns[1]!, reason: 'done' }));
  await eventually(async () => (await get(e2.uri, e2.uri.pathname, e2.token)).status === 404, { what: 'the stopped task\'s credentials to be withdrawn', timeoutMs: 30_000, intervalMs: 250 });
  ecs.destroy();
  logs.destroy();
});

test('without the address and without the right to add it, the endpoint says what to run, and tasks with a role cannot get variables', async () => {
  const absent = '169.254.170.77';
  const dir = mkdtempSync(join(tmpdir(), 'berth-role-addr-'));
  dirs.push(dir);
  await assert.rejects(ensureHostAddress(absent, false), new RegExp(`this host does not have it: add it once as root \\(\`ip addr add ${absent}/32 dev lo\`\\) or run the agent as root`));
  const server = new TaskCredentialsServer({ client: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'x', secretAccessKey: 'y' }, clock: systemClock, stateFile: join(dir, 'credentials.json'), address: absent, mayAddAddress: false });
  assert.match((await server.start())!, /ip addr add 169\.254\.170\.77\/32 dev lo/);
  await assert.rejects(server.environmentFor('c', 'arn:aws:ecs:us-east-1:000000000000:task/c/0123456789abcdef0123456789abcdef', '0123456789abcdef0123456789abcdef'), /does not have it/);
  server.close();
});
