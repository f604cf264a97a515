/**
 * CloudFormation's records: stacks, their resources and events, change sets, exports and the
 * work queue the stack worker (src/control/stacks/) drains. Keys are in keys.ts.
 */

import type { CallerPrincipal } from '../iam/credentials.js';

/** A stack's status, as DescribeStacks reports it. */
export type StackStatus =
  | 'CREATE_IN_PROGRESS'
  | 'CREATE_FAILED'
  | 'CREATE_COMPLETE'
  | 'ROLLBACK_IN_PROGRESS'
  | 'ROLLBACK_FAILED'
  | 'ROLLBACK_COMPLETE'
  | 'DELETE_IN_PROGRESS'
  | 'DELETE_FAILED'
  | 'DELETE_COMPLETE'
  | 'UPDATE_IN_PROGRESS'
  | 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'
  | 'UPDATE_COMPLETE'
  | 'UPDATE_FAILED'
  | 'UPDATE_ROLLBACK_IN_PROGRESS'
  | 'UPDATE_ROLLBACK_FAILED'
  | 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS'
  | 'UPDATE_ROLLBACK_COMPLETE'
  | 'REVIEW_IN_PROGRESS';

/** A resource's status, as DescribeStackResources reports it. */
export type ResourceStatus =
  | 'CREATE_IN_PROGRESS'
  | 'CREATE_FAILED'
  | 'CREATE_COMPLETE'
  | 'DELETE_IN_PROGRESS'
  | 'DELETE_FAILED'
  | 'DELETE_COMPLETE'
  | 'DELETE_SKIPPED'
  | 'UPDATE_IN_PROGRESS'
  | 'UPDATE_FAILED'
  | 'UPDATE_COMPLETE';

/** What a stack is made of at one point: its template and the parameter values it was given. */
export interface StackDefinition {
  templateBody: string;
  /** Parameter values as given (SSM names for SSM types), by key. */
  parameters: Record<string, string>;
  /** Values read from SSM for `AWS::SSM::Parameter::Value<...>` parameters. */
  resolvedParameters: Record<string, string>;
  /** Names of NoEcho parameters (shown as ****). */
  noEcho: string[];
  outputs: StackOutput[];
  description?: string;
}

export interface StackOutput {
  key: string;
  value: string;
  description?: string;
  exportName?: string;
}

export interface StackTag {
  Key: string;
  Value: string;
}

/** One stack (live, or deleted and kept for DescribeStacks by id and ListStacks). */
export interface StackRecord extends StackDefinition {
  stackId: string;
  stackName: string;
  region: string;
  status: StackStatus;
  statusReason?: string;
  creationTime: number;
  lastUpdatedTime?: number;
  deletionTime?: number;
  capabilities: string[];
  tags: StackTag[];
  notificationARNs: string[];
  disableRollback: boolean;
  terminationProtection: boolean;
  timeoutInMinutes?: number;
  roleARN?: string;
  /**
   * Whom the current operation's resource calls are made as, authorized by IAM like any call:
   * a session of `roleARN` (the service role) when the stack has one, else the principal who
   * started the operation (CreateStack, UpdateStack, DeleteStack, ExecuteChangeSet); absent:
   * the root user (who started it, or a stack from before this was kept).
   */
  operator?: CallerPrincipal;
  /** During an update (and its rollback): the stack as it was before. */
  previous?: StackDefinition;
  /** The change set an operation came from (ExecuteChangeSet), if any. */
  changeSetId?: string;
  /** DeleteStack's RetainResources: logical ids kept when the stack is deleted. */
  retainResources?: string[];
  /** CancelUpdateStack was called: the update stops and rolls back. */
  cancelRequested?: boolean;
}

/** A resource of a stack. */
export interface ResourceRecord {
  stackId: string;
  logicalId: string;
  type: string;
  physicalId?: string;
  /** The physical name chosen before creation, so an interrupted create can be found and undone. */
  plannedName?: string;
  status: ResourceStatus;
  statusReason?: string;
  /** The properties as last applied (resolved). */
  properties: Record<string, unknown>;
  /** What Fn::GetAtt reads. */
  attributes: Record<string, unknown>;
  /** The provider's private notes about the resource (e.g. ids it needs to delete it). */
  notes?: Record<string, unknown>;
  deletionPolicy?: string;
  updateReplacePolicy?: string;
  lastUpdated: number;
  /** During an update: the resource as it was before it (undefined: it is new in this update). */
  before?: ResourceSnapshot | null;
  /** Physical resources this update replaced, deleted in the cleanup phase. */
  replaced?: ResourceSnapshot[];
}

/** A resource's state at a point, enough to restore or delete it. */
export interface ResourceSnapshot {
  type: string;
  physicalId?: string;
  plannedName?: string;
  status: ResourceStatus;
  properties: Record<string, unknown>;
  attributes: Record<string, unknown>;
  notes?: Record<string, unknown>;
  deletionPolicy?: string;
  updateReplacePolicy?: string;
}

/** A stack event (DescribeStackEvents). */
export interface StackEventRecord {
  eventId: string;
  stackId: string;
  stackName: string;
  logicalResourceId: string;
  physicalResourceId?: string;
  resourceType: string;
  resourceStatus: string;
  resourceStatusReason?: string;
  resourceProperties?: string;
  timestamp: number;
  clientRequestToken?: string;
}

/** One resource change of a change set. */
export interface ResourceChange {
  action: 'Add' | 'Modify' | 'Remove';
  logicalResourceId: string;
  physicalResourceId?: string;
  resourceType: string;
  replacement?: 'True' | 'False' | 'Conditional';
  scope: string[];
  details: Array<{ name: string; requiresRecreation: 'Never' | 'Conditionally' | 'Always' }>;
}

/** A change set. */
export interface ChangeSetRecord {
  changeSetId: string;
  changeSetName: string;
  stackId: string;
  stackName: string;
  region: string;
  changeSetType: 'CREATE' | 'UPDATE';
  status: 'CREATE_PENDING' | 'CREATE_IN_PROGRESS' | 'CREATE_COMPLETE' | 'DELETE_COMPLETE' | 'FAILED';
  statusReason?: string;
  executionStatus: 'UNAVAILABLE' | 'AVAILABLE' | 'EXECUTE_IN_PROGRESS' | 'EXECUTE_COMPLETE' | 'EXECUTE_FAILED' | 'OBSOLETE';
  description?: string;
  creationTime: number;
  definition: StackDefinition;
  capabilities: string[];
  tags?: StackTag[];
  notificationARNs?: string[];
  /** The service role given to CreateChangeSet: the stack's from its execution on. */
  roleARN?: string;
  changes: ResourceChange[];
}

/** An export (ListExports), owned by the stack that exports it. */
export interface ExportRecord {
  name: string;
  value: string;
  stackId: string;
}

/** A stack that imports an export (ListImports). */
export interface ImportRecord {
  exportName: string;
  stackId: string;
  stackName: string;
}

/** Work the stack worker must do on a stack (written with the status change that asks for it). */
export interface WorkRecord {
  stackId: string;
  region: string;
  /** Which replica run started the operation; set: it was interrupted if that run is gone. */
  startedBy?: string;
  requestedAt: number;
}
