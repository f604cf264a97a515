/**
 * Images: pushing a manifest (by tag or digest, through /v2/ or PutImage), reading it back,
 * tags, listings, referrers, and deletion. The rules both APIs share live here once.
 *
 * A push, in order:
 * 1. the manifest is parsed and checked (./manifests.ts), its digest computed and compared with
 *    any digest the client named;
 * 2. every blob it references is *touched* (marked used now, see src/store/blobs/types.ts) and
 *    checked to exist with the size its descriptor gives; from the touch on, garbage
 *    collection keeps the blob for its grace period (./gc.ts explains why that is enough);
 * 3. in one commit, with the repository's revision checked: the image and manifest records,
 *    the tag, the repository's image count, and the parent (index) and referrer (subject)
 *    records. A crash before the commit leaves nothing visible; after it, all of it.
 */
import type { ImageFailureCode } from '../../generated/ecr.js';
import { isSha256Digest } from '../../store/blobs/types.js';
import type { StoredRecord, Write } from '../../store/types.js';
import { retrying } from '../mutate.js';
import type { Platform, Scope } from '../platform.js';
import { ecrErrors } from './errors.js';
import { MAX_MANIFEST_BYTES, parseManifest, sha256Digest, unstorable } from './manifests.js';
import {
  KIND,
  imageKey,
  imagePrefix,
  isDigestShape,
  isTag,
  parentKey,
  parentPrefix,
  referrerKey,
  referrerPrefix,
  repositoryKey,
  tagKey,
  tagPrefix,
} from './names.js';
import type { ImageRecord, ManifestRecord, ReferrerRecord, RepositoryRecord, TagRecord } from './records.js';
import type { Registry } from './registry.js';
import { MAX_IMAGES_PER_REPOSITORY, checkRepositoryName, tagIsImmutable } from './repositories.js';

/** A reference to an image as the APIs name one: a tag, a digest, or both (they must agree). */
export interface ImageRef {
  tag?: string;
  digest?: string;
}

export interface PutImageInput {
  repository: string;
  manifest: Buffer;
  /** The Content-Type of the PUT, or PutImage's imageManifestMediaType. */
  mediaType?: string;
  tag?: string;
  /** The digest the client says the manifest has (a PUT by digest, PutImage's imageDigest). */
  digest?: string;
}

export interface PutImageResult {
  image: ImageRecord;
  /** Whether the image is new in the repository. */
  created: boolean;
  /** Whether the tag now names this image and did not before. */
  tagMoved: boolean;
}

/** The repository's record with its revision, or NAME_UNKNOWN / RepositoryNotFoundException. */
async function repositoryFor(s: Scope, name: string): Promise<StoredRecord<RepositoryRecord>> {
  const r = await s.platform.store.get<RepositoryRecord>(KIND.repository, repositoryKey(s.region, name));
  if (!r) throw ecrErrors.repositoryNotFound(name, s.platform.accountId);
  return r;
}

/**
 * Touches every blob and checks it exists with the size its descriptor says. Returns the time
 * of the touch. LayersNotFoundException / MANIFEST_BLOB_UNKNOWN for those that are not there.
 */
async function touchBlobs(reg: Registry, blobs: Map<string, number>, now: number): Promise<number> {
  const absent: string[] = [];
  for (const [digest, size] of blobs) {
    if (!isSha256Digest(digest) || !(await reg.blobs.touch(digest, now))) {
      absent.push(digest);
      continue;
    }
    const info = await reg.blobs.stat(digest);
    if (!info) absent.push(digest);
    else if (info.size !== size) throw ecrErrors.blobSizeMismatch(digest, size, info.size);
  }
  if (absent.length) throw ecrErrors.layersNotFound(absent);
  return now;
}

/**
 * Pushes a manifest into a repository, optionally tagging it (see the file comment). An image
 * already there is not written again; `created` and `tagMoved` say what changed.
 */
