/**
 * Image manifests as the registry accepts them: parsed, checked and reduced to what the
 * registry needs (the blobs and manifests they reference, their subject, their artifact type).
 * Pure: nothing here reads the store or the blobs; `images.ts` checks that what a manifest
 * references exists.
 *
 * Accepted: Docker image manifest v2 schema 2 and manifest list, OCI image manifest and image
 * index (OCI 1.1: `subject`, `artifactType`). Refused: Docker schema 1 (signed or not), unknown
 * media types, a `mediaType` member that contradicts the Content-Type, more than
 * MAX_DESCRIPTORS descriptors, and anything larger than MAX_MANIFEST_BYTES (4 MiB, as ECR).
 */
import { createHash } from 'node:crypto';
import { isSha256Digest } from '../../store/blobs/types.js';
import { ecrErrors } from './errors.js';
import { isDigestShape } from './names.js';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** The manifest media types the registry stores. */
export const MANIFEST_TYPES: readonly string[] = [MEDIA.dockerManifest, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.ociIndex];

/** Largest manifest accepted, in bytes (ECR's limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Most descriptors (layers, or manifests of an index) one manifest may list. */
export const MAX_DESCRIPTORS = 10_000;
/** Largest annotations object kept on a referrer (its JSON), in bytes. */
const MAX_REFERRER_ANNOTATIONS = 16 * 1024;

/** Layer media types that are not pushed to the registry (their bytes live elsewhere). */
const FOREIGN_LAYERS = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

/** A content descriptor, as checked. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  platform?: { os?: string; architecture?: string; variant?: string };
}

/** What the registry keeps of a manifest besides its bytes. */
export interface ParsedManifest {
  mediaType: string;
  kind: 'image' | 'index';
  /** Blobs it needs in the registry (config and distributable layers); empty for an index. */
  blobs: Descriptor[];
  /** Manifests it lists (an index); empty for an image. */
  manifests: Descriptor[];
  /** The config's media type (an image), e.g. application/vnd.oci.image.config.v1+json. */
  configMediaType?: string;
  /** The sum of the layers' sizes (an image; ECR's imageSizeInBytes). */
  layerBytes: number;
  /** OCI 1.1 `artifactType`. */
  artifactType?: string;
  /** The digest of the manifest this one refers to (OCI 1.1 `subject`). */
  subject?: string;
  /** Annotations (kept only for referrers, bounded). */
  annotations?: Record<string, string>;
}

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The media type part of a Content-Type header (parameters and case dropped). */
export function baseMediaType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const semi = contentType.indexOf(';');
  const t = (semi >= 0 ? contentType.slice(0, semi) : contentType).trim().toLowerCase();
  return t || undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function descriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw ecrErrors.manifestInvalid(`${where} is not a descriptor object`);
  const { mediaType, digest, size, artifactType, platform } = v;
  if (typeof mediaType !== 'string' || mediaType.length === 0 || mediaType.length > 255) throw ecrErrors.manifestInvalid(`${where}.mediaType must be a media type`);
  if (typeof digest !== 'string' || !isDigestShape(digest)) throw ecrErrors.manifestInvalid(`${where}.digest is not a digest`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw ecrErrors.manifestInvalid(`${where}.size must be a non-negative integer`);
  if (artifactType !== undefined && typeof artifactType !== 'string') throw ecrErrors.manifestInvalid(`${where}.artifactType must be a string`);
  const d: Descriptor = { mediaType, digest, size };
  if (typeof artifactType === 'string') d.artifactType = artifactType.slice(0, 255);
  if (isObject(platform)) {
    const p: Descriptor['platform'] = {};
    for (const k of ['os', 'architecture', 'variant'] as const) if (typeof platform[k] === 'string') p[k] = (platform[k] as string).slice(0, 64);
    d.platform = p;
  }
  return d;
}

function descriptorList(v: unknown, where: string, required: boolean): Descriptor[] {
  if (v === undefined && !required) return [];
  if (!Array.isArray(v)) throw ecrErrors.manifestInvalid(`${where} must be an array of descriptors`);
  if (v.length > MAX_DESCRIPTORS) throw ecrErrors.manifestInvalid(`${where} lists ${v.length} descriptors; at most ${MAX_DESCRIPTORS} are accepted`);
  return v.map((x, i) => descriptor(x, `${where}[${i}]`));
}

