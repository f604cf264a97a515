// `berth join-token create/list/revoke` and `berth agent --join-token`, through the CLI: a token
// joins once (the agent keeps its own key in identity.json and restarts without the token), the
// joined agent registers and runs a task; a revoked or expired token cannot join; deregistering
// the instance revokes its key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, CreateClusterCommand, RegisterTaskDefinitionCommand, RunTaskCommand, DescribeTasksCommand, DeregisterContainerInstanceCommand } from '@aws-sdk/client-ecs';
import { startTestBerth, eventually, type TestBerth } from '../helpers/fixture.js';
import { BERTH_BIN, killTaskProcessesUnder } from '../helpers/processes.js';
import { ManualClock } from '../../src/clock.js';
import { callJson, AwsApiError } from '../../src/client/awsClient.js';
import { berth as runCli } from './helpers.js';

let b: TestBerth;
let env: NodeJS.ProcessEnv;
const dirs: string[] = [];
const children: ChildProcess[] = [];

before(async () => {
  b = await startTestBerth();
  env = { AWS_ACCESS_KEY_ID: b.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: b.credentials.secretAccessKey, AWS_ENDPOINT_URL: b.url, AWS_REGION: 'us-east-1' };
  const ecs = new ECSClient(b.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: 'jt' }));
  ecs.destroy();
});
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await b.close();
  for (const d of dirs) {
    killTaskProcessesUnder(d);
    rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
});

/** `berth agent` with no AWS credentials at all: only the join token (flag or BERTH_JOIN_TOKEN) or the state dir's identity. */
function agent(url: string, stateDir: string, opts: { flag?: string; envToken?: string } = {}) {
  const args = [BERTH_BIN, 'agent', '--server', url, '--cluster', 'jt', '--driver', 'process', '--state-dir', stateDir, ...(opts.flag ? ['--join-token', opts.flag] : [])];
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_REGION: 'us-east-1', ...(opts.envToken ? { BERTH_JOIN_TOKEN: opts.envToken } : {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

const instanceOf = (out: string) => /instance (arn:[^\s,]+)/.exec(out)?.[1];

test('join-token create prints a token; berth agent --join-token joins, registers and runs a task; it restarts from identity.json; deregistering revokes its key', async () => {
  const created = await runCli(['join-token', 'create', '--cluster', 'jt', '--expires-in', '1h'], env);
  assert.equal(created.status, 0, created.stderr);
  const token = created.stdout.trim();
  assert.match(token, /^BJTA[A-Z2-7]{16}:\S+$/);
  const listed = await runCli(['join-token', 'list', '--cluster', 'jt', '--output', 'json'], env);
  assert.equal(listed.status, 0, listed.stderr);
  const tokens = (JSON.parse(listed.stdout) as { joinTokens: Array<{ tokenId: string; expired: boolean }> }).joinTokens;
  assert.deepEqual(tokens.map((t) => [t.tokenId, t.expired]), [[token.slice(0, token.indexOf(':')), false]]);
  assert.ok(!listed.stdout.includes(token.slice(token.indexOf(':') + 1)), 'list never shows a secret');

  const stateDir = mkdtempSync(join(tmpdir(), 'berth-jt-agent-'));
  dirs.push(stateDir);
  const a = agent(b.url, stateDir, { envToken: token });
  const arn = await eventually(() => instanceOf(a.output()), { what: `the joined agent to register: ${a.output()}`, timeoutMs: 20_000 });
  assert.match(arn, /:container-instance\/jt\/[a-f0-9]{32}$/);

  const ecs = new ECSClient(b.clientConfig);
  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'hello', containerDefinitions: [{ name: 'app', image: 'host', memory: 32, command: ['sh', '-c', 'echo joined-ok'] }] }));
  const run = await ecs.send(new RunTaskCommand({ cluster: 'jt', taskDefinition: 'hello' }));
  const taskArn = run.tasks![0]!.taskArn!;
  const done = await eventually(async () => {
    const t = (await ecs.send(new DescribeTasksCommand({ cluster: 'jt', tasks: [taskArn] }))).tasks![0]!;
    return t.lastStatus === 'STOPPED' && t;
  }, { what: 'the task on the joined agent to run and stop', timeoutMs: 30_000 });
  assert.equal(done.containerInstanceArn, arn);
  assert.equal(done.containers![0]!.exitCode, 0);

  // Restarted without any token or credentials: the same instance, from identity.json.
  a.child.kill('SIGTERM');
  await a.exited;
  const again = agent(b.url, stateDir);
  assert.equal(await eventually(() => instanceOf(again.output()), { what: `the agent to restart: ${again.output()}`, timeoutMs: 20_000 }), arn);
  again.child.kill('SIGTERM');
  await again.exited;

  // Deregistered: the instance's key no longer signs anything.
  await ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'jt', containerInstance: arn, force: true }));
  const id = JSON.parse(readFileSync(join(stateDir, 'identity.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
  const e = await callJson({ endpoint: b.url, region: 'us-east-1', ...id }, 'ecs', 'BerthAgentV1.Poll', { cluster: 'jt', containerInstanceArn: arn }).then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof AwsApiError && e.code === 'UnrecognizedClientException', `expected UnrecognizedClientException, got ${String(e)}`);
  ecs.destroy();
});

test('a revoked join token cannot join: berth agent exits with the error; revoke of an unknown token is an error', async () => {
  const token = (await runCli(['join-token', 'create', '--cluster', 'jt'], env)).stdout.trim();
  const revoked = await runCli(['join-token', 'revoke', '--cluster', 'jt', token.slice(0, token.indexOf(':'))], env);
  assert.equal(revoked.status, 0, revoked.stderr);
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-jt-revoked-'));
  dirs.push(stateDir);
  const a = agent(b.url, stateDir, { flag: token });
  assert.equal(await a.exited, 1, a.output());
  assert.match(a.output(), /berth: UnrecognizedClientException/);
  const again = await runCli(['join-token', 'revoke', '--cluster', 'jt', token.slice(0, token.indexOf(':'))], env);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /berth: InvalidParameterException: No join token BJTA/);
  const bad = await runCli(['agent', '--join-token', 'not-a-token', '--cluster', 'jt'], {});
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /not a Berth join token/);
});

test('an expired join token cannot join (the server\'s clock moved past its expiry)', async () => {
  const clock = new ManualClock(Date.now());
  const other = await startTestBerth({ clock });
  try {
    const ecs = new ECSClient(other.clientConfig);
    await ecs.send(new CreateClusterCommand({ clusterName: 'jt' }));
    ecs.destroy();
    const otherEnv = { ...env, AWS_ACCESS_KEY_ID: other.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: other.credentials.secretAccessKey, AWS_ENDPOINT_URL: other.url };
    const token = (await runCli(['join-token', 'create', '--cluster', 'jt', '--expires-in', '5m'], otherEnv)).stdout.trim();
    clock.advance(6 * 60_000); // within SigV4's 15-minute skew, past the token's life
    const stateDir = mkdtempSync(join(tmpdir(), 'berth-jt-expired-'));
    dirs.push(stateDir);
    const a = agent(other.url, stateDir, { flag: token });
    assert.equal(await a.exited, 1, a.output());
    assert.match(a.output(), /berth: ExpiredTokenException/);
    const list = await runCli(['join-token', 'list', '--cluster', 'jt'], otherEnv);
    assert.match(list.stdout, /expired/);
  } finally {
    await other.close();
  }
});
