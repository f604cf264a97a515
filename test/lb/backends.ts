/**
 * Real HTTP backends for load balancer tests: in-process node:http servers, and child-process
 * servers (for kill -9), plus a free-port finder and a small closed-loop load generator.
 */
import { createServer, request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTargetGroupCommand, type ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { spawn, type ChildProcess } from 'node:child_process';

export interface Backend {
  name: string;
  port: number;
  hits: number;
  /** Headers of the last request seen. */
  lastHeaders?: IncomingHttpHeaders;
  close(): Promise<void>;
}

/**
 * A backend answering `<name> <path>` with 200; `/slow?ms=N` waits N ms first; `/stream`
 * sends its body in two parts 400 ms apart; `/health`
 * answers with `healthStatus` (changeable).
 */
export async function startBackend(name: string): Promise<Backend & { healthStatus: number; server: Server }> {
  const b = {
    name,
    port: 0,
    hits: 0,
    healthStatus: 200,
    lastHeaders: undefined as IncomingHttpHeaders | undefined,
    server: undefined as unknown as Server,
    close: async () => {},
  };
  b.server = createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(b.healthStatus);
      res.end('ok');
      return;
    }
    b.hits++;
    b.lastHeaders = req.headers;
    const url = new URL(req.url ?? '/', 'http://x');
    const reply = () => {
      const body = `${name} ${url.pathname}`;
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (url.pathname.endsWith('/stream')) {
      // A streamed body: the first part now, the rest 400 ms later.
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name });
      res.write('first;');
      setTimeout(() => res.end('second'), 400);
      return;
    }
    if (url.pathname.endsWith('/slow')) setTimeout(reply, Number(url.searchParams.get('ms') ?? '500'));
    else reply();
  });
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', () => r()));
  b.port = (b.server.address() as AddressInfo).port;
  b.close = () =>
    new Promise<void>((r) => {
      b.server.close(() => r());
      b.server.closeAllConnections();
    });
  return b;
}

const CHILD_SCRIPT = `
const http = require('node:http');
const name = process.argv[1];
const s = http.createServer((req, res) => { res.writeHead(200, {'x-backend': name}); res.end(name + ' ' + req.url); });
s.keepAliveTimeout = 60000;
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
`;

/** A backend in its own node process (so a test can kill -9 it). */
export async function spawnBackend(name: string): Promise<{ name: string; port: number; proc: ChildProcess }> {
  const proc = spawn(process.execPath, ['-e', CHILD_SCRIPT, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    proc.once('exit', (c) => reject(new Error(`backend ${name} exited with ${c}`)));
  });
  return { name, port, proc };
}

export { freePort } from '../helpers/fixture.js';

export interface Reply {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

/** One GET through the load balancer (own connection unless an agent is given). */
export function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return send((done) => request({ host: '127.0.0.1', port, path, method: 'GET', headers }, done));
}

/** Sends a bodiless request made by `make` (node:http or node:https) and reads the whole reply. */
export function send(make: (onResponse: (res: IncomingMessage) => void) => ClientRequest): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = make((res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Runs `concurrency` closed loops of GETs until `stop()` is called; counts outcomes by status
 * ("error <code>" for transport failures) and by backend.
 */
export function loadGenerator(port: number, path: string, concurrency: number) {
  const stats = { total: 0, byStatus: new Map<string, number>(), byBackend: new Map<string, number>() };
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      let key: string;
      try {
        const r = await get(port, path);
        key = String(r.status);
        const b = String(r.headers['x-backend'] ?? '');
        if (b) stats.byBackend.set(b, (stats.byBackend.get(b) ?? 0) + 1);
      } catch (e) {
        key = `error ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      }
      stats.total++;
      stats.byStatus.set(key, (stats.byStatus.get(key) ?? 0) + 1);
    }
  });
  return {
    stats,
    failures: () => [...stats.byStatus].filter(([k]) => k !== '200').reduce((n, [, v]) => n + v, 0),
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * Health-check settings for target groups of tasks an agent starts: with a health-check "second"
 * of 50 ms, two failed checks (the default here) take ~350 ms, less than a node process may need
 * to listen on a busy machine, and the service would replace a healthy revision's task as
 * unhealthy. Ten failures in a row (2.5 s) leave it room; a target still turns healthy after two
 * passing checks.
 */
export const TASK_TARGET_HEALTH = { UnhealthyThresholdCount: 10 } as const;

/**
 * Creates an HTTP `ip` target group with the health check the load balancer tests use
 * (/health, 5 s interval, 2 s timeout, thresholds 2); `extra` overrides any of it.
 */
export async function createTestTargetGroup(elb: ElasticLoadBalancingV2Client, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const out = await elb.send(
    new CreateTargetGroupCommand({
      Name: name,
      Protocol: 'HTTP',
      Port: 80,
      TargetType: 'ip',
      VpcId: 'vpc-local',
      HealthCheckPath: '/health',
      HealthCheckIntervalSeconds: 5,
      HealthCheckTimeoutSeconds: 2,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
      ...extra,
    }),
  );
  return out.TargetGroups![0]!.TargetGroupArn!;
}

/**
 * A backend that answers every request at once and never reads the request body, as a target
 * refusing an upload (413) or ignoring it does: `/<3 digits>` with that status (`/close/<3 digits>`
 * also closes the connection, `/stall/<3 digits>` keeps it and stops reading it), `/health` and any other path with 200.
 */
export async function startEagerBackend(name: string): Promise<Backend & { server: Server }> {
  const b = { name, port: 0, hits: 0, lastHeaders: undefined as IncomingHttpHeaders | undefined, server: undefined as unknown as Server, close: async () => {} };
  b.server = createServer((req, res) => {
    const body = req.url === '/health' ? 'ok' : `${name} answered without reading`;
    if (req.url !== '/health') {
      b.hits++;
      b.lastHeaders = req.headers;
    }
    const m = /^\/(close\/|stall\/)?([1-5]\d\d)$/.exec(req.url ?? '');
    const status = m ? Number(m[2]) : 200;
    const headers: Record<string, string | number> = { 'content-type': 'text/plain', 'x-backend': name, 'content-length': Buffer.byteLength(body) };
    if (m?.[1] === 'close/') headers.connection = 'close';
    // Node reads and drops an unread body once the answer is sent: stop reading the connection instead.
    if (m?.[1] === 'stall/') res.once('finish', () => setImmediate(() => req.socket.pause()));
    res.writeHead(status, headers);
    res.end(body);
  });
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', () => r()));
  b.port = (b.server.address() as AddressInfo).port;
  b.close = () =>
    new Promise<void>((r) => {
      b.server.close(() => r());
      b.server.closeAllConnections();
    });
  return b;
}

/**
 * POSTs `bytes` bytes (Content-Length, written in 64 KiB chunks as the connection takes them)
 * and resolves with the answer as soon as it is complete, with how long it took; errors writing
 * the rest of the body after the answer arrived (the server closed) are expected and ignored.
 */
export function upload(port: number, path: string, bytes: number, timeoutMs: number): Promise<Reply & { ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let answered = false;
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': bytes } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        answered = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers, ms: Date.now() - started });
        req.destroy();
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no complete answer to a ${bytes}-byte upload within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => {
      if (answered) return;
      clearTimeout(timer);
      reject(e);
    });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = () => {
      while (sent < bytes && !req.destroyed) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        const more = req.write(n === chunk.length ? chunk : chunk.subarray(0, n));
        if (sent >= bytes) {
          req.end();
          return;
        }
        if (!more) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}
