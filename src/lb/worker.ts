/**
 * The entry point of a data-plane process (started by ./workers.ts as a node:cluster worker):
 * it runs the forwarding (./forwarding.ts) on the tables, health and options the control plane
 * sends over IPC, and sends back what it applied, draining targets going idle, and its metric
 * deltas (every second and when asked). It exits when told to stop (after closing its
 * listeners) or when the control plane's process goes away.
 *
 * A spare (`BERTH_LB_STANDBY=1`, see ./workers.ts) applies every table, health and option like
 * the others but binds no listener until told to `serve` (when the process it stands in for died).
 *
 * Time: the process follows the platform clock of the control plane (each message carries its
 * `now`), so slow start and cookie expiry agree with the health the control plane checked.
 */
import { systemClock, type Clock } from '../clock.js';
import type { PemPair } from '../domain/elbv2/certificates.js';
import { compileTable } from './compile.js';
import { Forwarding } from './forwarding.js';
import type { TargetHealthStatus } from './health.js';
import { LoadBalancerMetrics } from './metrics.js';
import type { FromWorker, ToWorker, WorkerOptions } from './workers.js';

/** How often metric deltas go to the control plane unasked. */
const METRICS_EVERY_MS = 1000;

let offset = 0;
/** The control plane's platform clock, as of its last message, moved on by real time. */
const following: Clock = {
  now: () => Date.now() + offset,
  setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms),
  setInterval: (fn, ms) => systemClock.setInterval(fn, ms),
  sleep: (ms, signal) => systemClock.sleep(ms, signal),
};

function send(m: FromWorker): void {
  if (process.connected) process.send?.(m);
}

let options: WorkerOptions = { bindHost: '127.0.0.1', maxRequestsPerClient: 256 };
let health = new Map<string, TargetHealthStatus>();
const metrics = new LoadBalancerMetrics(following, true);
const forwarding = new Forwarding({
  clock: following,
  metrics,
  bindHost: () => options.bindHost,
  maxRequestsPerClient: () => options.maxRequestsPerClient,
  healthOf: (identity) => health.get(identity),
  onDrainingIdle: (identity) => send({ t: 'idle', identity }),
  standby: process.env.BERTH_LB_STANDBY === '1',
});

/** The generation and listener ports of the last table applied. */
let last: { generation: number; ports: number[] } = { generation: 0, ports: [] };

/** Tells the control plane what is applied and served now. */
function reportApplied(): void {
  const serving = last.ports.filter((p) => forwarding.serving(p));
  send({ t: 'applied', generation: last.generation, serving, bindErrors: [...forwarding.bindErrors], draining: forwarding.draining() });
}

/** Tables apply one at a time, in the order they came. */
let applying: Promise<void> = Promise.resolve();
let stopping = false;

function onMessage(m: ToWorker): void {
  switch (m.t) {
    case 'table': {
      offset = m.now - Date.now();
      health = new Map(m.health);
      const certificates = new Map<string, PemPair | string>(m.certificates);
      const generation = m.generation;
      const table = compileTable(m.snapshot, generation);
      applying = applying
        .then(async () => {
          if (stopping) return;
          await forwarding.apply(table, (arn) => certificates.get(arn) ?? `certificate ${arn} was not sent to the data plane`);
          last = { generation, ports: [...table.listeners.keys()] };
          reportApplied();
        })
        .catch((e: unknown) => console.error('berth lb: data plane: applying a table failed:', e));
      break;
    }
    case 'health':
      offset = m.now - Date.now();
      for (const [identity, status] of m.entries) {
        if (status) health.set(identity, status);
        else health.delete(identity);
      }
      forwarding.refreshGroup(m.tgArn);
      break;
    case 'options':
      options = m.options;
      break;
    case 'serve':
      applying = applying
        .then(async () => {
          if (stopping) return;
          await forwarding.takeOver();
          reportApplied();
        })
        .catch((e: unknown) => console.error('berth lb: data plane: taking over failed:', e));
      break;
    case 'flush':
      send({ t: 'metrics', id: m.id, deltas: metrics.takeDeltas() });
      break;
    case 'stop':
      void stop();
      break;
  }
}

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await applying;
  await forwarding.stop();
  process.exit(0);
}

process.on('message', (m: ToWorker) => {
  try {
    onMessage(m);
  } catch (e) {
    console.error('berth lb: data plane: a message failed:', e);
  }
});
// The control plane's process went away: so does this one.
process.on('disconnect', () => process.exit(0));
setInterval(() => send({ t: 'metrics', id: 0, deltas: metrics.takeDeltas() }), METRICS_EVERY_MS).unref();
send({ t: 'ready' });
