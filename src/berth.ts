/**
 * The composition root: builds a running Berth control plane from its parts and passes typed
 * ports between them. `startBerth` is what `berth up` and the test fixture both call.
 *
 *   store ── domain ── API services ── gateway ── HTTP listener
 *     │        │                                      │
 *   blobs      ├── registry front (src/registry/, /v2/) ┘
 *              ├── service controller, target drain, agent-timeout sweep, retention sweeps,
 *              │   registry garbage collection and lifecycle sweep (src/control/)
 *              └── load balancer data plane (src/lb/; tells the target drain when a target goes idle)
 *
 * Nothing else starts anything: API services are plain handler tables, and every background
 * loop is created here, on the platform's clock, and stopped here in reverse order.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { ensurePrivateDir } from './privateFiles.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from './clock.js';
import { loadOrCreateCredentials, type RootCredentials } from './config/credentials.js';
import { CredentialDirectory } from './domain/iam/credentials.js';
import { Authorizer } from './domain/iam/authorizer.js';
import type { Platform } from './domain/platform.js';
import { rebuildLiveTaskIndex } from './domain/ecs/liveIndex.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/types.js';
import { allServices } from './services/index.js';
import { MasterKey } from './domain/ssm/masterKey.js';
import { openLogEventStore } from './domain/logs/eventStore.js';
import { AuditLog, type AuditLogOptions } from './domain/cloudtrail/auditLog.js';
import { SharedAuditTrail } from './domain/cloudtrail/sharedTrail.js';
import { LogQueries } from './domain/logs/queries.js';
import { RETENTION_SWEEP_INTERVAL_MS, sweepRetention } from './domain/logs/retention.js';
import { AwsGateway } from './server/gateway.js';
import { createBerthServer, readBody, sendJson, type OperatorRoute } from './server/http.js';
import { ServerLog, logSettings, type LogSettings } from './server/serverLog.js';
import { followTaskStops } from './control/taskLog.js';
import { Leadership, loopDuty } from './control/leadership.js';
import { ServiceError } from './errors.js';
import { ServiceController, type ServiceControllerOptions } from './control/serviceController.js';
import { elbv2Targets } from './control/targets.js';
import { DEFAULT_AGENT_TIMEOUT_MS, startAgentSweep } from './control/agentSweep.js';
import { agentStatuses } from './domain/ecs/instances.js';
import { startRetentionSweep } from './control/retention.js';
import { startAlarmController } from './control/alarms.js';
import { startAlbMetricsPublisher } from './control/albMetrics.js';
import { startEcsMetricsPublisher } from './control/ecsMetrics.js';
import { startSubscriptionDelivery } from './control/logSubscriptions.js';
import { SubscriptionEndpoints } from './domain/logs/subscriptions.js';
import { startTargetDrain, type TargetDrain } from './control/targetDrain.js';
import { startLoop, type Loop } from './control/loop.js';
import { ProcessAgentHosts } from './control/agentHosts.js';
import { killRecordedProcessesUnder } from './agent/drivers/processRecords.js';
import { startAutoScaling } from './control/autoScaling.js';
import { startApplicationAutoScaling } from './control/applicationAutoScaling.js';
import { LoadBalancerPlane } from './lb/plane.js';
import { InProcessInvoker } from './server/invoker.js';
import { StackWorker } from './control/stacks/worker.js';
import { cfnSignalRoute } from './server/cfnSignals.js';
import { FsBlobStore } from './store/blobs/fs.js';
import type { BlobStore } from './store/blobs/types.js';
import { RegistryTokens } from './domain/ecr/authToken.js';
import { DEFAULT_GC_GRACE_MS, DEFAULT_MAX_BLOB_BYTES, DEFAULT_UPLOAD_EXPIRY_MS, type Registry } from './domain/ecr/registry.js';
import { RegistryFront } from './registry/front.js';
import { resolveImageDigest } from './domain/ecr/imageRefs.js';
import { DEFAULT_GC_INTERVAL_MS, RegistryGc } from './control/registryGc.js';
import { DEFAULT_LIFECYCLE_INTERVAL_MS, startLifecycleSweep, sweepLifecycle } from './control/ecrLifecycle.js';
import { DEFAULT_IDLE_MS } from './registry/front.js';
import { lbOptionsFromEnv, type LbOptions } from './lb/options.js';
import { Console } from './console/routes.js';
import { MetricsRing } from './console/metricsRing.js';
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
  /**
   * When set, /_berth/health and /_berth/metrics need `Authorization: Bearer <token>` (for a
   * Berth bound to an address others reach). Default env BERTH_OPERATOR_TOKEN; unset: open.
   */
  operatorToken?: string;
  /** Environment for credentials and settings (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Service controller settings (defaults, then env BERTH_SERVICE_CONTROLLER*, then these). */
  controller?: Partial<ServiceControllerOptions>;
  /** Load balancer settings (env BERTH_LB_HOST / BERTH_LB_SECOND_MS / BERTH_LB_WORKERS / BERTH_LB_PLANE, then these; `plane: 'haproxy'` keeps its files in <dataDir>/haproxy). */
  loadBalancer?: Partial<LbOptions>;
  /** How long an agent may stay silent before its instance is disconnected (default env BERTH_AGENT_TIMEOUT_MS or 15 s). */
  agentTimeoutMs?: number;
  /**
   * The request log (one line per request) and its level and format; default env
   * BERTH_LOG_LEVEL / BERTH_LOG_FORMAT, else off (`berth up` turns it on at `info`).
   */
  log?: Partial<LogSettings>;
  /** The container registry (ECR and `/v2/`); env BERTH_REGISTRY_*, then these. */
  registry?: Partial<RegistryOptions>;
  /** How long a whole request may take to arrive (default 120 s; registry uploads use an inactivity deadline instead). */
  requestTimeoutMs?: number;
  /** The audit log's bounds (env BERTH_AUDIT_MAX_EVENTS / BERTH_AUDIT_MAX_AGE_MS, then these). */
  audit?: AuditLogOptions;
  /**
   * CloudWatch Logs settings. `subscriptionUrls`: the http(s) URL prefixes Logs destinations may
   * deliver to (default env BERTH_LOGS_SUBSCRIPTION_URLS, comma-separated; none: log groups only).
   */
  logs?: { subscriptionUrls?: string[] };
  /** Web console settings (how often live pages and log tails refresh, the charts' sampling). */
  console?: { liveMs?: number; logPollMs?: number; metricsIntervalMs?: number };
}

