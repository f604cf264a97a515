/**
 * The AWS front door, in two steps:
 *
 * 1. `admit(req)`, on the headers alone, before a byte of the body is read: picks the service
 *    and wire protocol, reads the SigV4 signature and checks all of it that does not need the
 *    body (known access key, time, a scope naming this service and a real region, the headers
 *    that select the service and the operation signed). A request that fails here is answered
 *    at once and its body never read. It also says how large a body the operation may have.
 * 2. `handle(req, body, admission)`: verifies the signature over the body, decodes and
 *    validates the input against the model, calls the handler, and renders the result or the
 *    error in the protocol's shape.
 *
 * The only place that turns HTTP into typed handler calls and errors into HTTP.
 */
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { ServiceError, contentionError } from '../errors.js';
import { commonErrors, type WireProtocol } from '../protocol/errors.js';
import { checkSignatureClaim, readSignature, verifySignature, type SignatureClaim } from '../protocol/sigv4.js';
import { decodeQueryInput, encodeEc2Error, encodeQueryError, encodeQueryResponse, encodeRestXmlError, parseForm } from '../protocol/awsQuery.js';
import type { Platform } from '../domain/platform.js';
import type { Principal, RequestContext, ServiceDefinition } from '../services/types.js';
import type { RootCredentials } from '../config/credentials.js';
import { ConflictError } from '../store/types.js';
import { errorShapeOf, isKnownUnservedTarget, unsupportedService, type ErrorShape, type UnservedRequest } from './unserved.js';

/** A fully formed HTTP answer. */
export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The error code of a refused request (for the request log). */
  errorCode?: string;
}

/** Largest body of any AWS API request, unless a service says otherwise for an operation. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** A request let in on its headers: what handles it, its claimed signature, and its body limit. */
export interface Admission {
  requestId: string;
  service: ServiceDefinition;
  protocol: WireProtocol;
  /** JSON: the operation named by X-Amz-Target (query: read from the body later). */
  operation?: string;
  claim: SignatureClaim;
  secret: string;
  /** Most body bytes this request may send. */
  bodyLimit: number;
}

const JSON_CONTENT = 'application/x-amz-json-1.1';

export class AwsGateway {
  private readonly byTarget = new Map<string, ServiceDefinition>();
  private readonly bySigningName = new Map<string, ServiceDefinition>();
  /** Every credential-scope service some served API answers to (query signing names and JSON models' signing names). */
  private readonly servedScopes = new Set<string>();
  /** The APIs this endpoint serves, by name, for the answer to one it does not. */
  private readonly servedNames: string[];

  constructor(
    services: ServiceDefinition[],
    private readonly platform: Platform,
    private readonly credentials: RootCredentials,
    /** Aborted when Berth shuts down: handed to handlers so long polls end. */
    private readonly shutdown: AbortSignal,
    private readonly onInternalError: (err: unknown) => void = (e) => console.error(e),
  ) {
    for (const s of services) {
      if (s.model.metadata.targetPrefix) this.byTarget.set(s.model.metadata.targetPrefix, s);
      for (const n of s.signingNames) this.bySigningName.set(n, s);
      for (const n of signingNamesOf(s)) this.servedScopes.add(n);
    }
    // Berth's own channels (the agent's) are not an AWS API a client would look for.
    this.servedNames = services.map((s) => s.model.metadata.serviceId).filter((id) => !id.startsWith('Berth'));
  }

  /**
   * Whether a request is addressed to the AWS APIs (rather than the registry or operator
   * endpoints): an awsJson or awsQuery request to `/`, or any request signed with SigV4 (a REST
   * API such as S3 or Lambda, which Berth answers as a service it does not provide).
   */
  static isAwsRequest(req: IncomingMessage): boolean {
    if (req.headers['x-amz-target']) return true;
    const ct = String(req.headers['content-type'] ?? '');
    if ((req.url === '/' || req.url?.startsWith('/?')) === true && (req.method === 'POST' || /[?&]Action=/.test(req.url ?? '') || ct.length > 0)) return true;
    return isSigV4Signed(req);
  }

