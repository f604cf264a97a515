/**
 * One active replica per duty. Every control-plane replica runs a `Leadership` over the same
 * duties (the service controller, the sweeps); each duty runs on the replica that holds its
 * lease (src/domain/leases.ts) and nowhere else. The leases are claimed and renewed every
 * `renewMs` on the platform clock; a duty starts when its lease is taken and stops when it is
 * lost, given up at shutdown, or cannot be renewed before it runs out (a replica cut off from
 * the store stops acting a renewal period before anyone else may take over).
 *
 * Writes of a duty go through `fencedPlatform(duty)`, whose store guards each commit with the
 * duty's fencing token: a replica paused past its lease (SIGSTOP, a long GC) cannot write when
 * it wakes, whatever it believes. On one process (SQLite) the one replica holds every lease.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Platform } from '../domain/platform.js';
import { EPOCH_KIND, REPLICA_FORGET_MS, claimLeases, forgetReplicas, listLeases, listReplicas, recordReplica, releaseLeases, removeReplica, type Claim, type LeaseRecord } from '../domain/leases.js';
import { VERSION } from '../version.js';
import { fencedStore } from '../store/fenced.js';
import type { Guard } from '../store/types.js';
import { startLoop, type Loop } from './loop.js';

/** A piece of background work that must run on one replica at a time. */
export interface Duty {
  name: string;
  /** Begins the work (the lease was just taken). */
  start(): Promise<void> | void;
  /** Ends it (the lease was lost or given up); waits for work in flight. */
  stop(): Promise<void> | void;
}

export interface LeadershipOptions {
  /** This replica's name in the leases (default: host:pid:random). */
  replicaId?: string;
  /** How long a lease lasts without renewal (default 10 s, env BERTH_LEASE_TTL_MS). */
  ttlMs?: number;
  /** How often leases are claimed and renewed (default a third of the TTL). */
  renewMs?: number;
  onError?: (e: unknown) => void;
}

/** What a status page shows of one duty. */
export interface DutyStatus {
  duty: string;
  /** Whether this replica performs it. */
  leading: boolean;
  holder?: string;
  expiresAt?: number;
  /** Writes of this duty refused on this replica because it no longer held the lease (fenced). */
  refusedWrites: number;
}

/** What a status page shows of one replica. */
export interface ReplicaStatus {
  id: string;
  url?: string;
  version: string;
  startedAt: number;
  /** Its last heartbeat (one per lease round). */
  heartbeatAt: number;
  /** Whether it heartbeated within a lease's TTL. */
  alive: boolean;
  /** Whether it is the replica answering. */
  self: boolean;
  /** The duties whose lease it holds (as far as this replica last saw). */
  leads: string[];
}

/** A fresh replica id: host, pid and a random suffix (a restarted process is a new replica). */
export function newReplicaId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** Runs each duty on the replica that holds its lease; see the module doc. */
export class Leadership {
  readonly replicaId: string;
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly duties = new Map<string, Duty>();
  /** Duties this replica performs: the fencing token and the lease's end. */
  private readonly held = new Map<string, { epochRev: number; expiresAt: number }>();
  private readonly last = new Map<string, Claim>();
  /** Fenced writes refused, by duty. */
  private readonly refused = new Map<string, number>();
  private loop: Loop | undefined;
  /** Drops leases that ran out while a claim hangs (a silent partition from the store). */
  private watchdog: Loop | undefined;
  /** When the claim round in flight began (undefined: none in flight). */
  private claimingSince: number | undefined;
  private stopping = false;
  private url: string | undefined;
  private readonly startedAt: number;
  /** When this replica last looked for replicas gone for long (0: never). */
  private forgottenAt = 0;

  constructor(
    private readonly platform: Platform,
    opts: LeadershipOptions = {},
  ) {
    this.replicaId = opts.replicaId ?? newReplicaId();
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.renewMs = opts.renewMs ?? Math.max(50, Math.floor(this.ttlMs / 3));
    this.onError = opts.onError ?? ((e) => console.error('berth: leadership:', e));
    this.startedAt = platform.clock.now();
  }
  private readonly onError: (e: unknown) => void;

