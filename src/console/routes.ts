/**
 * The web console at `/console` on Berth's endpoint: its pages (one HTML shell and a compiled
 * bundle), its sign-in, and its data endpoints, all as one operator route of the HTTP server.
 *
 * - Sign-in with an access key pair (the secret checked against the same keys SigV4 uses) or a
 *   one-time link (`berth console`); the session is a cookie (HttpOnly, SameSite=Strict, Path
 *   /console).
 * - Every page and data endpoint needs a session; every change (POST) also needs the session's
 *   CSRF token in `x-berth-csrf`, a JSON body and, when the browser says where it comes from
 *   (Origin, Sec-Fetch-Site), this origin: a cross-site POST is refused before anything runs.
 * - Every datum comes from Berth's own API operations called as the session's access key
 *   (`ConsoleDeps.callAs`, the gateway's): the console sees and changes only what that principal
 *   may through the API.
 * - Live pages and log tails are server-sent events: the server recomputes a live view every
 *   `liveMs` and sends it only when it changed; a log tail sends each new batch of lines.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import { readBody } from '../server/http.js';
import { ACTIONS } from './actions.js';
import { ConsoleAssets } from './assets.js';
import { LogTail, type LogLine } from './logTail.js';
import { compressPage, initialViewFor, renderShell, viewKey } from './page.js';
import type { MetricsRing } from './metricsRing.js';
import { Sessions, TOKEN_RE, type Session, type SessionRecordStore } from './sessions.js';
import { VIEWS as ECS_VIEWS, type ApiCall, type ViewParams } from './views.js';
import { STACK_REGISTRY_VIEWS } from './stackRegistryViews.js';

/** Every view a page reads, by name (no prototype: a URL cannot name `toString`). */
const VIEWS: Record<string, (call: ApiCall, p: ViewParams) => Promise<unknown>> = Object.assign(Object.create(null), ECS_VIEWS, STACK_REGISTRY_VIEWS);

/** What the console needs from the rest of Berth (filled in by the composition root). */
export interface ConsoleDeps {
  clock: Clock;
  /** Whether a secret is the one of an access key (the gateway's `checkSecret`). */
  checkSecret(accessKeyId: string, secretAccessKey: string): Promise<boolean>;
  /** Calls an API operation as an access key's principal (the gateway's `callAs`). */
  callAs(accessKeyId: string, region: string, service: string, operation: string, input: unknown, endpoint: string, signal?: AbortSignal): Promise<Record<string, unknown>>;
  /** The target groups' chart points. */
  metrics: MetricsRing;
  /** Writes an audit line (a parameter revealed, a sign-in). */
  audit(message: string): void;
  /** The region a session works in unless its sign-in names one. */
  defaultRegion: string;
  /** Aborted when Berth shuts down: live streams end. */
  shutdown: AbortSignal;
  /** Where sessions and sign-in links are kept: Berth's store, shared by its replicas. */
  store: SessionRecordStore;
  /** Where the built bundle is (default: dist/console of this checkout). */
  assetsDir?: string;
  /** How often a live page is recomputed (default 1,000 ms). */
  liveMs?: number;
  /** How often a log tail reads new lines (default 250 ms). */
  logPollMs?: number;
}

/** The session cookie's name. */
export const SESSION_COOKIE = 'berth_console';
/** The header every change must carry the session's CSRF token in. */
export const CSRF_HEADER = 'x-berth-csrf';
/** Largest body of a console POST. */
const MAX_BODY = 16 * 1024;
/** How long a page waits for its own data to render into it. */
const INITIAL_VIEW_BUDGET_MS = 1_000;
/** How often an open stream checks that its session still exists. */
const SESSION_RECHECK_MS = 5_000;
/** Most live streams (pages and log tails) open at once per session. */
const MAX_STREAMS_PER_SESSION = 16;

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...SECURITY_HEADERS, ...headers });
  res.end(text);
}

