/**
 * IAM's policy evaluation logic for a request within one account, as AWS documents it
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
 *
 * 1. an explicit `Deny` in any applicable policy (identity, resource, permissions boundary,
 *    session) denies;
 * 2. an `Allow` in a resource-based policy that names the principal itself (its ARN, or for a
 *    role session the session's ARN) allows;
 * 3. otherwise an identity-based policy must allow, and, where they apply, the permissions
 *    boundary and the session policies must allow too; anything else is an implicit deny.
 *
 * A resource policy that names the account (`"AWS": "123456789012"` or `...:root`) delegates to
 * IAM: it allows nothing by itself. The root user is not evaluated (it may do everything).
 * Pure: no I/O, no clock (the time is a context key).
 */
import type { CompiledPolicy, CompiledStatement, PrincipalSpec } from './document.js';
import { compileGlob } from '../../glob.js';
import { substituteVariables, type ContextKeys } from './conditions.js';

/** The caller as policies see it. */
export interface EvaluatedPrincipal {
  /** The principal's ARN: `...:user/alice`, `arn:aws:sts::acct:assumed-role/Role/session`. */
  arn: string;
  accountId: string;
  /** For a role session, the role's ARN (resource policies naming the role match its sessions). */
  roleArn?: string;
  /** For a service principal (a task's role trust is about these): `ecs-tasks.amazonaws.com`. */
  service?: string;
}

/** One authorization question. */
export interface AuthzRequest {
  principal: EvaluatedPrincipal;
  /** `service:Action`, as policies spell it (`ecs:RunTask`). */
  action: string;
  /** The resource's ARN, or `*` for actions that take none. */
  resource: string;
  keys: ContextKeys;
}

/** The policies that apply to a request. */
export interface ApplicablePolicies {
  identity: readonly CompiledPolicy[];
  /** The principal's permissions boundary, if it has one. */
  boundary?: CompiledPolicy;
  /** Session policies passed to AssumeRole, if any. */
  session?: readonly CompiledPolicy[];
  /** The target resource's resource-based policy (a repository policy, a trust policy). */
  resource?: CompiledPolicy;
}

/** Why a request was decided as it was (the access-denied message says it). */
export type Reason =
  | 'identity-allow'
  | 'resource-allow'
  | 'explicit-deny-identity'
  | 'explicit-deny-resource'
  | 'explicit-deny-boundary'
  | 'explicit-deny-session'
  | 'no-identity-allow'
  | 'no-boundary-allow'
  | 'no-session-allow';

export interface Decision {
  allowed: boolean;
  reason: Reason;
}

function actionMatches(st: CompiledStatement, action: string): boolean {
  const hit = st.actions.some((g) => g(action));
  return st.notAction ? !hit : hit;
}

function resourceMatches(st: CompiledStatement, resource: string, keys: ContextKeys): boolean {
  if (!st.resources) return true;
  const hit = st.resources.some((p) => {
    if (p.glob) return p.glob(resource);
    const resolved = substituteVariables(p.source, keys);
    return resolved !== undefined && compileGlob(resolved, false)(resource);
  });
  return st.notResource ? !hit : hit;
}

/** How a statement's principal element covers the caller: not at all, through its account, or by name. */
type PrincipalMatch = 'none' | 'account' | 'specific';

function principalMatch(spec: PrincipalSpec | undefined, p: EvaluatedPrincipal): PrincipalMatch {
  if (spec === undefined) return 'specific';
  if (spec === '*') return 'specific';
  let best: PrincipalMatch = 'none';
  for (const v of spec.AWS ?? []) {
    if (v === '*') return 'specific';
    if (v === p.arn || (p.roleArn !== undefined && v === p.roleArn)) return 'specific';
    if (v === p.accountId || v === `arn:aws:iam::${p.accountId}:root`) best = 'account';
  }
  if (p.service && (spec.Service ?? []).includes(p.service)) return 'specific';
  return best;
}

function statementApplies(st: CompiledStatement, req: AuthzRequest, withPrincipal: boolean): PrincipalMatch {
  if (!actionMatches(st, req.action) || !resourceMatches(st, req.resource, req.keys)) return 'none';
  let pm: PrincipalMatch = 'specific';
  if (withPrincipal) {
    const m = principalMatch(st.principal, req.principal);
    pm = st.notPrincipal ? (m === 'none' ? 'specific' : 'none') : m;
    if (pm === 'none') return 'none';
  }
  return st.condition(req.keys) ? pm : 'none';
}

function anyStatement(policies: readonly CompiledPolicy[], effect: 'Allow' | 'Deny', req: AuthzRequest): boolean {
  return policies.some((p) => p.statements.some((st) => st.effect === effect && statementApplies(st, req, false) !== 'none'));
}

/** The resource policy's strongest match of `effect` for the request. */
function resourceStatement(policy: CompiledPolicy | undefined, effect: 'Allow' | 'Deny', req: AuthzRequest): PrincipalMatch {
  let best: PrincipalMatch = 'none';
  for (const st of policy?.statements ?? []) {
    if (st.effect !== effect) continue;
    const m = statementApplies(st, req, true);
    if (m === 'specific') return m;
    if (m === 'account') best = m;
  }
  return best;
}

/** Decides one request against the policies that apply to it. */
export function evaluate(req: AuthzRequest, policies: ApplicablePolicies): Decision {
  if (anyStatement(policies.identity, 'Deny', req)) return { allowed: false, reason: 'explicit-deny-identity' };
  if (resourceStatement(policies.resource, 'Deny', req) !== 'none') return { allowed: false, reason: 'explicit-deny-resource' };
  if (policies.boundary && anyStatement([policies.boundary], 'Deny', req)) return { allowed: false, reason: 'explicit-deny-boundary' };
  if (policies.session && anyStatement(policies.session, 'Deny', req)) return { allowed: false, reason: 'explicit-deny-session' };
  if (resourceStatement(policies.resource, 'Allow', req) === 'specific') return { allowed: true, reason: 'resource-allow' };
  if (!anyStatement(policies.identity, 'Allow', req)) return { allowed: false, reason: 'no-identity-allow' };
  if (policies.boundary && !anyStatement([policies.boundary], 'Allow', req)) return { allowed: false, reason: 'no-boundary-allow' };
  if (policies.session && policies.session.length > 0 && !anyStatement(policies.session, 'Allow', req)) return { allowed: false, reason: 'no-session-allow' };
  return { allowed: true, reason: 'identity-allow' };
}

/**
 * The message AWS gives for a denied request: `User: <arn> is not authorized to perform:
 * <action> on resource: <resource> because no identity-based policy allows the <action> action`
 * (or `with an explicit deny in a ... policy`).
 */
export function accessDeniedMessage(req: AuthzRequest, reason: Reason): string {
  const who = req.principal.arn;
  const on = req.resource === '*' ? '' : ` on resource: ${req.resource}`;
  const head = `User: ${who} is not authorized to perform: ${req.action}${on}`;
  switch (reason) {
    case 'explicit-deny-identity':
      return `${head} with an explicit deny in an identity-based policy`;
    case 'explicit-deny-resource':
      return `${head} with an explicit deny in a resource-based policy`;
    case 'explicit-deny-boundary':
      return `${head} with an explicit deny in a permissions boundary`;
    case 'explicit-deny-session':
      return `${head} with an explicit deny in a session policy`;
    case 'no-boundary-allow':
      return `${head} because no permissions boundary allows the ${req.action} action`;
    case 'no-session-allow':
      return `${head} because no session policy allows the ${req.action} action`;
    default:
      return `${head} because no identity-based policy allows the ${req.action} action`;
  }
}
