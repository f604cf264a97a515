/**
 * The registry's error catalog. Every error the ECR domain throws is an `EcrError`: a
 * `ServiceError` with ECR's code, message and status (what the ECR API answers), and the OCI
 * distribution error the same condition is over `/v2/` (code, status, detail). Each front renders
 * the one it speaks, once: the gateway the ECR side, the registry front (src/registry/) the OCI
 * side. So the two APIs can never disagree about what went wrong.
 */
import { ServiceError } from '../../errors.js';

/** The error codes of the OCI distribution spec (and Docker's registry API v2). */
export type OciCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'TAG_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'RANGE_INVALID'
  | 'PAGINATION_NUMBER_INVALID'
  | 'UNAVAILABLE';

/** How an error reads over the OCI distribution API. */
export interface OciError {
  code: OciCode;
  status: number;
  detail?: unknown;
}

/** An ECR error, with its OCI distribution counterpart. */
export class EcrError extends ServiceError {
  constructor(code: string, message: string, status: number, readonly oci: OciError, extra?: Record<string, unknown>) {
    super(code, message, status, extra);
  }
}

const e = (code: string, message: string, oci: OciError, status = 400, extra?: Record<string, unknown>) => new EcrError(code, message, status, oci, extra);

export const ecrErrors = {
  invalidParameter: (msg: string, oci: OciError = { code: 'UNSUPPORTED', status: 400 }) => e('InvalidParameterException', msg, oci),
  invalidName: (name: string) =>
    e(
      'InvalidParameterException',
      `Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*'' (got '${name.slice(0, 300)}')`,
      { code: 'NAME_INVALID', status: 400, detail: { name: name.slice(0, 300) } },
    ),
  invalidTag: (tag: string) =>
    e('InvalidParameterException', `Invalid parameter at 'imageTag' failed to satisfy constraint: '${tag.slice(0, 300)}' is not a valid tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})`, {
      code: 'TAG_INVALID',
      status: 400,
      detail: { tag: tag.slice(0, 300) },
    }),
  invalidDigest: (digest: string) =>
    e('InvalidParameterException', `Invalid parameter at 'imageDigest' failed to satisfy constraint: '${digest.slice(0, 300)}' is not a sha256 digest (sha256:<64 lower-case hex digits>)`, {
      code: 'DIGEST_INVALID',
      status: 400,
      detail: { digest: digest.slice(0, 300) },
    }),
  repositoryNotFound: (name: string, accountId: string) =>
    e('RepositoryNotFoundException', `The repository with name '${name}' does not exist in the registry with id '${accountId}'`, { code: 'NAME_UNKNOWN', status: 404, detail: { name } }),
  repositoryExists: (name: string, accountId: string) =>
    e('RepositoryAlreadyExistsException', `The repository with name '${name}' already exists in the registry with id '${accountId}'`, { code: 'DENIED', status: 409 }),
  repositoryNotEmpty: (name: string, accountId: string) =>
    e(
      'RepositoryNotEmptyException',
      `The repository with name '${name}' in registry with id '${accountId}' cannot be deleted because it still contains images`,
      { code: 'DENIED', status: 409 },
    ),
  imageNotFound: (what: string, name: string, accountId: string) =>
    e('ImageNotFoundException', `The image with imageId {${what}} does not exist within the repository with name '${name}' in the registry with id '${accountId}'`, {
      code: 'MANIFEST_UNKNOWN',
      status: 404,
      detail: { reference: what },
    }),
  imageExists: (digest: string, tag: string | undefined, name: string, accountId: string) =>
    e(
      'ImageAlreadyExistsException',
      `Image with digest '${digest}'${tag !== undefined ? ` and tag '${tag}'` : ''} already exists in the repository with name '${name}' in registry with id '${accountId}'`,
      { code: 'DENIED', status: 409 },
    ),
  tagImmutable: (tag: string, name: string) =>
    e('ImageTagAlreadyExistsException', `The image tag '${tag}' already exists in the '${name}' repository and cannot be overwritten because the repository is immutable.`, {
      code: 'TAG_INVALID',
      status: 400,
      detail: { tag },
    }),
  digestMismatch: (given: string, actual: string) =>
    e('ImageDigestDoesNotMatchException', `The digest '${given.slice(0, 200)}' does not match the digest of the manifest, '${actual}'.`, { code: 'DIGEST_INVALID', status: 400, detail: { given: given.slice(0, 200), actual } }),
  manifestInvalid: (why: string) => e('InvalidParameterException', `Invalid parameter at 'imageManifest' failed to satisfy constraint: '${why}'`, { code: 'MANIFEST_INVALID', status: 400, detail: { reason: why } }),
  manifestTooLarge: (size: number, limit: number) =>
    e('InvalidParameterException', `Invalid parameter at 'imageManifest' failed to satisfy constraint: 'the manifest is ${size} bytes; at most ${limit} are accepted'`, {
      code: 'MANIFEST_INVALID',
      status: 413,
      detail: { size, limit },
    }),
  layersNotFound: (digests: string[]) =>
    e('LayersNotFoundException', `The following layers or config blobs are not in the registry: ${digests.slice(0, 10).join(', ')}${digests.length > 10 ? ` and ${digests.length - 10} more` : ''}`, {
      code: 'MANIFEST_BLOB_UNKNOWN',
      status: 400,
      detail: { digests: digests.slice(0, 10) },
    }),
  referencedImagesNotFound: (digests: string[]) =>
    e('ReferencedImagesNotFoundException', `The manifest list or index references images that are not in the repository: ${digests.slice(0, 10).join(', ')}`, {
      code: 'MANIFEST_BLOB_UNKNOWN',
      status: 400,
      detail: { digests: digests.slice(0, 10) },
    }),
  blobSizeMismatch: (digest: string, declared: number, actual: number) =>
    e('InvalidParameterException', `Invalid parameter at 'imageManifest' failed to satisfy constraint: 'the descriptor of ${digest} says ${declared} bytes but the blob has ${actual}'`, {
      code: 'MANIFEST_INVALID',
      status: 400,
      detail: { digest, declared, actual },
    }),
  referencedByIndex: (digest: string, by: string) =>
    e('InvalidParameterException', `The image ${digest} is referenced by the manifest list ${by}; delete that first.`, { code: 'DENIED', status: 409, detail: { digest, referencedBy: by } }),
  limitExceeded: (msg: string) => e('LimitExceededException', msg, { code: 'TOOMANYREQUESTS', status: 429 }),
  uploadNotFound: (id: string, name: string, accountId: string) =>
    e('UploadNotFoundException', `The upload with id '${id.slice(0, 64)}' does not exist within the repository with name '${name}' in the registry with id '${accountId}'`, {
      code: 'BLOB_UPLOAD_UNKNOWN',
      status: 404,
    }),
  invalidLayerPart: (msg: string, extra: { registryId: string; repositoryName: string; uploadId: string; lastValidByteReceived: number }) =>
    e('InvalidLayerPartException', msg, { code: 'RANGE_INVALID', status: 416 }, 400, extra),
  invalidLayer: (msg: string, detail?: unknown) => e('InvalidLayerException', msg, { code: 'DIGEST_INVALID', status: 400, detail }),
  layerExists: (digest: string, name: string, accountId: string) =>
    e('LayerAlreadyExistsException', `The layer '${digest}' already exists in the repository with name '${name}' in registry with id '${accountId}'`, { code: 'DENIED', status: 409 }),
  emptyUpload: (id: string) => e('EmptyUploadException', `The upload with id '${id}' contains no layer parts.`, { code: 'SIZE_INVALID', status: 400 }),
  uploadTooLarge: (limit: number) => e('LimitExceededException', `A layer may have at most ${limit} bytes in this registry (BERTH_REGISTRY_MAX_BLOB_BYTES).`, { code: 'SIZE_INVALID', status: 413, detail: { limit } }),
  uploadBusy: () => e('LimitExceededException', 'Another request is writing to this upload right now; wait for it to finish.', { code: 'BLOB_UPLOAD_INVALID', status: 409 }),
  tooManyUploads: (limit: number) => e('LimitExceededException', `At most ${limit} layer uploads may be in progress at once; finish or cancel some.`, { code: 'TOOMANYREQUESTS', status: 429 }),
  lifecyclePolicyNotFound: (name: string, accountId: string) =>
    e('LifecyclePolicyNotFoundException', `Lifecycle policy does not exist for the repository with name '${name}' in the registry with id '${accountId}'`, { code: 'UNSUPPORTED', status: 404 }),
  lifecyclePreviewNotFound: (name: string, accountId: string) =>
    e('LifecyclePolicyPreviewNotFoundException', `There is no lifecycle policy preview for the repository with name '${name}' in the registry with id '${accountId}'`, { code: 'UNSUPPORTED', status: 404 }),
  invalidLifecyclePolicy: (why: string) => e('InvalidParameterException', `Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ${why}'`, { code: 'UNSUPPORTED', status: 400 }),
  repositoryPolicyNotFound: (name: string, accountId: string) =>
    e('RepositoryPolicyNotFoundException', `Repository policy does not exist for the repository with name '${name}' in the registry with id '${accountId}'`, { code: 'UNSUPPORTED', status: 404 }),
  invalidPolicy: (why: string) => e('InvalidParameterException', `Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided: ${why}'`, { code: 'UNSUPPORTED', status: 400 }),
  invalidTagParameter: (msg: string) => e('InvalidTagParameterException', msg, { code: 'UNSUPPORTED', status: 400 }),
  tooManyTags: () => e('TooManyTagsException', 'A repository can have at most 50 tags.', { code: 'UNSUPPORTED', status: 400 }),
  scanNotFound: (what: string, name: string) => e('ScanNotFoundException', `Image scan does not exist for the image with '${what}' in the repository with name '${name}'; Berth does not scan images.`, { code: 'UNSUPPORTED', status: 404 }),
  unsupportedMediaType: (mt: string) =>
    e('InvalidParameterException', `Invalid parameter at 'imageManifestMediaType' failed to satisfy constraint: 'the image manifest media type '${mt.slice(0, 200)}' is not supported: use a Docker v2 schema 2 manifest or manifest list, or an OCI image manifest or index'`, {
      code: 'MANIFEST_INVALID',
      status: 400,
      detail: { mediaType: mt.slice(0, 200) },
    }),
};