function fail(res: ServerResponse, e: unknown): void {
  const err = e instanceof ServiceError ? e : undefined;
  if (!err) console.error('berth: console request failed:', e);
  json(res, err?.status ?? 500, { __type: err?.code ?? 'InternalFailure', message: err?.message ?? 'The request processing has failed because of an unknown error.' });
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function isHttps(req: IncomingMessage): boolean {
  return req.headers['x-forwarded-proto'] === 'https';
}

/** The origin this request was sent to (scheme and Host header). */
function ownOrigin(req: IncomingMessage): string {
  return `${isHttps(req) ? 'https' : 'http'}://${String(req.headers.host ?? '')}`;
}

/**
 * Whether a state-changing request comes from this origin's own pages, as far as the browser
 * says: Sec-Fetch-Site same-origin (when sent), Origin equal to this origin (when sent), and a
 * JSON body (which a cross-site form cannot send without a preflight nobody answers).
 */
function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== ownOrigin(req)) return false;
  return String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

function sessionCookie(req: IncomingMessage, value: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${isHttps(req) ? '; Secure' : ''}`;
}

function paramsOf(url: URL): ViewParams {
  const out: ViewParams = {};
  let n = 0;
  for (const [k, v] of url.searchParams) {
    if (++n > 20) break;
    out[k] = v;
  }
  return out;
}

/** The console of one Berth server. */
export class Console {
  private readonly sessions: Sessions;
  private readonly assets: ConsoleAssets;
  private readonly liveMs: number;
  private readonly logPollMs: number;
  private readonly streams = new Map<string, number>();

  constructor(private readonly deps: ConsoleDeps) {
    this.sessions = new Sessions(deps.store, deps.clock);
    this.assets = new ConsoleAssets(deps.assetsDir ?? fileURLToPath(new URL('../../console/', import.meta.url)));
    this.liveMs = deps.liveMs ?? 1_000;
    this.logPollMs = deps.logPollMs ?? 250;
  }

  /** A one-time sign-in link's path for an access key the caller authenticated (`berth console`). */
  async signInLink(accessKeyId: string, region: string): Promise<string> {
    return `/console/signin/${await this.sessions.mintLink(accessKeyId, region)}`;
  }

  /** The operator route: answers everything under /console, falls through otherwise. */
  readonly route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const path = url.pathname;
    if (path !== '/console' && !path.startsWith('/console/')) return false;
    try {
      await this.dispatch(req, res, url, path);
    } catch (e) {
      if (!res.headersSent) fail(res, e);
      else res.end();
    }
    return true;
  };

  private async dispatch(req: IncomingMessage, res: ServerResponse, url: URL, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (path === '/console') {
      res.writeHead(308, { location: '/console/' });
      res.end();
      return;
    }
    if (path.startsWith('/console/assets/') && (method === 'GET' || method === 'HEAD')) {
      if (!this.assets.serve(req, res, path.slice('/console/assets/'.length))) json(res, 404, { __type: 'NotFound', message: 'No such console asset.' });
      return;
    }
    if (path.startsWith('/console/signin/') && method === 'GET') return this.redeemLink(req, res, path.slice('/console/signin/'.length));
    if (path === '/console/api/signin') {
      if (method !== 'POST') return json(res, 405, { __type: 'MethodNotAllowed', message: 'Use POST.' });
      return this.signIn(req, res);
    }
    const session = await this.sessions.get(cookieOf(req, SESSION_COOKIE));
    if (!path.startsWith('/console/api/')) {
      if (method !== 'GET' && method !== 'HEAD') return json(res, 405, { __type: 'MethodNotAllowed', message: 'Pages are read with GET.' });
      return this.page(req, res, url, session);
    }
    if (!session) return json(res, 401, { __type: 'NotSignedIn', message: 'Sign in to the console first (an access key pair, or a link from `berth console`).' });
    if (method === 'POST') {
      if (!sameOrigin(req)) return json(res, 403, { __type: 'CrossSiteRequestRefused', message: 'The console accepts changes only from its own pages.' });
      if (!csrfMatches(req, session)) return json(res, 403, { __type: 'InvalidCsrfToken', message: `A change needs the session's CSRF token in ${CSRF_HEADER}; reload the page.` });
      return this.post(req, res, session, path);
    }
    if (method !== 'GET') return json(res, 405, { __type: 'MethodNotAllowed', message: 'Use GET to read, POST to change.' });
    const call = this.callerFor(req, session);
    if (path === '/console/api/me') return json(res, 200, { accessKeyId: session.accessKeyId, region: session.region, csrf: session.csrf });
    if (path.startsWith('/console/api/view/')) {
      const view = VIEWS[path.slice('/console/api/view/'.length)];
      if (!view) return json(res, 404, { __type: 'NotFound', message: 'No such view.' });
      return json(res, 200, await view(call, paramsOf(url)));
    }
    if (path.startsWith('/console/api/live/')) {
      const view = VIEWS[path.slice('/console/api/live/'.length)];
      if (!view) return json(res, 404, { __type: 'NotFound', message: 'No such view.' });
      return this.stream(res, session, (signal) => this.live(res, signal, () => view(this.callerFor(req, session, signal), paramsOf(url))));
    }
    if (path === '/console/api/logs') return this.logs(req, res, session, url);
    if (path === '/console/api/metrics') {
      const arn = url.searchParams.get('targetGroup') ?? '';
      // Only a target group this principal may describe.
      await call('elbv2', 'DescribeTargetGroups', { TargetGroupArns: [arn] });
      return json(res, 200, { intervalMs: this.deps.metrics.options.intervalMs, points: this.deps.metrics.series(arn) });
    }
    json(res, 404, { __type: 'NotFound', message: 'No such console endpoint.' });
  }

  private callerFor(req: IncomingMessage, session: Session, signal?: AbortSignal): ApiCall {
    const endpoint = ownOrigin(req);
    return (service, operation, input) => this.deps.callAs(session.accessKeyId, session.region, service, operation, input, endpoint, signal);
  }

  private async page(req: IncomingMessage, res: ServerResponse, url: URL, session: Session | undefined): Promise<void> {
    if (!this.assets.built) return json(res, 503, { __type: 'ConsoleNotBuilt', message: 'The console bundle is missing: run `npm run build`.' });
    // The page's own data goes into it: the first render needs no further round trip.
    let initial: { key: string; data: unknown } | undefined;
    const wanted = session && req.method === 'GET' ? initialViewFor(url.pathname) : undefined;
    if (session && wanted) {
      // Within a budget: a slow view is left to the page's live stream rather than holding the page.
      const ac = new AbortController();
      const data = VIEWS[wanted.view]!(this.callerFor(req, session, ac.signal), wanted.params).then(
        (d) => ({ d }),
        () => undefined, // the page's live stream says what went wrong
      );
      const late = this.deps.clock.sleep(INITIAL_VIEW_BUDGET_MS, ac.signal).then(() => undefined, () => undefined);
      const got = await Promise.race([data, late]);
      ac.abort();
      if (got) initial = { key: viewKey(wanted), data: got.d };
    }
    const html = renderShell({
      script: this.assets.script!,
      style: this.assets.style,
      preload: this.assets.preload,
      session: session && { csrf: session.csrf, accessKeyId: session.accessKeyId, region: session.region },
      initial,
    });
    const { body, encoding } = compressPage(req, html);
    // Without a session the shell shows the sign-in form, and says so with its status.
    res.writeHead(session ? 200 : 401, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', vary: 'accept-encoding', ...(encoding ? { 'content-encoding': encoding } : {}), 'content-length': body.length, ...SECURITY_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private async signIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!sameOrigin(req)) return json(res, 403, { __type: 'CrossSiteRequestRefused', message: 'Sign in from the console\'s own page.' });
    let input: Record<string, unknown>;
    try {
      input = JSON.parse((await readBody(req, MAX_BODY)).toString('utf8'));
    } catch {
      return json(res, 400, { __type: 'SerializationException', message: 'The body must be JSON: {"accessKeyId": "...", "secretAccessKey": "..."}.' });
    }
    const id = input?.accessKeyId;
    const secret = input?.secretAccessKey;
    const region = typeof input?.region === 'string' && /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(input.region) ? input.region : this.deps.defaultRegion;
    if (typeof id !== 'string' || typeof secret !== 'string' || !/^[A-Za-z0-9]{1,128}$/.test(id) || secret.length > 256 || !(await this.deps.checkSecret(id, secret))) {
      this.deps.audit(`console sign-in refused for access key ${typeof id === 'string' ? id.slice(0, 128) : '?'}`);
      return json(res, 403, { __type: 'SignInFailed', message: 'The access key id or the secret access key is wrong.' });
    }
    const s = await this.sessions.open(id, region);
    this.deps.audit(`console sign-in by access key ${id}`);
    json(res, 200, { accessKeyId: id, region, csrf: s.csrf }, { 'set-cookie': sessionCookie(req, s.id, Math.floor((s.expiresAt - this.deps.clock.now()) / 1000)) });
  }

  private async redeemLink(req: IncomingMessage, res: ServerResponse, t: string): Promise<void> {
    const link = TOKEN_RE.test(t) ? await this.sessions.redeemLink(t) : undefined;
    if (!link) return json(res, 403, { __type: 'SignInFailed', message: 'This sign-in link was used already or has expired: run `berth console` for a new one.' });
    const s = await this.sessions.open(link.accessKeyId, link.region);
    this.deps.audit(`console sign-in by access key ${link.accessKeyId} (one-time link)`);
    // A same-site navigation onward (a redirect would still count as the link's, cross-site one).
    const html = '<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/console/"><title>Berth console</title><a href="/console/">Open the console</a>';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'set-cookie': sessionCookie(req, s.id, Math.floor((s.expiresAt - this.deps.clock.now()) / 1000)), ...SECURITY_HEADERS });
    res.end(html);
  }

  private async post(req: IncomingMessage, res: ServerResponse, session: Session, path: string): Promise<void> {
    if (path === '/console/api/signout') {
      // This session ends on every replica; with {"everywhere": true}, every session of this access key.
      let everywhere = false;
      try {
        everywhere = JSON.parse((await readBody(req, MAX_BODY)).toString('utf8') || '{}')?.everywhere === true;
      } catch {
        return json(res, 400, { __type: 'SerializationException', message: 'The body must be a JSON object: {} or {"everywhere": true}.' });
      }
      const ended = everywhere ? await this.sessions.closeAll(session.accessKeyId) : (await this.sessions.close(session), 1);
      this.deps.audit(`console sign-out by access key ${session.accessKeyId}${everywhere ? ` (everywhere: ${ended} sessions)` : ''}`);
      return json(res, 200, { ended }, { 'set-cookie': sessionCookie(req, '', 0) });
    }
    const name = path.startsWith('/console/api/action/') ? path.slice('/console/api/action/'.length) : '';
    const action = Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined;
    if (!action) return json(res, 404, { __type: 'NotFound', message: 'No such console action.' });
    let input: unknown;
    try {
      input = JSON.parse((await readBody(req, MAX_BODY)).toString('utf8'));
    } catch {
      return json(res, 400, { __type: 'SerializationException', message: 'The body must be a JSON object.' });
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return json(res, 400, { __type: 'SerializationException', message: 'The body must be a JSON object.' });
    const out = await action({ call: this.callerFor(req, session), audit: (m) => this.deps.audit(`console: access key ${session.accessKeyId} ${m}`) }, input as Record<string, unknown>);
    json(res, 200, out);
  }

  /** Runs a server-sent event stream until the client goes, Berth shuts down, or `run` ends. */
  private async stream(res: ServerResponse, session: Session, run: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const open = this.streams.get(session.id) ?? 0;
    if (open >= MAX_STREAMS_PER_SESSION) return json(res, 429, { __type: 'TooManyStreams', message: `At most ${MAX_STREAMS_PER_SESSION} live pages or log tails per session.` });
    this.streams.set(session.id, open + 1);
    const ac = new AbortController();
    const end = () => ac.abort();
    res.on('close', end);
    this.deps.shutdown.addEventListener('abort', end, { once: true });
    void this.endWhenSignedOut(session, ac);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', ...SECURITY_HEADERS });
    res.write(': berth console\n\n');
    try {
      await run(ac.signal);
    } catch (e) {
      if (!ac.signal.aborted) send(res, 'failure', failureOf(e));
    } finally {
      this.deps.shutdown.removeEventListener('abort', end);
      const n = (this.streams.get(session.id) ?? 1) - 1;
      if (n <= 0) this.streams.delete(session.id);
      else this.streams.set(session.id, n);
      res.end();
    }
  }

  /** Ends a stream when its session ends (signed out, on any replica, or expired). */
  private async endWhenSignedOut(session: Session, ac: AbortController): Promise<void> {
    while (!ac.signal.aborted) {
      await pause(this.deps.clock, SESSION_RECHECK_MS, ac.signal);
      if (ac.signal.aborted) return;
      const still = await this.sessions.get(session.id).catch(() => session);
      if (!still) ac.abort();
    }
  }

  /** A live view: sent at once, then again whenever it changes; an error is sent and retried. */
  private async live(res: ServerResponse, signal: AbortSignal, compute: () => Promise<unknown>): Promise<void> {
    let last = '';
    let quiet = 0;
    while (!signal.aborted) {
      let text: string;
      let event = 'view';
      try {
        text = JSON.stringify(await compute());
      } catch (e) {
        if (signal.aborted) return;
        event = 'failure';
        text = JSON.stringify(failureOf(e));
      }
      if (text !== last) {
        last = text;
        send(res, event, text);
        quiet = 0;
      } else if ((quiet += this.liveMs) >= 15_000) {
        res.write(': still here\n\n');
        quiet = 0;
      }
      await pause(this.deps.clock, this.liveMs, signal);
    }
  }

  private async logs(req: IncomingMessage, res: ServerResponse, session: Session, url: URL): Promise<void> {
    const p = paramsOf(url);
    const num = (k: string) => (p[k] !== undefined && p[k] !== '' && Number.isFinite(Number(p[k])) ? Number(p[k]) : undefined);
    const now = this.deps.clock.now();
    const opts = {
      cluster: p.cluster ?? 'default',
      service: p.service || undefined,
      task: p.task || undefined,
      filterPattern: p.filter || undefined,
      // By default the last hour; `start`/`end` jump to a time range.
      startTime: num('start') ?? now - 3_600_000,
      endTime: num('end'),
    };
    if (p.download === '1') {
      const tail = new LogTail(this.callerFor(req, session), opts, () => this.deps.clock.now());
      const lines = await tail.poll();
      const body = lines.map((l) => `${new Date(l.t).toISOString()} ${l.container}/${l.task.slice(0, 8)} ${l.message}\n`).join('');
      const name = `${(opts.service ?? opts.task ?? 'logs').replace(/[^A-Za-z0-9_.-]/g, '_')}.log`;
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-disposition': `attachment; filename="${name}"`, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...SECURITY_HEADERS });
      res.end(body);
      return;
    }
    const follow = opts.endTime === undefined;
    await this.stream(res, session, async (signal) => {
      // A bad filter pattern or an unknown task is said in the stream (a `failure` event), which then ends.
      const tail = new LogTail(this.callerFor(req, session, signal), opts, () => this.deps.clock.now());
      const first = await tail.poll();
      if (first.length) sendLines(res, first);
      send(res, 'caught-up', '{}');
      while (follow && !signal.aborted) {
        await pause(this.deps.clock, this.logPollMs, signal);
        if (signal.aborted) return;
        const lines = await tail.poll();
        if (lines.length) sendLines(res, lines);
      }
    });
  }
}

function csrfMatches(req: IncomingMessage, session: Session): boolean {
  const given = req.headers[CSRF_HEADER];
  return typeof given === 'string' && Buffer.byteLength(given) === session.csrf.length && timingSafeEqual(Buffer.from(given), Buffer.from(session.csrf));
}

function failureOf(e: unknown): { code: string; message: string } {
  if (e instanceof ServiceError) return { code: e.code, message: e.message };
  console.error('berth: console stream failed:', e);
  return { code: 'InternalFailure', message: 'The console could not read this; see the server log.' };
}

function send(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

function sendLines(res: ServerResponse, lines: LogLine[]): void {
  send(res, 'lines', lines);
}

/** Waits `ms` on the clock, or less when `signal` aborts. */
async function pause(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  await clock.sleep(ms, signal).catch(() => undefined);
}
