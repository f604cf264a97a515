/**
 * Leases: which control-plane replica performs each duty (the service controller, the sweeps).
 * Two records per duty:
 * - `berth.lease/<duty>`: `{ holder, expiresAt, epoch }`, renewed by its holder every few
 *   seconds; anyone may take a lease whose `expiresAt` has passed;
 * - `berth.lease-epoch/<duty>`: `{ holder, epoch }`, written only when the lease changes hands.
 *   Its revision is the fencing token: the holder guards every write of the duty with it
 *   (src/store/fenced.ts), so once another replica has taken the lease, the old holder's writes
 *   fail, even if it was paused and still believes it leads.
 * Times are the replicas' clocks (kept in step by NTP); the fencing makes a skew a matter of
 * availability, never of two writers.
 */
import type { Store, StoredRecord, Write } from '../store/types.js';
import { ConflictError } from '../store/types.js';

export const LEASE_KIND = 'berth.lease';
export const EPOCH_KIND = 'berth.lease-epoch';

/** A duty's lease. */
export interface LeaseRecord {
  holder: string;
  /** Epoch ms after which anyone may take it. */
  expiresAt: number;
  /** How many times it has changed hands. */
  epoch: number;
}

/** A duty's fencing record (its rev is the token). */
export interface EpochRecord {
  holder: string;
  epoch: number;
}

/** The outcome of one claim for one duty. */
export interface Claim {
  held: boolean;
  /** While held: the revision of the epoch record, the fencing token of every write. */
  epochRev?: number;
  /** While held: when the lease runs out unless renewed. */
  expiresAt?: number;
  /** Who holds it (this replica or another), if anyone. */
  holder?: string;
}

/**
 * Renews the leases `holder` holds among `duties` and takes those that are free or expired,
 * one commit per duty (so losing one race costs nothing else); returns the state of each. A
 * race lost to another replica reads as "not held" until the next call looks again.
 */
export async function claimLeases(store: Store, holder: string, duties: readonly string[], now: number, ttlMs: number): Promise<Map<string, Claim>> {
  const [leases, epochs] = await Promise.all([store.getMany<LeaseRecord>(LEASE_KIND, [...duties]), store.getMany<EpochRecord>(EPOCH_KIND, [...duties])]);
  const out = new Map<string, Claim>();
  const expiresAt = now + ttlMs;
  await Promise.all(
    duties.map(async (duty, i) => {
      const lease = leases[i];
      const epoch = epochs[i];
      // Still ours when nobody took it, even past its end (a paused clock, a slow tick): the
      // epoch did not move, so no other replica wrote under it.
      const mine = lease && lease.value.holder === holder && epoch?.value.epoch === lease.value.epoch;
      if (!mine && lease && lease.value.expiresAt > now) {
        out.set(duty, { held: false, holder: lease.value.holder, expiresAt: lease.value.expiresAt });
        return;
      }
      const writes: Write[] = mine
        ? [{ kind: LEASE_KIND, key: duty, value: { ...lease.value, expiresAt }, expectRev: lease.rev }]
        : (() => {
            const next = Math.max(lease?.value.epoch ?? 0, epoch?.value.epoch ?? 0) + 1;
            return [
              { kind: LEASE_KIND, key: duty, value: { holder, expiresAt, epoch: next } satisfies LeaseRecord, expectRev: lease?.rev ?? 0 },
              { kind: EPOCH_KIND, key: duty, value: { holder, epoch: next } satisfies EpochRecord, expectRev: epoch?.rev ?? 0 },
            ];
          })();
      try {
        const rev = await store.commit(writes);
        // Renewed: the token stays the epoch record's rev; taken: the epoch record was written now.
        out.set(duty, { held: true, epochRev: mine ? epoch!.rev : rev, expiresAt, holder });
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
        out.set(duty, { held: false }); // another replica moved first
      }
    }),
  );
  return out;
}

/** Gives up the leases `holder` holds among `duties` (at shutdown), so another replica takes them at once. */
export async function releaseLeases(store: Store, holder: string, duties: readonly string[]): Promise<void> {
  const leases = await store.getMany<LeaseRecord>(LEASE_KIND, [...duties]);
  const writes: Write[] = leases.flatMap((l, i) => (l && l.value.holder === holder ? [{ kind: LEASE_KIND, key: duties[i]!, value: { ...l.value, expiresAt: 0 }, expectRev: l.rev }] : []));
  if (writes.length) await store.commit(writes).catch((e) => (e instanceof ConflictError ? 0 : Promise.reject(e)));
}

/** Every lease, for status pages. */
export async function listLeases(store: Store): Promise<StoredRecord<LeaseRecord>[]> {
  return store.list<LeaseRecord>(LEASE_KIND);
}
