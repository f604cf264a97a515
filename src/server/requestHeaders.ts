/**
 * What the gateway reads off a request's first line and headers alone (before its body): the
 * part SigV4 signs, the access key it claims, whether it is signed, the caller's address and the
 * endpoint it reached.
 */
import type { IncomingMessage } from 'node:http';

/** The parts of a request SigV4 signs besides its body: method, raw URL, headers. */
export function signedPart(req: IncomingMessage) {
  return { method: req.method ?? 'GET', rawUrl: req.url ?? '/', headers: req.headers };
}

/** A Host header that names a host (a DNS name or IPv4 address, or an IPv6 one in brackets), with an optional port. */
const HOST_RE = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The URL a request reached Berth at: `http://` (or `https://` behind a proxy that says so) and
 * its Host header, which SigV4 signs; `http://localhost` if the header is not a host.
 */
export function endpointOf(req: IncomingMessage): string {
  const host = String(req.headers.host ?? '');
  const scheme = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
  return `${scheme}://${HOST_RE.test(host) ? host : 'localhost'}`;
}

/** The access key id a request's signature claims (header or presigned query), if any. */
export function claimedAccessKey(req: IncomingMessage): string | undefined {
  const auth = String(req.headers.authorization ?? '').slice(0, 1024);
  const fromHeader = /Credential=([^/,\s]{1,128})\//.exec(auth)?.[1];
  if (fromHeader) return fromHeader;
  const q = /[?&]X-Amz-Credential=([^&%/]{1,128})(?:%2F|\/)/i.exec((req.url ?? '').slice(0, 8192));
  return q?.[1];
}

/** The caller's address, without the IPv4-mapped IPv6 prefix (`::ffff:127.0.0.1` is `127.0.0.1`). */
export function sourceIpOf(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/** Whether a request carries a SigV4 signature (an Authorization header, or a presigned query). */
export function isSigV4Signed(req: IncomingMessage): boolean {
  return String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ') || /[?&]X-Amz-Credential=/.test(req.url ?? '');
}
