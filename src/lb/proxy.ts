/**
 * Request routing and forwarding, as ALB does it: the listener's rules pick an action; a forward
 * picks a target group (weights, `AWSALBTG` stickiness) and a target (round robin, least
 * outstanding requests or weighted random; `AWSALB` stickiness; slow start), and the request
 * goes to it over pooled keep-alive connections (undici), or, for a WebSocket upgrade the
 * target accepts (101), over a raw TCP pipe.
 *
 * Behaviour: X-Forwarded-For/-Proto/-Port and X-Amzn-Trace-Id are added; hop-by-hop headers
 * (and any the client names in `Connection`) are not forwarded; 503 when a target group has no
 * target, 502 when the target refuses, resets or answers garbage, 504 when it does not answer
 * within the load balancer's idle timeout. A refused connection (the request never reached the
 * target) is retried on other targets, up to twice, for requests without a body.
 *
 * Paths: rules match, and the target receives, the normalized path (./paths.ts, `normalizePath`:
 * dot segments removed, unreserved escapes decoded, absolute-form reduced to its path), so
 * `/x/../admin` is `/admin` to both; a request target that is not a path (`*`) gets 400.
 *
 * Slow clients: a request body up to BUFFERED_BODY_BYTES is read whole before the request takes
 * an upstream connection, so a client trickling its body holds none; and one client address has
 * at most `maxRequestsPerClient` requests at the targets at once (more get 503).
 *
 * Invariants:
 * - Routing reads the current `CompiledTable` and the groups' `eligible` lists, both replaced
 *   whole, so a request sees one configuration; `adopt` swaps the table in one assignment.
 * - `Upstream.inflight` counts every request and WebSocket connection from when its target is
 *   picked until it is done; when a draining upstream's count reaches zero, `onDrainingIdle`
 *   says so (the target-drain controller may then remove its record).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Clock } from '../clock.js';
import type { CompiledListener, CompiledTable, ForwardAction } from './compile.js';
import type { ListenerHandlers } from './listeners.js';
import { RequestView } from './match.js';
import type { LoadBalancerMetrics, MetricSet } from './metrics.js';
import type { Upstream, UpstreamGroup, Upstreams } from './upstreams.js';
import { BUFFERED_BODY_BYTES, ELB_PAGES, HOP_BY_HOP, SKIP_RESPONSE, STATUS_TEXT, connectionTokens, cookieValue, forwardedFor, forwardedProto, redirectLocation, route } from './messages.js';


/** Where a client socket keeps the abort of its request in flight (one at a time on HTTP/1.1). */
const ABORT = Symbol('berth.lb.abort');
type ClientSocket = Socket & { [ABORT]?: (err?: Error) => void };

const TRACE_PREFIX = randomBytes(4).toString('hex');

/** Most bytes of a target's answer to an upgrade request read before giving up on it. */
const MAX_UPGRADE_RESPONSE_HEAD = 16 * 1024;
const EMPTY_TABLE: CompiledTable = { generation: 0, listeners: new Map(), groups: new Map(), loadBalancerArns: [], weightCounters: 0 };

export interface RequestProxyOptions {
  /** Timestamps (trace ids, cookie expiry) and slow start. */
  clock: Clock;
  upstreams: Upstreams;
  metrics: LoadBalancerMetrics;
  /** A draining upstream's last request finished. */
  onDrainingIdle: (u: Upstream) => void;
  /** Most requests one client address may have at the targets at once (read per request). */
  maxRequestsPerClient: () => number;
}

/** Routes and forwards what the listener servers receive; see the module doc. */
export class RequestProxy implements ListenerHandlers {
  private table: CompiledTable = EMPTY_TABLE;
  /** Smooth weighted round-robin counters of the current table's forward actions (`ForwardAction.cursor`). */
  private weightCounters = new Float64Array(0);
  private readonly upgraded = new Set<Socket>();
  /** Requests at the targets per client address (absent: none). */
  private readonly perClient = new Map<string, number>();
  private traceCounter = 0;
  private readonly clock: Clock;
  private readonly upstreams: Upstreams;
  private readonly metrics: LoadBalancerMetrics;

