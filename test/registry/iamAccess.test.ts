// Registry passwords of IAM users and role sessions act as their principal (issue 17): each
// `/v2/` request is authorized as the ECR action it stands for, on the repository's ARN, with the
// repository policy as resource policy, and a denied one is DENIED (403) in AWS's words. With the
// real docker CLI: a user allowed pull only on iam/a pulls iam/a, is denied pushing to iam/a and
// pulling iam/b; a repository policy allowing its push on iam/b lets it push there; a Deny wins.
// Over raw HTTP: each route's action, and a role session's password until the session expires.
// The docker test is skipped, saying why, when the docker daemon is not reachable.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IAMClient, CreateUserCommand, CreateAccessKeyCommand, CreateRoleCommand, PutRolePolicyCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { STSClient, AssumeRoleCommand } from '@aws-sdk/client-sts';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { startTestBerth, eventually, type TestBerth } from '../helpers/fixture.js';
import { BUSYBOX_IMAGE, ensureBusyboxImage } from '../helpers/images.js';
import { ManualClock } from '../../src/clock.js';
import { dockerWorks, ecrOk, passwordOf, pushImage, registryAuth, v2, type Endpoint } from './helpers.js';

const noDocker = !dockerWorks() ? 'docker daemon not reachable' : undefined;
const clock = new ManualClock(Date.now());
let berth: TestBerth;
let root: Endpoint;
let acct: string;
let iam: IAMClient;
let work: string;
const localTags: string[] = [];

const doc = (...Statement: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement });
const repoArn = (name: string) => `arn:aws:ecr:us-east-1:${acct}:repository/${name}`;

/** A user with one inline policy and an access key (usable once the key is loaded). */
async function userWith(name: string, policy: string): Promise<Endpoint> {
  await iam.send(new CreateUserCommand({ UserName: name }));
  await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'p', PolicyDocument: policy }));
  const k = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
  return { url: berth.url, credentials: { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! } };
}

/** Runs a program; resolves with its output and exit code. */
function run(cmd: string, args: string[], input = ''): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
    p.stdin.end(input);
  });
}

