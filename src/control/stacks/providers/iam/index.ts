/**
 * IAM resources (Role, Policy, ManagedPolicy, InstanceProfile, User, Group), created as real
 * principals and policies through Berth's IAM API (the in-process invoker), so a stack's role is
 * visible with `aws iam get-role`, assumable, and enforced like any other. Inline policies
 * (`Policies`) and attached managed policies (`ManagedPolicyArns`) are kept in step on update;
 * delete takes them off first, as IAM requires. AWS::IAM::AccessKey is not provided: its secret
 * would be kept in the stack's records as a GetAtt value.
 */
import { ignoreNotFound, mergedTags, nameWithin, type ProviderContext, type ResourceProvider } from '../types.js';

type Props = Record<string, unknown>;
type Holder = 'Role' | 'User' | 'Group';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.length > 0) : []);
/** A policy document as IAM takes it: JSON text (a template may give it as an object). */
const docText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v ?? {}));
/** `Policies`: the inline policies of a role, user or group, by name. */
function inlinePolicies(v: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(v)) return out;
  for (const p of v) {
    const r = p as Props;
    const name = str(r?.PolicyName);
    if (name) out.set(name, docText(r.PolicyDocument));
  }
  return out;
}

const call = <T = Props>(ctx: ProviderContext, op: string, input: Props) => ctx.invoker.call<T>(ctx.scope, 'iam', op, input);

/** Brings a holder's inline and attached policies from `before` to `after` (props of the resource). */
async function syncPolicies(ctx: ProviderContext, kind: Holder, name: string, before: Props, after: Props): Promise<void> {
  const key = `${kind}Name`;
  const oldInline = inlinePolicies(before.Policies);
  const newInline = inlinePolicies(after.Policies);
  for (const [policy, doc] of newInline) if (oldInline.get(policy) !== doc) await call(ctx, `Put${kind}Policy`, { [key]: name, PolicyName: policy, PolicyDocument: doc });
  for (const policy of oldInline.keys()) if (!newInline.has(policy)) await ignoreNotFound(call(ctx, `Delete${kind}Policy`, { [key]: name, PolicyName: policy }));
  const oldArns = new Set(strs(before.ManagedPolicyArns));
  const newArns = new Set(strs(after.ManagedPolicyArns));
  for (const arn of newArns) if (!oldArns.has(arn)) await call(ctx, `Attach${kind}Policy`, { [key]: name, PolicyArn: arn });
  for (const arn of oldArns) if (!newArns.has(arn)) await ignoreNotFound(call(ctx, `Detach${kind}Policy`, { [key]: name, PolicyArn: arn }));
}

/** Takes every inline and attached policy off a holder (IAM refuses to delete one that has any). */
async function stripPolicies(ctx: ProviderContext, kind: Holder, name: string): Promise<void> {
  const key = `${kind}Name`;
  const inline = await call<{ PolicyNames?: string[] }>(ctx, `List${kind}Policies`, { [key]: name });
  for (const p of inline.PolicyNames ?? []) await ignoreNotFound(call(ctx, `Delete${kind}Policy`, { [key]: name, PolicyName: p }));
  const attached = await call<{ AttachedPolicies?: Array<{ PolicyArn?: string }> }>(ctx, kind === 'Role' ? 'ListAttachedRolePolicies' : kind === 'User' ? 'ListAttachedUserPolicies' : 'ListAttachedGroupPolicies', { [key]: name });
  for (const a of attached.AttachedPolicies ?? []) if (a.PolicyArn) await ignoreNotFound(call(ctx, `Detach${kind}Policy`, { [key]: name, PolicyArn: a.PolicyArn }));
}

