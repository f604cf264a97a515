/**
 * ECR lifecycle policies: the policy document's rules (`parseLifecyclePolicy`, refusing what ECR
 * refuses), which images they expire (`evaluateLifecycle`, pure), and applying that to a
 * repository (`applyLifecyclePolicy`, what the sweep in src/control/ecrLifecycle.ts runs and
 * what StartLifecyclePolicyPreview shows without deleting).
 *
 * Evaluation, as ECR documents it:
 * - rules run by ascending `rulePriority`; an image is expired by at most one rule;
 * - an image that matches a rule's tag selection cannot be expired by a lower-priority rule, but
 *   still counts for that rule's `imageCountMoreThan`;
 * - `tagged` selects images with at least one tag where every entry of `tagPrefixList` is a
 *   prefix of one of its tags (or every `tagPatternList` wildcard matches one of them);
 *   `untagged` images without tags; `any` every image;
 * - `imageCountMoreThan: n` expires the matched images beyond the n most recently pushed;
 *   `sinceImagePushed` with `countUnit: days` those pushed more than `countNumber` days ago;
 * - an image an index (manifest list) of the repository lists is never expired by the policy.
 */
import { compileGlob, type Glob } from '../glob.js';
import type { Scope } from '../platform.js';
import { ecrErrors } from './errors.js';
import { allImages, deleteImages, tagsByDigest } from './images.js';
import { KIND, repositoryKey } from './names.js';
import type { LifecyclePreviewRecord, RepositoryRecord } from './records.js';
import { getRepository } from './repositories.js';

export interface LifecycleRule {
  rulePriority: number;
  description?: string;
  tagStatus: 'tagged' | 'untagged' | 'any';
  tagPrefixList?: string[];
  tagPatternList?: string[];
  countType: 'imageCountMoreThan' | 'sinceImagePushed';
  countNumber: number;
}

/** Most rules a policy may have. */
export const MAX_RULES = 100;
/** Most entries in one rule's tagPrefixList or tagPatternList. */
const MAX_TAG_FILTERS = 100;
/** Most wildcards in one tagPatternList entry (ECR: 4). */
const MAX_WILDCARDS = 4;
const DAY_MS = 24 * 60 * 60 * 1000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, what: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_TAG_FILTERS || !v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 128)) {
    throw ecrErrors.invalidLifecyclePolicy(`${what} must be a list of 1-${MAX_TAG_FILTERS} non-empty strings of at most 128 characters`);
  }
  return v as string[];
}

