/**
 * A small SigV4-signing client for Berth's own processes (the agent, the `berth` CLI) to call
 * AWS-shaped APIs over the network, the same way any other client does. Runtime code does not
 * depend on the AWS SDKs; tests use the real SDKs to check the wire format independently.
 */
import { signRequest } from '../protocol/sigv4.js';

export interface ClientConfig {
  endpoint: string;
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
  const url = new URL(cfg.endpoint.endsWith('/') ? cfg.endpoint : `${cfg.endpoint}/`);
  const body = JSON.stringify(input ?? {});
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
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no answer from ${cfg.endpoint} within ${opts.timeoutMs ?? cfg.timeoutMs ?? 30_000} ms`)), opts.timeoutMs ?? cfg.timeoutMs ?? 30_000);
  const onAbort = () => abort.abort(opts.signal?.reason);
  if (opts.signal?.aborted) abort.abort(opts.signal.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { method: 'POST', headers, body, signal: abort.signal });
    text = await res.text();
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    throw new AwsApiError('InvalidResponse', `non-JSON answer (${res.status}) from ${cfg.endpoint}`, res.status);
  }
  if (!res.ok) {
    const code = String(parsed.__type ?? res.headers.get('x-amzn-errortype') ?? 'UnknownError').split('#').pop()!;
    throw new AwsApiError(code, String(parsed.message ?? parsed.Message ?? ''), res.status);
  }
  return parsed as T;
}

/** Target prefixes and signing names of the JSON services Berth's own clients call. */
export const JSON_SERVICES = {
  ecs: { signingName: 'ecs', prefix: 'AmazonEC2ContainerServiceV20141113' },
  logs: { signingName: 'logs', prefix: 'Logs_20140328' },
  ssm: { signingName: 'ssm', prefix: 'AmazonSSM' },
} as const;

/** A typed-enough handle on one JSON service. */
export function jsonService(cfg: ClientConfig, service: keyof typeof JSON_SERVICES) {
  const s = JSON_SERVICES[service];
  return <T = Record<string, unknown>>(operation: string, input: unknown, opts?: { timeoutMs?: number; signal?: AbortSignal }) =>
    callJson<T>(cfg, s.signingName, `${s.prefix}.${operation}`, input, opts);
}
