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
 * The only place that turns HTTP into typed handler calls and errors into HTTP. Step 1 is
 * ./admission.ts (with the access-key checks), the rendering of answers and errors
 * ./replies.ts, what is read off the headers ./requestHeaders.ts; this file dispatches step 2,
 * records each call for the audit log, and serves in-process calls (`callAs`, the console) and
 * the operator endpoints' authentication.
 */
import type { IncomingMessage } from 'node:http';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { ServiceError } from '../errors.js';
import { commonErrors } from '../protocol/errors.js';
import { checkSignatureClaim, readSignature, verifySignature } from '../protocol/sigv4.js';
import { CBOR_CONTENT, CBOR_PROTOCOL_HEADER, CBOR_PROTOCOL_VALUE, decodeCborBody, encodeCborBody } from '../protocol/cbor.js';
import { decodeQueryInput, encodeQueryResponse, parseForm } from '../protocol/awsQuery.js';
import { decodeEc2Input, encodeEc2Response } from '../protocol/ec2.js';
import type { Platform } from '../domain/platform.js';
import type { Principal, RequestContext, ServiceDefinition } from '../services/types.js';
import type { CredentialDirectory } from '../domain/iam/credentials.js';
import { authorizeRequest, type AccessGate, type AuthorizationNote } from './authorization.js';
import type { AuditEntry } from '../domain/cloudtrail/auditLog.js';
import { RequestAdmitter, type Admission } from './admission.js';
import { asServiceError, CBOR_SCALARS, errorMessageOf, errorReply, jsonContentOf, type HttpReply } from './replies.js';
import { claimedAccessKey, endpointOf, isSigV4Signed, signedPart, sourceIpOf } from './requestHeaders.js';

/** Where the gateway reports each answered call (the audit log); must not block. */
export type AuditSink = (entry: AuditEntry) => void;

/** The gateway of one Berth process: admits (./admission.ts), handles and audits every AWS API request. */
export class AwsGateway {
  /** Step 1 (headers only) and the access-key checks. */
  private readonly admitter: RequestAdmitter;
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
    for (const s of services) this.byName.set(s.name, s);
    this.admitter = new RequestAdmitter(services, platform, credentials, onInternalError);
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
    const answer = this.admitter.admit(req);
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
      const byTarget = typeof target === 'string' && dot > 0 ? this.admitter.byTarget.get(target.slice(0, dot)) : undefined;
      const scope = /Credential=[^/,\s]{1,128}\/\d{8}\/([^/,\s]{1,64})\/([^/,\s]{1,64})\//.exec(String(req.headers.authorization ?? '').slice(0, 1024));
      const service = byTarget ?? (scope ? this.admitter.bySigningName.get(scope[2]!) : undefined);
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

  /** Step 2: the whole request, once its body (within the admission's limit) is in. */
  async handle(req: IncomingMessage, body: Buffer, admission: Admission): Promise<HttpReply> {
    const { requestId, service, protocol } = admission;
    const note: AuthorizationNote = {};
    let reply: HttpReply;
    let errorMessage: string | undefined;
    try {
      const identity = verifySignature(admission.claim, { ...signedPart(req), body }, protocol, admission.secret);
      // The principal resolved at admission, for the key the signature was verified with.
      const principal: Principal = admission.principal;
      if (identity.accessKeyId !== principal.accessKeyId) throw commonErrors.unknownAccessKey(protocol);
      const ctx: RequestContext = { requestId, region: identity.region, principal, platform: this.platform, signal: this.shutdown, endpoint: endpointOf(req), sourceIp: sourceIpOf(req), secureTransport: req.headers['x-forwarded-proto'] === 'https' };
      if (protocol === 'query' || protocol === 'ec2') reply = await this.handleQuery(req, service, body, ctx, admission, note);
      else reply = await this.handleJson(service, admission.operation!, body, ctx, protocol, note);
    } catch (e) {
      const err = asServiceError(e, this.onInternalError);
      errorMessage = err.message;
      reply = errorReply(err, protocol, requestId, service);
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
    const claim = readSignature(signedPart(req), 'json');
    const secret = checkSignatureClaim(claim, signedPart(req), 'json', { services: ['berth'], mustSign: ['content-type'], presignedAllowed: false }, (id) => this.admitter.secretOf(id), this.platform.clock.now());
    const identity = verifySignature(claim, { ...signedPart(req), body }, 'json', secret);
    const principal = this.admitter.checkSessionToken(req, claim, 'json');
    if (opts.rootOnly && principal.kind !== 'root') throw new ServiceError('AccessDenied', 'Only the root user may call this operator endpoint.', 403);
    return { accessKeyId: identity.accessKeyId, region: identity.region };
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
    if (this.admitter.secretOf(accessKeyId, 'json') === undefined) throw commonErrors.unknownAccessKey('json');
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
      throw asServiceError(e, this.onInternalError);
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
    const reply = errorReply(err, admission.protocol, admission.requestId, admission.service);
    this.recordCall(req, admission, reply, err.message, []);
    return reply;
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
}