  constructor(private readonly opts: RequestProxyOptions) {
    this.clock = opts.clock;
    this.upstreams = opts.upstreams;
    this.metrics = opts.metrics;
  }

  /** Routes new requests by `table` from now on. */
  adopt(table: CompiledTable): void {
    this.weightCounters = new Float64Array(table.weightCounters);
    this.table = table;
  }

  /** Closes the WebSocket connections passed through (plain requests end with their servers). */
  stop(): void {
    for (const s of this.upgraded) s.destroy();
  }

  // ---- ListenerHandlers ----------------------------------------------------------------------

  request(port: number, req: IncomingMessage, res: ServerResponse): void {
    const l = this.table.listeners.get(port);
    if (!l) {
      this.elbError(undefined, res, 503);
      return;
    }
    const lm = this.metrics.loadBalancer(l.lbArn);
    lm.count('RequestCount');
    const view = new RequestView(req.method ?? 'GET', req.url ?? '/', req.headers, req.socket.remoteAddress ?? '');
    if (view.path === undefined) {
      // `OPTIONS *`, an authority-form target or a malformed escape: not a path any rule can match.
      this.elbError(lm, res, 400);
      req.resume();
      return;
    }
    const action = l.rules.length ? route(l, view) : l.defaultAction;
    if (action.type === 'fixed') {
      lm.count('HTTP_Fixed_Response_Count');
      res.writeHead(action.status, { server: 'awselb/2.0', 'content-type': action.contentType, 'content-length': action.body.length });
      res.end(action.body);
      req.resume();
      return;
    }
    if (action.type === 'redirect') {
      lm.count('HTTP_Redirect_Count');
      const location = redirectLocation(action.config, l, view, view.path);
      res.writeHead(action.config.StatusCode === 'HTTP_301' ? 301 : 302, { server: 'awselb/2.0', location, 'content-length': 0 });
      res.end();
      req.resume();
      return;
    }
    const groupSticky = action.groupStickinessMs > 0;
    const g = this.pickGroup(action, groupSticky ? String(req.headers.cookie ?? '') : '');
    if (!g) {
      this.elbError(lm, res, 503);
      return;
    }
    const cookies = groupSticky || g.config.stickinessMs > 0 ? String(req.headers.cookie ?? '') : '';
    g.metrics.count('RequestCount');
    const u = this.pickUpstream(g, cookies, undefined);
    if (!u) {
      this.elbError(lm, res, 503);
      return;
    }
    const setCookies: string[] | undefined = groupSticky || g.config.stickinessMs > 0 ? [] : undefined;
    if (setCookies && groupSticky) {
      const exp = new Date(this.clock.now() + action.groupStickinessMs).toUTCString();
      setCookies.push(`AWSALBTG=${g.cookie}; Expires=${exp}; Path=/`, `AWSALBTGCORS=${g.cookie}; Expires=${exp}; Path=/; SameSite=None; Secure`);
    }
    const client = req.socket.remoteAddress ?? '';
    const held = this.perClient.get(client) ?? 0;
    if (held >= this.opts.maxRequestsPerClient()) {
      this.elbError(lm, res, 503);
      req.resume();
      return;
    }
    this.perClient.set(client, held + 1);
    const release = () => {
      const n = (this.perClient.get(client) ?? 1) - 1;
      if (n <= 0) this.perClient.delete(client);
      else this.perClient.set(client, n);
    };
    res.once('close', release);
    const path = view.rawQuery ? `${view.path}?${view.rawQuery}` : view.path;
    const length = Number(req.headers['content-length'] ?? '0');
    if (length > 0 && length <= BUFFERED_BODY_BYTES) {
      // Read the body before taking an upstream connection (the listener's timeouts bound the wait).
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.once('end', () => this.forward(req, res, path, Buffer.concat(chunks), l, lm, g, u, setCookies, 2));
      return;
    }
    this.forward(req, res, path, undefined, l, lm, g, u, setCookies, 2);
  }

