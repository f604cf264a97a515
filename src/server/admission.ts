/**
 * Step 1 of the AWS front door (./gateway.ts), on the headers alone: which served API and wire
 * protocol a request is for (awsJson by X-Amz-Target, Smithy RPC v2 CBOR by path, awsQuery/EC2
 * by credential scope), the SigV4 checks that need no body (known access key, time, scope,
 * signed headers, session token), and how large a body the operation may send. Requests for an
 * API Berth does not provide are answered here in that API's error shape.
 */
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { ServiceError } from '../errors.js';
import { commonErrors, jsonFamily, type WireProtocol } from '../protocol/errors.js';
import { checkSignatureClaim, readSignature, type SignatureClaim } from '../protocol/sigv4.js';
import { CBOR_CONTENT, CBOR_PROTOCOL_HEADER, CBOR_PROTOCOL_VALUE, parseCborPath } from '../protocol/cbor.js';
import type { Platform } from '../domain/platform.js';
import type { Principal, ServiceDefinition } from '../services/types.js';
import { tokenMatches, type CredentialDirectory } from '../domain/iam/credentials.js';
import { asServiceError, errorReply, type HttpReply } from './replies.js';
import { isSigV4Signed, signedPart } from './requestHeaders.js';
import { errorShapeOf, isKnownUnservedTarget, unsupportedService, type ErrorShape, type UnservedRequest } from './unserved.js';

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

/** Admits requests for a set of served APIs; also the gateway's access-key checks (secret, session token). */
export class RequestAdmitter {
  /** The served APIs by their awsJson target prefix (and a dotted prefix's last part), which CBOR paths also name. */
  readonly byTarget = new Map<string, ServiceDefinition>();
  /** The query/EC2 APIs by the credential-scope service they are signed for. */
  readonly bySigningName = new Map<string, ServiceDefinition>();
  /** Every credential-scope service some served API answers to (query signing names and JSON models' signing names). */
  private readonly servedScopes = new Set<string>();
  /** The APIs this endpoint serves, by name, for the answer to one it does not. */
  private readonly servedNames: string[];

  constructor(
    services: ServiceDefinition[],
    private readonly platform: Platform,
    /** Whose access keys are which (root, IAM users, STS sessions): src/domain/iam/credentials.ts. */
    private readonly credentials: CredentialDirectory,
    private readonly onInternalError: (err: unknown) => void,
  ) {
    for (const s of services) {
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
   * The admission of a request whose claimed access key is loaded (or is unknown), or the
   * answer that refuses it, in the shape of the protocol it was sent in.
   */
  admit(req: IncomingMessage): Admission | HttpReply {
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
      if (rest) return errorReply(rest.error, rest.shape, requestId, undefined);
      if (ct.includes('json')) {
        throw new ServiceError('UnknownOperationException', 'Missing X-Amz-Target header: JSON requests name their operation there, e.g. AmazonEC2ContainerServiceV20141113.ListClusters.');
      }
      throw commonErrors.unsupportedMediaType(ct || '(none)');
    } catch (e) {
      if (e instanceof UnservedAnswer) return errorReply(e.error, e.shape, requestId, undefined);
      return errorReply(asServiceError(e, this.onInternalError), protocol === 'query' ? this.formProtocolOf(req) : protocol, requestId, undefined);
    }
  }

  /**
   * The protocol a form request's errors are spelled in before it is admitted: EC2's when its
   * signature (if readable) is scoped to a service speaking it, awsQuery's otherwise.
   */
  private formProtocolOf(req: IncomingMessage): WireProtocol {
    try {
      return this.bySigningName.get(readSignature(signedPart(req), 'query').service)?.protocol === 'ec2' ? 'ec2' : 'query';
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
      const claim = readSignature(signedPart(req), protocol);
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
    const claim = readSignature(signedPart(req), 'json');
    const secret = checkSignatureClaim(
      claim,
      signedPart(req),
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
    const claim = readSignature(signedPart(req), 'cbor');
    const secret = checkSignatureClaim(
      claim,
      signedPart(req),
      'cbor',
      { services: signingNamesOf(service), mustSign: [CBOR_PROTOCOL_HEADER], presignedAllowed: false },
      (id) => this.secretOf(id, 'cbor'),
      this.platform.clock.now(),
    );
    const principal = this.checkSessionToken(req, claim, 'cbor');
    return { requestId, service, protocol: 'cbor', operation: path.operation, claim, secret, principal, bodyLimit: service.bodyLimits?.[path.operation] ?? DEFAULT_BODY_LIMIT, arrived: this.platform.clock.now() };
  }

  private admitQuery(req: IncomingMessage, isForm: boolean, requestId: string): Admission {
    const claim = readSignature(signedPart(req), 'query');
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
      signedPart(req),
      'query',
      { services: signingNamesOf(service), mustSign: ['content-type'], presignedAllowed },
      (id) => this.secretOf(id, 'query'),
      this.platform.clock.now(),
    );
    const principal = this.checkSessionToken(req, claim, service.protocol === 'ec2' ? 'ec2' : 'query');
    return { requestId, service, protocol: service.protocol === 'ec2' ? 'ec2' : 'query', claim, secret, principal, bodyLimit: DEFAULT_BODY_LIMIT, arrived: this.platform.clock.now() };
  }

  /** The secret of a loaded access key (undefined when unknown); an inactive key or an expired session throws its error. */
  secretOf(accessKeyId: string, protocol: WireProtocol = 'query'): string | undefined {
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

  /**
   * A request made with session credentials must carry their token (`X-Amz-Security-Token`,
   * header or presigned query), and a request with long-term keys must not carry one. Returns the key's principal.
   */
  checkSessionToken(req: IncomingMessage, claim: SignatureClaim, protocol: WireProtocol): Principal {
    const known = this.credentials.cached(claim.accessKeyId);
    const header = req.headers['x-amz-security-token'];
    const presented = typeof header === 'string' ? header : claim.signedQuery.find(([k]) => k === 'X-Amz-Security-Token')?.[1];
    if (!known || !tokenMatches(known, presented)) throw new ServiceError(jsonFamily(protocol) ? 'UnrecognizedClientException' : 'InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
    return known.principal;
  }
}

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

/** The credential-scope service names a service answers to: its query signing names, else its model's signing name. */
function signingNamesOf(s: ServiceDefinition): string[] {
  return s.signingNames.length ? s.signingNames : [s.model.metadata.signingName ?? s.model.metadata.endpointPrefix];
}