/** Parses a lifecycle policy document, refusing it (InvalidParameterException) as ECR would. Rules come back in priority order. */
export function parseLifecyclePolicy(text: string): LifecycleRule[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw ecrErrors.invalidLifecyclePolicy('the policy is not valid JSON');
  }
  if (!isObject(doc) || !Array.isArray(doc.rules) || doc.rules.length === 0) throw ecrErrors.invalidLifecyclePolicy("the policy must be an object with a non-empty 'rules' list");
  if (doc.rules.length > MAX_RULES) throw ecrErrors.invalidLifecyclePolicy(`a policy can have at most ${MAX_RULES} rules`);
  const rules: LifecycleRule[] = [];
  const priorities = new Set<number>();
  for (const [i, r] of (doc.rules as unknown[]).entries()) {
    const at = `rule ${i + 1}`;
    if (!isObject(r) || !isObject(r.selection) || !isObject(r.action)) throw ecrErrors.invalidLifecyclePolicy(`${at} needs rulePriority, selection and action`);
    const p = r.rulePriority;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 999) throw ecrErrors.invalidLifecyclePolicy(`${at}: rulePriority must be a whole number from 1 to 999`);
    if (priorities.has(p)) throw ecrErrors.invalidLifecyclePolicy(`rulePriority ${p} is used by more than one rule`);
    priorities.add(p);
    if (r.action.type !== 'expire') throw ecrErrors.invalidLifecyclePolicy(`${at}: action.type must be 'expire'`);
    const sel = r.selection;
    const tagStatus = sel.tagStatus;
    if (tagStatus !== 'tagged' && tagStatus !== 'untagged' && tagStatus !== 'any') throw ecrErrors.invalidLifecyclePolicy(`${at}: selection.tagStatus must be tagged, untagged or any`);
    const tagPrefixList = stringList(sel.tagPrefixList, `${at}: tagPrefixList`);
    const tagPatternList = stringList(sel.tagPatternList, `${at}: tagPatternList`);
    if (tagStatus === 'tagged' && !tagPrefixList && !tagPatternList) throw ecrErrors.invalidLifecyclePolicy(`${at}: a tagged selection needs tagPrefixList or tagPatternList`);
    if (tagPrefixList && tagPatternList) throw ecrErrors.invalidLifecyclePolicy(`${at}: give tagPrefixList or tagPatternList, not both`);
    if (tagStatus !== 'tagged' && (tagPrefixList || tagPatternList)) throw ecrErrors.invalidLifecyclePolicy(`${at}: only a tagged selection takes tagPrefixList or tagPatternList`);
    for (const pat of tagPatternList ?? []) {
      if (pat.split('*').length - 1 > MAX_WILDCARDS) throw ecrErrors.invalidLifecyclePolicy(`${at}: a tag pattern can have at most ${MAX_WILDCARDS} wildcards: '${pat}'`);
    }
    const countType = sel.countType;
    const n = sel.countNumber;
    if (countType !== 'imageCountMoreThan' && countType !== 'sinceImagePushed') throw ecrErrors.invalidLifecyclePolicy(`${at}: selection.countType must be imageCountMoreThan or sinceImagePushed`);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1_000_000) throw ecrErrors.invalidLifecyclePolicy(`${at}: selection.countNumber must be a whole number of at least 1`);
    if (countType === 'sinceImagePushed' && sel.countUnit !== 'days') throw ecrErrors.invalidLifecyclePolicy(`${at}: sinceImagePushed needs countUnit 'days'`);
    if (countType === 'imageCountMoreThan' && sel.countUnit !== undefined) throw ecrErrors.invalidLifecyclePolicy(`${at}: imageCountMoreThan takes no countUnit`);
    if (r.description !== undefined && typeof r.description !== 'string') throw ecrErrors.invalidLifecyclePolicy(`${at}: description must be a string`);
    rules.push({ rulePriority: p, description: r.description as string | undefined, tagStatus, tagPrefixList, tagPatternList, countType, countNumber: n });
  }
  rules.sort((a, b) => a.rulePriority - b.rulePriority);
  if (rules.filter((r) => r.tagStatus === 'untagged').length > 1) throw ecrErrors.invalidLifecyclePolicy('only one rule may select untagged images');
  const any = rules.findIndex((r) => r.tagStatus === 'any');
  if (any >= 0 && any !== rules.length - 1) throw ecrErrors.invalidLifecyclePolicy("a rule with tagStatus 'any' must have the highest rulePriority");
  return rules;
}

/** An image as lifecycle evaluation sees it. */
export interface LifecycleImage {
  digest: string;
  tags: string[];
  pushedAt: number;
  /** Listed by an index of the repository: never expired. */
  referenced: boolean;
}

export interface Expiry {
  digest: string;
  tags: string[];
  pushedAt: number;
  rulePriority: number;
}

