/**
 * The console's sessions and one-time sign-in links, kept in Berth's store (a port the
 * composition root fills with the store itself), so that every replica sharing the store knows
 * them: a session opened through one replica works through the other, and signing out ends it
 * on all of them at once.
 *
 * At rest there is never a token, only its SHA-256: a session record is keyed
 * `<access key id>/<sha256(token) hex>` in kind `consoleSession`, a link's `<sha256(token)>`
 * in kind `consoleLink`. The cookie is `<access key id>.<token>` (the id locates the record; the
 * 256-bit token is the secret). The CSRF token is derived from the session token (a hash under
 * another label), so it is not stored either.
 *
 * Bounded: at most `maxPerPrincipal` sessions per access key (opening one more ends its oldest),
 * every session expires (`ttlMs`), at most `maxLinks` unopened links (the oldest go), and
 * expired records are swept as they are met.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';

/** A signed-in browser. */
export interface Session {
  /** The cookie's value: `<access key id>.<token>`. */
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

/** What the sessions need of Berth's store (its `get`, `list` and `commit`). */
export interface SessionRecordStore {
  get<T>(kind: string, key: string): Promise<{ value: T; rev: number } | undefined>;
  list<T>(kind: string, opts?: { prefix?: string; limit?: number }): Promise<Array<{ key: string; value: T; rev: number }>>;
  commit(writes: Array<{ kind: string; key: string; value: unknown | null; expectRev?: number }>): Promise<number>;
}

/** How the sessions are bounded. */
export interface SessionLimits {
  /** How long a session lasts (default 12 h). */
  ttlMs: number;
  /** How long a one-time sign-in link may wait to be opened (default 5 min). */
  linkTtlMs: number;
  /** Most sessions of one access key at once (default 20). */
  maxPerPrincipal: number;
  /** Most unopened links at once (default 100). */
  maxLinks: number;
}

const DEFAULTS: SessionLimits = { ttlMs: 12 * 3_600_000, linkTtlMs: 5 * 60_000, maxPerPrincipal: 20, maxLinks: 100 };

/** The store kinds of sessions and links. */
export const SESSION_KIND = 'consoleSession';
export const LINK_KIND = 'consoleLink';

/** A session record (no token: the key holds its hash). */
interface SessionRecord {
  accessKeyId: string;
  region: string;
  createdAt: number;
  expiresAt: number;
}

interface LinkRecord {
  accessKeyId: string;
  region: string;
  expiresAt: number;
}

function token(): string {
  return randomBytes(32).toString('base64url');
}

function sha256(label: string, s: string): string {
  return createHash('sha256').update(label).update('\0').update(s).digest('hex');
}

/** A token's shape: what a link must look like before it is even looked up. */
export const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
/** A session cookie's shape: `<access key id>.<token>`. */
const COOKIE_RE = /^([A-Za-z0-9]{1,128})\.([A-Za-z0-9_-]{43})$/;

/** The sessions and links of the Berth replicas sharing one store. */
export class Sessions {
  private readonly limits: SessionLimits;

  constructor(
    private readonly store: SessionRecordStore,
    private readonly clock: Clock,
    limits: Partial<SessionLimits> = {},
  ) {
    this.limits = { ...DEFAULTS, ...limits };
  }

  private session(accessKeyId: string, t: string, r: SessionRecord): Session {
    return { id: `${accessKeyId}.${t}`, accessKeyId, region: r.region, csrf: Buffer.from(sha256('berth-console-csrf', t), 'hex').toString('base64url'), expiresAt: r.expiresAt };
  }

