/**
 * Berth's blob storage: content-addressed bytes (container image layers and configs), kept
 * outside the state store because they are large and immutable. One interface for every
 * backend (today the filesystem, `./fs.ts`), verified by one conformance suite
 * (test/registry/blobConformance.ts). It knows nothing of repositories, manifests or AWS: the
 * ECR domain (src/domain/ecr/) decides what references what.
 *
 * The model:
 * - a **blob** is named by its digest (`sha256:<64 lowercase hex>`) and exists only complete
 *   and verified: its bytes hash to its name, they were made durable before it became visible,
 *   and it never changes. Blobs are shared by everything that references them (deduplicated).
 * - every blob carries `lastUsed` (ms, the platform clock's time): set when it is created and
 *   moved forward by `touch`. Garbage collection removes a blob only through
 *   `removeIfUnusedSince(digest, cutoff)`, which keeps it when it was used at or after `cutoff`,
 *   even when the touch races the removal (see that method). That is what lets a writer make a
 *   blob safe from collection before it commits a reference to it.
 * - an **upload session** collects bytes, appended in order, possibly over several requests
 *   and across a restart of the process, until `complete` checks their digest and turns them
 *   into a blob (or they are cancelled, or expire). Sessions carry an opaque `owner` string
 *   (the domain's region and repository) that the store only hands back.
 *
 * Bytes are streamed in and out: nothing here holds a blob in memory.
 */
import type { Readable } from 'node:stream';

/** A complete blob. */
export interface BlobInfo {
  /** `sha256:<hex>`. */
  digest: string;
  size: number;
  /** When it was created or last touched (ms since the epoch, platform clock). */
  lastUsed: number;
}

/** An upload session in progress. */
export interface UploadInfo {
  /** A UUID (lower-case), as ECR's upload ids are. */
  id: string;
  /** What the session belongs to (opaque to the store; the domain's `<region>/<repository>`). */
  owner: string;
  /** Bytes received so far (the next append starts here). */
  size: number;
  startedAt: number;
  /** When bytes last arrived (or the session started). */
  updatedAt: number;
}

/** An inclusive byte range of a blob. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface AppendOptions {
  /** Most bytes the whole upload may reach; more fail the append with BlobTooLargeError. */
  maxSize?: number;
}

export interface BlobStore {
  /** The blob named `digest`, or undefined (also for a name that is not a sha256 digest). */
  stat(digest: string): Promise<BlobInfo | undefined>;
  /** The blob's bytes (those of `range` if given; the caller checks it against the size), or undefined if absent. */
  read(digest: string, range?: ByteRange): Promise<Readable | undefined>;
  /**
   * Marks the blob used at `at`: a removal with a cutoff at or before `at` keeps it. False when
   * the blob does not exist (then nothing may reference it).
   */
  touch(digest: string, at: number): Promise<boolean>;
  /** Every blob, in no particular order (for garbage collection). */
  list(): AsyncIterable<BlobInfo>;
  /**
   * Removes the blob unless it was used at or after `cutoff`. Safe against a concurrent `touch`:
   * a touch that returned true before the removal is seen and keeps the blob; a touch after it
   * returns false. True if the blob was removed.
   */
  removeIfUnusedSince(digest: string, cutoff: number): Promise<boolean>;

  /** Opens an upload session for `owner`, empty. Throws TooManyUploadsError past the store's cap. */
  startUpload(owner: string, at: number): Promise<UploadInfo>;
  /** The session, or undefined (unknown, malformed id, cancelled, completed or expired). */
  upload(id: string): Promise<UploadInfo | undefined>;
  /**
   * Appends the bytes of `data` to the session, which must have exactly `offset` bytes now
   * (UploadOffsetError otherwise). Streams: memory stays flat whatever the size. When `data`
   * fails, a prefix of what it sent stays appended (bytes written before the failure; the
   * session's size says how many, and it resumes from there) and the failure is rethrown
   * (UploadAbortedError for a source that ended early or broke).
   */
  append(id: string, offset: number, data: Readable, at: number, opts?: AppendOptions): Promise<UploadInfo>;
  /**
   * Checks that the session's bytes hash to `digest` (DigestMismatchError, the session kept, if
   * not), makes them durable and publishes them as the blob `digest` atomically (or, when that
   * blob exists already, touches it), and ends the session.
   */
  complete(id: string, digest: string, at: number): Promise<BlobInfo>;
  /** Ends the session and drops its bytes. False if there was none. */
  cancel(id: string): Promise<boolean>;
  /** Every session (for expiry), in no particular order. */
  uploads(): AsyncIterable<UploadInfo>;
}

/** Base of the store's own errors: each says what went wrong with the blob or the session. */
export class BlobStoreError extends Error {}

/** No such session (or it belongs to something else: callers check `owner`). */
export class UploadUnknownError extends BlobStoreError {
  constructor(readonly id: string) {
    super(`upload ${id.slice(0, 64)} is unknown`);
  }
}

/** An append that does not start where the session ends. */
export class UploadOffsetError extends BlobStoreError {
  constructor(readonly expected: number, readonly given: number) {
    super(`the upload has ${expected} bytes; an append must start there, not at ${given}`);
  }
}

/** Another request is appending to or completing the same session right now. */
export class UploadBusyError extends BlobStoreError {
  constructor() {
    super('another request is writing to this upload');
  }
}

/** The bytes of a session do not hash to the digest given for them. */
export class DigestMismatchError extends BlobStoreError {
  constructor(readonly expected: string, readonly actual: string) {
    super(`the uploaded content has digest ${actual}, not ${expected}`);
  }
}

/** A digest that is not `sha256:` followed by 64 lower-case hex digits. */
export class UnsupportedDigestError extends BlobStoreError {
  constructor(readonly digest: string) {
    super(`'${digest.slice(0, 160)}' is not a sha256 digest (sha256:<64 lower-case hex digits>)`);
  }
}

/** An upload past the store's size cap (the bytes before the cap stay appended). */
export class BlobTooLargeError extends BlobStoreError {
  constructor(readonly limit: number) {
    super(`a blob may have at most ${limit} bytes`);
  }
}

/** The source of an append ended early or failed; what arrived before stays appended. */
export class UploadAbortedError extends BlobStoreError {
  constructor(cause?: unknown) {
    super('the upload stream ended before it was complete', { cause });
  }
}

/** More sessions open than the store allows. */
export class TooManyUploadsError extends BlobStoreError {
  constructor(readonly limit: number) {
    super(`at most ${limit} uploads may be in progress at once`);
  }
}

/** `sha256:<64 lower-case hex>`, checked character by character (no regular expression). */
export function isSha256Digest(s: string): boolean {
  if (s.length !== 71 || !s.startsWith('sha256:')) return false;
  for (let i = 7; i < 71; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}
