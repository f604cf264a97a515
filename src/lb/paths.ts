/**
 * Request paths as a target will act on them, for the load balancer's rules and forwarding.
 */

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * The path a target will act on, for matching and forwarding: an absolute-form request target
 * (`http://host/p`) reduced to its path, percent-encoded unreserved characters decoded (`%2e` is
 * `.`, `%41` is `A`; other escapes kept, with upper-case hex, so `%2F` stays an escaped slash),
 * and dot segments removed (RFC 3986, 5.2.4: `/a/./b/../c` is `/a/c`; nothing climbs above `/`).
 * Undefined for a target that is not a path (`*`, `example.com:443`, a malformed escape):
 * answered with 400.
 */
export function normalizePath(target: string): string | undefined {
  let path = target;
  const scheme = /^https?:\/\//i.exec(path);
  if (scheme) {
    const slash = path.indexOf('/', scheme[0].length);
    path = slash < 0 ? '/' : path.slice(slash);
  }
  if (!path.startsWith('/')) return undefined;
  if (path.includes('%')) {
    let out = '';
    for (let i = 0; i < path.length; i++) {
      const c = path[i]!;
      if (c !== '%') {
        out += c;
        continue;
      }
      const hex = path.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      const ch = String.fromCharCode(parseInt(hex, 16));
      out += UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
      i += 2;
    }
    path = out;
  }
  return path.includes('/.') ? removeDotSegments(path) : path;
}

/** RFC 3986 section 5.2.4 on an absolute path. */
function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/');
  // segments[0] is '' (the path starts with '/').
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) out.push('');
    } else if (s === '..') {
      out.pop();
      if (last) out.push('');
    } else {
      out.push(s);
    }
  }
  return '/' + out.join('/');
}
