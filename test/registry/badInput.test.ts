// Bad input to the registry, over /v2/ and the ECR API: each case gets the OCI spec's or ECR's
// exact error code, never a 500, and leaves nothing half made (no blob from a wrong digest or a
// truncated upload, no image from a refused manifest).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startTestBerth, eventually, type TestBerth } from '../helpers/fixture.js';
import { MT, desc, ecrCall, ecrOk, pushBlob, pushImage, registryAuth, sha256, v2 } from './helpers.js';

let berth: TestBerth;
let auth: string;
const statuses: number[] = [];

before(async () => {
  berth = await startTestBerth({ registry: { maxBlobBytes: 1024 * 1024 } });
  auth = await registryAuth(berth);
  for (const name of ['app', 'locked']) await ecrOk(berth, 'CreateRepository', { repositoryName: name });
  await ecrOk(berth, 'PutImageTagMutability', { repositoryName: 'locked', imageTagMutability: 'IMMUTABLE' });
});
after(async () => {
  // Not one request of this file got a server error.
  assert.ok(statuses.length > 40);
  assert.deepEqual(statuses.filter((s) => s >= 500), []);
  await berth?.close();
});

/** A /v2/ request that must fail with `status` and OCI `code`. */
async function refused(method: string, path: string, status: number, code: string, opts: { body?: Buffer | string; headers?: Record<string, string>; auth?: string } = {}) {
  const r = await v2(berth, method, path, { auth: opts.auth ?? auth, ...opts });
  statuses.push(r.status);
  assert.equal(r.status, status, `${method} ${path.slice(0, 80)}: ${r.body.toString().slice(0, 300)}`);
  if (method !== 'HEAD') assert.equal(r.code(), code, `${method} ${path.slice(0, 80)}`);
  return r;
}

