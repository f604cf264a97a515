/**
 * `berth console`: prints a one-time link that signs a browser in to the web console at
 * /console as the caller's access key. The link comes from `POST /_berth/console-link`, signed
 * with the caller's credentials (SigV4, credential scope service `berth`); it works once, for
 * five minutes.
 */
import { post, AwsApiError, type ClientConfig } from '../client/awsClient.js';
import { signRequest } from '../protocol/sigv4.js';
import type { Terminal } from './terminal.js';

/** Asks the server for a sign-in link; resolves with its full URL. */
export async function consoleLink(cfg: ClientConfig): Promise<string> {
  const base = cfg.endpoint.replace(/\/+$/, '');
  const url = new URL(`${base}/_berth/console-link`);
  const headers = signRequest({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body: '', accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey, region: cfg.region, service: 'berth' });
  delete headers.host;
  const { status, text } = await post(url, headers, '', cfg.timeoutMs ?? 30_000, cfg.endpoint);
  let parsed: { path?: string; __type?: string; message?: string } = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AwsApiError('InvalidResponse', `non-JSON answer (${status}) from ${cfg.endpoint}: is it a Berth?`, status);
  }
  if (status !== 200 || typeof parsed.path !== 'string') throw new AwsApiError(parsed.__type ?? 'UnknownError', parsed.message ?? `status ${status}`, status);
  return `${base}${parsed.path}`;
}

/** The command: prints the link and how long it lasts. */
export async function consoleCommand(cfg: ClientConfig, term: Terminal): Promise<number> {
  const link = await consoleLink(cfg);
  term.out(`${link}\n`);
  term.err(`Open this link to sign in to the Berth console as ${cfg.accessKeyId} (it works once, within 5 minutes).\n`);
  return 0;
}