  /** Registers a duty (before `start`). */
  add(duty: Duty): void {
    this.duties.set(duty.name, duty);
  }

  /** The platform a duty writes through: its commits are fenced by the duty's lease. */
  fencedPlatform(duty: string): Platform {
    return { ...this.platform, store: fencedStore(this.platform.store, duty, () => this.fence(duty), () => this.refused.set(duty, (this.refused.get(duty) ?? 0) + 1)) };
  }

  /** The guard of a duty's writes while this replica holds its lease. */
  fence(duty: string): Guard | undefined {
    const h = this.held.get(duty);
    return h ? { kind: EPOCH_KIND, key: duty, rev: h.epochRev } : undefined;
  }

  /** Claims at once, then every `renewMs`. Resolves after the first claim (duties won are started). */
  async start(): Promise<void> {
    await this.claim().catch((e) => this.onError(e));
    this.loop = startLoop(this.platform.clock, this.renewMs, () => this.claim(), this.onError);
    // The claim loop never overlaps itself: a renewal that hangs (packets dropped on the way to
    // the store) would keep this replica acting past its lease. The watchdog runs apart from it
    // and stops any duty whose lease has run out by this replica's clock. (A slow but working
    // store is not a reason to stop: every write is fenced by the lease's token anyway.)
    this.watchdog = startLoop(this.platform.clock, Math.max(25, Math.floor(this.renewMs / 2)), () => this.dropExpiring(), this.onError);
  }

