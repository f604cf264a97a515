/**
 * Berth's operator routes (`/_berth/health`) for its own clients (`berth status`): plain GETs,
 * with the operator token as a bearer token when the server asks for one. Several endpoints
 * (replicas) are tried in turn: a GET changes nothing, so one that does not answer is simply
 * asked of the next.
 */
import { AwsApiError } from './awsClient.js';

/** The largest operator answer read (a health document lists at most 1000 agents). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/**
 * GETs `path` from the first of `endpoints` that answers and resolves with its JSON and the
 * endpoint that answered. An error answer throws AwsApiError (its `__type` and message);
 * when none answers, the last network error is thrown.
 */
export async function getOperatorJson<T>(endpoints: readonly string[], path: string, opts: { token?: string; timeoutMs?: number } = {}): Promise<{ value: T; endpoint: string }> {
  let last: unknown;
  for (const endpoint of endpoints) {
    let res: Response;
    try {
      res = await fetch(new URL(path, endpoint.endsWith('/') ? endpoint : `${endpoint}/`), {
        headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
    } catch (e) {
      last = e;
      continue;
    }
    const length = Number(res.headers.get('content-length') ?? 0);
    if (length > MAX_ANSWER_BYTES) throw new AwsApiError('InvalidResponse', `an answer of ${length} bytes from ${endpoint} is more than a status document`, res.status);
    const text = await res.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new AwsApiError('InvalidResponse', `non-JSON answer (${res.status}) from ${endpoint}${path}`, res.status);
    }
    if (!res.ok) throw new AwsApiError(String(parsed.__type ?? 'UnknownError'), String(parsed.message ?? ''), res.status);
    return { value: parsed as T, endpoint };
  }
  throw last;
}