  /** Step 1 (headers only): the admission, or the answer that refuses the request. */
  admit(req: IncomingMessage): Admission | HttpReply {
    const requestId = randomUUID();
    const target = req.headers['x-amz-target'];
    const ct = String(req.headers['content-type'] ?? '').toLowerCase();
    const protocol: WireProtocol = typeof target === 'string' || (ct.includes('json') && !ct.startsWith('application/x-www-form-urlencoded')) ? 'json' : 'query';
    try {
      if (typeof target === 'string') return this.admitJson(req, target, ct, requestId);
      const isForm = ct.startsWith('application/x-www-form-urlencoded');
      if (isForm || (req.method === 'GET' && /[?&]Action=/.test(req.url ?? ''))) return this.admitQuery(req, isForm, requestId);
      // A signed request of another shape is a REST API's (S3, Lambda...): none is served here.
      const rest = isSigV4Signed(req) ? this.unserved(req, protocol, { encoding: 'rest' }) : undefined;
      if (rest) return this.errorReply(rest.error, rest.shape, requestId, undefined);
      if (ct.includes('json')) {
        throw new ServiceError('UnknownOperationException', 'Missing X-Amz-Target header: JSON requests name their operation there, e.g. AmazonEC2ContainerServiceV20141113.ListClusters.');
      }
      throw commonErrors.unsupportedMediaType(ct || '(none)');
    } catch (e) {
      if (e instanceof UnservedAnswer) return this.errorReply(e.error, e.shape, requestId, undefined);
      return this.errorReply(this.asServiceError(e), protocol, requestId, undefined);
    }
  }

  /**
   * The answer to a request for a service Berth does not provide, or undefined when its
   * credential scope names one Berth serves (then it is an unknown operation of that service, or
   * a request in the wrong shape, answered as such). A known access key is still required: an
   * unknown one gets the usual 403 first.
   */
  private unserved(req: IncomingMessage, protocol: WireProtocol, what: Omit<UnservedRequest, 'scope'>): { error: ServiceError; shape: ErrorShape } | undefined {
    let scope = '';
    try {
      const claim = readSignature(this.signedPart(req), protocol);
      if (this.secretOf(claim.accessKeyId) === undefined) throw commonErrors.unknownAccessKey(protocol);
      scope = claim.service;
    } catch (e) {
      // An unreadable signature says nothing of the service; an unknown access key is refused.
      if (e instanceof ServiceError && e.code === commonErrors.unknownAccessKey(protocol).code) throw e;
    }
    const r: UnservedRequest = { ...what, scope };
    if (this.servedScopes.has(scope) && !(r.target && isKnownUnservedTarget(r.target))) return undefined;
    return { error: unsupportedService(r, this.servedNames), shape: errorShapeOf(r) };
  }

  private admitJson(req: IncomingMessage, target: string, ct: string, requestId: string): Admission {
    const dot = target.lastIndexOf('.');
    const service = this.byTarget.get(target.slice(0, dot));
    const operation = target.slice(dot + 1);
    if (dot < 0 || !service) {
      const other = this.unserved(req, 'json', { target: target.slice(0, 300), encoding: 'json' });
      if (other) throw new UnservedAnswer(other.error, other.shape);
      throw commonErrors.unknownOperation('json', target.slice(0, 200));
    }
    if (!/json/i.test(ct)) throw commonErrors.unsupportedMediaType(ct || '(none)');
    const claim = readSignature(this.signedPart(req), 'json');
    const secret = checkSignatureClaim(
      claim,
      this.signedPart(req),
      'json',
      { services: signingNamesOf(service), mustSign: ['x-amz-target', 'content-type'], presignedAllowed: false },
      (id) => this.secretOf(id),
      this.platform.clock.now(),
    );
    return { requestId, service, protocol: 'json', operation, claim, secret, bodyLimit: service.bodyLimits?.[operation] ?? DEFAULT_BODY_LIMIT };
  }

