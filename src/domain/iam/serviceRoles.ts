/**
 * A service acting with a role on a caller's behalf (CloudFormation's service role, `RoleARN`):
 * the role of this account an ARN names, whether its trust policy lets the service assume it,
 * and the principal the service then acts as: a session of the role, for which no keys are
 * issued (the service calls Berth's API in process as that principal, authorized by IAM).
 */
import type { Scope } from '../platform.js';
import type { Authorizer } from './authorizer.js';
import type { CallerPrincipal } from './credentials.js';
import { getRole } from './identities.js';
import { evaluate } from './policy/evaluate.js';
import type { RoleRecord } from './records.js';

/** Longest role ARN looked at (IAM's ARN limit). */
const MAX_ARN = 2048;

/** The role of this account `arn` names (with its path), or undefined. */
export async function roleByArn(s: Scope, arn: string): Promise<RoleRecord | undefined> {
  if (arn.length > MAX_ARN) return undefined;
  const prefix = `arn:aws:iam::${s.platform.accountId}:role/`;
  if (!arn.startsWith(prefix)) return undefined;
  const name = arn.slice(arn.lastIndexOf('/') + 1);
  const role = await getRole(s, name).catch(() => undefined);
  return role?.arn === arn ? role : undefined;
}

/** Whether `role`'s trust policy lets the service principal `service` (e.g. cloudformation.amazonaws.com) assume it now. */
export function trustsService(s: Scope, authorizer: Authorizer, role: RoleRecord, service: string): boolean {
  const request = {
    principal: { arn: service, accountId: '', service },
    action: 'sts:AssumeRole',
    resource: role.arn,
    keys: new Map([['aws:currenttime', [new Date(s.platform.clock.now()).toISOString()]]]),
  };
  return evaluate(request, { identity: [], resource: authorizer.compile(role.trustPolicy, 'trust') }).allowed;
}

/** The principal of a service's session of `role` named `sessionName` (no keys; `accessKeyId` only names it for caches). */
export function roleSessionPrincipal(s: Scope, role: RoleRecord, sessionName: string): CallerPrincipal {
  const acct = s.platform.accountId;
  return {
    kind: 'assumed-role',
    arn: `arn:aws:sts::${acct}:assumed-role/${role.name}/${sessionName}`,
    accountId: acct,
    userId: `${role.id}:${sessionName}`,
    accessKeyId: `service-session:${role.id}:${sessionName}`,
    roleName: role.name,
    roleArn: role.arn,
    sessionName,
  };
}