  /**
   * A request that asks to switch protocols (WebSocket). It goes to the target like any request
   * (rules, X-Forwarded-*); only if the target answers 101 does the connection become a raw
   * tunnel, closed after the listener's idle timeout without traffic. Any other answer is passed
   * back as a normal response and the connection then closed, so nothing after it can skip the
   * rules as unparsed tunnel bytes.
   */
  upgrade(port: number, req: IncomingMessage, socket: Socket, head: Buffer): void {
    const l = this.table.listeners.get(port);
    const lm = l && this.metrics.loadBalancer(l.lbArn);
    const fail = (status: number, text: string) => {
      if (status >= 500) lm?.count('HTTPCode_ELB_5XX_Count');
      else lm?.count('HTTPCode_ELB_4XX_Count');
      if (!socket.destroyed) socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    socket.on('error', () => undefined);
    if (!l || !lm) return fail(503, 'Service Unavailable');
    lm.count('RequestCount');
    const view = new RequestView(req.method ?? 'GET', req.url ?? '/', req.headers, req.socket.remoteAddress ?? '');
    if (view.path === undefined) return fail(400, 'Bad Request');
    const action = route(l, view);
    if (action.type !== 'forward') return fail(400, 'Bad Request');
    const cookies = String(req.headers.cookie ?? '');
    const g = this.pickGroup(action, cookies);
    const u = g && this.pickUpstream(g, cookies, undefined);
    if (!g || !u) return fail(503, 'Service Unavailable');
    g.metrics.count('RequestCount');
    u.inflight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.finished(u);
    };
    this.upgraded.add(socket);
    socket.once('close', () => {
      this.upgraded.delete(socket);
      release();
    });
    const headers: Record<string, string | string[]> = {};
    for (const k in req.headers) {
      if (k === 'x-forwarded-for' || k === 'x-forwarded-proto' || k === 'x-forwarded-port') continue;
      const v = req.headers[k];
      if (v !== undefined) headers[k] = v;
    }
    headers['x-forwarded-for'] = forwardedFor(req);
    headers['x-forwarded-proto'] = forwardedProto(l);
    headers['x-forwarded-port'] = String(l.port);
    if (!req.headers['x-amzn-trace-id']) headers['x-amzn-trace-id'] = this.traceId();
    const path = view.rawQuery ? `${view.path}?${view.rawQuery}` : view.path;
    const up = httpRequest({ host: u.target.id, port: u.target.port, method: req.method, path, headers, agent: false, maxHeaderSize: MAX_UPGRADE_RESPONSE_HEAD });
    const idle = (a: Socket, b: Socket) => {
      a.setTimeout(l.idleMs, () => {
        a.destroy();
        b.destroy();
      });
    };
    let answered = false;
    up.on('upgrade', (res, upstream, upstreamHead) => {
      // 101: a tunnel from now on, both ways.
      answered = true;
      const lines = [`HTTP/1.1 101 ${res.statusMessage ?? 'Switching Protocols'}`];
      for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      if (upstreamHead.length) socket.write(upstreamHead);
      if (head.length) upstream.write(head);
      idle(socket, upstream);
      idle(upstream, socket);
      upstream.on('error', () => socket.destroy());
      upstream.on('close', () => socket.destroy());
      socket.on('close', () => upstream.destroy());
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    up.on('response', (res) => {
      // Not switching: a normal response, then the connection closes.
      answered = true;
      lm.targetResponse(res.statusCode ?? 502, 0);
      const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}`];
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        const k = res.rawHeaders[i]!.toLowerCase();
        if (k === 'connection' || k === 'keep-alive' || k === 'transfer-encoding' || k === 'content-length' || k === 'upgrade') continue;
        lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      }
      lines.push('Connection: close');
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      res.pipe(socket);
      res.on('error', () => socket.destroy());
    });
    up.setTimeout(l.idleMs, () => up.destroy(Object.assign(new Error('upgrade timed out'), { code: 'ETIMEDOUT' })));
    up.on('error', (e: NodeJS.ErrnoException) => {
      if (!answered) fail(e.code === 'ETIMEDOUT' ? 504 : 502, e.code === 'ETIMEDOUT' ? 'Gateway Time-out' : 'Bad Gateway');
      else socket.destroy();
      release();
    });
    up.end();
  }

  clientClosed(socket: Socket): void {
    (socket as ClientSocket)[ABORT]?.(new Error('the client closed the connection'));
  }

  /**
   * Bytes Node's parser refused, or a request that did not arrive in time: 408 for a request
   * cut by the listener's timeouts (a connection that never sent a byte is just closed), 431
   * for a request head over the limit, 400 for the rest.
   */
  clientError(port: number, sock: Socket, err: NodeJS.ErrnoException): void {
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (!sock.writable || err.code === 'ECONNRESET' || (timedOut && sock.bytesRead === 0)) {
      sock.destroy();
      return;
    }
    const l = this.table.listeners.get(port);
    if (l) this.metrics.loadBalancer(l.lbArn).count('HTTPCode_ELB_4XX_Count');
    const status = timedOut ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const page = ELB_PAGES[status]!;
    sock.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nServer: awselb/2.0\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: ${page.length}\r\n\r\n${page.toString()}`);
  }

  connections(lbArn: string, open: number): void {
    this.metrics.loadBalancer(lbArn).gauges.ActiveConnectionCount = open;
  }

  // ---- choosing --------------------------------------------------------------------------------

  /** A target group: sticky (`AWSALBTG`) if enabled, else by smooth weighted round robin. */
  private pickGroup(a: ForwardAction, cookies: string): UpstreamGroup | undefined {
    const n = a.groups.length;
    const groups = this.upstreams.groups;
    if (n === 1) return a.weights[0]! > 0 || a.totalWeight === 0 ? groups.get(a.groups[0]!) : undefined;
    if (n === 0 || a.totalWeight === 0) return undefined;
    if (a.groupStickinessMs > 0 && cookies) {
      const v = cookieValue(cookies, 'AWSALBTG');
      if (v) {
        for (let i = 0; i < n; i++) {
          const g = groups.get(a.groups[i]!);
          if (g && g.cookie === v && a.weights[i]! > 0) return g;
        }
      }
    }
    const current = this.weightCounters;
    const base = a.cursor;
    let best = -1;
    for (let i = 0; i < n; i++) {
      current[base + i]! += a.weights[i]!;
      if (best < 0 || current[base + i]! > current[base + best]!) best = i;
    }
    current[base + best]! -= a.totalWeight;
    return groups.get(a.groups[best]!);
  }

  /** A target of the group for a new request, other than `exclude` when there is a choice. */
  private pickUpstream(g: UpstreamGroup, cookies: string, exclude: Upstream | undefined): Upstream | undefined {
    const list = g.eligible;
    const n = list.length;
    if (n === 0) return undefined;
    const cfg = g.config;
    if (cfg.stickinessMs > 0 && cookies) {
      const v = cookieValue(cookies, 'AWSALB');
      if (v) for (const u of list) if (u.cookie === v && u !== exclude) return u;
    }
    if (cfg.algorithm === 'least_outstanding_requests') {
      let best: Upstream | undefined;
      const start = g.rr++ % n;
      for (let i = 0; i < n; i++) {
        const u = list[(start + i) % n]!;
        if (u === exclude) continue;
        if (!best || u.inflight < best.inflight) best = u;
      }
      return best;
    }
    if (cfg.algorithm === 'weighted_random') {
      const u = list[Math.floor(Math.random() * n)]!;
      return u === exclude && n > 1 ? list[(list.indexOf(u) + 1) % n] : u;
    }
    const slowStartMs = cfg.slowStartMs;
    const now = slowStartMs > 0 ? this.clock.now() : 0;
    for (let i = 0; i < n; i++) {
      const u = list[g.rr++ % n]!;
      if (g.rr > 0x3fffffff) g.rr = 0;
      if (u === exclude && n > 1) continue;
      // Slow start: a newly healthy target takes a share growing linearly over the window.
      if (slowStartMs > 0 && u.healthySince > 0 && now - u.healthySince < slowStartMs && Math.random() > (now - u.healthySince) / slowStartMs) continue;
      return u;
    }
    return list[g.rr++ % n];
  }

  // ---- forwarding ------------------------------------------------------------------------------

  /**
   * Sends one request to `u`: `path` is the normalized path and query; `body` the buffered body,
   * or undefined to stream the request itself (when it has a body).
   */
  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: Buffer | undefined,
    l: CompiledListener,
    lm: MetricSet,
    g: UpstreamGroup,
    u: Upstream,
    setCookies: string[] | undefined,
    retries: number,
  ): void {
    const headers: Record<string, string | string[]> = {};
    const inHeaders = req.headers;
    const named = connectionTokens(inHeaders.connection);
    for (const k in inHeaders) {
      // HTTP/2 pseudo-headers (`:method`, `:path`...) are not HTTP/1.1 headers.
      if (HOP_BY_HOP.has(k) || named?.has(k) || k.charCodeAt(0) === 58) continue;
      const v = inHeaders[k];
      if (v !== undefined) headers[k] = v;
    }
    headers['x-forwarded-for'] = forwardedFor(req);
    headers['x-forwarded-proto'] = forwardedProto(l);
    headers['x-forwarded-port'] = String(l.port);
    if (!inHeaders['x-amzn-trace-id']) headers['x-amzn-trace-id'] = this.traceId();
    const hasBody = body !== undefined || (inHeaders['content-length'] !== undefined ? inHeaders['content-length'] !== '0' : inHeaders['transfer-encoding'] !== undefined);
    const stickyMs = g.config.stickinessMs;
    const clock = this.clock;
    u.inflight++;
    const started = performance.now();
    let responded = false;
    let done = false;
    // Small bodies arrive in one chunk: holding it until the end lets node write headers and
    // body in one syscall.
    let held: Buffer | undefined;
    let contentLength = -1;
    let abort: ((err?: Error) => void) | undefined;
    let resumeUpstream: (() => void) | undefined;
    let broken = false;
    const sock = req.socket as ClientSocket;
    // An HTTP/2 request is one stream of a shared connection: it ends with its stream, not the socket.
    const h2 = req.httpVersionMajor === 2;
    const streaming = body === undefined && hasBody;
    const finish = (err?: { code?: string }) => {
      if (done) return;
      done = true;
      if (sock[ABORT] === abort) sock[ABORT] = undefined;
      this.finished(u);
      if (!err) return;
      if (responded) {
        res.destroy();
        return;
      }
      if (sock.destroyed) return; // the client went away (ALB logs this as 460)
      // A refused connection means the request never reached the target: try another one
      // (a body read whole can be sent again; a streamed one is gone).
      if (err.code === 'ECONNREFUSED' && !broken && (!hasBody || body !== undefined) && retries > 0 && !res.destroyed) {
        const next = this.pickUpstream(g, '', u);
        if (next && next !== u) {
          this.forward(req, res, path, body, l, lm, g, next, setCookies, retries - 1);
          return;
        }
      }
      const timeout = err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT';
      this.elbError(lm, res, timeout ? 504 : 502);
    };
    u.pool.dispatch(
      { path, method: req.method as 'GET', headers, body: body ?? (hasBody ? req : null), headersTimeout: l.idleMs, bodyTimeout: l.idleMs },
      {
        onConnect(a: (err?: Error) => void) {
          // The client's socket aborts its one request in flight if it closes (see clientClosed).
          abort = a;
          if (h2) res.once('close', () => done || a(new Error('the client closed the stream')));
          else sock[ABORT] = a;
        },
        onHeaders(statusCode: number, raw: Buffer[], resume: () => void) {
          if (statusCode < 200) return true; // 1xx informational: wait for the final response
          responded = true;
          const rt = (performance.now() - started) / 1000;
          g.metrics.targetResponse(statusCode, rt);
          lm.targetResponse(statusCode, rt);
          const out: string[] = [];
          for (let i = 0; i < raw.length; i += 2) {
            const k = raw[i]!.toString('latin1');
            const kl = k.length;
            if ((kl === 10 || kl === 17) && SKIP_RESPONSE.has(k.toLowerCase())) continue;
            const v = raw[i + 1]!.toString('latin1');
            if (kl === 14 && k.toLowerCase() === 'content-length') contentLength = Number(v);
            out.push(k, v);
          }
          if (setCookies) {
            if (stickyMs > 0) {
              const exp = new Date(clock.now() + stickyMs).toUTCString();
              setCookies.push(`AWSALB=${u.cookie}; Expires=${exp}; Path=/`, `AWSALBCORS=${u.cookie}; Expires=${exp}; Path=/; SameSite=None; Secure`);
            }
            for (const c of setCookies) out.push('set-cookie', c);
          }
          // The target answers before the client's streamed body has all arrived (e.g. 413 to an
          // upload it does not read): the rest of the body is not forwarded (undici drops the
          // half-written upstream connection) and the client connection closes after this answer,
          // so no later request can queue behind the unread bytes.
          if (streaming && !req.complete) res.shouldKeepAlive = false;
          try {
            res.writeHead(statusCode, out);
          } catch (e) {
            // A header node refuses to send (e.g. invalid characters): answer 502, drop the rest.
            broken = true;
            responded = false;
            abort?.(e as Error);
            return true;
          }
          resumeUpstream = resume;
          return true;
        },
        onData(chunk: Buffer) {
          if (broken) return true;
          // The whole body in one chunk: the end follows at once, so write it with the end.
          if (chunk.length === contentLength) {
            held = chunk;
            return true;
          }
          if (res.write(chunk)) return true;
          if (resumeUpstream) res.once('drain', resumeUpstream);
          return false;
        },
        onComplete() {
          if (broken) {
            finish({ code: 'BERTH_INVALID_RESPONSE_HEADERS' });
            return;
          }
          if (held) res.end(held);
          else res.end();
          held = undefined;
          if (streaming && !req.complete && !h2) lingerThenClose(req, res);
          finish();
        },
        onError(err: Error) {
          finish(err as { code?: string });
        },
      },
    );
  }

  private finished(u: Upstream): void {
    u.inflight--;
    if (u.draining && u.inflight === 0) this.opts.onDrainingIdle(u);
  }

  private elbError(lm: MetricSet | undefined, res: ServerResponse, status: number): void {
    if (lm) {
      lm.count(status >= 500 ? 'HTTPCode_ELB_5XX_Count' : 'HTTPCode_ELB_4XX_Count');
      if (status === 502) lm.count('HTTPCode_ELB_502_Count');
      else if (status === 503) lm.count('HTTPCode_ELB_503_Count');
      else if (status === 504) lm.count('HTTPCode_ELB_504_Count');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = ELB_PAGES[status]!;
    res.writeHead(status, { server: 'awselb/2.0', 'content-type': 'text/html', 'content-length': body.length });
    res.end(body);
  }

  /** `Root=1-<epoch seconds hex>-<24 hex>`, unique per Berth process. */
  private traceId(): string {
    this.traceCounter = (this.traceCounter + 1) % 0x1_0000_0000;
    return `Root=1-${Math.floor(this.clock.now() / 1000).toString(16)}-${TRACE_PREFIX}${this.traceCounter.toString(16).padStart(16, '0')}`;
  }
}

/** Longest a closing client connection's unread request bytes are read and dropped after its answer. */
const LINGER_MS = 2_000;

/**
 * After an answer sent before the request body all arrived: reads and drops what the client
 * still sends (so closing does not reset the connection before the client read the answer),
 * then closes the connection once the answer is out, at most LINGER_MS later.
 */
function lingerThenClose(req: IncomingMessage, res: ServerResponse): void {
  const sock = req.socket;
  const drop = () => undefined;
  res.once('finish', () => {
    if (sock.destroyed) return;
    sock.on('data', drop);
    sock.resume();
    sock.end();
    const timer = setTimeout(() => sock.destroy(), LINGER_MS);
    timer.unref();
    sock.once('close', () => clearTimeout(timer));
  });
}

