/**
 * A small SigV4-signing client for Berth's own processes (the agent, the `berth` CLI) to call
 * AWS-shaped APIs over the network, the same way any other client does. Runtime code does not
 * depend on the AWS SDKs; tests use the real SDKs to check the wire format independently.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { signRequest } from '../protocol/sigv4.js';

/**
 * Connections are kept alive between calls (agents long-poll and report over and over); an idle
 * one is closed after IDLE_SOCKET_MS, well before the server's own keep-alive timeout, and its
 * socket does not keep the process alive.
 */
const IDLE_SOCKET_MS = 4_000;
const httpAgent = new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
const httpsAgent = new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS });

/** Errors of a kept-alive connection the server closed just as the request was sent. */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * One POST over node:http(s) with a keep-alive agent (cheaper per call than fetch). Retries once,
 * on a fresh connection, if a reused idle connection turns out to be closed by the server
 * before any answer (the request was never processed). Rejects on timeout, abort or network error.
 * Shared by the awsJson calls here and the awsQuery calls in awsQuery.ts.
 */
export function post(url: URL, headers: Record<string, string>, body: string, timeoutMs: number, endpoint: string, signal?: AbortSignal): Promise<{ status: number; errorType?: string; text: string }> {
  const attempt = (retry: boolean): Promise<{ status: number; errorType?: string; text: string }> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      let answered = false;
      const req = send(
        url,
        { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: url.protocol === 'https:' ? httpsAgent : httpAgent },
        (res: IncomingMessage) => {
          answered = true;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            finish();
            const errorType = res.headers['x-amzn-errortype'];
            resolve({ status: res.statusCode ?? 0, errorType: Array.isArray(errorType) ? errorType[0] : errorType, text: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', fail);
        },
      );
      const timer = setTimeout(() => req.destroy(new Error(`no answer from ${endpoint} within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      function finish() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
      function fail(e: Error) {
        finish();
        const code = (e as NodeJS.ErrnoException).code;
        if (retry && !answered && req.reusedSocket && code && STALE_SOCKET_CODES.has(code) && !signal?.aborted) resolve(attempt(false));
        else reject(e);
      }
      req.on('error', fail);
      req.end(body);
    });
  return attempt(true);
}

export interface ClientConfig {
  endpoint: string;
  /**
   * Further control-plane replicas serving the same state (`berth agent --server a,b,c`): a call
   * that cannot reach the endpoint in use moves this config to the next one, in a ring.
   */
  failoverEndpoints?: readonly string[];
  /** Told when calls move to another replica (the one that failed, the next, why). */
  onFailover?: (from: string, to: string, cause: Error) => void;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Per-request timeout in ms (default 30 s). */
  timeoutMs?: number;
}

/** An AWS error answered by the server. */
export class AwsApiError extends Error {
  constructor(readonly code: string, message: string, readonly status: number) {
    super(`${code}: ${message}`);
    this.name = code;
  }
}

/**
 * Calls an awsJson1_1 operation: `target` is `<TargetPrefix>.<Operation>`, `signingName` the
 * service's credential-scope name. Resolves with the parsed output or throws AwsApiError
 * (or a network error, which callers treat as "control plane unreachable").
 */
export async function callJson<T = Record<string, unknown>>(cfg: ClientConfig, signingName: string, target: string, input: unknown, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
  const body = JSON.stringify(input ?? {});
  const timeoutMs = opts.timeoutMs ?? cfg.timeoutMs ?? 30_000;
  const { status, errorType, text, endpoint } = await postWithFailover(
    cfg,
    (url) => {
      const headers = signRequest({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
        body,
        accessKeyId: cfg.accessKeyId,
        secretAccessKey: cfg.secretAccessKey,
        region: cfg.region,
        service: signingName,
      });
      delete headers.host;
      return headers;
    },
    body,
    timeoutMs,
    opts.signal,
  );
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    throw new AwsApiError('InvalidResponse', `non-JSON answer (${status}) from ${endpoint}`, status);
  }
  if (status < 200 || status > 299) {
    const code = String(parsed.__type ?? errorType ?? 'UnknownError').split('#').pop()!;
    throw new AwsApiError(code, String(parsed.message ?? parsed.Message ?? ''), status);
  }
  return parsed as T;
}

/** Which of a config's endpoints its calls use now (an index into `endpointsOf`). */
const inUse = new WeakMap<ClientConfig, number>();

/** Every endpoint a config may reach, in order: `endpoint`, then `failoverEndpoints`. */
export function endpointsOf(cfg: ClientConfig): string[] {
  return [cfg.endpoint, ...(cfg.failoverEndpoints ?? []).filter((e) => e !== cfg.endpoint)];
}

/** The endpoint a config's calls go to now (the first, until it failed to answer). */
export function currentEndpoint(cfg: ClientConfig): string {
  const all = endpointsOf(cfg);
  return all[(inUse.get(cfg) ?? 0) % all.length]!;
}

/** Network errors that mean the request never reached a server: safe to send again elsewhere at once. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * `post` to the config's endpoint in use; with failover endpoints, one that does not answer (a
 * network error, a timeout) or answers 503 moves the config to the next one. A request that never
 * reached a server (connection refused, no route) goes to the next endpoint at once (each tried at
 * most once); one that may have been processed (reset, timeout) is not sent again: the error is
 * the caller's, whose retry goes to the next endpoint.
 */
export async function postWithFailover(
  cfg: ClientConfig,
  sign: (url: URL) => Record<string, string>,
  body: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ status: number; errorType?: string; text: string; endpoint: string }> {
  const all = endpointsOf(cfg);
  for (let tried = 1; ; tried++) {
    const index = (inUse.get(cfg) ?? 0) % all.length;
    const endpoint = all[index]!;
    const url = new URL(endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
    const moveOn = (cause: Error) => {
      if (all.length < 2 || (inUse.get(cfg) ?? 0) % all.length !== index) return; // another call moved it already
      const next = (index + 1) % all.length;
      inUse.set(cfg, next);
      cfg.onFailover?.(endpoint, all[next]!, cause);
    };
    try {
      const answer = await post(url, sign(url), body, timeoutMs, endpoint, signal);
      if (answer.status === 503 && all.length > 1) moveOn(new Error(`${endpoint} answered 503`));
      return { ...answer, endpoint };
    } catch (e) {
      if (signal?.aborted || all.length < 2) throw e;
      moveOn(e as Error);
      const code = (e as NodeJS.ErrnoException).code;
      if (!(code && NOT_SENT_CODES.has(code)) || tried >= all.length) throw e;
    }
  }
}

/** Target prefixes and signing names of the JSON services Berth's own clients call. */
export const JSON_SERVICES = {
  ecs: { signingName: 'ecs', prefix: 'AmazonEC2ContainerServiceV20141113' },
  logs: { signingName: 'logs', prefix: 'Logs_20140328' },
  ssm: { signingName: 'ssm', prefix: 'AmazonSSM' },
  cloudtrail: { signingName: 'cloudtrail', prefix: 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101' },
} as const;

/** A typed-enough handle on one JSON service. */
export function jsonService(cfg: ClientConfig, service: keyof typeof JSON_SERVICES) {
  const s = JSON_SERVICES[service];
  return <T = Record<string, unknown>>(operation: string, input: unknown, opts?: { timeoutMs?: number; signal?: AbortSignal }) =>
    callJson<T>(cfg, s.signingName, `${s.prefix}.${operation}`, input, opts);
}
