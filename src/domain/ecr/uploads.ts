/**
 * Layer uploads and blob lookups within a repository, for both APIs: the OCI blob upload
 * endpoints (src/registry/) and ECR's InitiateLayerUpload / UploadLayerPart /
 * CompleteLayerUpload. A session belongs to one repository (its owner in the blob store is
 * `<region>/<name>`); naming it under another repository is BLOB_UPLOAD_UNKNOWN /
 * UploadNotFoundException. The blob store's errors become EcrErrors here, once.
 *
 * Blobs themselves are shared by every repository (stored once per digest); a repository sees
 * every blob of the registry, as after a cross-repository mount.
 */
import type { Readable } from 'node:stream';
import {
  BlobTooLargeError,
  DigestMismatchError,
  TooManyUploadsError,
  UnsupportedDigestError,
  UploadAbortedError,
  UploadBusyError,
  UploadOffsetError,
  UploadUnknownError,
  type BlobInfo,
  type UploadInfo,
} from '../../store/blobs/types.js';
import type { Scope } from '../platform.js';
import { ecrErrors } from './errors.js';
import { isDigestShape, repositoryKey } from './names.js';
import type { Registry } from './registry.js';
import { getRepository } from './repositories.js';

/** The client's stream ended before the bytes it promised (nobody is left to answer). */
export class UploadInterrupted extends Error {}

/** The blob store's owner string of a repository's sessions. */
function ownerOf(s: Scope, name: string): string {
  return repositoryKey(s.region, name);
}

/** Maps the blob store's errors to the registry's; rethrows anything else. */
function translate(e: unknown, s: Scope, name: string, id: string): never {
  if (e instanceof UploadUnknownError) throw ecrErrors.uploadNotFound(id, name, s.platform.accountId);
  if (e instanceof UploadBusyError) throw ecrErrors.uploadBusy();
  if (e instanceof BlobTooLargeError) throw ecrErrors.uploadTooLarge(e.limit);
  if (e instanceof TooManyUploadsError) throw ecrErrors.tooManyUploads(e.limit);
  if (e instanceof UnsupportedDigestError) throw ecrErrors.invalidDigest(e.digest);
  if (e instanceof UploadAbortedError) throw new UploadInterrupted(e.message);
  throw e;
}

/** Opens an upload session in a repository (which must exist). */
export async function startUpload(s: Scope, reg: Registry, name: string): Promise<UploadInfo> {
  await getRepository(s, name);
  try {
    return await reg.blobs.startUpload(ownerOf(s, name), s.platform.clock.now());
  } catch (e) {
    translate(e, s, name, '');
  }
}

/** The session `id` of the repository, or BLOB_UPLOAD_UNKNOWN / UploadNotFoundException. */
export async function uploadOf(s: Scope, reg: Registry, name: string, id: string): Promise<UploadInfo> {
  const info = await reg.blobs.upload(id);
  if (!info || info.owner !== ownerOf(s, name)) throw ecrErrors.uploadNotFound(id, name, s.platform.accountId);
  return info;
}

/**
 * Appends a stream to a session at `offset`. A wrong offset is `onOffset(actual)`'s error (the
 * two APIs word it differently); a stream that breaks off is UploadInterrupted (what arrived
 * stays, so the client may resume).
 */
export async function appendUpload(s: Scope, reg: Registry, name: string, id: string, offset: number, data: Readable, onOffset: (actual: number) => Error): Promise<UploadInfo> {
  await uploadOf(s, reg, name, id);
  try {
    return await reg.blobs.append(id, offset, data, s.platform.clock.now(), { maxSize: reg.settings.maxBlobBytes });
  } catch (e) {
    if (e instanceof UploadOffsetError) throw onOffset(e.expected);
    translate(e, s, name, id);
  }
}

/**
 * Completes a session as the blob `digest`. A digest that does not match ends the session
 * (DIGEST_INVALID / InvalidLayerException): its bytes are wrong and cannot be fixed by more.
 */
export async function completeUpload(s: Scope, reg: Registry, name: string, id: string, digest: string): Promise<BlobInfo> {
  if (!isDigestShape(digest)) throw ecrErrors.invalidDigest(digest);
  await uploadOf(s, reg, name, id);
  try {
    return await reg.blobs.complete(id, digest, s.platform.clock.now());
  } catch (e) {
    if (e instanceof DigestMismatchError) {
      await reg.blobs.cancel(id);
      throw ecrErrors.invalidLayer(`The layer digest calculated for upload '${id}' ('${e.actual}') did not match the digest given ('${e.expected}').`, { expected: e.expected, actual: e.actual });
    }
    translate(e, s, name, id);
  }
}

/** Cancels a session of the repository (BLOB_UPLOAD_UNKNOWN if there is none). */
export async function cancelUpload(s: Scope, reg: Registry, name: string, id: string): Promise<void> {
  await uploadOf(s, reg, name, id);
  await reg.blobs.cancel(id);
}

/**
 * A blob as a repository sees it (the repository must exist), or undefined. With `touch`, a
 * found blob is marked used now if it was not lately: a client that finds a layer here skips
 * uploading it and pushes a manifest soon after, and the blob must survive until then.
 */
export async function blobIn(s: Scope, reg: Registry, name: string, digest: string, touch: boolean): Promise<BlobInfo | undefined> {
  await getRepository(s, name);
  if (!isDigestShape(digest)) throw ecrErrors.invalidDigest(digest);
  const info = await reg.blobs.stat(digest);
  if (!info || !touch) return info;
  const now = s.platform.clock.now();
  if (now - info.lastUsed > reg.settings.gcGraceMs / 8 && !(await reg.blobs.touch(digest, now))) return undefined;
  return info;
}
