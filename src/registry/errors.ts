/**
 * How the registry front answers errors: the OCI distribution spec's
 * `{"errors":[{"code","message","detail"}]}` with the spec's status. Errors from the ECR domain
 * carry their OCI form (`EcrError.oci`); the front's own (authentication, routes, ranges) are
 * `OciFailure`s. `toOciFailure` turns anything thrown into the one answer, once.
 */
import { ServiceError } from '../errors.js';
import { EcrError, type OciCode } from '../domain/ecr/errors.js';

/** An error the registry front answers with. */
export class OciFailure extends Error {
  constructor(
    readonly code: OciCode | 'UNKNOWN',
    message: string,
    readonly status: number,
    readonly detail?: unknown,
    /** Headers to send with it (WWW-Authenticate, Range, Allow, Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = code;
  }
}

export const ociFailures = {
  unauthorized: (message: string, challenge: string) => new OciFailure('UNAUTHORIZED', message, 401, undefined, { 'www-authenticate': challenge }),
  notFound: (path: string) =>
    new OciFailure('UNSUPPORTED', `Nothing is served at ${path.slice(0, 200)}: the registry's routes are /v2/<name>/manifests/<reference>, /v2/<name>/blobs/<digest>, /v2/<name>/blobs/uploads/, /v2/<name>/tags/list, /v2/<name>/referrers/<digest> and /v2/_catalog.`, 404),
  methodNotAllowed: (method: string, allow: string[]) => new OciFailure('UNSUPPORTED', `${method.slice(0, 20)} is not supported here; use ${allow.join(', ')}.`, 405, undefined, { allow: allow.join(', ') }),
  blobDeleteUnsupported: () => new OciFailure('UNSUPPORTED', 'Blobs cannot be deleted one by one: garbage collection removes a blob once no image references it (delete the images).', 405, undefined, { allow: 'GET, HEAD' }),
  blobUnknown: (digest: string) => new OciFailure('BLOB_UNKNOWN', `blob unknown to registry: ${digest.slice(0, 200)}`, 404, { digest: digest.slice(0, 200) }),
  rangeInvalid: (message: string, size: number) => new OciFailure('RANGE_INVALID', message, 416, { size }, size > 0 ? { range: `0-${size - 1}` } : { range: '0-0' }),
  blobRangeUnsatisfiable: (size: number) => new OciFailure('RANGE_INVALID', `The requested range is not within the blob's ${size} bytes.`, 416, { size }, { 'content-range': `bytes */${size}` }),
  sizeInvalid: (message: string) => new OciFailure('SIZE_INVALID', message, 400),
  digestRequired: () => new OciFailure('DIGEST_INVALID', 'Completing an upload needs ?digest=sha256:<hex> of the whole blob.', 400),
  paginationInvalid: (v: string) => new OciFailure('PAGINATION_NUMBER_INVALID', `n must be a whole number of at most 6 digits: got '${v.slice(0, 20)}'.`, 400),
  manifestTooLarge: (limit: number) => new OciFailure('MANIFEST_INVALID', `A manifest may have at most ${limit} bytes.`, 413, { limit }),
  internal: () => new OciFailure('UNKNOWN', 'The registry failed to handle the request; see the server log.', 500),
};

/** The one answer for whatever a request threw (an unexpected error is reported to `onInternal`). */
export function toOciFailure(e: unknown, onInternal: (e: unknown) => void): OciFailure {
  if (e instanceof OciFailure) return e;
  if (e instanceof EcrError) return new OciFailure(e.oci.code, e.message, e.oci.status, e.oci.detail);
  if (e instanceof ServiceError && e.code === 'ConcurrentModificationException') return new OciFailure('UNAVAILABLE', e.message, 503, undefined, { 'retry-after': '1' });
  if (e instanceof ServiceError) return new OciFailure('UNSUPPORTED', e.message, e.status);
  onInternal(e);
  return ociFailures.internal();
}

/** The JSON body of an error answer. */
export function errorBody(f: OciFailure): string {
  return JSON.stringify({ errors: [{ code: f.code, message: f.message, ...(f.detail !== undefined ? { detail: f.detail } : {}) }] });
}
