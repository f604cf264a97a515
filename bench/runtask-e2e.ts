/**
 * End-to-end RunTask -> RUNNING latency (issue 4): a real Berth in this process (ephemeral SQLite
 * state, HTTP on loopback) and a real Agent (its own SigV4 client, long poll, reports), for the
 * process driver and the docker driver. For each of N tasks (default 50, one at a time): send
 * RunTask (count 1), poll DescribeTasks every 5 ms until lastStatus is RUNNING; the latency is
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
 *   npx tsc -p . && node dist/bench/runtask-e2e.js [tasks] [--only process|docker]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth, type Berth } from '../src/berth.js';
import { Agent } from '../src/agent/agent.js';
import { jsonService, type ClientConfig } from '../src/client/awsClient.js';
import { DockerDriver } from '../src/agent/drivers/docker.js';
import { DockerEngine, defaultDockerSocket } from '../src/agent/drivers/dockerApi.js';
import type { Driver } from '../src/agent/drivers/driver.js';
import { ProcessDriver } from '../src/agent/drivers/process.js';
import { KIND } from '../src/services/ecs/keys.js';
import { ensureBusyboxImage } from '../test/helpers/images.js';

const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 50);
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const WARMUP = 3;
const POLL_MS = 5;
const TARGET = 1.5;
const PROCESS_CMD = ['/bin/sh', '-c', 'exec sleep 600'];
const DOCKER_CMD = ['sleep', '600'];

type Ecs = ReturnType<typeof jsonService>;
interface Task {
  taskArn: string;
  lastStatus?: string;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per-task timestamps (performance.now()) seen from inside the process. */
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
          m(taskId).firstDriverCall ??= performance.now();
          return v.call(target, taskId);
        };
      if (prop === 'start')
        return async (req: { taskId: string }) => {
          const mk = m(req.taskId);
          mk.firstDriverCall ??= performance.now();
          mk.startBegin = performance.now();
          const h = await v.call(target, req);
          mk.startEnd = performance.now();
          return h;
        };
      return v.bind(target);
    },
  });
}

async function waitStatus(ecs: Ecs, taskArn: string, status: string, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await ecs<{ tasks?: Task[] }>('DescribeTasks', { cluster: 'default', tasks: [taskArn] });
    const s = out.tasks?.[0]?.lastStatus;
    if (s === status) return performance.now();
    if (s === 'STOPPED' && status !== 'STOPPED') throw new Error(`task ${taskArn} stopped before reaching ${status}`);
    if (Date.now() > deadline) throw new Error(`task ${taskArn} not ${status} within ${timeoutMs} ms (last ${s})`);
    await sleep(POLL_MS);
  }
}

interface BerthResult {
  latency: number[];
  phases: { runTaskCommit: number[]; toAgent: number[]; prepare: number[]; driverStart: number[]; toReport: number[]; toSeen: number[]; runTaskRtt: number[] };
}

