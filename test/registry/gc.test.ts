// Garbage collection of blobs, on an injected clock: a blob an image references is never
// removed; an unreferenced one goes once unused for the grace period; a blob just uploaded, or
// found by a client about to push a manifest, stays; a push that races a collection either keeps
// its blob or fails cleanly (never an image naming a removed blob); idle upload sessions expire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ManualClock } from '../../src/clock.js';
import { startTestBerth } from '../helpers/fixture.js';
import { RegistryTokens } from '../../src/domain/ecr/authToken.js';
import { collectGarbage } from '../../src/domain/ecr/gc.js';
import { putImage, findImage } from '../../src/domain/ecr/images.js';
import { createRepository } from '../../src/domain/ecr/repositories.js';
import type { Registry } from '../../src/domain/ecr/registry.js';
import { EcrError } from '../../src/domain/ecr/errors.js';
import type { Platform } from '../../src/domain/platform.js';
import { FsBlobStore } from '../../src/store/blobs/fs.js';
import type { BlobStore } from '../../src/store/blobs/types.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { MT, desc, ecrOk, pushBlob, pushImage, registryAuth, sha256, v2 } from './helpers.js';

const HOUR = 3600_000;

test('GC on the clock: referenced blobs stay, unreferenced ones go after the grace period, uploads in progress stay until they expire', async () => {
  const clock = new ManualClock(Date.now());
  const berth = await startTestBerth({ clock, registry: { gcGraceMs: HOUR } });
  try {
    const now = () => ({ now: clock.now() });
    await ecrOk(berth, 'CreateRepository', { repositoryName: 'gc' }, now());
    const auth = await registryAuth(berth, now());
    const blobs = berth.registry.blobs;
    const exists = async (d: string) => (await blobs.stat(d)) !== undefined; // stat does not touch
    const gc = async () => {
      await berth.registry.gc.runNow();
      return berth.registry.gc.lastReport()!;
    };

    const img = await pushImage(berth, auth, 'gc', 'v1', { config: '{"os":"linux","n":1}', layers: ['layer A', 'layer B'] });
    const imgBlobs = [sha256('{"os":"linux","n":1}'), sha256('layer A'), sha256('layer B')];
    const stray = await pushBlob(berth, auth, 'gc', 'pushed, never referenced');
    const session = (await v2(berth, 'POST', '/v2/gc/blobs/uploads/', { auth })).headers.get('location')!;
    await v2(berth, 'PATCH', session, { auth, body: 'half an upload' });

    // Within the grace period nothing goes.
    clock.set(clock.now() + 30 * 60_000);
    let report = await gc();
    assert.equal(report.removed, 0);
    assert.ok(await exists(stray));

    // Past it, the stray blob goes; the image's stay; the session is untouched.
    clock.set(clock.now() + 2 * HOUR);
    report = await gc();
    assert.equal(report.removed, 1);
    assert.equal(report.referenced, 3);
    assert.equal(await exists(stray), false);
    for (const d of imgBlobs) assert.ok(await exists(d), `${d} is referenced and must stay`);
    assert.equal((await v2(berth, 'GET', session, { auth })).status, 204);
    assert.equal((await v2(berth, 'GET', '/v2/gc/manifests/v1', { auth })).status, 200);

    // A blob unused for hours that a client finds (HEAD) and then references stays.
    const old = await pushBlob(berth, auth, 'gc', 'an old layer');
    clock.set(clock.now() + 3 * HOUR);
    assert.equal((await v2(berth, 'HEAD', `/v2/gc/blobs/${old}`, { auth })).status, 200);
    await gc();
    assert.ok(await exists(old), 'found by a client: used now');
    const cfg = await pushBlob(berth, auth, 'gc', '{"os":"linux","n":2}');
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MT.dockerManifest, config: desc(MT.dockerConfig, '{"os":"linux","n":2}'), layers: [desc(MT.dockerLayer, 'an old layer')] });
    assert.equal((await v2(berth, 'PUT', '/v2/gc/manifests/v2', { auth, body: manifest, headers: { 'content-type': MT.dockerManifest } })).status, 201);
    clock.set(clock.now() + 5 * HOUR);
    await gc();
    assert.ok(await exists(old));
    assert.ok(await exists(cfg));

    // Once the image is deleted, its blobs go after the grace period (shared ones stay).
    assert.equal((await v2(berth, 'DELETE', `/v2/gc/manifests/${img.digest}`, { auth })).status, 202);
    clock.set(clock.now() + 2 * HOUR);
    report = await gc();
    for (const d of imgBlobs) assert.equal(await exists(d), false, `${d} is no longer referenced`);
    assert.ok(await exists(old), 'still referenced by v2');

    // An idle upload session expires after a day.
    clock.set(clock.now() + 25 * HOUR);
    const freshAuth = `Basic ${Buffer.from(`AWS:${new RegistryTokens(berth.credentials.accountId, berth.credentials.secretAccessKey).mint(clock.now()).password}`).toString('base64')}`;
    report = await gc();
    assert.equal(report.uploadsExpired, 1);
    assert.equal((await v2(berth, 'GET', session, { auth: freshAuth })).code(), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await v2(berth, 'GET', '/v2/gc/manifests/v2', { auth: freshAuth })).status, 200);
    assert.ok(await exists(old));
  } finally {
    await berth.close();
  }
});