  private admitQuery(req: IncomingMessage, isForm: boolean, requestId: string): Admission {
    const claim = readSignature(this.signedPart(req), 'query');
    const found = this.bySigningName.get(claim.service);
    const service = found?.protocol === 'query' ? found : undefined;
    if (!service) {
      const action = req.method === 'GET' ? new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('Action') ?? undefined : undefined;
      const other = this.unserved(req, 'query', { action, encoding: 'form' });
      if (other) throw new UnservedAnswer(other.error, other.shape);
      throw commonErrors.unknownOperation('query', `(no query API answers for the credential scope '${claim.service.slice(0, 64)}')`);
    }
    // A presigned URL carries its operation in the signed query; a POST's Action is in its body.
    const presignedAllowed = req.method === 'GET' && !isForm && claim.signedQuery.some(([k]) => k === 'Action');
    const secret = checkSignatureClaim(
      claim,
      this.signedPart(req),
      'query',
      { services: signingNamesOf(service), mustSign: ['content-type'], presignedAllowed },
      (id) => this.secretOf(id),
      this.platform.clock.now(),
    );
    return { requestId, service, protocol: 'query', claim, secret, bodyLimit: DEFAULT_BODY_LIMIT };
  }

  /** Step 2: the whole request, once its body (within the admission's limit) is in. */
  async handle(req: IncomingMessage, body: Buffer, admission: Admission): Promise<HttpReply> {
    const { requestId, service, protocol } = admission;
    try {
      const identity = verifySignature(admission.claim, { ...this.signedPart(req), body }, protocol, admission.secret);
      const principal: Principal = { accessKeyId: identity.accessKeyId, arn: `arn:aws:iam::${this.platform.accountId}:root`, userId: this.platform.accountId };
      const ctx: RequestContext = { requestId, region: identity.region, principal, platform: this.platform, signal: this.shutdown, endpoint: endpointOf(req) };
      return protocol === 'json' ? await this.handleJson(service, admission.operation!, body, ctx) : await this.handleQuery(req, service, body, ctx, admission);
    } catch (e) {
      return this.errorReply(this.asServiceError(e), protocol, requestId, service);
    }
  }

  /**
   * Authenticates a request to an operator endpoint (`POST /_berth/reset`): SigV4 with the root
   * credentials and the credential-scope service `berth`. Throws the 403 to answer otherwise.
   */
  authenticateOperator(req: IncomingMessage, body: Buffer): void {
    const claim = readSignature(this.signedPart(req), 'json');
    const secret = checkSignatureClaim(claim, this.signedPart(req), 'json', { services: ['berth'], mustSign: ['content-type'], presignedAllowed: false }, (id) => this.secretOf(id), this.platform.clock.now());
    verifySignature(claim, { ...this.signedPart(req), body }, 'json', secret);
  }

  /** Who a request claims to come from, for the request log: `root` for the root credentials. */
  principalOf(admission: Admission): string {
    return admission.claim.accessKeyId === this.credentials.accessKeyId ? 'root' : admission.claim.accessKeyId.slice(0, 128);
  }

  /** The answer for a body larger than the admission allows (413, in the protocol's shape). */
  tooLarge(admission: Admission): HttpReply {
    return this.errorReply(commonErrors.tooLarge(admission.bodyLimit), admission.protocol, admission.requestId, admission.service);
  }

  private signedPart(req: IncomingMessage) {
    return { method: req.method ?? 'GET', rawUrl: req.url ?? '/', headers: req.headers };
  }

  private secretOf(accessKeyId: string): string | undefined {
    return accessKeyId === this.credentials.accessKeyId ? this.credentials.secretAccessKey : undefined;
  }

  private async handleJson(service: ServiceDefinition, opName: string, body: Buffer, ctx: RequestContext): Promise<HttpReply> {
    const op = service.model.operations[opName];
    if (!op) throw commonErrors.unknownOperation('json', opName.slice(0, 200));
    let parsed: unknown;
    try {
      parsed = body.length ? JSON.parse(body.toString('utf8')) : {};
    } catch {
      throw commonErrors.serialization('The request body is not valid JSON.');
    }
    const input = service.model.decodeJsonInput(opName, parsed, service.validationErrorCodes?.[opName] ?? service.validationErrorCode, service.constraintErrors?.[opName]);
    const handler = service.handlers[opName];
    if (!handler) throw commonErrors.notImplemented(service.model.metadata.serviceId, opName);
    const out = await handler(input, ctx);
    const encoded = op.output ? service.model.encodeJson(op.output.shape, out ?? {}) : {};
    return { status: 200, headers: { 'content-type': JSON_CONTENT, 'x-amzn-requestid': ctx.requestId }, body: JSON.stringify(encoded) };
  }

