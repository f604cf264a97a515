/**
 * DiscoverInstances is sent to `data-<endpoint host>` (the model's host prefix), a name no
 * resolver on a test machine knows. The aws CLI reaches it through this HTTP proxy on loopback
 * port 0, which forwards every request, whatever its host, to the Berth under test unchanged
 * (so the SigV4 signature over the prefixed Host header still holds).
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running forwarding proxy: `env` adds it to an aws CLI environment; `close` stops it. */
export interface HostPrefixProxy {
  env(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/** Starts a proxy that sends every request to `target` (Berth's URL). */
export async function startHostPrefixProxy(target: string): Promise<HostPrefixProxy> {
  const to = new URL(target);
  const server: Server = createServer((req, res) => {
    // An absolute-form target (`http://data-127.0.0.1:port/`, not a valid WHATWG URL): keep its path.
    const raw = req.url ?? '/';
    const slash = raw.startsWith('http://') ? raw.indexOf('/', 'http://'.length) : 0;
    const path = slash < 0 ? '/' : raw.slice(slash);
    const out = request({ host: to.hostname, port: to.port, method: req.method, path, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    env: (base) => ({ ...base, HTTP_PROXY: url, http_proxy: url, NO_PROXY: '', no_proxy: '' }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
