/**
 * AWS IAM (awsQuery, 2010-05-08): users, groups, roles, managed policies with versions, inline
 * policies, permissions boundaries, access keys, instance profiles, tags, and
 * SimulatePrincipalPolicy on the same evaluator that guards every call. Records and rules live
 * in src/domain/iam; these handlers map them to IAM's shapes (policy documents URL-encoded in
 * answers, as IAM returns them).
 */
import type * as IAM from '../../generated/iam.js';
import { ServiceModel } from '../../protocol/model.js';
import type { Handlers, RequestContext, ServiceDefinition } from '../types.js';
import type { MasterKey } from '../../domain/ssm/masterKey.js';
import type { Authorizer } from '../../domain/iam/authorizer.js';
import * as id from '../../domain/iam/identities.js';
import { createAccessKey, deleteAccessKey, getAccessKey, listAccessKeys, updateAccessKey } from '../../domain/iam/credentials.js';
import { iamErrors, type GroupRecord, type InstanceProfileRecord, type ManagedPolicyRecord, type RoleRecord, type UserRecord } from '../../domain/iam/records.js';

const enc = (doc: string): string => encodeURIComponent(doc);
const date = (iso: string): Date => new Date(iso);

function user(u: UserRecord): IAM.User {
  return { UserName: u.name, UserId: u.id, Arn: u.arn, Path: u.path, CreateDate: date(u.created), Tags: u.tags.length ? u.tags : undefined, PermissionsBoundary: u.boundary ? { PermissionsBoundaryType: "PermissionsBoundaryPolicy", PermissionsBoundaryArn: u.boundary } : undefined };
}
function group(g: GroupRecord): IAM.Group {
  return { GroupName: g.name, GroupId: g.id, Arn: g.arn, Path: g.path, CreateDate: date(g.created) };
}
function role(r: RoleRecord): IAM.Role {
  return { RoleName: r.name, RoleId: r.id, Arn: r.arn, Path: r.path, CreateDate: date(r.created), AssumeRolePolicyDocument: enc(r.trustPolicy), Description: r.description, MaxSessionDuration: r.maxSessionDuration, Tags: r.tags.length ? r.tags : undefined, PermissionsBoundary: r.boundary ? { PermissionsBoundaryType: "PermissionsBoundaryPolicy", PermissionsBoundaryArn: r.boundary } : undefined };
}
function policy(p: ManagedPolicyRecord): IAM.Policy {
  return { PolicyName: p.name, PolicyId: p.id, Arn: p.arn, Path: p.path, DefaultVersionId: p.defaultVersionId, AttachmentCount: p.attachments, PermissionsBoundaryUsageCount: 0, IsAttachable: true, Description: p.description, CreateDate: date(p.created), UpdateDate: date(p.updated), Tags: p.tags.length ? p.tags : undefined };
}
function profile(p: InstanceProfileRecord, roles: RoleRecord[]): IAM.InstanceProfile {
  return { InstanceProfileName: p.name, InstanceProfileId: p.id, Arn: p.arn, Path: p.path, CreateDate: date(p.created), Roles: roles.map(role) };
}