const role: ResourceProvider = {
  async create(p, ctx) {
    const name = str(p.RoleName) ?? nameWithin(ctx.plannedName, 64);
    const tags = mergedTags(ctx.tags, p.Tags);
    const out = await call<{ Role: { Arn: string; RoleId: string } }>(ctx, 'CreateRole', {
      RoleName: name,
      Path: str(p.Path),
      AssumeRolePolicyDocument: docText(p.AssumeRolePolicyDocument),
      Description: str(p.Description),
      MaxSessionDuration: p.MaxSessionDuration,
      PermissionsBoundary: str(p.PermissionsBoundary),
      Tags: tags.length ? tags : undefined,
    });
    await syncPolicies(ctx, 'Role', name, {}, p);
    return { physicalId: name, attributes: { Arn: out.Role.Arn, RoleId: out.Role.RoleId } };
  },
  async update(physicalId, p, before, ctx) {
    if (docText(p.AssumeRolePolicyDocument) !== docText(before.AssumeRolePolicyDocument)) await call(ctx, 'UpdateAssumeRolePolicy', { RoleName: physicalId, PolicyDocument: docText(p.AssumeRolePolicyDocument) });
    if (p.Description !== before.Description || p.MaxSessionDuration !== before.MaxSessionDuration) await call(ctx, 'UpdateRole', { RoleName: physicalId, Description: str(p.Description), MaxSessionDuration: p.MaxSessionDuration });
    if (p.PermissionsBoundary !== before.PermissionsBoundary) {
      if (str(p.PermissionsBoundary)) await call(ctx, 'PutRolePermissionsBoundary', { RoleName: physicalId, PermissionsBoundary: p.PermissionsBoundary });
      else await ignoreNotFound(call(ctx, 'DeleteRolePermissionsBoundary', { RoleName: physicalId }));
    }
    await syncPolicies(ctx, 'Role', physicalId, before, p);
    const got = await call<{ Role: { Arn: string; RoleId: string } }>(ctx, 'GetRole', { RoleName: physicalId });
    return { physicalId, attributes: { Arn: got.Role.Arn, RoleId: got.Role.RoleId } };
  },
  async delete(physicalId, p, ctx) {
    const name = physicalId ?? str(p.RoleName) ?? nameWithin(ctx.plannedName, 64);
    try {
      await stripPolicies(ctx, 'Role', name);
    } catch (e) {
      return ignoreNotFound(Promise.reject(e));
    }
    await ignoreNotFound(call(ctx, 'DeleteRole', { RoleName: name }));
  },
};

/** The holders an AWS::IAM::Policy or ManagedPolicy is put on or attached to. */
function holdersOf(p: Props): Array<[Holder, string]> {
  return [...strs(p.Roles).map((n) => ['Role', n] as [Holder, string]), ...strs(p.Users).map((n) => ['User', n] as [Holder, string]), ...strs(p.Groups).map((n) => ['Group', n] as [Holder, string])];
}
const holderKey = ([k, n]: [Holder, string]) => `${k}:${n}`;

const inlinePolicy: ResourceProvider = {
  async create(p, ctx) {
    const name = str(p.PolicyName) ?? 'policy';
    for (const [kind, holder] of holdersOf(p)) await call(ctx, `Put${kind}Policy`, { [`${kind}Name`]: holder, PolicyName: name, PolicyDocument: docText(p.PolicyDocument) });
    return { physicalId: `${nameWithin(ctx.plannedName, 40)}-${name}`.slice(0, 128), attributes: { Id: name } };
  },
  async update(physicalId, p, before, ctx) {
    const name = str(p.PolicyName) ?? 'policy';
    const now = new Set(holdersOf(p).map(holderKey));
    for (const h of holdersOf(before)) {
      if (!now.has(holderKey(h)) || str(before.PolicyName) !== name) await ignoreNotFound(call(ctx, `Delete${h[0]}Policy`, { [`${h[0]}Name`]: h[1], PolicyName: str(before.PolicyName) ?? 'policy' }));
    }
    for (const [kind, holder] of holdersOf(p)) await call(ctx, `Put${kind}Policy`, { [`${kind}Name`]: holder, PolicyName: name, PolicyDocument: docText(p.PolicyDocument) });
    return { physicalId, attributes: { Id: name } };
  },
  async delete(_physicalId, p, ctx) {
    const name = str(p.PolicyName) ?? 'policy';
    for (const [kind, holder] of holdersOf(p)) await ignoreNotFound(call(ctx, `Delete${kind}Policy`, { [`${kind}Name`]: holder, PolicyName: name }));
  },
};

