/**
 * What an API service is: an AWS API model, the wire protocol it speaks, and typed handlers
 * keyed by operation name. Handlers take decoded, validated input and a request context, call
 * the domain (src/domain/), and return the operation's output or throw a `ServiceError`.
 *
 * Handlers never see HTTP and never start anything: background work (controllers, data planes,
 * sweeps) is started by the composition root (src/berth.ts), which also hands each service the
 * typed ports it needs (its factory's parameters) instead of a shared bag of hooks.
 */
import type { ServiceModel } from '../protocol/model.js';
import type { SpecialErrors } from '../protocol/modelValidation.js';
import type { WireProtocol } from '../protocol/errors.js';
import type { Scope } from '../domain/platform.js';
import type { CallerPrincipal } from '../domain/iam/credentials.js';

/** The authenticated caller: root, an IAM user, or a role session (src/domain/iam/credentials.ts). */
export type Principal = CallerPrincipal;

/**
 * Per-request context passed to every handler. It is a domain `Scope` (platform + the region the
 * request was signed for), so handlers pass it straight to domain operations.
 */
export interface RequestContext extends Scope {
  requestId: string;
  principal: Principal;
  /** Aborted when Berth begins shutting down: long-running handlers (long polls) end early. */
  signal: AbortSignal;
  /**
   * The URL (scheme, host and port) this request reached Berth at, from its signed Host header:
   * what ECS's DiscoverPollEndpoint answers, so an agent polls the endpoint it already reached.
   */
  endpoint: string;
  /** The caller's IP address (`aws:SourceIp`). */
  sourceIp?: string;
  /** Whether the request came over TLS (`aws:SecureTransport`). */
  secureTransport?: boolean;
}

/** A handler for operation K of an `Operations` map generated from a model. */
export type Handler<I, O> = (input: I, ctx: RequestContext) => Promise<O>;

/** Handlers for (some of) a service's operations, typed by its generated `Operations` map. */
export type Handlers<Ops> = {
  [K in keyof Ops]?: Ops[K] extends { input: infer I; output: infer O } ? Handler<I, O> : never;
};

export interface ServiceDefinition {
  /** Short name, also the folder under src/services/. */
  name: string;
  model: ServiceModel;
  protocol: WireProtocol;
  /** Other wire protocols it answers on (CloudWatch: awsJson 1.0 and awsQuery beside CBOR). */
  alsoSpeaks?: WireProtocol[];
  /** Credential-scope service names that select this service for query requests. */
  signingNames: string[];
  /**
   * For an API Berth serves in part (its model trimmed, see scripts/extract-models.py): what it
   * serves, in words, for the answer to an operation it leaves out.
   */
  servedPart?: string;
  /** Error code for constraint violations (AWS differs per service). */
  validationErrorCode: string;
  /** Per-operation exceptions to `validationErrorCode`. */
  validationErrorCodes?: Record<string, string>;
  /**
   * Per operation, the input members (by model path, see `SpecialErrors`) whose failed constraints AWS answers with
   * the service's own error (one the operation's model lists) rather than the generic
   * validation error: e.g. SSM's `InvalidResourceType` for a `ResourceType` outside the enum.
   */
  constraintErrors?: Record<string, SpecialErrors>;
  /**
   * Per-operation caps on the request body in bytes (AWS's own limits), above the gateway's
   * default of 1 MiB or below it; a larger body is refused with 413 before it is read.
   */
  bodyLimits?: Record<string, number>;
  // The registry is heterogeneous; each service's own module keeps its handlers fully typed.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handlers: Record<string, Handler<any, any> | undefined>;
}
