/**
 * IAM's principals and policies as records: users, groups, roles, managed policies (with
 * versions and attachment counts), inline policies, permissions boundaries, instance profiles.
 * Each operation checks what IAM checks (names, paths, quotas, documents, dependents on delete)
 * and writes through the domain's one primitive (src/domain/mutate.ts), atomically where two
 * records change together (an attachment and its policy's count).
 */
import { retrying, mutate } from '../mutate.js';
import type { Scope } from '../platform.js';
import type { StoredRecord, Write } from '../../store/types.js';
import { compilePolicy, type PolicyKind } from './policy/document.js';
import { AWS_MANAGED_ARNS, awsManagedPolicy, isAwsManaged } from './awsManaged.js';
import {
  KINDS,
  checkPath,
  iamArn,
  iamErrors,
  iamId,
  INLINE_LIMIT,
  MANAGED_LIMIT,
  MAX_ATTACHED,
  MAX_VERSIONS,
  type GroupRecord,
  type InstanceProfileRecord,
  type ManagedPolicyRecord,
  type PolicyHolder,
  type RoleRecord,
  type Tag,
  type UserRecord,
} from './records.js';

/** The three kinds of record that hold policies. */
export type HolderType = 'user' | 'group' | 'role';

const HOLDER_KIND: Record<HolderType, string> = { user: KINDS.user, group: KINDS.group, role: KINDS.role };
const ID_PREFIX = { user: 'AIDA', group: 'AGPA', role: 'AROA' } as const;
const NAME_RE = /^[\w+=,.@-]{1,128}$/;

function now(s: Scope): string {
  return new Date(s.platform.clock.now()).toISOString();
}

function checkName(name: string, what: string, max = 64): void {
  if (name.length > max || !NAME_RE.test(name)) throw iamErrors.invalidInput(`The specified value for ${what} is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_- (1 to ${max} characters).`);
}

function checkTags(tags: Tag[] | undefined): Tag[] {
  const t = tags ?? [];
  if (t.length > 50) throw iamErrors.limit('The number of tags has reached the maximum limit of 50.');
  const keys = new Set<string>();
  for (const { Key } of t) {
    if (keys.has(Key)) throw iamErrors.invalidInput(`Duplicate tag keys found: ${Key.slice(0, 128)}. Tag keys are case insensitive.`);
    keys.add(Key);
  }
  return t;
}

/** Checks a policy document for storage: valid for its kind and within the size IAM allows. */
export function checkDocument(text: string, kind: PolicyKind, maxChars: number): void {
  if (text.replace(/\s/g, '').length > maxChars) throw iamErrors.limit(`Cannot exceed quota for PolicySize: ${maxChars}.`);
  compilePolicy(text, kind);
}

async function getHolder<T extends PolicyHolder>(s: Scope, type: HolderType, name: string): Promise<StoredRecord<T>> {
  const r = await s.platform.store.get<T>(HOLDER_KIND[type], name);
  if (!r) throw iamErrors.noSuchEntity(`${type} with name ${name}`);
  return r;
}

// --- users, groups, roles ---------------------------------------------------------------------

export async function createUser(s: Scope, input: { name: string; path?: string; boundary?: string; tags?: Tag[] }): Promise<UserRecord> {
  checkName(input.name, 'userName');
  const path = checkPath(input.path);
  if (input.boundary) await requirePolicy(s, input.boundary);
  const user: UserRecord = { name: input.name, path, id: iamId(ID_PREFIX.user), arn: iamArn(s.platform.accountId, 'user', path, input.name), created: now(s), tags: checkTags(input.tags), boundary: input.boundary, groups: [], attached: [], inline: {} };
  await createOnce(s, KINDS.user, input.name, user, `User with name ${input.name}`);
  return user;
}