/** Settings of the container registry. */
export interface RegistryOptions {
  /**
   * The `host:port` docker uses to reach the registry, the first part of every repositoryUri
   * (env BERTH_REGISTRY_ADDRESS; default the address Berth listens on, 127.0.0.1:<port>).
   */
  address: string;
  /** Where blobs are kept (env BERTH_REGISTRY_DIR; default `<data-dir>/registry`). Replicas must share it. */
  dir: string;
  /** Largest blob accepted (env BERTH_REGISTRY_MAX_BLOB_BYTES; default 10 GiB). */
  maxBlobBytes: number;
  /** How long an unreferenced blob is kept after its last use (env BERTH_REGISTRY_GC_GRACE_MS; default 1 h). */
  gcGraceMs: number;
  /** How often garbage collection runs (default 10 min). */
  gcIntervalMs: number;
  /** How often lifecycle policies are applied (default 5 min). */
  lifecycleIntervalMs: number;
  /** How long an idle upload session is kept (default 24 h). */
  uploadExpiryMs: number;
  /** How long a blob upload or download may go without a byte moving (default 60 s). */
  idleMs: number;
}

/** The running registry, for tests and benchmarks. */
export interface BerthRegistry {
  blobs: BlobStore;
  /** The garbage collector (`runNow()` for a pass at once, `lastReport()`). */
  gc: RegistryGc;
  /** The lifecycle sweep (`runNow()` applies every policy at once; answers how many images expired). */
  lifecycle: { runNow(): Promise<number> };
  /** `host:port` of the registry, as repositoryUris begin. */
  address: string;
}