const managedPolicy: ResourceProvider = {
  async create(p, ctx) {
    const name = str(p.ManagedPolicyName) ?? nameWithin(ctx.plannedName, 128);
    const out = await call<{ Policy: { Arn: string; PolicyId: string } }>(ctx, 'CreatePolicy', { PolicyName: name, Path: str(p.Path), Description: str(p.Description), PolicyDocument: docText(p.PolicyDocument) });
    for (const [kind, holder] of holdersOf(p)) await call(ctx, `Attach${kind}Policy`, { [`${kind}Name`]: holder, PolicyArn: out.Policy.Arn });
    return { physicalId: out.Policy.Arn, attributes: { PolicyArn: out.Policy.Arn, PolicyId: out.Policy.PolicyId } };
  },
  async update(physicalId, p, before, ctx, notes) {
    if (docText(p.PolicyDocument) !== docText(before.PolicyDocument)) {
      // At most 5 versions: the older non-default ones go first.
      const versions = await call<{ Versions?: Array<{ VersionId: string; IsDefaultVersion: boolean }> }>(ctx, 'ListPolicyVersions', { PolicyArn: physicalId });
      for (const v of versions.Versions ?? []) if (!v.IsDefaultVersion) await ignoreNotFound(call(ctx, 'DeletePolicyVersion', { PolicyArn: physicalId, VersionId: v.VersionId }));
      await call(ctx, 'CreatePolicyVersion', { PolicyArn: physicalId, PolicyDocument: docText(p.PolicyDocument), SetAsDefault: true });
    }
    const now = new Set(holdersOf(p).map(holderKey));
    const was = new Set(holdersOf(before).map(holderKey));
    for (const h of holdersOf(before)) if (!now.has(holderKey(h))) await ignoreNotFound(call(ctx, `Detach${h[0]}Policy`, { [`${h[0]}Name`]: h[1], PolicyArn: physicalId }));
    for (const h of holdersOf(p)) if (!was.has(holderKey(h))) await call(ctx, `Attach${h[0]}Policy`, { [`${h[0]}Name`]: h[1], PolicyArn: physicalId });
    return { physicalId, attributes: { PolicyArn: physicalId, ...((notes.attributes as Props | undefined) ?? {}) } };
  },
  async delete(physicalId, p, ctx) {
    const arn = physicalId ?? `arn:aws:iam::${ctx.scope.platform.accountId}:policy${str(p.Path) ?? '/'}${str(p.ManagedPolicyName) ?? nameWithin(ctx.plannedName, 128)}`;
    try {
      const users = await call<{ PolicyRoles?: Array<{ RoleName: string }>; PolicyUsers?: Array<{ UserName: string }>; PolicyGroups?: Array<{ GroupName: string }> }>(ctx, 'ListEntitiesForPolicy', { PolicyArn: arn });
      for (const r of users.PolicyRoles ?? []) await ignoreNotFound(call(ctx, 'DetachRolePolicy', { RoleName: r.RoleName, PolicyArn: arn }));
      for (const u of users.PolicyUsers ?? []) await ignoreNotFound(call(ctx, 'DetachUserPolicy', { UserName: u.UserName, PolicyArn: arn }));
      for (const g of users.PolicyGroups ?? []) await ignoreNotFound(call(ctx, 'DetachGroupPolicy', { GroupName: g.GroupName, PolicyArn: arn }));
      const versions = await call<{ Versions?: Array<{ VersionId: string; IsDefaultVersion: boolean }> }>(ctx, 'ListPolicyVersions', { PolicyArn: arn });
      for (const v of versions.Versions ?? []) if (!v.IsDefaultVersion) await ignoreNotFound(call(ctx, 'DeletePolicyVersion', { PolicyArn: arn, VersionId: v.VersionId }));
    } catch (e) {
      return ignoreNotFound(Promise.reject(e));
    }
    await ignoreNotFound(call(ctx, 'DeletePolicy', { PolicyArn: arn }));
  },
};

const instanceProfile: ResourceProvider = {
  async create(p, ctx) {
    const name = str(p.InstanceProfileName) ?? nameWithin(ctx.plannedName, 128);
    const out = await call<{ InstanceProfile: { Arn: string } }>(ctx, 'CreateInstanceProfile', { InstanceProfileName: name, Path: str(p.Path) });
    for (const r of strs(p.Roles)) await call(ctx, 'AddRoleToInstanceProfile', { InstanceProfileName: name, RoleName: r });
    return { physicalId: name, attributes: { Arn: out.InstanceProfile.Arn } };
  },
  async update(physicalId, p, before, ctx) {
    const now = new Set(strs(p.Roles));
    const was = new Set(strs(before.Roles));
    for (const r of was) if (!now.has(r)) await ignoreNotFound(call(ctx, 'RemoveRoleFromInstanceProfile', { InstanceProfileName: physicalId, RoleName: r }));
    for (const r of now) if (!was.has(r)) await call(ctx, 'AddRoleToInstanceProfile', { InstanceProfileName: physicalId, RoleName: r });
    const got = await call<{ InstanceProfile: { Arn: string } }>(ctx, 'GetInstanceProfile', { InstanceProfileName: physicalId });
    return { physicalId, attributes: { Arn: got.InstanceProfile.Arn } };
  },
  async delete(physicalId, p, ctx) {
    const name = physicalId ?? str(p.InstanceProfileName) ?? nameWithin(ctx.plannedName, 128);
    for (const r of strs(p.Roles)) await ignoreNotFound(call(ctx, 'RemoveRoleFromInstanceProfile', { InstanceProfileName: name, RoleName: r }));
    await ignoreNotFound(call(ctx, 'DeleteInstanceProfile', { InstanceProfileName: name }));
  },
};