/** A platform over an in-memory store and a blob store in a temp dir, on a manual clock. */
async function domainFixture(onRemove: (digest: string, inner: () => Promise<boolean>) => Promise<boolean>) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-gc-'));
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const store = new SqliteStore(':memory:');
  const platform: Platform = { store, clock, accountId: '123456789012', defaultRegion: 'us-east-1', dataDir: dir };
  const fs = await FsBlobStore.open(join(dir, 'registry'));
  // The blob store, with a hook into removals: what another request does at that moment.
  const blobs: BlobStore = Object.assign(Object.create(fs) as BlobStore, { removeIfUnusedSince: (d: string, cutoff: number) => onRemove(d, () => fs.removeIfUnusedSince(d, cutoff)) });
  const reg: Registry = { blobs, tokens: new RegistryTokens(platform.accountId, 'secret'), settings: { address: () => '127.0.0.1:1', maxBlobBytes: 1 << 20, gcGraceMs: HOUR, uploadExpiryMs: 24 * HOUR } };
  const scope = { platform, region: 'us-east-1' };
  await createRepository(scope, { name: 'race' });
  const put = async (bytes: string) => {
    const u = await fs.startUpload('us-east-1/race', clock.now());
    await fs.append(u.id, 0, Readable.from([Buffer.from(bytes)]), clock.now());
    return (await fs.complete(u.id, sha256(bytes), clock.now())).digest;
  };
  return { dir, clock, store, reg, scope, platform, put, close: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
}

test('a push that races a collection: touched before the removal, the blob stays; after it, the push fails and nothing names the blob', async () => {
  for (const order of ['push first', 'removal first'] as const) {
    let f!: Awaited<ReturnType<typeof domainFixture>>;
    let pushed: Promise<unknown> | undefined;
    const manifest = () => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.dockerManifest, config: desc(MT.dockerConfig, '{}'), layers: [desc(MT.dockerLayer, 'contested layer')] }));
    f = await domainFixture(async (digest, remove) => {
      if (digest !== sha256('contested layer')) return remove();
      // The collection has listed the blob as a candidate and read the references (none): now a push arrives.
      if (order === 'push first') {
        await putImage(f.scope, f.reg, { repository: 'race', manifest: manifest(), tag: 'v1' });
        return remove();
      }
      const removed = await remove();
      pushed = putImage(f.scope, f.reg, { repository: 'race', manifest: manifest(), tag: 'v1' }).catch((e) => e);
      return removed;
    });
    try {
      await f.put('{}');
      await f.put('contested layer');
      f.clock.set(f.clock.now() + 2 * HOUR);
      // The config blob is kept fresh by a client in both runs; the layer is the contested one.
      await f.reg.blobs.touch(sha256('{}'), f.clock.now());
      const report = await collectGarbage(f.platform, f.reg);
      const err = await pushed;
      const image = await findImage(f.scope, 'race', { tag: 'v1' });
      const layer = await f.reg.blobs.stat(sha256('contested layer'));
      if (order === 'push first') {
        assert.equal(report.removed, 0, 'the push touched the blob before the removal looked again');
        assert.ok(image, 'the image is there');
        assert.ok(layer, 'and so is its layer');
      } else {
        assert.ok(err instanceof EcrError, String(err));
        assert.equal(err.oci.code, 'MANIFEST_BLOB_UNKNOWN');
        assert.equal(report.removed, 1);
        assert.equal(image, undefined, 'no image names the removed blob');
        assert.equal(layer, undefined);
      }
    } finally {
      await f.close();
    }
  }
});

test('an index keeps its images, and their blobs, from collection', async () => {
  const clock = new ManualClock(Date.now());
  const berth = await startTestBerth({ clock, registry: { gcGraceMs: HOUR } });
  try {
    await ecrOk(berth, 'CreateRepository', { repositoryName: 'idx' }, { now: clock.now() });
    const auth = await registryAuth(berth, { now: clock.now() });
    const a = await pushImage(berth, auth, 'idx', 'a', { oci: true, layers: ['amd64 bits'] });
    const index = JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ ...desc(MT.ociManifest, a.manifest), platform: { os: 'linux', architecture: 'amd64' } }] });
    assert.equal((await v2(berth, 'PUT', '/v2/idx/manifests/multi', { auth, body: index, headers: { 'content-type': MT.ociIndex } })).status, 201);
    // The child loses its tag: only the index refers to it now.
    assert.equal((await v2(berth, 'DELETE', '/v2/idx/manifests/a', { auth })).status, 202);
    clock.set(clock.now() + 3 * HOUR);
    await berth.registry.gc.runNow();
    assert.ok(await berth.registry.blobs.stat(sha256('amd64 bits')));
    assert.equal((await v2(berth, 'GET', `/v2/idx/manifests/${a.digest}`, { auth })).status, 200);
  } finally {
    await berth.close();
  }
});
