/**
 * Cloud Map operations: the record of each namespace creation or deletion, service update and
 * instance (de)registration. Berth applies each change at once, so an operation is recorded
 * already SUCCESS; at most `SD_LIMITS.operationsKept` per region are kept, the oldest go first.
 */
import { hexId } from '../common.js';
import { deleteIfUnchanged, mutate } from '../mutate.js';
import type { Scope } from '../platform.js';
import { sdErrors } from './errors.js';
import { SD_KIND, SD_LIMITS, sdKey, type OperationRecord, type OperationType } from './records.js';

/** Records a completed operation and returns its id. */
export async function recordOperation(s: Scope, type: OperationType, targets: Record<string, string>): Promise<string> {
  const id = hexId(16);
  const rec: OperationRecord = { id, type, status: 'SUCCESS', targets, createdAt: s.platform.clock.now() };
  await mutate<OperationRecord>(s.platform.store, SD_KIND.operation, sdKey(s.region, id), () => rec);
  const all = await s.platform.store.list<OperationRecord>(SD_KIND.operation, { prefix: `${s.region}/` });
  if (all.length > SD_LIMITS.operationsKept) {
    const oldest = [...all].sort((a, b) => a.value.createdAt - b.value.createdAt).slice(0, all.length - SD_LIMITS.operationsKept);
    await deleteIfUnchanged(s.platform.store, oldest.map((r) => ({ kind: SD_KIND.operation, key: r.key, rev: r.rev })));
  }
  return id;
}

/** One operation, or OperationNotFound. */
export async function getOperation(s: Scope, id: string): Promise<OperationRecord> {
  const rec = await s.platform.store.get<OperationRecord>(SD_KIND.operation, sdKey(s.region, id));
  if (!rec) throw sdErrors.operationNotFound(id);
  return rec.value;
}

/** The region's operations, oldest first. */
export async function listOperations(s: Scope): Promise<OperationRecord[]> {
  const all = await s.platform.store.list<OperationRecord>(SD_KIND.operation, { prefix: `${s.region}/` });
  return all.map((r) => r.value).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
}