  private async handleQuery(req: IncomingMessage, service: ServiceDefinition, body: Buffer, ctx: RequestContext, admission: Admission): Promise<HttpReply> {
    const formText = req.method === 'GET' ? (req.url ?? '').split('?')[1] ?? '' : body.toString('utf8');
    const { params, tree } = parseForm(formText);
    const action = params.get('Action');
    if (!action) throw new ServiceError('MissingAction', 'The request must contain the parameter Action.');
    admission.operation = action.slice(0, 100); // for the request log
    const op = service.model.operations[action];
    if (!op) throw commonErrors.unknownOperation('query', action.slice(0, 200));
    const version = params.get('Version');
    if (version && version !== service.model.metadata.apiVersion) {
      throw new ServiceError('InvalidAction', `Version ${version.slice(0, 40)} is not supported; this service speaks ${service.model.metadata.apiVersion}.`);
    }
    const input = decodeQueryInput(service.model, action, tree, service.validationErrorCodes?.[action] ?? service.validationErrorCode, service.constraintErrors?.[action]);
    const handler = service.handlers[action];
    if (!handler) throw commonErrors.notImplemented(service.model.metadata.serviceId, action);
    const out = await handler(input, ctx);
    return {
      status: 200,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': ctx.requestId },
      body: encodeQueryResponse(service.model, action, out, ctx.requestId),
    };
  }

  private asServiceError(e: unknown): ServiceError {
    if (e instanceof ServiceError) return e;
    // A raw store conflict that escaped the domain's retries: nothing of that commit was written.
    if (e instanceof ConflictError) return contentionError('The resource');
    this.onInternalError(e);
    return commonErrors.internal();
  }

  private errorReply(err: ServiceError, shape: ErrorShape, requestId: string, service: ServiceDefinition | undefined): HttpReply {
    const xml = (body: string): HttpReply => ({ status: err.status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body, errorCode: err.code });
    switch (shape) {
      case 'query':
        return xml(encodeQueryError(err, requestId, service?.model.metadata.xmlNamespace));
      case 'ec2':
        return xml(encodeEc2Error(err, requestId));
      case 'rest-xml':
        return { ...xml(encodeRestXmlError(err, requestId)), headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId } };
      default: {
        const body: Record<string, unknown> = { __type: err.code, message: err.message, ...err.extra };
        return {
          errorCode: err.code,
          status: err.status,
          headers: { 'content-type': shape === 'rest-json' ? 'application/json' : JSON_CONTENT, 'x-amzn-requestid': requestId, 'x-amzn-errortype': err.code },
          body: JSON.stringify(body),
        };
      }
    }
  }
}

/** A request for a service Berth does not provide, answered in that service's error shape (thrown out of admission). */
class UnservedAnswer extends Error {
  constructor(
    readonly error: ServiceError,
    readonly shape: ErrorShape,
  ) {
    super(error.message);
  }
}

/** A Host header that names a host (a DNS name or IPv4 address, or an IPv6 one in brackets), with an optional port. */
const HOST_RE = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The URL a request reached Berth at: `http://` (or `https://` behind a proxy that says so) and
 * its Host header, which SigV4 signs; `http://localhost` if the header is not a host.
 */
function endpointOf(req: IncomingMessage): string {
  const host = String(req.headers.host ?? '');
  const scheme = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
  return `${scheme}://${HOST_RE.test(host) ? host : 'localhost'}`;
}

/** Whether a request carries a SigV4 signature (an Authorization header, or a presigned query). */
function isSigV4Signed(req: IncomingMessage): boolean {
  return String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ') || /[?&]X-Amz-Credential=/.test(req.url ?? '');
}

/** The credential-scope service names a service answers to: its query signing names, else its model's signing name. */
function signingNamesOf(s: ServiceDefinition): string[] {
  return s.signingNames.length ? s.signingNames : [s.model.metadata.signingName ?? s.model.metadata.endpointPrefix];
}
