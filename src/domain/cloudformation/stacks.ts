/**
 * Stack records and their transitions. The API (src/services/cloudformation) asks for an
 * operation by moving a stack to an `*_IN_PROGRESS` status and queueing a work record in the
 * same commit; the stack worker (src/control/stacks/) performs it, writing resource records,
 * events and the final status through the functions here.
 */
import { randomUUID } from 'node:crypto';
import type { Scope } from '../platform.js';
import type { Write } from '../../store/types.js';
import { retrying } from '../mutate.js';
import { cfnErrors } from './errors.js';
import {
  CHANGE_SET_ID_KIND,
  CHANGE_SET_KIND,
  EVENT_KIND,
  EXPORT_KIND,
  IMPORT_KIND,
  RESOURCE_KIND,
  STACK_KIND,
  STACK_NAME_KIND,
  WORK_KIND,
  changeSetPrefix,
  eventPrefix,
  exportKey,
  importKey,
  importPrefix,
  isStackId,
  resourceKey,
  resourcePrefix,
  stackNameKey,
} from './keys.js';
import type { ChangeSetRecord, ExportRecord, ImportRecord, ResourceRecord, StackEventRecord, StackRecord, StackStatus, WorkRecord } from './records.js';

/** Statuses from which a stack may be updated. */
export const UPDATABLE: ReadonlySet<StackStatus> = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE']);
/** Statuses in which an operation is under way. */
export const IN_PROGRESS: ReadonlySet<StackStatus> = new Set([
  'CREATE_IN_PROGRESS',
  'ROLLBACK_IN_PROGRESS',
  'DELETE_IN_PROGRESS',
  'UPDATE_IN_PROGRESS',
  'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
  'UPDATE_ROLLBACK_IN_PROGRESS',
  'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
]);

/** The live stack named `nameOrId` (a name, or an id that may name a deleted stack), if any. */
export async function findStack(scope: Scope, nameOrId: string): Promise<{ rev: number; value: StackRecord } | undefined> {
  const store = scope.platform.store;
  let id = nameOrId;
  if (!isStackId(nameOrId)) {
    const idx = await store.get<{ stackId: string }>(STACK_NAME_KIND, stackNameKey(scope.region, nameOrId));
    if (!idx) return undefined;
    id = idx.value.stackId;
  }
  const r = await store.get<StackRecord>(STACK_KIND, id);
  return r && r.value.region === scope.region ? { rev: r.rev, value: r.value } : undefined;
}

/** Like `findStack`, but a missing stack is AWS's "Stack with id X does not exist". */
export async function getStack(scope: Scope, nameOrId: string): Promise<{ rev: number; value: StackRecord }> {
  const s = await findStack(scope, nameOrId);
  if (!s) throw cfnErrors.stackNotFound(nameOrId);
  return s;
}

/** Every stack of the region (live and deleted), oldest key first. */
export async function listStacks(scope: Scope): Promise<StackRecord[]> {
  const all = await scope.platform.store.list<StackRecord>(STACK_KIND, { prefix: `arn:aws:cloudformation:${scope.region}:` });
  return all.map((r) => r.value);
}

let eventSeq = 0;
/** A stack event record (committed with the caller's writes). */
export function eventWrite(stack: Pick<StackRecord, 'stackId' | 'stackName'>, now: number, e: Omit<StackEventRecord, 'eventId' | 'stackId' | 'stackName' | 'timestamp'>): Write {
  eventSeq = (eventSeq + 1) % 1_000_000;
  const key = `${eventPrefix(stack.stackId)}${String(now).padStart(15, '0')}-${String(eventSeq).padStart(6, '0')}-${randomUUID().slice(0, 8)}`;
  const value: StackEventRecord = { eventId: randomUUID(), stackId: stack.stackId, stackName: stack.stackName, timestamp: now, ...e };
  return { kind: EVENT_KIND, key, value };
}

