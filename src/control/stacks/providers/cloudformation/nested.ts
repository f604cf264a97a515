/**
 * AWS::CloudFormation::Stack: a nested stack, created, updated and deleted through Berth's own
 * CloudFormation API (CreateStack / UpdateStack / DeleteStack), then waited for. Berth has no
 * S3, so the TemplateURL it reads is a `file://` URL of a template inside one of the directories
 * the operator allowed (BERTH_CFN_TEMPLATE_DIRS, `:`-separated; symlinks resolved before the
 * check); any other URL fails the resource with a ValidationError saying so. `GetAtt
 * Child.Outputs.Name` reads the nested stack's outputs.
 */
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cfnErrors } from '../../../../domain/cloudformation/errors.js';
import { isNotFound, mergedTags, nameWithin, type ProviderContext, type ResourceProvider } from '../types.js';

/** The largest template a TemplateURL may name (CloudFormation's limit for TemplateURL). */
const MAX_TEMPLATE_BYTES = 1024 * 1024;
const ALL_CAPABILITIES = ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'];

interface StackOut {
  StackId?: string;
  StackStatus?: string;
  StackStatusReason?: string;
  Outputs?: Array<{ OutputKey?: string; OutputValue?: string }>;
}

/** Reads the template a TemplateURL names, if it is a file:// URL inside an allowed directory. */
export async function readTemplateUrl(url: unknown, allowedDirs: readonly string[]): Promise<string> {
  const refuse = (why: string) =>
    cfnErrors.validation(`TemplateURL ${String(url).slice(0, 200)} ${why}: Berth reads nested templates only from file:// URLs inside the directories in BERTH_CFN_TEMPLATE_DIRS${allowedDirs.length ? '' : ' (none set)'}`);
  if (typeof url !== 'string' || !url.startsWith('file://')) throw refuse('is not a file:// URL');
  let path: string;
  try {
    path = await realpath(fileURLToPath(url));
  } catch {
    throw refuse('does not name a readable file');
  }
  let inside = false;
  for (const dir of allowedDirs) {
    const real = await realpath(dir).catch(() => undefined);
    const rel = real === undefined ? '..' : relative(real, path);
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) inside = true;
  }
  if (!inside) throw refuse('is outside the allowed directories');
  const file = await open(path, 'r');
  try {
    const stat = await file.stat();
    const size = stat.size;
    if (!stat.isFile()) throw refuse('does not name a regular file');
    if (size > MAX_TEMPLATE_BYTES) throw cfnErrors.validation(`The template at ${url.slice(0, 200)} is ${size} bytes; the most a TemplateURL may name is ${MAX_TEMPLATE_BYTES}`);
    return await file.readFile('utf8');
  } finally {
    await file.close();
  }
}

/** `Parameters` of the resource ({Name: value}) as CreateStack takes them. */
function parameters(props: Record<string, unknown>) {
  const p = props.Parameters;
  if (p === undefined) return undefined;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw cfnErrors.validation('Parameters of an AWS::CloudFormation::Stack must be a map of parameter names to values');
  return Object.entries(p as Record<string, unknown>).map(([ParameterKey, v]) => ({ ParameterKey, ParameterValue: Array.isArray(v) ? v.join(',') : String(v) }));
}

const describe = async (ctx: ProviderContext, stack: string): Promise<StackOut | undefined> => {
  try {
    return (await ctx.invoker.call<{ Stacks?: StackOut[] }>(ctx.scope, 'cloudformation', 'DescribeStacks', { StackName: stack })).Stacks?.[0];
  } catch (e) {
    if (isNotFound(e) || /does not exist/.test(String((e as Error).message))) return undefined;
    throw e;
  }
};

