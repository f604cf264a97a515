/**
 * The registry front: the OCI distribution API (spec 1.1) and Docker's registry HTTP API v2 on
 * Berth's endpoint, under `/v2/`. It authenticates (Basic, user `AWS`, the password ECR's
 * GetAuthorizationToken hands out; or a GetDownloadUrlForLayer signature for one blob), reads
 * the route, and calls the ECR domain (src/domain/ecr/) for everything else, so the rules are the
 * same as the ECR API's. It owns its request bodies: manifests are read up to 4 MiB, blobs stream
 * into the blob store under an inactivity deadline instead of the listener's 120 s one.
 *
 * Errors are rendered once, here, in the spec's shape (./errors.ts). Nothing a client sends
 * makes this throw past the request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Platform, Scope } from '../domain/platform.js';
import { ecrErrors } from '../domain/ecr/errors.js';
import { deleteImages, getManifest, listTags, putImage, referrersOf, type ImageRef } from '../domain/ecr/images.js';
import { MAX_MANIFEST_BYTES, MEDIA } from '../domain/ecr/manifests.js';
import { isDigestShape, isRepositoryName } from '../domain/ecr/names.js';
import { regionOfHost, type Registry } from '../domain/ecr/registry.js';
import { getRepository, listRepositories } from '../domain/ecr/repositories.js';
import { UploadInterrupted, appendUpload, blobIn, cancelUpload, completeUpload, startUpload, uploadOf } from '../domain/ecr/uploads.js';
import { BodyAborted, TooLarge, hasBody, readBounded, streamOut } from './body.js';
import { OciFailure, errorBody, ociFailures, toOciFailure } from './errors.js';
import { authorizeRegistryRequest } from './access.js';
import { authorizeAsPrincipal } from './iamAccess.js';
import { digits, isRegistryPath, parseContentRange, parseRange, parseRoute, type Route } from './paths.js';

/** What the listener lets the front do about the request's deadline (see src/server/http.ts). */
export interface BodyDeadline {
  /** From now on the request fails only if no byte arrives for `ms` (instead of a whole-request deadline). */
  idle(ms: number): void;
}

/** What the request log says of a registry request (filled in as the request goes). */
export interface RegistryNote {
  operation: string;
  principal?: string;
  errorCode?: string;
}

export interface RegistryFrontOptions {
  /** How long an upload or download may go without a byte moving before it is cut (default 60 s). */
  idleMs?: number;
  /** Called with errors no client caused (default: console.error). */
  onInternalError?: (e: unknown) => void;
}

/** Most entries one tags list or catalog page holds (a larger `n` is cut to this, with a Link to the rest). */
export const MAX_PAGE = 1000;
/** Default inactivity deadline of blob uploads and downloads. */
export const DEFAULT_IDLE_MS = 60_000;
/** Largest Basic credentials header looked at. */
const MAX_AUTHORIZATION = 4096;

const json = 'application/json';

/** The registry's address in a Location header: relative, as the spec allows (clients resolve it against the URL they used). */
const blobLocation = (name: string, digest: string) => `/v2/${name}/blobs/${digest}`;
const uploadLocation = (name: string, id: string) => `/v2/${name}/blobs/uploads/${id}`;
/** The Range header of an upload of `size` bytes (Docker's convention: `0-0` when empty). */
const uploadRange = (size: number) => `0-${Math.max(0, size - 1)}`;

/** Writes an answer without a body (or with a JSON one), ending the connection after it when the request's body was not read. */
function reply(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body?: string): void {
  const unread = !req.readableEnded && hasBody(req);
  const text = req.method === 'HEAD' ? undefined : body;
  res.writeHead(status, { ...headers, 'content-length': String(body !== undefined ? Buffer.byteLength(body) : 0), ...(unread ? { connection: 'close' } : {}) });
  const socket = req.socket;
  res.end(text);
  if (unread) res.once('finish', () => socket?.destroySoon());
}

/** The caller's address (without the IPv4-mapped prefix) and whether it came over TLS, for IAM's global keys. */
function originOf(req: IncomingMessage): { sourceIp?: string; secureTransport: boolean } {
  const a = req.socket.remoteAddress ?? '';
  return { sourceIp: (a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a) || undefined, secureTransport: req.headers['x-forwarded-proto'] === 'https' };
}

