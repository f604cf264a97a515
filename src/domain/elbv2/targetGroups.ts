/**
 * Target groups in the store: creation (idempotent for the same settings, as on AWS), changes,
 * and deletion with their targets, refused while a listener or rule forwards to the group.
 */
import type { Write } from '../../store/types.js';
import type { Versioned } from '../common.js';
import { retrying } from '../mutate.js';
import { changeFound, createNamed } from './named.js';
import type { Scope } from '../platform.js';
import { elbErrors } from './errors.js';
import { findTg, listAll } from './lookup.js';
import { KIND, tgKey, type TargetGroupRecord } from './records.js';
import { targetGroupUsage } from './usage.js';

/** Every target group of the region, in key (name) order. */
export function listTargetGroups(s: Scope): Promise<Versioned<TargetGroupRecord>[]> {
  return listAll<TargetGroupRecord>(s, KIND.tg, `${s.region}/`);
}

/**
 * Stores `record` unless a target group of that name exists: the same settings (`same` says)
 * return the existing one; others are a DuplicateTargetGroupName.
 */
export async function createTargetGroup(s: Scope, record: TargetGroupRecord, same: (existing: TargetGroupRecord) => boolean): Promise<{ tg: TargetGroupRecord; created: boolean }> {
  const r = await createNamed(s, KIND.tg, tgKey(s.region, record.name), record, same, elbErrors.duplicateTargetGroupName);
  return { tg: r.value, created: r.created };
}

/** Changes a target group (`change` returns the new record); TargetGroupNotFound if it is gone. */
export function changeTargetGroup(s: Scope, arn: string, change: (tg: TargetGroupRecord) => TargetGroupRecord): Promise<TargetGroupRecord> {
  return changeFound(s, KIND.tg, arn, findTg, () => elbErrors.targetGroupNotFound(`Target group '${arn}' not found`), change);
}

/** Deletes a target group and its targets; one that does not exist is no error (as on AWS). ResourceInUse while forwarded to. */
export async function deleteTargetGroup(s: Scope, arn: string): Promise<void> {
  await retrying(`Target group ${arn}`, async () => {
    const tg = await findTg(s, arn);
    if (!tg) return;
    if ((await targetGroupUsage(s)).has(tg.value.arn)) throw elbErrors.resourceInUse(`Target group '${tg.value.arn}' is currently in use by a listener or a rule`);
    const writes: Write[] = [{ kind: KIND.tg, key: tg.key, value: null, expectRev: tg.rev }];
    for (const t of await listAll<unknown>(s, KIND.target, `${s.region}/${tg.value.name}/`)) writes.push({ kind: KIND.target, key: t.key, value: null, expectRev: t.rev });
    await s.platform.store.commit(writes);
  });
}
