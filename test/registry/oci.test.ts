// The OCI distribution API on Berth's endpoint, request by request (raw HTTP, as a conformance
// suite would): authentication, every way to upload a blob, blobs by range, mounts, manifests by
// tag and digest, indexes, artifacts with a subject and the referrers API, paginated tags and
// catalog, deletes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { RegistryTokens } from '../../src/domain/ecr/authToken.js';
import { MT, desc, ecrOk, passwordOf, pushBlob, pushImage, registryAuth, sha256, v2 } from './helpers.js';

let berth: TestBerth;
let auth: string;

before(async () => {
  berth = await startTestBerth();
  auth = await registryAuth(berth);
  for (const name of ['app', 'team/web', 'other', 'pages', 'refs', 'multi']) await ecrOk(berth, 'CreateRepository', { repositoryName: name });
});
after(() => berth?.close());

test('GET /v2/ asks for Basic credentials; user AWS with the ECR password gets in, anything else does not', async () => {
  const anon = await v2(berth, 'GET', '/v2/');
  assert.equal(anon.status, 401);
  assert.equal(anon.code(), 'UNAUTHORIZED');
  assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic realm="/);
  assert.equal(anon.headers.get('docker-distribution-api-version'), 'registry/2.0');
  const ok = await v2(berth, 'GET', '/v2/', { auth });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json(), {});
  const password = passwordOf(auth);
  for (const bad of [`Basic ${Buffer.from(`root:${password}`).toString('base64')}`, `Basic ${Buffer.from(`AWS:${password}x`).toString('base64')}`, `Basic ${Buffer.from('AWS:').toString('base64')}`, 'Bearer abc', 'Basic !!!']) {
    const r = await v2(berth, 'GET', '/v2/_catalog', { auth: bad });
    assert.equal(r.status, 401, bad);
    assert.equal(r.code(), 'UNAUTHORIZED');
  }
  // A password minted 12 hours ago has expired (ECR's lifetime); one under other root credentials is no password.
  const tokens = new RegistryTokens(berth.credentials.accountId, berth.credentials.secretAccessKey);
  const stale = tokens.mint(berth.platform.clock.now() - 12 * 3600_000 - 1000).password;
  const expired = await v2(berth, 'GET', '/v2/', { auth: `Basic ${Buffer.from(`AWS:${stale}`).toString('base64')}` });
  assert.equal(expired.status, 401);
  assert.match(expired.json().errors[0].message, /expired/);
  const foreign = new RegistryTokens(berth.credentials.accountId, 'another secret').mint(berth.platform.clock.now()).password;
  assert.equal((await v2(berth, 'GET', '/v2/', { auth: `Basic ${Buffer.from(`AWS:${foreign}`).toString('base64')}` })).status, 401);
});