/** Which methods each route answers. */
const ALLOWED: Record<Route['kind'], string[]> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET'],
  tags: ['GET'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
  referrers: ['GET'],
};

export class RegistryFront {
  private readonly idleMs: number;
  private readonly onInternalError: (e: unknown) => void;

  constructor(
    private readonly platform: Platform,
    private readonly registry: Registry,
    opts: RegistryFrontOptions = {},
  ) {
    this.idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
    this.onInternalError = opts.onInternalError ?? ((e) => console.error('berth: registry request failed:', e));
  }

  /** Whether the front answers this URL (`/v2`, `/v2/...`). */
  handles(url: URL): boolean {
    return isRegistryPath(url.pathname);
  }

  /** The Basic challenge clients get (docker login answers it with user AWS and the ECR password). */
  private challenge(): string {
    return `Basic realm="http://${this.registry.settings.address()}/v2/",service="ecr.amazonaws.com"`;
  }

  /** Answers one registry request, whole, filling in `note` for the request log. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, deadline: BodyDeadline, note: RegistryNote = { operation: '' }): Promise<void> {
    note.operation = `registry.${req.method}`;
    res.setHeader('docker-distribution-api-version', 'registry/2.0');
    try {
      const route = parseRoute(url.pathname);
      if (!route) throw ociFailures.notFound(url.pathname);
      note.operation = `registry.${req.method}.${route.kind}`;
      const host = String(req.headers.host ?? '').split(':')[0]!.toLowerCase();
      const scope: Scope = { platform: this.platform, region: regionOfHost(host, this.platform.accountId, this.platform.defaultRegion) };
      const who = this.authenticate(req, url, route, scope);
      note.principal = who.name;
      if (!ALLOWED[route.kind].includes(req.method ?? '')) throw ociFailures.methodNotAllowed(req.method ?? '', ALLOWED[route.kind]);
      if ('name' in route && !isRepositoryName(route.name)) throw ecrErrors.invalidName(route.name);
      if (who.accessKeyId && this.registry.principalOf) {
        const principal = await this.registry.principalOf(who.accessKeyId);
        if (!principal) throw ociFailures.unauthorized('The access key that asked for this password is no longer active. Reauthenticate (aws ecr get-login-password).', this.challenge());
        note.principal = principal.arn;
        await authorizeRegistryRequest(scope, this.registry, principal, route, req.method ?? '');
        if (this.registry.access) await authorizeAsPrincipal(scope, this.registry.access, principal, route, req.method ?? '', originOf(req));
      }
      await this.dispatch(route, req, res, url, scope, deadline);
    } catch (e) {
      if (e instanceof UploadInterrupted || e instanceof BodyAborted) {
        // The client went away mid-body: nobody to answer. What arrived stays in the session.
        note.errorCode = 'ABORTED';
        req.socket?.destroy();
        return;
      }
      const f = e instanceof TooLarge ? ociFailures.manifestTooLarge(MAX_MANIFEST_BYTES) : toOciFailure(e, this.onInternalError);
      note.errorCode = f.code;
      if (res.headersSent) res.destroy();
      else reply(req, res, f.status, { 'content-type': json, ...f.headers }, errorBody(f));
    }
  }

  /**
   * Who the request is: `AWS` with a valid password (and the access key it was minted for, when
   * it names one), or a signed download URL; else 401 with the challenge.
   */
  private authenticate(req: IncomingMessage, url: URL, route: Route, scope: Scope): { name: string; accessKeyId?: string } {
    const now = this.platform.clock.now();
    const header = req.headers.authorization;
    if (typeof header === 'string' && header.length <= MAX_AUTHORIZATION && /^basic /i.test(header)) {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon >= 0 ? decoded.slice(0, colon) : decoded;
      const { check, accessKeyId } = colon >= 0 && user === 'AWS' ? this.registry.tokens.inspect(decoded.slice(colon + 1), now) : { check: 'invalid', accessKeyId: undefined };
      if (check === 'valid') return { name: 'AWS', accessKeyId };
      if (check === 'expired') throw ociFailures.unauthorized('Your authorization token has expired. Reauthenticate and try again (aws ecr get-login-password).', this.challenge());
      throw ociFailures.unauthorized('The user name must be AWS and the password one that aws ecr get-login-password printed for this Berth.', this.challenge());
    }
    const sig = url.searchParams.get('X-Berth-Signature');
    if (sig !== null && route.kind === 'blob' && (req.method === 'GET' || req.method === 'HEAD')) {
      const expires = digits(url.searchParams.get('X-Berth-Expires') ?? '');
      if (expires !== undefined && this.registry.tokens.checkDownload(scope.region, route.name, route.digest, expires, sig, now)) return { name: 'download-url' };
      throw ociFailures.unauthorized('The download URL is not valid or has expired; ask GetDownloadUrlForLayer for a new one.', this.challenge());
    }
    throw ociFailures.unauthorized('Authentication required: docker login with user AWS and the password from aws ecr get-login-password.', this.challenge());
  }

