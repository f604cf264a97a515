/**
 * A running Berth control plane: the store, the services, and the HTTP listener, wired
 * together. `startBerth` is what `berth up` and the test fixture both call.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from './clock.js';
import { loadOrCreateCredentials, type RootCredentials } from './config/credentials.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/types.js';
import { allServices } from './services/index.js';
import type { Platform, ServiceRuntime } from './services/types.js';
import { AwsGateway } from './server/gateway.js';
import { createBerthServer, sendJson, type OperatorRoute } from './server/http.js';
import { VERSION } from './version.js';

export interface BerthOptions {
  /** TCP port; 0 picks a free one. Default 4566. */
  port?: number;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Where state lives. Ignored with `ephemeral`. Default ./.berth */
  dataDir?: string;
  /** Keep state in a temp dir that is deleted at close. */
  ephemeral?: boolean;
  region?: string;
  /**
   * Where state is kept: absent for embedded SQLite in the data dir, or a `postgres://` URL for
   * a PostgreSQL database that several control-plane replicas share.
   */
  storeUrl?: string;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
}

export interface Berth {
  /** The endpoint URL, e.g. http://127.0.0.1:4566 */
  url: string;
  port: number;
  credentials: RootCredentials;
  platform: Platform;
  dataDir: string;
  close(): Promise<void>;
}

async function openSharedStore(url: string): Promise<Store> {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`--store must be a postgres:// URL: got '${url}'`);
  const { PostgresStore } = await import('./store/postgres.js');
  return PostgresStore.open(url);
}

/** The file in the data dir that tells `berth credentials` where the server listens. */
export const ENDPOINT_FILE = 'endpoint';

export async function startBerth(opts: BerthOptions = {}): Promise<Berth> {
  const ephemeral = opts.ephemeral ?? false;
  const dataDir = ephemeral ? mkdtempSync(join(tmpdir(), 'berth-')) : resolve(opts.dataDir ?? '.berth');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const credentials = loadOrCreateCredentials(dataDir, opts.env ?? process.env);
  const store: Store = opts.storeUrl
    ? await openSharedStore(opts.storeUrl)
    : new SqliteStore(join(dataDir, 'state.db'));
  const started = Date.now();
  const shutdown = new AbortController();
  const platform: Platform = {
    store,
    clock: opts.clock ?? systemClock,
    accountId: credentials.accountId,
    defaultRegion: opts.region ?? 'us-east-1',
    dataDir,
    hooks: {},
    shutdown: shutdown.signal,
  };
  const services = allServices();
  const gateway = new AwsGateway(services, platform, credentials);

  const routes: OperatorRoute[] = [
    (req, res, url) => {
      if (url.pathname !== '/_berth/health' || req.method !== 'GET') return false;
      sendJson(res, 200, {
        status: 'ok',
        version: VERSION,
        services: services.map((s) => s.name),
        store: opts.storeUrl ? 'postgres' : 'sqlite',
        ephemeral,
        region: platform.defaultRegion,
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
      });
      return true;
    },
    async (req, res, url) => {
      if (url.pathname !== '/_berth/reset') return false;
      if (req.method !== 'POST') {
        sendJson(res, 405, { __type: 'MethodNotAllowed', message: 'Use POST /_berth/reset.' });
      } else if (!ephemeral) {
        sendJson(res, 403, { __type: 'AccessDenied', message: 'Reset is only available when Berth runs with --ephemeral.' });
      } else {
        await store.reset();
        for (const s of services) await s.reset?.(platform);
        sendJson(res, 200, { reset: true });
      }
      return true;
    },
  ];

  for (const s of services) if (s.routes) routes.push(...s.routes(platform));
  const runtimes: ServiceRuntime[] = [];
  for (const s of services) {
    const rt = await s.start?.(platform);
    if (rt) runtimes.push(rt);
  }

  const { server, idle } = createBerthServer(gateway, routes);
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 4566, opts.host ?? '127.0.0.1', () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host && opts.host !== '0.0.0.0' && opts.host !== '::' ? opts.host : '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  writeFileSync(join(dataDir, ENDPOINT_FILE), url + '\n');

  let closed = false;
  return {
    url,
    port,
    credentials,
    platform,
    dataDir,
    async close() {
      if (closed) return;
      closed = true;
      shutdown.abort();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      // Handlers still running (long polls) finish before the store closes under them.
      await idle(5_000);
      for (const rt of runtimes.reverse()) await rt.stop();
      await store.close();
      if (ephemeral) rmSync(dataDir, { recursive: true, force: true });
      else rmSync(join(dataDir, ENDPOINT_FILE), { force: true });
    },
  };
}