test('monolithic upload (POST ?digest=), and POST then PUT with the body; HEAD and GET by digest and by range', async () => {
  const data = Buffer.from('0123456789abcdefghij');
  const digest = await pushBlob(berth, auth, 'app', data);
  const head = await v2(berth, 'HEAD', `/v2/app/blobs/${digest}`, { auth });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '20');
  assert.equal(head.headers.get('docker-content-digest'), digest);
  const get = await v2(berth, 'GET', `/v2/app/blobs/${digest}`, { auth });
  assert.deepEqual(get.body, data);
  const part = await v2(berth, 'GET', `/v2/app/blobs/${digest}`, { auth, headers: { range: 'bytes=5-9' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), 'bytes 5-9/20');
  assert.equal(part.body.toString(), '56789');
  const suffix = await v2(berth, 'GET', `/v2/app/blobs/${digest}`, { auth, headers: { range: 'bytes=-3' } });
  assert.equal(suffix.body.toString(), 'hij');
  const open = await v2(berth, 'GET', `/v2/app/blobs/${digest}`, { auth, headers: { range: 'bytes=18-' } });
  assert.equal(open.body.toString(), 'ij');
  const outside = await v2(berth, 'GET', `/v2/app/blobs/${digest}`, { auth, headers: { range: 'bytes=20-30' } });
  assert.equal(outside.status, 416);
  assert.equal(outside.headers.get('content-range'), 'bytes */20');

  const other = Buffer.from('posted then put');
  const start = await v2(berth, 'POST', '/v2/app/blobs/uploads/', { auth });
  assert.equal(start.status, 202);
  const location = start.headers.get('location')!;
  assert.match(location, /^\/v2\/app\/blobs\/uploads\/[0-9a-f-]{36}$/);
  assert.equal(start.headers.get('docker-upload-uuid'), location.split('/').pop());
  const put = await v2(berth, 'PUT', `${location}?digest=${sha256(other)}`, { auth, body: other, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(put.status, 201);
  assert.equal(put.headers.get('location'), `/v2/app/blobs/${sha256(other)}`);
  assert.equal(put.headers.get('docker-content-digest'), sha256(other));
  assert.deepEqual((await v2(berth, 'GET', `/v2/app/blobs/${sha256(other)}`, { auth })).body, other);
});

test('chunked upload: PATCHes with Content-Range, status by GET, then PUT ?digest=; cancel with DELETE', async () => {
  const data = Buffer.from('a'.repeat(1000) + 'b'.repeat(1000) + 'c'.repeat(500));
  const start = await v2(berth, 'POST', '/v2/team/web/blobs/uploads/', { auth });
  const loc = start.headers.get('location')!;
  const p1 = await v2(berth, 'PATCH', loc, { auth, body: data.subarray(0, 1000), headers: { 'content-range': '0-999', 'content-type': 'application/octet-stream' } });
  assert.equal(p1.status, 202);
  assert.equal(p1.headers.get('range'), '0-999');
  const status = await v2(berth, 'GET', loc, { auth });
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), '0-999');
  // A chunk that does not start where the upload ends is 416, and changes nothing.
  const wrong = await v2(berth, 'PATCH', loc, { auth, body: data.subarray(1000, 1500), headers: { 'content-range': '500-999' } });
  assert.equal(wrong.status, 416);
  assert.equal(wrong.code(), 'RANGE_INVALID');
  assert.equal(wrong.headers.get('range'), '0-999');
  // Without Content-Range (as docker sends it), the chunk is appended.
  const p2 = await v2(berth, 'PATCH', loc, { auth, body: data.subarray(1000, 2000) });
  assert.equal(p2.headers.get('range'), '0-1999');
  const done = await v2(berth, 'PUT', `${loc}?digest=${sha256(data)}`, { auth, body: data.subarray(2000), headers: { 'content-range': '2000-2499' } });
  assert.equal(done.status, 201);
  assert.deepEqual((await v2(berth, 'GET', `/v2/team/web/blobs/${sha256(data)}`, { auth })).body, data);
  assert.equal((await v2(berth, 'GET', loc, { auth })).code(), 'BLOB_UPLOAD_UNKNOWN', 'a completed upload is gone');

  const cancelled = (await v2(berth, 'POST', '/v2/team/web/blobs/uploads/', { auth })).headers.get('location')!;
  await v2(berth, 'PATCH', cancelled, { auth, body: 'some' });
  assert.equal((await v2(berth, 'DELETE', cancelled, { auth })).status, 204);
  const gone = await v2(berth, 'PATCH', cancelled, { auth, body: 'more' });
  assert.equal(gone.status, 404);
  assert.equal(gone.code(), 'BLOB_UPLOAD_UNKNOWN');
  // A session belongs to its repository.
  const mine = (await v2(berth, 'POST', '/v2/team/web/blobs/uploads/', { auth })).headers.get('location')!;
  const elsewhere = await v2(berth, 'GET', mine.replace('/team/web/', '/other/'), { auth });
  assert.equal(elsewhere.code(), 'BLOB_UPLOAD_UNKNOWN');
});

