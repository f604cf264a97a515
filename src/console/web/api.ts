// The console's client side of its data endpoints: one-off reads, live views (server-sent
// events), actions (POST with the session's CSRF token), and client-side navigation.
import { useEffect, useState } from 'preact/hooks';

/** The session's CSRF token, from the page (absent when not signed in). */
export const csrf = document.querySelector<HTMLMetaElement>('meta[name="berth-csrf"]')?.content ?? '';

/** Who is signed in ("access key · region"), from the page. */
export const principal = document.querySelector<HTMLMetaElement>('meta[name="berth-principal"]')?.content ?? '';

/** The data of the page's first view, rendered into the page by the server (used once). */
let initial: { key: string; data: unknown } | undefined = (() => {
  const el = document.getElementById('berth-initial');
  try {
    return el?.textContent ? JSON.parse(el.textContent) : undefined;
  } catch {
    return undefined;
  }
})();

function takeInitial(key: string): { data?: any } {
  if (!initial || initial.key !== key) return {};
  const data = initial.data;
  initial = undefined;
  return { data };
}

/** An error the console's endpoints answered with. */
export class ApiError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

async function answer<T>(r: Response): Promise<T> {
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(body.__type ?? `HTTP${r.status}`, body.message ?? r.statusText);
  return body as T;
}

/** GETs a console endpoint. */
export async function get<T = any>(path: string): Promise<T> {
  return answer<T>(await fetch(path, { credentials: 'same-origin' }));
}

/** POSTs JSON to a console endpoint with the CSRF token. */
export async function post<T = any>(path: string, body: unknown): Promise<T> {
  return answer<T>(await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', 'x-berth-csrf': csrf }, body: JSON.stringify(body) }));
}

/** Runs a named action (scale, stopTask...). */
export function action<T = any>(name: string, body: Record<string, unknown>): Promise<T> {
  return post<T>(`/console/api/action/${name}`, body);
}

/** A query string of the defined values. */
export function qs(params: Record<string, string | number | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') u.set(k, String(v));
  return u.toString();
}

/** A view kept up to date by the server (it sends it again whenever it changes). */
export function useLive<T = any>(view: string, params: Record<string, string>): { data?: T; error?: ApiError } {
  const key = `${view}?${qs(params)}`;
  // The first view of a page comes with the page (the server rendered its data into it).
  const [state, setState] = useState<{ data?: T; error?: ApiError; key?: string }>(() => ({ ...takeInitial(key), key }));
  useEffect(() => {
    setState((s) => (s.key === key ? s : { key }));
    const es = new EventSource(`/console/api/live/${key}`);
    es.addEventListener('view', (e) => setState({ data: JSON.parse((e as MessageEvent).data), key }));
    es.addEventListener('failure', (e) => {
      const f = JSON.parse((e as MessageEvent).data);
      setState((s) => ({ data: s.data, error: new ApiError(f.code, f.message), key }));
    });
    return () => es.close();
  }, [key]);
  return state;
}

type Listener = () => void;
const listeners = new Set<Listener>();

/** Moves to a console URL without reloading (links stay shareable URLs). */
export function navigate(href: string): void {
  history.pushState(null, '', href);
  for (const l of listeners) l();
  window.scrollTo(0, 0);
}

/** The current location, re-rendering on navigation. */
export function useLocation(): URL {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    window.addEventListener('popstate', l);
    return () => {
      listeners.delete(l);
      window.removeEventListener('popstate', l);
    };
  }, []);
  return new URL(location.href);
}

/** Seconds since the epoch (the API's timestamps) as a local time. */
export function time(epochSeconds: number | undefined): string {
  if (epochSeconds === undefined || epochSeconds === null) return '';
  return new Date(epochSeconds * 1000).toLocaleTimeString();
}
