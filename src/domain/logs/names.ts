/**
 * How CloudWatch Logs names its resources: log group and stream ARNs, and the two ways an API
 * call may name a group (`logGroupName`, or `logGroupIdentifier` holding a name or an ARN).
 * Groups are per region and account, as on AWS: an ARN of another region or account names
 * no group here.
 */
import { arn, parseArn } from '../common.js';
import type { Scope } from '../platform.js';
import { logsErrors } from './errors.js';

/** `arn:aws:logs:<region>:<acct>:log-group:<name>` (logGroupArn, the tagging ARN). */
export function groupArn(s: Scope, name: string): string {
  return arn('logs', s.region, s.platform.accountId, `log-group:${name}`);
}

/** The stream's ARN, `...:log-group:<group>:log-stream:<stream>`. */
export function streamArn(s: Scope, group: string, stream: string): string {
  return arn('logs', s.region, s.platform.accountId, `log-group:${group}:log-stream:${stream}`);
}

/**
 * The group name a `logGroupName` / `logGroupIdentifier` pair refers to: exactly one must be
 * given; an identifier may be the name or the group's ARN.
 */
export function groupNameOf(s: Scope, name: string | undefined, identifier: string | undefined): string {
  if (name !== undefined && identifier !== undefined) {
    throw logsErrors.invalidParameter('LogGroup name and LogGroup ARN are mutually exclusive parameters.');
  }
  const ref = name ?? identifier;
  if (ref === undefined) throw logsErrors.invalidParameter('Either logGroupName or logGroupIdentifier must be specified.');
  return groupNameOfIdentifier(s, ref);
}

/**
 * The log group name an ARN names (with or without the trailing `:*`). Not a log group ARN:
 * InvalidParameterException; another region's or account's: ResourceNotFoundException.
 */
export function groupNameFromArn(s: Scope, ref: string): string {
  const p = parseArn(ref);
  if (!p || p.service !== 'logs' || !p.resource.startsWith('log-group:')) {
    throw logsErrors.invalidParameter(`'${ref}' is not a log group ARN (arn:aws:logs:<region>:<account>:log-group:<name>).`);
  }
  if (p.region !== s.region || p.accountId !== s.platform.accountId) throw logsErrors.groupNotFound();
  let name = p.resource.slice('log-group:'.length);
  if (name.endsWith(':*')) name = name.slice(0, -2);
  return name;
}

/** A group name or ARN as DescribeLogGroups' `logGroupIdentifiers` take them, as a name. */
export function groupNameOfIdentifier(s: Scope, ref: string): string {
  return ref.startsWith('arn:') ? groupNameFromArn(s, ref) : ref;
}