test('cross-repository mount: 201 when the blob is in the registry, else a new upload session (202)', async () => {
  const digest = await pushBlob(berth, auth, 'app', 'shared layer bytes');
  const mounted = await v2(berth, 'POST', `/v2/other/blobs/uploads/?mount=${digest}&from=app`, { auth });
  assert.equal(mounted.status, 201);
  assert.equal(mounted.headers.get('location'), `/v2/other/blobs/${digest}`);
  assert.equal((await v2(berth, 'HEAD', `/v2/other/blobs/${digest}`, { auth })).status, 200);
  const unknown = await v2(berth, 'POST', `/v2/other/blobs/uploads/?mount=${sha256('never pushed')}&from=app`, { auth });
  assert.equal(unknown.status, 202);
  assert.match(unknown.headers.get('location')!, /\/v2\/other\/blobs\/uploads\//);
});

test('manifests by tag and by digest: PUT, HEAD, GET (bytes and media type as pushed), retag, delete tag, delete digest', async () => {
  const img = await pushImage(berth, auth, 'app', 'v1', { layers: ['layer one', 'layer two'] });
  const head = await v2(berth, 'HEAD', '/v2/app/manifests/v1', { auth });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('docker-content-digest'), img.digest);
  assert.equal(head.headers.get('content-type'), MT.dockerManifest);
  assert.equal(head.headers.get('content-length'), String(img.manifest.length));
  const byTag = await v2(berth, 'GET', '/v2/app/manifests/v1', { auth });
  assert.deepEqual(byTag.body, img.manifest);
  const byDigest = await v2(berth, 'GET', `/v2/app/manifests/${img.digest}`, { auth });
  assert.deepEqual(byDigest.body, img.manifest);
  // The same manifest by digest (idempotent) and under a second tag.
  const again = await v2(berth, 'PUT', `/v2/app/manifests/${img.digest}`, { auth, body: img.manifest, headers: { 'content-type': MT.dockerManifest } });
  assert.equal(again.status, 201);
  assert.equal(again.headers.get('location'), `/v2/app/manifests/${img.digest}`);
  assert.equal((await v2(berth, 'PUT', '/v2/app/manifests/stable', { auth, body: img.manifest, headers: { 'content-type': MT.dockerManifest } })).status, 201);
  assert.deepEqual((await v2(berth, 'GET', '/v2/app/tags/list', { auth })).json(), { name: 'app', tags: ['stable', 'v1'] });
  // Deleting a tag leaves the image; deleting the digest removes it and its tags.
  assert.equal((await v2(berth, 'DELETE', '/v2/app/manifests/stable', { auth })).status, 202);
  assert.equal((await v2(berth, 'GET', '/v2/app/manifests/stable', { auth })).code(), 'MANIFEST_UNKNOWN');
  assert.equal((await v2(berth, 'GET', `/v2/app/manifests/${img.digest}`, { auth })).status, 200);
  assert.equal((await v2(berth, 'DELETE', `/v2/app/manifests/${img.digest}`, { auth })).status, 202);
  assert.equal((await v2(berth, 'GET', '/v2/app/manifests/v1', { auth })).code(), 'MANIFEST_UNKNOWN');
  assert.equal((await v2(berth, 'DELETE', `/v2/app/manifests/${img.digest}`, { auth })).code(), 'MANIFEST_UNKNOWN');
});

