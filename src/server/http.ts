/**
 * The one HTTP listener of a Berth server. Routes operator endpoints (`/_berth/...`) and
 * everything AWS-shaped to the gateway. Bodies are read with a size limit; nothing a client
 * sends can make this throw past the request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AwsGateway } from './gateway.js';
import { commonErrors } from '../protocol/errors.js';

/** Largest AWS API request body accepted (PutLogEvents allows ~1 MiB; templates up to 1 MiB). */
export const MAX_API_BODY = 16 * 1024 * 1024;

/** A route outside the AWS namespace. Returns false to fall through. */
export type OperatorRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;

export class BodyTooLargeError extends Error {}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      reject(new BodyTooLargeError());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new BodyTooLargeError());
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
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

export function createBerthServer(gateway: AwsGateway, routes: OperatorRoute[]): BerthServer {
  let inFlight = 0;
  let waiters: Array<() => void> = [];
  const server = createServer(async (req, res) => {
    inFlight++;
    try {
      const url = new URL(req.url ?? '/', 'http://berth.invalid');
      for (const route of routes) if (await route(req, res, url)) return;
      let body: Buffer;
      try {
        body = await readBody(req, MAX_API_BODY);
      } catch (e) {
        if (e instanceof BodyTooLargeError) {
          const err = commonErrors.tooLarge(MAX_API_BODY);
          res.writeHead(413, { 'content-type': 'application/x-amz-json-1.1', connection: 'close', 'x-amzn-errortype': err.code });
          res.end(JSON.stringify({ __type: err.code, message: err.message }));
          return;
        }
        throw e;
      }
      if (!AwsGateway.isAwsRequest(req)) {
        sendJson(res, 404, { __type: 'NotFound', message: `Nothing is served at ${req.method} ${url.pathname}. AWS APIs are at POST /; see /_berth/health.` });
        return;
      }
      const reply = await gateway.handle(req, body);
      res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
      res.end(reply.body);
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
