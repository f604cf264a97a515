/**
 * What the CLI tests share: a real Berth in this process with a real agent (process driver, so
 * no images), the `berth` executable run as a child process against it (asynchronously, so the
 * in-process server can answer), and tmux sessions for what only a terminal shows.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { Agent } from '../../src/agent/agent.js';
import type { BerthOptions } from '../../src/berth.js';
import { eventually, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { BERTH_BIN, killTaskProcessesUnder } from '../helpers/processes.js';
import { testAgent } from '../helpers/agents.js';

/** What a finished `berth` run printed and its exit status. */
export interface CliRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A directory no test leaves anything in: the CLI's working directory (no ./.berth there). */
const quietDir = mkdtempSync(join(tmpdir(), 'berth-cli-cwd-'));
after(() => rmSync(quietDir, { recursive: true, force: true }));

/** The environment a CLI run gets: PATH and HOME, plus `env`, and nothing else of this process. */
export function cliEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
}

/** Runs `berth <args>` to the end (stdin closed) and resolves with what it printed. */
export function berth(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return startBerthCli(args, env).done;
}

/** A `berth` run in the background: what it printed so far, and its end. */
export interface RunningCli {
  output(): string;
  done: Promise<CliRun>;
}

/** Starts `berth <args>` without waiting for it (stdin closed). */
export function startBerthCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(process.execPath, [BERTH_BIN, ...args], { env: cliEnv(env), cwd: quietDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
  return { output: () => stdout + stderr, done };
}

/** Runs a shell pipeline (`sh -c`) in the CLI's environment; `$BERTH` is the berth command. */
export function shell(script: string, env: NodeJS.ProcessEnv = {}, opts: { cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script], { env: cliEnv({ ...env, BERTH: `${process.execPath} ${BERTH_BIN}` }), cwd: opts.cwd ?? quietDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/** A Berth with a local agent (process driver) in cluster `default`, and the CLI's environment for it. */
export interface CliBerth {
  berth: TestBerth;
  agent: Agent;
  /** AWS_* variables that point the CLI at this Berth. */
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/**
 * Starts a Berth (controller and load balancer sped up for tests) and one agent with the
 * process driver in cluster `default`; `close` stops the agent's tasks, the agent, the server.
 */
export async function startCliBerth(opts: BerthOptions = {}): Promise<CliBerth> {
  const b = await startTestBerth(opts);
  b.controller.configure({ intervalMs: 100 });
  b.loadBalancer.configure({ secondMs: 50 });
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-cli-agent-'));
  const agent = testAgent(b, stateDir, { cpu: 4096, memoryMiB: 4096 });
  await agent.start();
  return {
    berth: b,
    agent,
    env: {
      AWS_ACCESS_KEY_ID: b.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: b.credentials.secretAccessKey,
      AWS_ENDPOINT_URL: b.url,
      AWS_REGION: 'us-east-1',
    },
    async close() {
      await agent.close({ stopTasks: true }).catch(() => undefined);
      await b.close();
      killTaskProcessesUnder(stateDir);
      rmSync(stateDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

/** Whether tmux can be used here (the terminal tests skip, saying so, without it). */
export function hasTmux(): boolean {
  return spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;
}

let sessions = 0;

/**
 * A detached tmux session (its own server, no user config) with a 200x50 terminal running `sh`
 * in the CLI's environment: type into it, read what the screen shows.
 */
export class TmuxSession {
  private readonly socket = `berth-cli-test-${process.pid}-${++sessions}`;

  constructor(env: NodeJS.ProcessEnv) {
    const vars = Object.entries(cliEnv({ ...env, PS1: '$ ', TERM: 'xterm-256color' })).map(([k, v]) => `${k}=${v}`);
    this.tmux(['new-session', '-d', '-x', '200', '-y', '50', '-s', 'cli', '-c', quietDir, 'env', '-i', ...vars, 'sh']);
    this.socketPath = this.tmux(['display-message', '-p', '#{socket_path}']).trim();
  }

  /** Where the session's tmux server listens (removed with it). */
  private readonly socketPath: string;

  private tmux(args: string[]): string {
    // No cwd: the session must still be killable after the test's temp dirs are gone.
    const r = spawnSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args[0]} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  /** Types `line` and Enter. */
  type(line: string): void {
    this.tmux(['send-keys', '-t', 'cli', '-l', line]);
    this.tmux(['send-keys', '-t', 'cli', 'Enter']);
  }

  /** Presses keys by tmux name (`C-c`, `Enter`). */
  keys(...names: string[]): void {
    this.tmux(['send-keys', '-t', 'cli', ...names]);
  }

  /** The text the screen shows now (and the scrollback), trailing blank lines dropped. */
  screen(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-200', '-t', 'cli']).replace(/\n+$/, '\n');
  }

  /** Waits until the screen matches `re`; resolves with that screen. */
  async waitFor(re: RegExp, timeoutMs = 30_000): Promise<string> {
    let last = '';
    try {
      return await eventually(
        () => {
          last = this.screen();
          return re.test(last) ? last : undefined;
        },
        { timeoutMs, intervalMs: 100, what: `the screen to show ${re}` },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- screen ---\n${last}`);
    }
  }

  /** Ends the session and its tmux server, and removes its socket. */
  close(): void {
    try {
      this.tmux(['kill-server']);
    } catch {
      /* already gone */
    }
    if (this.socketPath) rmSync(this.socketPath, { force: true });
  }
}

/** The root of this checkout (where `npx berth` finds the package's own executable). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `berth` as typed into a shell (absolute paths, quoted). */
export const BERTH_COMMAND = `'${process.execPath}' '${BERTH_BIN}'`;
