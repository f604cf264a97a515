/**
 * A minimal Docker Engine API client over the unix socket (node:http with socketPath); no docker
 * CLI. Works with dockerd and podman's compat API. DOCKER_HOST=unix:///path overrides the socket.
 */
import { Agent as HttpAgent, request, type IncomingMessage } from 'node:http';

/** An error answer from the engine. */
export class EngineError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** The socket path from DOCKER_HOST (unix:// only) or the default. */
export function defaultDockerSocket(env: NodeJS.ProcessEnv = process.env): string {
  const h = env.DOCKER_HOST;
  if (h && h.startsWith('unix://')) return h.slice('unix://'.length);
  return '/var/run/docker.sock';
}

/** A request to the engine. `body` objects are sent as JSON; Buffers/streams as is. */
export interface EngineRequest {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Fail the request once its connection has been idle this long (ms); absent or 0: never (streams). */
  timeoutMs?: number;
  /** Aborting destroys the request. */
  signal?: AbortSignal;
}

/**
 * Thin client: JSON calls and raw streaming calls.
 *
 * It has an HTTP agent of its own, without an idle timeout: Node's global agent (since Node 19)
 * closes a socket idle for 5 s, which cut every long-lived answer (a container's log stream, the
 * event stream, a wait) as soon as the container was quiet for 5 s. A request times out only
 * when it says so (`timeoutMs`). Connections are not kept alive between calls (a unix socket
 * connects in microseconds), so no idle connection lingers either.
 */
export class DockerEngine {
  private readonly agent = new HttpAgent({ keepAlive: false });

  constructor(readonly socketPath: string = defaultDockerSocket()) {}

  /** Sends a request and returns the raw response (caller consumes it). Rejects on connection errors only. */
  raw(r: EngineRequest): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const isBuf = Buffer.isBuffer(r.body);
      const payload = r.body === undefined ? undefined : isBuf ? (r.body as Buffer) : Buffer.from(JSON.stringify(r.body));
      const req = request(
        {
          socketPath: this.socketPath,
          method: r.method,
          path: r.path,
          headers: {
            host: 'docker',
            ...(payload ? { 'content-type': isBuf ? 'application/x-tar' : 'application/json', 'content-length': String(payload.length) } : {}),
            ...r.headers,
          },
          agent: this.agent,
          timeout: r.timeoutMs,
          signal: r.signal,
        },
        resolve,
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`docker engine ${r.method} ${r.path} timed out`)));
      req.end(payload);
    });
  }

  /** Sends a request and parses the JSON answer; throws EngineError for non-2xx answers. */
  async call<T = any>(method: string, path: string, body?: unknown, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
    const res = await this.raw({ method, path, body, timeoutMs: opts.timeoutMs ?? 60_000, signal: opts.signal });
    const text = await readAll(res);
    failOnError(res.statusCode, text);
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }

  /** Like call(), but a 404 answer yields undefined. */
  async callOr404<T = any>(method: string, path: string, body?: unknown): Promise<T | undefined> {
    try {
      return await this.call<T>(method, path, body);
    } catch (e) {
      if (e instanceof EngineError && e.statusCode === 404) return undefined;
      throw e;
    }
  }

  /** Runs a call whose answer is a stream of JSON messages (pull, build), failing on an `error` message. */
  async jsonStream(r: EngineRequest, onMessage?: (m: any) => void): Promise<void> {
    const res = await this.raw(r);
    const text = await readAll(res);
    failOnError(res.statusCode, text);
    for (const line of text.split(/\r?\n/)) {
      if (!line.trim()) continue;
      const m = JSON.parse(line);
      onMessage?.(m);
      if (m.error) throw new EngineError(500, String(m.error).trim());
    }
  }
}

/** Reads a whole response body as text. */
export function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/**
 * Splits Docker's multiplexed stdout/stderr stream (8-byte frame headers: stream type, 0,0,0,
 * big-endian length) into frames.
 */
export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (stream: 'stdout' | 'stderr', data: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + len) break;
      const type = this.buf[0];
      this.onFrame(type === 2 ? 'stderr' : 'stdout', this.buf.subarray(8, 8 + len));
      this.buf = this.buf.subarray(8 + len);
    }
  }
}

/** Throws the engine's error message as an EngineError for a non-2xx answer. */
function failOnError(statusCode: number | undefined, text: string): void {
  if ((statusCode ?? 500) < 300) return;
  let msg = text;
  try {
    msg = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    /* not JSON */
  }
  throw new EngineError(statusCode ?? 500, msg.trim());
}