export async function putImage(s: Scope, reg: Registry, input: PutImageInput): Promise<PutImageResult> {
  const { store, clock } = s.platform;
  checkRepositoryName(input.repository);
  if (input.tag !== undefined && !isTag(input.tag)) throw ecrErrors.invalidTag(input.tag);
  if (input.manifest.length > MAX_MANIFEST_BYTES) throw ecrErrors.manifestTooLarge(input.manifest.length, MAX_MANIFEST_BYTES);
  const digest = sha256Digest(input.manifest);
  if (input.digest !== undefined) {
    if (!isDigestShape(input.digest)) throw ecrErrors.invalidDigest(input.digest);
    if (input.digest !== digest) throw ecrErrors.digestMismatch(input.digest, digest);
  }
  const parsed = parseManifest(input.manifest, input.mediaType);
  const blobs = new Map<string, number>();
  for (const d of parsed.blobs) {
    const seen = blobs.get(d.digest);
    if (seen !== undefined && seen !== d.size) throw ecrErrors.manifestInvalid(`${d.digest} is listed with two sizes`);
    blobs.set(d.digest, d.size);
  }
  const foreign = unstorable(parsed.blobs);
  if (foreign.length) throw ecrErrors.layersNotFound(foreign);
  const children = [...new Set(parsed.manifests.map((m) => m.digest))];
  const { region } = s;
  const name = input.repository;
  // Touches must be fresh when the commit makes the references visible (./gc.ts).
  const freshFor = Math.max(1, reg.settings.gcGraceMs / 4);

  return retrying(`Repository ${name}`, async () => {
    let touchedAt = await touchBlobs(reg, blobs, clock.now());
    const repo = await repositoryFor(s, name);
    const [existing, tagRec, kids] = await Promise.all([
      store.get<ImageRecord>(KIND.image, imageKey(region, name, digest)),
      input.tag !== undefined ? store.get<TagRecord>(KIND.tag, tagKey(region, name, input.tag)) : Promise.resolve(undefined),
      store.getMany<ImageRecord>(KIND.image, children.map((c) => imageKey(region, name, c))),
    ]);
    const missingKids = children.filter((_, i) => !kids[i]);
    if (missingKids.length) throw ecrErrors.referencedImagesNotFound(missingKids);
    if (input.tag !== undefined && tagRec && tagRec.value.digest !== digest && tagIsImmutable(repo.value, input.tag)) throw ecrErrors.tagImmutable(input.tag, name);
    const created = !existing;
    const tagMoved = input.tag !== undefined && tagRec?.value.digest !== digest;
    if (!created && !tagMoved) return { image: existing!.value, created: false, tagMoved: false };

    const now = clock.now();
    const writes: Write[] = [];
    let repoValue = repo.value;
    let image = existing?.value;
    if (!image) {
      if (repo.value.imageCount >= MAX_IMAGES_PER_REPOSITORY) throw ecrErrors.limitExceeded(`A repository can hold at most ${MAX_IMAGES_PER_REPOSITORY} images; delete some first.`);
      image = {
        digest,
        mediaType: parsed.mediaType,
        manifestSize: input.manifest.length,
        pushedAt: now,
        imageSize: parsed.kind === 'index' ? Math.max(0, ...kids.map((k) => k!.value.imageSize)) : parsed.layerBytes,
        blobs: [...blobs.keys()],
        children,
        ...(parsed.configMediaType ? { configMediaType: parsed.configMediaType } : {}),
        ...(parsed.artifactType ? { artifactType: parsed.artifactType } : {}),
        ...(parsed.subject ? { subject: parsed.subject } : {}),
      };
      const manifest: ManifestRecord = { text: input.manifest.toString('utf8') };
      writes.push({ kind: KIND.image, key: imageKey(region, name, digest), value: image, expectRev: 0 });
      writes.push({ kind: KIND.manifest, key: imageKey(region, name, digest), value: manifest, expectRev: 0 });
      for (const c of children) writes.push({ kind: KIND.parent, key: parentKey(region, name, c, digest), value: {} });
      if (parsed.subject) {
        const referrer: ReferrerRecord = {
          mediaType: parsed.mediaType,
          size: input.manifest.length,
          ...((parsed.artifactType ?? parsed.configMediaType) ? { artifactType: parsed.artifactType ?? parsed.configMediaType } : {}),
          ...(parsed.annotations && Object.keys(parsed.annotations).length ? { annotations: parsed.annotations } : {}),
        };
        writes.push({ kind: KIND.referrer, key: referrerKey(region, name, parsed.subject, digest), value: referrer });
      }
      repoValue = { ...repoValue, imageCount: repoValue.imageCount + 1 };
    }
    if (tagMoved) writes.push({ kind: KIND.tag, key: tagKey(region, name, input.tag!), value: { digest, at: now } satisfies TagRecord, expectRev: tagRec?.rev ?? 0 });
    // Written back even when unchanged: the revision check fails the push if the repository went.
    writes.push({ kind: KIND.repository, key: repo.key, value: repoValue, expectRev: repo.rev });
    if (clock.now() - touchedAt > freshFor) touchedAt = await touchBlobs(reg, blobs, clock.now());
    await store.commit(writes);
    return { image, created, tagMoved };
  });
}

