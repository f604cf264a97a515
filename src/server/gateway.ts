/**
 * The AWS front door: picks the service and wire protocol of a request, verifies its SigV4
 * signature, decodes and validates the input against the model, calls the handler, and
 * renders the result or error in the protocol's shape. The only place that turns HTTP into
 * typed handler calls and errors into HTTP.
 */
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { ServiceError, contentionError } from '../errors.js';
import { commonErrors, type WireProtocol } from '../protocol/errors.js';
import { verifySigV4 } from '../protocol/sigv4.js';
import { decodeQueryInput, encodeQueryError, encodeQueryResponse, parseForm } from '../protocol/awsQuery.js';
import type { Platform } from '../domain/platform.js';
import type { Principal, RequestContext, ServiceDefinition } from '../services/types.js';
import type { RootCredentials } from '../config/credentials.js';
import { ConflictError } from '../store/types.js';

/** A fully formed HTTP answer. */
export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_CONTENT = 'application/x-amz-json-1.1';

export class AwsGateway {
  private readonly byTarget = new Map<string, ServiceDefinition>();
  private readonly bySigningName = new Map<string, ServiceDefinition>();

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
    }
  }

  /** Whether a request is addressed to the AWS APIs (rather than the registry or operator endpoints). */
  static isAwsRequest(req: IncomingMessage): boolean {
    if (req.headers['x-amz-target']) return true;
    const ct = String(req.headers['content-type'] ?? '');
    return (req.url === '/' || req.url?.startsWith('/?')) === true && (req.method === 'POST' || /[?&]Action=/.test(req.url ?? '') || ct.length > 0);
  }

  async handle(req: IncomingMessage, body: Buffer): Promise<HttpReply> {
    const requestId = randomUUID();
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string') return this.handleJson(req, body, target, requestId);
    const ct = String(req.headers['content-type'] ?? '').toLowerCase();
    const isForm = ct.startsWith('application/x-www-form-urlencoded');
    if (isForm || (req.method === 'GET' && /[?&]Action=/.test(req.url ?? ''))) return this.handleQuery(req, body, requestId);
    if (ct.includes('json')) {
      return this.jsonError(new ServiceError('UnknownOperationException', 'Missing X-Amz-Target header: JSON requests name their operation there, e.g. AmazonEC2ContainerServiceV20141113.ListClusters.'), requestId);
    }
    return this.jsonError(commonErrors.unsupportedMediaType(ct || '(none)'), requestId);
  }

  private authenticate(req: IncomingMessage, body: Buffer, protocol: WireProtocol) {
    const identity = verifySigV4(
      { method: req.method ?? 'GET', rawUrl: req.url ?? '/', headers: req.headers, body },
      protocol,
      (id) => (id === this.credentials.accessKeyId ? this.credentials.secretAccessKey : undefined),
      this.platform.clock.now(),
    );
    const principal: Principal = {
      accessKeyId: identity.accessKeyId,
      arn: `arn:aws:iam::${this.platform.accountId}:root`,
      userId: this.platform.accountId,
    };
    return { identity, principal };
  }

  private context(requestId: string, region: string, principal: Principal): RequestContext {
    return { requestId, region, principal, platform: this.platform, signal: this.shutdown };
  }

  private async handleJson(req: IncomingMessage, body: Buffer, target: string, requestId: string): Promise<HttpReply> {
    try {
      const dot = target.lastIndexOf('.');
      const service = this.byTarget.get(target.slice(0, dot));
      const opName = target.slice(dot + 1);
      if (dot < 0 || !service) throw commonErrors.unknownOperation('json', target);
      const ct = String(req.headers['content-type'] ?? '');
      if (!/json/i.test(ct)) throw commonErrors.unsupportedMediaType(ct || '(none)');
      const { identity, principal } = this.authenticate(req, body, 'json');
      const op = service.model.operations[opName];
      if (!op) throw commonErrors.unknownOperation('json', opName);
      let parsed: unknown;
      try {
        parsed = body.length ? JSON.parse(body.toString('utf8')) : {};
      } catch {
        throw commonErrors.serialization('The request body is not valid JSON.');
      }
      const input = service.model.decodeJsonInput(opName, parsed, service.validationErrorCodes?.[opName] ?? service.validationErrorCode);
      const handler = service.handlers[opName];
      if (!handler) throw commonErrors.notImplemented(service.model.metadata.serviceId, opName);
      const out = await handler(input, this.context(requestId, identity.region, principal));
      const encoded = op.output ? service.model.encodeJson(op.output.shape, out ?? {}) : {};
      return { status: 200, headers: { 'content-type': JSON_CONTENT, 'x-amzn-requestid': requestId }, body: JSON.stringify(encoded) };
    } catch (e) {
      return this.jsonError(this.asServiceError(e), requestId);
    }
  }

  private async handleQuery(req: IncomingMessage, body: Buffer, requestId: string): Promise<HttpReply> {
    let service: ServiceDefinition | undefined;
    try {
      service = this.bySigningName.get(signingNameOf(req) ?? '');
      const { identity, principal } = this.authenticate(req, body, 'query');
      service ??= this.bySigningName.get(identity.service);
      const formText = req.method === 'GET' ? (req.url ?? '').split('?')[1] ?? '' : body.toString('utf8');
      const { params, tree } = parseForm(formText);
      const action = params.get('Action');
      if (!service) throw commonErrors.unknownOperation('query', action ?? '(none)');
      if (!action) throw new ServiceError('MissingAction', 'The request must contain the parameter Action.');
      const op = service.model.operations[action];
      if (!op) throw commonErrors.unknownOperation('query', action);
      const version = params.get('Version');
      if (version && version !== service.model.metadata.apiVersion) {
        throw new ServiceError('InvalidAction', `Version ${version} is not supported; this service speaks ${service.model.metadata.apiVersion}.`);
      }
      const input = decodeQueryInput(service.model, action, tree, service.validationErrorCodes?.[action] ?? service.validationErrorCode);
      const handler = service.handlers[action];
      if (!handler) throw commonErrors.notImplemented(service.model.metadata.serviceId, action);
      const out = await handler(input, this.context(requestId, identity.region, principal));
      return {
        status: 200,
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
        body: encodeQueryResponse(service.model, action, out, requestId),
      };
    } catch (e) {
      const err = this.asServiceError(e);
      return {
        status: err.status,
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
        body: encodeQueryError(err, requestId, service?.model.metadata.xmlNamespace),
      };
    }
  }

  private asServiceError(e: unknown): ServiceError {
    if (e instanceof ServiceError) return e;
    // A handler that lost an optimistic-concurrency race more often than it retries: nothing of
    // that commit was written; the caller may simply try again.
    if (e instanceof ConflictError) return contentionError('The resource');
    this.onInternalError(e);
    return commonErrors.internal();
  }

  private jsonError(err: ServiceError, requestId: string): HttpReply {
    const body: Record<string, unknown> = { __type: err.code, message: err.message, ...err.extra };
    return {
      status: err.status,
      headers: { 'content-type': JSON_CONTENT, 'x-amzn-requestid': requestId, 'x-amzn-errortype': err.code },
      body: JSON.stringify(body),
    };
  }
}

/** The credential scope's service name, read (not verified) to choose the service. */
function signingNameOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  const m = auth ? /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(auth) : /X-Amz-Credential=[^&]*?%2F\d{8}%2F[^%]+%2F([^%]+)%2F/.exec(req.url ?? '');
  return m?.[1];
}
