/**
 * End-to-end RunTask -> RUNNING latency (issue 4): a real Berth in this process (ephemeral SQLite
 * state, HTTP on loopback) and a real Agent (its own SigV4 client, long poll, reports), as in
 * `berth up`, for the process driver and the docker driver; the client is a worker thread
 * (bench/runtask-client.ts), as a real client is another process. For each of N tasks (default 50, one at a time): send
 * RunTask (count 1), poll DescribeTasks every 2 ms (--poll-ms) until lastStatus is RUNNING; the latency is
 * from sending RunTask to first seeing RUNNING. Then StopTask and wait for STOPPED before the
 * next task. A few warm-up tasks run first and are not counted.
 *
 * Floor, measured in the same run on the same machine with the same workload:
 *  - process: child_process.spawn of the same command until the 'spawn' event (it has started);
 *  - docker: `docker run -d` of the same image and command until the CLI returns (the container
 *    is running). For information, the Engine API's create + start (what the driver itself
 *    sends) is shown too, on the default bridge and on a freshly created bridge network (Berth's
 *    docker driver gives each task its own network, for links between its containers).
 * Target: Berth's p50 and p99 within 1.5x of the floor's.
 *
 * Where the time goes is measured from inside the same process, without changing the code under
 * test: the store's change feed gives the commit times of the task record (created PENDING,
 * RUNNING) and a thin timing wrapper around the driver gives the agent's first driver call and
 * the driver's start() duration.
 *
 * For the process driver, tasks alternate with those of a driver that starts nothing (start()
 * resolves at once; its own agent, chosen by a memberOf placement constraint, as the process
 * driver's tasks are): what that takes is the platform's own share (RunTask, the agent's wake-up,
 * its report, the client's polling), which no driver can go below; the difference is the
 * process driver's share, printed beside the floor for information.
 *
 *   npx tsc -p . && node dist/bench/runtask-e2e.js [tasks] [--only process|docker] [--poll-ms 2]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth, type Berth } from '../src/berth.js';
import { Agent } from '../src/agent/agent.js';
import { Worker } from 'node:worker_threads';
import { jsonService, type ClientConfig } from '../src/client/awsClient.js';
import type { ClientJob, ClientSample } from './runtask-client.js';
import { DockerDriver } from '../src/agent/drivers/docker.js';
import { DockerEngine, defaultDockerSocket } from '../src/agent/drivers/dockerApi.js';
import type { Driver } from '../src/agent/drivers/driver.js';
import { ProcessDriver } from '../src/agent/drivers/process.js';
import { KIND } from '../src/domain/ecs/keys.js';
import { ensureBusyboxImage } from '../test/helpers/images.js';

const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 50);
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const WARMUP = 3;
const POLL_MS = Number(args.includes('--poll-ms') ? args[args.indexOf('--poll-ms') + 1] : 2);
const TARGET = 1.5;
const PROCESS_CMD = ['/bin/sh', '-c', 'exec sleep 600'];
const DOCKER_CMD = ['sleep', '600'];

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Epoch ms with sub-ms precision, comparable across threads (the client runs in a worker). */
const now = () => performance.timeOrigin + performance.now();

/** Per-task timestamps (now()) seen from inside the process. */
interface Marks {
  created?: number; // task record committed (RunTask's write)
  firstDriverCall?: number; // the agent has the task and calls the driver
  startBegin?: number;
  startEnd?: number; // driver.start() resolved: the container runs
  runningCommit?: number; // lastStatus RUNNING committed (the agent's report)
}

/** Wraps a driver so the bench sees when the agent calls it; behaviour is unchanged. */
function timed(driver: Driver, marks: Map<string, Marks>): Driver {
  const m = (taskId: string) => marks.get(taskId) ?? (marks.set(taskId, {}), marks.get(taskId)!);
  return new Proxy(driver, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== 'function') return v;
      if (prop === 'prepareTask')
        return (taskId: string) => {
          m(taskId).firstDriverCall ??= now();
          return v.call(target, taskId);
        };
      if (prop === 'start')
        return async (req: { taskId: string }) => {
          const mk = m(req.taskId);
          mk.firstDriverCall ??= now();
          mk.startBegin = now();
          const h = await v.call(target, req);
          mk.startEnd = now();
          return h;
        };
      return v.bind(target);
    },
  });
}

interface BerthResult {
  latency: number[];
  phases: { runTaskCommit: number[]; toAgent: number[]; prepare: number[]; driverStart: number[]; toReport: number[]; toSeen: number[]; runTaskRtt: number[] };
}