export async function createGroup(s: Scope, input: { name: string; path?: string }): Promise<GroupRecord> {
  checkName(input.name, 'groupName');
  const path = checkPath(input.path);
  const group: GroupRecord = { name: input.name, path, id: iamId(ID_PREFIX.group), arn: iamArn(s.platform.accountId, 'group', path, input.name), created: now(s), attached: [], inline: {} };
  await createOnce(s, KINDS.group, input.name, group, `Group with name ${input.name}`);
  return group;
}

export async function createRole(s: Scope, input: { name: string; path?: string; trustPolicy: string; description?: string; maxSessionDuration?: number; boundary?: string; tags?: Tag[] }): Promise<RoleRecord> {
  checkName(input.name, 'roleName');
  const path = checkPath(input.path);
  checkDocument(input.trustPolicy, 'trust', 2048);
  const max = input.maxSessionDuration ?? 3600;
  if (max < 3600 || max > 43200) throw iamErrors.invalidInput('MaxSessionDuration must be between 3600 and 43200 seconds.');
  if (input.boundary) await requirePolicy(s, input.boundary);
  const role: RoleRecord = { name: input.name, path, id: iamId(ID_PREFIX.role), arn: iamArn(s.platform.accountId, 'role', path, input.name), created: now(s), trustPolicy: input.trustPolicy, description: input.description, maxSessionDuration: max, tags: checkTags(input.tags), boundary: input.boundary, attached: [], inline: {} };
  await createOnce(s, KINDS.role, input.name, role, `Role with name ${input.name}`);
  return role;
}

async function createOnce(s: Scope, kind: string, key: string, value: unknown, what: string): Promise<void> {
  await retrying(what, async () => {
    if (await s.platform.store.get(kind, key)) throw iamErrors.exists(what);
    await s.platform.store.commit([{ kind, key, value, expectRev: 0 }]);
  });
}

export async function getUser(s: Scope, name: string): Promise<UserRecord> {
  return (await getHolder<UserRecord>(s, 'user', name)).value;
}
export async function getGroup(s: Scope, name: string): Promise<GroupRecord> {
  return (await getHolder<GroupRecord>(s, 'group', name)).value;
}
export async function getRole(s: Scope, name: string): Promise<RoleRecord> {
  return (await getHolder<RoleRecord>(s, 'role', name)).value;
}

/** Every record of a holder kind under a path prefix, in name order (IAM accounts are small: bounded by the store's list limit). */
export async function listHolders<T extends { path: string }>(s: Scope, type: HolderType, pathPrefix = '/'): Promise<T[]> {
  const all = await s.platform.store.list<T>(HOLDER_KIND[type], { limit: 10_000 });
  return all.map((r) => r.value).filter((v) => v.path.startsWith(pathPrefix));
}

/** Deletes a user, group or role; IAM refuses while anything still hangs on it. */
export async function deleteHolder(s: Scope, type: HolderType, name: string): Promise<void> {
  await retrying(`${type} ${name}`, async () => {
    const r = await getHolder<PolicyHolder & { groups?: string[] }>(s, type, name);
    const v = r.value;
    if (v.attached.length) throw iamErrors.deleteConflict(`Cannot delete entity, must detach all policies first.`);
    if (Object.keys(v.inline).length) throw iamErrors.deleteConflict(`Cannot delete entity, must delete policies first.`);
    if (type === 'user') {
      if (v.groups?.length) throw iamErrors.deleteConflict('Cannot delete entity, must remove users from group first.');
      const keys = await s.platform.store.list<{ userName: string }>(KINDS.accessKey, { limit: 10_000 });
      if (keys.some((k) => k.value.userName === name)) throw iamErrors.deleteConflict('Cannot delete entity, must delete access keys first.');
    }
    if (type === 'group') {
      const users = await s.platform.store.list<UserRecord>(KINDS.user, { limit: 10_000 });
      if (users.some((u) => u.value.groups.includes(name))) throw iamErrors.deleteConflict('Cannot delete entity, must remove users from group first.');
    }
    if (type === 'role') {
      const profiles = await s.platform.store.list<InstanceProfileRecord>(KINDS.profile, { limit: 10_000 });
      if (profiles.some((p) => p.value.roles.includes(name))) throw iamErrors.deleteConflict('Cannot delete entity, must remove roles from instance profile first.');
    }
    await s.platform.store.commit([{ kind: HOLDER_KIND[type], key: name, value: null, expectRev: r.rev }]);
  });
}

