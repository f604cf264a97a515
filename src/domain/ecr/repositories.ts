/**
 * Repositories: creation, settings (tag mutability, scanning, encryption, policy, lifecycle
 * policy, resource tags), listing and deletion. Every write is optimistic (`retrying` /
 * `mutate`): a repository and the images in it change together or not at all, and a push that
 * races a deletion fails whole (its commit checks the repository's revision).
 */
import type { ImageTagMutability } from '../../generated/ecr.js';
import { compileGlob } from '../glob.js';
import { mergeTags } from '../common.js';
import { mutate, retrying } from '../mutate.js';
import type { Scope } from '../platform.js';
import type { Write } from '../../store/types.js';
import { ecrErrors } from './errors.js';
import { KIND, imagePrefix, isRepositoryName, repositoryKey, tagPrefix } from './names.js';
import type { MutabilityExclusion, RegistryRecord, RepositoryRecord, ResourceTag } from './records.js';

/** Repositories per region (ECR's default quota). */
export const MAX_REPOSITORIES = 100_000;
/** Images per repository (ECR's default quota). */
export const MAX_IMAGES_PER_REPOSITORY = 20_000;
/** Resource tags per repository. */
export const MAX_RESOURCE_TAGS = 50;

/** The repository name, or InvalidParameterException / NAME_INVALID. */
export function checkRepositoryName(name: string): string {
  if (!isRepositoryName(name)) throw ecrErrors.invalidName(name);
  return name;
}

/** What CreateRepository sets. */
export interface NewRepository {
  name: string;
  imageTagMutability?: ImageTagMutability;
  mutabilityExclusions?: MutabilityExclusion[];
  scanOnPush?: boolean;
  encryptionType?: string;
  kmsKey?: string;
  tags?: ResourceTag[];
}

/** Checks a mutability setting and its exclusion filters (only the *_WITH_EXCLUSION settings take filters). */
export function checkMutability(mutability: ImageTagMutability, exclusions: MutabilityExclusion[] | undefined): MutabilityExclusion[] {
  const withExclusion = mutability === 'IMMUTABLE_WITH_EXCLUSION' || mutability === 'MUTABLE_WITH_EXCLUSION';
  if (withExclusion && !exclusions?.length) throw ecrErrors.invalidParameter(`imageTagMutabilityExclusionFilters are required with ${mutability}.`);
  if (!withExclusion && exclusions?.length) throw ecrErrors.invalidParameter(`imageTagMutabilityExclusionFilters can only be given with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION.`);
  for (const x of exclusions ?? []) {
    if (x.filterType !== 'WILDCARD') throw ecrErrors.invalidParameter(`filterType must be WILDCARD.`);
    if ((x.filter.match(/\*/g) ?? []).length > 2) throw ecrErrors.invalidParameter(`An exclusion filter can have at most 2 wildcards: '${x.filter}'.`);
  }
  return exclusions ?? [];
}

/** Whether pushing `tag` to another image is refused in `repo` (its mutability and exclusions). */
export function tagIsImmutable(repo: RepositoryRecord, tag: string): boolean {
  const excluded = () => repo.mutabilityExclusions.some((x) => compileGlob(x.filter, false, false)(tag));
  switch (repo.imageTagMutability) {
    case 'IMMUTABLE':
      return true;
    case 'IMMUTABLE_WITH_EXCLUSION':
      return !excluded();
    case 'MUTABLE_WITH_EXCLUSION':
      return excluded();
    default:
      return false;
  }
}

function checkedTags(existing: ResourceTag[], added: ResourceTag[]): ResourceTag[] {
  const merged = mergeTags(
    existing.map((t) => ({ key: t.Key, value: t.Value })),
    added.map((t) => ({ key: t.Key, value: t.Value })),
    (msg) => (/at most 50/.test(msg) ? ecrErrors.tooManyTags() : ecrErrors.invalidTagParameter(msg)),
  );
  return merged.map((t) => ({ Key: t.key!, Value: t.value ?? '' }));
}

/** Creates a repository (RepositoryAlreadyExistsException if the name is taken in the region). */
export async function createRepository(s: Scope, input: NewRepository): Promise<RepositoryRecord> {
  checkRepositoryName(input.name);
  const mutability = input.imageTagMutability ?? 'MUTABLE';
  const exclusions = checkMutability(mutability, input.mutabilityExclusions);
  const encryptionType = input.encryptionType ?? 'AES256';
  if (encryptionType === 'AES256' && input.kmsKey) throw ecrErrors.invalidParameter('A KMS key can only be given with encryptionType KMS or KMS_DSSE.');
  const record: RepositoryRecord = {
    name: input.name,
    createdAt: s.platform.clock.now(),
    imageTagMutability: mutability,
    mutabilityExclusions: exclusions,
    scanOnPush: input.scanOnPush ?? false,
    encryptionType,
    ...(input.kmsKey ? { kmsKey: input.kmsKey } : {}),
    tags: checkedTags([], input.tags ?? []),
    imageCount: 0,
  };
  const { store } = s.platform;
  return retrying(`Repository ${input.name}`, async () => {
    const [existing, reg] = await Promise.all([store.get(KIND.repository, repositoryKey(s.region, input.name)), store.get<RegistryRecord>(KIND.registry, s.region)]);
    if (existing) throw ecrErrors.repositoryExists(input.name, s.platform.accountId);
    const count = reg?.value.repositoryCount ?? 0;
    if (count >= MAX_REPOSITORIES) throw ecrErrors.limitExceeded(`A region can have at most ${MAX_REPOSITORIES} repositories.`);
    await store.commit([
      { kind: KIND.repository, key: repositoryKey(s.region, input.name), value: record, expectRev: 0 },
      { kind: KIND.registry, key: s.region, value: { ...reg?.value, repositoryCount: count + 1 }, expectRev: reg?.rev ?? 0 },
    ]);
    return record;
  });
}

