/**
 * Task start/stop latency of the agent's runtime layer: a one-container task driven by the
 * TaskRunner from "start" to RUNNING and from "stop" to STOPPED (container removed), for the
 * process driver and the docker driver. Peers measured in the same run on the same machine:
 *  - process: a bare child_process.spawn of the same command (until it is spawned / killed);
 *  - docker: the docker CLI, `docker run -d` of the same image and command (until the CLI returns,
 *    i.e. the container runs) and `docker stop -t 5` + `docker rm` (graceful, like the runner).
 * Berth's docker numbers include creating and removing the task's own bridge network.
 * Ratios > 1 mean Berth is slower than the peer. The docker part needs dockerd and the `docker`
 * CLI (only the peer uses the CLI; the driver uses the Engine API).
 *
 *   npx tsc -p . && node dist/bench/runtask-latency.js [iterations]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerDriver } from '../src/agent/drivers/docker.js';
import { defaultDockerSocket } from '../src/agent/drivers/dockerApi.js';
import type { Driver } from '../src/agent/drivers/driver.js';
import { ProcessDriver } from '../src/agent/drivers/process.js';
import { TaskRunner } from '../src/agent/taskRunner.js';
import type { ContainerSpec } from '../src/agent/types.js';
import { ensureBusyboxImage } from '../test/helpers/images.js';

const N = Number(process.argv[2] ?? 10);
const SCRIPT = "trap 'exit 0' TERM; while true; do sleep 0.1; done";

function stats(xs: number[]): { median: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, p90: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]! };
}

async function berthRuns(driver: Driver, container: ContainerSpec): Promise<{ start: number[]; stop: number[] }> {
  const start: number[] = [];
  const stop: number[] = [];
  for (let i = 0; i < N; i++) {
    const runner = new TaskRunner({ task: { id: `bench${process.pid}x${i}`, containers: [container], desiredStatus: 'RUNNING' }, driver, defaultStopTimeoutS: 5 });
    const t0 = performance.now();
    const done = runner.start();
    await runner.waitFor('RUNNING');
    start.push(performance.now() - t0);
    const t1 = performance.now();
    runner.stop();
    await done;
    stop.push(performance.now() - t1);
  }
  return { start, stop };
}

function line(label: string, berth: number[], peer: number[]): void {
  const b = stats(berth);
  const p = stats(peer);
  console.log(`${label.padEnd(16)} berth median ${b.median.toFixed(1).padStart(7)} ms (p90 ${b.p90.toFixed(1)})   peer median ${p.median.toFixed(1).padStart(7)} ms (p90 ${p.p90.toFixed(1)})   ratio ${(b.median / p.median).toFixed(2)}x`);
}

async function processBench(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  const r = await berthRuns(new ProcessDriver({ dataDir }), { name: 'app', image: 'host', entryPoint: ['/bin/sh', '-c', SCRIPT] });
  const start: number[] = [];
  const stop: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const p = spawn('/bin/sh', ['-c', SCRIPT], { stdio: 'ignore' });
    await new Promise((res) => p.once('spawn', res));
    start.push(performance.now() - t0);
    const t1 = performance.now();
    const exited = new Promise((res) => p.once('exit', res));
    p.kill('SIGTERM');
    await exited;
    stop.push(performance.now() - t1);
  }
  console.log(`process driver (${N} tasks; peer: bare spawn)`);
  line('start->RUNNING', r.start, start);
  line('stop->STOPPED', r.stop, stop);
  rmSync(dataDir, { recursive: true, force: true });
}

async function dockerBench(): Promise<void> {
  if (!existsSync(defaultDockerSocket())) {
    console.log(`docker driver: skipped (no engine socket at ${defaultDockerSocket()})`);
    return;
  }
  const image = await ensureBusyboxImage();
  const driver = new DockerDriver();
  const r = await berthRuns(driver, { name: 'app', image, entryPoint: ['/bin/sh', '-c', SCRIPT] });
  driver.close();
  const start: number[] = [];
  const stop: number[] = [];
  for (let i = 0; i < N; i++) {
    const name = `berth-bench-peer-${process.pid}-${i}`;
    const t0 = performance.now();
    const run = spawnSync('docker', ['run', '-d', '--name', name, '--entrypoint', '/bin/sh', image, '-c', SCRIPT], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`docker run failed: ${run.stderr}`);
    start.push(performance.now() - t0);
    const t1 = performance.now();
    spawnSync('docker', ['stop', '-t', '5', name]);
    spawnSync('docker', ['rm', name]);
    stop.push(performance.now() - t1);
  }
  console.log(`docker driver (${N} tasks; peer: docker CLI run -d / stop + rm)`);
  line('start->RUNNING', r.start, start);
  line('stop->STOPPED', r.stop, stop);
}

await processBench();
await dockerBench();
