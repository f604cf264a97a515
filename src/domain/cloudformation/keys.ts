/** Store kinds, keys and ARNs of CloudFormation's records. */
import { arn, uuid } from '../common.js';

export const STACK_KIND = 'cfn.stack';
/** Live stacks by region and name → stack id. */
export const STACK_NAME_KIND = 'cfn.stack-name';
export const RESOURCE_KIND = 'cfn.resource';
export const EVENT_KIND = 'cfn.event';
export const CHANGE_SET_KIND = 'cfn.changeset';
/** Change sets by id → (stack id, name). */
export const CHANGE_SET_ID_KIND = 'cfn.changeset-id';
export const EXPORT_KIND = 'cfn.export';
export const IMPORT_KIND = 'cfn.import';
/** Stacks with an operation in progress: what the stack worker drains. */
export const WORK_KIND = 'cfn.work';

export const stackKey = (stackId: string) => stackId;
export const stackNameKey = (region: string, name: string) => `${region}/${name}`;
export const resourceKey = (stackId: string, logicalId: string) => `${stackId}|${logicalId}`;
export const resourcePrefix = (stackId: string) => `${stackId}|`;
export const eventPrefix = (stackId: string) => `${stackId}|`;
export const changeSetKey = (stackId: string, name: string) => `${stackId}|${name}`;
export const changeSetPrefix = (stackId: string) => `${stackId}|`;
export const exportKey = (region: string, name: string) => `${region}/${name}`;
export const importKey = (region: string, exportName: string, stackId: string) => `${region}/${exportName}|${stackId}`;
export const importPrefix = (region: string, exportName: string) => `${region}/${exportName}|`;

/** A new stack's id: arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>. */
export function newStackId(region: string, accountId: string, name: string): string {
  return arn('cloudformation', region, accountId, `stack/${name}/${uuid()}`);
}

/** A new change set's id: arn:aws:cloudformation:<region>:<account>:changeSet/<name>/<uuid>. */
export function newChangeSetId(region: string, accountId: string, name: string): string {
  return arn('cloudformation', region, accountId, `changeSet/${name}/${uuid()}`);
}

/** Whether a string is a stack ARN (rather than a name). */
export const isStackId = (s: string) => s.startsWith('arn:') && s.includes(':stack/');
