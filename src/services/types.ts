/**
 * What a service provider is: an API model, the wire protocol it speaks, and typed handlers
 * keyed by operation name. Handlers take decoded, validated input and a request context, and
 * return the operation's output or throw a `ServiceError`; they never see HTTP.
 */
import type { Clock } from '../clock.js';
import type { ServiceModel } from '../protocol/model.js';
import type { WireProtocol } from '../protocol/errors.js';
import type { Store } from '../store/types.js';
import type { OperatorRoute } from '../server/http.js';

/** Everything process-wide that handlers may use. One per running Berth. */
export interface Platform {
  store: Store;
  clock: Clock;
  /** The 12-digit account id that appears in every ARN. */
  accountId: string;
  /** The region used when a caller names none (agents, the CLI). */
  defaultRegion: string;
  /** Directory of the persistent state (a temp dir with --ephemeral). */
  dataDir: string;
  /** Aborted when Berth begins shutting down: long-running handlers (long polls) end early. */
  shutdown: AbortSignal;
  /** Late-bound hooks between services (e.g. ECS asks the load balancer about target groups). */
  hooks: PlatformHooks;
}

/** Extension points filled in by the services that provide them. */
export interface PlatformHooks {
  [name: string]: unknown;
}

/** The authenticated caller. */
export interface Principal {
  accessKeyId: string;
  arn: string;
  userId: string;
}

/** Per-request context passed to every handler. */
export interface RequestContext {
  requestId: string;
  region: string;
  principal: Principal;
  platform: Platform;
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
  /** Credential-scope service names that select this service for query requests. */
  signingNames: string[];
  /** Error code for constraint violations (AWS differs per service). */
  validationErrorCode: string;
  /** Per-operation exceptions to `validationErrorCode`. */
  validationErrorCodes?: Record<string, string>;
  // The registry is heterogeneous; each service's own module keeps its handlers fully typed.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handlers: Record<string, Handler<any, any> | undefined>;
  /**
   * Background work the service runs while Berth is up (data planes, sweeps, controllers).
   * Called once after the store is open; `stop` is awaited at shutdown.
   */
  start?(platform: Platform): Promise<ServiceRuntime | void>;
  /**
   * Wipes state the service keeps outside the store (e.g. logs.db) when an ephemeral Berth is
   * reset (`POST /_berth/reset`); called after the store itself was reset.
   */
  reset?(platform: Platform): Promise<void>;
  /** HTTP routes outside the AWS namespace (e.g. `/_berth/metrics`, `/v2/`), tried in order. */
  routes?(platform: Platform): OperatorRoute[];
}

/** A started service's handle for shutdown. */
export interface ServiceRuntime {
  stop(): Promise<void>;
}