/** One series of tasks: a driver behind its own agent, told apart by the agent attribute bench.run. */
interface Run {
  label: string;
  driver: Driver;
  image: string;
  command: string[];
}

async function berthRuns(berth: Berth, cfg: ClientConfig, runs: Run[]): Promise<BerthResult[]> {
  const marks = new Map<string, Marks>();
  const ecs = jsonService(cfg, 'ecs');
  const agents: Array<{ agent: Agent; stateDir: string }> = [];
  const store = berth.platform.store;
  let unwatch = () => undefined as void;
  const results: BerthResult[] = runs.map(() => ({ latency: [], phases: { runTaskCommit: [], toAgent: [], prepare: [], driverStart: [], toReport: [], toSeen: [], runTaskRtt: [] } }));
  try {
    for (const run of runs) {
      const stateDir = mkdtempSync(join(tmpdir(), `berth-bench-${run.label}-`));
      const agent = new Agent({ client: cfg, cluster: 'default', driver: timed(run.driver, marks), stateDir, pollSeconds: 5, attributes: { 'bench.run': run.label }, log: () => undefined });
      agents.push({ agent, stateDir });
      await agent.start();
      await ecs('RegisterTaskDefinition', { family: `bench-${run.label}`, containerDefinitions: [{ name: 'app', image: run.image, essential: true, memory: 64, stopTimeout: 2, command: run.command }] });
    }
    // The store's change feed: commit times of the task record.
    unwatch = store.watch(await store.revision(), (c) => {
      if (c.kind !== KIND.task || !c.value) return;
      const t = c.value as { taskId: string; lastStatus: string };
      const mk = marks.get(t.taskId) ?? (marks.set(t.taskId, {}), marks.get(t.taskId)!);
      mk.created ??= now();
      if (t.lastStatus === 'RUNNING') mk.runningCommit ??= now();
    });
    const job: ClientJob = {
      cfg,
      runs: runs.map((r) => ({ family: `bench-${r.label}`, placementConstraints: [{ type: 'memberOf', expression: `attribute:bench.run == ${r.label}` }] })),
      rounds: WARMUP + N,
      pollMs: POLL_MS,
    };
    const worker = new Worker(new URL('./runtask-client.js', import.meta.url), { workerData: job });
    const answer = await new Promise<{ samples?: ClientSample[]; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    if (!answer.samples) throw new Error(`client: ${answer.error}`);
    for (const smp of answer.samples.filter((x) => x.round >= WARMUP)) {
      const r = results[smp.run]!;
      const mk = marks.get(smp.taskId) ?? {};
      r.latency.push(smp.running - smp.sent);
      r.phases.runTaskRtt.push(smp.answered - smp.sent);
      if (mk.created !== undefined) r.phases.runTaskCommit.push(mk.created - smp.sent);
      if (mk.created !== undefined && mk.firstDriverCall !== undefined) r.phases.toAgent.push(mk.firstDriverCall - mk.created);
      if (mk.firstDriverCall !== undefined && mk.startBegin !== undefined) r.phases.prepare.push(mk.startBegin - mk.firstDriverCall);
      if (mk.startBegin !== undefined && mk.startEnd !== undefined) r.phases.driverStart.push(mk.startEnd - mk.startBegin);
      if (mk.startEnd !== undefined && mk.runningCommit !== undefined) r.phases.toReport.push(mk.runningCommit - mk.startEnd);
      if (mk.runningCommit !== undefined) r.phases.toSeen.push(smp.running - mk.runningCommit);
    }
  } finally {
    unwatch();
    for (const { agent, stateDir } of agents) {
      await agent.close({ stopTasks: true });
      // Leave no instance behind that looks connected for a while: later runs' tasks must not land on it.
      if (agent.instanceArn) await ecs('DeregisterContainerInstance', { cluster: 'default', containerInstance: agent.instanceArn, force: true });
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
  return results;
}

/**
 * A driver that starts nothing: start() resolves at once with a handle, wait() resolves when the
 * container is stopped. Runs through the same agent and control plane as the real drivers.
 */
class NullDriver implements Driver {
  readonly name = 'null';
  private readonly exits = new Map<string, () => void>();
  private readonly exited = new Map<string, Promise<void>>();
  async fingerprint() {
    return { name: this.name, available: true, capabilities: { memoryLimit: false, links: false, images: false, mounts: false }, cpus: cpus().length, memoryMiB: 1024 };
  }
  async pullImage(): Promise<{ digest?: string }> {
    return {};
  }
  async prepareTask(): Promise<void> {}
  async cleanupTask(): Promise<void> {}
  async start(req: { taskId: string; container: { name: string } }) {
    const id = `${req.taskId}/${req.container.name}`;
    this.exited.set(id, new Promise<void>((r) => this.exits.set(id, r)));
    return { driver: this.name, taskId: req.taskId, containerName: req.container.name, id, networkBindings: [], startedAt: Date.now(), state: {} };
  }
  async wait(h: { id: string }) {
    await this.exited.get(h.id);
    return { code: 143, oomKilled: false, finishedAt: Date.now() };
  }
  async stop(h: { id: string }) {
    this.exits.get(h.id)?.();
  }
  async destroy(h: { id: string }) {
    this.exits.get(h.id)?.();
    this.exits.delete(h.id);
    this.exited.delete(h.id);
  }
  async inspect(h: { id: string }) {
    return { running: this.exits.has(h.id), id: h.id };
  }
  async recover(h: DriverHandleLike) {
    return { status: 'exited' as const, handle: h as never, exit: { code: -1, oomKilled: false, finishedAt: Date.now(), unknown: true } };
  }
  logs(h: { id: string }, _onLine: unknown, opts: { onEnd?: () => void } = {}) {
    // Nothing is ever printed; the stream ends when the container does.
    void this.exited.get(h.id)?.then(() => opts.onEnd?.());
    return { close: () => undefined };
  }
  async exec() {
    return { exitCode: 0, output: '', timedOut: false };
  }
}
type DriverHandleLike = { id: string };

async function processFloor(): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < WARMUP + N; i++) {
    const t0 = now();
    const p = spawn(PROCESS_CMD[0]!, PROCESS_CMD.slice(1), { stdio: 'ignore', detached: true });
    await new Promise((res, rej) => {
      p.once('spawn', res);
      p.once('error', rej);
    });
    if (i >= WARMUP) xs.push(now() - t0);
    const exited = new Promise((res) => p.once('exit', res));
    p.kill('SIGTERM');
    await exited;
  }
  return xs;
}

function dockerCliFloor(image: string): number[] {
  const xs: number[] = [];
  for (let i = 0; i < WARMUP + N; i++) {
    const name = `berth-bench-floor-${process.pid}-${i}`;
    const t0 = now();
    const run = spawnSync('docker', ['run', '-d', '--name', name, image, ...DOCKER_CMD], { encoding: 'utf8' });
    const t1 = now();
    if (run.status !== 0) throw new Error(`docker run failed: ${run.stderr}`);
    if (i >= WARMUP) xs.push(t1 - t0);
    spawnSync('docker', ['rm', '-f', name]);
  }
  return xs;
}

/**
 * The Engine API's create + start, on the default bridge or (withNetwork) on a bridge network
 * created for the container first, as Berth's docker driver does per task.
 */
async function dockerApiFloor(image: string, withNetwork: boolean): Promise<number[]> {
  const engine = new DockerEngine();
  const xs: number[] = [];
  for (let i = 0; i < WARMUP + N; i++) {
    const name = `berth-bench-floor-api-${process.pid}-${withNetwork ? 'n' : 'd'}-${i}`;
    const t0 = now();
    const net: { Id: string } | undefined = withNetwork ? await engine.call('POST', '/networks/create', { Name: name, Driver: 'bridge' }) : undefined;
    const c: { Id: string } = await engine.call('POST', `/containers/create?name=${name}`, { Image: image, Cmd: DOCKER_CMD, HostConfig: net ? { NetworkMode: name } : {} });
    await engine.call('POST', `/containers/${c.Id}/start`);
    const t1 = now();
    if (i >= WARMUP) xs.push(t1 - t0);
    await engine.call('DELETE', `/containers/${c.Id}?force=true`);
    if (net) await engine.call('DELETE', `/networks/${net.Id}`);
  }
  return xs;
}

const rows: string[][] = [];
const verdicts: string[] = [];
const f = (x: number) => x.toFixed(1);

function report(driver: string, berth: BerthResult, floors: Array<{ name: string; xs: number[]; primary: boolean }>): void {
  const b50 = pct(berth.latency, 50);
  const b99 = pct(berth.latency, 99);
  rows.push([driver, 'Berth RunTask -> RUNNING (DescribeTasks)', f(b50), f(b99), '', '']);
  for (const fl of floors) {
    const p50 = pct(fl.xs, 50);
    const p99 = pct(fl.xs, 99);
    const r50 = b50 / p50;
    const r99 = b99 / p99;
    rows.push([driver, `floor: ${fl.name}${fl.primary ? '' : ' (info)'}`, f(p50), f(p99), `${r50.toFixed(2)}x`, `${r99.toFixed(2)}x`]);
    if (fl.primary) {
      const ok = r50 <= TARGET && r99 <= TARGET;
      verdicts.push(`${driver}: p50 ${r50.toFixed(2)}x, p99 ${r99.toFixed(2)}x of the floor (${fl.name}): target <= ${TARGET}x ${ok ? 'MET' : 'NOT MET'}`);
    }
  }
  printPhases(`${driver} driver`, berth);
}

function printPhases(label: string, berth: BerthResult): void {
  const ph = berth.phases;
  const line = (what: string, xs: number[]) => (xs.length ? `    ${what.padEnd(56)} p50 ${f(pct(xs, 50)).padStart(7)} ms   p99 ${f(pct(xs, 99)).padStart(7)} ms` : `    ${what}: not observed`);
  console.log(`\n${label}: where Berth's time goes (${N} tasks, one at a time)`);
  console.log(line('RunTask sent -> task record committed', ph.runTaskCommit));
  console.log(line('RunTask round trip (client sees the answer)', ph.runTaskRtt));
  console.log(line('task committed -> agent calls the driver', ph.toAgent));
  console.log(line('first driver call -> driver.start() (task network, image)', ph.prepare));
  console.log(line('driver.start() (container created and running)', ph.driverStart));
  console.log(line('driver.start() done -> RUNNING committed (report path)', ph.toReport));
  console.log(line(`RUNNING committed -> client sees it (${POLL_MS} ms poll)`, ph.toSeen));
}

/** Rows for the platform's own share (a driver that starts nothing) and the driver's share beside the floor. */
function reportShares(driver: string, berth: BerthResult, nothing: BerthResult, floor: number[]): void {
  printPhases('driver that starts nothing', nothing);
  const n50 = pct(nothing.latency, 50);
  const n99 = pct(nothing.latency, 99);
  rows.push([driver, 'Berth, driver that starts nothing (platform share)', f(n50), f(n99), '', '']);
  const d50 = pct(berth.latency, 50) - n50;
  const d99 = pct(berth.latency, 99) - n99;
  rows.push([driver, `Berth minus that (${driver} driver's share, info)`, f(d50), f(d99), `${(d50 / pct(floor, 50)).toFixed(2)}x`, `${(d99 / pct(floor, 99)).toFixed(2)}x`]);
}

const berth = await startBerth({ port: 0, ephemeral: true, env: {} });
const cfg: ClientConfig = { endpoint: berth.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey };
console.log(`host: ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`RunTask -> RUNNING, ${N} tasks per driver (+${WARMUP} warm-up, not counted), DescribeTasks every ${POLL_MS} ms; Berth at ${berth.url}`);
try {
  if (!ONLY || ONLY === 'process') {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-proc-'));
    const [res, nothing] = await berthRuns(berth, cfg, [
      { label: 'process', driver: new ProcessDriver({ dataDir }), image: 'host', command: PROCESS_CMD },
      { label: 'nothing', driver: new NullDriver() as unknown as Driver, image: 'host', command: PROCESS_CMD },
    ]);
    const floor = await processFloor();
    report('process', res, [{ name: `spawn(${PROCESS_CMD.join(' ')}) until 'spawn'`, xs: floor, primary: true }]);
    reportShares('process', res, nothing, floor);
    rmSync(dataDir, { recursive: true, force: true });
  }
  if (!ONLY || ONLY === 'docker') {
    const dockerUp = existsSync(defaultDockerSocket()) && spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
    if (!dockerUp) {
      console.log(`\ndocker driver: SKIPPED (no engine at ${defaultDockerSocket()}; start one with: setsid dockerd > /tmp/dockerd.log 2>&1 &)`);
    } else {
      const image = await ensureBusyboxImage();
      const driver = new DockerDriver();
      const [res] = await berthRuns(berth, cfg, [{ label: 'docker', driver, image, command: DOCKER_CMD }]);
      driver.close();
      const cli = dockerCliFloor(image);
      const api = await dockerApiFloor(image, false);
      const apiNet = await dockerApiFloor(image, true);
      report('docker', res, [
        { name: `docker run -d ${image} ${DOCKER_CMD.join(' ')}`, xs: cli, primary: true },
        { name: 'Engine API create + start', xs: api, primary: false },
        { name: 'Engine API network create + create + start on it', xs: apiNet, primary: false },
      ]);
    }
  }
} finally {
  await berth.close();
}

const head = ['driver', 'measurement', 'p50 ms', 'p99 ms', 'ratio p50', 'ratio p99'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const fmt = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(`\n${fmt(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
for (const r of rows) console.log(fmt(r));
console.log('');
for (const v of verdicts) console.log(v);