/** Annotations kept for the referrers API: string values only, within a size bound. */
function keptAnnotations(v: unknown): Record<string, string> | undefined {
  if (!isObject(v)) return undefined;
  const out: Record<string, string> = {};
  let size = 0;
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw ecrErrors.manifestInvalid(`annotation '${k.slice(0, 100)}' must have a string value`);
    size += k.length + val.length;
    if (size > MAX_REFERRER_ANNOTATIONS) break;
    out[k] = val;
  }
  return out;
}

/**
 * Parses and checks a manifest. `contentType` is the request's Content-Type (PUT) or the media
 * type given to PutImage, if any. Throws EcrErrors (MANIFEST_INVALID, digest errors).
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined): ParsedManifest {
  if (bytes.length > MAX_MANIFEST_BYTES) throw ecrErrors.manifestTooLarge(bytes.length, MAX_MANIFEST_BYTES);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw ecrErrors.manifestInvalid('the manifest is not UTF-8 text');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw ecrErrors.manifestInvalid('the manifest is not valid JSON');
  }
  if (!isObject(doc)) throw ecrErrors.manifestInvalid('the manifest is not a JSON object');
  const header = baseMediaType(contentType);
  const declared = doc.mediaType;
  if (declared !== undefined && typeof declared !== 'string') throw ecrErrors.manifestInvalid('mediaType must be a string');
  if (doc.schemaVersion === 1 || header === MEDIA.dockerSchema1 || header === MEDIA.dockerSchema1Signed) {
    throw ecrErrors.unsupportedMediaType(header ?? MEDIA.dockerSchema1);
  }
  if (doc.schemaVersion !== 2) throw ecrErrors.manifestInvalid('schemaVersion must be 2');
  const headerType = header && header !== 'application/json' && header !== 'application/octet-stream' ? header : undefined;
  if (headerType && !MANIFEST_TYPES.includes(headerType)) throw ecrErrors.unsupportedMediaType(headerType);
  if (declared !== undefined && headerType && declared !== headerType) {
    throw ecrErrors.manifestInvalid(`the manifest's mediaType ${declared.slice(0, 100)} differs from its Content-Type ${headerType}`);
  }
  const inferred = Array.isArray(doc.manifests) ? MEDIA.ociIndex : doc.config !== undefined ? MEDIA.ociManifest : undefined;
  const mediaType = (declared as string | undefined) ?? headerType ?? inferred;
  if (!mediaType) throw ecrErrors.manifestInvalid('the manifest has no mediaType, no Content-Type says what it is, and it has neither config nor manifests');
  if (!MANIFEST_TYPES.includes(mediaType)) throw ecrErrors.unsupportedMediaType(mediaType);
  const isOci = mediaType === MEDIA.ociManifest || mediaType === MEDIA.ociIndex;
  let subject: string | undefined;
  if (doc.subject !== undefined) {
    if (!isOci) throw ecrErrors.manifestInvalid('subject is an OCI manifest member');
    subject = descriptor(doc.subject, 'subject').digest;
  }
  if (doc.artifactType !== undefined && (typeof doc.artifactType !== 'string' || !isOci)) throw ecrErrors.manifestInvalid('artifactType must be a string (OCI manifests only)');
  const artifactType = doc.artifactType as string | undefined;
  const annotations = subject ? keptAnnotations(doc.annotations) : undefined;

  if (mediaType === MEDIA.dockerList || mediaType === MEDIA.ociIndex) {
    if (doc.config !== undefined || doc.layers !== undefined) throw ecrErrors.manifestInvalid('an index has manifests, not config or layers');
    const manifests = descriptorList(doc.manifests, 'manifests', true);
    return { mediaType, kind: 'index', blobs: [], manifests, layerBytes: 0, artifactType, subject, annotations };
  }
  if (doc.manifests !== undefined) throw ecrErrors.manifestInvalid('an image manifest has config and layers, not manifests');
  const config = descriptor(doc.config, 'config');
  const layers = descriptorList(doc.layers, 'layers', mediaType === MEDIA.dockerManifest);
  const blobs = [config, ...layers.filter((l) => !FOREIGN_LAYERS.has(l.mediaType))];
  const layerBytes = layers.reduce((n, l) => n + l.size, 0);
  return { mediaType, kind: 'image', blobs, manifests: [], configMediaType: config.mediaType, layerBytes, artifactType, subject, annotations };
}

/** The blobs of a manifest the registry cannot hold (any digest but sha256): they can never be found. */
export function unstorable(descriptors: readonly Descriptor[]): string[] {
  return descriptors.filter((d) => !isSha256Digest(d.digest)).map((d) => d.digest);
}
