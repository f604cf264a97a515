/**
 * The port through which Berth calls its own public API operations in process, as a client of
 * the API would (CloudFormation's resource providers, its SSM parameter types): by service and
 * operation name, through the same model validation and handlers as a request, never the
 * tables. The composition root fills it in (src/server/invoker.ts implements it).
 */
import type { Scope } from './platform.js';
import type { CallerPrincipal } from './iam/credentials.js';

export interface ServiceInvoker {
  /**
   * Calls `operation` of `service` (a name of the service registry: ecs, elbv2, logs, ssm...)
   * as the account's root, in `scope`'s region. The input may use CloudFormation's property
   * names: members are matched to the model case-insensitively (`ContainerDefinitions` →
   * `containerDefinitions`) and scalars converted to the model's types (`"80"` → 80); then it
   * is validated as a request would be. Errors are the operation's `ServiceError`s. With `as`,
   * the call is made as that principal and authorized by IAM exactly as a signed request
   * would be (the web console calls as the signed-in user).
   */
  call<T = Record<string, unknown>>(scope: Scope, service: string, operation: string, input: Record<string, unknown>, as?: CallerPrincipal): Promise<T>;
}