/** Why the nested stack failed: the first resource failure in its events, else its status reason. */
async function failureOf(ctx: ProviderContext, stackId: string, s: StackOut): Promise<string> {
  const out = await ctx.invoker.call<{ StackEvents?: Array<{ ResourceStatus?: string; ResourceStatusReason?: string; LogicalResourceId?: string }> }>(ctx.scope, 'cloudformation', 'DescribeStackEvents', { StackName: stackId }).catch(() => ({ StackEvents: [] }));
  const failed = (out.StackEvents ?? []).filter((e) => /_FAILED$/.test(e.ResourceStatus ?? '') && e.ResourceStatusReason).pop();
  return failed ? `${failed.LogicalResourceId}: ${failed.ResourceStatusReason}` : (s.StackStatusReason ?? s.StackStatus ?? 'unknown');
}

/** Waits for the nested stack to reach `done`; a failure state throws with the nested failure's reason. */
async function settle(ctx: ProviderContext, stackId: string, done: string, verb: string): Promise<StackOut | undefined> {
  const deadline = ctx.clock.now() + ctx.stabilizeTimeoutMs;
  for (;;) {
    if (ctx.signal.aborted) throw new Error('Berth stopped while waiting for the nested stack');
    const s = await describe(ctx, stackId);
    if (!s || s.StackStatus === 'DELETE_COMPLETE') {
      if (done === 'DELETE_COMPLETE') return undefined;
      throw new Error(`Embedded stack ${stackId} was deleted while being ${verb}`);
    }
    if (s.StackStatus === done) return s;
    if (!/_IN_PROGRESS$/.test(s.StackStatus ?? '')) throw new Error(`Embedded stack ${stackId} was not successfully ${verb}: ${await failureOf(ctx, stackId, s)}`);
    if (ctx.clock.now() >= deadline) throw new Error(`Embedded stack ${stackId} was not ${verb} within ${Math.round(ctx.stabilizeTimeoutMs / 1000)} s`);
    await ctx.clock.sleep(250, ctx.signal);
  }
}

function outputs(stackId: string, s: StackOut | undefined) {
  const attributes: Record<string, unknown> = {};
  for (const o of s?.Outputs ?? []) if (o.OutputKey) attributes[`Outputs.${o.OutputKey}`] = o.OutputValue;
  return { physicalId: stackId, attributes };
}

const nestedStack: ResourceProvider = {
  async create(props, ctx) {
    const body = await readTemplateUrl(props.TemplateURL, ctx.templateDirs);
    const out = await ctx.invoker.call<{ StackId?: string }>(ctx.scope, 'cloudformation', 'CreateStack', {
      StackName: nameWithin(ctx.plannedName, 128),
      TemplateBody: body,
      Parameters: parameters(props),
      Capabilities: ALL_CAPABILITIES,
      Tags: mergedTags(ctx.tags, props.Tags),
      NotificationARNs: props.NotificationARNs,
    });
    const stackId = out.StackId!;
    return outputs(stackId, await settle(ctx, stackId, 'CREATE_COMPLETE', 'created'));
  },
  async update(stackId, props, _before, ctx) {
    const body = await readTemplateUrl(props.TemplateURL, ctx.templateDirs);
    try {
      await ctx.invoker.call(ctx.scope, 'cloudformation', 'UpdateStack', { StackName: stackId, TemplateBody: body, Parameters: parameters(props), Capabilities: ALL_CAPABILITIES, Tags: mergedTags(ctx.tags, props.Tags) });
    } catch (e) {
      if (!/No updates are to be performed/.test(String((e as Error).message))) throw e;
      return outputs(stackId, await describe(ctx, stackId));
    }
    return outputs(stackId, await settle(ctx, stackId, 'UPDATE_COMPLETE', 'updated'));
  },
  async delete(stackId, _props, ctx) {
    const target = stackId ?? (await describe(ctx, nameWithin(ctx.plannedName, 128)))?.StackId;
    if (!target) return;
    const s = await describe(ctx, target);
    if (!s || s.StackStatus === 'DELETE_COMPLETE') return;
    await ctx.invoker.call(ctx.scope, 'cloudformation', 'DeleteStack', { StackName: target });
    await settle(ctx, target, 'DELETE_COMPLETE', 'deleted');
  },
};

export const nestedStackProviders: Record<string, ResourceProvider> = { 'AWS::CloudFormation::Stack': nestedStack };
