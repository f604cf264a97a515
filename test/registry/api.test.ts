// The ECR API with the real aws CLI: repositories and their settings, policies and tags, a push
// through the layer upload operations and PutImage, the image listings and batch calls, download
// URLs, authorization tokens, lifecycle policies, and regions (each its own registry, reached
// over /v2/ by its host name).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aws, awsOk, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { MT, desc, sha256, v2 } from './helpers.js';

const skip = !hasAwsCli() && 'aws CLI not installed';
let berth: TestBerth;
let work: string;
const ecr = (...args: string[]) => awsOk(berth.awsEnv, ['ecr', ...args]);

before(async () => {
  if (skip) return;
  berth = await startTestBerth();
  work = mkdtempSync(join(tmpdir(), 'berth-ecr-api-'));
});
after(async () => {
  if (skip) return;
  rmSync(work, { recursive: true, force: true });
  await berth.close();
});

test('repositories: create with settings, describe (paged), mutability, scanning, policy, tags, delete --force', { skip }, async () => {
  const created = (await ecr('create-repository', '--repository-name', 'api/app', '--image-scanning-configuration', 'scanOnPush=true', '--tags', 'Key=team,Value=core')).repository;
  assert.equal(created.repositoryName, 'api/app');
  assert.equal(created.repositoryUri, `${berth.registry.address}/api/app`);
  assert.equal(created.repositoryArn, `arn:aws:ecr:us-east-1:${berth.credentials.accountId}:repository/api/app`);
  assert.equal(created.registryId, berth.credentials.accountId);
  assert.deepEqual(created.imageScanningConfiguration, { scanOnPush: true });
  assert.equal(created.imageTagMutability, 'MUTABLE');
  assert.deepEqual(created.encryptionConfiguration, { encryptionType: 'AES256' });
  for (const n of ['api/b', 'api/c', 'api/d']) await ecr('create-repository', '--repository-name', n);
  // One repository per page from the server; the CLI follows the tokens.
  const all = await ecr('describe-repositories', '--page-size', '1');
  assert.deepEqual(all.repositories.map((r: any) => r.repositoryName), ['api/app', 'api/b', 'api/c', 'api/d']);
  const mut = await ecr('put-image-tag-mutability', '--repository-name', 'api/b', '--image-tag-mutability', 'IMMUTABLE');
  assert.equal(mut.imageTagMutability, 'IMMUTABLE');
  await ecr('put-image-scanning-configuration', '--repository-name', 'api/b', '--image-scanning-configuration', 'scanOnPush=true');
  const b = (await ecr('describe-repositories', '--repository-names', 'api/b')).repositories[0];
  assert.equal(b.imageTagMutability, 'IMMUTABLE');
  assert.equal(b.imageScanningConfiguration.scanOnPush, true);
  const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'pull', Effect: 'Allow', Principal: '*', Action: ['ecr:BatchGetImage'] }] });
  assert.equal((await ecr('set-repository-policy', '--repository-name', 'api/b', '--policy-text', policy)).policyText, policy);
  assert.equal((await ecr('get-repository-policy', '--repository-name', 'api/b')).policyText, policy);
  await ecr('delete-repository-policy', '--repository-name', 'api/b');
  assert.match((await aws(berth.awsEnv, ['ecr', 'get-repository-policy', '--repository-name', 'api/b'])).stderr, /RepositoryPolicyNotFoundException/);
  await ecr('tag-resource', '--resource-arn', created.repositoryArn, '--tags', 'Key=env,Value=dev', 'Key=team,Value=platform');
  assert.deepEqual((await ecr('list-tags-for-resource', '--resource-arn', created.repositoryArn)).tags, [{ Key: 'team', Value: 'platform' }, { Key: 'env', Value: 'dev' }]);
  await ecr('untag-resource', '--resource-arn', created.repositoryArn, '--tag-keys', 'team');
  assert.deepEqual((await ecr('list-tags-for-resource', '--resource-arn', created.repositoryArn)).tags, [{ Key: 'env', Value: 'dev' }]);
  await ecr('delete-repository', '--repository-name', 'api/d');
  assert.match((await aws(berth.awsEnv, ['ecr', 'describe-repositories', '--repository-names', 'api/d'])).stderr, /RepositoryNotFoundException/);
  const registry = await ecr('describe-registry');
  assert.equal(registry.registryId, berth.credentials.accountId);
  assert.equal((await ecr('get-registry-scanning-configuration')).scanningConfiguration.scanType, 'BASIC');
});

