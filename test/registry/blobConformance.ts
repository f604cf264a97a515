/**
 * The conformance suite every BlobStore implementation must pass (src/store/blobs/types.ts).
 * Each backend's test file calls `blobStoreConformance(name, open)`, where `open()` gives a fresh,
 * empty store and a way to open the same storage again (as after a restart).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { eventually } from '../helpers/fixture.js';
import {
  BlobTooLargeError,
  DigestMismatchError,
  UnsupportedDigestError,
  UploadAbortedError,
  UploadBusyError,
  UploadOffsetError,
  UploadUnknownError,
  type BlobStore,
} from '../../src/store/blobs/types.js';

export interface OpenedBlobStore {
  store: BlobStore;
  /** The same storage opened anew (a restart): sessions and blobs must be there. */
  reopen(): Promise<BlobStore>;
  close(): Promise<void>;
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function readAll(r: Readable | undefined): Promise<Buffer> {
  assert.ok(r, 'expected a stream');
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A stream that yields `chunks`, then fails (a client that went away). */
function breaking(chunks: Buffer[]): Readable {
  return new Readable({
    read() {
      const c = chunks.shift();
      if (c) this.push(c);
      else this.destroy(new Error('connection reset'));
    },
  });
}

/** A stream of `size` deterministic bytes in 1 MiB chunks, made as it is read. */
function generated(size: number, seed = 7): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(1 << 20, size - sent);
      const b = Buffer.alloc(n, (sent / (1 << 20) + seed) & 0xff);
      sent += n;
      this.push(b);
    },
  });
}