test('an OCI index and a Docker manifest list: children must be there, and stay while an index lists them', async () => {
  const amd = await pushImage(berth, auth, 'multi', 'amd64-only', { oci: true, layers: ['amd64 layer'] });
  const arm64 = await pushImage(berth, auth, 'multi', 'arm64-only', { oci: true, layers: ['arm64 layer'] });
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociIndex,
      manifests: [
        { ...desc(MT.ociManifest, amd.manifest), platform: { os: 'linux', architecture: 'amd64' } },
        { ...desc(MT.ociManifest, arm64.manifest), platform: { os: 'linux', architecture: 'arm64' } },
      ],
    }),
  );
  const put = await v2(berth, 'PUT', '/v2/multi/manifests/latest', { auth, body: index, headers: { 'content-type': MT.ociIndex } });
  assert.equal(put.status, 201, put.body.toString());
  const got = await v2(berth, 'GET', `/v2/multi/manifests/${sha256(index)}`, { auth, headers: { accept: MT.ociIndex } });
  assert.equal(got.headers.get('content-type'), MT.ociIndex);
  assert.deepEqual(got.body, index);
  // A child cannot go while the index lists it.
  const del = await v2(berth, 'DELETE', `/v2/multi/manifests/${amd.digest}`, { auth });
  assert.equal(del.status, 409);
  assert.equal(del.code(), 'DENIED');
  // An index naming a manifest that is not in the repository is refused.
  const dangling = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.dockerList, manifests: [{ mediaType: MT.dockerManifest, digest: sha256('nope'), size: 4, platform: { os: 'linux', architecture: 'amd64' } }] }));
  const bad = await v2(berth, 'PUT', '/v2/multi/manifests/dangling', { auth, body: dangling, headers: { 'content-type': MT.dockerList } });
  assert.equal(bad.status, 400);
  assert.equal(bad.code(), 'MANIFEST_BLOB_UNKNOWN');
  // ECR's view: the index's size is its largest image's.
  const detail = await ecrOk(berth, 'DescribeImages', { repositoryName: 'multi', imageIds: [{ imageTag: 'latest' }] });
  assert.equal(detail.imageDetails[0].imageManifestMediaType, MT.ociIndex);
  assert.equal(detail.imageDetails[0].imageSizeInBytes, Math.max(amd.size, arm64.size));
  // Deleting the index frees its children.
  assert.equal((await v2(berth, 'DELETE', `/v2/multi/manifests/${sha256(index)}`, { auth })).status, 202);
  assert.equal((await v2(berth, 'DELETE', `/v2/multi/manifests/${amd.digest}`, { auth })).status, 202);
});

test('artifacts with a subject: OCI-Subject on push, the referrers API lists them, filtered by artifactType', async () => {
  const subject = await pushImage(berth, auth, 'refs', 'v1', { oci: true });
  const subjectDesc = desc(MT.ociManifest, subject.manifest);
  const emptyConfig = '{}';
  await pushBlob(berth, auth, 'refs', emptyConfig);
  const sig = await pushImage(berth, auth, 'refs', 'sig', { oci: true, artifactType: 'application/vnd.example.signature', config: emptyConfig, layers: ['signature bytes'], subject: subjectDesc, annotations: { 'org.example.signed-by': 'ci' } });
  const sbom = await pushImage(berth, auth, 'refs', 'sbom', { oci: true, artifactType: 'application/spdx+json', config: emptyConfig, layers: ['{"spdx":true}'], subject: subjectDesc });
  // The subject need not exist (OCI 1.1): a referrer pushed first is fine.
  const orphan = await pushImage(berth, auth, 'refs', 'orphan', { oci: true, artifactType: 'application/vnd.example.signature', config: emptyConfig, layers: ['x'], subject: desc(MT.ociManifest, 'not pushed') });
  const push = await v2(berth, 'HEAD', '/v2/refs/manifests/sig', { auth });
  assert.equal(push.status, 200);
  const all = await v2(berth, 'GET', `/v2/refs/referrers/${subject.digest}`, { auth });
  assert.equal(all.status, 200);
  assert.equal(all.headers.get('content-type'), MT.ociIndex);
  const index = all.json();
  assert.equal(index.schemaVersion, 2);
  assert.equal(index.mediaType, MT.ociIndex);
  const byDigest = new Map(index.manifests.map((m: any) => [m.digest, m]));
  assert.deepEqual(new Set(byDigest.keys()), new Set([sig.digest, sbom.digest]));
  assert.deepEqual(byDigest.get(sig.digest), { mediaType: MT.ociManifest, digest: sig.digest, size: sig.manifest.length, artifactType: 'application/vnd.example.signature', annotations: { 'org.example.signed-by': 'ci' } });
  const filtered = await v2(berth, 'GET', `/v2/refs/referrers/${subject.digest}?artifactType=${encodeURIComponent('application/spdx+json')}`, { auth });
  assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
  assert.deepEqual(filtered.json().manifests.map((m: any) => m.digest), [sbom.digest]);
  assert.deepEqual((await v2(berth, 'GET', `/v2/refs/referrers/${sha256('nothing refers')}`, { auth })).json().manifests, []);
  assert.equal((await v2(berth, 'GET', `/v2/refs/referrers/${desc(MT.ociManifest, 'not pushed').digest}`, { auth })).json().manifests[0].digest, orphan.digest);
  // The OCI-Subject header answers a push with a subject.
  const again = await v2(berth, 'PUT', '/v2/refs/manifests/sig2', { auth, body: sig.manifest, headers: { 'content-type': MT.ociManifest } });
  assert.equal(again.headers.get('oci-subject'), subject.digest);
  // ECR's API sees the same.
  const listed = await ecrOk(berth, 'ListImageReferrers', { repositoryName: 'refs', subjectId: { imageDigest: subject.digest } });
  assert.equal(listed.referrers.length, 2);
  // Deleting a referrer takes it off the list.
  await v2(berth, 'DELETE', `/v2/refs/manifests/${sbom.digest}`, { auth });
  assert.deepEqual((await v2(berth, 'GET', `/v2/refs/referrers/${subject.digest}`, { auth })).json().manifests.map((m: any) => m.digest), [sig.digest]);
});