/** docker with its own config directory per identity (so each logs in with its own password). */
async function docker(as: string, ...args: string[]): Promise<string> {
  const r = await run('docker', ['--config', join(work, as), ...args]);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}):\n${r.out}`);
  return r.out;
}

before(async () => {
  berth = await startTestBerth({ clock });
  root = { url: berth.url, credentials: berth.credentials };
  acct = berth.credentials.accountId;
  iam = new IAMClient(berth.clientConfig);
  work = mkdtempSync(join(tmpdir(), 'berth-reg-iam-'));
});

after(async () => {
  for (const t of localTags) await run('docker', ['rmi', '-f', t]).catch(() => undefined);
  iam.destroy();
  await berth.close();
  rmSync(work, { recursive: true, force: true });
});

test('docker: pull-only on iam/a pulls it, is denied pushing iam/a and pulling iam/b; a repository policy lets it push iam/b; a Deny wins', { skip: noDocker }, async () => {
  const addr = berth.registry.address;
  for (const name of ['iam/a', 'iam/b']) await ecrOk(root, 'CreateRepository', { repositoryName: name });
  const rootAuth = await registryAuth(root);
  await pushImage(root, rootAuth, 'iam/b', 'v1');
  // Root builds and pushes an image (FROM scratch busybox plus a file of its own) to iam/a.
  for (const who of ['root', 'dev']) mkdirSync(join(work, who));
  const login = await run('docker', ['--config', join(work, 'root'), 'login', '--username', 'AWS', '--password-stdin', addr], passwordOf(rootAuth));
  assert.equal(login.code, 0, login.out);
  await ensureBusyboxImage();
  const ctx = join(work, 'ctx');
  mkdirSync(ctx);
  const stamp = `${process.pid}-${Date.now()}`;
  writeFileSync(join(ctx, 'own.txt'), `iam test ${stamp}\n`);
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${BUSYBOX_IMAGE}\nCOPY own.txt /own.txt\n`);
  const local = `berth-test/registry-iam:${stamp}`;
  const a = `${addr}/iam/a:v1`;
  localTags.push(local, a, `${addr}/iam/a:v2`, `${addr}/iam/b:dev`, `${addr}/iam/b:denied`, `${addr}/iam/b:v1`);
  await docker('root', 'build', '--network', 'none', '-t', local, ctx);
  await docker('root', 'tag', local, a);
  await docker('root', 'push', a);
  await docker('root', 'rmi', '-f', local, a);

  // dev may pull iam/a only.
  const dev = await userWith('dev', doc({ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }, { Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: repoArn('iam/a') }));
  const devAuth = await eventually(() => registryAuth(dev), { what: 'dev\'s key to work' });
  const devLogin = await run('docker', ['--config', join(work, 'dev'), 'login', '--username', 'AWS', '--password-stdin', addr], passwordOf(devAuth));
  assert.equal(devLogin.code, 0, devLogin.out);
  await docker('dev', 'pull', a);
  assert.equal((await docker('dev', 'run', '--rm', '--network', 'none', a, '/bin/cat', '/own.txt')).trim(), `iam test ${stamp}`);

  await docker('dev', 'tag', a, `${addr}/iam/a:v2`);
  const pushA = await run('docker', ['--config', join(work, 'dev'), 'push', `${addr}/iam/a:v2`]);
  assert.notEqual(pushA.code, 0, pushA.out);
  assert.match(pushA.out, new RegExp(`denied: User: arn:aws:iam::${acct}:user/dev is not authorized to perform: ecr:(PutImage|InitiateLayerUpload) on resource: ${repoArn('iam/a')} because no identity-based policy allows`));
  const pullB = await run('docker', ['--config', join(work, 'dev'), 'pull', `${addr}/iam/b:v1`]);
  assert.notEqual(pullB.code, 0, pullB.out);
  assert.match(pullB.out, new RegExp(`denied: User: arn:aws:iam::${acct}:user/dev is not authorized to perform: ecr:BatchGetImage on resource: ${repoArn('iam/b')} because no identity-based policy allows the ecr:BatchGetImage action`));

  // The repository policy of iam/b allows dev to push there.
  const pushActions = ['ecr:BatchCheckLayerAvailability', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage'];
  await ecrOk(root, 'SetRepositoryPolicy', { repositoryName: 'iam/b', policyText: doc({ Sid: 'DevPushes', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acct}:user/dev` }, Action: pushActions }) });
  await docker('dev', 'tag', a, `${addr}/iam/b:dev`);
  const pushed = await docker('dev', 'push', `${addr}/iam/b:dev`);
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed)?.[1];
  assert.ok(digest, pushed);
  const img = await ecrOk(root, 'DescribeImages', { repositoryName: 'iam/b', imageIds: [{ imageTag: 'dev' }] });
  assert.equal(img.imageDetails[0].imageDigest, digest);
  // Still no pulls of iam/b: the policy allows pushes only.
  assert.equal((await v2(root, 'GET', '/v2/iam/b/manifests/dev', { auth: devAuth })).code(), 'DENIED');

  // A Deny in dev's own policies wins over the repository's Allow.
  await iam.send(new PutUserPolicyCommand({ UserName: 'dev', PolicyName: 'no-put-b', PolicyDocument: doc({ Effect: 'Deny', Action: 'ecr:PutImage', Resource: repoArn('iam/b') }) }));
  await eventually(async () => ((await v2(root, 'PUT', '/v2/iam/b/manifests/probe', { auth: devAuth, body: '{}', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } })).status === 403 ? true : undefined), { what: 'the Deny to apply' });
  await docker('dev', 'tag', a, `${addr}/iam/b:denied`);
  const deniedPush = await run('docker', ['--config', join(work, 'dev'), 'push', `${addr}/iam/b:denied`]);
  assert.notEqual(deniedPush.code, 0, deniedPush.out);
  assert.match(deniedPush.out, new RegExp(`denied: User: arn:aws:iam::${acct}:user/dev is not authorized to perform: ecr:PutImage on resource: ${repoArn('iam/b')} with an explicit deny in an identity-based policy`));
  assert.equal((await ecrCallStatus('iam/b', 'denied')), 'ImageNotFoundException');
});

/** The error code of DescribeImages for a tag (as root), or 'found'. */
async function ecrCallStatus(repo: string, tag: string): Promise<string> {
  const { ecrCall } = await import('./helpers.js');
  const r = await ecrCall(root, 'DescribeImages', { repositoryName: repo, imageIds: [{ imageTag: tag }] });
  return r.status === 200 ? 'found' : r.body.__type;
}

test('each /v2/ route is its ECR action; a role session\'s password acts as the session until it expires', async () => {
  for (const name of ['raw/a', 'raw/b']) await ecrOk(root, 'CreateRepository', { repositoryName: name });
  const rootAuth = await registryAuth(root);
  const img = await pushImage(root, rootAuth, 'raw/a', 'v1');
  await pushImage(root, rootAuth, 'raw/b', 'v1');
  const layer = (JSON.parse(img.manifest.toString()) as { layers: Array<{ digest: string }> }).layers[0]!.digest;

  const reader = await userWith('reader', doc({ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }, { Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: repoArn('raw/a') }));
  const auth = await eventually(() => registryAuth(reader), { what: 'reader\'s key to work' });
  for (const [method, path] of [['GET', '/v2/'], ['GET', '/v2/raw/a/manifests/v1'], ['HEAD', `/v2/raw/a/manifests/${img.digest}`], ['GET', `/v2/raw/a/blobs/${layer}`], ['HEAD', `/v2/raw/a/blobs/${layer}`], ['GET', `/v2/raw/a/referrers/${img.digest}`]] as const) {
    const r = await v2(root, method, path, { auth });
    assert.equal(r.status, 200, `${method} ${path}: ${r.body.toString()}`);
  }
  const user = `arn:aws:iam::${acct}:user/reader`;
  const denied: Array<[string, string, string, string]> = [
    ['GET', '/v2/_catalog', 'ecr:DescribeRepositories', repoArn('*')],
    ['GET', '/v2/raw/a/tags/list', 'ecr:ListImages', repoArn('raw/a')],
    ['POST', '/v2/raw/a/blobs/uploads/', 'ecr:InitiateLayerUpload', repoArn('raw/a')],
    ['PATCH', '/v2/raw/a/blobs/uploads/00000000-0000-4000-8000-000000000000', 'ecr:UploadLayerPart', repoArn('raw/a')],
    ['PUT', `/v2/raw/a/blobs/uploads/00000000-0000-4000-8000-000000000000?digest=${layer}`, 'ecr:CompleteLayerUpload', repoArn('raw/a')],
    ['PUT', '/v2/raw/a/manifests/v2', 'ecr:PutImage', repoArn('raw/a')],
    ['DELETE', `/v2/raw/a/manifests/${img.digest}`, 'ecr:BatchDeleteImage', repoArn('raw/a')],
    ['GET', '/v2/raw/b/manifests/v1', 'ecr:BatchGetImage', repoArn('raw/b')],
    ['GET', `/v2/raw/b/blobs/${layer}`, 'ecr:GetDownloadUrlForLayer', repoArn('raw/b')],
    ['HEAD', `/v2/raw/b/blobs/${layer}`, 'ecr:BatchCheckLayerAvailability', repoArn('raw/b')],
  ];
  for (const [method, path, action, resource] of denied) {
    const r = await v2(root, method, path, { auth, body: method === 'PUT' || method === 'PATCH' ? img.manifest : undefined, headers: method === 'PUT' ? { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' } : undefined });
    assert.equal(r.status, 403, `${method} ${path}: ${r.body.toString()}`);
    if (method === 'HEAD') continue;
    assert.equal(r.code(), 'DENIED');
    assert.equal(r.json().errors[0].message, `User: ${user} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`);
  }
  // A repository policy set now applies to the very next request (decisions are reused only for the same policy).
  await ecrOk(root, 'SetRepositoryPolicy', { repositoryName: 'raw/b', policyText: doc({ Effect: 'Allow', Principal: { AWS: user }, Action: 'ecr:BatchGetImage' }) });
  assert.equal((await v2(root, 'GET', '/v2/raw/b/manifests/v1', { auth })).status, 200);
  await ecrOk(root, 'DeleteRepositoryPolicy', { repositoryName: 'raw/b' });
  assert.equal((await v2(root, 'GET', '/v2/raw/b/manifests/v1', { auth })).status, 403);
  // Nothing changed: the image is still there, no tag v2.
  assert.equal(await ecrCallStatus('raw/a', 'v1'), 'found');
  assert.equal(await ecrCallStatus('raw/a', 'v2'), 'ImageNotFoundException');

  // A role that reader may assume, allowed everything on raw/b only.
  const trust = doc({ Effect: 'Allow', Principal: { AWS: user }, Action: 'sts:AssumeRole' });
  const role = (await iam.send(new CreateRoleCommand({ RoleName: 'b-admin', AssumeRolePolicyDocument: trust }))).Role!;
  await iam.send(new PutRolePolicyCommand({ RoleName: 'b-admin', PolicyName: 'b', PolicyDocument: doc({ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }, { Effect: 'Allow', Action: 'ecr:*', Resource: repoArn('raw/b') }) }));
  const cfg = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) => ({ ...berth.clientConfig, credentials, systemClockOffset: clock.now() - Date.now() });
  const sts = new STSClient(cfg(reader.credentials));
  const c = (await sts.send(new AssumeRoleCommand({ RoleArn: role.Arn, RoleSessionName: 'ci', DurationSeconds: 900 }))).Credentials!;
  sts.destroy();
  const ecr = new ECRClient(cfg({ accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! }));
  const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
  ecr.destroy();
  const sessionAuth = `Basic ${token}`;
  assert.equal((await v2(root, 'GET', '/v2/raw/b/tags/list', { auth: sessionAuth })).json().tags.includes('v1'), true);
  const other = await v2(root, 'GET', '/v2/raw/a/manifests/v1', { auth: sessionAuth });
  assert.equal(other.status, 403);
  assert.equal(other.json().errors[0].message, `User: arn:aws:sts::${acct}:assumed-role/b-admin/ci is not authorized to perform: ecr:BatchGetImage on resource: ${repoArn('raw/a')} because no identity-based policy allows the ecr:BatchGetImage action`);
  // The session expires: its password stops working although the password itself is still valid.
  await clock.advance(901_000);
  const expired = await v2(root, 'GET', '/v2/raw/b/tags/list', { auth: sessionAuth });
  assert.equal(expired.status, 401);
  assert.equal(expired.code(), 'UNAUTHORIZED');
  // The user's own password (of a long-lived key) still works.
  assert.equal((await v2(root, 'GET', '/v2/raw/a/manifests/v1', { auth })).status, 200);
});