  private async dispatch(route: Route, req: IncomingMessage, res: ServerResponse, url: URL, s: Scope, deadline: BodyDeadline): Promise<void> {
    switch (route.kind) {
      case 'base':
        return reply(req, res, 200, { 'content-type': json }, '{}');
      case 'catalog':
        return this.catalog(req, res, url, s);
      case 'tags':
        return this.tags(req, res, url, s, route.name);
      case 'manifest':
        if (req.method === 'PUT') return this.putManifest(req, res, s, route.name, route.reference);
        if (req.method === 'DELETE') return this.deleteManifest(req, res, s, route.name, route.reference);
        return this.getManifest(req, res, s, route.name, route.reference);
      case 'blob':
        if (req.method === 'DELETE') throw ociFailures.blobDeleteUnsupported();
        return this.getBlob(req, res, s, route.name, route.digest);
      case 'uploads':
        return this.startUpload(req, res, url, s, route.name, deadline);
      case 'upload':
        if (req.method === 'GET') return this.uploadStatus(req, res, s, route.name, route.id);
        if (req.method === 'DELETE') {
          await cancelUpload(s, this.registry, route.name, route.id);
          return reply(req, res, 204, {});
        }
        if (req.method === 'PATCH') return this.patchUpload(req, res, s, route.name, route.id, deadline);
        return this.finishUpload(req, res, url, s, route.name, route.id, deadline);
      case 'referrers':
        return this.referrers(req, res, url, s, route.name, route.digest);
    }
  }

  /** `n` and `last` of a paged list: n clamped to MAX_PAGE (PAGINATION_NUMBER_INVALID if not a number). */
  private page(url: URL): { n: number; last?: string } {
    const raw = url.searchParams.get('n');
    let n = MAX_PAGE;
    if (raw !== null) {
      const v = digits(raw);
      if (v === undefined || raw.length > 6) throw ociFailures.paginationInvalid(raw);
      n = Math.min(v, MAX_PAGE);
    }
    const last = url.searchParams.get('last') ?? undefined;
    return { n, last: last !== undefined ? last.slice(0, 300) : undefined };
  }

  private async catalog(req: IncomingMessage, res: ServerResponse, url: URL, s: Scope): Promise<void> {
    const { n, last } = this.page(url);
    const page = n === 0 ? { items: [], more: false } : await listRepositories(s, { after: last, limit: n });
    const names = page.items.map((r) => r.name);
    const headers: Record<string, string> = { 'content-type': json };
    if (page.more) headers.link = `</v2/_catalog?n=${n}&last=${encodeURIComponent(names[names.length - 1]!)}>; rel="next"`;
    reply(req, res, 200, headers, JSON.stringify({ repositories: names }));
  }

  private async tags(req: IncomingMessage, res: ServerResponse, url: URL, s: Scope, name: string): Promise<void> {
    await getRepository(s, name);
    const { n, last } = this.page(url);
    const page = n === 0 ? { tags: [], more: false } : await listTags(s, name, { after: last, limit: n });
    const tags = page.tags.map((t) => t.tag);
    const headers: Record<string, string> = { 'content-type': json };
    if (page.more) headers.link = `</v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(tags[tags.length - 1]!)}>; rel="next"`;
    reply(req, res, 200, headers, JSON.stringify({ name, tags }));
  }

  /** A manifest reference: a digest if it has a colon, else a tag. */
  private refOf(reference: string): ImageRef {
    return reference.includes(':') ? { digest: reference } : { tag: reference };
  }

