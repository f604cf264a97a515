/**
 * The host ports the load balancer serves: one node:http or node:https server per listener
 * port, bound on `bindHost`, following the compiled listeners. What a server does with a
 * request is the handlers' business (the proxy); this module only binds, tunes and closes.
 *
 * Invariants:
 * - A port is served by at most one server; a listener whose protocol changes gets a new
 *   server (the old one closes first), other changes only retune it: an HTTPS listener's new
 *   certificates or security policy take effect for new connections without a rebind
 *   (see ./tls.ts for how a certificate is chosen by SNI).
 * - HTTPS listeners speak HTTP/2 and HTTP/1.1 to clients, chosen by ALPN (`h2`, `http/1.1`), as
 *   ALB does; targets get HTTP/1.1 either way. An HTTP/2 request reaches the handlers like an
 *   HTTP/1.1 one (node:http2's compatibility API) with `host` set from `:authority`.
 * - A port that cannot be bound (held by another program, a certificate that cannot be
 *   loaded) is reported in `bindErrors` and tried again at the next configuration change; an
 *   HTTPS listener whose new certificates cannot be loaded keeps serving its old ones (and the
 *   error is reported the same way).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { PemPair } from '../domain/elbv2/certificates.js';
import type { CompiledListener } from './compile.js';
import { buildListenerTls, type ListenerTls } from './tls.js';

/** What the servers hand their traffic to. */
export interface ListenerHandlers {
  request(port: number, req: IncomingMessage, res: ServerResponse): void;
  upgrade(port: number, req: IncomingMessage, socket: Socket, head: Buffer): void;
  /** A client connection (plain or TLS) closed: whatever it still waited for is abandoned. */
  clientClosed(socket: Socket): void;
  /** A client sent something that is not HTTP; the handler answers (or drops) the socket. */
  clientError(port: number, socket: Socket, err: NodeJS.ErrnoException): void;
  /** The number of open client connections of a load balancer changed. */
  connections(lbArn: string, open: number): void;
}

interface Served {
  server: Server;
  protocol: string;
  /** What an HTTPS server's TLS was built from (certificates and policy), to notice a change. */
  tlsKey: string;
  /** An HTTPS server's TLS (read by its SNI callback at each handshake). */
  tls?: ListenerTls;
  lbArn: string;
  open: number;
}

/** What a listener's TLS is built from, as one comparable string ('' for HTTP). */
function tlsKeyOf(l: CompiledListener): string {
  return l.protocol === 'HTTPS' ? JSON.stringify([l.certificateArn, ...l.extraCertificateArns, l.sslPolicy]) : '';
}

export class ListenerServers {
  private readonly servers = new Map<number, Served>();
  /** Ports whose listener could not bind, with the error (visible in logs and to tests). */
  readonly bindErrors = new Map<number, string>();
  private stopped = false;

  constructor(
    private readonly handlers: ListenerHandlers,
    /** The address to bind (read at each bind, so it can change). */
    private readonly bindHost: () => string,
    /** An HTTPS listener's certificate and key, or why there is none. */
    private readonly certificate: (certificateArn: string) => PemPair | string,
  ) {}

  /** Whether a listener is served on this port right now. */
  serving(port: number): boolean {
    return this.servers.has(port);
  }

  /** Binds, retunes and closes servers so exactly `listeners` are served. */
  async sync(listeners: Iterable<CompiledListener>): Promise<void> {
    if (this.stopped) return;
    const want = new Map<number, CompiledListener>();
    for (const l of listeners) want.set(l.port, l);
    for (const [port, s] of this.servers) {
      const l = want.get(port);
      if (!l || l.protocol !== s.protocol) {
        this.servers.delete(port);
        await closeServer(s.server);
      } else {
        s.lbArn = l.lbArn;
        tune(s.server, l.idleMs);
        if (tlsKeyOf(l) !== s.tlsKey) this.retuneTls(s, l);
      }
    }
    for (const [port, l] of want) {
      if (this.servers.has(port) || this.stopped) continue;
      await this.bind(l);
    }
  }

  /** Closes every server (connections still busy get a short grace period). */
  async closeAll(): Promise<void> {
    this.stopped = true;
    const all = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(all.map((s) => closeServer(s.server)));
  }

  /** An HTTPS listener's TLS from its certificates and policy, or why it cannot be built. */
  private listenerTls(l: CompiledListener): ListenerTls | string {
    const certs: Array<{ arn: string; pem: PemPair }> = [];
    for (const arn of [l.certificateArn, ...l.extraCertificateArns]) {
      const pem = this.certificate(arn);
      if (typeof pem === 'string') return pem;
      certs.push({ arn, pem });
    }
    try {
      return buildListenerTls(certs, l.sslPolicy);
    } catch (e) {
      // A PEM node cannot use (a key that does not match the certificate, say).
      return String(e);
    }
  }

  /** Gives a running HTTPS server new certificates or a new policy, for the connections that come next. */
  private retuneTls(s: Served, l: CompiledListener): void {
    const tls = this.listenerTls(l);
    if (typeof tls === 'string') {
      this.bindErrors.set(l.port, tls);
      console.error(`berth lb: listener ${l.arn} keeps its previous certificates: ${tls}`);
      return;
    }
    try {
      (s.server as HttpsServer).setSecureContext(tls.defaultOptions);
    } catch (e) {
      this.bindErrors.set(l.port, String(e));
      console.error(`berth lb: listener ${l.arn} keeps its previous certificates: ${e}`);
      return;
    }
    s.tls = tls;
    s.tlsKey = tlsKeyOf(l);
    this.bindErrors.delete(l.port);
  }

