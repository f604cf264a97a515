// Agents pull from Berth's registry: an image built here (FROM scratch with the host's static
// busybox) is pushed with docker to `<registry>/agents/web:live`, removed from the engine, and a
// service whose task definition names it by tag runs on two docker agents, each pulling with
// the registry token it gets through ECR's GetAuthorizationToken. The deployment pins the tag's
// digest (DescribeTasks shows it as imageDigest): after a new image is pushed to the same tag,
// a replaced task of the old deployment still runs the old digest, and a new deployment rolls
// every task to the new one. A task naming a tag that does not exist fails with
// CannotPullContainerError naming the repository, the tag and the tags that exist.
// Skipped, with the reason, without docker or the aws CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.js';
import { DockerDriver } from '../../src/agent/drivers/docker.js';
import { AWS_CLI, awsOk, eventually, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { BUSYBOX_IMAGE, ensureBusyboxImage } from '../helpers/images.js';
import { dockerWorks } from './helpers.js';
import { testAgent } from '../helpers/agents.js';

const why = !hasAwsCli() ? 'aws CLI not installed' : !dockerWorks() ? 'docker daemon not reachable' : undefined;

let berth: TestBerth;
let work: string;
let repo: string;
const agents: Agent[] = [];
/** The digest `:live` names after the first test. */
let liveDigest: string | undefined;
const localTags: string[] = [];

function run(cmd: string, args: string[], input = '', env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${out}\n${err}`))));
    p.stdin.end(input);
  });
}
const docker = (...args: string[]) => run('docker', ['--config', join(work, 'docker-config'), ...args]);
const ecs = (...args: string[]) => awsOk(berth.awsEnv, ['ecs', ...args]);

/** Builds an image serving `text` at / on port 8080, pushes it as `<repo>:<tag>`, and removes it from the engine. Returns its digest. */
async function pushVersion(text: string, tag: string): Promise<string> {
  const ctx = join(work, `ctx-${text}`);
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'index.html'), `${text}\n`);
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${BUSYBOX_IMAGE}\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n`);
  const remote = `${repo}:${tag}`;
  await docker('build', '--network', 'none', '-t', remote, ctx);
  const pushed = await docker('push', remote);
  const m = /digest: (sha256:[0-9a-f]{64})/.exec(pushed);
  assert.ok(m, pushed);
  // The agents must pull it: nothing of it stays in the engine under the registry's name.
  await docker('rmi', '-f', remote);
  localTags.push(`${repo}@${m[1]}`);
  return m[1]!;
}

interface TaskView {
  taskArn: string;
  lastStatus: string;
  startedBy?: string;
  containerInstanceArn: string;
  stoppedReason?: string;
  containers: Array<{ name: string; imageDigest?: string; reason?: string; networkBindings?: Array<{ hostPort: number }> }>;
}

async function serviceTasks(): Promise<TaskView[]> {
  const arns: string[] = (await ecs('list-tasks', '--service-name', 'web')).taskArns;
  return arns.length ? (await ecs('describe-tasks', '--tasks', ...arns)).tasks : [];
}

async function answer(t: TaskView): Promise<string> {
  const port = t.containers[0]!.networkBindings![0]!.hostPort;
  return eventually(async () => {
    const r = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
    return r?.ok ? (await r.text()).trim() : undefined;
  }, { what: `the task on port ${port} to answer` });
}

/** Waits for the service's running tasks to be exactly `count`, all with `digest`, and answers what they serve. */
async function runningWith(count: number, digest: string): Promise<{ tasks: TaskView[]; bodies: string[] }> {
  let seen: unknown;
  const tasks = await eventually(async () => {
    const ts = await serviceTasks();
    seen = ts.map((t) => ({ status: t.lastStatus, reason: t.stoppedReason, containers: t.containers.map((c) => ({ digest: c.imageDigest, reason: c.reason })) }));
    const running = ts.filter((t) => t.lastStatus === 'RUNNING');
    return ts.length === count && running.length === count && running.every((t) => t.containers[0]!.imageDigest === digest) ? running : undefined;
  }, { what: `${count} running tasks of ${digest}`, timeoutMs: 120_000, intervalMs: 500 }).catch((e: Error) => {
    throw new Error(`${e.message}; the service's tasks: ${JSON.stringify(seen)}`);
  });
  return { tasks, bodies: await Promise.all(tasks.map(answer)) };
}

before(async () => {
  if (why) return;
  berth = await startTestBerth();
  work = mkdtempSync(join(tmpdir(), 'berth-registry-agents-'));
  mkdirSync(join(work, 'docker-config'));
  await ensureBusyboxImage();
  for (const az of ['a', 'b']) {
    const stateDir = join(work, `agent-${az}`);
    mkdirSync(stateDir);
    const agent = testAgent(berth, stateDir, { driver: new DockerDriver(), pollSeconds: 2, attributes: { 'ecs.availability-zone': `us-east-1${az}` } });
    await agent.start();
    agents.push(agent);
  }
  repo = (await awsOk(berth.awsEnv, ['ecr', 'create-repository', '--repository-name', 'agents/web'])).repository.repositoryUri;
});

