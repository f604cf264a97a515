/**
 * CloudFormation's API handlers: stacks, change sets, templates, exports. They check the
 * request, read and check the template (src/domain/cloudformation/engine.ts), resolve the
 * parameters, and record the operation; the stack worker (src/control/stacks/) performs it.
 * This file holds the stack, template and export handlers and puts them together with the
 * change set handlers (./changeSetHandlers.ts); turning a request into a stack definition is
 * ./stackDefinition.ts, the answers' shapes ./output.ts.
 */
import type * as cfn from '../../generated/cloudformation.js';
import type { Handlers } from '../types.js';
import type { ServiceInvoker } from '../../domain/invoker.js';
import { cfnErrors } from '../../domain/cloudformation/errors.js';
import { newStackId } from '../../domain/cloudformation/keys.js';
import type { StackRecord } from '../../domain/cloudformation/records.js';
import {
  IN_PROGRESS,
  UPDATABLE,
  exportValue,
  findChangeSet,
  findStack,
  getStack,
  insertStack,
  listExports,
  listImports,
  listStacks,
  stackEvents,
  stackResources,
  updateStackRecord,
} from '../../domain/cloudformation/stacks.js';
import { readTemplate, requiredCapabilities } from '../../domain/cloudformation/engine.js';
import type { Authorizer } from '../../domain/iam/authorizer.js';
import { operatorOf } from './acting.js';
import { changeSetHandlers } from './changeSetHandlers.js';
import { page, resourceOut, stackOut } from './output.js';
import { checkStackName, defineStack, newStackRecord, startUpdate, templateOf } from './stackDefinition.js';

type Ops = cfn.Operations;

