/**
 * The registry's records in the state store (keys in ./names.ts). Manifests and tags live here,
 * with the repositories and their settings, so they share the store's durability, change feed
 * and replicas; the blobs they reference live in the blob store (src/store/blobs/).
 *
 * Invariants every write keeps (see ./images.ts and ./repositories.ts):
 * - an image record exists only in an existing repository, and its repository's `imageCount`
 *   counts it (both change in the same commit, with the repository's revision checked);
 * - every blob an image names existed, with the size its descriptor gives, when the image was
 *   committed, and was touched shortly before (so garbage collection keeps it; see ./gc.ts);
 * - every manifest an index names is an image of the same repository, with a parent record per
 *   (image, index); such an image cannot be deleted while the index exists;
 * - an image with an OCI subject has a referrer record under the subject (which need not exist);
 * - a tag names an existing image of its repository; deleting an image deletes its tags.
 */
import type { ImageTagMutability } from '../../generated/ecr.js';

/** A repository tag (AWS resource tag, not an image tag), as ECR spells it. */
export interface ResourceTag {
  Key: string;
  Value: string;
}

/** A tag filter of an *_WITH_EXCLUSION mutability setting. */
export interface MutabilityExclusion {
  filterType: 'WILDCARD';
  filter: string;
}

export interface RepositoryRecord {
  name: string;
  createdAt: number;
  imageTagMutability: ImageTagMutability;
  mutabilityExclusions: MutabilityExclusion[];
  scanOnPush: boolean;
  encryptionType: string;
  kmsKey?: string;
  tags: ResourceTag[];
  /** The repository policy as given (stored and returned, not enforced: one identity). */
  policy?: string;
  lifecyclePolicy?: { text: string; updatedAt: number };
  /** Images in the repository. */
  imageCount: number;
}

/** An image's metadata (its manifest bytes are a ManifestRecord under the same key). */
export interface ImageRecord {
  digest: string;
  mediaType: string;
  manifestSize: number;
  pushedAt: number;
  /** ECR's imageSizeInBytes: the layers' sizes summed, or for an index the largest of its images. */
  imageSize: number;
  /** Blobs it references (config and distributable layers), deduplicated. */
  blobs: string[];
  /** Manifests it lists (an index). */
  children: string[];
  configMediaType?: string;
  artifactType?: string;
  /** OCI 1.1 subject: the image this one refers to (a signature, an SBOM...). */
  subject?: string;
}

/** An image's manifest, exactly as pushed (checked to be UTF-8, so this string is its bytes). */
export interface ManifestRecord {
  text: string;
}

/** What the referrers API lists of an image that has a subject (its descriptor). */
export interface ReferrerRecord {
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface TagRecord {
  digest: string;
  /** When the tag was last moved to its digest. */
  at: number;
}

/** Per region: how many repositories there are, and registry-wide settings. */
export interface RegistryRecord {
  repositoryCount: number;
  scanning?: { scanType: string; rules: unknown[] };
}

/** The stored preview of a repository's lifecycle policy (StartLifecyclePolicyPreview). */
export interface LifecyclePreviewRecord {
  text: string;
  at: number;
  results: Array<{ digest: string; tags: string[]; pushedAt: number; rulePriority: number }>;
}
