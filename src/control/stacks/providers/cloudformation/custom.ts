/**
 * Custom resources (`AWS::CloudFormation::CustomResource`, `Custom::*`) backed by an ECS task.
 * Berth has no Lambda and no SNS, so the `ServiceToken` is the ARN of an ECS task definition
 * (`!Ref MyTaskDefinition`); each request (Create, Update, Delete) runs that task once with
 * RunTask (as the stack's operator, through Berth's own ECS API), in the cluster named by the
 * optional property `ServiceTokenCluster` (default `default`). The task gets the request, the
 * JSON AWS sends a Lambda (`RequestType`, `ResponseURL`, `StackId`, `RequestId`,
 * `LogicalResourceId`, `PhysicalResourceId`, `ResourceType`, `ResourceProperties`,
 * `OldResourceProperties`, `ServiceToken`), in the environment variable
 * {@link REQUEST_ENV} of each of its containers, and answers with an HTTP PUT of
 * `{Status: SUCCESS|FAILED, Reason, PhysicalResourceId, Data, NoEcho}` to the ResponseURL
 * (presigned on Berth's endpoint, 4 KB at most, as on AWS). `Fn::GetAtt X.Key` reads Data's
 * keys. FAILED fails the resource with its Reason; a task that stops without answering fails
 * it at once; no answer within `ServiceTimeout` seconds (1 to 3600, default 3600, as AWS) fails
 * it too and stops the task. A Lambda function or SNS topic ServiceToken fails the resource
 * saying what Berth supports. A Create interrupted by a restart waits on for the response to the
 * same request (the task is found again by its startedBy) instead of running a second one.
 */
import { createHash, randomUUID } from 'node:crypto';
import { cfnErrors } from '../../../../domain/cloudformation/errors.js';
import type { CustomResponse } from '../../../../domain/cloudformation/signals.js';
import type { ProviderContext, ResourceProvider } from '../types.js';

/** The environment variable that holds the request JSON in the task's containers. */
export const REQUEST_ENV = 'CFN_CUSTOM_RESOURCE_REQUEST';
/** The longest a request may wait for its response (AWS: one hour). */
const MAX_SERVICE_TIMEOUT_SECONDS = 3600;
/** The request JSON's largest size (RunTask's overrides take 8 KB on AWS). */
const MAX_REQUEST_BYTES = 8192;
/** How often the task is looked at while no response has come (a task that exited without one fails the request). */
const TASK_CHECK_MS = 2000;
/** How much longer than the ServiceTimeout a ResponseURL is good for. */
const URL_GRACE_MS = 300_000;

const TASK_DEFINITION_ARN = /^arn:aws:ecs:[a-z0-9-]{1,32}:\d{12}:task-definition\/[A-Za-z0-9_-]{1,255}:\d{1,10}$/;

type RequestType = 'Create' | 'Update' | 'Delete';

interface Task {
  taskArn?: string;
  lastStatus?: string;
  stoppedReason?: string;
  containers?: Array<{ name?: string; exitCode?: number; reason?: string }>;
}

/** The task definition a ServiceToken names; a clear refusal of anything else. */
function taskDefinitionOf(props: Record<string, unknown>): string {
  const token = props.ServiceToken;
  const supported = 'Berth runs custom resources as ECS tasks: the ServiceToken must be the ARN of an ECS task definition (for example !Ref MyTaskDefinition)';
  if (typeof token !== 'string' || !token) throw cfnErrors.validation(`Property ServiceToken is required. ${supported}`);
  if (/^arn:aws:lambda:/.test(token)) throw cfnErrors.validation(`ServiceToken ${token.slice(0, 200)} is a Lambda function, and Berth has no Lambda. ${supported}`);
  if (/^arn:aws:sns:/.test(token)) throw cfnErrors.validation(`ServiceToken ${token.slice(0, 200)} is an SNS topic, and Berth has no SNS. ${supported}`);
  if (!TASK_DEFINITION_ARN.test(token)) throw cfnErrors.validation(`ServiceToken ${token.slice(0, 200)} is not an ECS task definition ARN. ${supported}`);
  return token;
}