/** CloudFormation's handlers; `invoker` reaches SSM for SSM parameter types. */
export function cloudFormationHandlers(invoker: ServiceInvoker, authorizer: Authorizer): Handlers<Ops> {
  return {
    async ValidateTemplate(input) {
      const t = readTemplate(templateOf(input.TemplateBody, input.TemplateURL));
      const caps = requiredCapabilities(t);
      return {
        Description: t.Description,
        Parameters: Object.entries(t.Parameters).map(([k, p]) => ({ ParameterKey: k, DefaultValue: p.Default === undefined ? undefined : String(p.Default), NoEcho: p.NoEcho === true || p.NoEcho === 'true', Description: p.Description })),
        Capabilities: caps.capability ? [caps.capability] : [],
        CapabilitiesReason: caps.capability ? `The following resource(s) require capabilities: [${[...new Set(caps.resources.map((r) => t.Resources[r]!.Type))].join(', ')}]` : undefined,
        DeclaredTransforms: t.Transform === undefined ? [] : Array.isArray(t.Transform) ? t.Transform : [t.Transform],
      };
    },

    async GetTemplateSummary(input, ctx) {
      let body: string;
      if (input.StackName !== undefined) body = (await getStack(ctx, input.StackName)).value.templateBody;
      else body = templateOf(input.TemplateBody, input.TemplateURL);
      const t = readTemplate(body);
      const caps = requiredCapabilities(t);
      return {
        Description: t.Description,
        Version: t.AWSTemplateFormatVersion,
        Parameters: Object.entries(t.Parameters).map(([k, p]) => ({
          ParameterKey: k,
          ParameterType: p.Type,
          DefaultValue: p.Default === undefined ? undefined : Array.isArray(p.Default) ? p.Default.join(',') : String(p.Default),
          NoEcho: p.NoEcho === true || p.NoEcho === 'true',
          Description: p.Description,
          ParameterConstraints: p.AllowedValues ? { AllowedValues: p.AllowedValues.map(String) } : {},
        })),
        Capabilities: caps.capability ? [caps.capability] : [],
        ResourceTypes: [...new Set(Object.values(t.Resources).map((r) => r.Type))],
        DeclaredTransforms: t.Transform === undefined ? [] : Array.isArray(t.Transform) ? t.Transform : [t.Transform],
        Metadata: t.Metadata === undefined ? undefined : JSON.stringify(t.Metadata),
      };
    },

    async CreateStack(input, ctx) {
      checkStackName(input.StackName);
      const body = templateOf(input.TemplateBody, input.TemplateURL);
      const existing = await findStack(ctx, input.StackName);
      if (existing) throw cfnErrors.alreadyExists(input.StackName);
      const stackId = newStackId(ctx.region, ctx.platform.accountId, input.StackName);
      const operator = await operatorOf(ctx, authorizer, input.RoleARN);
      const { def } = await defineStack(invoker, ctx, { stackId, stackName: input.StackName }, body, input.Parameters ?? [], input.Capabilities ?? []);
      const now = ctx.platform.clock.now();
      const stack = newStackRecord(ctx, def, stackId, input, 'CREATE_IN_PROGRESS', now, {
        disableRollback: input.DisableRollback ?? input.OnFailure === 'DO_NOTHING',
        terminationProtection: input.EnableTerminationProtection ?? false,
        timeoutInMinutes: input.TimeoutInMinutes,
        roleARN: input.RoleARN,
        operator,
      });
      await insertStack(ctx, stack, input.ClientRequestToken);
      return { StackId: stackId };
    },

    async UpdateStack(input, ctx) {
      const cur = await getStack(ctx, input.StackName);
      const s = cur.value;
      if (!UPDATABLE.has(s.status)) throw cfnErrors.inProgress(s.stackName, s.status);
      // As on AWS: without a RoleARN, the role the stack already has.
      const roleARN = input.RoleARN ?? s.roleARN;
      const operator = await operatorOf(ctx, authorizer, roleARN);
      const body = input.UsePreviousTemplate ? s.templateBody : templateOf(input.TemplateBody, input.TemplateURL);
      const resources = (await stackResources(ctx, s.stackId)).map((r) => r.value);
      const { def, changes } = await defineStack(invoker, ctx, s, body, input.Parameters ?? [], input.Capabilities ?? [], { stack: s, resources });
      const tagsChanged = input.Tags !== undefined && JSON.stringify(input.Tags) !== JSON.stringify(s.tags);
      if (!changes.length && !tagsChanged && JSON.stringify(def.parameters) === JSON.stringify(s.parameters) && body === s.templateBody) throw cfnErrors.noUpdates();
      await startUpdate(ctx, cur, def, { capabilities: input.Capabilities ?? [], tags: input.Tags, disableRollback: input.DisableRollback, token: input.ClientRequestToken, roleARN, operator });
      return { StackId: s.stackId };
    },

    async DeleteStack(input, ctx) {
      const found = await findStack(ctx, input.StackName);
      if (!found || found.value.status === 'DELETE_COMPLETE') return {};
      const roleARN = input.RoleARN ?? found.value.roleARN;
      const operator = await operatorOf(ctx, authorizer, roleARN);
      await updateStackRecord(ctx, found.value.stackId, (s) => {
        if (s.terminationProtection) throw cfnErrors.validation(`Stack [${s.stackName}] cannot be deleted while TerminationProtection is enabled`);
        if (s.status === 'DELETE_IN_PROGRESS') return undefined;
        if (IN_PROGRESS.has(s.status)) throw cfnErrors.validation(`Stack [${s.stackName}] is in ${s.status} state and can not be deleted now; wait until the operation ends.`);
        const now = ctx.platform.clock.now();
        if (s.status === 'REVIEW_IN_PROGRESS') return { next: { ...s, status: 'DELETE_COMPLETE', deletionTime: now, statusReason: undefined } };
        return { next: { ...s, status: 'DELETE_IN_PROGRESS', statusReason: 'User Initiated', retainResources: input.RetainResources ?? [], roleARN, operator }, reason: 'User Initiated', queue: true, token: input.ClientRequestToken };
      });
      return {};
    },

    async DescribeStacks(input, ctx) {
      let stacks: StackRecord[];
      if (input.StackName !== undefined) stacks = [(await getStack(ctx, input.StackName)).value];
      else stacks = (await listStacks(ctx)).filter((s) => s.status !== 'DELETE_COMPLETE').sort((a, b) => b.creationTime - a.creationTime);
      const p = page(stacks, input.NextToken);
      return { Stacks: p.items.map(stackOut), NextToken: p.next };
    },

    async ListStacks(input, ctx) {
      const filter = input.StackStatusFilter;
      const stacks = (await listStacks(ctx)).filter((s) => !filter?.length || filter.includes(s.status)).sort((a, b) => b.creationTime - a.creationTime);
      const p = page(stacks, input.NextToken);
      return {
        StackSummaries: p.items.map((s) => ({
          StackId: s.stackId,
          StackName: s.stackName,
          TemplateDescription: s.description,
          CreationTime: new Date(s.creationTime),
          LastUpdatedTime: s.lastUpdatedTime ? new Date(s.lastUpdatedTime) : undefined,
          DeletionTime: s.deletionTime ? new Date(s.deletionTime) : undefined,
          StackStatus: s.status,
          StackStatusReason: s.statusReason,
          DriftInformation: { StackDriftStatus: 'NOT_CHECKED' },
        })),
        NextToken: p.next,
      };
    },

    async DescribeStackEvents(input, ctx) {
      const s = (await getStack(ctx, input.StackName!)).value;
      const p = page(await stackEvents(ctx, s.stackId), input.NextToken);
      return {
        StackEvents: p.items.map((e) => ({
          StackId: e.stackId,
          EventId: e.eventId,
          StackName: e.stackName,
          LogicalResourceId: e.logicalResourceId,
          PhysicalResourceId: e.physicalResourceId,
          ResourceType: e.resourceType,
          Timestamp: new Date(e.timestamp),
          ResourceStatus: e.resourceStatus as cfn.ResourceStatus,
          ResourceStatusReason: e.resourceStatusReason,
          ResourceProperties: e.resourceProperties,
          ClientRequestToken: e.clientRequestToken,
        })),
        NextToken: p.next,
      };
    },

    async DescribeStackResource(input, ctx) {
      const s = (await getStack(ctx, input.StackName)).value;
      const r = (await stackResources(ctx, s.stackId)).find((x) => x.value.logicalId === input.LogicalResourceId);
      if (!r) throw cfnErrors.validation(`Resource ${input.LogicalResourceId} does not exist for stack ${s.stackName}`);
      return { StackResourceDetail: { ...resourceOut(s, r.value), LastUpdatedTimestamp: new Date(r.value.lastUpdated), Metadata: undefined } };
    },

    async DescribeStackResources(input, ctx) {
      let stackName = input.StackName;
      if (stackName === undefined) {
        if (input.PhysicalResourceId === undefined) throw cfnErrors.validation('Either StackName or PhysicalResourceId must be specified.');
        const all = await listStacks(ctx);
        for (const s of all) {
          if (s.status === 'DELETE_COMPLETE') continue;
          if ((await stackResources(ctx, s.stackId)).some((r) => r.value.physicalId === input.PhysicalResourceId)) stackName = s.stackId;
        }
        if (stackName === undefined) throw cfnErrors.validation(`Stack for ${input.PhysicalResourceId} does not exist`);
      }
      const s = (await getStack(ctx, stackName)).value;
      const rs = (await stackResources(ctx, s.stackId)).map((r) => r.value).filter((r) => (input.LogicalResourceId === undefined || r.logicalId === input.LogicalResourceId) && (input.PhysicalResourceId === undefined || r.physicalId === input.PhysicalResourceId));
      return { StackResources: rs.map((r) => ({ ...resourceOut(s, r), Timestamp: new Date(r.lastUpdated) })) };
    },

    async ListStackResources(input, ctx) {
      const s = (await getStack(ctx, input.StackName)).value;
      const p = page((await stackResources(ctx, s.stackId)).map((r) => r.value), input.NextToken);
      return {
        StackResourceSummaries: p.items.map((r) => ({
          LogicalResourceId: r.logicalId,
          PhysicalResourceId: r.physicalId,
          ResourceType: r.type,
          ResourceStatus: r.status,
          ResourceStatusReason: r.statusReason,
          LastUpdatedTimestamp: new Date(r.lastUpdated),
          DriftInformation: { StackResourceDriftStatus: 'NOT_CHECKED' },
        })),
        NextToken: p.next,
      };
    },

    async GetTemplate(input, ctx) {
      if (input.ChangeSetName !== undefined) {
        const cs = await findChangeSet(ctx, input.ChangeSetName, input.StackName);
        if (!cs) throw cfnErrors.changeSetNotFound(input.ChangeSetName);
        return { TemplateBody: cs.value.definition.templateBody, StagesAvailable: ['Original', 'Processed'] };
      }
      if (input.StackName === undefined) throw cfnErrors.validation('StackName or ChangeSetName must be specified.');
      return { TemplateBody: (await getStack(ctx, input.StackName)).value.templateBody, StagesAvailable: ['Original', 'Processed'] };
    },

    async UpdateTerminationProtection(input, ctx) {
      const s = await updateStackRecord(ctx, input.StackName, (s) => (s.status === 'DELETE_COMPLETE' ? undefined : { next: { ...s, terminationProtection: input.EnableTerminationProtection } }));
      return { StackId: s.stackId };
    },

    async ListExports(input, ctx) {
      const all = await listExports(ctx, ctx.region);
      const p = page(all, input.NextToken);
      return { Exports: p.items.map((e) => ({ ExportingStackId: e.stackId, Name: e.name, Value: e.value })), NextToken: p.next };
    },

    async ListImports(input, ctx) {
      const e = await exportValue(ctx, ctx.region, input.ExportName);
      if (!e) throw cfnErrors.validation(`Export '${input.ExportName}' does not exist.`);
      const users = await listImports(ctx, ctx.region, input.ExportName);
      if (!users.length) throw cfnErrors.validation(`Export '${input.ExportName}' is not imported by any stack.`);
      const p = page(users.map((u) => u.stackName), input.NextToken);
      return { Imports: p.items, NextToken: p.next };
    },

    async CancelUpdateStack(input, ctx) {
      await updateStackRecord(ctx, input.StackName, (s) => {
        if (s.status !== 'UPDATE_IN_PROGRESS') throw cfnErrors.validation(`CancelUpdateStack cannot be called from current stack status ${s.status}.`);
        return { next: { ...s, cancelRequested: true } };
      });
      return {};
    },
    ...changeSetHandlers(invoker, authorizer),
  };
}
