/**
 * CloudFormation's own resources, as AWS documents them:
 * - AWS::CloudFormation::WaitConditionHandle: its Ref is a presigned URL on Berth's endpoint
 *   (src/domain/cloudformation/signals.ts), good for 24 hours, that takes an HTTP PUT of
 *   cfn-signal's JSON `{"Status": "SUCCESS"|"FAILURE", "UniqueId", "Data", "Reason"}`.
 * - AWS::CloudFormation::WaitCondition: waits until its Handle has received `Count` (default 1)
 *   SUCCESS signals with distinct UniqueIds, for at most `Timeout` seconds (1 to 43200) on the
 *   platform clock, counting from its create's start even across a Berth restart (it is
 *   `resumable`). A FAILURE signal fails it with that signal's Reason. `Fn::GetAtt X.Data` is
 *   the JSON text of the object UniqueId -> Data of the signals received. Without a Handle it
 *   completes at once (Berth has no SignalResource for CreationPolicy).
 * - AWS::CloudFormation::CustomResource and Custom::* (custom.ts), nested stacks (nested.ts).
 */
import { randomUUID } from 'node:crypto';
import { cfnErrors } from '../../../../domain/cloudformation/errors.js';
import { MAX_SIGNALS_PER_HANDLE } from '../../../../domain/cloudformation/signals.js';
import type { ProviderContext, ResourceProvider } from '../types.js';
import { customResourceProvider } from './custom.js';
import { nestedStackProviders } from './nested.js';

/** How long a handle's URL takes signals (AWS presigns them for 24 hours). */
const HANDLE_URL_LIFETIME_MS = 24 * 3600_000;
/** The longest Timeout a WaitCondition may have (AWS's limit: 12 hours). */
const MAX_TIMEOUT_SECONDS = 43200;

const handle: ResourceProvider = {
  async create(_props, ctx) {
    const id = randomUUID();
    const url = await ctx.signals.url('wait', id, ctx.startedAt + HANDLE_URL_LIFETIME_MS);
    return { physicalId: url, attributes: {}, notes: { id } };
  },
  async delete(physicalId, _props, ctx) {
    const h = physicalId ? ctx.signals.handleOf(physicalId) : undefined;
    if (h) await ctx.signals.discardWaitSignals(h);
  },
};

/** An integer property within bounds, or the default when absent; a ValidationError naming it otherwise. */
function integer(props: Record<string, unknown>, name: string, min: number, max: number, dflt?: number): number {
  const v = props[name];
  if (v === undefined || v === '') {
    if (dflt === undefined) throw cfnErrors.validation(`Property ${name} of AWS::CloudFormation::WaitCondition is required when Handle is set`);
    return dflt;
  }
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,10}$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw cfnErrors.validation(`Property ${name} of AWS::CloudFormation::WaitCondition must be an integer from ${min} to ${max}: got ${String(v).slice(0, 50)}`);
  return n;
}

async function waitForSignals(props: Record<string, unknown>, ctx: ProviderContext) {
  if (typeof props.Handle !== 'string') throw cfnErrors.validation('Handle of AWS::CloudFormation::WaitCondition must be the Ref of an AWS::CloudFormation::WaitConditionHandle');
  const h = ctx.signals.handleOf(props.Handle);
  if (!h) throw cfnErrors.validation(`Handle ${props.Handle.slice(0, 200)} is not the URL of a WaitConditionHandle of this Berth`);
  const count = integer(props, 'Count', 1, MAX_SIGNALS_PER_HANDLE, 1);
  const timeout = integer(props, 'Timeout', 1, MAX_TIMEOUT_SECONDS);
  let received = 0;
  const outcome = await ctx.signals.waitFor(async () => {
    const signals = await ctx.signals.waitSignals(h);
    const failure = signals.find((s) => s.status === 'FAILURE');
    if (failure) return { failure };
    const successes = signals.filter((s) => s.status === 'SUCCESS');
    received = successes.length;
    if (received < count) return undefined;
    return { data: Object.fromEntries(successes.map((s) => [s.uniqueId, s.data])) };
  }, ctx.startedAt + timeout * 1000);
  if (!outcome) throw new Error(`WaitCondition timed out. Received ${received} conditions when expecting ${count}`);
  if ('failure' in outcome && outcome.failure) throw new Error(`WaitCondition received failed message: '${outcome.failure.reason}' for uniqueId: ${outcome.failure.uniqueId}`);
  return outcome.data!;
}

const waitCondition: ResourceProvider = {
  resumable: true,
  async create(props, ctx) {
    const physicalId = `${ctx.stackId}/${ctx.logicalId}`;
    if (props.Handle === undefined) return { physicalId, attributes: { Data: '{}' } };
    const data = await waitForSignals(props, ctx);
    return { physicalId, attributes: { Data: JSON.stringify(data) } };
  },
  async delete() {},
};

export const cloudFormationProviders: Record<string, ResourceProvider> = {
  'AWS::CloudFormation::WaitConditionHandle': handle,
  'AWS::CloudFormation::WaitCondition': waitCondition,
  'AWS::CloudFormation::CustomResource': customResourceProvider,
  ...nestedStackProviders,
};
