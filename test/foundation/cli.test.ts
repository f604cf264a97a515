// The foundation as a person uses it: `berth up` as a process, `berth credentials`, and the
// real aws CLI for sts and ecs clusters; graceful shutdown; state across restarts; reset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnBerth, BERTH_BIN } from '../helpers/processes.js';
import { aws, awsOk, awsEnvFor, hasAwsCli, resetBerth } from '../helpers/fixture.js';

function berthCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [BERTH_BIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
}

test('aws CLI against berth up: identity, clusters, failures, delete; credentials --export; SIGTERM; restart keeps state', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  try {
    const env = { BERTH_ROOT_ACCESS_KEY_ID: 'AKIABERTHTESTKEY0001', BERTH_ROOT_SECRET_ACCESS_KEY: 'berth-test-secret-key-000000000000000000' };
    const up = await spawnBerth(['--no-agent', '--data-dir', dataDir], env);
    assert.match(up.output(), /credentials/);
    assert.equal(statSync(join(dataDir, 'credentials.json')).mode & 0o777, 0o600);

    const exported = berthCli(['credentials', '--export', '--data-dir', dataDir]);
    assert.equal(exported.status, 0, exported.stderr);
    const vars = Object.fromEntries(exported.stdout.trim().split('\n').map((l) => l.replace(/^export /, '').split(/=(.*)/s).slice(0, 2) as [string, string]));
    assert.ok(exported.stdout.trim().split('\n').every((l) => l.startsWith('export ')), 'lines a shell can eval');
    // aws CLI v1 reads only AWS_DEFAULT_REGION.
    assert.equal(vars.AWS_DEFAULT_REGION, 'us-east-1');
    assert.equal(vars.AWS_REGION, 'us-east-1');
    // What a user types: eval the lines in a shell with no AWS settings, then the aws CLI.
    const shell = spawnSync('bash', ['-c', `eval "$(${JSON.stringify(process.execPath)} ${JSON.stringify(BERTH_BIN)} credentials --export --data-dir ${JSON.stringify(dataDir)})" && aws sts get-caller-identity --query Arn --output text`], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    assert.equal(shell.status, 0, shell.stderr);
    assert.match(shell.stdout, /^arn:aws:iam::\d{12}:root$/m);
    assert.equal(vars.AWS_ACCESS_KEY_ID, env.BERTH_ROOT_ACCESS_KEY_ID);
    assert.equal(vars.AWS_SECRET_ACCESS_KEY, env.BERTH_ROOT_SECRET_ACCESS_KEY);
    assert.equal(vars.AWS_ENDPOINT_URL, up.url);

    const awsEnv = awsEnvFor(vars.AWS_ENDPOINT_URL!, { accessKeyId: vars.AWS_ACCESS_KEY_ID!, secretAccessKey: vars.AWS_SECRET_ACCESS_KEY! });
    const id = await awsOk(awsEnv, ['sts', 'get-caller-identity']);
    assert.match(id.Account, /^\d{12}$/);
    assert.equal(id.Arn, `arn:aws:iam::${id.Account}:root`);

    const created = await awsOk(awsEnv, ['ecs', 'create-cluster', '--cluster-name', 'demo']);
    assert.equal(created.cluster.clusterArn, `arn:aws:ecs:us-east-1:${id.Account}:cluster/demo`);
    const listed = await awsOk(awsEnv, ['ecs', 'list-clusters']);
    assert.deepEqual(listed.clusterArns, [created.cluster.clusterArn]);
    const described = await awsOk(awsEnv, ['ecs', 'describe-clusters', '--clusters', 'demo', 'nope']);
    assert.equal(described.clusters[0].clusterName, 'demo');
    assert.deepEqual(described.failures, [{ arn: `arn:aws:ecs:us-east-1:${id.Account}:cluster/nope`, reason: 'MISSING' }]);
    const status = await awsOk(awsEnv, ['ecs', 'describe-clusters', '--clusters', 'demo', '--query', 'clusters[0].status', '--output', 'text']);
    assert.equal(status, 'ACTIVE');
    await awsOk(awsEnv, ['ecs', 'create-cluster', '--cluster-name', 'keep']);
    const deleted = await awsOk(awsEnv, ['ecs', 'delete-cluster', '--cluster', 'demo']);
    assert.equal(deleted.cluster.status, 'INACTIVE');

    const wrong = await aws({ ...awsEnv, AWS_SECRET_ACCESS_KEY: 'not-the-secret' }, ['ecs', 'list-clusters']);
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /InvalidSignatureException/);
    const wrongSts = await aws({ ...awsEnv, AWS_SECRET_ACCESS_KEY: 'not-the-secret' }, ['sts', 'get-caller-identity']);
    assert.match(wrongSts.stderr, /SignatureDoesNotMatch/);
    const unknownKey = await aws({ ...awsEnv, AWS_ACCESS_KEY_ID: 'AKIAUNKNOWN000000000' }, ['sts', 'get-caller-identity']);
    assert.match(unknownKey.stderr, /InvalidClientTokenId/);

    // Reset is refused without --ephemeral.
    const reset = await fetch(`${up.url}/_berth/reset`, { method: 'POST' });
    assert.equal(reset.status, 403);

    up.child.kill('SIGTERM');
    assert.equal(await up.exited, 0);
    assert.match(up.output(), /shutting down/);

    // Same data dir, same credentials (env no longer needed), same clusters.
    const again = await spawnBerth(['--no-agent', '--data-dir', dataDir]);
    const env2 = { ...awsEnv, AWS_ENDPOINT_URL: again.url };
    const after = await awsOk(env2, ['ecs', 'list-clusters']);
    assert.deepEqual(after.clusterArns, [`arn:aws:ecs:us-east-1:${id.Account}:cluster/keep`]);
    again.child.kill('SIGINT');
    assert.equal(await again.exited, 0);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('berth up --ephemeral: reset wipes state; the temp dir is gone after exit', async () => {
  const up = await spawnBerth(['--no-agent', '--ephemeral']);
  const creds = /AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)/.exec(up.output())!;
  const { ECSClient, CreateClusterCommand, ListClustersCommand } = await import('@aws-sdk/client-ecs');
  const ecs = new ECSClient({ endpoint: up.url, region: 'us-east-1', credentials: { accessKeyId: creds[1]!, secretAccessKey: creds[2]! }, maxAttempts: 1 });
  await ecs.send(new CreateClusterCommand({ clusterName: 'temp' }));
  assert.equal((await ecs.send(new ListClustersCommand({}))).clusterArns?.length, 1);
  const health = await (await fetch(`${up.url}/_berth/health`)).json();
  assert.equal(health.status, 'ok');
  assert.equal(health.ephemeral, true);
  // Reset needs a signed request (a cross-origin page cannot forge one), then wipes the state.
  const unsigned = await fetch(`${up.url}/_berth/reset`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
  assert.equal(unsigned.status, 403);
  assert.equal((await ecs.send(new ListClustersCommand({}))).clusterArns?.length, 1, 'nothing reset');
  const reset = await resetBerth(up.url, { accessKeyId: creds[1]!, secretAccessKey: creds[2]! });
  assert.equal(reset.status, 200);
  assert.equal((await ecs.send(new ListClustersCommand({}))).clusterArns?.length, 0);
  ecs.destroy();
  const dir = /state: (\S+) \(ephemeral/.exec(up.output())![1]!;
  assert.ok(existsSync(join(dir, 'state.db')));
  up.child.kill('SIGTERM');
  assert.equal(await up.exited, 0);
  assert.equal(existsSync(dir), false);
});

test('berth: usage errors are clear and exit 2', () => {
  const r = berthCli(['frobnicate']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /Unknown command 'frobnicate'/);
  const bad = berthCli(['up', '--port', 'eleven']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--port/);
  const none = berthCli(['credentials', '--data-dir', join(tmpdir(), 'berth-does-not-exist-' + process.pid)]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /No credentials/);
});
