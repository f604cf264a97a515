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
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { ServiceError, contentionError } from '../errors.js';
import { commonErrors, jsonFamily, type WireProtocol } from '../protocol/errors.js';
import { checkSignatureClaim, readSignature, verifySignature, type SignatureClaim } from '../protocol/sigv4.js';
import { CBOR_CONTENT, CBOR_PROTOCOL_HEADER, CBOR_PROTOCOL_VALUE, cborTimestamp, decodeCborBody, encodeCborBody, parseCborPath } from '../protocol/cbor.js';
import { decodeQueryInput, encodeEc2Error, encodeQueryError, encodeQueryResponse, encodeRestXmlError, parseForm } from '../protocol/awsQuery.js';
import type { ScalarEncoding } from '../protocol/model.js';
import { decodeEc2Input, encodeEc2Response } from '../protocol/ec2.js';
import type { Platform } from '../domain/platform.js';
import type { Principal, RequestContext, ServiceDefinition } from '../services/types.js';
import type { CredentialDirectory } from '../domain/iam/credentials.js';
import { tokenMatches } from '../domain/iam/credentials.js';
import { authorizeRequest, type AccessGate, type AuthorizationNote } from './authorization.js';
import type { AuditEntry } from '../domain/cloudtrail/auditLog.js';
import { ConflictError } from '../store/types.js';
import { errorShapeOf, isKnownUnservedTarget, unsupportedService, type ErrorShape, type UnservedRequest } from './unserved.js';

/** A fully formed HTTP answer. */
export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
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
  /** JSON and CBOR: the operation named by X-Amz-Target or the path (query: read from the body later). */
  operation?: string;
  claim: SignatureClaim;
  secret: string;
  /** Who the access key belongs to (root, a user, a role session), resolved at admission. */
  principal: Principal;
  /** Most body bytes this request may send. */
  bodyLimit: number;
  /** When the request arrived (platform clock, epoch ms), for its audit record. */
  arrived: number;
}

/** Where the gateway reports each answered call (the audit log); must not block. */
export type AuditSink = (entry: AuditEntry) => void;

const JSON_CONTENT = 'application/x-amz-json-1.1';

/** The awsJson content type of a service's answers: its model's JSON version (1.0 or 1.1). */
function jsonContentOf(service: ServiceDefinition | undefined): string {
  return `application/x-amz-json-${service?.model.metadata.jsonVersion ?? '1.1'}`;
}

export class AwsGateway {
  private readonly byTarget = new Map<string, ServiceDefinition>();
  private readonly bySigningName = new Map<string, ServiceDefinition>();
  /** Every credential-scope service some served API answers to (query signing names and JSON models' signing names). */
  private readonly servedScopes = new Set<string>();
  /** The APIs this endpoint serves, by name, for the answer to one it does not. */
  private readonly servedNames: string[];
  /** The served services by registry name (ecs, elbv2, logs...), for `callAs`. */
  private readonly byName = new Map<string, ServiceDefinition>();