  /** Opens a session for an access key whose secret was just checked (its oldest goes past the bound). */
  async open(accessKeyId: string, region: string): Promise<Session> {
    const now = this.clock.now();
    const mine = await this.store.list<SessionRecord>(SESSION_KIND, { prefix: `${accessKeyId}/`, limit: this.limits.maxPerPrincipal * 4 });
    const live = mine.filter((r) => r.value.expiresAt > now).sort((a, b) => a.value.createdAt - b.value.createdAt);
    const over = Math.max(0, live.length + 1 - this.limits.maxPerPrincipal);
    const gone = [...mine.filter((r) => r.value.expiresAt <= now), ...live.slice(0, over)];
    const t = token();
    const record: SessionRecord = { accessKeyId, region, createdAt: now, expiresAt: now + this.limits.ttlMs };
    await this.store.commit([...gone.map((r) => ({ kind: SESSION_KIND, key: r.key, value: null })), { kind: SESSION_KIND, key: `${accessKeyId}/${sha256('berth-console-session', t)}`, value: record }]);
    return this.session(accessKeyId, t, record);
  }

  /** The live session of this cookie value, if any. */
  async get(cookie: string | undefined): Promise<Session | undefined> {
    const m = cookie ? COOKIE_RE.exec(cookie) : null;
    if (!m) return undefined;
    const key = `${m[1]}/${sha256('berth-console-session', m[2]!)}`;
    const r = await this.store.get<SessionRecord>(SESSION_KIND, key);
    if (!r) return undefined;
    if (r.value.expiresAt <= this.clock.now()) {
      await this.store.commit([{ kind: SESSION_KIND, key, value: null }]).catch(() => undefined);
      return undefined;
    }
    return this.session(m[1]!, m[2]!, r.value);
  }

  /** Ends a session, through every replica. */
  async close(session: Session): Promise<void> {
    const t = session.id.slice(session.id.indexOf('.') + 1);
    await this.store.commit([{ kind: SESSION_KIND, key: `${session.accessKeyId}/${sha256('berth-console-session', t)}`, value: null }]);
  }

  /** Ends every session of an access key (sign out everywhere). */
  async closeAll(accessKeyId: string): Promise<number> {
    const mine = await this.store.list<SessionRecord>(SESSION_KIND, { prefix: `${accessKeyId}/`, limit: this.limits.maxPerPrincipal * 4 });
    if (mine.length) await this.store.commit(mine.map((r) => ({ kind: SESSION_KIND, key: r.key, value: null })));
    return mine.length;
  }

  /** A one-time sign-in link's token for an access key (authenticated by the caller). */
  async mintLink(accessKeyId: string, region: string): Promise<string> {
    const now = this.clock.now();
    const links = await this.store.list<LinkRecord>(LINK_KIND, { limit: this.limits.maxLinks * 2 });
    const live = links.filter((l) => l.value.expiresAt > now).sort((a, b) => a.value.expiresAt - b.value.expiresAt);
    const gone = [...links.filter((l) => l.value.expiresAt <= now), ...live.slice(0, Math.max(0, live.length + 1 - this.limits.maxLinks))];
    const t = token();
    await this.store.commit([...gone.map((l) => ({ kind: LINK_KIND, key: l.key, value: null })), { kind: LINK_KIND, key: sha256('berth-console-link', t), value: { accessKeyId, region, expiresAt: now + this.limits.linkTtlMs } satisfies LinkRecord }]);
    return t;
  }

  /** Uses up a link: its access key and region the first time (on any replica), undefined ever after (or once expired). */
  async redeemLink(t: string): Promise<{ accessKeyId: string; region: string } | undefined> {
    if (!TOKEN_RE.test(t)) return undefined;
    const key = sha256('berth-console-link', t);
    const l = await this.store.get<LinkRecord>(LINK_KIND, key);
    if (!l) return undefined;
    try {
      // Once: of two replicas redeeming it at the same time, one commit wins.
      await this.store.commit([{ kind: LINK_KIND, key, value: null, expectRev: l.rev }]);
    } catch {
      return undefined;
    }
    return l.value.expiresAt > this.clock.now() ? { accessKeyId: l.value.accessKeyId, region: l.value.region } : undefined;
  }
}
