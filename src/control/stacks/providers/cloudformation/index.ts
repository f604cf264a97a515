/**
 * CloudFormation's own resources: AWS::CloudFormation::WaitConditionHandle (a recorded URL)
 * and AWS::CloudFormation::WaitCondition with a Count of 0 or a handle nobody signals (fails
 * at its Timeout). Signalling a handle over HTTP is not served yet.
 */
import { randomUUID } from 'node:crypto';
import type { ResourceProvider } from '../types.js';
import { nestedStackProviders } from './nested.js';

const handle: ResourceProvider = {
  async create(_props, ctx) {
    const url = `https://cloudformation-waitcondition-${ctx.scope.region}.s3.amazonaws.com/${encodeURIComponent(ctx.stackId)}/${ctx.logicalId}/${randomUUID()}`;
    return { physicalId: url, attributes: {} };
  },
  async delete() {},
};

const waitCondition: ResourceProvider = {
  async create(props, ctx) {
    const count = Number(props.Count ?? 1);
    if (props.Handle === undefined || count === 0) return { physicalId: `${ctx.stackId}/${ctx.logicalId}`, attributes: { Data: '{}' } };
    const timeoutMs = Math.min(Number(props.Timeout ?? 43200), 43200) * 1000;
    await ctx.clock.sleep(timeoutMs, ctx.signal);
    throw new Error(`WaitCondition timed out. Received 0 conditions when expecting ${count}`);
  },
  async delete() {},
};

export const cloudFormationProviders: Record<string, ResourceProvider> = {
  'AWS::CloudFormation::WaitConditionHandle': handle,
  'AWS::CloudFormation::WaitCondition': waitCondition,
  ...nestedStackProviders,
};
