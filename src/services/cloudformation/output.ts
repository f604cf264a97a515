/**
 * What CloudFormation's handlers (./handlers.ts, ./changeSetHandlers.ts) answer with: pages of
 * the list operations and the domain's stack records in the API's shapes.
 */
import type * as cfn from '../../generated/cloudformation.js';
import { cfnErrors } from '../../domain/cloudformation/errors.js';
import type { ResourceRecord, StackDefinition, StackRecord } from '../../domain/cloudformation/records.js';

/** Page size of the list operations. */
const PAGE = 100;

/** One page of `items` from the position `token` encodes (a token this API returned), with the token of the next. */
export function page<T>(items: T[], token: string | undefined, size = PAGE): { items: T[]; next?: string } {
  let start = 0;
  if (token !== undefined) {
    start = Number(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw cfnErrors.validation('The NextToken is not valid: use a token this API returned.');
  }
  const slice = items.slice(start, start + size);
  return { items: slice, next: start + size < items.length ? Buffer.from(String(start + size)).toString('base64url') : undefined };
}

/** A stack definition's parameters as the API shows them (NoEcho values masked). */
export function parametersOut(s: StackDefinition): cfn.Parameter[] {
  return Object.entries(s.parameters).map(([k, v]) => ({
    ParameterKey: k,
    ParameterValue: s.noEcho.includes(k) ? '****' : v,
    ResolvedValue: s.resolvedParameters[k] !== undefined && !s.noEcho.includes(k) ? s.resolvedParameters[k] : undefined,
  }));
}

/** A stack record as the API's Stack. */
export function stackOut(s: StackRecord): cfn.Stack {
  return {
    StackId: s.stackId,
    StackName: s.stackName,
    ChangeSetId: s.changeSetId,
    Description: s.description,
    Parameters: parametersOut(s),
    CreationTime: new Date(s.creationTime),
    DeletionTime: s.deletionTime ? new Date(s.deletionTime) : undefined,
    LastUpdatedTime: s.lastUpdatedTime ? new Date(s.lastUpdatedTime) : undefined,
    StackStatus: s.status,
    StackStatusReason: s.statusReason,
    DisableRollback: s.disableRollback,
    NotificationARNs: s.notificationARNs,
    TimeoutInMinutes: s.timeoutInMinutes,
    Capabilities: s.capabilities as cfn.Capability[],
    Outputs: s.outputs.map((o) => ({ OutputKey: o.key, OutputValue: o.value, Description: o.description, ExportName: o.exportName })),
    RoleARN: s.roleARN,
    Tags: s.tags,
    EnableTerminationProtection: s.terminationProtection,
    DriftInformation: { StackDriftStatus: 'NOT_CHECKED' },
  };
}

/** A stack resource as the API's resource shapes share it (DescribeStackResource(s)). */
export function resourceOut(s: StackRecord, r: ResourceRecord) {
  return {
    StackName: s.stackName,
    StackId: s.stackId,
    LogicalResourceId: r.logicalId,
    PhysicalResourceId: r.physicalId,
    ResourceType: r.type,
    ResourceStatus: r.status,
    ResourceStatusReason: r.statusReason,
    DriftInformation: { StackResourceDriftStatus: 'NOT_CHECKED' as const },
  };
}
