// The filesystem blob store against the conformance suite, plus what only files can show:
// permissions, and what a crash leaves behind (a half-made session, a blob caught mid-removal,
// bytes written without the process that wrote them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FsBlobStore } from '../../src/store/blobs/fs.js';
import { blobStoreConformance } from './blobConformance.js';

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const t0 = Date.UTC(2026, 0, 1);

blobStoreConformance('fs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-blobs-'));
  return {
    store: await FsBlobStore.open(dir),
    reopen: () => FsBlobStore.open(dir),
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? [p, ...walk(p)] : [p];
  });
}

test('fs: every file is 0600 and every directory 0700', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-blobs-'));
  try {
    const s = await FsBlobStore.open(join(dir, 'registry'));
    const u = await s.startUpload('o', t0);
    await s.append(u.id, 0, Readable.from([Buffer.from('x')]), t0);
    const v = await s.startUpload('o', t0);
    await s.append(v.id, 0, Readable.from([Buffer.from('y')]), t0);
    await s.complete(v.id, digestOf(Buffer.from('y')), t0);
    const all = walk(join(dir, 'registry'));
    assert.ok(all.length > 5);
    for (const p of all) {
      const mode = statSync(p).mode & 0o777;
      assert.equal(mode, statSync(p).isDirectory() ? 0o700 : 0o600, `${p} is ${mode.toString(8)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fs: a blob a crash left in trash/ (mid-removal) is put back when the store opens', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-blobs-'));
  try {
    const s = await FsBlobStore.open(dir);
    const u = await s.startUpload('o', t0);
    await s.append(u.id, 0, Readable.from([Buffer.from('layer')]), t0);
    const { digest } = await s.complete(u.id, digestOf(Buffer.from('layer')), t0);
    const hex = digest.slice(7);
    // What removeIfUnusedSince's first step leaves if the process dies right after it.
    renameSync(join(dir, 'blobs', 'sha256', hex.slice(0, 2), hex), join(dir, 'trash', `${hex}.abcdef`));
    assert.equal(await s.stat(digest), undefined);
    const again = await FsBlobStore.open(dir);
    assert.equal((await again.stat(digest))?.size, 5);
    assert.deepEqual(readdirSync(join(dir, 'trash')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fs: bytes a killed process wrote are the session; a half-made session is listed without owner, for expiry', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-blobs-'));
  try {
    const s = await FsBlobStore.open(dir);
    const u = await s.startUpload('o', t0);
    // Another process appended and died: its hash state is gone, its bytes are on disk.
    appendFileSync(join(dir, 'uploads', u.id, 'data'), 'written by a process that died');
    const again = await FsBlobStore.open(dir);
    assert.equal((await again.upload(u.id))?.size, 30);
    assert.equal((await again.complete(u.id, digestOf(Buffer.from('written by a process that died')), t0)).size, 30);
    // A session directory without meta.json (the crash came between mkdir and the rename).
    const half = '11111111-2222-3333-4444-555555555555';
    mkdirSync(join(dir, 'uploads', half), { mode: 0o700 });
    writeFileSync(join(dir, 'uploads', half, 'data'), 'x', { mode: 0o600 });
    assert.equal(await again.upload(half), undefined);
    const listed = [];
    for await (const x of again.uploads()) listed.push(x);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.id, half);
    assert.equal(listed[0]!.owner, '');
    assert.equal(await again.cancel(half), true);
    assert.equal(existsSync(join(dir, 'uploads', half)), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
