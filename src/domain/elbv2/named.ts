/**
 * The two write shapes load balancers and target groups share: creation under a unique name
 * (idempotent when the settings are the same, as on AWS) and a change of the record an ARN names.
 */
import type { ServiceError } from '../../errors.js';
import type { Versioned } from '../common.js';
import { mutate, retrying } from '../mutate.js';
import type { Scope } from '../platform.js';

/**
 * Stores `record` under `key` unless a record is there: one with the same settings (`same` says)
 * is returned instead; any other is the `duplicate` error. Returns the record and whether it is new.
 */
export async function createNamed<T>(s: Scope, kind: string, key: string, record: T, same: (existing: T) => boolean, duplicate: () => ServiceError): Promise<{ value: T; created: boolean }> {
  let existing: T | undefined;
  await mutate<T>(s.platform.store, kind, key, (cur) => {
    existing = undefined;
    if (!cur) return record;
    if (!same(cur)) throw duplicate();
    existing = cur;
    return undefined;
  });
  return existing ? { value: existing, created: false } : { value: record, created: true };
}

/** Changes the record `find` returns for an ARN (`missing` when there is none); retried on conflict. */
export async function changeFound<T>(s: Scope, kind: string, arn: string, find: (s: Scope, arn: string) => Promise<Versioned<T> | undefined>, missing: () => ServiceError, change: (v: T) => T): Promise<T> {
  return retrying(`${kind} ${arn}`, async () => {
    const rec = await find(s, arn);
    if (!rec) throw missing();
    const next = change(structuredClone(rec.value));
    await s.platform.store.commit([{ kind, key: rec.key, value: next, expectRev: rec.rev }]);
    return next;
  });
}