async function berthRuns(berth: Berth, cfg: ClientConfig, driverName: 'process' | 'docker', driver: Driver, image: string, command: string[]): Promise<BerthResult> {
  const marks = new Map<string, Marks>();
  const stateDir = mkdtempSync(join(tmpdir(), `berth-bench-${driverName}-`));
  const agent = new Agent({ client: cfg, cluster: 'default', driver: timed(driver, marks), stateDir, pollSeconds: 5, log: () => undefined });
  await agent.start();
  const ecs = jsonService(cfg, 'ecs');
  const family = `bench-${driverName}`;
  await ecs('RegisterTaskDefinition', { family, containerDefinitions: [{ name: 'app', image, essential: true, memory: 64, stopTimeout: 2, command }] });

  // The store's change feed: commit times of the task record.
  const byArn = new Map<string, string>(); // taskArn -> taskId
  const store = berth.platform.store;
  const unwatch = store.watch(await store.revision(), (c) => {
    if (c.kind !== KIND.task || !c.value) return;
    const t = c.value as { taskId: string; lastStatus: string };
    const mk = marks.get(t.taskId) ?? (marks.set(t.taskId, {}), marks.get(t.taskId)!);
    mk.created ??= performance.now();
    if (t.lastStatus === 'RUNNING') mk.runningCommit ??= performance.now();
  });

  const r: BerthResult = { latency: [], phases: { runTaskCommit: [], toAgent: [], prepare: [], driverStart: [], toReport: [], toSeen: [], runTaskRtt: [] } };
  try {
    for (let i = 0; i < WARMUP + N; i++) {
      const t0 = performance.now();
      const out = await ecs<{ tasks?: Task[]; failures?: unknown[] }>('RunTask', { cluster: 'default', taskDefinition: family, count: 1 });
      const tResp = performance.now();
      const task = out.tasks?.[0];
      if (!task) throw new Error(`RunTask placed nothing: ${JSON.stringify(out.failures)}`);
      const taskId = task.taskArn.split('/').pop()!;
      byArn.set(task.taskArn, taskId);
      const seen = await waitStatus(ecs, task.taskArn, 'RUNNING');
      if (i >= WARMUP) {
        const mk = marks.get(taskId) ?? {};
        r.latency.push(seen - t0);
        r.phases.runTaskRtt.push(tResp - t0);
        if (mk.created !== undefined) r.phases.runTaskCommit.push(mk.created - t0);
        if (mk.created !== undefined && mk.firstDriverCall !== undefined) r.phases.toAgent.push(mk.firstDriverCall - mk.created);
        if (mk.firstDriverCall !== undefined && mk.startBegin !== undefined) r.phases.prepare.push(mk.startBegin - mk.firstDriverCall);
        if (mk.startBegin !== undefined && mk.startEnd !== undefined) r.phases.driverStart.push(mk.startEnd - mk.startBegin);
        if (mk.startEnd !== undefined && mk.runningCommit !== undefined) r.phases.toReport.push(mk.runningCommit - mk.startEnd);
        if (mk.runningCommit !== undefined) r.phases.toSeen.push(seen - mk.runningCommit);
      }
      await ecs('StopTask', { cluster: 'default', task: task.taskArn, reason: 'bench' });
      await waitStatus(ecs, task.taskArn, 'STOPPED');
    }
  } finally {
    unwatch();
    await agent.close({ stopTasks: true });
    // Leave no instance behind that looks connected for a while: the next driver's tasks must not land on it.
    if (agent.instanceArn) await ecs('DeregisterContainerInstance', { cluster: 'default', containerInstance: agent.instanceArn, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
  return r;
}

async function processFloor(): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < WARMUP + N; i++) {
    const t0 = performance.now();
    const p = spawn(PROCESS_CMD[0]!, PROCESS_CMD.slice(1), { stdio: 'ignore', detached: true });
    await new Promise((res, rej) => {
      p.once('spawn', res);
      p.once('error', rej);
    });
    if (i >= WARMUP) xs.push(performance.now() - t0);
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
    const t0 = performance.now();
    const run = spawnSync('docker', ['run', '-d', '--name', name, image, ...DOCKER_CMD], { encoding: 'utf8' });
    const t1 = performance.now();
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
    const t0 = performance.now();
    const net: { Id: string } | undefined = withNetwork ? await engine.call('POST', '/networks/create', { Name: name, Driver: 'bridge' }) : undefined;
    const c: { Id: string } = await engine.call('POST', `/containers/create?name=${name}`, { Image: image, Cmd: DOCKER_CMD, HostConfig: net ? { NetworkMode: name } : {} });
    await engine.call('POST', `/containers/${c.Id}/start`);
    const t1 = performance.now();
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
  const ph = berth.phases;
  const line = (label: string, xs: number[]) => (xs.length ? `    ${label.padEnd(56)} p50 ${f(pct(xs, 50)).padStart(7)} ms   p99 ${f(pct(xs, 99)).padStart(7)} ms` : `    ${label}: not observed`);
  console.log(`\n${driver} driver: where Berth's time goes (${N} tasks, one at a time)`);
  console.log(line('RunTask sent -> task record committed', ph.runTaskCommit));
  console.log(line('RunTask round trip (client sees the answer)', ph.runTaskRtt));
  console.log(line('task committed -> agent calls the driver', ph.toAgent));
  console.log(line('first driver call -> driver.start() (task network, image)', ph.prepare));
  console.log(line('driver.start() (container created and running)', ph.driverStart));
  console.log(line('driver.start() done -> RUNNING committed (report path)', ph.toReport));
  console.log(line('RUNNING committed -> client sees it (5 ms poll)', ph.toSeen));
}

const berth = await startBerth({ port: 0, ephemeral: true, env: {} });
const cfg: ClientConfig = { endpoint: berth.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey };
console.log(`host: ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`RunTask -> RUNNING, ${N} tasks per driver (+${WARMUP} warm-up, not counted), DescribeTasks every ${POLL_MS} ms; Berth at ${berth.url}`);
try {
  if (!ONLY || ONLY === 'process') {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-proc-'));
    const res = await berthRuns(berth, cfg, 'process', new ProcessDriver({ dataDir }), 'host', PROCESS_CMD);
    const floor = await processFloor();
    report('process', res, [{ name: `spawn(${PROCESS_CMD.join(' ')}) until 'spawn'`, xs: floor, primary: true }]);
    rmSync(dataDir, { recursive: true, force: true });
  }
  if (!ONLY || ONLY === 'docker') {
    const dockerUp = existsSync(defaultDockerSocket()) && spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
    if (!dockerUp) {
      console.log(`\ndocker driver: SKIPPED (no engine at ${defaultDockerSocket()}; start one with: setsid dockerd > /tmp/dockerd.log 2>&1 &)`);
    } else {
      const image = await ensureBusyboxImage();
      const driver = new DockerDriver();
      const res = await berthRuns(berth, cfg, 'docker', driver, image, DOCKER_CMD);
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