test('a push through the ECR API: layer upload in parts, PutImage; listings, batch get, download URL, batch delete', { skip }, async () => {
  await ecr('create-repository', '--repository-name', 'api/push');
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const layer = Buffer.alloc(300_000, 9);
  const digests: string[] = [];
  for (const blob of [Buffer.from(config), layer]) {
    const { uploadId, partSize } = await ecr('initiate-layer-upload', '--repository-name', 'api/push');
    assert.ok(partSize > 0);
    // Two parts, as a client that splits layers sends them.
    const cut = Math.floor(blob.length / 2);
    for (const [first, part] of [[0, blob.subarray(0, cut)], [cut, blob.subarray(cut)]] as const) {
      const file = join(work, 'part');
      writeFileSync(file, part);
      const r = await ecr('upload-layer-part', '--repository-name', 'api/push', '--upload-id', uploadId, '--part-first-byte', String(first), '--part-last-byte', String(first + part.length - 1), '--layer-part-blob', `fileb://${file}`);
      assert.equal(r.lastByteReceived, first + part.length - 1);
    }
    const done = await ecr('complete-layer-upload', '--repository-name', 'api/push', '--upload-id', uploadId, '--layer-digests', sha256(blob));
    assert.equal(done.layerDigest, sha256(blob));
    digests.push(done.layerDigest);
  }
  const avail = await ecr('batch-check-layer-availability', '--repository-name', 'api/push', '--layer-digests', digests[1]!, sha256('missing'));
  assert.deepEqual(avail.layers.map((l: any) => [l.layerDigest, l.layerAvailability, l.layerSize]), [[digests[1], 'AVAILABLE', layer.length]]);
  assert.deepEqual(avail.failures.map((f: any) => f.failureCode), ['MissingLayerDigest']);
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MT.dockerManifest, config: desc(MT.dockerConfig, config), layers: [desc(MT.dockerLayer, layer)] });
  const manifestFile = join(work, 'manifest.json');
  writeFileSync(manifestFile, manifest);
  const put = await ecr('put-image', '--repository-name', 'api/push', '--image-tag', 'v1', '--image-manifest', `file://${manifestFile}`);
  assert.equal(put.image.imageId.imageDigest, sha256(manifest));
  assert.equal(put.image.imageManifestMediaType, MT.dockerManifest);
  // Also tagged v2; and an untagged second image.
  await ecr('put-image', '--repository-name', 'api/push', '--image-tag', 'v2', '--image-manifest', `file://${manifestFile}`);
  const other = JSON.stringify({ schemaVersion: 2, mediaType: MT.dockerManifest, config: desc(MT.dockerConfig, config), layers: [] });
  writeFileSync(manifestFile, other);
  await ecr('put-image', '--repository-name', 'api/push', '--image-manifest', `file://${manifestFile}`);

  const described = await ecr('describe-images', '--repository-name', 'api/push');
  const byDigest = new Map(described.imageDetails.map((d: any) => [d.imageDigest, d]));
  assert.deepEqual((byDigest.get(sha256(manifest)) as any).imageTags, ['v1', 'v2']);
  assert.equal((byDigest.get(sha256(manifest)) as any).imageSizeInBytes, layer.length);
  assert.equal((byDigest.get(sha256(other)) as any).imageTags, undefined);
  assert.deepEqual((await ecr('list-images', '--repository-name', 'api/push', '--filter', 'tagStatus=UNTAGGED')).imageIds, [{ imageDigest: sha256(other) }]);
  assert.deepEqual(
    (await ecr('list-images', '--repository-name', 'api/push', '--filter', 'tagStatus=TAGGED')).imageIds.map((i: any) => i.imageTag).sort(),
    ['v1', 'v2'],
  );
  const got = await ecr('batch-get-image', '--repository-name', 'api/push', '--image-ids', 'imageTag=v1');
  assert.equal(got.images[0].imageManifest, manifest);
  // The download URL fetches the layer with no credentials.
  const url = (await ecr('get-download-url-for-layer', '--repository-name', 'api/push', '--layer-digest', digests[1]!)).downloadUrl;
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), layer);
  // Deleting a tag keeps an image that has another; deleting its last tag deletes it.
  const d1 = await ecr('batch-delete-image', '--repository-name', 'api/push', '--image-ids', 'imageTag=v1');
  assert.deepEqual(d1.imageIds, [{ imageDigest: sha256(manifest), imageTag: 'v1' }]);
  assert.equal((await ecr('describe-images', '--repository-name', 'api/push')).imageDetails.length, 2);
  await ecr('batch-delete-image', '--repository-name', 'api/push', '--image-ids', 'imageTag=v2');
  assert.equal((await ecr('describe-images', '--repository-name', 'api/push')).imageDetails.length, 1);
  assert.match((await aws(berth.awsEnv, ['ecr', 'delete-repository', '--repository-name', 'api/push'])).stderr, /RepositoryNotEmptyException/);
  await ecr('delete-repository', '--repository-name', 'api/push', '--force');
});

