/**
 * EC2's writes touch several records at once (a subnet and its VPC, a VPC and its main route
 * table and default group), so they run as one transaction over the region's records: reads are
 * remembered with their revisions, writes are committed together with the revisions read
 * (through `retrying`, src/domain/mutate.ts), and a concurrent writer makes the whole attempt run
 * again from its reads.
 *
 * A record that others depend on is "touched" (rewritten unchanged) by whoever adds a dependent,
 * and deleted only with the revision read when its dependents were counted: so a subnet created
 * while its VPC is deleted either lands first (and the delete sees it) or fails with the VPC gone.
 */
import { retrying } from '../mutate.js';
import type { Scope } from '../platform.js';
import type { Write } from '../../store/types.js';
import { ensureDefaults } from './defaults.js';
import { ec2Errors } from './errors.js';
import { EC2_KIND, ec2Key, prefixOf, type Ec2Record, type RecordOf, type ResourcePrefix } from './records.js';

/** One attempt's view of a region's EC2 records. */
export class Ec2Tx {
  private readonly revs = new Map<string, number>();
  private readonly writes = new Map<string, Ec2Record | null>();

  constructor(readonly scope: Scope) {}

  /** The record with this id, or undefined. */
  async find<P extends ResourcePrefix>(prefix: P, id: string): Promise<RecordOf[P] | undefined> {
    if (prefixOf(id) !== prefix) return undefined;
    const key = ec2Key(this.scope.region, id);
    if (this.writes.has(key)) return (this.writes.get(key) ?? undefined) as RecordOf[P] | undefined;
    const r = await this.scope.platform.store.get<Ec2Record>(EC2_KIND, key);
    this.revs.set(key, r?.rev ?? 0);
    return r ? (structuredClone(r.value) as RecordOf[P]) : undefined;
  }

  /** The record with this id; `<Type>.NotFound` (or `.Malformed` for an id of another type) otherwise. */
  async get<P extends ResourcePrefix>(prefix: P, id: string): Promise<RecordOf[P]> {
    if (!id.startsWith(`${prefix}-`)) throw ec2Errors.malformed(prefix, id);
    const r = await this.find(prefix, id);
    if (!r) throw ec2Errors.notFound(prefix, id);
    return r;
  }

  /** Every record of a type in the region (with this transaction's own writes). */
  async list<P extends ResourcePrefix>(prefix: P): Promise<Array<RecordOf[P]>> {
    const rows = await this.scope.platform.store.list<Ec2Record>(EC2_KIND, { prefix: ec2Key(this.scope.region, `${prefix}-`) });
    const out = new Map<string, RecordOf[P]>();
    for (const r of rows) {
      if (!this.revs.has(r.key)) this.revs.set(r.key, r.rev);
      out.set(r.key, structuredClone(r.value) as RecordOf[P]);
    }
    for (const [k, v] of this.writes) {
      if (!k.startsWith(ec2Key(this.scope.region, `${prefix}-`))) continue;
      if (v) out.set(k, v as RecordOf[P]);
      else out.delete(k);
    }
    return [...out.values()];
  }

  /** Writes a record (new or changed) at commit. */
  put(r: Ec2Record): void {
    const key = ec2Key(this.scope.region, r.id);
    if (!this.revs.has(key) && !this.writes.has(key)) this.revs.set(key, 0);
    this.writes.set(key, r);
  }

  /** Rewrites a record unchanged at commit, so that a concurrent change to it conflicts (see above). */
  touch(r: Ec2Record): void {
    this.put(r);
  }

  /** Deletes a record at commit. */
  delete(id: string): void {
    const key = ec2Key(this.scope.region, id);
    this.writes.set(key, null);
  }

  /** The writes, each with the revision it was read at (0: must not exist). */
  toWrites(): Write[] {
    return [...this.writes].map(([key, value]) => ({ kind: EC2_KIND, key, value, expectRev: this.revs.get(key) ?? 0 }));
  }
}

/**
 * Runs `attempt` as one transaction on the region's EC2 records (the default VPC made first, if
 * this region has never had one) and commits its writes together, retried from its reads on conflict.
 */
export async function ec2Transaction<T>(scope: Scope, what: string, attempt: (tx: Ec2Tx) => Promise<T>): Promise<T> {
  await ensureDefaults(scope);
  return retrying(what, async () => {
    const tx = new Ec2Tx(scope);
    const out = await attempt(tx);
    const writes = tx.toWrites();
    if (writes.length) await scope.platform.store.commit(writes);
    return out;
  });
}

/** Reads through a transaction that writes nothing (the default VPC made first, if needed). */
export async function ec2Read<T>(scope: Scope, read: (tx: Ec2Tx) => Promise<T>): Promise<T> {
  await ensureDefaults(scope);
  return read(new Ec2Tx(scope));
}