/** The stack's own event for a status change. */
export function stackEvent(stack: Pick<StackRecord, 'stackId' | 'stackName'>, now: number, status: string, reason?: string, token?: string): Write {
  return eventWrite(stack, now, { logicalResourceId: stack.stackName, physicalResourceId: stack.stackId, resourceType: 'AWS::CloudFormation::Stack', resourceStatus: status, resourceStatusReason: reason, clientRequestToken: token });
}

/** Events of a stack, newest first. */
export async function stackEvents(scope: Scope, stackId: string): Promise<StackEventRecord[]> {
  const store = scope.platform.store;
  const all = await store.list<StackEventRecord>(EVENT_KIND, { prefix: eventPrefix(stackId) });
  return all.map((r) => r.value).reverse();
}

/** The resources of a stack, by logical id. */
export async function stackResources(scope: Scope, stackId: string): Promise<Array<{ rev: number; value: ResourceRecord }>> {
  const store = scope.platform.store;
  const all = await store.list<ResourceRecord>(RESOURCE_KIND, { prefix: resourcePrefix(stackId) });
  return all.map((r) => ({ rev: r.rev, value: r.value }));
}

/** Creates a stack record in `status` with the operation queued (CREATE_IN_PROGRESS) or not (REVIEW_IN_PROGRESS). */
export async function insertStack(scope: Scope, stack: StackRecord, token?: string): Promise<void> {
  const store = scope.platform.store;
  await retrying(`Stack ${stack.stackName}`, async () => {
    const idx = await store.get<{ stackId: string }>(STACK_NAME_KIND, stackNameKey(scope.region, stack.stackName));
    if (idx) throw cfnErrors.alreadyExists(stack.stackName);
    const writes: Write[] = [
      { kind: STACK_NAME_KIND, key: stackNameKey(scope.region, stack.stackName), value: { stackId: stack.stackId }, expectRev: 0 },
      { kind: STACK_KIND, key: stack.stackId, value: stack, expectRev: 0 },
      stackEvent(stack, stack.creationTime, stack.status, stack.status === 'REVIEW_IN_PROGRESS' ? 'User Initiated' : 'User Initiated', token),
    ];
    if (IN_PROGRESS.has(stack.status)) writes.push(workWrite(stack, scope.platform.clock.now()));
    await store.commit(writes);
  });
}

function workWrite(stack: StackRecord, now: number): Write {
  const w: WorkRecord = { stackId: stack.stackId, region: stack.region, requestedAt: now };
  return { kind: WORK_KIND, key: stack.stackId, value: w };
}

/**
 * Moves a stack to a new status (and other fields) from the revision read, writing its event;
 * `queue`: the operation is to be performed by the worker (a work record is written);
 * `done`: the work record is removed. Throws the store's conflict if the stack changed.
 */
export async function transitionStack(
  scope: Scope,
  current: { rev: number; value: StackRecord },
  next: StackRecord,
  opts: { now: number; reason?: string; queue?: boolean; done?: boolean; token?: string; extra?: Write[] },
): Promise<number> {
  const store = scope.platform.store;
  const writes: Write[] = [{ kind: STACK_KIND, key: next.stackId, value: next, expectRev: current.rev }];
  if (next.status !== current.value.status || opts.reason) writes.push(stackEvent(next, opts.now, next.status, opts.reason, opts.token));
  if (opts.queue) writes.push(workWrite(next, opts.now));
  if (opts.done) writes.push({ kind: WORK_KIND, key: next.stackId, value: null });
  if (next.status === 'DELETE_COMPLETE') writes.push({ kind: STACK_NAME_KIND, key: stackNameKey(next.region, next.stackName), value: null });
  writes.push(...(opts.extra ?? []));
  return store.commit(writes);
}

