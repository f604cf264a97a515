/**
 * Names in ECR and the OCI distribution spec, checked character by character in one pass (no
 * regular expression runs on them, so no input can make a check slow), and the store keys and
 * ARNs built from them.
 *
 * Store keys put the region first and use a character repository names cannot hold to end the
 * name, so one repository's records list by prefix without its sub-paths':
 *   repository  `<region>/<name>`
 *   image       `<region>/<name>@<digest>`
 *   tag         `<region>/<name>:<tag>`
 *   manifest    as its image
 *   parent      `<region>/<name>@<child digest><<index digest>`   (an index lists the child)
 *   referrer    `<region>/<name>@<subject digest>><referrer digest>` (OCI 1.1 subject)
 */
import { arn } from '../common.js';
import type { Scope } from '../platform.js';

/** The store kinds of the registry's records. */
export const KIND = {
  repository: 'ecr.repository',
  image: 'ecr.image',
  tag: 'ecr.tag',
  /** An image's manifest bytes (key as the image's), apart so listings of images stay small. */
  manifest: 'ecr.manifest',
  /** An index listing an image: the image cannot be deleted while one exists. */
  parent: 'ecr.parent',
  /** An image whose OCI `subject` is another: the referrers API's index. */
  referrer: 'ecr.referrer',
  /** One per region: counts and registry-wide settings (scanning). */
  registry: 'ecr.registry',
  /** A repository's last lifecycle policy preview (key as the repository's). */
  lifecyclePreview: 'ecr.lifecyclePreview',
} as const;

/** Repository names are 2-256 characters (ECR). */
export const MAX_REPOSITORY_NAME = 256;
/** Tags are 1-128 characters (the OCI grammar's bound; ECR's model allows 300 but docker refuses more). */
export const MAX_TAG = 128;

const isLowerAlnum = (c: number) => (c >= 97 && c <= 122) || (c >= 48 && c <= 57);

/**
 * Whether `name` is a repository name by the OCI grammar, which is also ECR's:
 * `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, 2-256 characters.
 * One left-to-right pass: each path component is runs of [a-z0-9] joined by `.`, `_`, `__` or
 * any number of `-`.
 */
export function isRepositoryName(name: string): boolean {
  if (name.length < 2 || name.length > MAX_REPOSITORY_NAME) return false;
  let i = 0;
  const n = name.length;
  for (;;) {
    // A component: alnum run, then (separator, alnum run)*.
    if (i >= n || !isLowerAlnum(name.charCodeAt(i))) return false;
    while (i < n && isLowerAlnum(name.charCodeAt(i))) i++;
    while (i < n) {
      const c = name.charCodeAt(i);
      if (c === 47) break; // '/': next component
      if (c === 46) i++; // '.'
      else if (c === 95) i += name.charCodeAt(i + 1) === 95 ? 2 : 1; // '_' or '__'
      else if (c === 45) while (i < n && name.charCodeAt(i) === 45) i++; // '-+'
      else return false;
      if (i >= n || !isLowerAlnum(name.charCodeAt(i))) return false;
      while (i < n && isLowerAlnum(name.charCodeAt(i))) i++;
    }
    if (i >= n) return true;
    i++; // past '/'
  }
}

/** Whether `tag` is a tag by the OCI grammar `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. */
export function isTag(tag: string): boolean {
  if (tag.length < 1 || tag.length > MAX_TAG) return false;
  for (let i = 0; i < tag.length; i++) {
    const c = tag.charCodeAt(i);
    const word = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
    if (!word && (i === 0 || (c !== 46 && c !== 45))) return false;
  }
  return true;
}

/**
 * Whether `d` has the shape of a digest by the OCI grammar (`algorithm ":" encoded`, algorithm
 * components of [a-z0-9] joined by `+._-`, encoded of [a-zA-Z0-9=_-]; for sha256 and sha512 their
 * lower-case hex), at most 256 characters.
 * Whether the registry can hold it is another matter: only sha256 (see isSha256Digest).
 */
export function isDigestShape(d: string): boolean {
  if (d.length > 256) return false;
  const colon = d.indexOf(':');
  if (colon <= 0 || colon === d.length - 1) return false;
  let prevSep = true;
  for (let i = 0; i < colon; i++) {
    const c = d.charCodeAt(i);
    if (isLowerAlnum(c)) prevSep = false;
    else if (c === 43 || c === 46 || c === 95 || c === 45) {
      if (prevSep) return false;
      prevSep = true;
    } else return false;
  }
  if (prevSep) return false;
  // The registered algorithms fix their encoding: lower-case hex of 64 (sha256) or 128 (sha512) digits.
  const algorithm = d.slice(0, colon);
  const hexLength = algorithm === 'sha256' ? 64 : algorithm === 'sha512' ? 128 : 0;
  if (hexLength && d.length - colon - 1 !== hexLength) return false;
  for (let i = colon + 1; i < d.length; i++) {
    const c = d.charCodeAt(i);
    const ok = hexLength ? (c >= 97 && c <= 102) || (c >= 48 && c <= 57) : (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 61 || c === 95 || c === 45;
    if (!ok) return false;
  }
  return true;
}

export function repositoryKey(region: string, name: string): string {
  return `${region}/${name}`;
}

export function imageKey(region: string, name: string, digest: string): string {
  return `${region}/${name}@${digest}`;
}

/** The prefix of every image key of a repository. */
export function imagePrefix(region: string, name: string): string {
  return `${region}/${name}@`;
}

export function tagKey(region: string, name: string, tag: string): string {
  return `${region}/${name}:${tag}`;
}

/** The prefix of every tag key of a repository. */
export function tagPrefix(region: string, name: string): string {
  return `${region}/${name}:`;
}

/** Key of the record saying index `parent` lists image `child`; list by `parentPrefix` to find an image's indexes. */
export function parentKey(region: string, name: string, child: string, parent: string): string {
  return `${region}/${name}@${child}<${parent}`;
}

export function parentPrefix(region: string, name: string, child: string): string {
  return `${region}/${name}@${child}<`;
}

/** Key of the record saying image `referrer` has `subject` as its subject. */
export function referrerKey(region: string, name: string, subject: string, referrer: string): string {
  return `${region}/${name}@${subject}>${referrer}`;
}

export function referrerPrefix(region: string, name: string, subject: string): string {
  return `${region}/${name}@${subject}>`;
}

/** `arn:aws:ecr:<region>:<account>:repository/<name>`. */
export function repositoryArn(s: Scope, name: string): string {
  return arn('ecr', s.region, s.platform.accountId, `repository/${name}`);
}
