/**
 * CloudWatch resources: AWS::CloudWatch::Alarm through PutMetricAlarm / DeleteAlarms (stored and
 * evaluated by Berth's alarm evaluator where the metric exists). Every property but AlarmName
 * changes in place (PutMetricAlarm again under the same name); Ref is the alarm's name.
 */
import { ignoreNotFound, nameWithin, type ProviderContext, type ResourceProvider } from '../types.js';

/** The alarm's name: the template's, else the planned name (AWS's limit: 255 characters). */
const alarmName = (props: Record<string, unknown>, ctx: ProviderContext) => (typeof props.AlarmName === 'string' && props.AlarmName ? props.AlarmName : nameWithin(ctx.plannedName, 255));
const arnOf = (ctx: ProviderContext, name: string) => `arn:aws:cloudwatch:${ctx.scope.region}:${ctx.scope.platform.accountId}:alarm:${name}`;

async function put(props: Record<string, unknown>, ctx: ProviderContext, name: string): Promise<void> {
  // The template's properties are PutMetricAlarm's members (matched by name); Tags only on create, as CloudFormation.
  await ctx.invoker.call(ctx.scope, 'cloudwatch', 'PutMetricAlarm', { ...props, AlarmName: name });
}

const alarm: ResourceProvider = {
  async create(props, ctx) {
    const name = alarmName(props, ctx);
    await put(props, ctx, name);
    return { physicalId: name, attributes: { Arn: arnOf(ctx, name) } };
  },
  async update(physicalId, props, _before, ctx) {
    await put(props, ctx, physicalId);
    return { physicalId, attributes: { Arn: arnOf(ctx, physicalId) } };
  },
  async delete(physicalId, props, ctx) {
    await ignoreNotFound(ctx.invoker.call(ctx.scope, 'cloudwatch', 'DeleteAlarms', { AlarmNames: [physicalId ?? alarmName(props, ctx)] }));
  },
};

export const cloudWatchProviders: Record<string, ResourceProvider> = { 'AWS::CloudWatch::Alarm': alarm };