/** Applies `change` to the stack named `nameOrId` (retrying on conflicts). */
export async function updateStackRecord(scope: Scope, nameOrId: string, change: (s: StackRecord) => { next: StackRecord; reason?: string; queue?: boolean; token?: string; extra?: Write[] } | undefined): Promise<StackRecord> {
  return retrying(`Stack ${nameOrId}`, async () => {
    const cur = await getStack(scope, nameOrId);
    const c = change(structuredClone(cur.value));
    if (!c) return cur.value;
    await transitionStack(scope, cur, c.next, { now: scope.platform.clock.now(), reason: c.reason, queue: c.queue, token: c.token, extra: c.extra });
    return c.next;
  });
}

/** The pending work records (stacks whose operation the worker must perform or resume). */
export async function pendingWork(scope: Scope): Promise<Array<{ rev: number; value: WorkRecord }>> {
  const store = scope.platform.store;
  return (await store.list<WorkRecord>(WORK_KIND)).map((r) => ({ rev: r.rev, value: r.value }));
}

/** Marks a work record as taken by a run (fails with the store's conflict if someone else changed it). */
export async function claimWork(scope: Scope, w: { rev: number; value: WorkRecord }, runId: string): Promise<void> {
  const store = scope.platform.store;
  await store.commit([{ kind: WORK_KIND, key: w.value.stackId, value: { ...w.value, startedBy: runId }, expectRev: w.rev }]);
}

/** Writes a resource record (and events) unconditionally: the worker is its only writer. */
export async function putResource(scope: Scope, r: ResourceRecord | { stackId: string; logicalId: string; deleted: true }, events: Write[] = []): Promise<void> {
  await scope.platform.store.commit([resourceWrite(r), ...events]);
}

/** The write that records a stack resource (or removes it), for a commit made by the caller. */
export function resourceWrite(r: ResourceRecord | { stackId: string; logicalId: string; deleted: true }): Write {
  return { kind: RESOURCE_KIND, key: resourceKey(r.stackId, r.logicalId), value: 'deleted' in r ? null : r };
}

/** Change sets of a stack. */
export async function stackChangeSets(scope: Scope, stackId: string): Promise<Array<{ rev: number; value: ChangeSetRecord }>> {
  const store = scope.platform.store;
  return (await store.list<ChangeSetRecord>(CHANGE_SET_KIND, { prefix: changeSetPrefix(stackId) })).map((r) => ({ rev: r.rev, value: r.value }));
}

/** A change set by ARN, or by name within a stack. */
export async function findChangeSet(scope: Scope, nameOrArn: string, stackName?: string): Promise<{ rev: number; value: ChangeSetRecord } | undefined> {
  const store = scope.platform.store;
  if (nameOrArn.startsWith('arn:')) {
    const idx = await store.get<{ key: string }>(CHANGE_SET_ID_KIND, nameOrArn);
    if (!idx) return undefined;
    const r = await store.get<ChangeSetRecord>(CHANGE_SET_KIND, idx.value.key);
    return r ? { rev: r.rev, value: r.value } : undefined;
  }
  if (!stackName) throw cfnErrors.validation('StackName must be specified if ChangeSetName is not specified as an ARN.');
  const stack = await findStack(scope, stackName);
  if (!stack) return undefined;
  const r = await store.get<ChangeSetRecord>(CHANGE_SET_KIND, `${stack.value.stackId}|${nameOrArn}`);
  return r ? { rev: r.rev, value: r.value } : undefined;
}

/** Writes that store a change set and its id index. */
export function changeSetWrites(cs: ChangeSetRecord, expectRev = 0): Write[] {
  const key = `${cs.stackId}|${cs.changeSetName}`;
  return [
    { kind: CHANGE_SET_KIND, key, value: cs, expectRev },
    { kind: CHANGE_SET_ID_KIND, key: cs.changeSetId, value: { key } },
  ];
}