/** The repository of that name in the scope's region, with its revision, or undefined. */
export async function findRepository(s: Scope, name: string) {
  return s.platform.store.get<RepositoryRecord>(KIND.repository, repositoryKey(s.region, name));
}

/** The repository, or RepositoryNotFoundException / NAME_UNKNOWN. */
export async function getRepository(s: Scope, name: string): Promise<RepositoryRecord> {
  const r = await findRepository(s, name);
  if (!r) throw ecrErrors.repositoryNotFound(name, s.platform.accountId);
  return r.value;
}

/** Up to `limit` repositories of the region in name order, after the name `after`; `more` when others follow. */
export async function listRepositories(s: Scope, opts: { after?: string; limit: number }): Promise<{ items: RepositoryRecord[]; more: boolean }> {
  const recs = await s.platform.store.list<RepositoryRecord>(KIND.repository, {
    prefix: `${s.region}/`,
    after: opts.after !== undefined ? repositoryKey(s.region, opts.after) : undefined,
    limit: opts.limit + 1,
  });
  return { items: recs.slice(0, opts.limit).map((r) => r.value), more: recs.length > opts.limit };
}

/**
 * Changes a repository's settings: `change` gets a copy and returns the new record (it may
 * throw to refuse). RepositoryNotFoundException if there is none.
 */
export async function updateRepository(s: Scope, name: string, change: (r: RepositoryRecord) => RepositoryRecord): Promise<RepositoryRecord> {
  const out = await mutate<RepositoryRecord>(s.platform.store, KIND.repository, repositoryKey(s.region, name), (cur) => {
    if (!cur) throw ecrErrors.repositoryNotFound(name, s.platform.accountId);
    return change(cur);
  });
  return out.value!;
}

/** Adds or replaces resource tags (TooManyTagsException past 50). */
export function tagRepository(s: Scope, name: string, tags: ResourceTag[]): Promise<RepositoryRecord> {
  return updateRepository(s, name, (r) => ({ ...r, tags: checkedTags(r.tags, tags) }));
}

/** Removes resource tags by key. */
export function untagRepository(s: Scope, name: string, keys: string[]): Promise<RepositoryRecord> {
  return updateRepository(s, name, (r) => ({ ...r, tags: r.tags.filter((t) => !keys.includes(t.Key)) }));
}

/**
 * Deletes a repository. With images in it, RepositoryNotEmptyException unless `force`, which
 * deletes its images and tags in the same commit (their blobs are left to garbage collection).
 */
export async function deleteRepository(s: Scope, name: string, force: boolean): Promise<RepositoryRecord> {
  const { store } = s.platform;
  return retrying(`Repository ${name}`, async () => {
    const repo = await findRepository(s, name);
    if (!repo) throw ecrErrors.repositoryNotFound(name, s.platform.accountId);
    if (repo.value.imageCount > 0 && !force) throw ecrErrors.repositoryNotEmpty(name, s.platform.accountId);
    const [images, manifests, parents, referrers, tags, reg, preview] = await Promise.all([
      store.list(KIND.image, { prefix: imagePrefix(s.region, name) }),
      store.list(KIND.manifest, { prefix: imagePrefix(s.region, name) }),
      store.list(KIND.parent, { prefix: imagePrefix(s.region, name) }),
      store.list(KIND.referrer, { prefix: imagePrefix(s.region, name) }),
      store.list(KIND.tag, { prefix: tagPrefix(s.region, name) }),
      store.get<RegistryRecord>(KIND.registry, s.region),
      store.get(KIND.lifecyclePreview, repositoryKey(s.region, name)),
    ]);
    const writes: Write[] = [
      { kind: KIND.repository, key: repo.key, value: null, expectRev: repo.rev },
      ...[...images, ...manifests, ...parents, ...referrers].map((r) => ({ kind: r.kind, key: r.key, value: null, expectRev: r.rev })),
      ...tags.map((r) => ({ kind: KIND.tag, key: r.key, value: null, expectRev: r.rev })),
    ];
    if (reg) writes.push({ kind: KIND.registry, key: s.region, value: { ...reg.value, repositoryCount: Math.max(0, reg.value.repositoryCount - 1) }, expectRev: reg.rev });
    if (preview) writes.push({ kind: KIND.lifecyclePreview, key: preview.key, value: null, expectRev: preview.rev });
    await store.commit(writes);
    return repo.value;
  });
}

/** The region's registry record (scanning settings), or an empty one. */
export async function registrySettings(s: Scope): Promise<RegistryRecord> {
  return (await s.platform.store.get<RegistryRecord>(KIND.registry, s.region))?.value ?? { repositoryCount: 0 };
}

/** Sets the registry's scanning configuration (accepted and returned; Berth does not scan). */
export async function putRegistryScanning(s: Scope, scanning: RegistryRecord['scanning']): Promise<RegistryRecord> {
  const out = await mutate<RegistryRecord>(s.platform.store, KIND.registry, s.region, (cur) => ({ repositoryCount: cur?.repositoryCount ?? 0, ...cur, scanning }));
  return out.value!;
}