export interface Berth {
  /** The endpoint URL, e.g. http://127.0.0.1:4566 */
  url: string;
  port: number;
  credentials: RootCredentials;
  platform: Platform;
  dataDir: string;
  /** The service controller (settings, diagnosis). */
  controller: ServiceController;
  /** The load balancer's data plane (settings, metrics). */
  loadBalancer: LoadBalancerPlane;
  registry: BerthRegistry;
  /** The web console at /console (sign-in links, settings). */
  console: Console;
  close(): Promise<void>;
}

async function openSharedStore(url: string): Promise<Store> {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`--store must be a postgres:// URL: got '${url}'`);
  const { PostgresStore } = await import('./store/postgres.js');
  return PostgresStore.open(url);
}

/** Whether the request carries `Authorization: Bearer <token>` (compared in constant time). */
function bearerMatches(req: IncomingMessage, token: string): boolean {
  const given = Buffer.from(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** /_berth/health answers `degraded` (with what it knows without the store) when the store is silent this long. */
const HEALTH_STORE_TIMEOUT_MS = 2_000;
/** /_berth/health lists at most this many agents (and says how many there are). */
const HEALTH_AGENTS_LIMIT = 1000;

/** The file in the data dir that tells `berth credentials` where the server listens. */
export const ENDPOINT_FILE = 'endpoint';

function envMs(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = Number(env[name]);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/** The registry's settings: defaults, then env BERTH_REGISTRY_*, then `given`. */
function registryOptions(env: NodeJS.ProcessEnv, dataDir: string, given: Partial<RegistryOptions> = {}): RegistryOptions {
  const bytes = Number(env.BERTH_REGISTRY_MAX_BLOB_BYTES);
  return {
    address: env.BERTH_REGISTRY_ADDRESS ?? '',
    dir: env.BERTH_REGISTRY_DIR ? resolve(env.BERTH_REGISTRY_DIR) : join(dataDir, 'registry'),
    maxBlobBytes: Number.isSafeInteger(bytes) && bytes > 0 ? bytes : DEFAULT_MAX_BLOB_BYTES,
    gcGraceMs: envMs(env, 'BERTH_REGISTRY_GC_GRACE_MS') ?? DEFAULT_GC_GRACE_MS,
    gcIntervalMs: DEFAULT_GC_INTERVAL_MS,
    lifecycleIntervalMs: DEFAULT_LIFECYCLE_INTERVAL_MS,
    uploadExpiryMs: DEFAULT_UPLOAD_EXPIRY_MS,
    idleMs: DEFAULT_IDLE_MS,
    ...given,
  };
}

/** Controller settings from the environment (only those that are set). */
function controllerEnv(env: NodeJS.ProcessEnv): Partial<ServiceControllerOptions> {
  const out: Partial<ServiceControllerOptions> = {};
  if (env.BERTH_SERVICE_CONTROLLER === 'off') out.enabled = false;
  const interval = envMs(env, 'BERTH_SERVICE_CONTROLLER_INTERVAL_MS');
  if (interval) out.intervalMs = interval;
  const lost = envMs(env, 'BERTH_INSTANCE_LOST_AFTER_MS');
  if (lost) out.instanceLostAfterMs = lost;
  return out;
}

export async function startBerth(opts: BerthOptions = {}): Promise<Berth> {
  const env = opts.env ?? process.env;
  const ephemeral = opts.ephemeral ?? false;
  const dataDir = ephemeral ? mkdtempSync(join(tmpdir(), 'berth-')) : resolve(opts.dataDir ?? '.berth');
  const openDir = ensurePrivateDir(dataDir);
  if (openDir) process.emitWarning(openDir);
  const credentials = loadOrCreateCredentials(dataDir, env);
  // Loaded once; a malformed BERTH_MASTER_KEY or master.key fails the start, not the first SecureString.
  const masterKey = MasterKey.load(dataDir, env);
  const store: Store = opts.storeUrl ? await openSharedStore(opts.storeUrl) : new SqliteStore(join(dataDir, 'state.db'));
  const clock = opts.clock ?? systemClock;
  const started = clock.now();
  const shutdown = new AbortController();
  const platform: Platform = {
    store,
    clock,
    accountId: credentials.accountId,
    defaultRegion: opts.region ?? 'us-east-1',
    dataDir,
  };
  const report = (what: string) => (e: unknown) => console.error(`berth: ${what} failed:`, e);

  // Data planes and controllers, over the domain.
  // The plane wakes the target drain (started below) when a draining target goes idle.
  let targetDrain: TargetDrain | undefined;
  const loadBalancer = new LoadBalancerPlane(platform, { ...lbOptionsFromEnv(env), haproxyDir: join(dataDir, 'haproxy'), ...opts.loadBalancer }, { onDrainingTargetIdle: () => targetDrain?.wake() });
  // The registry: blobs on disk, everything else in the store through the ECR domain.
  const registryOpts = registryOptions(env, dataDir, opts.registry);
  const blobs = await FsBlobStore.open(registryOpts.dir);
  let registryAddress = registryOpts.address; // known once the listener is up, unless configured
  const registry: Registry = {
    blobs,
    tokens: new RegistryTokens(credentials.accountId, credentials.secretAccessKey),
    settings: { address: () => registryAddress, maxBlobBytes: registryOpts.maxBlobBytes, gcGraceMs: registryOpts.gcGraceMs, uploadExpiryMs: registryOpts.uploadExpiryMs },
  };
  const registryFront = new RegistryFront(platform, registry, { idleMs: registryOpts.idleMs, onInternalError: report('registry request') });

  // Controllers and sweeps run on the replica holding their lease, writing through a fenced store.
  const leadership = new Leadership(platform, { ttlMs: envMs(env, 'BERTH_LEASE_TTL_MS'), onError: report('leadership') });
  const controlPlatform = leadership.fencedPlatform('service-controller');
  // Service deployments pin their images to digests when Berth's registry holds them.
  const controller = new ServiceController(controlPlatform, elbv2Targets(controlPlatform, loadBalancer), { ...controllerEnv(env), ...opts.controller }, (s, image) =>
    resolveImageDigest(s, registry, image),
  );
  const logEvents = openLogEventStore(dataDir);
  // Every answered API call, for CloudTrail's LookupEvents (`<dataDir>/audit.db`).
  const audit = AuditLog.open(dataDir, clock, { maxEvents: envMs(env, 'BERTH_AUDIT_MAX_EVENTS'), maxAgeMs: envMs(env, 'BERTH_AUDIT_MAX_AGE_MS'), ...opts.audit }, report('audit log write'));
  // Replicas share their records through the store, so each answers for all of them.
  const sharedTrail = opts.storeUrl ? new SharedAuditTrail(store, audit, leadership.replicaId, report('shared audit trail')) : undefined;
  await sharedTrail?.start();

  // The API.
  // IAM: whose keys are which, and what each principal may do (both follow the change feed).
  const credentialDirectory = new CredentialDirectory(platform, masterKey, credentials);
  const authorizer = new Authorizer(platform);
  await credentialDirectory.start();
  // Registry passwords act for the key that asked for them (an agent's pull only its tasks' images).
  registry.principalOf = async (accessKeyId) => {
    const key = await credentialDirectory.load(accessKeyId);
    return key && !key.refused ? key.principal : undefined;
  };
  // ...and each `/v2/` request of a user or role session is authorized as its ECR action(s).
  registry.access = authorizer;
  await authorizer.start();
  // Berth's own operations, called in process (CloudFormation's providers and SSM parameter types).
  const invoker = new InProcessInvoker(shutdown.signal, authorizer);
  const logQueries = new LogQueries(logEvents, clock);
  const logSubscriptionEndpoints = opts.logs?.subscriptionUrls ? new SubscriptionEndpoints(opts.logs.subscriptionUrls) : SubscriptionEndpoints.parse(env.BERTH_LOGS_SUBSCRIPTION_URLS);
  const services = allServices({ loadBalancer, logEvents, logQueries, logSubscriptionEndpoints, masterKey, invoker, authorizer, registry, audit });
  invoker.serve(services);
  const gateway = new AwsGateway(services, platform, credentialDirectory, authorizer, shutdown.signal, report('request'), (entry) => audit.record(entry));

  const operatorToken = opts.operatorToken ?? env.BERTH_OPERATOR_TOKEN;
  /** /_berth/health and /_berth/metrics are open unless an operator token is set (see SECURITY.md). */
  const readable = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (!operatorToken || bearerMatches(req, operatorToken)) return true;
    sendJson(res, 401, { __type: 'Unauthorized', message: 'This endpoint needs Authorization: Bearer <the operator token given to berth up (BERTH_OPERATOR_TOKEN)>.' });
    return false;
  };
  // The web console: every datum through the gateway, as the signed-in access key.
  const serverLog = new ServerLog(logSettings(opts.log, env));
  const metricsRing = new MetricsRing(clock, () => loadBalancer.metricSnapshot(), { intervalMs: opts.console?.metricsIntervalMs ?? envMs(env, 'BERTH_CONSOLE_METRICS_MS') });
  const webConsole = new Console({
    clock,
    checkSecret: (id, secret) => gateway.checkSecret(id, secret),
    store,
    callAs: (...args) => gateway.callAs(...args),
    metrics: metricsRing,
    audit: (m) => serverLog.warn(`audit: ${m}`),
    defaultRegion: platform.defaultRegion,
    shutdown: shutdown.signal,
    liveMs: opts.console?.liveMs,
    logPollMs: opts.console?.logPollMs,
  });
  const routes: OperatorRoute[] = [
    webConsole.route,
    cfnSignalRoute(platform, masterKey, clock),
    async (req, res, url) => {
      if (url.pathname !== '/_berth/console-link') return false;
      if (req.method !== 'POST') {
        sendJson(res, 405, { __type: 'MethodNotAllowed', message: 'Use POST /_berth/console-link.' });
        return true;
      }
      // Signed like an API call (credential scope service `berth`): the link signs in as the signer's access key.
      try {
        const { accessKeyId, region } = await gateway.authenticateOperator(req, await readBody(req, 1024), { rootOnly: false });
        sendJson(res, 200, { path: await webConsole.signInLink(accessKeyId, region) });
      } catch (e) {
        const err = e instanceof ServiceError ? e : new ServiceError('AccessDenied', 'A console link needs a request signed with an access key (SigV4, service berth).', 403);
        sendJson(res, err.status, { __type: err.code, message: err.message });
      }
      return true;
    },
    async (req, res, url) => {
      if (url.pathname !== '/_berth/health' || req.method !== 'GET') return false;
      if (!readable(req, res)) return true;
      // The replicas and agents come from the store: a store out of reach (refusing, or silent
      // as behind a partition) says so instead, within HEALTH_STORE_TIMEOUT_MS.
      let timer: NodeJS.Timeout | undefined;
      const silent = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the store did not answer within ${HEALTH_STORE_TIMEOUT_MS} ms`)), HEALTH_STORE_TIMEOUT_MS);
      });
      const reads = Promise.all([leadership.report(), agentStatuses(store, HEALTH_AGENTS_LIMIT)]);
      reads.catch(() => undefined); // still running when the timeout answered
      const shared = await Promise.race([reads, silent]).finally(() => clearTimeout(timer)).then(
        ([{ replicas, duties }, { agents, total }]) => ({ replicas, duties, agents, agentsTotal: total }),
        // Without the store, the duties as this replica last saw them.
        (e: unknown) => ({ storeError: String((e as Error).message ?? e), duties: leadership.status() }),
      );
      sendJson(res, 200, {
        status: 'storeError' in shared ? 'degraded' : 'ok',
        version: VERSION,
        services: services.map((s) => s.name),
        store: opts.storeUrl ? 'postgres' : 'sqlite',
        ephemeral,
        region: platform.defaultRegion,
        uptimeSeconds: Math.round((clock.now() - started) / 1000),
        replica: leadership.replicaId,
        ...shared,
      });
      return true;
    },
    async (req, res, url) => {
      if (url.pathname !== '/_berth/metrics' || req.method !== 'GET') return false;
      if (!readable(req, res)) return true;
      const body = await loadBalancer.prometheus();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return true;
    },
    async (req, res, url) => {
      if (url.pathname !== '/_berth/reset') return false;
      if (req.method !== 'POST') {
        sendJson(res, 405, { __type: 'MethodNotAllowed', message: 'Use POST /_berth/reset.' });
      } else if (!ephemeral) {
        sendJson(res, 403, { __type: 'AccessDenied', message: 'Reset is only available when Berth runs with --ephemeral.' });
      } else {
        // Signed like an API call (credential scope service `berth`): a page in a browser cannot reset it.
        try {
          await gateway.authenticateOperator(req, await readBody(req, 1024), { rootOnly: true });
        } catch (e) {
          const err = e instanceof ServiceError ? e : new ServiceError('AccessDenied', 'Reset needs a request signed with the root credentials (SigV4, service berth).', 403);
          sendJson(res, err.status, { __type: err.code, message: err.message });
          return true;
        }
        await store.reset();
        logEvents.reset();
        audit.reset();
        logQueries.reset();
        // The controller caches task lists and timers by key; a wiped store starts it afresh.
        controller.reset();
        // The leases went with everything else: take them again now, not a renewal later.
        await leadership.claimNow();
        sendJson(res, 200, { reset: true });
      }
      return true;
    },
  ];

  // Tasks stored before the by-instance index existed get their entries (once, cheap after).
  await rebuildLiveTaskIndex(store);
  await loadBalancer.start();
  const agentTimeoutMs = opts.agentTimeoutMs ?? envMs(env, 'BERTH_AGENT_TIMEOUT_MS') ?? DEFAULT_AGENT_TIMEOUT_MS;
  leadership.add({ name: 'service-controller', start: () => controller.start(), stop: () => controller.stop() });
  leadership.add(
    loopDuty(
      'target-drain',
      () => (targetDrain = startTargetDrain(leadership.fencedPlatform('target-drain'), loadBalancer, { onError: report('target drain') })),
      () => (targetDrain = undefined),
    ),
  );
  leadership.add(loopDuty('agent-sweep', () => startAgentSweep(leadership.fencedPlatform('agent-sweep'), { agentTimeoutMs, onError: report('agent-timeout sweep') })));
  // WaitConditionHandles and custom resources get presigned URLs on this replica's endpoint (known once it listens).
  let listening: (url: string) => void = () => {};
  const endpointKnown = new Promise<string>((resolve) => (listening = resolve));
  const stackWorker = new StackWorker(leadership.fencedPlatform('stack-worker'), invoker, {
    templateDirs: (env.BERTH_CFN_TEMPLATE_DIRS ?? '').split(':').filter(Boolean),
    signals: { signer: masterKey, endpoint: () => endpointKnown },
    onError: report('stack worker'),
  });
  leadership.add({ name: 'stack-worker', start: () => stackWorker.start(), stop: () => stackWorker.stop() });
  if (sharedTrail) {
    const fenced = leadership.fencedPlatform('audit-retention');
    leadership.add(loopDuty('audit-retention', () => startLoop(clock, 60_000, () => sharedTrail.prune(fenced.store), report('audit trail retention'))));
  }
  leadership.add(loopDuty('ecs-retention', () => startRetentionSweep(leadership.fencedPlatform('ecs-retention'), report('ECS retention sweep'))));
  leadership.add(
    loopDuty('application-autoscaling', () =>
      startApplicationAutoScaling(leadership.fencedPlatform('application-autoscaling'), {
        intervalMs: envMs(env, 'BERTH_APPSCALING_INTERVAL_MS'),
        onError: report('Application Auto Scaling controller'),
      }),
    ),
  );
  leadership.add(loopDuty('cloudwatch-alarms', () => startAlarmController(leadership.fencedPlatform('cloudwatch-alarms'), { onError: report('CloudWatch alarm evaluation') })));
  // Blobs live in a directory every replica shares: one collector and one lifecycle sweep for all.
  const registryGc = new RegistryGc(platform, registry);
  leadership.add(loopDuty('registry-gc', () => registryGc.start({ intervalMs: registryOpts.gcIntervalMs, onError: report('registry garbage collection') })));
  leadership.add(
    loopDuty('ecr-lifecycle', () =>
      startLifecycleSweep(leadership.fencedPlatform('ecr-lifecycle'), { intervalMs: registryOpts.lifecycleIntervalMs, onError: report('ECR lifecycle sweep') }),
    ),
  );
  // Auto Scaling groups' instances: `berth agent` processes of this replica, joining at its URL.
  let agentEndpoint: string | undefined;
  const agentHosts = new ProcessAgentHosts({ dataDir, endpoint: () => agentEndpoint!, credentials, driver: env.BERTH_ASG_AGENT_DRIVER, log: (line) => serverLog.warn(line), killTaskProcessesUnder: killRecordedProcessesUnder });
  leadership.add(
    loopDuty('auto-scaling', () => startAutoScaling(leadership.fencedPlatform('auto-scaling'), agentHosts, { intervalMs: envMs(env, 'BERTH_ASG_INTERVAL_MS'), ready: () => agentEndpoint !== undefined, onError: report('Auto Scaling controller') })),
  );
  await leadership.start();
  // Each replica keeps its own CloudWatch Logs events: their retention runs everywhere.
  const loops: Loop[] = [startLoop(clock, RETENTION_SWEEP_INTERVAL_MS, () => sweepRetention(logEvents, clock.now()), report('logs retention sweep'))];
  // Each replica publishes the requests its own load balancer served (AWS/ApplicationELB).
  loops.push(startSubscriptionDelivery(platform, logEvents, logSubscriptionEndpoints, report('logs subscription delivery')));
  loops.push(startAlbMetricsPublisher(platform, loadBalancer, { intervalMs: envMs(env, 'BERTH_METRICS_PUBLISH_MS'), onError: report('load balancer metrics publishing') }));
  loops.push(startEcsMetricsPublisher(platform, { intervalMs: envMs(env, 'BERTH_METRICS_PUBLISH_MS'), onError: report('ECS metrics publishing') }));

  metricsRing.start();
  // Tasks that failed to start or whose essential container failed are said in the log too.
  const stopTaskLog = await followTaskStops(store, (line) => serverLog.warn(line));
  const { server, idle } = createBerthServer(gateway, routes, serverLog, { registry: registryFront, requestTimeoutMs: opts.requestTimeoutMs });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 4566, opts.host ?? '127.0.0.1', () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host && opts.host !== '0.0.0.0' && opts.host !== '::' ? opts.host : '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  writeFileSync(join(dataDir, ENDPOINT_FILE), url + '\n', { mode: 0o600 });
  if (!registryAddress) registryAddress = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  await leadership.announce(url);
  agentEndpoint = url;
  listening(url);

  let closed = false;
  return {
    url,
    port,
    credentials,
    platform,
    dataDir,
    controller,
    loadBalancer,
    registry: { blobs, gc: registryGc, lifecycle: { runNow: () => sweepLifecycle(platform) }, address: registryAddress },
    console: webConsole,
    async close() {
      if (closed) return;
      closed = true;
      shutdown.abort();
      metricsRing.stop();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      // Handlers still running (long polls) finish before the store closes under them.
      await idle(5_000);
      for (const l of loops.reverse()) await l.stop();
      stopTaskLog();
      credentialDirectory.stop();
      authorizer.stop();
      await leadership.stop();
      await agentHosts.stopAll();
      await loadBalancer.stop();
      logEvents.close();
      await sharedTrail?.stop();
      audit.close();
      await store.close();
      if (ephemeral) rmSync(dataDir, { recursive: true, force: true });
      else rmSync(join(dataDir, ENDPOINT_FILE), { force: true });
    },
  };
}