const user: ResourceProvider = {
  async create(p, ctx) {
    const name = str(p.UserName) ?? nameWithin(ctx.plannedName, 64);
    const tags = mergedTags(ctx.tags, p.Tags);
    const out = await call<{ User: { Arn: string } }>(ctx, 'CreateUser', { UserName: name, Path: str(p.Path), PermissionsBoundary: str(p.PermissionsBoundary), Tags: tags.length ? tags : undefined });
    await syncPolicies(ctx, 'User', name, {}, p);
    for (const g of strs(p.Groups)) await call(ctx, 'AddUserToGroup', { UserName: name, GroupName: g });
    return { physicalId: name, attributes: { Arn: out.User.Arn } };
  },
  async update(physicalId, p, before, ctx) {
    await syncPolicies(ctx, 'User', physicalId, before, p);
    const now = new Set(strs(p.Groups));
    const was = new Set(strs(before.Groups));
    for (const g of was) if (!now.has(g)) await ignoreNotFound(call(ctx, 'RemoveUserFromGroup', { UserName: physicalId, GroupName: g }));
    for (const g of now) if (!was.has(g)) await call(ctx, 'AddUserToGroup', { UserName: physicalId, GroupName: g });
    const got = await call<{ User: { Arn: string } }>(ctx, 'GetUser', { UserName: physicalId });
    return { physicalId, attributes: { Arn: got.User.Arn } };
  },
  async delete(physicalId, p, ctx) {
    const name = physicalId ?? str(p.UserName) ?? nameWithin(ctx.plannedName, 64);
    try {
      await stripPolicies(ctx, 'User', name);
      for (const g of strs(p.Groups)) await ignoreNotFound(call(ctx, 'RemoveUserFromGroup', { UserName: name, GroupName: g }));
    } catch (e) {
      return ignoreNotFound(Promise.reject(e));
    }
    await ignoreNotFound(call(ctx, 'DeleteUser', { UserName: name }));
  },
};

const group: ResourceProvider = {
  async create(p, ctx) {
    const name = str(p.GroupName) ?? nameWithin(ctx.plannedName, 128);
    const out = await call<{ Group: { Arn: string } }>(ctx, 'CreateGroup', { GroupName: name, Path: str(p.Path) });
    await syncPolicies(ctx, 'Group', name, {}, p);
    return { physicalId: name, attributes: { Arn: out.Group.Arn } };
  },
  async update(physicalId, p, before, ctx) {
    await syncPolicies(ctx, 'Group', physicalId, before, p);
    const got = await call<{ Group: { Arn: string } }>(ctx, 'GetGroup', { GroupName: physicalId });
    return { physicalId, attributes: { Arn: got.Group.Arn } };
  },
  async delete(physicalId, p, ctx) {
    const name = physicalId ?? str(p.GroupName) ?? nameWithin(ctx.plannedName, 128);
    try {
      await stripPolicies(ctx, 'Group', name);
    } catch (e) {
      return ignoreNotFound(Promise.reject(e));
    }
    await ignoreNotFound(call(ctx, 'DeleteGroup', { GroupName: name }));
  },
};

export const iamProviders: Record<string, ResourceProvider> = {
  'AWS::IAM::Role': role,
  'AWS::IAM::Policy': inlinePolicy,
  'AWS::IAM::ManagedPolicy': managedPolicy,
  'AWS::IAM::InstanceProfile': instanceProfile,
  'AWS::IAM::User': user,
  'AWS::IAM::Group': group,
};
