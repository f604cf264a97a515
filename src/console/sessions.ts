/**
 * The console's sessions and one-time sign-in links, in memory (a restart signs everyone out).
 * A session is the access key id it was opened with (every call the console makes is made as
 * that key's principal, through the gateway), its region, and its CSRF token. Both tables are
 * bounded: the oldest entry goes when one is full.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';

/** A signed-in browser. */
export interface Session {
  /** The cookie's value (256 random bits, base64url). */
  id: string;
  /** The access key id the session was opened with: the principal of every call it makes. */
  accessKeyId: string;
  /** The region the console's calls are made in. */
  region: string;
  /** What every state-changing request of this session must carry in `x-berth-csrf`. */
  csrf: string;
  /** Epoch ms after which the session is gone. */
  expiresAt: number;
}

/** How the session tables are bounded. */
export interface SessionLimits {
  /** How long a session lasts (default 12 h). */
  ttlMs: number;
  /** How long a one-time sign-in link may wait to be opened (default 5 min). */
  linkTtlMs: number;
  /** Most sessions at once (default 1,000). */
  maxSessions: number;
  /** Most unopened links at once (default 100). */
  maxLinks: number;
}

const DEFAULTS: SessionLimits = { ttlMs: 12 * 3_600_000, linkTtlMs: 5 * 60_000, maxSessions: 1_000, maxLinks: 100 };

function token(): string {
  return randomBytes(32).toString('base64url');
}

/** A token's shape: what a cookie or a link must look like before it is even looked up. */
export const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

/** The sessions and links of one Berth server. */
export class Sessions {
  private readonly sessions = new Map<string, Session>();
  private readonly links = new Map<string, { accessKeyId: string; region: string; expiresAt: number }>();
  private readonly limits: SessionLimits;

  constructor(
    private readonly clock: Clock,
    limits: Partial<SessionLimits> = {},
  ) {
    this.limits = { ...DEFAULTS, ...limits };
  }

  /** Opens a session for an access key whose secret was just checked. */
  open(accessKeyId: string, region: string): Session {
    this.sweep();
    while (this.sessions.size >= this.limits.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    const s: Session = { id: token(), accessKeyId, region, csrf: token(), expiresAt: this.clock.now() + this.limits.ttlMs };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The live session with this id, if any. */
  get(id: string | undefined): Session | undefined {
    if (!id || !TOKEN_RE.test(id)) return undefined;
    const s = this.sessions.get(id);
    if (s && s.expiresAt <= this.clock.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return s;
  }

  /** Ends a session. */
  close(id: string): void {
    this.sessions.delete(id);
  }

  /** A one-time sign-in link's token for an access key (authenticated by the caller). */
  mintLink(accessKeyId: string, region: string): string {
    this.sweep();
    while (this.links.size >= this.limits.maxLinks) this.links.delete(this.links.keys().next().value!);
    const t = token();
    this.links.set(t, { accessKeyId, region, expiresAt: this.clock.now() + this.limits.linkTtlMs });
    return t;
  }

  /** Uses up a link: its access key and region the first time, undefined ever after (or once expired). */
  redeemLink(t: string): { accessKeyId: string; region: string } | undefined {
    if (!TOKEN_RE.test(t)) return undefined;
    const l = this.links.get(t);
    this.links.delete(t);
    return l && l.expiresAt > this.clock.now() ? { accessKeyId: l.accessKeyId, region: l.region } : undefined;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [k, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(k);
    for (const [k, l] of this.links) if (l.expiresAt <= now) this.links.delete(k);
  }
}