export function blobStoreConformance(name: string, open: () => Promise<OpenedBlobStore>): void {
  const t0 = Date.UTC(2026, 0, 1);
  const withStore = (title: string, fn: (o: OpenedBlobStore) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const o = await open();
      try {
        await fn(o);
      } finally {
        await o.close();
      }
    });

  withStore('an upload appended in parts and completed becomes a blob, readable whole and by range', async ({ store }) => {
    const data = Buffer.from('hello, registry: '.repeat(1000));
    const u = await store.startUpload('us-east-1/app', t0);
    assert.equal(u.size, 0);
    assert.equal(u.owner, 'us-east-1/app');
    const a = await store.append(u.id, 0, Readable.from([data.subarray(0, 5000)]), t0 + 1);
    assert.equal(a.size, 5000);
    const b = await store.append(u.id, 5000, Readable.from([data.subarray(5000, 9000), data.subarray(9000)]), t0 + 2);
    assert.equal(b.size, data.length);
    assert.equal((await store.upload(u.id))?.size, data.length);
    assert.equal((await store.upload(u.id))?.updatedAt, t0 + 2);
    const digest = digestOf(data);
    assert.equal(await store.stat(digest), undefined, 'not a blob before completion');
    const info = await store.complete(u.id, digest, t0 + 3);
    assert.deepEqual(info, { digest, size: data.length, lastUsed: t0 + 3 });
    assert.equal(await store.upload(u.id), undefined, 'the session ends with completion');
    assert.deepEqual(await readAll(await store.read(digest)), data);
    assert.deepEqual(await readAll(await store.read(digest, { start: 10, end: 19 })), data.subarray(10, 20));
    assert.deepEqual((await store.stat(digest))?.size, data.length);
  });

  withStore('a digest that does not match keeps the session and makes no blob; malformed digests are refused', async ({ store }) => {
    const u = await store.startUpload('o', t0);
    await store.append(u.id, 0, Readable.from([Buffer.from('abc')]), t0);
    const wrong = digestOf(Buffer.from('abd'));
    const err = await store.complete(u.id, wrong, t0).catch((e) => e);
    assert.ok(err instanceof DigestMismatchError);
    assert.equal(err.actual, digestOf(Buffer.from('abc')));
    assert.equal(await store.stat(wrong), undefined);
    assert.equal(await store.stat(err.actual), undefined);
    assert.equal((await store.upload(u.id))?.size, 3);
    await assert.rejects(store.complete(u.id, 'sha256:ABC', t0), UnsupportedDigestError);
    await assert.rejects(store.complete(u.id, 'md5:0123', t0), UnsupportedDigestError);
    // The session still completes with the right digest.
    assert.equal((await store.complete(u.id, err.actual, t0)).size, 3);
  });

  withStore('an append must start where the session ends; unknown and malformed ids are unknown', async ({ store }) => {
    const u = await store.startUpload('o', t0);
    await store.append(u.id, 0, Readable.from([Buffer.from('12345')]), t0);
    const e = await store.append(u.id, 3, Readable.from([Buffer.from('x')]), t0).catch((x) => x);
    assert.ok(e instanceof UploadOffsetError);
    assert.equal(e.expected, 5);
    assert.equal(await store.upload('00000000-0000-0000-0000-000000000000'), undefined);
    assert.equal(await store.upload('../../etc/passwd'), undefined);
    assert.equal(await store.upload('AAAAAAAA-0000-0000-0000-000000000000'), undefined);
    await assert.rejects(store.append('00000000-0000-0000-0000-000000000000', 0, Readable.from([Buffer.from('x')]), t0), UploadUnknownError);
    await assert.rejects(store.complete('../x', digestOf(Buffer.from('')), t0), UploadUnknownError);
    assert.equal(await store.cancel('nope'), false);
  });

  withStore('one writer per session at a time: a second append meanwhile is refused', async ({ store }) => {
    const u = await store.startUpload('o', t0);
    const slow = new Readable({ read() {} });
    slow.push(Buffer.from('a'));
    const first = store.append(u.id, 0, slow, t0);
    // The first append has written its byte and waits for more.
    await eventually(async () => (await store.upload(u.id))?.size === 1, { what: 'the first append to be under way' });
    await assert.rejects(store.append(u.id, 1, Readable.from([Buffer.from('b')]), t0), UploadBusyError);
    await assert.rejects(store.complete(u.id, digestOf(Buffer.from('a')), t0), UploadBusyError);
    slow.push(null);
    assert.equal((await first).size, 1);
  });

  withStore('a stream that breaks off keeps a prefix of what it sent; the upload resumes from the session\'s size and completes', async ({ store }) => {
    const parts = [Buffer.alloc(100_000, 1), Buffer.alloc(50_000, 2)];
    const whole = Buffer.concat([...parts, Buffer.alloc(70_000, 3)]);
    const u = await store.startUpload('o', t0);
    await assert.rejects(store.append(u.id, 0, breaking([...parts]), t0), UploadAbortedError);
    // A prefix of what was sent stays (bytes still buffered when the stream broke may not).
    const size = (await store.upload(u.id))!.size;
    assert.ok(size <= 150_000, `${size} bytes kept`);
    await store.append(u.id, size, Readable.from([whole.subarray(size)]), t0);
    assert.equal((await store.complete(u.id, digestOf(whole), t0)).size, whole.length);
    assert.deepEqual(await readAll(await store.read(digestOf(whole))), whole);
  });

  withStore('sessions and blobs survive a restart; a session resumed after it completes with the right digest', async ({ store, reopen }) => {
    const whole = Buffer.from('0123456789'.repeat(10_000));
    const u = await store.startUpload('us-west-2/a/b', t0);
    await store.append(u.id, 0, Readable.from([whole.subarray(0, 40_000)]), t0 + 5);
    const done = await store.startUpload('o', t0);
    await store.append(done.id, 0, Readable.from([Buffer.from('kept')]), t0);
    await store.complete(done.id, digestOf(Buffer.from('kept')), t0 + 9);
    const again = await reopen();
    const info = await again.upload(u.id);
    assert.deepEqual(info, { id: u.id, owner: 'us-west-2/a/b', size: 40_000, startedAt: t0, updatedAt: t0 + 5 });
    await again.append(u.id, 40_000, Readable.from([whole.subarray(40_000)]), t0 + 6);
    await again.complete(u.id, digestOf(whole), t0 + 7);
    assert.deepEqual(await readAll(await again.read(digestOf(whole))), whole);
    assert.deepEqual(await again.stat(digestOf(Buffer.from('kept'))), { digest: digestOf(Buffer.from('kept')), size: 4, lastUsed: t0 + 9 });
  });

  withStore('an upload past the size cap is refused', async ({ store }) => {
    const u = await store.startUpload('o', t0);
    await assert.rejects(store.append(u.id, 0, Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), t0, { maxSize: 1000 }), BlobTooLargeError);
    assert.ok((await store.upload(u.id))!.size <= 1000);
  });

  withStore('the same bytes uploaded twice are one blob; the second completion touches it', async ({ store }) => {
    const data = Buffer.from('same layer');
    for (const at of [t0, t0 + 1000]) {
      const u = await store.startUpload('o', at);
      await store.append(u.id, 0, Readable.from([data]), at);
      await store.complete(u.id, digestOf(data), at);
    }
    const all = [];
    for await (const b of store.list()) all.push(b);
    assert.deepEqual(all, [{ digest: digestOf(data), size: data.length, lastUsed: t0 + 1000 }]);
  });

  withStore('touch moves lastUsed; removal keeps a blob used since the cutoff and removes one that was not', async ({ store }) => {
    const mk = async (s: string, at: number) => {
      const u = await store.startUpload('o', at);
      await store.append(u.id, 0, Readable.from([Buffer.from(s)]), at);
      return (await store.complete(u.id, digestOf(Buffer.from(s)), at)).digest;
    };
    const old = await mk('old', t0);
    const touched = await mk('touched', t0);
    assert.equal(await store.touch(touched, t0 + 10_000), true);
    assert.equal((await store.stat(touched))?.lastUsed, t0 + 10_000);
    assert.equal(await store.touch(digestOf(Buffer.from('missing')), t0), false);
    assert.equal(await store.touch('not a digest', t0), false);
    assert.equal(await store.removeIfUnusedSince(old, t0 + 5000), true);
    assert.equal(await store.stat(old), undefined);
    assert.equal(await store.read(old), undefined);
    assert.equal(await store.removeIfUnusedSince(touched, t0 + 5000), false);
    assert.equal((await store.stat(touched))?.size, 'touched'.length);
    assert.equal(await store.removeIfUnusedSince(old, t0 + 5000), false, 'already gone');
    // A touch racing the removal: either the blob stays or the touch says it is gone.
    const raced = await mk('raced', t0);
    const [removed, touchedOk] = await Promise.all([store.removeIfUnusedSince(raced, t0 + 5000), store.touch(raced, t0 + 20_000)]);
    assert.ok(!(removed && touchedOk) || (await store.stat(raced)) !== undefined, 'a successful touch never loses the blob');
    if (touchedOk) assert.ok(await store.stat(raced), 'touched, so kept');
  });

  withStore('uploads() lists sessions; cancel ends one', async ({ store }) => {
    const a = await store.startUpload('one', t0);
    const b = await store.startUpload('two', t0 + 1);
    const ids = [];
    for await (const u of store.uploads()) ids.push(u.id);
    assert.deepEqual(ids.sort(), [a.id, b.id].sort());
    assert.equal(await store.cancel(a.id), true);
    assert.equal(await store.cancel(a.id), false);
    assert.equal(await store.upload(a.id), undefined);
    const left = [];
    for await (const u of store.uploads()) left.push(u.id);
    assert.deepEqual(left, [b.id]);
  });

  withStore('an empty blob is a blob', async ({ store }) => {
    const u = await store.startUpload('o', t0);
    const empty = digestOf(Buffer.alloc(0));
    assert.equal((await store.complete(u.id, empty, t0)).size, 0);
    assert.deepEqual(await readAll(await store.read(empty)), Buffer.alloc(0));
  });

  withStore('a 48 MiB blob streams in and out (memory figures: bench/registry.ts)', async ({ store }) => {
    const size = 48 * 1024 * 1024;
    const hash = createHash('sha256');
    for await (const c of generated(size)) hash.update(c as Buffer);
    const digest = `sha256:${hash.digest('hex')}`;
    const u = await store.startUpload('o', t0);
    await store.append(u.id, 0, generated(size), t0);
    await store.complete(u.id, digest, t0);
    const check = createHash('sha256');
    let n = 0;
    for await (const c of (await store.read(digest))!) {
      check.update(c as Buffer);
      n += (c as Buffer).length;
    }
    assert.equal(n, size);
    assert.equal(`sha256:${check.digest('hex')}`, digest);
  });
}