/** Adds or removes a user's membership of a group. */
export async function setMembership(s: Scope, groupName: string, userName: string, member: boolean): Promise<void> {
  await getGroup(s, groupName);
  await mutate<UserRecord>(s.platform.store, KINDS.user, userName, (u) => {
    if (!u) throw iamErrors.noSuchEntity(`user with name ${userName}`);
    const has = u.groups.includes(groupName);
    if (has === member) return undefined;
    if (member && u.groups.length >= 10) throw iamErrors.limit('Cannot exceed quota for GroupsPerUser: 10');
    u.groups = member ? [...u.groups, groupName] : u.groups.filter((g) => g !== groupName);
    return u;
  });
}

export async function updateRole(s: Scope, name: string, change: { trustPolicy?: string; description?: string; maxSessionDuration?: number }): Promise<void> {
  if (change.trustPolicy !== undefined) checkDocument(change.trustPolicy, 'trust', 2048);
  if (change.maxSessionDuration !== undefined && (change.maxSessionDuration < 3600 || change.maxSessionDuration > 43200)) throw iamErrors.invalidInput('MaxSessionDuration must be between 3600 and 43200 seconds.');
  await mutate<RoleRecord>(s.platform.store, KINDS.role, name, (r) => {
    if (!r) throw iamErrors.noSuchEntity(`role with name ${name}`);
    if (change.trustPolicy !== undefined) r.trustPolicy = change.trustPolicy;
    if (change.description !== undefined) r.description = change.description;
    if (change.maxSessionDuration !== undefined) r.maxSessionDuration = change.maxSessionDuration;
    return r;
  });
}

/** Adds tags to (or, with `remove`, removes tag keys from) a user or role. */
export async function tagHolder(s: Scope, type: 'user' | 'role', name: string, add: Tag[], remove: string[]): Promise<void> {
  await mutate<UserRecord | RoleRecord>(s.platform.store, HOLDER_KIND[type], name, (r) => {
    if (!r) throw iamErrors.noSuchEntity(`${type} with name ${name}`);
    const byKey = new Map(r.tags.map((t) => [t.Key.toLowerCase(), t]));
    for (const t of add) byKey.set(t.Key.toLowerCase(), t);
    for (const k of remove) byKey.delete(k.toLowerCase());
    r.tags = checkTags([...byKey.values()]);
    return r;
  });
}

export async function setBoundary(s: Scope, type: 'user' | 'role', name: string, policyArn: string | undefined): Promise<void> {
  if (policyArn) await requirePolicy(s, policyArn);
  await mutate<UserRecord | RoleRecord>(s.platform.store, HOLDER_KIND[type], name, (r) => {
    if (!r) throw iamErrors.noSuchEntity(`${type} with name ${name}`);
    r.boundary = policyArn;
    return r;
  });
}

// --- inline policies --------------------------------------------------------------------------

export async function putInline(s: Scope, type: HolderType, holder: string, policyName: string, document: string): Promise<void> {
  checkName(policyName, 'policyName');
  compilePolicy(document, 'identity');
  await mutate<PolicyHolder>(s.platform.store, HOLDER_KIND[type], holder, (h) => {
    if (!h) throw iamErrors.noSuchEntity(`${type} with name ${holder}`);
    h.inline[policyName] = document;
    const total = Object.values(h.inline).reduce((n, d) => n + d.replace(/\s/g, '').length, 0);
    if (total > INLINE_LIMIT[type]) throw iamErrors.limit(`Maximum policy size of ${INLINE_LIMIT[type]} bytes exceeded for ${type} ${holder}`);
    return h;
  });
}