  /** `p`, or a rejection once `ms` passed on the platform clock (the work itself goes on). */
  private within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.platform.clock.setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms: the store does not answer`)), ms);
      p.then(
        (v) => {
          timer.cancel();
          resolve(v);
        },
        (e: unknown) => {
          timer.cancel();
          reject(e);
        },
      );
    });
  }

  /**
   * Stops acting for every duty whose lease has run out while a renewal has been pending for a
   * renewal period or more (a renewal that hangs). Without one in flight, the claim loop itself
   * renews or, failing, stands down; its writes are fenced at once either way.
   */
  private dropExpiring(): void {
    const now = this.platform.clock.now();
    if (this.claimingSince === undefined || now - this.claimingSince < this.renewMs) return;
    for (const [name, h] of [...this.held]) if (now >= h.expiresAt) void this.lose(name);
  }

  /** Says where this replica answers (once it listens): shown in the replica list. */
  async announce(url: string): Promise<void> {
    this.url = url;
    await this.heartbeat().catch((e) => this.onError(e));
  }

  /**
   * Every replica that heartbeated within the last hour (where it answers, whether it is alive,
   * what it leads) and every duty (who performs it, until when), from one read of the store's
   * leases, so the two agree: a duty's holder is a replica that lists it, and a lease that ran
   * out has no holder (whatever this replica last saw).
   */
  async report(): Promise<{ replicas: ReplicaStatus[]; duties: DutyStatus[] }> {
    const [leases, replicas] = await Promise.all([listLeases(this.platform.store), listReplicas(this.platform.store)]);
    const now = this.platform.clock.now();
    const current = new Map<string, LeaseRecord>();
    for (const l of leases) if (this.duties.has(l.key) && l.value.holder && l.value.expiresAt > now) current.set(l.key, l.value);
    const leads = new Map<string, string[]>();
    for (const [duty, l] of current) leads.set(l.holder, [...(leads.get(l.holder) ?? []), duty]);
    return {
      replicas: replicas.map((r) => ({
        id: r.id,
        url: r.url,
        version: r.version,
        startedAt: r.startedAt,
        heartbeatAt: r.heartbeatAt,
        alive: r.heartbeatAt >= now - this.ttlMs,
        self: r.id === this.replicaId,
        leads: (leads.get(r.id) ?? []).sort(),
      })),
      duties: [...this.duties.keys()].map((duty) => {
        const l = current.get(duty);
        return { duty, leading: this.held.has(duty), holder: l?.holder, expiresAt: l?.expiresAt, refusedWrites: this.refused.get(duty) ?? 0 };
      }),
    };
  }

  /** Claims and renews now (after the store was reset, say), instead of at the next period. */
  async claimNow(): Promise<void> {
    await this.loop?.runNow();
  }

  /** Stops every duty this replica performs and gives their leases up, so another replica takes them at once. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.watchdog?.stop();
    await this.loop?.stop();
    const mine = [...this.held.keys()];
    for (const name of mine) await this.lose(name);
    await releaseLeases(this.platform.store, this.replicaId, mine).catch((e) => this.onError(e));
    await removeReplica(this.platform.store, this.replicaId).catch((e) => this.onError(e));
  }

  /** Every duty, who performs it and until when. */
  status(): DutyStatus[] {
    return [...this.duties.keys()].map((duty) => {
      const c = this.last.get(duty);
      return { duty, leading: this.held.has(duty), holder: c?.holder, expiresAt: c?.expiresAt, refusedWrites: this.refused.get(duty) ?? 0 };
    });
  }

  private heartbeat(): Promise<void> {
    return recordReplica(this.platform.store, { id: this.replicaId, url: this.url, version: VERSION, startedAt: this.startedAt, heartbeatAt: this.platform.clock.now() });
  }

  private async claim(): Promise<void> {
    if (this.stopping) return;
    // A round that hangs (the store cut off without an error) must not stop later rounds: it is
    // given up after a lease period, and the next round tries again.
    const started = this.platform.clock.now();
    this.claimingSince = started;
    try {
      await this.within(this.claimLeases(), this.ttlMs, 'claiming leases');
    } finally {
      if (this.claimingSince === started) this.claimingSince = undefined;
    }
    if (this.stopping) return;
    await this.within(this.heartbeat(), this.ttlMs, 'the replica heartbeat');
    // Replicas gone for long leave the list; a leader looks once a minute.
    const now = this.platform.clock.now();
    if (this.held.size && now - this.forgottenAt >= 60_000) {
      this.forgottenAt = now;
      await forgetReplicas(this.platform.store, now - REPLICA_FORGET_MS);
    }
  }

  private async claimLeases(): Promise<void> {
    const now = this.platform.clock.now();
    let claims: Map<string, Claim>;
    try {
      claims = await claimLeases(this.platform.store, this.replicaId, [...this.duties.keys()], now, this.ttlMs);
    } catch (e) {
      // The store is out of reach: keep acting only while nobody else could have taken over.
      for (const [name, h] of this.held) if (now >= h.expiresAt - this.renewMs) await this.lose(name);
      throw e;
    }
    for (const [name, c] of claims) {
      this.last.set(name, c);
      if (this.stopping) return;
      if (c.held && c.epochRev !== undefined) {
        const was = this.held.get(name);
        this.held.set(name, { epochRev: c.epochRev, expiresAt: c.expiresAt! });
        if (!was || was.epochRev !== c.epochRev) await this.begin(name, was !== undefined);
      } else if (this.held.has(name)) {
        await this.lose(name);
      }
    }
  }

  private async begin(name: string, restart: boolean): Promise<void> {
    const duty = this.duties.get(name)!;
    try {
      if (restart) await duty.stop();
      await duty.start();
    } catch (e) {
      this.onError(e);
    }
  }

  private async lose(name: string): Promise<void> {
    this.held.delete(name);
    try {
      await this.duties.get(name)!.stop();
    } catch (e) {
      this.onError(e);
    }
  }
}

/** A duty whose work is one periodic loop: made when the lease is taken, stopped when it is lost. */
export function loopDuty(name: string, make: () => Loop, onStop?: () => void): Duty {
  let loop: Loop | undefined;
  return {
    name,
    start() {
      loop = make();
    },
    async stop() {
      const l = loop;
      loop = undefined;
      onStop?.();
      await l?.stop();
    },
  };
}