test('authorization tokens: get-authorization-token and get-login-password give user AWS a password /v2/ accepts, for 12 hours', { skip }, async () => {
  const data = (await ecr('get-authorization-token')).authorizationData[0];
  assert.equal(data.proxyEndpoint, `http://${berth.registry.address}`);
  const [user, password] = Buffer.from(data.authorizationToken, 'base64').toString().split(/:(.*)/s);
  assert.equal(user, 'AWS');
  // The CLI prints the timestamp as ISO 8601 (v1's default) or epoch seconds (cli_timestamp_format).
  const expiresMs = typeof data.expiresAt === 'number' ? data.expiresAt * 1000 : Date.parse(data.expiresAt);
  const hours = (expiresMs - Date.now()) / 3600_000;
  assert.ok(hours > 11.9 && hours <= 12, `${hours} h`);
  const login = (await aws(berth.awsEnv, ['ecr', 'get-login-password'])).stdout.trim();
  for (const p of [password!, login]) {
    const r = await v2(berth, 'GET', '/v2/', { auth: `Basic ${Buffer.from(`AWS:${p}`).toString('base64')}` });
    assert.equal(r.status, 200);
  }
});

test('lifecycle policies through the CLI: put, get, preview, delete', { skip }, async () => {
  await ecr('create-repository', '--repository-name', 'api/lc');
  const text = JSON.stringify({ rules: [{ rulePriority: 1, description: 'only the last ten', selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 10 }, action: { type: 'expire' } }] });
  assert.equal((await ecr('put-lifecycle-policy', '--repository-name', 'api/lc', '--lifecycle-policy-text', text)).lifecyclePolicyText, text);
  assert.equal((await ecr('get-lifecycle-policy', '--repository-name', 'api/lc')).lifecyclePolicyText, text);
  assert.equal((await ecr('start-lifecycle-policy-preview', '--repository-name', 'api/lc')).status, 'COMPLETE');
  const preview = await ecr('get-lifecycle-policy-preview', '--repository-name', 'api/lc');
  assert.deepEqual(preview.previewResults, []);
  assert.equal(preview.summary.expiringImageTotalCount, 0);
  await ecr('delete-lifecycle-policy', '--repository-name', 'api/lc');
  assert.match((await aws(berth.awsEnv, ['ecr', 'get-lifecycle-policy', '--repository-name', 'api/lc'])).stderr, /LifecyclePolicyNotFoundException/);
});

test('regions are separate registries: another region\'s repositoryUri names it, and /v2/ serves it under that host name', { skip }, async () => {
  const west = (await awsOk(berth.awsEnv, ['--region', 'us-west-2', 'ecr', 'create-repository', '--repository-name', 'api/west'])).repository;
  const port = new URL(berth.url).port;
  const host = `${berth.credentials.accountId}.dkr.ecr.us-west-2.localhost`;
  assert.equal(west.repositoryUri, `${host}:${port}/api/west`);
  const password = (await aws(berth.awsEnv, ['ecr', 'get-login-password'])).stdout.trim();
  const catalog = (hostHeader: string) =>
    new Promise<any>((resolve, reject) => {
      const req = request(`${berth.url}/v2/_catalog`, { headers: { host: hostHeader, authorization: `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}` } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(JSON.parse(body)));
      });
      req.on('error', reject);
      req.end();
    });
  assert.deepEqual((await catalog(`${host}:${port}`)).repositories, ['api/west']);
  assert.ok(!(await catalog(`127.0.0.1:${port}`)).repositories.includes('api/west'));
});
