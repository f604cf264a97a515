/**
 * CloudFormation's change set handlers: CreateChangeSet (which may create the stack in
 * REVIEW_IN_PROGRESS), DescribeChangeSet, ListChangeSets, DeleteChangeSet and ExecuteChangeSet,
 * which records the stack's create or update for the stack worker (src/control/stacks/).
 */
import type * as cfn from '../../generated/cloudformation.js';
import type { Handlers } from '../types.js';
import type { ServiceInvoker } from '../../domain/invoker.js';
import { retrying } from '../../domain/mutate.js';
import { cfnErrors } from '../../domain/cloudformation/errors.js';
import { newChangeSetId, newStackId } from '../../domain/cloudformation/keys.js';
import type { ChangeSetRecord, StackRecord } from '../../domain/cloudformation/records.js';
import { UPDATABLE, changeSetDeletes, commitChangeSet, commitWrites, findChangeSet, findStack, getStack, insertStack, stackChangeSets, stackResources, transitionStack } from '../../domain/cloudformation/stacks.js';
import type { Authorizer } from '../../domain/iam/authorizer.js';
import { operatorOf } from './acting.js';
import { page, parametersOut } from './output.js';
import { checkStackName, defineStack, newStackRecord, startUpdate, templateOf } from './stackDefinition.js';

/** The change set handlers; `invoker` reaches SSM for SSM parameter types, `authorizer` checks service roles. */
export function changeSetHandlers(invoker: ServiceInvoker, authorizer: Authorizer): Handlers<cfn.Operations> {
  return {
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
        // The definition's template is `body` and it has no outputs yet.
        const s = newStackRecord(ctx, def, stackId, input, 'REVIEW_IN_PROGRESS', now, { disableRollback: false, terminationProtection: false, roleARN: input.RoleARN });
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
  };
}
