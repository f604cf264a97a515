/**
 * IAM resources (Role, Policy, ManagedPolicy, InstanceProfile). Berth has no IAM API yet: these
 * are recorded with the stack and answer Ref and GetAtt with the ARNs and ids AWS would give;
 * nothing is enforced until IAM exists.
 */
import { hexId } from '../../../../domain/common.js';
import { nameWithin, type ProviderContext, type ResourceProvider } from '../types.js';

const iamArn = (ctx: ProviderContext, resource: string) => `arn:aws:iam::${ctx.scope.platform.accountId}:${resource}`;
const path = (p: unknown) => (typeof p === 'string' && p ? p : '/');
const uniqueId = (prefix: string) => prefix + hexId(8).toUpperCase().slice(0, 17);

/** A store-only provider: the resource lives in the stack's records only. */
function recorded(make: (props: Record<string, unknown>, ctx: ProviderContext) => { physicalId: string; attributes: Record<string, unknown> }): ResourceProvider {
  return {
    async create(props, ctx) {
      return make(props, ctx);
    },
    async update(physicalId, props, _before, ctx, notes) {
      const r = make(props, ctx);
      return { physicalId, attributes: { ...r.attributes, ...(notes.attributes as Record<string, unknown> | undefined) } };
    },
    async delete() {},
  };
}

export const iamProviders: Record<string, ResourceProvider> = {
  'AWS::IAM::Role': recorded((p, ctx) => {
    const name = typeof p.RoleName === 'string' ? p.RoleName : nameWithin(ctx.plannedName, 64);
    return { physicalId: name, attributes: { Arn: iamArn(ctx, `role${path(p.Path)}${name}`), RoleId: uniqueId('AROA') } };
  }),
  'AWS::IAM::Policy': recorded((p, ctx) => {
    const name = typeof p.PolicyName === 'string' ? p.PolicyName : 'policy';
    return { physicalId: `${nameWithin(ctx.plannedName, 40)}-${name}`.slice(0, 128), attributes: { Id: name } };
  }),
  'AWS::IAM::ManagedPolicy': recorded((p, ctx) => {
    const name = typeof p.ManagedPolicyName === 'string' ? p.ManagedPolicyName : nameWithin(ctx.plannedName, 128);
    const arn = iamArn(ctx, `policy${path(p.Path)}${name}`);
    return { physicalId: arn, attributes: { PolicyArn: arn, PolicyId: uniqueId('ANPA') } };
  }),
  'AWS::IAM::InstanceProfile': recorded((p, ctx) => {
    const name = typeof p.InstanceProfileName === 'string' ? p.InstanceProfileName : nameWithin(ctx.plannedName, 128);
    return { physicalId: name, attributes: { Arn: iamArn(ctx, `instance-profile${path(p.Path)}${name}`) } };
  }),
};
