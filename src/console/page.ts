/**
 * The console's HTML page: one shell for every URL under /console/, with what the first render
 * needs already in it, so the page draws without another round trip:
 * - the signed-in principal and the CSRF token (meta tags);
 * - the data of the page the URL names (`initialViewFor`: the service page's service view, a
 *   cluster's, a task's...), computed as the session's principal while the page is served and
 *   embedded as JSON (`<script type="application/json" id="berth-initial">`, never executed;
 *   `<` escaped so no value can close the element). The page's live stream takes over from it.
 * - `modulepreload` links for the chunks the entry script imports, fetched beside it.
 * The page is compressed per request at a fast setting (it changes every time); the assets are
 * precompressed at build time.
 */
import { brotliCompressSync, gzipSync, constants as zlib } from 'node:zlib';
import type { IncomingMessage } from 'node:http';

/** A view to compute for a page URL: its name and parameters (as the client's router names them). */
export interface InitialView {
  view: string;
  params: Record<string, string>;
}

/** The view the client's page for `pathname` starts with, if it has one (see web/main.tsx's router). */
export function initialViewFor(pathname: string): InitialView | undefined {
  let parts: string[];
  try {
    parts = pathname.replace(/^\/console\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return undefined;
  }
  if (parts.some((p) => p.length > 1600)) return undefined;
  if (parts.length === 0) return { view: 'clusters', params: {} };
  if (parts[0] === 'clusters' && parts.length === 2) return { view: 'cluster', params: { cluster: parts[1]! } };
  if (parts[0] === 'clusters' && parts[2] === 'services' && parts.length === 4) return { view: 'service', params: { cluster: parts[1]!, service: parts[3]! } };
  if (parts[0] === 'clusters' && parts[2] === 'tasks' && parts.length === 4) return { view: 'task', params: { cluster: parts[1]!, task: parts[3]! } };
  if (parts[0] === 'stacks') return parts.length === 1 ? { view: 'stacks', params: {} } : parts.length === 2 ? { view: 'stack', params: { stack: parts[1]! } } : undefined;
  if (parts[0] === 'repositories') return parts.length === 1 ? { view: 'repositories', params: {} } : parts.length === 2 ? { view: 'repository', params: { repository: parts[1]! } } : undefined;
  return undefined;
}

/** The key the client's live views are known by: `<view>?<query>` (web/api.ts `useLive`). */
export function viewKey(v: InitialView): string {
  return `${v.view}?${new URLSearchParams(v.params).toString()}`;
}

/** JSON safe inside a `<script>` element (and inside HTML generally). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function attr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** What goes into one page. */
export interface ShellParts {
  script: string;
  style?: string;
  preload: string[];
  session?: { csrf: string; accessKeyId: string; region: string };
  initial?: { key: string; data: unknown };
}

/** The page's HTML. */
export function renderShell(p: ShellParts): string {
  const head = [
    '<meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Berth console</title><link rel="icon" href="data:,">',
    p.style ? `<link rel="stylesheet" href="/console/assets/${p.style}">` : '',
    `<script type="module" src="/console/assets/${p.script}"></script>`,
    ...p.preload.map((c) => `<link rel="modulepreload" href="/console/assets/${c}">`),
    p.session ? `<meta name="berth-csrf" content="${attr(p.session.csrf)}"><meta name="berth-principal" content="${attr(`${p.session.accessKeyId} · ${p.session.region}`)}">` : '',
  ].join('');
  const data = p.initial ? `<script type="application/json" id="berth-initial">${scriptJson(p.initial)}</script>` : '';
  return `<!doctype html><html lang="en"><head>${head}</head><body>${data}<div id="app"></div></body></html>`;
}

/** A page body in the best encoding the client takes, compressed fast (it is made per request). */
export function compressPage(req: IncomingMessage, html: string): { body: Buffer; encoding?: string } {
  const identity = Buffer.from(html);
  const accept = String(req.headers['accept-encoding'] ?? '');
  if (/\bbr\b/.test(accept)) return { body: brotliCompressSync(identity, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: identity.length } }), encoding: 'br' };
  if (/\bgzip\b/.test(accept)) return { body: gzipSync(identity, { level: 6 }), encoding: 'gzip' };
  return { body: identity };
}