/** An ECR call that must fail with `code`. */
async function ecrRefused(operation: string, input: unknown, code: string) {
  const r = await ecrCall(berth, operation, input);
  statuses.push(r.status);
  assert.equal(r.body.__type, code, `${operation}: ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}

test('wrong, malformed and missing digests: DIGEST_INVALID, and no blob', async () => {
  const data = Buffer.from('the real bytes');
  const claimed = sha256('other bytes');
  await refused('POST', `/v2/app/blobs/uploads/?digest=${claimed}`, 400, 'DIGEST_INVALID', { body: data });
  assert.equal((await v2(berth, 'HEAD', `/v2/app/blobs/${claimed}`, { auth })).status, 404);
  assert.equal((await v2(berth, 'HEAD', `/v2/app/blobs/${sha256(data)}`, { auth })).status, 404);
  // A chunked upload completed with the wrong digest ends its session.
  const loc = (await v2(berth, 'POST', '/v2/app/blobs/uploads/', { auth })).headers.get('location')!;
  await v2(berth, 'PATCH', loc, { auth, body: data });
  await refused('PUT', `${loc}?digest=${claimed}`, 400, 'DIGEST_INVALID');
  await refused('GET', loc, 404, 'BLOB_UPLOAD_UNKNOWN');
  for (const bad of ['sha256:xyz', 'sha256:' + 'A'.repeat(64), 'nocolon', 'sha256:', ':abc', 'md5:' + 'a'.repeat(32)]) {
    await refused('POST', `/v2/app/blobs/uploads/?digest=${encodeURIComponent(bad)}`, 400, 'DIGEST_INVALID', { body: data });
  }
  const open = (await v2(berth, 'POST', '/v2/app/blobs/uploads/', { auth })).headers.get('location')!;
  await refused('PUT', open, 400, 'DIGEST_INVALID', { body: data });
  await refused('GET', '/v2/app/blobs/sha256:zz', 400, 'DIGEST_INVALID');
  await refused('GET', `/v2/app/blobs/${sha256('never')}`, 404, 'BLOB_UNKNOWN');
  await refused('HEAD', `/v2/app/blobs/${sha256('never')}`, 404, 'BLOB_UNKNOWN');
});

test('a truncated upload (the client goes away mid-body) leaves no blob; completing it with the full digest is DIGEST_INVALID', async () => {
  const whole = Buffer.alloc(10_000, 7);
  const loc = (await v2(berth, 'POST', '/v2/app/blobs/uploads/', { auth })).headers.get('location')!;
  const port = new URL(berth.url).port;
  await new Promise<void>((resolve) => {
    const sock = connect(Number(port), '127.0.0.1', () => {
      sock.write(`PATCH ${loc} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: ${auth}\r\nContent-Length: ${whole.length}\r\n\r\n`);
      sock.end(whole.subarray(0, 4000));
    });
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
    sock.setTimeout(20_000, () => sock.destroy());
  });
  // The session keeps a prefix of what was sent (possibly nothing: the body was cut before it was read).
  const status = await eventually(async () => {
    const r = await v2(berth, 'GET', loc, { auth });
    return r.status === 204 ? r : undefined;
  }, { what: 'the upload session' });
  const size = Number(status.headers.get('range')!.split('-')[1]) + 1;
  assert.ok(size <= 4000);
  await refused('PUT', `${loc}?digest=${sha256(whole)}`, 400, 'DIGEST_INVALID');
  assert.equal((await v2(berth, 'HEAD', `/v2/app/blobs/${sha256(whole)}`, { auth })).status, 404);
});

test('Content-Range that does not fit: RANGE_INVALID (416) or SIZE_INVALID; an oversize blob: SIZE_INVALID (413)', async () => {
  const loc = (await v2(berth, 'POST', '/v2/app/blobs/uploads/', { auth })).headers.get('location')!;
  await refused('PATCH', loc, 416, 'RANGE_INVALID', { body: 'abc', headers: { 'content-range': '5-7' } });
  await refused('PATCH', loc, 416, 'RANGE_INVALID', { body: 'abc', headers: { 'content-range': 'bytes=garbage' } });
  await refused('PATCH', loc, 400, 'SIZE_INVALID', { body: 'abc', headers: { 'content-range': '0-9' } });
  assert.equal((await v2(berth, 'GET', loc, { auth })).headers.get('range'), '0-0', 'nothing was appended');
  // This Berth takes blobs of at most 1 MiB.
  await refused('POST', `/v2/app/blobs/uploads/?digest=${sha256(Buffer.alloc(2 << 20))}`, 413, 'SIZE_INVALID', { body: Buffer.alloc(2 << 20) });
});

test('manifests: invalid JSON or schema, unknown or contradictory media types, missing blobs, wrong sizes, wrong digest, too large', async () => {
  const config = await pushBlob(berth, auth, 'app', '{"architecture":"amd64","os":"linux"}');
  const layer = await pushBlob(berth, auth, 'app', 'a layer');
  const good = { schemaVersion: 2, mediaType: MT.dockerManifest, config: { mediaType: MT.dockerConfig, digest: config, size: 37 }, layers: [{ mediaType: MT.dockerLayer, digest: layer, size: 7 }] };
  const put = (_ref: string, body: unknown, ct = MT.dockerManifest) => ({ body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': ct } });
  await refused('PUT', '/v2/app/manifests/x', 400, 'MANIFEST_INVALID', put('x', 'not json'));
  await refused('PUT', '/v2/app/manifests/x', 400, 'MANIFEST_INVALID', put('x', '[1,2]'));
  await refused('PUT', '/v2/app/manifests/x', 400, 'MANIFEST_INVALID', put('x', { ...good, schemaVersion: 1 }, 'application/vnd.docker.distribution.manifest.v1+prettyjws'));
  await refused('PUT', '/v2/app/manifests/x', 400, 'MANIFEST_INVALID', put('x', { ...good, schemaVersion: 3 }));
  await refused('PUT', '/v2/app/manifests/x', 400, 'MANIFEST_INVALID', put('x', good, 'application/vnd.example.unknown+json'));
  await refused('PUT', '/v2/app/manifests/x', 400, 'MANIFEST_INVALID', put('x', good, MT.ociManifest));
  await refused('PUT', '/v2/app/manifests/x', 400, 'MANIFEST_INVALID', put('x', { ...good, layers: [{ mediaType: MT.dockerLayer, digest: layer, size: -1 }] }));
  await refused('PUT', '/v2/app/manifests/x', 400, 'MANIFEST_INVALID', put('x', { ...good, layers: [{ mediaType: MT.dockerLayer, digest: 'nope', size: 1 }] }));
  await refused('PUT', '/v2/app/manifests/x', 400, 'MANIFEST_INVALID', put('x', { ...good, layers: [{ mediaType: MT.dockerLayer, digest: layer, size: 8 }] }));
  await refused('PUT', '/v2/app/manifests/x', 400, 'MANIFEST_INVALID', put('x', { ...good, layers: 'all of them' }));
  await refused('PUT', '/v2/app/manifests/x', 400, 'MANIFEST_INVALID', { body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), headers: { 'content-type': MT.dockerManifest } });
  await refused('PUT', '/v2/app/manifests/x', 400, 'MANIFEST_BLOB_UNKNOWN', put('x', { ...good, layers: [...good.layers, { mediaType: MT.dockerLayer, digest: sha256('missing'), size: 7 }] }));
  await refused('PUT', '/v2/app/manifests/x', 400, 'MANIFEST_BLOB_UNKNOWN', put('x', { ...good, config: { mediaType: MT.dockerConfig, digest: 'sha512:' + 'a'.repeat(128), size: 37 } }));
  await refused('PUT', `/v2/app/manifests/${sha256('something else')}`, 400, 'DIGEST_INVALID', put('x', good));
  await refused('PUT', '/v2/app/manifests/sha256:nothex', 400, 'DIGEST_INVALID', put('x', good));
  // 4 MiB is the limit, declared or streamed.
  const huge = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
  await refused('PUT', '/v2/app/manifests/x', 413, 'MANIFEST_INVALID', { body: huge, headers: { 'content-type': MT.dockerManifest } });
  const streamed = await fetch(`${berth.url}/v2/app/manifests/x`, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': MT.dockerManifest },
    body: new ReadableStream({
      start(c) {
        for (let i = 0; i < 5; i++) c.enqueue(new Uint8Array(1024 * 1024));
        c.close();
      },
    }),
    duplex: 'half',
  } as RequestInit).catch(() => undefined);
  if (streamed) {
    statuses.push(streamed.status);
    assert.equal(streamed.status, 413);
  }
  // Nothing of the refused manifests exists; the good one still goes in.
  assert.deepEqual((await v2(berth, 'GET', '/v2/app/tags/list', { auth })).json().tags, []);
  assert.equal((await v2(berth, 'PUT', '/v2/app/manifests/x', { auth, ...put('x', good) })).status, 201);
});

test('names, tags, references and routes: NAME_INVALID, TAG_INVALID, NAME_UNKNOWN, MANIFEST_UNKNOWN, UNSUPPORTED', async () => {
  for (const name of ['UPPER', 'a//b', '-a', 'a-', 'a__-b', 'x', 'a'.repeat(257), 'a%2Fb', 'a..b']) {
    await refused('GET', `/v2/${name}/tags/list`, 400, 'NAME_INVALID');
  }
  // A long hostile name is refused at once (the checks run in one pass).
  const started = Date.now();
  await refused('GET', `/v2/${'a-'.repeat(900)}!/tags/list`, 400, 'NAME_INVALID');
  assert.ok(Date.now() - started < 1000);
  const img = await pushImage(berth, auth, 'app', 'ok-tag');
  for (const tag of ['-bad', '.bad', 'a'.repeat(129), 'bad+tag']) {
    await refused('PUT', `/v2/app/manifests/${tag}`, 400, 'TAG_INVALID', { body: img.manifest, headers: { 'content-type': MT.dockerManifest } });
  }
  await refused('GET', '/v2/nosuchrepo/manifests/latest', 404, 'NAME_UNKNOWN');
  await refused('POST', '/v2/nosuchrepo/blobs/uploads/', 404, 'NAME_UNKNOWN');
  await refused('GET', '/v2/nosuchrepo/tags/list', 404, 'NAME_UNKNOWN');
  await refused('GET', '/v2/app/manifests/nosuchtag', 404, 'MANIFEST_UNKNOWN');
  await refused('GET', `/v2/app/manifests/${sha256('no such manifest')}`, 404, 'MANIFEST_UNKNOWN');
  await refused('GET', '/v2/app/blobs/uploads/not-a-uuid', 404, 'BLOB_UPLOAD_UNKNOWN');
  await refused('GET', '/v2/app/blobs/uploads/00000000-0000-0000-0000-000000000000', 404, 'BLOB_UPLOAD_UNKNOWN');
  await refused('DELETE', `/v2/app/blobs/${img.digest}`, 405, 'UNSUPPORTED');
  await refused('POST', '/v2/app/manifests/latest', 405, 'UNSUPPORTED');
  await refused('GET', '/v2/app/nothing/here', 404, 'UNSUPPORTED');
  await refused('GET', '/v2/_catalog?n=abc', 400, 'PAGINATION_NUMBER_INVALID');
  await refused('GET', '/v2/app/tags/list?n=-1', 400, 'PAGINATION_NUMBER_INVALID');
});

test('an immutable repository refuses to move a tag: TAG_INVALID over /v2/, ImageTagAlreadyExistsException over ECR', async () => {
  const one = await pushImage(berth, auth, 'locked', 'v1');
  const two = await pushImage(berth, auth, 'locked', 'v2');
  await refused('PUT', '/v2/locked/manifests/v1', 400, 'TAG_INVALID', { body: two.manifest, headers: { 'content-type': MT.dockerManifest } });
  // The same image under the same tag is no change, and allowed over /v2/ (docker pushes again).
  assert.equal((await v2(berth, 'PUT', '/v2/locked/manifests/v1', { auth, body: one.manifest, headers: { 'content-type': MT.dockerManifest } })).status, 201);
  await ecrRefused('PutImage', { repositoryName: 'locked', imageManifest: two.manifest.toString(), imageTag: 'v1' }, 'ImageTagAlreadyExistsException');
  await ecrRefused('PutImage', { repositoryName: 'locked', imageManifest: one.manifest.toString(), imageTag: 'v1' }, 'ImageAlreadyExistsException');
  assert.equal((await v2(berth, 'GET', '/v2/locked/manifests/v1', { auth })).headers.get('docker-content-digest'), one.digest);
});

test('a request without credentials is answered before its body is read, and the connection closed', async () => {
  const port = Number(new URL(berth.url).port);
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    const sock = connect(port, '127.0.0.1', () => {
      // Claims a gigabyte it never sends: the 401 comes at once, the connection closes.
      sock.write(`POST /v2/app/blobs/uploads/?digest=${sha256('x')} HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n`);
    });
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.on('close', () => resolve(text));
    sock.on('error', () => resolve(text));
  });
  assert.match(answer, /^HTTP\/1\.1 401 /);
  assert.match(answer, /connection: close/i);
  assert.match(answer, /www-authenticate: Basic/i);
  statuses.push(401);
});

test('ECR API: names, missing things, digests, layer parts, policies and tags get ECR\'s codes', async () => {
  await ecrRefused('CreateRepository', { repositoryName: 'Bad_Name' }, 'InvalidParameterException');
  await ecrRefused('CreateRepository', { repositoryName: 'app' }, 'RepositoryAlreadyExistsException');
  await ecrRefused('CreateRepository', { repositoryName: 'tagged', tags: [{ Key: 'aws:reserved', Value: 'x' }] }, 'InvalidTagParameterException');
  await ecrRefused('CreateRepository', { repositoryName: 'mut', imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION' }, 'InvalidParameterException');
  await ecrRefused('DescribeRepositories', { repositoryNames: ['nosuch'] }, 'RepositoryNotFoundException');
  await ecrRefused('DescribeImages', { repositoryName: 'app', imageIds: [{ imageTag: 'nosuch' }] }, 'ImageNotFoundException');
  await ecrRefused('DescribeRepositories', { nextToken: 'garbage' }, 'InvalidParameterException');
  await ecrRefused('DeleteRepository', { repositoryName: 'app' }, 'RepositoryNotEmptyException');
  await ecrRefused('PutImage', { repositoryName: 'app', imageManifest: JSON.stringify({ schemaVersion: 2, mediaType: MT.dockerManifest, config: desc(MT.dockerConfig, 'cfg-missing'), layers: [] }) }, 'LayersNotFoundException');
  const img = await pushImage(berth, auth, 'app', 'for-ecr');
  await ecrRefused('PutImage', { repositoryName: 'app', imageManifest: img.manifest.toString(), imageDigest: sha256('other') }, 'ImageDigestDoesNotMatchException');
  await ecrRefused('PutImage', { repositoryName: 'app', imageManifest: '{"schemaVersion":2', imageTag: 'x' }, 'InvalidParameterException');
  await ecrRefused('PutImage', { repositoryName: 'app', imageManifest: img.manifest.toString(), imageManifestMediaType: 'text/plain' }, 'InvalidParameterException');
  await ecrRefused('PutImage', { repositoryName: 'app', imageManifest: 'x'.repeat(4 * 1024 * 1024 + 1) }, 'InvalidParameterException');
  // Layer uploads.
  const { uploadId } = await ecrOk(berth, 'InitiateLayerUpload', { repositoryName: 'app' });
  await ecrRefused('CompleteLayerUpload', { repositoryName: 'app', uploadId, layerDigests: [sha256('')] }, 'EmptyUploadException');
  const part = Buffer.from('part one');
  await ecrOk(berth, 'UploadLayerPart', { repositoryName: 'app', uploadId, partFirstByte: 0, partLastByte: part.length - 1, layerPartBlob: part.toString('base64') });
  const wrongStart = await ecrRefused('UploadLayerPart', { repositoryName: 'app', uploadId, partFirstByte: 3, partLastByte: 4, layerPartBlob: 'YWI=' }, 'InvalidLayerPartException');
  assert.equal(wrongStart.lastValidByteReceived, part.length - 1);
  assert.equal(wrongStart.uploadId, uploadId);
  await ecrRefused('UploadLayerPart', { repositoryName: 'app', uploadId, partFirstByte: 8, partLastByte: 20, layerPartBlob: 'YWI=' }, 'InvalidLayerPartException');
  await ecrRefused('UploadLayerPart', { repositoryName: 'app', uploadId: '00000000-0000-0000-0000-000000000000', partFirstByte: 0, partLastByte: 1, layerPartBlob: 'YWI=' }, 'UploadNotFoundException');
  await ecrRefused('UploadLayerPart', { repositoryName: 'app', uploadId: 'not-a-uuid', partFirstByte: 0, partLastByte: 1, layerPartBlob: 'YWI=' }, 'InvalidParameterException');
  await ecrRefused('CompleteLayerUpload', { repositoryName: 'app', uploadId, layerDigests: [sha256('not the part')] }, 'InvalidLayerException');
  await ecrRefused('CompleteLayerUpload', { repositoryName: 'app', uploadId, layerDigests: [sha256(part)] }, 'UploadNotFoundException');
  const again = (await ecrOk(berth, 'InitiateLayerUpload', { repositoryName: 'app' })).uploadId;
  await ecrOk(berth, 'UploadLayerPart', { repositoryName: 'app', uploadId: again, partFirstByte: 0, partLastByte: 6, layerPartBlob: Buffer.from('a layer').toString('base64') });
  await ecrRefused('CompleteLayerUpload', { repositoryName: 'app', uploadId: again, layerDigests: [sha256('a layer')] }, 'LayerAlreadyExistsException');
  await ecrRefused('GetDownloadUrlForLayer', { repositoryName: 'app', layerDigest: sha256('nope') }, 'LayersNotFoundException');
  // Policies and tags.
  await ecrRefused('GetLifecyclePolicy', { repositoryName: 'app' }, 'LifecyclePolicyNotFoundException');
  await ecrRefused('GetLifecyclePolicyPreview', { repositoryName: 'app' }, 'LifecyclePolicyPreviewNotFoundException');
  await ecrRefused('GetRepositoryPolicy', { repositoryName: 'app' }, 'RepositoryPolicyNotFoundException');
  await ecrRefused('SetRepositoryPolicy', { repositoryName: 'app', policyText: 'not json' }, 'InvalidParameterException');
  // Documents IAM could not apply are refused with what is wrong, and nothing is stored.
  const statement = { Effect: 'Allow', Principal: '*', Action: 'ecr:BatchGetImage' };
  for (const [bad, why] of [
    [{ Version: '2012-10-17', Statement: [{ ...statement, Effect: 'Permit' }] }, /Effect must be/],
    [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:BatchGetImage' }] }, /Principal/],
    [{ Version: '2012-10-17', Statement: [{ ...statement, Condition: { StringEquals: 'x' } }] }, /StringEquals must map condition keys/],
    [{ Version: '2013-01-01', Statement: [statement] }, /Version/],
  ] as const) {
    const refused = await ecrRefused('SetRepositoryPolicy', { repositoryName: 'app', policyText: JSON.stringify(bad) }, 'InvalidParameterException');
    assert.match(String(refused.message), why);
  }
  await ecrRefused('GetRepositoryPolicy', { repositoryName: 'app' }, 'RepositoryPolicyNotFoundException');
  const policy = (rules: unknown) => JSON.stringify({ rules, padding: 'x'.repeat(100) });
  const rule = { rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } };
  for (const bad of [
    policy([]),
    policy([{ ...rule, rulePriority: 0 }]),
    policy([rule, { ...rule }]),
    policy([{ ...rule, selection: { ...rule.selection, tagStatus: 'tagged' } }]),
    policy([{ ...rule, selection: { ...rule.selection, countType: 'sinceImagePushed' } }]),
    policy([{ ...rule, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 } }, { ...rule, rulePriority: 2 }]),
    policy([{ ...rule, selection: { tagStatus: 'tagged', tagPatternList: ['a*b*c*d*e*f'], countType: 'imageCountMoreThan', countNumber: 1 } }]),
    policy([{ ...rule, action: { type: 'archive' } }]),
    '{' + ' '.repeat(120),
  ]) {
    await ecrRefused('PutLifecyclePolicy', { repositoryName: 'app', lifecyclePolicyText: bad }, 'InvalidParameterException');
  }
  const arn = (await ecrOk(berth, 'DescribeRepositories', { repositoryNames: ['app'] })).repositories[0].repositoryArn;
  await ecrRefused('TagResource', { resourceArn: 'arn:aws:ecs:us-east-1:123:cluster/x', tags: [{ Key: 'a', Value: 'b' }] }, 'InvalidParameterException');
  await ecrRefused('TagResource', { resourceArn: arn, tags: [{ Key: 'aws:x', Value: 'b' }] }, 'InvalidTagParameterException');
  await ecrRefused('TagResource', { resourceArn: arn, tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) }, 'TooManyTagsException');
  await ecrRefused('ListTagsForResource', { resourceArn: arn.replace(':repository/app', ':repository/nosuch') }, 'RepositoryNotFoundException');
  // A filter value built to make a backtracking engine take exponential time answers at once.
  const started = Date.now();
  await ecrRefused('PutRegistryScanningConfiguration', { scanType: 'BASIC', rules: [{ scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: [{ filter: 'a'.repeat(40) + '!', filterType: 'WILDCARD' }] }] }, 'InvalidParameterException');
  assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
  // Batch calls report failures per image instead of failing.
  const got = await ecrOk(berth, 'BatchGetImage', { repositoryName: 'app', imageIds: [{ imageTag: 'nosuch' }, { imageDigest: 'bad' }, { imageTag: 'for-ecr' }, {}] });
  assert.deepEqual(got.failures.map((f: any) => f.failureCode), ['ImageNotFound', 'InvalidImageDigest', 'MissingDigestAndTag']);
  assert.equal(got.images.length, 1);
  const del = await ecrOk(berth, 'BatchDeleteImage', { repositoryName: 'app', imageIds: [{ imageTag: 'nosuch' }, { imageTag: 'for-ecr', imageDigest: sha256('other') }, { imageTag: '-bad' }] });
  assert.deepEqual(del.failures.map((f: any) => f.failureCode), ['ImageNotFound', 'ImageTagDoesNotMatchDigest', 'InvalidImageTag']);
});