  constructor(
    services: ServiceDefinition[],
    private readonly platform: Platform,
    /** Whose access keys are which (root, IAM users, STS sessions): src/domain/iam/credentials.ts. */
    private readonly credentials: CredentialDirectory,
    /** Decides whether a caller may perform an operation (IAM policy evaluation). */
    private readonly access: AccessGate,
    /** Aborted when Berth shuts down: handed to handlers so long polls end. */
    private readonly shutdown: AbortSignal,
    private readonly onInternalError: (err: unknown) => void = (e) => console.error(e),
    /** Told of every call once its answer is known (CloudTrail's audit log). */
    private readonly audit?: AuditSink,
  ) {
    for (const s of services) {
      this.byName.set(s.name, s);
      const prefix = s.model.metadata.targetPrefix;
      if (prefix) this.byTarget.set(prefix, s);
      // A dotted prefix (CloudTrail's `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101`)
      // is also sent by its last part alone (what @aws-sdk v3 sends).
      if (prefix?.includes('.')) this.byTarget.set(prefix.slice(prefix.lastIndexOf('.') + 1), s);
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

  /**
   * Step 1 (headers only): the admission, or the answer that refuses the request. The access key
   * the request claims is loaded first (from memory, else the store), so the checks below run
   * on what is known of it.
   */
  async admit(req: IncomingMessage): Promise<Admission | HttpReply> {
    const claimed = claimedAccessKey(req);
    if (claimed) {
      try {
        await this.credentials.load(claimed);
      } catch (e) {
        this.onInternalError(e);
      }
    }
    const answer = this.admitLoaded(req);
    if ('status' in answer && claimed) this.recordRefusal(req, claimed, answer);
    return answer;
  }

  /**
   * Records a request refused at admission whose access key is known (an expired session, an
   * inactive key, a bad signature, a request for an operation not served): its principal is
   * known, so the refusal is theirs. A request with an unknown key is not anyone's call.
   */
  private recordRefusal(req: IncomingMessage, accessKeyId: string, reply: HttpReply): void {
    if (!this.audit) return;
    const known = this.credentials.cached(accessKeyId);
    if (!known) return;
    try {
      const target = req.headers['x-amz-target'];
      const dot = typeof target === 'string' ? target.lastIndexOf('.') : -1;
      const byTarget = typeof target === 'string' && dot > 0 ? this.byTarget.get(target.slice(0, dot)) : undefined;
      const scope = /Credential=[^/,\s]{1,128}\/\d{8}\/([^/,\s]{1,64})\/([^/,\s]{1,64})\//.exec(String(req.headers.authorization ?? '').slice(0, 1024));
      const service = byTarget ?? (scope ? this.bySigningName.get(scope[2]!) : undefined);
      const action = /[?&]Action=([A-Za-z0-9]{1,128})/.exec(req.url ?? '')?.[1];
      const operation = typeof target === 'string' && dot > 0 ? target.slice(dot + 1) : action ?? '?';
      this.audit({
        time: this.platform.clock.now(),
        requestId: reply.headers['x-amzn-requestid'] ?? reply.headers['x-amz-request-id'] ?? randomUUID(),
        service: service?.model.metadata.endpointPrefix ?? scope?.[2] ?? 'unknown',
        operation: operation.slice(0, 128),
        region: scope?.[1] ?? this.platform.defaultRegion,
        principal: known.principal,
        accessKeyId,
        sourceIp: sourceIpOf(req),
        userAgent: String(req.headers['user-agent'] ?? '').slice(0, 512) || undefined,
        resources: [],
        errorCode: reply.errorCode,
        errorMessage: reply.errorCode ? errorMessageOf(reply) : undefined,
      });
    } catch (e) {
      this.onInternalError(e);
    }
  }

  private admitLoaded(req: IncomingMessage): Admission | HttpReply {
    const requestId = randomUUID();
    const target = req.headers['x-amz-target'];
    const ct = String(req.headers['content-type'] ?? '').toLowerCase();
    const rpcV2 = req.headers[CBOR_PROTOCOL_HEADER] !== undefined || (req.url ?? '').startsWith('/service/');
    const protocol: WireProtocol = rpcV2 ? 'cbor' : typeof target === 'string' || (ct.includes('json') && !ct.startsWith('application/x-www-form-urlencoded')) ? 'json' : 'query';
    try {
      if (rpcV2) return this.admitCbor(req, ct, requestId);
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
      return this.errorReply(this.asServiceError(e), protocol === 'query' ? this.formProtocolOf(req) : protocol, requestId, undefined);
    }
  }

  /**
   * The protocol a form request's errors are spelled in before it is admitted: EC2's when its
   * signature (if readable) is scoped to a service speaking it, awsQuery's otherwise.
   */
  private formProtocolOf(req: IncomingMessage): WireProtocol {
    try {
      return this.bySigningName.get(readSignature(this.signedPart(req), 'query').service)?.protocol === 'ec2' ? 'ec2' : 'query';
    } catch {
      return 'query';
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
    const found = this.byTarget.get(target.slice(0, dot));
    const service = found && speaks(found, 'json') ? found : undefined;
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
      (id) => this.secretOf(id, 'json'),
      this.platform.clock.now(),
    );
    const principal = this.checkSessionToken(req, claim, 'json');
    return { requestId, service, protocol: 'json', operation, claim, secret, principal, bodyLimit: service.bodyLimits?.[operation] ?? DEFAULT_BODY_LIMIT, arrived: this.platform.clock.now() };
  }

  /**
   * Smithy RPC v2 CBOR: `POST /service/<ServiceName>/operation/<Operation>` with the header
   * `smithy-protocol: rpc-v2-cbor`; the service is the one whose model's target prefix (its
   * Smithy service name) the path names, if it speaks CBOR.
   */
  private admitCbor(req: IncomingMessage, ct: string, requestId: string): Admission {
    const path = parseCborPath(req.url ?? '');
    const found = path ? this.byTarget.get(path.service) : undefined;
    const service = found && speaks(found, 'cbor') ? found : undefined;
    if (!path || !service) {
      const target = path ? `${path.service}.${path.operation}` : undefined;
      const other = this.unserved(req, 'cbor', { target: target?.slice(0, 300), encoding: 'json' });
      if (other) throw new UnservedAnswer(other.error, 'cbor');
      throw commonErrors.unknownOperation('cbor', (req.url ?? '').slice(0, 200));
    }
    if (req.headers[CBOR_PROTOCOL_HEADER] !== CBOR_PROTOCOL_VALUE) {
      throw new ServiceError('SerializationException', `The ${CBOR_PROTOCOL_HEADER} header must be '${CBOR_PROTOCOL_VALUE}' on this path.`);
    }
    if (ct && ct !== CBOR_CONTENT) throw commonErrors.unsupportedMediaType(ct);
    const claim = readSignature(this.signedPart(req), 'cbor');
    const secret = checkSignatureClaim(
      claim,
      this.signedPart(req),
      'cbor',
      { services: signingNamesOf(service), mustSign: [CBOR_PROTOCOL_HEADER], presignedAllowed: false },
      (id) => this.secretOf(id, 'cbor'),
      this.platform.clock.now(),
    );
    const principal = this.checkSessionToken(req, claim, 'cbor');
    return { requestId, service, protocol: 'cbor', operation: path.operation, claim, secret, principal, bodyLimit: service.bodyLimits?.[path.operation] ?? DEFAULT_BODY_LIMIT, arrived: this.platform.clock.now() };
  }

  private admitQuery(req: IncomingMessage, isForm: boolean, requestId: string): Admission {
    const claim = readSignature(this.signedPart(req), 'query');
    const found = this.bySigningName.get(claim.service);
    const service = found && (speaks(found, 'query') || speaks(found, 'ec2')) ? found : undefined;
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
      (id) => this.secretOf(id, 'query'),
      this.platform.clock.now(),
    );
    const principal = this.checkSessionToken(req, claim, service.protocol === 'ec2' ? 'ec2' : 'query');
    return { requestId, service, protocol: service.protocol === 'ec2' ? 'ec2' : 'query', claim, secret, principal, bodyLimit: DEFAULT_BODY_LIMIT, arrived: this.platform.clock.now() };
  }

  /** Step 2: the whole request, once its body (within the admission's limit) is in. */
  async handle(req: IncomingMessage, body: Buffer, admission: Admission): Promise<HttpReply> {
    const { requestId, service, protocol } = admission;
    const note: AuthorizationNote = {};
    let reply: HttpReply;
    let errorMessage: string | undefined;
    try {
      const identity = verifySignature(admission.claim, { ...this.signedPart(req), body }, protocol, admission.secret);
      // The principal resolved at admission, for the key the signature was verified with.
      const principal: Principal = admission.principal;
      if (identity.accessKeyId !== principal.accessKeyId) throw commonErrors.unknownAccessKey(protocol);
      const ctx: RequestContext = { requestId, region: identity.region, principal, platform: this.platform, signal: this.shutdown, endpoint: endpointOf(req), sourceIp: sourceIpOf(req), secureTransport: req.headers['x-forwarded-proto'] === 'https' };
      if (protocol === 'query' || protocol === 'ec2') reply = await this.handleQuery(req, service, body, ctx, admission, note);
      else reply = await this.handleJson(service, admission.operation!, body, ctx, protocol, note);
    } catch (e) {
      const err = this.asServiceError(e);
      errorMessage = err.message;
      reply = this.errorReply(err, protocol, requestId, service);
    }
    this.recordCall(req, admission, reply, errorMessage, note.resources ?? []);
    return reply;
  }

  /** Tells the audit log of an answered call (never throws, never waits). */
  private recordCall(req: IncomingMessage, admission: Admission, reply: HttpReply, errorMessage: string | undefined, resources: string[]): void {
    if (!this.audit) return;
    try {
      const { service, claim } = admission;
      this.audit({
        time: admission.arrived,
        requestId: admission.requestId,
        service: service.model.metadata.endpointPrefix,
        operation: (admission.operation ?? '?').slice(0, 128),
        region: claim.region,
        principal: admission.principal,
        accessKeyId: claim.accessKeyId,
        sourceIp: sourceIpOf(req),
        userAgent: String(req.headers['user-agent'] ?? '').slice(0, 512) || undefined,
        resources,
        errorCode: reply.errorCode,
        errorMessage: reply.errorCode ? errorMessage?.slice(0, 1024) : undefined,
      });
    } catch (e) {
      this.onInternalError(e);
    }
  }

  /**
   * Authenticates a request to an operator endpoint (`POST /_berth/reset`): SigV4 with the root
   * credentials and the credential-scope service `berth`. Throws the 403 to answer otherwise;
   * returns the signer's access key id and the region it signed for.
   */
  async authenticateOperator(req: IncomingMessage, body: Buffer, opts: { rootOnly: boolean }): Promise<{ accessKeyId: string; region: string }> {
    const claimed = claimedAccessKey(req);
    if (claimed) await this.credentials.load(claimed);
    const claim = readSignature(this.signedPart(req), 'json');
    const secret = checkSignatureClaim(claim, this.signedPart(req), 'json', { services: ['berth'], mustSign: ['content-type'], presignedAllowed: false }, (id) => this.secretOf(id), this.platform.clock.now());
    const identity = verifySignature(claim, { ...this.signedPart(req), body }, 'json', secret);
    const principal = this.checkSessionToken(req, claim, 'json');
    if (opts.rootOnly && principal.kind !== 'root') throw new ServiceError('AccessDenied', 'Only the root user may call this operator endpoint.', 403);
    return { accessKeyId: identity.accessKeyId, region: identity.region };
  }


  /**
   * A request made with session credentials must carry their token (`X-Amz-Security-Token`,
   * header or presigned query), and a request with long-term keys must not carry one.
   */
  private checkSessionToken(req: IncomingMessage, claim: SignatureClaim, protocol: WireProtocol): Principal {
    const known = this.credentials.cached(claim.accessKeyId);
    const header = req.headers['x-amz-security-token'];
    const presented = typeof header === 'string' ? header : claim.signedQuery.find(([k]) => k === 'X-Amz-Security-Token')?.[1];
    if (!known || !tokenMatches(known, presented)) throw new ServiceError(jsonFamily(protocol) ? 'UnrecognizedClientException' : 'InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
    return known.principal;
  }

  /**
   * Whether `secretAccessKey` is the secret of access key `accessKeyId`, compared in constant
   * time against the same key table SigV4 verification uses (the console's sign-in). A key not
   * yet used since this replica started (an IAM user's new key) is loaded first, as SigV4 does.
   */
  async checkSecret(accessKeyId: string, secretAccessKey: string): Promise<boolean> {
    await this.credentials.load(accessKeyId);
    // Session credentials sign in with their token only (through a signed link), never by secret.
    const known = this.credentials.cached(accessKeyId);
    if (!known || known.tokenHash || known.refused) return false;
    const want = known.secret;
    const a = createHash('sha256').update(want).digest();
    const b = createHash('sha256').update(secretAccessKey).digest();
    return timingSafeEqual(a, b);
  }

  /**
   * Calls `operation` of the service named `serviceName` (ecs, elbv2, logs, ssm...) as the
   * principal of access key `accessKeyId`, the way a request signed with that key is handled:
   * the key must still be known (else the 403 a signed request would get), the principal is
   * built the same way, the input (JSON, as an awsJson body) is decoded and validated by the
   * model, and the output is encoded as the awsJson wire shape (timestamps in epoch seconds).
   * Errors are the operation's `ServiceError`s. The web console calls every API through here.
   */
  async callAs(accessKeyId: string, region: string, serviceName: string, operation: string, input: unknown, endpoint: string, signal: AbortSignal = this.shutdown): Promise<Record<string, unknown>> {
    await this.credentials.load(accessKeyId);
    if (this.secretOf(accessKeyId, 'json') === undefined) throw commonErrors.unknownAccessKey('json');
    const service = this.byName.get(serviceName);
    const op = service?.model.operations[operation];
    const handler = service?.handlers[operation];
    if (!service || !op || !handler) throw commonErrors.unknownOperation('json', `${serviceName}.${operation}`.slice(0, 200));
    const principal: Principal = this.credentials.cached(accessKeyId)!.principal;
    const ctx: RequestContext = { requestId: randomUUID(), region, principal, platform: this.platform, signal, endpoint };
    const decoded = service.model.decodeJsonInput(operation, input ?? {}, service.validationErrorCodes?.[operation] ?? service.validationErrorCode, service.constraintErrors?.[operation]);
    try {
      // The same authorization as a signed request.
      await authorizeRequest(this.access, service, operation, decoded, ctx);
      const out = await handler(decoded, ctx);
      return (op.output ? service.model.encodeJson(op.output.shape, out ?? {}) : {}) as Record<string, unknown>;
    } catch (e) {
      throw this.asServiceError(e);
    }
  }

  /** Who a request claims to come from, for the request log: `root` for the root credentials. */
  principalOf(admission: Admission): string {
    const p = this.credentials.cached(admission.claim.accessKeyId)?.principal;
    return p?.kind === 'root' ? 'root' : (p?.arn ?? admission.claim.accessKeyId).slice(0, 256);
  }

  /** The answer for a body larger than the admission allows (413, in the protocol's shape). */
  tooLarge(req: IncomingMessage, admission: Admission): HttpReply {
    const err = commonErrors.tooLarge(admission.bodyLimit);
    const reply = this.errorReply(err, admission.protocol, admission.requestId, admission.service);
    this.recordCall(req, admission, reply, err.message, []);
    return reply;
  }

  private signedPart(req: IncomingMessage) {
    return { method: req.method ?? 'GET', rawUrl: req.url ?? '/', headers: req.headers };
  }

  /** The secret of a loaded access key; an inactive key or an expired session throws its error. */
  private secretOf(accessKeyId: string, protocol: WireProtocol = 'query'): string | undefined {
    const k = this.credentials.cached(accessKeyId);
    if (!k) return undefined;
    if (k.refused) {
      // JSON and CBOR services name these errors as their own exceptions.
      const asJson: Record<string, string> = { ExpiredToken: 'ExpiredTokenException', InvalidClientTokenId: 'UnrecognizedClientException' };
      const code = jsonFamily(protocol) ? (asJson[k.refused.code] ?? k.refused.code) : k.refused.code;
      throw new ServiceError(code, k.refused.message, k.refused.status);
    }
    return k.secret;
  }

  /** awsJson and Smithy RPC v2 CBOR: the same model walk, two encodings of the body. */
  private async handleJson(service: ServiceDefinition, opName: string, body: Buffer, ctx: RequestContext, wire: 'json' | 'cbor', note: AuthorizationNote): Promise<HttpReply> {
    const op = service.model.operations[opName];
    if (!op) throw commonErrors.unknownOperation(wire, opName.slice(0, 200));
    let parsed: unknown;
    if (wire === 'cbor') {
      parsed = decodeCborBody(body);
    } else {
      try {
        parsed = body.length ? JSON.parse(body.toString('utf8')) : {};
      } catch {
        throw commonErrors.serialization('The request body is not valid JSON.');
      }
    }
    const input = service.model.decodeJsonInput(opName, parsed, service.validationErrorCodes?.[opName] ?? service.validationErrorCode, service.constraintErrors?.[opName], wire);
    const handler = service.handlers[opName];
    if (!handler) throw commonErrors.notImplemented(service.model.metadata.serviceId, opName);
    await authorizeRequest(this.access, service, opName, input, ctx, note);
    const out = await handler(input, ctx);
    if (wire === 'cbor') {
      const encoded = op.output ? service.model.encodeJson(op.output.shape, out ?? {}, CBOR_SCALARS) : {};
      return { status: 200, headers: { 'content-type': CBOR_CONTENT, [CBOR_PROTOCOL_HEADER]: CBOR_PROTOCOL_VALUE, 'x-amzn-requestid': ctx.requestId }, body: encodeCborBody(encoded) };
    }
    const encoded = op.output ? service.model.encodeJson(op.output.shape, out ?? {}) : {};
    return { status: 200, headers: { 'content-type': jsonContentOf(service), 'x-amzn-requestid': ctx.requestId }, body: JSON.stringify(encoded) };
  }

  private async handleQuery(req: IncomingMessage, service: ServiceDefinition, body: Buffer, ctx: RequestContext, admission: Admission, note: AuthorizationNote): Promise<HttpReply> {
    const formText = req.method === 'GET' ? (req.url ?? '').split('?')[1] ?? '' : body.toString('utf8');
    const { params, tree } = parseForm(formText);
    const action = params.get('Action');
    if (!action) throw new ServiceError('MissingAction', 'The request must contain the parameter Action.');
    admission.operation = action.slice(0, 100); // for the request log
    const op = service.model.operations[action];
    if (!op && service.model.unservedOperations.has(action)) throw commonErrors.unservedOperation(service.model.metadata.serviceId, action, service.servedPart ?? 'the operations its model lists');
    if (!op) throw commonErrors.unknownOperation(service.protocol, action.slice(0, 200));
    const version = params.get('Version');
    if (version && version !== service.model.metadata.apiVersion) {
      throw new ServiceError('InvalidAction', `Version ${version.slice(0, 40)} is not supported; this service speaks ${service.model.metadata.apiVersion}.`);
    }
    const ec2 = service.protocol === 'ec2';
    const decode = ec2 ? decodeEc2Input : decodeQueryInput;
    const input = decode(service.model, action, tree, service.validationErrorCodes?.[action] ?? service.validationErrorCode, service.constraintErrors?.[action]);
    const handler = service.handlers[action];
    if (!handler) throw commonErrors.notImplemented(service.model.metadata.serviceId, action);
    await authorizeRequest(this.access, service, action, input, ctx, note);
    const out = await handler(input, ctx);
    return {
      status: 200,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': ctx.requestId },
      body: (ec2 ? encodeEc2Response : encodeQueryResponse)(service.model, action, out, ctx.requestId),
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
        // A service that was awsQuery first (CloudWatch) names the error by its shape on JSON
        // and CBOR, and sends the query code in x-amzn-query-error, which clients then report.
        const queryCompatible = service?.model.metadata.awsQueryCompatible !== undefined && (shape === 'json' || shape === 'cbor');
        const type = queryCompatible ? (service!.model.errorShapeOfCode(err.code) ?? err.code) : err.code;
        const body: Record<string, unknown> = { __type: type, message: err.message, ...err.extra };
        const headers: Record<string, string> = { 'x-amzn-requestid': requestId, 'x-amzn-errortype': type };
        if (queryCompatible) headers['x-amzn-query-error'] = `${err.code};${err.status >= 500 ? 'Receiver' : 'Sender'}`;
        if (shape === 'cbor') {
          return { errorCode: err.code, status: err.status, headers: { ...headers, 'content-type': CBOR_CONTENT, [CBOR_PROTOCOL_HEADER]: CBOR_PROTOCOL_VALUE }, body: encodeCborBody(body) };
        }
        return {
          errorCode: err.code,
          status: err.status,
          headers: { ...headers, 'content-type': shape === 'rest-json' ? 'application/json' : shape === 'json' ? jsonContentOf(service) : JSON_CONTENT },
          body: JSON.stringify(body),
        };
      }
    }
  }
}

/** CBOR's scalars: timestamps as tag 1 over epoch seconds, blobs as byte strings. */
const CBOR_SCALARS: ScalarEncoding = { timestamp: cborTimestamp, blob: (b) => b };

/** Whether a service answers on a wire protocol: its main one, or one of the others its model lists. */
function speaks(s: ServiceDefinition, p: WireProtocol): boolean {
  return s.protocol === p || (s.alsoSpeaks?.includes(p) ?? false);
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

/** The message of an error answer, read back from its body (JSON `message`, XML `<Message>`), for the audit record. */
function errorMessageOf(reply: HttpReply): string | undefined {
  if (typeof reply.body !== 'string') return undefined;
  const m = /"message"\s*:\s*"((?:[^"\\]|\\.){0,1024})"/.exec(reply.body) ?? /<Message>([^<]{0,1024})<\/Message>/.exec(reply.body);
  return m?.[1];
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

/** The access key id a request's signature claims (header or presigned query), if any. */
function claimedAccessKey(req: IncomingMessage): string | undefined {
  const auth = String(req.headers.authorization ?? '').slice(0, 1024);
  const fromHeader = /Credential=([^/,\s]{1,128})\//.exec(auth)?.[1];
  if (fromHeader) return fromHeader;
  const q = /[?&]X-Amz-Credential=([^&%/]{1,128})(?:%2F|\/)/i.exec((req.url ?? '').slice(0, 8192));
  return q?.[1];
}

/** The caller's address, without the IPv4-mapped IPv6 prefix (`::ffff:127.0.0.1` is `127.0.0.1`). */
function sourceIpOf(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/** Whether a request carries a SigV4 signature (an Authorization header, or a presigned query). */
function isSigV4Signed(req: IncomingMessage): boolean {
  return String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ') || /[?&]X-Amz-Credential=/.test(req.url ?? '');
}

/** The credential-scope service names a service answers to: its query signing names, else its model's signing name. */
function signingNamesOf(s: ServiceDefinition): string[] {
  return s.signingNames.length ? s.signingNames : [s.model.metadata.signingName ?? s.model.metadata.endpointPrefix];
}