export async function getInline(s: Scope, type: HolderType, holder: string, policyName: string): Promise<string> {
  const h = (await getHolder<PolicyHolder>(s, type, holder)).value;
  const doc = Object.hasOwn(h.inline, policyName) ? h.inline[policyName] : undefined;
  if (doc === undefined) throw iamErrors.noSuchEntity(`${type} policy with name ${policyName}`);
  return doc;
}

export async function deleteInline(s: Scope, type: HolderType, holder: string, policyName: string): Promise<void> {
  await mutate<PolicyHolder>(s.platform.store, HOLDER_KIND[type], holder, (h) => {
    if (!h) throw iamErrors.noSuchEntity(`${type} with name ${holder}`);
    if (!Object.hasOwn(h.inline, policyName)) throw iamErrors.noSuchEntity(`${type} policy with name ${policyName}`);
    delete h.inline[policyName];
    return h;
  });
}

export async function listInline(s: Scope, type: HolderType, holder: string): Promise<string[]> {
  return Object.keys((await getHolder<PolicyHolder>(s, type, holder)).value.inline).sort();
}

// --- managed policies -------------------------------------------------------------------------

/** A managed policy by ARN: an AWS managed one (built in) or the account's own. */
export async function getPolicy(s: Scope, policyArn: string): Promise<ManagedPolicyRecord> {
  const builtin = awsManagedPolicy(policyArn);
  if (builtin) return builtin;
  const r = await s.platform.store.get<ManagedPolicyRecord>(KINDS.policy, policyArn);
  if (!r) throw iamErrors.noSuchEntity(`Policy ${policyArn} does not exist or is not attachable`);
  return r.value;
}

async function requirePolicy(s: Scope, policyArn: string): Promise<void> {
  await getPolicy(s, policyArn);
}

export async function createPolicy(s: Scope, input: { name: string; path?: string; document: string; description?: string; tags?: Tag[] }): Promise<ManagedPolicyRecord> {
  checkName(input.name, 'policyName', 128);
  const path = checkPath(input.path);
  checkDocument(input.document, 'identity', MANAGED_LIMIT);
  const t = now(s);
  const arn = iamArn(s.platform.accountId, 'policy', path, input.name);
  const p: ManagedPolicyRecord = { name: input.name, path, id: iamId('ANPA'), arn, description: input.description, defaultVersionId: 'v1', versions: [{ versionId: 'v1', document: input.document, created: t }], nextVersion: 2, attachments: 0, created: t, updated: t, tags: checkTags(input.tags) };
  // One name per account whatever the path, as IAM.
  await retrying(`policy ${input.name}`, async () => {
    const all = await s.platform.store.list<ManagedPolicyRecord>(KINDS.policy, { limit: 10_000 });
    if (all.some((r) => r.value.name === input.name)) throw iamErrors.exists(`A policy called ${input.name}`);
    await s.platform.store.commit([{ kind: KINDS.policy, key: arn, value: p, expectRev: 0 }]);
  });
  return p;
}

export async function listPolicies(s: Scope, scope: 'All' | 'AWS' | 'Local', pathPrefix = '/', onlyAttached = false): Promise<ManagedPolicyRecord[]> {
  const local = scope === 'AWS' ? [] : (await s.platform.store.list<ManagedPolicyRecord>(KINDS.policy, { limit: 10_000 })).map((r) => r.value);
  const aws = scope === 'Local' ? [] : await awsManagedWithCounts(s);
  return [...aws, ...local].filter((p) => p.path.startsWith(pathPrefix) && (!onlyAttached || p.attachments > 0));
}

async function awsManagedWithCounts(s: Scope): Promise<ManagedPolicyRecord[]> {
  const counts = new Map<string, number>();
  for (const type of ['user', 'group', 'role'] as const) {
    for (const h of await listHolders<PolicyHolder & { path: string }>(s, type)) for (const a of h.attached) counts.set(a, (counts.get(a) ?? 0) + 1);
  }
  return AWS_MANAGED_ARNS.map((a) => ({ ...awsManagedPolicy(a)!, attachments: counts.get(a) ?? 0 }));
}

