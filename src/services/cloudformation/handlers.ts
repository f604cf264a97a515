/**
 * CloudFormation's API handlers: stacks, change sets, templates, exports. They check the
 * request, read and check the template (src/domain/cloudformation/engine.ts), resolve the
 * parameters, and record the operation; the stack worker (src/control/stacks/) performs it.
 */
import type * as cfn from '../../generated/cloudformation.js';
import type { Handlers, RequestContext } from '../types.js';
import type { ServiceInvoker } from '../../domain/invoker.js';
import { retrying } from '../../domain/mutate.js';
import { cfnErrors } from '../../domain/cloudformation/errors.js';
import { newChangeSetId, newStackId } from '../../domain/cloudformation/keys.js';
import type { ChangeSetRecord, ResourceRecord, StackDefinition, StackRecord } from '../../domain/cloudformation/records.js';
import {
  IN_PROGRESS,
  UPDATABLE,
  changeSetDeletes,
  commitChangeSet,
  commitWrites,
  exportValue,
  findChangeSet,
  findStack,
  getStack,
  insertStack,
  listExports,
  listImports,
  listStacks,
  stackChangeSets,
  stackEvents,
  stackResources,
  transitionStack,
  updateStackRecord,
} from '../../domain/cloudformation/stacks.js';
import { checkCapabilities, parameterValues, planChanges, readTemplate, requiredCapabilities, resolveStackParameters, stackContext } from '../../domain/cloudformation/engine.js';
import type { Template } from '../../domain/cloudformation/template/template.js';
import type { GivenParameter } from '../../domain/cloudformation/template/parameters.js';
import { ServiceError } from '../../errors.js';
import type { Authorizer } from '../../domain/iam/authorizer.js';
import type { CallerPrincipal } from '../../domain/iam/credentials.js';
import { operatorOf, ssmLookup } from './acting.js';

type Ops = cfn.Operations;

/** Page size of the list operations. */
const PAGE = 100;

function page<T>(items: T[], token: string | undefined, size = PAGE): { items: T[]; next?: string } {
  let start = 0;
  if (token !== undefined) {
    start = Number(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw cfnErrors.validation('The NextToken is not valid: use a token this API returned.');
  }
  const slice = items.slice(start, start + size);
  return { items: slice, next: start + size < items.length ? Buffer.from(String(start + size)).toString('base64url') : undefined };
}

function templateOf(body: string | undefined, url: string | undefined): string {
  if (body !== undefined && url !== undefined) throw cfnErrors.validation('Specify exactly one of TemplateBody or TemplateURL.');
  if (url !== undefined) throw cfnErrors.validation('TemplateURL is not supported by Berth: pass the template as TemplateBody (aws cloudformation deploy does for templates up to 51,200 bytes).');
  if (body === undefined) throw cfnErrors.validation('Either Template URL or Template Body must be specified.');
  return body;
}

/** The template's definition for a stack: parameters resolved, and its evaluation checked. */
async function defineStack(
  invoker: ServiceInvoker,
  ctx: RequestContext,
  identity: { stackId: string; stackName: string },
  body: string,
  given: readonly GivenParameter[],
  capabilities: readonly string[],
  existing: { stack?: StackRecord; resources?: ResourceRecord[] } = {},
): Promise<{ t: Template; def: StackDefinition; changes: ReturnType<typeof planChanges> }> {
  const t = readTemplate(body);
  checkCapabilities(t, capabilities);
  const params = await resolveStackParameters(t, given, { previous: existing.stack?.parameters, lookupSsm: ssmLookup(invoker, ctx) });
  const resources = new Map((existing.resources ?? []).map((r) => [r.logicalId, r]));
  const evalCtx = stackContext(t, {
    identity: { ...identity, region: ctx.region, accountId: ctx.platform.accountId },
    parameters: parameterValues(t, params),
    resources: (id) => {
      const r = resources.get(id);
      return r?.physicalId ? { ref: r.physicalId, attributes: r.attributes } : undefined;
    },
    unknownResources: true,
    importValue: () => undefined,
  });
  // Imports are checked for existence now (as AWS does), their values read when the stack is built.
  const imports = await importsExist(ctx, t);
  const checkCtx = { ...evalCtx, importValue: (n: string) => imports.get(n) };
  const changes = planChanges(t, checkCtx, resources);
  return { t, def: { templateBody: body, ...params, outputs: [], description: t.Description }, changes };
}

/** The exports a template imports by literal name, checked to exist. */
async function importsExist(ctx: RequestContext, t: Template): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (v: unknown): Promise<void> => {
    if (Array.isArray(v)) for (const x of v) await walk(x);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o['Fn::ImportValue'] === 'string') {
        const name = o['Fn::ImportValue'];
        const e = await exportValue(ctx, ctx.region, name);
        if (!e) throw cfnErrors.validation(`No export named ${name.slice(0, 255)} found.`);
        out.set(name, e.value);
      }
      for (const x of Object.values(o)) await walk(x);
    }
  };
  await walk(t.Resources);
  await walk(t.Outputs);
  return out;
}

