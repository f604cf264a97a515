/**
 * The one HTTP listener of a Berth server. Routes the registry (`/v2/...`) to its front (a
 * streaming route, given by the composition root), operator endpoints (`/_berth/...`), and
 * everything AWS-shaped to the gateway: its admission (on the headers, signature included) comes
 * before any body is read, and the body is read only up to the operation's limit. Nothing a
 * client sends can make this throw past the request; a client that goes away mid-upload is
 * simply dropped.
 *
 * Deadlines: a request's head must arrive within `headersTimeout` (66 s) and the whole request
 * within REQUEST_TIMEOUT_MS (120 s), or it gets 408 and the connection closes. A streaming route
 * may trade the whole-request deadline of one request, once it has authenticated it, for an
 * inactivity deadline (`RequestDeadline.idle`): a multi-gigabyte layer upload may take as long as
 * it keeps sending.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { AwsGateway } from './gateway.js';
import type { Admission } from './admission.js';
import type { HttpReply } from './replies.js';
import type { ServerLog } from './serverLog.js';

/** A route outside the AWS namespace. Returns false to fall through. */
export type OperatorRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;

/** What a streaming route may do about its request's deadline. */
export interface RequestDeadline {
  /** From now on, the request fails (408) only if no byte of it arrives for `ms`. */
  idle(ms: number): void;
}

/** What the request log says of a request a streaming route answered; the route fills it in as it goes. */
export interface RequestNote {
  operation: string;
  principal?: string;
  errorCode?: string;
}

/**
 * A route that answers its requests itself, bodies included, and streams them (the registry's
 * `/v2/`): it authenticates before reading a body and sets its own limits.
 */
export interface StreamingRoute {
  handles(url: URL): boolean;
  handle(req: IncomingMessage, res: ServerResponse, url: URL, deadline: RequestDeadline, note: RequestNote): Promise<void>;
}

/** How long a whole request (head and body) may take to arrive, unless a streaming route says otherwise. */
export const REQUEST_TIMEOUT_MS = 120_000;

export interface BerthServerOptions {
  /** The registry front (`/v2/`). */
  registry?: StreamingRoute;
  /** The whole-request deadline (default REQUEST_TIMEOUT_MS; tests shorten it). */
  requestTimeoutMs?: number;
}

/**
 * Arms a request's deadline: unless the request has arrived whole within `ms`, it gets 408 and
 * its connection is closed (what Node's `requestTimeout` does, but per request, so that a
 * streaming route can switch to an inactivity deadline). Cleared when the answer is written.
 */
function armDeadline(req: IncomingMessage, res: ServerResponse, ms: number): RequestDeadline & { clear(): void } {
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const socket = req.socket;
  const expire = () => {
    if (done || req.complete) return;
    done = true;
    if (!res.headersSent) {
      res.writeHead(408, { connection: 'close', 'content-length': 0 });
      res.end();
      res.once('finish', () => socket.destroySoon());
    } else socket.destroy();
  };
  const arm = (fn: () => void, after: number) => {
    clearTimeout(timer);
    timer = setTimeout(fn, after);
    timer.unref();
  };
  arm(expire, ms);
  return {
    clear() {
      done = true;
      clearTimeout(timer);
    },
    idle(idleMs) {
      let seen = socket.bytesRead;
      let last = Date.now();
      const every = Math.max(10, Math.min(1000, idleMs / 4));
      const tick = () => {
        if (done || req.complete) return;
        const now = Date.now();
        if (socket.bytesRead !== seen) {
          seen = socket.bytesRead;
          last = now;
        } else if (now - last >= idleMs) return expire();
        arm(tick, every);
      };
      arm(tick, every);
    },
  };
}

import { readBody, BodyTooLargeError } from '../httpBody.js';
export { readBody, BodyTooLargeError, BodyAbortedError } from '../httpBody.js';

/**
 * Writes a whole answer. With `close`, the connection ends after it (the rest of an unread body
 * is never read: a refused upload costs nothing more).
 */