function serviceTimeoutMs(props: Record<string, unknown>): number {
  const v = props.ServiceTimeout;
  if (v === undefined) return MAX_SERVICE_TIMEOUT_SECONDS * 1000;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,10}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_SERVICE_TIMEOUT_SECONDS) throw cfnErrors.validation(`ServiceTimeout must be an integer number of seconds from 1 to ${MAX_SERVICE_TIMEOUT_SECONDS}: got ${String(v).slice(0, 50)}`);
  return n * 1000;
}

function clusterOf(props: Record<string, unknown>): string {
  const c = props.ServiceTokenCluster ?? 'default';
  if (typeof c !== 'string' || !c) throw cfnErrors.validation('ServiceTokenCluster must be the name or ARN of an ECS cluster');
  return c;
}

/** A UUID-shaped RequestId derived from `seed` (the same Create request after a restart). */
function requestIdFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The Create request's id, derived from the planned name: a Create resumed after a restart is the same request. */
const createRequestId = (ctx: ProviderContext) => requestIdFrom(`${ctx.stackId}|${ctx.logicalId}|${ctx.plannedName}|Create`);

const startedByOf = (requestId: string) => `cloudformation/${requestId}`;

/** The task already started for a request (a resumed Create), if any. */
async function existingTask(ctx: ProviderContext, cluster: string, requestId: string): Promise<string | undefined> {
  for (const desiredStatus of ['RUNNING', 'STOPPED']) {
    const out = await ctx.invoker.call<{ taskArns?: string[] }>(ctx.scope, 'ecs', 'ListTasks', { cluster, startedBy: startedByOf(requestId), desiredStatus });
    if (out.taskArns?.length) return out.taskArns[0];
  }
  return undefined;
}

async function runTask(ctx: ProviderContext, cluster: string, taskDefinition: string, requestId: string, request: string): Promise<string> {
  const td = await ctx.invoker.call<{ taskDefinition?: { containerDefinitions?: Array<{ name?: string }> } }>(ctx.scope, 'ecs', 'DescribeTaskDefinition', { taskDefinition });
  const names = (td.taskDefinition?.containerDefinitions ?? []).map((c) => c.name).filter((n): n is string => !!n);
  const out = await ctx.invoker.call<{ tasks?: Task[]; failures?: Array<{ arn?: string; reason?: string; detail?: string }> }>(ctx.scope, 'ecs', 'RunTask', {
    cluster,
    taskDefinition,
    startedBy: startedByOf(requestId),
    overrides: { containerOverrides: names.map((name) => ({ name, environment: [{ name: REQUEST_ENV, value: request }] })) },
  });
  const arn = out.tasks?.[0]?.taskArn;
  if (!arn) {
    const f = out.failures?.[0];
    throw new Error(`The custom resource's task could not be started: ${f ? `${f.reason ?? 'unknown'}${f.detail ? ` (${f.detail})` : ''}` : 'RunTask started no task'}`);
  }
  return arn;
}

/** Why a stopped task ended, for the failure reason. */
function stoppedWhy(t: Task): string {
  const c = (t.containers ?? []).find((x) => x.exitCode !== undefined && x.exitCode !== null);
  return [t.stoppedReason, c ? `container ${c.name} exited with code ${c.exitCode}` : undefined, c?.reason].filter(Boolean).join('; ') || 'no reason given';
}

/**
 * Sends one request: runs the task (unless `resume` finds it already started) and waits for the
 * response; throws the resource's failure reason.
 */