/** One page of a list, IAM style (`Marker`, `MaxItems` up to 1000, `IsTruncated`). */
function page<T>(items: T[], marker: string | undefined, maxItems: number | undefined): { items: T[]; IsTruncated: boolean; Marker?: string } {
  let start = 0;
  if (marker !== undefined) {
    start = Number.parseInt(Buffer.from(marker, 'base64url').toString('utf8'), 10);
    if (!Number.isInteger(start) || start < 0 || start > items.length) throw iamErrors.invalidInput('The Marker is not one this API returned.');
  }
  const n = Math.min(Math.max(maxItems ?? 100, 1), 1000);
  const slice = items.slice(start, start + n);
  const more = start + n < items.length;
  return { items: slice, IsTruncated: more, Marker: more ? Buffer.from(String(start + n)).toString('base64url') : undefined };
}

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function iamService(master: MasterKey, authorizer: Authorizer): ServiceDefinition {
  /** The user an access-key call is about: the named one, else the caller (a user). */
  const selfOr = (name: string | undefined, ctx: RequestContext): string => {
    if (name) return name;
    if (ctx.principal.userName) return ctx.principal.userName;
    throw iamErrors.invalidInput('Specify UserName: the caller is not an IAM user.');
  };

  const handlers: Handlers<IAM.Operations> = {
    async CreateUser(i, ctx) {
      return { User: user(await id.createUser(ctx, { name: i.UserName, path: i.Path, boundary: i.PermissionsBoundary, tags: i.Tags })) };
    },
    async GetUser(i, ctx) {
      if (!i.UserName && ctx.principal.kind === 'root') {
        const acct = ctx.platform.accountId;
        return { User: { UserName: 'root', UserId: acct, Arn: `arn:aws:iam::${acct}:root`, Path: '/', CreateDate: new Date(0) } };
      }
      return { User: user(await id.getUser(ctx, selfOr(i.UserName, ctx))) };
    },
    async ListUsers(i, ctx) {
      const p = page((await id.listHolders<UserRecord>(ctx, 'user', i.PathPrefix)).sort(byName), i.Marker, i.MaxItems);
      return { Users: p.items.map(user), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
    async DeleteUser(i, ctx) {
      await id.deleteHolder(ctx, 'user', i.UserName);
      return {};
    },
    async TagUser(i, ctx) {
      await id.tagHolder(ctx, 'user', i.UserName, i.Tags, []);
      return {};
    },
    async UntagUser(i, ctx) {
      await id.tagHolder(ctx, 'user', i.UserName, [], i.TagKeys);
      return {};
    },
    async ListUserTags(i, ctx) {
      return { Tags: (await id.getUser(ctx, i.UserName)).tags, IsTruncated: false };
    },
    async CreateGroup(i, ctx) {
      return { Group: group(await id.createGroup(ctx, { name: i.GroupName, path: i.Path })) };
    },
    async GetGroup(i, ctx) {
      const g = await id.getGroup(ctx, i.GroupName);
      const members = (await id.listHolders<UserRecord>(ctx, 'user')).filter((u) => u.groups.includes(g.name)).sort(byName);
      const p = page(members, i.Marker, i.MaxItems);
      return { Group: group(g), Users: p.items.map(user), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
    async ListGroups(i, ctx) {
      const p = page((await id.listHolders<GroupRecord>(ctx, 'group', i.PathPrefix)).sort(byName), i.Marker, i.MaxItems);
      return { Groups: p.items.map(group), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
    async ListGroupsForUser(i, ctx) {
      const u = await id.getUser(ctx, i.UserName);
      const groups = await Promise.all(u.groups.map((g) => id.getGroup(ctx, g).catch(() => undefined)));
      const p = page(groups.filter((g): g is GroupRecord => g !== undefined).sort(byName), i.Marker, i.MaxItems);
      return { Groups: p.items.map(group), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
    async DeleteGroup(i, ctx) {
      await id.deleteHolder(ctx, 'group', i.GroupName);
      return {};
    },
    async AddUserToGroup(i, ctx) {
      await id.setMembership(ctx, i.GroupName, i.UserName, true);
      return {};
    },
    async RemoveUserFromGroup(i, ctx) {
      await id.setMembership(ctx, i.GroupName, i.UserName, false);
      return {};
    },
    async CreateRole(i, ctx) {
      return { Role: role(await id.createRole(ctx, { name: i.RoleName, path: i.Path, trustPolicy: i.AssumeRolePolicyDocument, description: i.Description, maxSessionDuration: i.MaxSessionDuration, boundary: i.PermissionsBoundary, tags: i.Tags })) };
    },
    async GetRole(i, ctx) {
      return { Role: role(await id.getRole(ctx, i.RoleName)) };
    },
    async ListRoles(i, ctx) {
      const p = page((await id.listHolders<RoleRecord>(ctx, 'role', i.PathPrefix)).sort(byName), i.Marker, i.MaxItems);
      return { Roles: p.items.map(role), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
    async DeleteRole(i, ctx) {
      await id.deleteHolder(ctx, 'role', i.RoleName);
      return {};
    },
    async UpdateRole(i, ctx) {
      await id.updateRole(ctx, i.RoleName, { description: i.Description, maxSessionDuration: i.MaxSessionDuration });
      return {};
    },
    async UpdateRoleDescription(i, ctx) {
      await id.updateRole(ctx, i.RoleName, { description: i.Description });
      return { Role: role(await id.getRole(ctx, i.RoleName)) };
    },
    async UpdateAssumeRolePolicy(i, ctx) {
      await id.updateRole(ctx, i.RoleName, { trustPolicy: i.PolicyDocument });
      return {};
    },
    async TagRole(i, ctx) {
      await id.tagHolder(ctx, 'role', i.RoleName, i.Tags, []);
      return {};
    },
    async UntagRole(i, ctx) {
      await id.tagHolder(ctx, 'role', i.RoleName, [], i.TagKeys);
      return {};
    },
    async ListRoleTags(i, ctx) {
      return { Tags: (await id.getRole(ctx, i.RoleName)).tags, IsTruncated: false };
    },
    async PutUserPermissionsBoundary(i, ctx) {
      await id.setBoundary(ctx, 'user', i.UserName, i.PermissionsBoundary);
      return {};
    },
    async DeleteUserPermissionsBoundary(i, ctx) {
      await id.setBoundary(ctx, 'user', i.UserName, undefined);
      return {};
    },
    async PutRolePermissionsBoundary(i, ctx) {
      await id.setBoundary(ctx, 'role', i.RoleName, i.PermissionsBoundary);
      return {};
    },
    async DeleteRolePermissionsBoundary(i, ctx) {
      await id.setBoundary(ctx, 'role', i.RoleName, undefined);
      return {};
    },
    // Inline policies.
    async PutUserPolicy(i, ctx) {
      await id.putInline(ctx, 'user', i.UserName, i.PolicyName, i.PolicyDocument);
      return {};
    },
    async GetUserPolicy(i, ctx) {
      return { UserName: i.UserName, PolicyName: i.PolicyName, PolicyDocument: enc(await id.getInline(ctx, 'user', i.UserName, i.PolicyName)) };
    },
    async DeleteUserPolicy(i, ctx) {
      await id.deleteInline(ctx, 'user', i.UserName, i.PolicyName);
      return {};
    },
    async ListUserPolicies(i, ctx) {
      return { PolicyNames: await id.listInline(ctx, 'user', i.UserName), IsTruncated: false };
    },
    async PutGroupPolicy(i, ctx) {
      await id.putInline(ctx, 'group', i.GroupName, i.PolicyName, i.PolicyDocument);
      return {};
    },
    async GetGroupPolicy(i, ctx) {
      return { GroupName: i.GroupName, PolicyName: i.PolicyName, PolicyDocument: enc(await id.getInline(ctx, 'group', i.GroupName, i.PolicyName)) };
    },
    async DeleteGroupPolicy(i, ctx) {
      await id.deleteInline(ctx, 'group', i.GroupName, i.PolicyName);
      return {};
    },
    async ListGroupPolicies(i, ctx) {
      return { PolicyNames: await id.listInline(ctx, 'group', i.GroupName), IsTruncated: false };
    },
    async PutRolePolicy(i, ctx) {
      await id.putInline(ctx, 'role', i.RoleName, i.PolicyName, i.PolicyDocument);
      return {};
    },
    async GetRolePolicy(i, ctx) {
      return { RoleName: i.RoleName, PolicyName: i.PolicyName, PolicyDocument: enc(await id.getInline(ctx, 'role', i.RoleName, i.PolicyName)) };
    },
    async DeleteRolePolicy(i, ctx) {
      await id.deleteInline(ctx, 'role', i.RoleName, i.PolicyName);
      return {};
    },
    async ListRolePolicies(i, ctx) {
      return { PolicyNames: await id.listInline(ctx, 'role', i.RoleName), IsTruncated: false };
    },
    // Managed policies.
    async CreatePolicy(i, ctx) {
      return { Policy: policy(await id.createPolicy(ctx, { name: i.PolicyName, path: i.Path, document: i.PolicyDocument, description: i.Description, tags: i.Tags })) };
    },
    async GetPolicy(i, ctx) {
      return { Policy: policy(await id.getPolicy(ctx, i.PolicyArn)) };
    },
    async ListPolicies(i, ctx) {
      const all = (await id.listPolicies(ctx, (i.Scope as 'All' | 'AWS' | 'Local' | undefined) ?? 'All', i.PathPrefix, i.OnlyAttached ?? false)).sort(byName);
      const p = page(all, i.Marker, i.MaxItems);
      return { Policies: p.items.map(policy), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
    async DeletePolicy(i, ctx) {
      await id.deletePolicy(ctx, i.PolicyArn);
      return {};
    },
    async CreatePolicyVersion(i, ctx) {
      const v = await id.createPolicyVersion(ctx, i.PolicyArn, i.PolicyDocument, i.SetAsDefault ?? false);
      return { PolicyVersion: { VersionId: v.versionId, IsDefaultVersion: i.SetAsDefault ?? false, CreateDate: date(v.created) } };
    },
    async GetPolicyVersion(i, ctx) {
      const p = await id.getPolicy(ctx, i.PolicyArn);
      const v = p.versions.find((x) => x.versionId === i.VersionId);
      if (!v) throw iamErrors.noSuchEntity(`Policy ${i.PolicyArn} version ${i.VersionId}`);
      return { PolicyVersion: { VersionId: v.versionId, Document: enc(v.document), IsDefaultVersion: v.versionId === p.defaultVersionId, CreateDate: date(v.created) } };
    },
    async ListPolicyVersions(i, ctx) {
      const p = await id.getPolicy(ctx, i.PolicyArn);
      return { Versions: [...p.versions].reverse().map((v) => ({ VersionId: v.versionId, IsDefaultVersion: v.versionId === p.defaultVersionId, CreateDate: date(v.created) })), IsTruncated: false };
    },
    async SetDefaultPolicyVersion(i, ctx) {
      await id.setDefaultVersion(ctx, i.PolicyArn, i.VersionId);
      return {};
    },
    async DeletePolicyVersion(i, ctx) {
      await id.deletePolicyVersion(ctx, i.PolicyArn, i.VersionId);
      return {};
    },
    async AttachUserPolicy(i, ctx) {
      await id.setAttachment(ctx, 'user', i.UserName, i.PolicyArn, true);
      return {};
    },
    async DetachUserPolicy(i, ctx) {
      await id.setAttachment(ctx, 'user', i.UserName, i.PolicyArn, false);
      return {};
    },
    async AttachGroupPolicy(i, ctx) {
      await id.setAttachment(ctx, 'group', i.GroupName, i.PolicyArn, true);
      return {};
    },
    async DetachGroupPolicy(i, ctx) {
      await id.setAttachment(ctx, 'group', i.GroupName, i.PolicyArn, false);
      return {};
    },
    async AttachRolePolicy(i, ctx) {
      await id.setAttachment(ctx, 'role', i.RoleName, i.PolicyArn, true);
      return {};
    },
    async DetachRolePolicy(i, ctx) {
      await id.setAttachment(ctx, 'role', i.RoleName, i.PolicyArn, false);
      return {};
    },
    async ListAttachedUserPolicies(i, ctx) {
      return { AttachedPolicies: (await id.listAttached(ctx, 'user', i.UserName)).map((a) => ({ PolicyName: a.name, PolicyArn: a.arn })), IsTruncated: false };
    },
    async ListAttachedGroupPolicies(i, ctx) {
      return { AttachedPolicies: (await id.listAttached(ctx, 'group', i.GroupName)).map((a) => ({ PolicyName: a.name, PolicyArn: a.arn })), IsTruncated: false };
    },
    async ListAttachedRolePolicies(i, ctx) {
      return { AttachedPolicies: (await id.listAttached(ctx, 'role', i.RoleName)).map((a) => ({ PolicyName: a.name, PolicyArn: a.arn })), IsTruncated: false };
    },
    async ListEntitiesForPolicy(i, ctx) {
      const e = await id.entitiesFor(ctx, i.PolicyArn);
      return {
        PolicyUsers: e.user.map((x) => ({ UserName: x.name, UserId: x.id })),
        PolicyGroups: e.group.map((x) => ({ GroupName: x.name, GroupId: x.id })),
        PolicyRoles: e.role.map((x) => ({ RoleName: x.name, RoleId: x.id })),
        IsTruncated: false,
      };
    },
    // Access keys.
    async CreateAccessKey(i, ctx) {
      const k = await createAccessKey(ctx, master, selfOr(i.UserName, ctx));
      return { AccessKey: { AccessKeyId: k.accessKeyId, SecretAccessKey: k.secret, Status: k.status, UserName: k.userName, CreateDate: date(k.created) } };
    },
    async ListAccessKeys(i, ctx) {
      const keys = await listAccessKeys(ctx, selfOr(i.UserName, ctx));
      return { AccessKeyMetadata: keys.map((k) => ({ AccessKeyId: k.accessKeyId, Status: k.status, UserName: k.userName, CreateDate: date(k.created) })), IsTruncated: false };
    },
    async UpdateAccessKey(i, ctx) {
      await updateAccessKey(ctx, i.AccessKeyId, i.UserName ?? ctx.principal.userName, i.Status as 'Active' | 'Inactive');
      return {};
    },
    async DeleteAccessKey(i, ctx) {
      await deleteAccessKey(ctx, i.AccessKeyId, i.UserName ?? ctx.principal.userName);
      return {};
    },
    async GetAccessKeyLastUsed(i, ctx) {
      const k = await getAccessKey(ctx, i.AccessKeyId);
      return { UserName: k.userName, AccessKeyLastUsed: k.lastUsed ? { LastUsedDate: date(k.lastUsed.date), ServiceName: k.lastUsed.service, Region: k.lastUsed.region } : { ServiceName: 'N/A', Region: 'N/A' } };
    },
    // Instance profiles.
    async CreateInstanceProfile(i, ctx) {
      return { InstanceProfile: profile(await id.createInstanceProfile(ctx, i.InstanceProfileName, i.Path), []) };
    },
    async GetInstanceProfile(i, ctx) {
      const p = await id.getInstanceProfile(ctx, i.InstanceProfileName);
      return { InstanceProfile: profile(p, await Promise.all(p.roles.map((r) => id.getRole(ctx, r)))) };
    },
    async ListInstanceProfiles(_i, ctx) {
      const all = await id.listInstanceProfiles(ctx);
      return { InstanceProfiles: await Promise.all(all.map(async (p) => profile(p, await Promise.all(p.roles.map((r) => id.getRole(ctx, r)))))), IsTruncated: false };
    },
    async AddRoleToInstanceProfile(i, ctx) {
      await id.setProfileRole(ctx, i.InstanceProfileName, i.RoleName, true);
      return {};
    },
    async RemoveRoleFromInstanceProfile(i, ctx) {
      await id.setProfileRole(ctx, i.InstanceProfileName, i.RoleName, false);
      return {};
    },
    async DeleteInstanceProfile(i, ctx) {
      await id.deleteInstanceProfile(ctx, i.InstanceProfileName);
      return {};
    },
    // The simulator: the same evaluator as every request, on a user's or role's policies.
    async SimulatePrincipalPolicy(i, ctx) {
      const source = i.PolicySourceArn;
      const m = /^arn:aws:iam::\d{12}:(user|role)\/(?:.*\/)?([\w+=,.@-]+)$/.exec(source);
      if (!m) throw iamErrors.invalidInput('PolicySourceArn must be the ARN of a user or a role in this account.');
      const caller =
        m[1] === 'user'
          ? { kind: 'user' as const, arn: (await id.getUser(ctx, m[2]!)).arn, accountId: ctx.platform.accountId, userId: '', accessKeyId: '', userName: m[2]! }
          : { kind: 'assumed-role' as const, arn: (await id.getRole(ctx, m[2]!)).arn, accountId: ctx.platform.accountId, userId: '', accessKeyId: `simulate:${m[2]}`, roleName: m[2]!, roleArn: source, sessionPolicies: i.PolicyInputList };
      if (i.ActionNames.length > 100 || (i.ResourceArns?.length ?? 0) > 100) throw iamErrors.invalidInput('Simulate at most 100 actions and 100 resources at once.');
      const keys: Record<string, string[]> = {};
      for (const e of i.ContextEntries ?? []) if (e.ContextKeyName) keys[e.ContextKeyName.toLowerCase()] = e.ContextKeyValues ?? [];
      const results: IAM.EvaluationResult[] = [];
      for (const action of i.ActionNames) {
        for (const resource of i.ResourceArns?.length ? i.ResourceArns : ['*']) {
          const d = await authorizer.decide(caller, { action, resource, keys });
          const decision = d.allowed ? 'allowed' : d.reason.startsWith('explicit') ? 'explicitDeny' : 'implicitDeny';
          results.push({ EvalActionName: action, EvalResourceName: resource, EvalDecision: decision });
        }
      }
      return { EvaluationResults: results, IsTruncated: false };
    },
  };

  return {
    name: 'iam',
    model: ServiceModel.load('iam'),
    protocol: 'query',
    signingNames: ['iam'],
    validationErrorCode: 'ValidationError',
    handlers,
  };
}