/** The digest a tag names in a repository, or undefined. */
export async function digestOfTag(s: Scope, name: string, tag: string): Promise<string | undefined> {
  return (await s.platform.store.get<TagRecord>(KIND.tag, tagKey(s.region, name, tag)))?.value.digest;
}

/**
 * The image a reference names, or undefined (an unknown tag or digest, or a tag that names
 * another digest than the one given with it). Refs are checked first: a malformed tag or digest
 * is InvalidParameterException / TAG_INVALID / DIGEST_INVALID.
 */
export async function findImage(s: Scope, name: string, ref: ImageRef): Promise<ImageRecord | undefined> {
  if (ref.tag !== undefined && !isTag(ref.tag)) throw ecrErrors.invalidTag(ref.tag);
  if (ref.digest !== undefined && !isDigestShape(ref.digest)) throw ecrErrors.invalidDigest(ref.digest);
  let digest = ref.digest;
  if (ref.tag !== undefined) {
    const tagged = await digestOfTag(s, name, ref.tag);
    if (!tagged || (digest !== undefined && digest !== tagged)) return undefined;
    digest = tagged;
  }
  if (digest === undefined) return undefined;
  return (await s.platform.store.get<ImageRecord>(KIND.image, imageKey(s.region, name, digest)))?.value;
}

/** How a reference reads in ECR's messages: `imageDigest=..., imageTag=...`. */
export function describeRef(ref: ImageRef): string {
  return [ref.digest !== undefined ? `imageDigest=${ref.digest}` : '', ref.tag !== undefined ? `imageTag=${ref.tag}` : ''].filter(Boolean).join(', ');
}

/** An image and its manifest bytes, or ImageNotFoundException / MANIFEST_UNKNOWN (NAME_UNKNOWN without the repository). */
export async function getManifest(s: Scope, name: string, ref: ImageRef): Promise<{ image: ImageRecord; manifest: Buffer }> {
  const image = await findImage(s, name, ref);
  if (!image) {
    await repositoryFor(s, name);
    throw ecrErrors.imageNotFound(describeRef(ref), name, s.platform.accountId);
  }
  const m = await s.platform.store.get<ManifestRecord>(KIND.manifest, imageKey(s.region, name, image.digest));
  if (!m) throw ecrErrors.imageNotFound(describeRef(ref), name, s.platform.accountId);
  return { image, manifest: Buffer.from(m.value.text, 'utf8') };
}

/** Up to `limit` tags of a repository in lexical order, after `after`; `more` when others follow. */
export async function listTags(s: Scope, name: string, opts: { after?: string; limit: number }): Promise<{ tags: Array<{ tag: string; digest: string }>; more: boolean }> {
  const prefix = tagPrefix(s.region, name);
  const recs = await s.platform.store.list<TagRecord>(KIND.tag, { prefix, after: opts.after !== undefined ? prefix + opts.after : undefined, limit: opts.limit + 1 });
  return { tags: recs.slice(0, opts.limit).map((r) => ({ tag: r.key.slice(prefix.length), digest: r.value.digest })), more: recs.length > opts.limit };
}

/** Every tag of a repository, grouped by the digest it names (tags in lexical order). */
export async function tagsByDigest(s: Scope, name: string): Promise<Map<string, string[]>> {
  const prefix = tagPrefix(s.region, name);
  const out = new Map<string, string[]>();
  for (const r of await s.platform.store.list<TagRecord>(KIND.tag, { prefix })) {
    const list = out.get(r.value.digest) ?? [];
    list.push(r.key.slice(prefix.length));
    out.set(r.value.digest, list);
  }
  return out;
}