test('tags list and catalog paginate with n, last and Link', async () => {
  const img = await pushImage(berth, auth, 'pages', 't00');
  for (let i = 1; i < 12; i++) {
    const r = await v2(berth, 'PUT', `/v2/pages/manifests/t${String(i).padStart(2, '0')}`, { auth, body: img.manifest, headers: { 'content-type': MT.dockerManifest } });
    assert.equal(r.status, 201);
  }
  const seen: string[] = [];
  let next: string | undefined = '/v2/pages/tags/list?n=5';
  let pages = 0;
  while (next) {
    const r = await v2(berth, 'GET', next, { auth });
    assert.equal(r.status, 200);
    const body = r.json();
    assert.equal(body.name, 'pages');
    assert.ok(body.tags.length <= 5);
    seen.push(...body.tags);
    pages++;
    const link = r.headers.get('link');
    next = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1] : undefined;
  }
  assert.equal(pages, 3);
  assert.deepEqual(seen, Array.from({ length: 12 }, (_, i) => `t${String(i).padStart(2, '0')}`));
  assert.deepEqual((await v2(berth, 'GET', '/v2/pages/tags/list?n=2&last=t05', { auth })).json().tags, ['t06', 't07']);
  assert.deepEqual((await v2(berth, 'GET', '/v2/pages/tags/list?n=0', { auth })).json().tags, []);
  const cat = await v2(berth, 'GET', '/v2/_catalog?n=2', { auth });
  assert.deepEqual(cat.json().repositories, ['app', 'multi']);
  assert.equal(cat.headers.get('link'), '</v2/_catalog?n=2&last=multi>; rel="next"');
  const rest = await v2(berth, 'GET', '/v2/_catalog?last=multi', { auth });
  assert.deepEqual(rest.json().repositories, ['other', 'pages', 'refs', 'team/web']);
  assert.equal(rest.headers.get('link'), null);
});

test('GetDownloadUrlForLayer hands out a URL that fetches the layer without credentials, for an hour', async () => {
  const digest = await pushBlob(berth, auth, 'app', 'downloadable');
  const out = await ecrOk(berth, 'GetDownloadUrlForLayer', { repositoryName: 'app', layerDigest: digest });
  const url = new URL(out.downloadUrl);
  assert.equal(url.host, berth.registry.address);
  const r = await fetch(out.downloadUrl);
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'downloadable');
  // The signature covers the repository, the digest and the expiry.
  const other = out.downloadUrl.replace('/v2/app/', '/v2/other/');
  assert.equal((await fetch(other)).status, 401);
  const later = out.downloadUrl.replace(/X-Berth-Expires=(\d+)/, (_: string, n: string) => `X-Berth-Expires=${Number(n) + 1}`);
  assert.equal((await fetch(later)).status, 401);
});