export async function deletePolicy(s: Scope, policyArn: string): Promise<void> {
  if (isAwsManaged(policyArn)) throw iamErrors.invalidInput('AWS managed policies cannot be deleted.');
  await mutate<ManagedPolicyRecord>(s.platform.store, KINDS.policy, policyArn, (p) => {
    if (!p) throw iamErrors.noSuchEntity(`Policy ${policyArn} was not found.`);
    if (p.attachments > 0) throw iamErrors.deleteConflict('Cannot delete a policy attached to entities.');
    if (p.versions.length > 1) throw iamErrors.deleteConflict('This policy has more than one version. Before you delete a policy, you must delete the policy\'s versions. The default version is deleted with the policy.');
    return null;
  });
}

export async function createPolicyVersion(s: Scope, policyArn: string, document: string, setAsDefault: boolean): Promise<{ versionId: string; created: string }> {
  if (isAwsManaged(policyArn)) throw iamErrors.invalidInput('AWS managed policies cannot be changed.');
  checkDocument(document, 'identity', MANAGED_LIMIT);
  const out = await mutate<ManagedPolicyRecord>(s.platform.store, KINDS.policy, policyArn, (p) => {
    if (!p) throw iamErrors.noSuchEntity(`Policy ${policyArn} was not found.`);
    if (p.versions.length >= MAX_VERSIONS) throw iamErrors.limit(`A managed policy can have up to ${MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version.`);
    const versionId = `v${p.nextVersion}`;
    const t = now(s);
    p.versions.push({ versionId, document, created: t });
    p.nextVersion++;
    p.updated = t;
    if (setAsDefault) p.defaultVersionId = versionId;
    return p;
  });
  const v = out.value!.versions.at(-1)!;
  return { versionId: v.versionId, created: v.created };
}

export async function setDefaultVersion(s: Scope, policyArn: string, versionId: string): Promise<void> {
  await mutate<ManagedPolicyRecord>(s.platform.store, KINDS.policy, policyArn, (p) => {
    if (!p) throw iamErrors.noSuchEntity(`Policy ${policyArn} was not found.`);
    if (!p.versions.some((v) => v.versionId === versionId)) throw iamErrors.noSuchEntity(`Policy ${policyArn} version ${versionId} does not exist or is not attachable.`);
    p.defaultVersionId = versionId;
    return p;
  });
}

export async function deletePolicyVersion(s: Scope, policyArn: string, versionId: string): Promise<void> {
  await mutate<ManagedPolicyRecord>(s.platform.store, KINDS.policy, policyArn, (p) => {
    if (!p) throw iamErrors.noSuchEntity(`Policy ${policyArn} was not found.`);
    if (!p.versions.some((v) => v.versionId === versionId)) throw iamErrors.noSuchEntity(`Policy ${policyArn} version ${versionId} does not exist.`);
    if (p.defaultVersionId === versionId) throw iamErrors.deleteConflict('Cannot delete the default version of a policy.');
    p.versions = p.versions.filter((v) => v.versionId !== versionId);
    return p;
  });
}