/** Up to `limit` images of a repository in digest order, after the digest `after`; `more` when others follow. */
export async function listImages(s: Scope, name: string, opts: { after?: string; limit: number }): Promise<{ images: ImageRecord[]; more: boolean }> {
  const prefix = imagePrefix(s.region, name);
  const recs = await s.platform.store.list<ImageRecord>(KIND.image, { prefix, after: opts.after !== undefined ? prefix + opts.after : undefined, limit: opts.limit + 1 });
  return { images: recs.slice(0, opts.limit).map((r) => r.value), more: recs.length > opts.limit };
}

/** Every image of a repository (for lifecycle evaluation: bounded by MAX_IMAGES_PER_REPOSITORY). */
export async function allImages(s: Scope, name: string): Promise<ImageRecord[]> {
  return (await s.platform.store.list<ImageRecord>(KIND.image, { prefix: imagePrefix(s.region, name) })).map((r) => r.value);
}

/** The images of a repository that have `subject` as their OCI subject, as descriptors (the referrers API). */
export async function referrersOf(s: Scope, name: string, subject: string): Promise<Array<ReferrerRecord & { digest: string }>> {
  const prefix = referrerPrefix(s.region, name, subject);
  return (await s.platform.store.list<ReferrerRecord>(KIND.referrer, { prefix })).map((r) => ({ ...r.value, digest: r.key.slice(prefix.length) }));
}

/** The digests of the indexes that list `digest` in a repository. */
export async function parentsOf(s: Scope, name: string, digest: string): Promise<string[]> {
  const prefix = parentPrefix(s.region, name, digest);
  return (await s.platform.store.list(KIND.parent, { prefix })).map((r) => r.key.slice(prefix.length));
}

/** What a batch deletion did: the references removed, and why the others were not. */
export interface DeleteOutcome {
  deleted: Array<{ digest: string; tag?: string }>;
  failures: Array<{ ref: ImageRef; code: ImageFailureCode; reason: string }>;
}

/**
 * Deletes images and tags of a repository in one commit. A digest deletes the image with all
 * its tags; a tag removes the tag, and with `lastTagDeletesImage` (ECR's BatchDeleteImage) the
 * image too when it was its last tag (OCI's DELETE of a tag removes only the tag). An image
 * listed by an index that stays is not deleted (ImageReferencedByManifestList). References
 * that name nothing, or are malformed, are failures, not errors.
 */