  private async bind(l: CompiledListener): Promise<void> {
    const { port } = l;
    const host = this.bindHost();
    let server: Server;
    let tls: ListenerTls | undefined;
    // The SNI callback reads the served record, made once the server is.
    let served: Served | undefined;
    if (l.protocol === 'HTTPS') {
      const built = this.listenerTls(l);
      if (typeof built === 'string') {
        this.bindErrors.set(port, built);
        console.error(`berth lb: listener ${l.arn}: ${built}`);
        return;
      }
      tls = built;
      try {
        const h2 = createSecureServer({
          ...tls.defaultOptions,
          allowHTTP1: true,
          SNICallback: (servername, cb) => cb(null, served?.tls?.select(servername)),
          settings: { maxHeaderListSize: MAX_REQUEST_HEAD_BYTES },
        });
        // What the HTTP/1.1 side of the server reads (node:http2 takes no options for it).
        const http1 = h2 as Http2SecureServer & { maxHeaderSize: number; connectionsCheckingInterval: number };
        http1.maxHeaderSize = MAX_REQUEST_HEAD_BYTES;
        http1.connectionsCheckingInterval = TIMEOUT_CHECK_MS;
        server = h2 as unknown as Server;
      } catch (e) {
        this.bindErrors.set(port, String(e));
        console.error(`berth lb: listener ${l.arn}: ${e}`);
        return;
      }
    } else {
      server = createHttpServer({ connectionsCheckingInterval: TIMEOUT_CHECK_MS, maxHeaderSize: MAX_REQUEST_HEAD_BYTES });
    }
    served = { server, protocol: l.protocol, tlsKey: tlsKeyOf(l), tls, lbArn: l.lbArn, open: 0 };
    const h = this.handlers;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      // HTTP/2: the authority is the host rules match and targets get.
      if (req.httpVersionMajor === 2 && req.headers.host === undefined) req.headers.host = req.headers[':authority'] as string | undefined;
      h.request(port, req, res);
    });
    server.on('upgrade', (req, socket, head) => h.upgrade(port, req, socket as Socket, head));
    server.on('connection', (sock: Socket) => {
      served.open++;
      this.countConnections(served.lbArn);
      sock.once('close', () => {
        h.clientClosed(sock);
        served.open--;
        this.countConnections(served.lbArn);
      });
    });
    // On HTTPS the request's socket is the TLS one, which closes on its own.
    if (l.protocol === 'HTTPS') server.on('secureConnection', (tls: Socket) => tls.once('close', () => h.clientClosed(tls)));
    server.on('clientError', (err: NodeJS.ErrnoException, sock: Socket) => h.clientError(port, sock, err));
    // A load balancer is not a forward proxy: CONNECT gets an answer, not a dropped socket.
    server.on('connect', (_req: IncomingMessage, sock: Socket) => {
      sock.on('error', () => undefined);
      sock.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    tune(server, l.idleMs);
    const err = await new Promise<Error | undefined>((resolve) => {
      server.once('error', resolve);
      server.listen(port, host, () => {
        server.off('error', resolve);
        resolve(undefined);
      });
    });
    if (err) {
      this.bindErrors.set(port, String(err));
      console.error(`berth lb: listener ${l.arn} cannot listen on ${host}:${port}: ${err}`);
      return;
    }
    this.bindErrors.delete(port);
    if (this.stopped) {
      await closeServer(server);
      return;
    }
    this.servers.set(port, served);
  }

  private countConnections(lbArn: string): void {
    let n = 0;
    for (const s of this.servers.values()) if (s.lbArn === lbArn) n += s.open;
    this.handlers.connections(lbArn, n);
  }
}

/**
 * Most bytes of request line and headers together (more: 431). ALB takes 64 KiB of headers;
 * this leaves room for a request line as long again (rules match any path in linear time).
 */
export const MAX_REQUEST_HEAD_BYTES = 72 * 1024;

/** How often Node checks the header and request deadlines below (its default, 30 s, would let a trickling client run 30 s over). */
const TIMEOUT_CHECK_MS = 250;

/**
 * The load balancer's idle timeout (`idle_timeout.timeout_seconds`, default 60) bounds a client
 * connection everywhere: an idle keep-alive connection closes after it; a request's headers and
 * body must both arrive within it (a client trickling its body is cut off, not waited for); a
 * connection with no traffic either way for it closes. A request waiting on its target is
 * answered 504 by the upstream timeouts first (1 s earlier). The whole request must arrive within
 * the idle timeout plus a second: stricter than ALB, which times out inactivity only (raise the
 * attribute for uploads that take longer).
 */
function tune(server: Server, idleMs: number): void {
  server.keepAliveTimeout = idleMs;
  server.headersTimeout = idleMs;
  server.requestTimeout = idleMs + 1000;
  server.timeout = idleMs + 1000;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // Connections still busy get a short grace period (a network bound, so a real timer), then go.
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  });
}
