/**
 * The OCI distribution API's routes, read from a request path without regular expressions:
 * the path is split at `/` and matched from its end, since repository names hold slashes
 * (`/v2/team/app/manifests/latest`). Whether a name, tag or digest is valid is checked later,
 * by the domain; here only the shape of the path counts.
 */

/** One of the registry's endpoints, with the parts of the path it names. */
export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'referrers'; name: string; digest: string };

/** Longest request path looked at (a 256-character name and a digest fit many times over). */
export const MAX_PATH = 2048;

/** Whether a path belongs to the registry (`/v2`, `/v2/...`). */
export function isRegistryPath(pathname: string): boolean {
  return pathname === '/v2' || pathname.startsWith('/v2/');
}

/** The route a path names, or undefined for a path that is none of the registry's. */
export function parseRoute(pathname: string): Route | undefined {
  if (pathname.length > MAX_PATH || !isRegistryPath(pathname)) return undefined;
  if (pathname === '/v2' || pathname === '/v2/') return { kind: 'base' };
  const rest = pathname.slice('/v2/'.length);
  if (rest === '_catalog') return { kind: 'catalog' };
  const segs = rest.split('/');
  const n = segs.length;
  const name = (drop: number) => segs.slice(0, n - drop).join('/');
  if (n >= 3 && segs[n - 2] === 'tags' && segs[n - 1] === 'list') return { kind: 'tags', name: name(2) };
  if (n >= 2 && segs[n - 2] === 'manifests') return { kind: 'manifest', name: name(2), reference: segs[n - 1]! };
  if (n >= 2 && segs[n - 2] === 'referrers') return { kind: 'referrers', name: name(2), digest: segs[n - 1]! };
  if (n >= 4 && segs[n - 3] === 'blobs' && segs[n - 2] === 'uploads') {
    return segs[n - 1] === '' ? { kind: 'uploads', name: name(3) } : { kind: 'upload', name: name(3), id: segs[n - 1]! };
  }
  if (n >= 3 && segs[n - 2] === 'blobs' && segs[n - 1] === 'uploads') return { kind: 'uploads', name: name(2) };
  if (n >= 2 && segs[n - 2] === 'blobs') return { kind: 'blob', name: name(2), digest: segs[n - 1]! };
  return undefined;
}

/**
 * An inclusive byte range from a `Content-Range` (`<start>-<end>`, optionally after `bytes `)
 * or undefined when it is not one. Digits only, at most 15 each.
 */
export function parseContentRange(v: string): { start: number; end: number } | undefined {
  let s = v.trim();
  if (s.startsWith('bytes ') || s.startsWith('bytes=')) s = s.slice(6);
  const slash = s.indexOf('/');
  if (slash >= 0) s = s.slice(0, slash);
  const dash = s.indexOf('-');
  if (dash <= 0) return undefined;
  const start = digits(s.slice(0, dash));
  const end = digits(s.slice(dash + 1));
  if (start === undefined || end === undefined || end < start) return undefined;
  return { start, end };
}

/** A `Range: bytes=...` of a GET: one range, resolved against `size`. */
export type RangeRequest = { kind: 'whole' } | { kind: 'range'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * Reads a Range header for a blob of `size` bytes: `bytes=a-b`, `bytes=a-`, `bytes=-n`. Several
 * ranges, or a header that is not a byte range, ask for the whole blob (as RFC 9110 allows).
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (!header || !header.startsWith('bytes=') || header.includes(',')) return { kind: 'whole' };
  const spec = header.slice(6).trim();
  const dash = spec.indexOf('-');
  if (dash < 0) return { kind: 'whole' };
  const a = spec.slice(0, dash);
  const b = spec.slice(dash + 1);
  if (a === '') {
    const n = digits(b);
    if (n === undefined) return { kind: 'whole' };
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = digits(a);
  const end = b === '' ? size - 1 : digits(b);
  if (start === undefined || end === undefined) return { kind: 'whole' };
  if (start >= size || end < start) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end: Math.min(end, size - 1) };
}

/** A non-negative integer of 1-15 decimal digits, or undefined. */
export function digits(s: string): number | undefined {
  if (s.length === 0 || s.length > 15) return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return Number(s);
}