/** Writes that delete a change set and its id index. */
export function changeSetDeletes(cs: ChangeSetRecord): Write[] {
  return [
    { kind: CHANGE_SET_KIND, key: `${cs.stackId}|${cs.changeSetName}`, value: null },
    { kind: CHANGE_SET_ID_KIND, key: cs.changeSetId, value: null },
  ];
}

/** The value exported under `name` in the region, if any. */
export async function exportValue(scope: Scope, region: string, name: string): Promise<ExportRecord | undefined> {
  const store = scope.platform.store;
  return (await store.get<ExportRecord>(EXPORT_KIND, exportKey(region, name)))?.value;
}

/** Every export of the region. */
export async function listExports(scope: Scope, region: string): Promise<ExportRecord[]> {
  const store = scope.platform.store;
  return (await store.list<ExportRecord>(EXPORT_KIND, { prefix: `${region}/` })).map((r) => r.value);
}

/** The stacks importing an export. */
export async function listImports(scope: Scope, region: string, exportName: string): Promise<ImportRecord[]> {
  const store = scope.platform.store;
  return (await store.list<ImportRecord>(IMPORT_KIND, { prefix: importPrefix(region, exportName) })).map((r) => r.value);
}

/**
 * Writes that make a stack's exports and imports what its outputs and imports now say:
 * checks first that no export is owned by another stack, and that an export it stops
 * providing is imported by nobody (AWS's refusals, as a `ValidationError`).
 */
export async function exportWrites(scope: Scope, stack: StackRecord, exports: Array<{ name: string; value: string }>, imports: string[]): Promise<Write[]> {
  const store = scope.platform.store;
  const writes: Write[] = [];
  const mine = (await listExports(scope, stack.region)).filter((e) => e.stackId === stack.stackId);
  const wanted = new Set(exports.map((e) => e.name));
  for (const e of exports) {
    const cur = await exportValue(scope, stack.region, e.name);
    if (cur && cur.stackId !== stack.stackId) throw cfnErrors.validation(`Export with name ${e.name} is already exported by stack ${cur.stackId.split('/')[1]}`);
    if (cur && cur.value !== e.value) {
      const users = (await listImports(scope, stack.region, e.name)).filter((i) => i.stackId !== stack.stackId);
      if (users.length) throw cfnErrors.validation(`Cannot update export ${e.name} as it is in use by ${users.map((u) => u.stackName).join(', ')}`);
    }
    writes.push({ kind: EXPORT_KIND, key: exportKey(stack.region, e.name), value: { name: e.name, value: e.value, stackId: stack.stackId } satisfies ExportRecord });
  }
  for (const e of mine) {
    if (wanted.has(e.name)) continue;
    const users = (await listImports(scope, stack.region, e.name)).filter((i) => i.stackId !== stack.stackId);
    if (users.length) throw cfnErrors.validation(`Cannot delete export ${e.name} as it is in use by ${users.map((u) => u.stackName).join(', ')}`);
    writes.push({ kind: EXPORT_KIND, key: exportKey(stack.region, e.name), value: null });
  }
  const importing = await store.list<ImportRecord>(IMPORT_KIND, { prefix: `${stack.region}/` });
  const now = new Set(imports);
  for (const r of importing) if (r.value.stackId === stack.stackId && !now.has(r.value.exportName)) writes.push({ kind: IMPORT_KIND, key: r.key, value: null });
  for (const name of now) writes.push({ kind: IMPORT_KIND, key: importKey(stack.region, name, stack.stackId), value: { exportName: name, stackId: stack.stackId, stackName: stack.stackName } satisfies ImportRecord });
  return writes;
}

/** Stores a new change set (its id index with it). */
export async function commitChangeSet(scope: Scope, cs: ChangeSetRecord): Promise<void> {
  await scope.platform.store.commit(changeSetWrites(cs));
}

/** Commits writes made by the functions of this module (change set deletes, say). */
export async function commitWrites(scope: Scope, writes: Write[]): Promise<void> {
  await scope.platform.store.commit(writes);
}