  private async getManifest(req: IncomingMessage, res: ServerResponse, s: Scope, name: string, reference: string): Promise<void> {
    const { image, manifest } = await getManifest(s, name, this.refOf(reference));
    res.writeHead(200, { 'content-type': image.mediaType, 'content-length': String(manifest.length), 'docker-content-digest': image.digest, etag: `"${image.digest}"` });
    res.end(req.method === 'HEAD' ? undefined : manifest);
  }

  private async putManifest(req: IncomingMessage, res: ServerResponse, s: Scope, name: string, reference: string): Promise<void> {
    await getRepository(s, name);
    const bytes = await readBounded(req, MAX_MANIFEST_BYTES);
    const ref = this.refOf(reference);
    const contentType = req.headers['content-type'];
    const r = await putImage(s, this.registry, { repository: name, manifest: bytes, mediaType: contentType, tag: ref.tag, digest: ref.digest });
    const headers: Record<string, string> = { location: `/v2/${name}/manifests/${r.image.digest}`, 'docker-content-digest': r.image.digest };
    if (r.image.subject) headers['oci-subject'] = r.image.subject;
    reply(req, res, 201, headers);
  }

  private async deleteManifest(req: IncomingMessage, res: ServerResponse, s: Scope, name: string, reference: string): Promise<void> {
    const ref = this.refOf(reference);
    if (ref.digest !== undefined && !isDigestShape(ref.digest)) throw ecrErrors.invalidDigest(ref.digest);
    const out = await deleteImages(s, name, [ref], { lastTagDeletesImage: false });
    const f = out.failures[0];
    if (f?.code === 'ImageReferencedByManifestList') throw ecrErrors.referencedByIndex(reference, f.reason);
    if (f?.code === 'InvalidImageTag') throw ecrErrors.invalidTag(reference);
    if (f) throw ecrErrors.imageNotFound(reference, name, s.platform.accountId);
    reply(req, res, 202, {});
  }