function parametersOut(s: StackDefinition): cfn.Parameter[] {
  return Object.entries(s.parameters).map(([k, v]) => ({
    ParameterKey: k,
    ParameterValue: s.noEcho.includes(k) ? '****' : v,
    ResolvedValue: s.resolvedParameters[k] !== undefined && !s.noEcho.includes(k) ? s.resolvedParameters[k] : undefined,
  }));
}

function stackOut(s: StackRecord): cfn.Stack {
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

function resourceOut(s: StackRecord, r: ResourceRecord) {
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

const STACK_NAME = /^[a-zA-Z][-a-zA-Z0-9]{0,127}$/;

function checkStackName(name: string): void {
  if (!STACK_NAME.test(name)) {
    throw cfnErrors.validation(`1 validation error detected: Value '${name.slice(0, 255)}' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]* and be at most 128 characters`);
  }
}

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
      const stack: StackRecord = {
        ...def,
        stackId,
        stackName: input.StackName,
        region: ctx.region,
        status: 'CREATE_IN_PROGRESS',
        statusReason: 'User Initiated',
        creationTime: now,
        capabilities: input.Capabilities ?? [],
        tags: input.Tags ?? [],
        notificationARNs: input.NotificationARNs ?? [],
        disableRollback: input.DisableRollback ?? input.OnFailure === 'DO_NOTHING',
        terminationProtection: input.EnableTerminationProtection ?? false,
        timeoutInMinutes: input.TimeoutInMinutes,
        roleARN: input.RoleARN,
        operator,
      };
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

    async CreateChangeSet(input, ctx) {
      checkStackName(input.StackName);
      const type = input.ChangeSetType ?? 'UPDATE';
      if (type === 'IMPORT') throw cfnErrors.validation('Change sets of type IMPORT are not supported by Berth.');
      if (!/^[a-zA-Z][-a-zA-Z0-9]{0,127}$/.test(input.ChangeSetName)) throw cfnErrors.validation(`ChangeSet name ${input.ChangeSetName.slice(0, 128)} is not valid: letters, digits and hyphens, starting with a letter.`);
      let stack = await findStack(ctx, input.StackName);
      if (type === 'CREATE' && stack && stack.value.status !== 'REVIEW_IN_PROGRESS') throw cfnErrors.alreadyExists(input.StackName);
      if (type === 'UPDATE' && !stack) throw cfnErrors.validation(`Stack [${input.StackName}] does not exist`);
      if (type === 'UPDATE' && stack && (stack.value.status === 'REVIEW_IN_PROGRESS' || !UPDATABLE.has(stack.value.status))) throw cfnErrors.inProgress(stack.value.stackName, stack.value.status);
      const body = input.UsePreviousTemplate ? stack?.value.templateBody ?? '' : templateOf(input.TemplateBody, input.TemplateURL);
      if (input.RoleARN !== undefined) await operatorOf(ctx, authorizer, input.RoleARN);
      const stackId = stack?.value.stackId ?? newStackId(ctx.region, ctx.platform.accountId, input.StackName);
      const resources = stack ? (await stackResources(ctx, stackId)).map((r) => r.value) : [];
      const { def, changes } = await defineStack(invoker, ctx, { stackId, stackName: input.StackName }, body, input.Parameters ?? [], input.Capabilities ?? [], { stack: stack?.value, resources });
      const now = ctx.platform.clock.now();
      if (!stack) {
        const s: StackRecord = {
          ...def,
          templateBody: body,
          outputs: [],
          stackId,
          stackName: input.StackName,
          region: ctx.region,
          status: 'REVIEW_IN_PROGRESS',
          statusReason: 'User Initiated',
          creationTime: now,
          capabilities: input.Capabilities ?? [],
          tags: input.Tags ?? [],
          notificationARNs: input.NotificationARNs ?? [],
          disableRollback: false,
          terminationProtection: false,
          roleARN: input.RoleARN,
        };
        await insertStack(ctx, s);
        stack = { rev: 0, value: s };
      }
      const empty = type === 'UPDATE' && !changes.length && JSON.stringify(def.parameters) === JSON.stringify(stack.value.parameters) && (input.Tags === undefined || JSON.stringify(input.Tags) === JSON.stringify(stack.value.tags));
      const cs: ChangeSetRecord = {
        changeSetId: newChangeSetId(ctx.region, ctx.platform.accountId, input.ChangeSetName),
        changeSetName: input.ChangeSetName,
        stackId,
        stackName: input.StackName,
        region: ctx.region,
        changeSetType: type,
        status: empty ? 'FAILED' : 'CREATE_COMPLETE',
        statusReason: empty ? "The submitted information didn't contain changes. Submit different information to create a change set." : undefined,
        executionStatus: empty ? 'UNAVAILABLE' : 'AVAILABLE',
        description: input.Description,
        creationTime: now,
        definition: def,
        capabilities: input.Capabilities ?? [],
        tags: input.Tags,
        notificationARNs: input.NotificationARNs,
        roleARN: input.RoleARN,
        changes,
      };
      await retrying(`ChangeSet ${input.ChangeSetName}`, async () => {
        const cur = await findChangeSet(ctx, input.ChangeSetName, stackId);
        if (cur) throw cfnErrors.changeSetExists(input.ChangeSetName);
        await commitChangeSet(ctx, cs);
      });
      return { Id: cs.changeSetId, StackId: stackId };
    },

    async DescribeChangeSet(input, ctx) {
      const cs = await findChangeSet(ctx, input.ChangeSetName, input.StackName);
      if (!cs) throw cfnErrors.changeSetNotFound(input.ChangeSetName);
      const c = cs.value;
      const p = page(c.changes, input.NextToken);
      return {
        ChangeSetId: c.changeSetId,
        ChangeSetName: c.changeSetName,
        StackId: c.stackId,
        StackName: c.stackName,
        Description: c.description,
        Parameters: parametersOut(c.definition),
        CreationTime: new Date(c.creationTime),
        ExecutionStatus: c.executionStatus,
        Status: c.status,
        StatusReason: c.statusReason,
        NotificationARNs: c.notificationARNs,
        Capabilities: c.capabilities as cfn.Capability[],
        Tags: c.tags,
        Changes: p.items.map((r) => ({
          Type: 'Resource',
          ResourceChange: {
            Action: r.action,
            LogicalResourceId: r.logicalResourceId,
            PhysicalResourceId: r.physicalResourceId,
            ResourceType: r.resourceType,
            Replacement: r.replacement,
            Scope: r.scope as cfn.ResourceAttribute[],
            Details: r.details.map((d) => ({ Target: { Attribute: 'Properties', Name: d.name, RequiresRecreation: d.requiresRecreation }, Evaluation: 'Static', ChangeSource: 'DirectModification' })),
          },
        })),
        NextToken: p.next,
        IncludeNestedStacks: false,
      };
    },

    async ListChangeSets(input, ctx) {
      const s = (await getStack(ctx, input.StackName)).value;
      const p = page(await stackChangeSets(ctx, s.stackId), input.NextToken);
      return {
        Summaries: p.items.map(({ value: c }) => ({
          StackId: c.stackId,
          StackName: c.stackName,
          ChangeSetId: c.changeSetId,
          ChangeSetName: c.changeSetName,
          ExecutionStatus: c.executionStatus,
          Status: c.status,
          StatusReason: c.statusReason,
          CreationTime: new Date(c.creationTime),
          Description: c.description,
        })),
        NextToken: p.next,
      };
    },

    async DeleteChangeSet(input, ctx) {
      const cs = await findChangeSet(ctx, input.ChangeSetName, input.StackName);
      if (!cs) throw cfnErrors.changeSetNotFound(input.ChangeSetName);
      if (cs.value.executionStatus === 'EXECUTE_IN_PROGRESS') throw cfnErrors.invalidChangeSetStatus(`Cannot delete ChangeSet [${cs.value.changeSetId}] in status EXECUTE_IN_PROGRESS`);
      const writes = changeSetDeletes(cs.value);
      const stack = await findStack(ctx, cs.value.stackId);
      // A stack made only to review its first change set goes with its last change set.
      if (stack?.value.status === 'REVIEW_IN_PROGRESS' && (await stackChangeSets(ctx, cs.value.stackId)).length === 1) {
        await transitionStack(ctx, stack, { ...stack.value, status: 'DELETE_COMPLETE', deletionTime: ctx.platform.clock.now() }, { now: ctx.platform.clock.now(), extra: writes });
      } else await commitWrites(ctx, writes);
      return {};
    },

    async ExecuteChangeSet(input, ctx) {
      const cs = await findChangeSet(ctx, input.ChangeSetName, input.StackName);
      if (!cs) throw cfnErrors.changeSetNotFound(input.ChangeSetName);
      const c = cs.value;
      if (c.executionStatus !== 'AVAILABLE') throw cfnErrors.invalidChangeSetStatus(`ChangeSet [${c.changeSetId}] cannot be executed in its current status of [${c.status}]`);
      const stack = await getStack(ctx, c.stackId);
      const roleARN = c.roleARN ?? stack.value.roleARN;
      const operator = await operatorOf(ctx, authorizer, roleARN);
      const others = (await stackChangeSets(ctx, c.stackId)).flatMap((o) => changeSetDeletes(o.value));
      const now = ctx.platform.clock.now();
      if (c.changeSetType === 'CREATE') {
        if (stack.value.status !== 'REVIEW_IN_PROGRESS') throw cfnErrors.invalidChangeSetStatus(`ChangeSet [${c.changeSetId}] cannot be executed: stack ${c.stackName} is in ${stack.value.status}`);
        const next: StackRecord = {
          ...stack.value,
          ...c.definition,
          status: 'CREATE_IN_PROGRESS',
          statusReason: 'User Initiated',
          capabilities: c.capabilities,
          tags: c.tags ?? stack.value.tags,
          changeSetId: c.changeSetId,
          disableRollback: input.DisableRollback ?? false,
          roleARN,
          operator,
        };
        await transitionStack(ctx, stack, next, { now, reason: 'User Initiated', queue: true, token: input.ClientRequestToken, extra: others });
      } else {
        await startUpdate(ctx, stack, c.definition, { capabilities: c.capabilities, tags: c.tags, disableRollback: input.DisableRollback, token: input.ClientRequestToken, changeSetId: c.changeSetId, extra: others, roleARN, operator });
      }
      return {};
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
  };
}

/** Moves a stack into UPDATE_IN_PROGRESS with `def`, keeping what it was for a rollback. */
async function startUpdate(
  ctx: RequestContext,
  cur: { rev: number; value: StackRecord },
  def: StackDefinition,
  opts: {
    capabilities: string[];
    tags?: cfn.Tag[];
    disableRollback?: boolean;
    token?: string;
    changeSetId?: string;
    extra?: Parameters<typeof transitionStack>[3]['extra'];
    /** The service role from now on, and whom the update's calls are made as. */
    roleARN: string | undefined;
    operator: CallerPrincipal | undefined;
  },
): Promise<void> {
  const s = cur.value;
  const previous: StackDefinition = { templateBody: s.templateBody, parameters: s.parameters, resolvedParameters: s.resolvedParameters, noEcho: s.noEcho, outputs: s.outputs, description: s.description };
  const next: StackRecord = {
    ...s,
    ...def,
    outputs: s.outputs,
    previous,
    status: 'UPDATE_IN_PROGRESS',
    statusReason: 'User Initiated',
    capabilities: opts.capabilities,
    tags: opts.tags ?? s.tags,
    disableRollback: opts.disableRollback ?? false,
    changeSetId: opts.changeSetId,
    roleARN: opts.roleARN,
    operator: opts.operator,
    lastUpdatedTime: ctx.platform.clock.now(),
  };
  try {
    await transitionStack(ctx, cur, next, { now: ctx.platform.clock.now(), reason: 'User Initiated', queue: true, token: opts.token, extra: opts.extra });
  } catch (e) {
    if (e instanceof ServiceError) throw e;
    throw cfnErrors.inProgress(s.stackName, 'a changing');
  }
}
