/**
 * How CloudFormation's handlers (./handlers.ts, ./changeSetHandlers.ts) turn a request into a
 * stack definition and start an update: the template body of the request, the stack name check,
 * the template read with its parameters resolved and its evaluation checked (imports must
 * exist), and the move of a stack into UPDATE_IN_PROGRESS.
 */
import type * as cfn from '../../generated/cloudformation.js';
import type { RequestContext } from '../types.js';
import type { ServiceInvoker } from '../../domain/invoker.js';
import { cfnErrors } from '../../domain/cloudformation/errors.js';
import type { ResourceRecord, StackDefinition, StackRecord } from '../../domain/cloudformation/records.js';
import { exportValue, transitionStack } from '../../domain/cloudformation/stacks.js';
import { checkCapabilities, parameterValues, planChanges, readTemplate, resolveStackParameters, stackContext } from '../../domain/cloudformation/engine.js';
import type { Template } from '../../domain/cloudformation/template/template.js';
import type { GivenParameter } from '../../domain/cloudformation/template/parameters.js';
import { ServiceError } from '../../errors.js';
import type { CallerPrincipal } from '../../domain/iam/credentials.js';
import { ssmLookup } from './acting.js';

/** The template body of a request: TemplateBody (TemplateURL is refused, as is giving both or neither). */
export function templateOf(body: string | undefined, url: string | undefined): string {
  if (body !== undefined && url !== undefined) throw cfnErrors.validation('Specify exactly one of TemplateBody or TemplateURL.');
  if (url !== undefined) throw cfnErrors.validation('TemplateURL is not supported by Berth: pass the template as TemplateBody (aws cloudformation deploy does for templates up to 51,200 bytes).');
  if (body === undefined) throw cfnErrors.validation('Either Template URL or Template Body must be specified.');
  return body;
}

/** The template's definition for a stack: parameters resolved, and its evaluation checked. */
export async function defineStack(
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

/** A stack name as AWS allows it. */
const STACK_NAME = /^[a-zA-Z][-a-zA-Z0-9]{0,127}$/;

/** Refuses a stack name AWS would not allow, with AWS's validation message. */
export function checkStackName(name: string): void {
  if (!STACK_NAME.test(name)) {
    throw cfnErrors.validation(`1 validation error detected: Value '${name.slice(0, 255)}' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]* and be at most 128 characters`);
  }
}

/**
 * A stack record new with a request (CreateStack's, or the REVIEW_IN_PROGRESS stack of a first
 * CreateChangeSet): its definition, identity and region, `status` "User Initiated" at `now`, the
 * request's capabilities, tags and notifications, then the settings `rest` gives.
 */
export function newStackRecord(
  ctx: RequestContext,
  def: StackDefinition,
  stackId: string,
  input: Pick<cfn.CreateStackInput, 'StackName' | 'Capabilities' | 'Tags' | 'NotificationARNs'>,
  status: StackRecord['status'],
  now: number,
  rest: Pick<StackRecord, 'disableRollback' | 'terminationProtection' | 'roleARN'> & Partial<Pick<StackRecord, 'timeoutInMinutes' | 'operator'>>,
): StackRecord {
  return {
    ...def,
    stackId,
    stackName: input.StackName,
    region: ctx.region,
    status,
    statusReason: 'User Initiated',
    creationTime: now,
    capabilities: input.Capabilities ?? [],
    tags: input.Tags ?? [],
    notificationARNs: input.NotificationARNs ?? [],
    ...rest,
  };
}

/** Moves a stack into UPDATE_IN_PROGRESS with `def`, keeping what it was for a rollback. */
export async function startUpdate(
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