function send(req: IncomingMessage, res: ServerResponse, reply: HttpReply, close = false): void {
  // The socket as it is now: by 'finish' a client that went away has left req without one.
  const socket = req.socket;
  res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body), ...(close ? { connection: 'close' } : {}) });
  res.end(reply.body);
  if (close) res.once('finish', () => socket?.destroySoon());
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The listener plus a way to wait for requests still being handled. */
export interface BerthServer {
  server: Server;
  /** Resolves when no request handler is running (or after `ms`). */
  idle(ms: number): Promise<void>;
}

/** Most client connections the listener holds at once (more are refused by the kernel's backlog and Node). */
export const MAX_CONNECTIONS = 1024;

export function createBerthServer(gateway: AwsGateway, routes: OperatorRoute[], log: ServerLog, opts: BerthServerOptions = {}): BerthServer {
  let inFlight = 0;
  let waiters: Array<() => void> = [];
  const requestTimeoutMs = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  // Head deadlines are checked every second (Node's default is every 30 s); whole-request
  // deadlines are per request (armDeadline), so Node's own requestTimeout is off.
  const server = createServer({ connectionsCheckingInterval: 1000, requestTimeout: 0 }, async (req, res) => {
    inFlight++;
    const time = Date.now();
    const started = performance.now();
    const deadline = armDeadline(req, res, requestTimeoutMs);
    res.once('close', () => deadline.clear());
    let admitted: Admission | undefined;
    let errorCode: string | undefined;
    let streamed: RequestNote | undefined;
    // One line per answered request, once the answer is written (see serverLog.ts).
    res.once('finish', () => {
      deadline.clear();
      if (!log.wantsRequest(res.statusCode)) return;
      if (streamed) {
        log.request({ time, principal: streamed.principal ?? '-', operation: streamed.operation, status: res.statusCode, ms: performance.now() - started, error: streamed.errorCode });
        return;
      }
      // A request refused before admission is named by what it claims (target, access key).
      const target = req.headers['x-amz-target'];
      const operation = admitted ? `${admitted.service.name}.${admitted.operation ?? '?'}` : typeof target === 'string' ? target.slice(0, 200) : `${req.method} ${(req.url ?? '/').split('?')[0]!.slice(0, 200)}`;
      const claimed = /Credential=([^/,\s]{1,128})\//.exec(String(req.headers.authorization ?? '').slice(0, 512))?.[1];
      log.request({ time, requestId: admitted?.requestId, principal: admitted ? gateway.principalOf(admitted) : (claimed ?? '-'), operation, status: res.statusCode, ms: performance.now() - started, error: errorCode });
    });
    const reply = (r: HttpReply, close = false) => {
      errorCode = r.errorCode;
      send(req, res, r, close);
    };
    try {
      const url = new URL(req.url ?? '/', 'http://berth.invalid');
      if (opts.registry?.handles(url)) {
        streamed = { operation: `${req.method} ${url.pathname.slice(0, 200)}` };
        await opts.registry.handle(req, res, url, deadline, streamed);
        return;
      }
      for (const route of routes) if (await route(req, res, url)) return;
      if (!AwsGateway.isAwsRequest(req)) {
        reply({ status: 404, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ __type: 'NotFound', message: `Nothing is served at ${req.method} ${url.pathname.slice(0, 200)}. AWS APIs are at POST /; see /_berth/health.` }), errorCode: 'NotFound' }, true);
        return;
      }
      const admission = await gateway.admit(req);
      if ('status' in admission) {
        reply(admission, true);
        return;
      }
      admitted = admission;
      let body: Buffer;
      try {
        body = await readBody(req, admission.bodyLimit);
      } catch (e) {
        if (e instanceof BodyTooLargeError) reply(gateway.tooLarge(req, admission), true);
        else req.socket.destroy(); // the client went away mid-body: nobody to answer
        return;
      }
      reply(await gateway.handle(req, body, admission));
    } catch (e) {
      console.error('berth: request failed:', e);
      if (!res.headersSent) sendJson(res, 500, { __type: 'InternalFailure', message: 'The request processing has failed because of an unknown error.' });
      else res.destroy();
    } finally {
      if (--inFlight === 0) {
        const w = waiters;
        waiters = [];
        for (const r of w) r();
      }
    }
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.maxConnections = MAX_CONNECTIONS;
  return {
    server,
    idle: (ms) =>
      inFlight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const t = setTimeout(resolve, ms);
            waiters.push(() => {
              clearTimeout(t);
              resolve();
            });
          }),
  };
}