  private async getBlob(req: IncomingMessage, res: ServerResponse, s: Scope, name: string, digest: string): Promise<void> {
    const info = await blobIn(s, this.registry, name, digest, true);
    if (!info) throw ociFailures.blobUnknown(digest);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'docker-content-digest': info.digest, etag: `"${info.digest}"`, 'accept-ranges': 'bytes' };
    const range = req.method === 'GET' ? parseRange(req.headers.range, info.size) : ({ kind: 'whole' } as const);
    if (range.kind === 'unsatisfiable') throw ociFailures.blobRangeUnsatisfiable(info.size);
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...headers, 'content-length': String(info.size) });
      res.end();
      return;
    }
    const partial = range.kind === 'range';
    const stream = await this.registry.blobs.read(info.digest, partial ? { start: range.start, end: range.end } : undefined);
    if (!stream) throw ociFailures.blobUnknown(digest);
    if (partial) res.writeHead(206, { ...headers, 'content-length': String(range.end - range.start + 1), 'content-range': `bytes ${range.start}-${range.end}/${info.size}` });
    else res.writeHead(200, { ...headers, 'content-length': String(info.size) });
    await streamOut(stream, res, this.idleMs);
  }

  private async startUpload(req: IncomingMessage, res: ServerResponse, url: URL, s: Scope, name: string, deadline: BodyDeadline): Promise<void> {
    const mount = url.searchParams.get('mount');
    if (mount !== null && isDigestShape(mount)) {
      // Blobs are shared by every repository: a mount succeeds whenever the blob is here.
      const info = await blobIn(s, this.registry, name, mount, true);
      if (info) return reply(req, res, 201, { location: blobLocation(name, info.digest), 'docker-content-digest': info.digest });
    }
    const digest = url.searchParams.get('digest');
    if (digest !== null && !isDigestShape(digest)) throw ecrErrors.invalidDigest(digest);
    const session = await startUpload(s, this.registry, name);
    if (digest === null) {
      return reply(req, res, 202, { location: uploadLocation(name, session.id), range: uploadRange(0), 'docker-upload-uuid': session.id });
    }
    // Monolithic: the whole blob in this request's body.
    try {
      deadline.idle(this.idleMs);
      await appendUpload(s, this.registry, name, session.id, 0, req, () => ecrErrors.invalidParameter('unreachable'));
      const blob = await completeUpload(s, this.registry, name, session.id, digest);
      reply(req, res, 201, { location: blobLocation(name, blob.digest), 'docker-content-digest': blob.digest });
    } catch (e) {
      await this.registry.blobs.cancel(session.id);
      throw e;
    }
  }

  private async uploadStatus(req: IncomingMessage, res: ServerResponse, s: Scope, name: string, id: string): Promise<void> {
    const u = await uploadOf(s, this.registry, name, id);
    reply(req, res, 204, { location: uploadLocation(name, u.id), range: uploadRange(u.size), 'docker-upload-uuid': u.id });
  }

  /**
   * Appends the request's body to a session, where its Content-Range (if any) says it starts: that
   * must be the session's end (416 RANGE_INVALID otherwise), and its length Content-Length's.
   */
  private async appendBody(req: IncomingMessage, s: Scope, name: string, id: string, deadline: BodyDeadline): Promise<number> {
    const u = await uploadOf(s, this.registry, name, id);
    let offset = u.size;
    const cr = req.headers['content-range'];
    if (cr !== undefined) {
      const range = parseContentRange(String(cr));
      if (!range) throw new OciFailure('RANGE_INVALID', `Content-Range must be <start>-<end>: got '${String(cr).slice(0, 60)}'.`, 416, undefined, { range: uploadRange(u.size) });
      if (range.start !== u.size) throw ociFailures.rangeInvalid(`This chunk starts at byte ${range.start}, but the upload has ${u.size} bytes: send from byte ${u.size}.`, u.size);
      const len = req.headers['content-length'];
      if (len !== undefined && Number(len) !== range.end - range.start + 1) {
        throw ociFailures.sizeInvalid(`Content-Range ${range.start}-${range.end} spans ${range.end - range.start + 1} bytes, but Content-Length is ${String(len).slice(0, 20)}.`);
      }
      offset = range.start;
    }
    deadline.idle(this.idleMs);
    const after = await appendUpload(s, this.registry, name, id, offset, req, (actual) => ociFailures.rangeInvalid(`The upload has ${actual} bytes: send from byte ${actual}.`, actual));
    return after.size;
  }

  private async patchUpload(req: IncomingMessage, res: ServerResponse, s: Scope, name: string, id: string, deadline: BodyDeadline): Promise<void> {
    const size = await this.appendBody(req, s, name, id, deadline);
    reply(req, res, 202, { location: uploadLocation(name, id), range: uploadRange(size), 'docker-upload-uuid': id });
  }

  private async finishUpload(req: IncomingMessage, res: ServerResponse, url: URL, s: Scope, name: string, id: string, deadline: BodyDeadline): Promise<void> {
    const digest = url.searchParams.get('digest');
    if (digest === null) throw ociFailures.digestRequired();
    if (!isDigestShape(digest)) throw ecrErrors.invalidDigest(digest);
    await uploadOf(s, this.registry, name, id);
    if (hasBody(req)) await this.appendBody(req, s, name, id, deadline);
    const blob = await completeUpload(s, this.registry, name, id, digest);
    reply(req, res, 201, { location: blobLocation(name, blob.digest), 'docker-content-digest': blob.digest });
  }

  private async referrers(req: IncomingMessage, res: ServerResponse, url: URL, s: Scope, name: string, digest: string): Promise<void> {
    await getRepository(s, name);
    if (!isDigestShape(digest)) throw ecrErrors.invalidDigest(digest);
    const artifactType = url.searchParams.get('artifactType');
    const all = await referrersOf(s, name, digest);
    const chosen = artifactType === null ? all : all.filter((r) => r.artifactType === artifactType);
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: chosen.map((r) => ({ mediaType: r.mediaType, digest: r.digest, size: r.size, ...(r.artifactType ? { artifactType: r.artifactType } : {}), ...(r.annotations ? { annotations: r.annotations } : {}) })),
    };
    const headers: Record<string, string> = { 'content-type': MEDIA.ociIndex };
    if (artifactType !== null) headers['oci-filters-applied'] = 'artifactType';
    reply(req, res, 200, headers, JSON.stringify(index));
  }
}
