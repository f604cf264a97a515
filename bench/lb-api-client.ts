/**
 * The control-plane client of bench/lb.ts, run in a worker thread so that, as for a real client
 * (the aws CLI, an SDK program), its requests do not share the event loop of the Berth under
 * test: signed ECS DescribeServices calls one after another (a 10 ms pause between them) from
 * a `start` message until a `stop` message, then the latency of each call (ms) is posted back.
 * A call that fails or takes over `timeoutMs` counts as that timeout, so errors cannot flatter
 * the percentiles.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { jsonService, type ClientConfig } from '../src/client/awsClient.js';

/** What the main thread passes in. */
export interface ApiClientJob {
  cfg: ClientConfig;
  cluster: string;
  service: string;
  timeoutMs: number;
}

const job = workerData as ApiClientJob;
const ecs = jsonService(job.cfg, 'ecs');
let running = false;
let samples: number[] = [];
let errors = 0;

async function loop(): Promise<void> {
  while (running) {
    const t0 = performance.now();
    try {
      const out = await ecs<{ services?: unknown[] }>('DescribeServices', { cluster: job.cluster, services: [job.service] }, { timeoutMs: job.timeoutMs });
      if (out.services?.length !== 1) throw new Error('service not described');
      samples.push(performance.now() - t0);
    } catch {
      errors++;
      samples.push(job.timeoutMs);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

let done: Promise<void> = Promise.resolve();
parentPort!.on('message', async (m: 'start' | 'stop' | 'exit') => {
  if (m === 'start') {
    samples = [];
    errors = 0;
    running = true;
    done = loop();
  } else if (m === 'stop') {
    running = false;
    await done;
    parentPort!.postMessage({ samples, errors });
  } else parentPort!.close();
});