after(async () => {
  if (why) return;
  for (const a of agents) await a.close({ stopTasks: true });
  for (const t of localTags) await docker('rmi', '-f', t).catch(() => undefined);
  await berth.close();
  rmSync(work, { recursive: true, force: true });
});

test('a service runs a Berth repository image by tag on two agents that never had it; its deployment pins the digest; a new deployment rolls to the new one', { skip: why, timeout: 600_000 }, async () => {
  const password = (await run(AWS_CLI, ['--endpoint-url', berth.url, 'ecr', 'get-login-password'], '', berth.awsEnv)).trim();
  assert.match(await run('docker', ['--config', join(work, 'docker-config'), 'login', '--username', 'AWS', '--password-stdin', berth.registry.address], password), /Login Succeeded/);

  const v1 = await pushVersion('v1', 'live');
  await ecs('register-task-definition', '--family', 'web', '--container-definitions', JSON.stringify([{ name: 'web', image: `${repo}:live`, memory: 32, stopTimeout: 2, portMappings: [{ containerPort: 8080, hostPort: 0 }] }]));
  await ecs('create-service', '--service-name', 'web', '--task-definition', 'web', '--desired-count', '2');
  const first = await runningWith(2, v1);
  assert.deepEqual(first.bodies, ['v1', 'v1']);
  assert.equal(new Set(first.tasks.map((t) => t.containerInstanceArn)).size, 2, 'one task on each agent');
  const deployment = first.tasks[0]!.startedBy;

  // The tag moves; a replaced task of the running deployment still runs the pinned digest.
  const v2 = await pushVersion('v2', 'live');
  assert.notEqual(v2, v1);
  await ecs('stop-task', '--task', first.tasks[0]!.taskArn, '--reason', 'replace me');
  const replaced = await eventually(async () => {
    const ts = (await serviceTasks()).filter((t) => t.lastStatus === 'RUNNING' && t.taskArn !== first.tasks[0]!.taskArn);
    return ts.length === 2 ? ts : undefined;
  }, { what: 'the stopped task to be replaced', timeoutMs: 120_000, intervalMs: 500 });
  for (const t of replaced) {
    assert.equal(t.startedBy, deployment);
    assert.equal(t.containers[0]!.imageDigest, v1, 'the deployment runs the digest it started with');
    assert.equal(await answer(t), 'v1');
  }

  // A new deployment resolves the tag again: every task rolls to v2.
  await ecs('update-service', '--service', 'web', '--force-new-deployment');
  const second = await runningWith(2, v2);
  assert.deepEqual(second.bodies, ['v2', 'v2']);
  assert.ok(second.tasks.every((t) => t.startedBy !== deployment));
  liveDigest = v2;
});

test('RunTask of a tag: the agent reports the digest it pulled (imageDigest in DescribeTasks)', { skip: why }, async () => {
  assert.ok(liveDigest, 'the service test ran first');
  const taskArn = (await ecs('run-task', '--task-definition', 'web')).tasks[0].taskArn;
  const running: TaskView = await eventually(async () => {
    const t = (await ecs('describe-tasks', '--tasks', taskArn)).tasks[0];
    return t.lastStatus === 'RUNNING' ? t : undefined;
  }, { what: 'the task to run', timeoutMs: 60_000, intervalMs: 500 });
  assert.equal(running.containers[0]!.imageDigest, liveDigest);
  assert.equal(await answer(running), 'v2');
  await ecs('stop-task', '--task', taskArn);
});

test('a tag that does not exist: the task fails with CannotPullContainerError naming the repository, the tag and the tags there are', { skip: why }, async () => {
  await ecs('register-task-definition', '--family', 'missing', '--container-definitions', JSON.stringify([{ name: 'web', image: `${repo}:latest`, memory: 32 }]));
  const taskArn = (await ecs('run-task', '--task-definition', 'missing')).tasks[0].taskArn;
  const stopped: TaskView = await eventually(async () => {
    const t = (await ecs('describe-tasks', '--tasks', taskArn)).tasks[0];
    return t.lastStatus === 'STOPPED' ? t : undefined;
  }, { what: 'the task to stop', timeoutMs: 60_000, intervalMs: 500 });
  const reason = stopped.containers[0]!.reason ?? '';
  assert.match(reason, /^CannotPullContainerError: /);
  assert.match(reason, /repository 'agents\/web' has no tag 'latest'; its tags: live/);
  assert.match(stopped.stoppedReason ?? '', /CannotPullContainerError/);
});