/** Which images the rules expire at `now` (pure; see the file comment for the semantics). */
export function evaluateLifecycle(rules: readonly LifecycleRule[], images: readonly LifecycleImage[], now: number): Expiry[] {
  const newestFirst = [...images].sort((a, b) => b.pushedAt - a.pushedAt || (a.digest < b.digest ? -1 : 1));
  const claimed = new Set<string>();
  const out: Expiry[] = [];
  for (const rule of [...rules].sort((a, b) => a.rulePriority - b.rulePriority)) {
    let select: (img: LifecycleImage) => boolean;
    if (rule.tagStatus === 'untagged') select = (img) => img.tags.length === 0;
    else if (rule.tagStatus === 'any') select = () => true;
    else if (rule.tagPrefixList) {
      const prefixes = rule.tagPrefixList;
      select = (img) => img.tags.length > 0 && prefixes.every((p) => img.tags.some((t) => t.startsWith(p)));
    } else {
      const globs: Glob[] = rule.tagPatternList!.map((p) => compileGlob(p, false, false));
      select = (img) => img.tags.length > 0 && globs.every((g) => img.tags.some((t) => g(t)));
    }
    const matched = newestFirst.filter(select);
    const candidates = rule.countType === 'imageCountMoreThan' ? matched.slice(rule.countNumber) : matched.filter((img) => img.pushedAt < now - rule.countNumber * DAY_MS);
    for (const img of candidates) {
      if (claimed.has(img.digest) || img.referenced) continue;
      out.push({ digest: img.digest, tags: img.tags, pushedAt: img.pushedAt, rulePriority: rule.rulePriority });
    }
    for (const img of matched) claimed.add(img.digest);
  }
  return out;
}

/** A repository's images as the policy sees them (tags, push times, whether an index lists them). */
async function lifecycleImages(s: Scope, name: string): Promise<LifecycleImage[]> {
  const [images, tags] = await Promise.all([allImages(s, name), tagsByDigest(s, name)]);
  const listed = new Set(images.flatMap((i) => i.children));
  return images.map((i) => ({ digest: i.digest, tags: tags.get(i.digest) ?? [], pushedAt: i.pushedAt, referenced: listed.has(i.digest) }));
}

/** What a policy would expire in a repository now (the policy text given, or the repository's). */
export async function previewLifecycle(s: Scope, name: string, text: string): Promise<Expiry[]> {
  return evaluateLifecycle(parseLifecyclePolicy(text), await lifecycleImages(s, name), s.platform.clock.now());
}

/** Stores a preview (StartLifecyclePolicyPreview) for GetLifecyclePolicyPreview to read. */
export async function savePreview(s: Scope, name: string, text: string, results: Expiry[]): Promise<LifecyclePreviewRecord> {
  const rec: LifecyclePreviewRecord = { text, at: s.platform.clock.now(), results: results.map((r) => ({ digest: r.digest, tags: r.tags, pushedAt: r.pushedAt, rulePriority: r.rulePriority })) };
  const { store } = s.platform;
  const cur = await store.get(KIND.lifecyclePreview, repositoryKey(s.region, name));
  await store.commit([{ kind: KIND.lifecyclePreview, key: repositoryKey(s.region, name), value: rec, expectRev: cur?.rev ?? 0 }]);
  return rec;
}

/** The stored preview of a repository, or LifecyclePolicyPreviewNotFoundException. */
export async function getPreview(s: Scope, name: string): Promise<LifecyclePreviewRecord> {
  await getRepository(s, name);
  const rec = await s.platform.store.get<LifecyclePreviewRecord>(KIND.lifecyclePreview, repositoryKey(s.region, name));
  if (!rec) throw ecrErrors.lifecyclePreviewNotFound(name, s.platform.accountId);
  return rec.value;
}

/**
 * Applies a repository's lifecycle policy now: deletes the images it expires (an index's images
 * stay). Returns the digests deleted. A repository without a policy is left alone.
 */
export async function applyLifecyclePolicy(s: Scope, repo: RepositoryRecord): Promise<string[]> {
  if (!repo.lifecyclePolicy) return [];
  let expired: Expiry[];
  try {
    expired = await previewLifecycle(s, repo.name, repo.lifecyclePolicy.text);
  } catch {
    return []; // a stored policy was valid when put; one that no longer parses expires nothing
  }
  const deleted = new Set<string>();
  for (let i = 0; i < expired.length; i += 100) {
    const batch = expired.slice(i, i + 100).map((e) => ({ digest: e.digest }));
    const out = await deleteImages(s, repo.name, batch, { lastTagDeletesImage: false });
    for (const d of out.deleted) deleted.add(d.digest);
  }
  return [...deleted];
}
