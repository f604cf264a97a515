/** CloudWatch Logs resources: AWS::Logs::LogGroup, through the logs API. */
import { ignoreNotFound, nameWithin, type ResourceProvider } from '../types.js';

const logGroup: ResourceProvider = {
  async create(props, ctx) {
    const name = typeof props.LogGroupName === 'string' ? props.LogGroupName : nameWithin(ctx.plannedName, 512);
    await ctx.invoker.call(ctx.scope, 'logs', 'CreateLogGroup', { logGroupName: name, kmsKeyId: props.KmsKeyId, logGroupClass: props.LogGroupClass });
    if (props.RetentionInDays !== undefined) await ctx.invoker.call(ctx.scope, 'logs', 'PutRetentionPolicy', { logGroupName: name, retentionInDays: props.RetentionInDays });
    return { physicalId: name, attributes: { Arn: `arn:aws:logs:${ctx.scope.region}:${ctx.scope.platform.accountId}:log-group:${name}:*` } };
  },
  async update(physicalId, props, before, ctx) {
    if (props.RetentionInDays !== undefined) await ctx.invoker.call(ctx.scope, 'logs', 'PutRetentionPolicy', { logGroupName: physicalId, retentionInDays: props.RetentionInDays });
    else if (before.RetentionInDays !== undefined) await ctx.invoker.call(ctx.scope, 'logs', 'DeleteRetentionPolicy', { logGroupName: physicalId });
    return { physicalId, attributes: { Arn: `arn:aws:logs:${ctx.scope.region}:${ctx.scope.platform.accountId}:log-group:${physicalId}:*` } };
  },
  async delete(physicalId, props, ctx) {
    const name = physicalId ?? (typeof props.LogGroupName === 'string' ? props.LogGroupName : nameWithin(ctx.plannedName, 512));
    await ignoreNotFound(ctx.invoker.call(ctx.scope, 'logs', 'DeleteLogGroup', { logGroupName: name }));
  },
};

export const logsProviders: Record<string, ResourceProvider> = { 'AWS::Logs::LogGroup': logGroup };