/** Attaches (or detaches) a managed policy, keeping the policy's attachment count in the same commit. */
export async function setAttachment(s: Scope, type: HolderType, holder: string, policyArn: string, attach: boolean): Promise<void> {
  await retrying(`${type} ${holder}`, async () => {
    const h = await getHolder<PolicyHolder>(s, type, holder);
    const has = h.value.attached.includes(policyArn);
    const builtin = isAwsManaged(policyArn);
    const p = builtin ? undefined : await s.platform.store.get<ManagedPolicyRecord>(KINDS.policy, policyArn);
    if (!builtin && !p) throw iamErrors.noSuchEntity(`Policy ${policyArn} does not exist or is not attachable.`);
    if (builtin && !awsManagedPolicy(policyArn)) throw iamErrors.noSuchEntity(`Policy ${policyArn} does not exist or is not attachable.`);
    if (attach === has) {
      if (!attach) throw iamErrors.noSuchEntity(`Policy ${policyArn} was not found.`);
      return;
    }
    if (attach && h.value.attached.length >= MAX_ATTACHED) throw iamErrors.limit(`Cannot exceed quota for PoliciesPerUser: ${MAX_ATTACHED}`);
    const next = { ...h.value, attached: attach ? [...h.value.attached, policyArn] : h.value.attached.filter((a) => a !== policyArn) };
    const writes: Write[] = [{ kind: HOLDER_KIND[type], key: holder, value: next, expectRev: h.rev }];
    if (p) writes.push({ kind: KINDS.policy, key: policyArn, value: { ...p.value, attachments: Math.max(0, p.value.attachments + (attach ? 1 : -1)) }, expectRev: p.rev });
    await s.platform.store.commit(writes);
  });
}

export async function listAttached(s: Scope, type: HolderType, holder: string): Promise<Array<{ name: string; arn: string }>> {
  const h = (await getHolder<PolicyHolder>(s, type, holder)).value;
  return h.attached.map((arn) => ({ arn, name: arn.slice(arn.lastIndexOf('/') + 1) }));
}

/** Who a managed policy is attached to. */
export async function entitiesFor(s: Scope, policyArn: string): Promise<Record<HolderType, Array<{ name: string; id: string }>>> {
  await getPolicy(s, policyArn);
  const out: Record<HolderType, Array<{ name: string; id: string }>> = { user: [], group: [], role: [] };
  for (const type of ['user', 'group', 'role'] as const) {
    for (const h of await listHolders<PolicyHolder & { path: string; name: string; id: string }>(s, type)) if (h.attached.includes(policyArn)) out[type].push({ name: h.name, id: h.id });
  }
  return out;
}

// --- instance profiles ------------------------------------------------------------------------

export async function createInstanceProfile(s: Scope, name: string, path?: string): Promise<InstanceProfileRecord> {
  checkName(name, 'instanceProfileName', 128);
  const p = checkPath(path);
  const rec: InstanceProfileRecord = { name, path: p, id: iamId('AIPA'), arn: iamArn(s.platform.accountId, 'instance-profile', p, name), created: now(s), roles: [] };
  await createOnce(s, KINDS.profile, name, rec, `Instance Profile ${name}`);
  return rec;
}

export async function getInstanceProfile(s: Scope, name: string): Promise<InstanceProfileRecord> {
  const r = await s.platform.store.get<InstanceProfileRecord>(KINDS.profile, name);
  if (!r) throw iamErrors.noSuchEntity(`Instance Profile ${name}`);
  return r.value;
}

export async function setProfileRole(s: Scope, profile: string, role: string, add: boolean): Promise<void> {
  await getRole(s, role);
  await mutate<InstanceProfileRecord>(s.platform.store, KINDS.profile, profile, (p) => {
    if (!p) throw iamErrors.noSuchEntity(`Instance Profile ${profile}`);
    if (add) {
      if (p.roles.length >= 1) throw iamErrors.limit('Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1');
      p.roles = [role];
    } else {
      if (!p.roles.includes(role)) throw iamErrors.noSuchEntity(`role ${role} in instance profile ${profile}`);
      p.roles = [];
    }
    return p;
  });
}

export async function deleteInstanceProfile(s: Scope, name: string): Promise<void> {
  await mutate<InstanceProfileRecord>(s.platform.store, KINDS.profile, name, (p) => {
    if (!p) throw iamErrors.noSuchEntity(`Instance Profile ${name}`);
    if (p.roles.length) throw iamErrors.deleteConflict('Cannot delete entity, must remove roles from instance profile first.');
    return null;
  });
}

export async function listInstanceProfiles(s: Scope): Promise<InstanceProfileRecord[]> {
  return (await s.platform.store.list<InstanceProfileRecord>(KINDS.profile, { limit: 10_000 })).map((r) => r.value);
}
