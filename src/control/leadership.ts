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
import { EPOCH_KIND, claimLeases, releaseLeases, type Claim } from '../domain/leases.js';
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
  private loop: Loop | undefined;
  private stopping = false;

  constructor(
    private readonly platform: Platform,
    opts: LeadershipOptions = {},
  ) {
    this.replicaId = opts.replicaId ?? newReplicaId();
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.renewMs = opts.renewMs ?? Math.max(50, Math.floor(this.ttlMs / 3));
    this.onError = opts.onError ?? ((e) => console.error('berth: leadership:', e));
  }
  private readonly onError: (e: unknown) => void;

  /** Registers a duty (before `start`). */
  add(duty: Duty): void {
    this.duties.set(duty.name, duty);
  }

  /** The platform a duty writes through: its commits are fenced by the duty's lease. */
  fencedPlatform(duty: string): Platform {
    return { ...this.platform, store: fencedStore(this.platform.store, duty, () => this.fence(duty)) };
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
  }

  /** Claims and renews now (after the store was reset, say), instead of at the next period. */
  async claimNow(): Promise<void> {
    await this.loop?.runNow();
  }

  /** Stops every duty this replica performs and gives their leases up, so another replica takes them at once. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop?.stop();
    const mine = [...this.held.keys()];
    for (const name of mine) await this.lose(name);
    await releaseLeases(this.platform.store, this.replicaId, mine).catch((e) => this.onError(e));
  }

  /** Every duty, who performs it and until when. */
  status(): DutyStatus[] {
    return [...this.duties.keys()].map((duty) => {
      const c = this.last.get(duty);
      return { duty, leading: this.held.has(duty), holder: c?.holder, expiresAt: c?.expiresAt };
    });
  }

  private async claim(): Promise<void> {
    if (this.stopping) return;
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
