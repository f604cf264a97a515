/**
 * Whose permissions CloudFormation acts with: the stack's operator (a session of its service role,
 * or the caller) for the stack worker's resource calls, and the caller for SSM parameter types.
 */
import type { RequestContext } from '../types.js';
import type { ServiceInvoker } from '../../domain/invoker.js';
import type { Authorizer } from '../../domain/iam/authorizer.js';
import type { CallerPrincipal } from '../../domain/iam/credentials.js';
import { roleByArn, roleSessionPrincipal, trustsService } from '../../domain/iam/serviceRoles.js';
import { cfnErrors } from '../../domain/cloudformation/errors.js';

/** The service principal a stack's service role (RoleARN) must trust. */
export const CLOUDFORMATION_SERVICE_PRINCIPAL = 'cloudformation.amazonaws.com';

/** The caller to make in-process calls as: undefined for root (whose calls need no check). */
export function callerOf(ctx: RequestContext): CallerPrincipal | undefined {
  return ctx.principal.kind === 'root' ? undefined : ctx.principal;
}

/**
 * Whom an operation's resource calls are made as (StackRecord.operator): a session of the
 * service role when there is one (it must trust cloudformation.amazonaws.com; passing it needs
 * iam:PassRole, checked by the gateway), else the caller.
 */
export async function operatorOf(ctx: RequestContext, authorizer: Authorizer, roleArn: string | undefined): Promise<CallerPrincipal | undefined> {
  if (roleArn === undefined) return callerOf(ctx);
  const role = await roleByArn(ctx, roleArn);
  if (!role || !trustsService(ctx, authorizer, role, CLOUDFORMATION_SERVICE_PRINCIPAL)) {
    throw cfnErrors.validation(`Role ${roleArn.slice(0, 2048)} is invalid or cannot be assumed (it must be a role of this account whose trust policy allows ${CLOUDFORMATION_SERVICE_PRINCIPAL})`);
  }
  return roleSessionPrincipal(ctx, role, 'AWSCloudFormation');
}

/** SSM lookups for `AWS::SSM::Parameter::Value<...>` parameters, through the SSM API, as the caller. */
export function ssmLookup(invoker: ServiceInvoker, ctx: RequestContext) {
  return async (names: string[]): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    for (let i = 0; i < names.length; i += 10) {
      const r = await invoker.call<{ Parameters?: Array<{ Name?: string; Value?: string }> }>(ctx, 'ssm', 'GetParameters', { Names: names.slice(i, i + 10) }, callerOf(ctx));
      for (const p of r.Parameters ?? []) if (p.Name !== undefined && p.Value !== undefined) out.set(p.Name, p.Value);
    }
    return out;
  };
}
