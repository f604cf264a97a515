/** Systems Manager resources: AWS::SSM::Parameter, through the SSM API. */
import { ignoreNotFound, nameWithin, type ResourceProvider } from '../types.js';

async function put(props: Record<string, unknown>, name: string, ctx: Parameters<ResourceProvider['create']>[1], overwrite: boolean) {
  await ctx.invoker.call(ctx.scope, 'ssm', 'PutParameter', {
    Name: name,
    Value: props.Value,
    Type: props.Type,
    Description: props.Description,
    AllowedPattern: props.AllowedPattern,
    Tier: props.Tier,
    DataType: props.DataType,
    Overwrite: overwrite || undefined,
    Tags: overwrite || !props.Tags || typeof props.Tags !== 'object' ? undefined : Object.entries(props.Tags as Record<string, unknown>).map(([Key, Value]) => ({ Key, Value: String(Value) })),
  });
  return { physicalId: name, attributes: { Type: props.Type, Value: props.Value } };
}

const parameter: ResourceProvider = {
  create(props, ctx) {
    const name = typeof props.Name === 'string' ? props.Name : `CFN-${nameWithin(ctx.plannedName, 1000)}`;
    return put(props, name, ctx, false);
  },
  update(physicalId, props, _before, ctx) {
    return put(props, physicalId, ctx, true);
  },
  async delete(physicalId, props, ctx) {
    const name = physicalId ?? (typeof props.Name === 'string' ? props.Name : `CFN-${nameWithin(ctx.plannedName, 1000)}`);
    await ignoreNotFound(ctx.invoker.call(ctx.scope, 'ssm', 'DeleteParameter', { Name: name }));
  },
};

export const ssmProviders: Record<string, ResourceProvider> = { 'AWS::SSM::Parameter': parameter };
