/**
 * The client side of bench/runtask-e2e.ts, run in a worker thread so that, as for a real client
 * (the aws CLI, an SDK program), its requests and polling do not share the event loop of the
 * Berth under test. Several runs (a driver each, told apart by a placement constraint) are
 * interleaved task by task, so that noise on the machine hits them alike. For each task: RunTask (count 1), DescribeTasks every `pollMs` until RUNNING,
 * then StopTask and DescribeTasks until STOPPED. Times are epoch ms (performance.timeOrigin +
 * performance.now()) so the main thread can set them beside its own marks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { jsonService, type ClientConfig } from '../src/client/awsClient.js';

/** What the main thread passes in: `rounds` times, one task of each run (in alternating order). */
export interface ClientJob {
  cfg: ClientConfig;
  runs: Array<{ family: string; placementConstraints?: Array<{ type: string; expression: string }> }>;
  rounds: number;
  pollMs: number;
}

/** One task as the client saw it. */
export interface ClientSample {
  run: number;
  round: number;
  taskId: string;
  sent: number;
  answered: number;
  running: number;
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(job: ClientJob): Promise<ClientSample[]> {
  const ecs = jsonService(job.cfg, 'ecs');
  const waitStatus = async (taskArn: string, status: string): Promise<number> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const out = await ecs<{ tasks?: Array<{ lastStatus?: string }> }>('DescribeTasks', { cluster: 'default', tasks: [taskArn] });
      const s = out.tasks?.[0]?.lastStatus;
      if (s === status) return now();
      if (s === 'STOPPED' && status !== 'STOPPED') throw new Error(`task ${taskArn} stopped before reaching ${status}`);
      if (Date.now() > deadline) throw new Error(`task ${taskArn} not ${status} within 60 s (last ${s})`);
      await sleep(job.pollMs);
    }
  };
  const samples: ClientSample[] = [];
  for (let round = 0; round < job.rounds; round++) {
    const order = job.runs.map((_, i) => i);
    if (round % 2) order.reverse(); // neither run always goes first
    for (const run of order) {
      const { family, placementConstraints } = job.runs[run]!;
      const sent = now();
      const out = await ecs<{ tasks?: Array<{ taskArn: string }>; failures?: unknown[] }>('RunTask', { cluster: 'default', taskDefinition: family, count: 1, placementConstraints });
      const answered = now();
      const task = out.tasks?.[0];
      if (!task) throw new Error(`RunTask placed nothing: ${JSON.stringify(out.failures)}`);
      const running = await waitStatus(task.taskArn, 'RUNNING');
      samples.push({ run, round, taskId: task.taskArn.split('/').pop()!, sent, answered, running });
      await ecs('StopTask', { cluster: 'default', task: task.taskArn, reason: 'bench' });
      await waitStatus(task.taskArn, 'STOPPED');
    }
  }
  return samples;
}

if (parentPort) {
  run(workerData as ClientJob).then(
    (samples) => parentPort!.postMessage({ samples }),
    (e: Error) => parentPort!.postMessage({ error: e.stack ?? e.message }),
  );
}