export async function deleteImages(s: Scope, name: string, refs: ImageRef[], opts: { lastTagDeletesImage: boolean }): Promise<DeleteOutcome> {
  const { store } = s.platform;
  const { region } = s;
  return retrying(`Repository ${name}`, async () => {
    const repo = await repositoryFor(s, name);
    const tagRecs = await store.list<TagRecord>(KIND.tag, { prefix: tagPrefix(region, name) });
    const prefix = tagPrefix(region, name);
    const tagOf = new Map(tagRecs.map((r) => [r.key.slice(prefix.length), r]));
    const tagsOf = new Map<string, string[]>();
    for (const [t, r] of tagOf) tagsOf.set(r.value.digest, [...(tagsOf.get(r.value.digest) ?? []), t]);
    const outcome: DeleteOutcome = { deleted: [], failures: [] };
    const removedTags = new Set<string>();
    const planned = new Map<string, ImageRef>(); // digest -> the ref that asked for the image's deletion
    const imageCache = new Map<string, StoredRecord<ImageRecord> | undefined>();
    const imageOf = async (d: string) => {
      if (!imageCache.has(d)) imageCache.set(d, await store.get<ImageRecord>(KIND.image, imageKey(region, name, d)));
      return imageCache.get(d);
    };
    const fail = (ref: ImageRef, code: ImageFailureCode, reason: string) => outcome.failures.push({ ref, code, reason });

    for (const ref of refs) {
      if (ref.tag === undefined && ref.digest === undefined) {
        fail(ref, 'MissingDigestAndTag', 'Invalid request parameters: both tag and digest cannot be null');
        continue;
      }
      if (ref.digest !== undefined && !isDigestShape(ref.digest)) {
        fail(ref, 'InvalidImageDigest', 'Invalid request parameters: image digest should satisfy the regex \'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+\'');
        continue;
      }
      if (ref.tag !== undefined && !isTag(ref.tag)) {
        fail(ref, 'InvalidImageTag', 'Invalid request parameters: image tag is not valid');
        continue;
      }
      if (ref.tag !== undefined) {
        const rec = tagOf.get(ref.tag);
        if (!rec || removedTags.has(ref.tag)) {
          fail(ref, 'ImageNotFound', 'Requested image not found');
          continue;
        }
        if (ref.digest !== undefined && rec.value.digest !== ref.digest) {
          fail(ref, 'ImageTagDoesNotMatchDigest', 'Invalid request parameters: given tag does not match the digest of the image');
          continue;
        }
        const remaining = (tagsOf.get(rec.value.digest) ?? []).filter((t) => !removedTags.has(t) && t !== ref.tag);
        if (opts.lastTagDeletesImage && remaining.length === 0) planned.set(rec.value.digest, ref);
        else {
          removedTags.add(ref.tag);
          outcome.deleted.push({ digest: rec.value.digest, tag: ref.tag });
        }
        continue;
      }
      if (!(await imageOf(ref.digest!)) || planned.has(ref.digest!)) {
        fail(ref, 'ImageNotFound', 'Requested image not found');
        continue;
      }
      planned.set(ref.digest!, ref);
    }

    // An image an index still lists stays (unless the index goes in the same batch).
    for (const [digest, ref] of [...planned]) {
      const keeping = (await parentsOf(s, name, digest)).filter((p) => !planned.has(p));
      if (keeping.length) {
        planned.delete(digest);
        if (ref.tag !== undefined && ref.digest === undefined) {
          // Asked by its last tag: the tag goes, the image stays for the index.
          removedTags.add(ref.tag);
          outcome.deleted.push({ digest, tag: ref.tag });
        } else fail(ref, 'ImageReferencedByManifestList', `Requested image is referenced by a manifest list: [${keeping.slice(0, 5).join(', ')}]`);
      }
    }

    const writes: Write[] = [];
    for (const t of removedTags) {
      const r = tagOf.get(t)!;
      writes.push({ kind: KIND.tag, key: r.key, value: null, expectRev: r.rev });
    }
    for (const digest of planned.keys()) {
      const img = (await imageOf(digest))!;
      const key = imageKey(region, name, digest);
      writes.push({ kind: KIND.image, key, value: null, expectRev: img.rev }, { kind: KIND.manifest, key, value: null });
      for (const c of img.value.children) writes.push({ kind: KIND.parent, key: parentKey(region, name, c, digest), value: null });
      if (img.value.subject) writes.push({ kind: KIND.referrer, key: referrerKey(region, name, img.value.subject, digest), value: null });
      const tags = (tagsOf.get(digest) ?? []).filter((t) => !removedTags.has(t));
      for (const t of tags) {
        const r = tagOf.get(t)!;
        writes.push({ kind: KIND.tag, key: r.key, value: null, expectRev: r.rev });
      }
      if (tags.length) for (const t of tags) outcome.deleted.push({ digest, tag: t });
      else outcome.deleted.push({ digest });
    }
    if (writes.length === 0) return outcome;
    writes.push({ kind: KIND.repository, key: repo.key, value: { ...repo.value, imageCount: Math.max(0, repo.value.imageCount - planned.size) }, expectRev: repo.rev });
    await store.commit(writes);
    return outcome;
  });
}

/**
 * Every blob digest some image references, in every region and repository (for garbage
 * collection). Reads image metadata only, never manifests.
 */
export async function referencedBlobs(platform: Platform): Promise<Set<string>> {
  const out = new Set<string>();
  let after: string | undefined;
  for (;;) {
    const page = await platform.store.list<ImageRecord>(KIND.image, { after, limit: 1000 });
    for (const r of page) for (const b of r.value.blobs) out.add(b);
    if (page.length < 1000) return out;
    after = page[page.length - 1]!.key;
  }
}

/** Every region that has repositories (for sweeps over all of them). */
export async function regionsWithRepositories(platform: Platform): Promise<string[]> {
  const regions = new Set<string>();
  for (const r of await platform.store.list(KIND.registry)) regions.add(r.key);
  return [...regions];
}