async function send(ctx: ProviderContext, props: Record<string, unknown>, type: RequestType, requestId: string, extra: { physicalId?: string; old?: Record<string, unknown> }, resume = false): Promise<CustomResponse> {
  const taskDefinition = taskDefinitionOf(props);
  const timeoutMs = serviceTimeoutMs(props);
  const cluster = clusterOf(props);
  const deadline = ctx.startedAt + timeoutMs;
  const responseUrl = await ctx.signals.url('response', requestId, deadline + URL_GRACE_MS);
  const request = JSON.stringify({
    RequestType: type,
    ServiceToken: props.ServiceToken,
    ResponseURL: responseUrl,
    StackId: ctx.stackId,
    RequestId: requestId,
    LogicalResourceId: ctx.logicalId,
    PhysicalResourceId: extra.physicalId,
    ResourceType: ctx.resourceType,
    ResourceProperties: props,
    OldResourceProperties: extra.old,
  });
  if (Buffer.byteLength(request) > MAX_REQUEST_BYTES) throw cfnErrors.validation(`The custom resource request is ${Buffer.byteLength(request)} bytes; Berth passes at most ${MAX_REQUEST_BYTES} to the task (RunTask's overrides limit)`);
  let task = resume ? ((await ctx.signals.response(requestId)) ? 'answered' : await existingTask(ctx, cluster, requestId)) : undefined;
  task ??= await runTask(ctx, cluster, taskDefinition, requestId, request);
  let stopped: Task | undefined;
  const response = await ctx.signals.waitFor(async () => {
    const r = await ctx.signals.response(requestId);
    if (r) return r;
    if (task === 'answered') return undefined;
    const d = await ctx.invoker.call<{ tasks?: Task[] }>(ctx.scope, 'ecs', 'DescribeTasks', { cluster, tasks: [task] });
    const t = d.tasks?.[0];
    if (t?.lastStatus === 'STOPPED') {
      // The response may have landed between the two reads.
      const late = await ctx.signals.response(requestId);
      if (late) return late;
      stopped = t;
      return 'stopped' as const;
    }
    return undefined;
  }, deadline, TASK_CHECK_MS);
  if (response === 'stopped') throw new Error(`The custom resource's task ${task} stopped without sending a response for request ${requestId}: ${stoppedWhy(stopped!)}`);
  if (!response) {
    if (task !== 'answered') await ctx.invoker.call(ctx.scope, 'ecs', 'StopTask', { cluster, task, reason: 'The custom resource request timed out' }).catch(() => undefined);
    throw new Error(`CloudFormation did not receive a response from your Custom Resource within ${timeoutMs / 1000} s (ServiceTimeout). Please check the task's logs for requestId [${requestId}]`);
  }
  // A Create's response is kept until the resource is deleted: a restart between here and the
  // resource's record still finds it. Others are done with.
  if (type !== 'Create') await ctx.signals.discardResponse(requestId);
  if (response.status === 'FAILED') throw new Error(`Received response status [FAILED] from custom resource. Message returned: ${response.reason || 'See the details in the task logs'} (RequestId: ${requestId})`);
  return response;
}

function provided(response: CustomResponse, physicalId: string) {
  return { physicalId, attributes: { ...response.data }, notes: response.noEcho ? { noEcho: true } : undefined };
}

/** The provider of every custom resource type. */
export const customResourceProvider: ResourceProvider = {
  resumable: true,
  async create(props, ctx) {
    const requestId = createRequestId(ctx);
    const response = await send(ctx, props, 'Create', requestId, {}, ctx.resumed);
    if (!response.physicalResourceId) throw new Error(`Invalid PhysicalResourceId: the response to request ${requestId} gave none`);
    return provided(response, response.physicalResourceId);
  },
  async update(physicalId, props, before, ctx) {
    const response = await send(ctx, props, 'Update', randomUUID(), { physicalId, old: before });
    return provided(response, response.physicalResourceId ?? physicalId);
  },
  async delete(physicalId, props, ctx) {
    await ctx.signals.discardResponse(createRequestId(ctx));
    // A Create that never completed made nothing this stack knows of.
    if (!physicalId) return;
    await send(ctx, props, 'Delete', randomUUID(), { physicalId });
  },
};
