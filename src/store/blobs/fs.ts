/**
 * The filesystem blob store, under one root directory (`<data-dir>/registry/` in `berth up`):
 *
 *   blobs/sha256/<first two hex>/<64 hex>    complete, verified blobs (0600); mtime = lastUsed
 *   uploads/<uuid>/meta.json                  a session's owner and start time (0600)
 *   uploads/<uuid>/data                       the bytes received so far (0600); mtime = updatedAt
 *   trash/<64 hex>.<random>                   a blob being removed by garbage collection
 *
 * Invariants:
 * - a file under blobs/ is complete and hashes to its name: it gets there only by `rename` from
 *   a session's data file after the digest was checked and the file fsynced (and the directory
 *   entry is fsynced after), so a crash at any point leaves either no blob or the whole blob;
 * - a session's size is its data file's size: appends write in order and the bytes written are
 *   exactly the bytes hashed, so after a crash the session resumes from what reached the file
 *   (the digest is recomputed from the file when the in-memory hash is gone);
 * - removal goes through trash/ (rename, then a second look at the blob's mtime), so a touch
 *   that raced the removal either is seen (the blob is put back) or fails (the blob is gone);
 *   whatever a crash left in trash/ is put back when the store opens.
 * Directories are 0700, files 0600.
 */
import { createHash, randomBytes, randomUUID, type Hash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { link, mkdir, open, opendir, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BlobTooLargeError,
  DigestMismatchError,
  TooManyUploadsError,
  UnsupportedDigestError,
  UploadAbortedError,
  UploadBusyError,
  UploadOffsetError,
  UploadUnknownError,
  isSha256Digest,
  type AppendOptions,
  type BlobInfo,
  type BlobStore,
  type ByteRange,
  type UploadInfo,
} from './types.js';

export interface FsBlobStoreOptions {
  /** Most upload sessions at once (default 1,000). */
  maxUploads?: number;
}

/** A session's hash of the bytes appended so far, while this process has seen all of them. */
interface HashState {
  hash: Hash;
  bytes: number;
}

interface SessionMeta {
  owner: string;
  startedAt: number;
}

/** Largest meta.json read back (it holds an owner string and a time). */
const MAX_META_BYTES = 4096;

/** Whether `id` is a lower-case UUID (8-4-4-4-12 hex), checked character by character. */
export function isUploadId(id: string): boolean {
  if (id.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** A digest's blob path, or UnsupportedDigestError. */
function hexOf(digest: string): string {
  if (!isSha256Digest(digest)) throw new UnsupportedDigestError(digest);
  return digest.slice(7);
}

async function fsyncPath(path: string, flags: number): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * A Writable that appends to an open file and hashes exactly the bytes written, so the hash and
 * the file never disagree, whatever fails; it refuses to grow the upload past `maxTotal`.
 */
function appender(fh: import('node:fs/promises').FileHandle, state: HashState | undefined, start: number, maxTotal: number): Writable & { written: number } {
  let written = 0;
  const writeAll = async (chunks: Buffer[]) => {
    const len = chunks.reduce((n, c) => n + c.length, 0);
    if (start + written + len > maxTotal) throw new BlobTooLargeError(maxTotal);
    let pending = chunks;
    while (pending.length) {
      const { bytesWritten } = await fh.writev(pending);
      // A short write (rare, e.g. a full disk) leaves the rest to write again, or fails next round.
      let left = bytesWritten;
      const rest: Buffer[] = [];
      for (const c of pending) {
        if (left >= c.length) {
          state?.hash.update(c);
          left -= c.length;
          written += c.length;
          if (state) state.bytes += c.length;
        } else {
          if (left > 0) {
            state?.hash.update(c.subarray(0, left));
            written += left;
            if (state) state.bytes += left;
          }
          rest.push(c.subarray(left));
          left = 0;
        }
      }
      if (bytesWritten === 0) throw new Error('the disk accepted no bytes');
      pending = rest;
    }
  };
  const w = new Writable({
    highWaterMark: 1 << 20,
    writev(entries, cb) {
      writeAll(entries.map((e) => e.chunk as Buffer)).then(() => cb(), cb);
    },
    write(chunk: Buffer, _enc, cb) {
      writeAll([chunk]).then(() => cb(), cb);
    },
  }) as Writable & { written: number };
  Object.defineProperty(w, 'written', { get: () => written });
  return w;
}

/** The filesystem BlobStore (see the file comment for the layout and its invariants). */
export class FsBlobStore implements BlobStore {
  private readonly hashes = new Map<string, HashState>();
  private readonly busy = new Set<string>();
  private readonly maxUploads: number;

  private constructor(readonly root: string, opts: FsBlobStoreOptions) {
    this.maxUploads = opts.maxUploads ?? 1000;
  }

  /** Opens (creating) the store at `root`, putting back any blob a crash left in trash/. */
  static async open(root: string, opts: FsBlobStoreOptions = {}): Promise<FsBlobStore> {
    const s = new FsBlobStore(root, opts);
    for (const d of [root, join(root, 'blobs'), join(root, 'blobs', 'sha256'), join(root, 'uploads'), join(root, 'trash')]) await mkdir(d, { recursive: true, mode: 0o700 });
    await s.recoverTrash();
    return s;
  }

  private blobPath(hex: string): string {
    return join(this.root, 'blobs', 'sha256', hex.slice(0, 2), hex);
  }

  private sessionDir(id: string): string {
    return join(this.root, 'uploads', id);
  }

  /** A removal interrupted by a crash is undone: the blob goes back (the next collection decides again). */
  private async recoverTrash(): Promise<void> {
    for (const name of await readdir(join(this.root, 'trash'))) {
      const hex = name.split('.')[0]!;
      const from = join(this.root, 'trash', name);
      if (isSha256Digest(`sha256:${hex}`)) {
        await mkdir(join(this.root, 'blobs', 'sha256', hex.slice(0, 2)), { recursive: true, mode: 0o700 });
        await link(from, this.blobPath(hex)).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
      }
      await unlink(from);
    }
  }

  async stat(digest: string): Promise<BlobInfo | undefined> {
    if (!isSha256Digest(digest)) return undefined;
    try {
      const st = await stat(this.blobPath(digest.slice(7)));
      return { digest, size: st.size, lastUsed: Math.round(st.mtimeMs) };
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async read(digest: string, range?: ByteRange): Promise<Readable | undefined> {
    if (!isSha256Digest(digest)) return undefined;
    let fh;
    try {
      fh = await open(this.blobPath(digest.slice(7)), constants.O_RDONLY);
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
    // The open handle keeps the bytes readable even if the blob is removed meanwhile.
    return fh.createReadStream(range ? { start: range.start, end: range.end, highWaterMark: 256 * 1024 } : { highWaterMark: 256 * 1024 });
  }

  async touch(digest: string, at: number): Promise<boolean> {
    if (!isSha256Digest(digest)) return false;
    try {
      await utimes(this.blobPath(digest.slice(7)), new Date(at), new Date(at));
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  async *list(): AsyncIterable<BlobInfo> {
    const top = join(this.root, 'blobs', 'sha256');
    for (const prefix of await readdir(top)) {
      let names: string[];
      try {
        names = await readdir(join(top, prefix));
      } catch (e) {
        if (isMissing(e) || (e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
        throw e;
      }
      for (const hex of names) {
        const info = await this.stat(`sha256:${hex}`);
        if (info) yield info;
      }
    }
  }

  async removeIfUnusedSince(digest: string, cutoff: number): Promise<boolean> {
    const hex = hexOf(digest);
    const path = this.blobPath(hex);
    const trash = join(this.root, 'trash', `${hex}.${randomBytes(6).toString('hex')}`);
    try {
      await rename(path, trash);
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
    // From here a touch fails (the name is gone); one that came before shows in the mtime.
    const st = await stat(trash);
    if (Math.round(st.mtimeMs) >= cutoff) {
      await link(trash, path).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e; // the same bytes were uploaded again meanwhile
      });
      await unlink(trash);
      return false;
    }
    await unlink(trash);
    return true;
  }

  async startUpload(owner: string, at: number): Promise<UploadInfo> {
    const open_ = (await readdir(join(this.root, 'uploads'))).length;
    if (open_ >= this.maxUploads) throw new TooManyUploadsError(this.maxUploads);
    const id = randomUUID();
    const dir = this.sessionDir(id);
    await mkdir(dir, { mode: 0o700 });
    const data = join(dir, 'data');
    await writeFile(data, '', { mode: 0o600 });
    await utimes(data, new Date(at), new Date(at));
    // The session exists once its meta.json does (written whole, then renamed into place).
    const meta: SessionMeta = { owner, startedAt: at };
    await writeFile(join(dir, 'meta.tmp'), JSON.stringify(meta), { mode: 0o600 });
    await rename(join(dir, 'meta.tmp'), join(dir, 'meta.json'));
    this.hashes.set(id, { hash: createHash('sha256'), bytes: 0 });
    return { id, owner, size: 0, startedAt: at, updatedAt: at };
  }

  async upload(id: string): Promise<UploadInfo | undefined> {
    if (!isUploadId(id)) return undefined;
    const dir = this.sessionDir(id);
    let meta: SessionMeta;
    let size: number;
    let updatedAt: number;
    try {
      const raw = await readFile(join(dir, 'meta.json'));
      if (raw.length > MAX_META_BYTES) return undefined;
      meta = JSON.parse(raw.toString('utf8')) as SessionMeta;
      const st = await stat(join(dir, 'data'));
      size = st.size;
      updatedAt = Math.round(st.mtimeMs);
    } catch (e) {
      if (isMissing(e) || e instanceof SyntaxError) return undefined;
      throw e;
    }
    if (typeof meta.owner !== 'string' || typeof meta.startedAt !== 'number') return undefined;
    return { id, owner: meta.owner, size, startedAt: meta.startedAt, updatedAt };
  }

  /** Runs `fn` as the only writer of session `id` in this process (UploadBusyError otherwise). */
  private async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy.has(id)) throw new UploadBusyError();
    this.busy.add(id);
    try {
      return await fn();
    } finally {
      this.busy.delete(id);
    }
  }

  async append(id: string, offset: number, data: Readable, at: number, opts: AppendOptions = {}): Promise<UploadInfo> {
    return this.exclusive(id, async () => {
      const info = await this.upload(id);
      if (!info) throw new UploadUnknownError(id);
      if (info.size !== offset) throw new UploadOffsetError(info.size, offset);
      let state = this.hashes.get(id);
      if (state && state.bytes !== info.size) state = undefined;
      if (!state && info.size === 0) state = { hash: createHash('sha256'), bytes: 0 };
      if (state) this.hashes.set(id, state);
      else this.hashes.delete(id);
      const dataPath = join(this.sessionDir(id), 'data');
      const fh = await open(dataPath, constants.O_WRONLY | constants.O_APPEND);
      let failure: unknown;
      try {
        await pipeline(data, appender(fh, state, info.size, opts.maxSize ?? Number.MAX_SAFE_INTEGER));
      } catch (e) {
        failure = e;
      } finally {
        await fh.close();
      }
      const st = await stat(dataPath);
      // The hash covers exactly the bytes written; if the file says otherwise, recompute at completion.
      if (state && state.bytes !== st.size) this.hashes.delete(id);
      await utimes(dataPath, new Date(at), new Date(at));
      if (failure) {
        if (failure instanceof BlobTooLargeError) throw failure;
        throw new UploadAbortedError(failure);
      }
      return { ...info, size: st.size, updatedAt: at };
    });
  }

  /** sha256 of the session's bytes: from the running hash when it covers them all, else read from the file. */
  private async digestOf(id: string, size: number): Promise<string> {
    const state = this.hashes.get(id);
    if (state && state.bytes === size) return `sha256:${state.hash.copy().digest('hex')}`;
    const hash = createHash('sha256');
    let bytes = 0;
    await pipeline(
      createReadStream(join(this.sessionDir(id), 'data'), { highWaterMark: 1 << 20 }),
      new Writable({
        write(chunk: Buffer, _e, cb) {
          hash.update(chunk);
          bytes += chunk.length;
          cb();
        },
      }),
    );
    this.hashes.set(id, { hash, bytes });
    return `sha256:${hash.copy().digest('hex')}`;
  }

  async complete(id: string, digest: string, at: number): Promise<BlobInfo> {
    const hex = hexOf(digest);
    return this.exclusive(id, async () => {
      const info = await this.upload(id);
      if (!info) throw new UploadUnknownError(id);
      const actual = await this.digestOf(id, info.size);
      if (actual !== digest) throw new DigestMismatchError(digest, actual);
      const dataPath = join(this.sessionDir(id), 'data');
      const target = this.blobPath(hex);
      // Already there (the same bytes pushed before): keep that one, used now.
      if (!(await this.touch(digest, at))) {
        await fsyncPath(dataPath, constants.O_RDWR);
        await utimes(dataPath, new Date(at), new Date(at));
        const dir = join(this.root, 'blobs', 'sha256', hex.slice(0, 2));
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await rename(dataPath, target);
        await fsyncPath(dir, constants.O_RDONLY);
      }
      await rm(this.sessionDir(id), { recursive: true, force: true });
      this.hashes.delete(id);
      const st = await stat(target);
      return { digest, size: st.size, lastUsed: Math.round(st.mtimeMs) };
    });
  }

  async cancel(id: string): Promise<boolean> {
    if (!isUploadId(id)) return false;
    this.hashes.delete(id);
    const dir = this.sessionDir(id);
    try {
      await stat(dir);
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
    await rm(dir, { recursive: true, force: true });
    return true;
  }

  async *uploads(): AsyncIterable<UploadInfo> {
    const dir = await opendir(join(this.root, 'uploads'));
    for await (const entry of dir) {
      const info = await this.upload(entry.name);
      if (info) {
        yield info;
        continue;
      }
      // A session a crash left half made (no meta.json yet, or a completed one's leftovers):
      // listed with its directory's age and no owner, so expiry removes it.
      try {
        const st = await stat(join(this.root, 'uploads', entry.name));
        if (isUploadId(entry.name)) yield { id: entry.name, owner: '', size: 0, startedAt: Math.round(st.mtimeMs), updatedAt: Math.round(st.mtimeMs) };
        else await rm(join(this.root, 'uploads', entry.name), { recursive: true, force: true });
      } catch (e) {
        if (!isMissing(e)) throw e;
      }
    }
  }
}
