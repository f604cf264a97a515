/**
 * Running `bin/berth` as a real child process, for tests of what only a separate process can
 * show (kill -9, signals, restarts, the CLI's own output).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { killRecordedProcessesUnder } from '../../src/agent/drivers/processRecords.js';

/** Every process started here; whatever a failed test left running is killed when its file ends. */
const started = new Set<ChildProcess>();
after(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export const BERTH_BIN = fileURLToPath(new URL('../../../bin/berth', import.meta.url));

export interface BerthProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

/**
 * Starts `bin/berth up` with the given args and resolves once it prints its endpoint. `exec`
 * prefixes the command (e.g. a test host's `ip netns exec <name>`, test/helpers/netns.ts).
 */
export function spawnBerth(args: string[], env: NodeJS.ProcessEnv = {}, opts: { exec?: string[] } = {}): Promise<BerthProcess> {
  const [cmd, ...argv] = [...(opts.exec ?? []), process.execPath, BERTH_BIN, 'up', '--port', '0', ...args];
  const child = spawn(cmd!, argv, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let out = '';
  const exited = new Promise<number | string>((r) => child.on('exit', (code, signal) => r(code ?? signal ?? -1)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`berth did not start within 20 s:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out, exited });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`berth exited (${code}) before listening:\n${out}`));
    });
  });
}

export interface AgentProcess {
  child: ChildProcess;
  /** The container instance it registered. */
  arn: string;
  /** What it printed so far (standard output and error). */
  output: () => string;
}

/**
 * Starts `bin/berth agent` (process driver unless `driver` says docker) joining `cluster` at `url` (one endpoint, or several
 * replicas' separated by commas), and resolves once it has
 * registered. The process is killed when the test file ends if the test did not end it. `exec`
 * prefixes the command (a test host's `ip netns exec <name>`).
 */
export function spawnAgent(opts: { url: string; accessKeyId: string; secretAccessKey: string; cluster: string; stateDir: string; az: string; exec?: string[]; driver?: 'process' | 'docker' }): Promise<AgentProcess> {
  const [cmd, ...prefix] = [...(opts.exec ?? []), process.execPath];
  const child = spawn(
    cmd!,
    [...prefix, BERTH_BIN, 'agent', '--server', opts.url, '--cluster', opts.cluster, '--driver', opts.driver ?? 'process', '--state-dir', opts.stateDir, '--attribute', `ecs.availability-zone=${opts.az}`],
    {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_ACCESS_KEY_ID: opts.accessKeyId, AWS_SECRET_ACCESS_KEY: opts.secretAccessKey, AWS_REGION: 'us-east-1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  started.add(child);
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`agent did not start: ${out}`)), 20_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /instance (arn:[^\s,]+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ child, arn: m[1]!, output: () => out });
      }
    });
    child.on('exit', (code) => reject(new Error(`agent exited ${code}: ${out}`)));
  });
}

/**
 * Kills the task processes the process driver started under `dir` (they outlive a killed agent
 * by design), found through the driver's child.json records, process group first; only those
 * still running (a recorded pid the kernel gave to another program since is left alone: tests
 * run in parallel, and a stale pid may be another test's load balancer).
 */
export function killTaskProcessesUnder(dir: string): void {
  killRecordedProcessesUnder(dir);
}

/**
 * Temp dirs for one test file (agent state, data dirs): `agentStateDirs()` registers, with `after`, the removal of
 * every dir it hands out (and first the kill of the task processes started under it, which
 * outlive a killed agent); the returned function makes one under the temp dir.
 */
export function agentStateDirs(): (prefix: string) => string {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) {
      killTaskProcessesUnder(d);
      try {
        rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      } catch {
        /* left in the temp dir */
      }
    }
  });
  return (prefix) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}
