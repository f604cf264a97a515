/**
 * The one fixture every test uses: a real Berth server on a loopback port 0 with ephemeral
 * state, plus ready-made SDK client settings and a runner for the real `aws` CLI.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { startBerth, type Berth, type BerthOptions } from '../../src/berth.js';
import { signRequest } from '../../src/protocol/sigv4.js';

export interface TestBerth extends Berth {
  /** Settings for any @aws-sdk/client-* v3 client. */
  clientConfig: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
    maxAttempts: number;
  };
  /** Environment for the `aws` CLI pointing at this server. */
  awsEnv: NodeJS.ProcessEnv;
}

export async function startTestBerth(opts: BerthOptions = {}): Promise<TestBerth> {
  const berth = await startBerth({ port: 0, ephemeral: true, env: {}, ...opts });
  const creds = { accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey };
  return Object.assign(berth, {
    clientConfig: { endpoint: berth.url, region: 'us-east-1', credentials: creds, maxAttempts: 1 },
    awsEnv: awsEnvFor(berth.url, creds),
  });
}

export function awsEnvFor(url: string, creds: { accessKeyId: string; secretAccessKey: string }): NodeJS.ProcessEnv {
  const fork = awsFork();
  return {
    // Scripts run with this environment find the fork server's `aws` first (see awsFork).
    PATH: fork ? `${fork.dir}:${process.env.PATH}` : process.env.PATH,
    ...(fork ? { BERTH_AWS_FORK_SOCKET: fork.socket } : {}),
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: url,
    AWS_PAGER: '',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_MAX_ATTEMPTS: '1',
  };
}

/** The aws CLI to test with: BERTH_TEST_AWS, else Debian's /usr/bin/aws, else the one on PATH. */
export const AWS_CLI = process.env.BERTH_TEST_AWS ?? (existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws');

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** A running aws CLI fork server: the folder of its `aws` executable, and its socket. */
interface AwsFork {
  dir: string;
  socket: string;
}
let forkServer: AwsFork | null | undefined;

/**
 * The aws CLI, forked from an interpreter that has already imported it
 * (test/helpers/aws_fork_server.py): the CLI's own `main()` runs for each call with the call's
 * argv, environment, working directory and stdio, so only its import (two thirds of a short
 * call's CPU) is shared. Started on first use, one per test process, gone when the process is;
 * null when AWS_CLI is not a Python script of awscli's, or with BERTH_TEST_AWS_FORK=0 (then every
 * call runs AWS_CLI itself).
 */
function awsFork(): AwsFork | null {
  if (forkServer !== undefined) return forkServer;
  forkServer = null;
  const server = fileURLToPath(new URL('../../../test/helpers/aws_fork_server.py', import.meta.url));
  if (process.env.BERTH_TEST_AWS_FORK === '0' || !existsSync(server) || !existsSync(AWS_CLI)) return null;
  const script = readFileSync(AWS_CLI, 'utf8').slice(0, 4096);
  const python = /^#!(\/\S*python3[\d.]*)\s*\n/.exec(script)?.[1];
  if (!python || !script.includes('awscli.clidriver')) return null;
  const dir = mkdtempSync(join(tmpdir(), 'berth-aws-fork-'));
  const socket = join(dir, 'server.sock');
  writeFileSync(join(dir, 'aws'), `#!/bin/sh\nexec '${python}' -S '${server}' --call "$@"\n`);
  chmodSync(join(dir, 'aws'), 0o755);
  const child = spawn(python, [server, socket, String(process.pid)], { stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
  process.on('exit', () => {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  forkServer = { dir, socket };
  return forkServer;
}

/** Runs the real aws CLI against a server (asynchronously, so the in-process server can answer). */
export function aws(env: NodeJS.ProcessEnv, args: string[]): Promise<CliResult> {
  const fork = awsFork();
  return new Promise((resolve, reject) => {
    const argv = ['--endpoint-url', env.AWS_ENDPOINT_URL!, ...args];
    const p = fork
      ? spawn(join(fork.dir, 'aws'), argv, { env: { ...env, BERTH_AWS_FORK_SOCKET: fork.socket }, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(AWS_CLI, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

/** aws CLI call that must succeed; returns parsed JSON output (or raw text for --output text). */
export async function awsOk(env: NodeJS.ProcessEnv, args: string[]): Promise<any> {
  const r = await aws(env, args);
  if (r.status !== 0) throw new Error(`aws ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const out = r.stdout.trim();
  if (args.includes('text')) return out;
  return out ? JSON.parse(out) : undefined;
}

let awsCliInstalled: boolean | undefined;

/** Whether the aws CLI is installed at all (so tests can say clearly when it is not); asked once per process. */
export function hasAwsCli(): boolean {
  awsCliInstalled ??= spawnSync(AWS_CLI, ['--version'], { stdio: 'ignore' }).status === 0;
  return awsCliInstalled;
}

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The AWS error a rejected SDK call carried: its code (`name`), HTTP status and message. */
export async function errorOf(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode, message: err.message };
  }
  throw new Error('expected the call to fail');
}

/**
 * `POST /_berth/reset` as an operator sends it: signed with the root credentials (SigV4, credential
 * scope service `berth`). Returns the response.
 */
export function resetBerth(url: string, creds: { accessKeyId: string; secretAccessKey: string }): Promise<Response> {
  const target = new URL(`${url}/_berth/reset`);
  const headers = signRequest({ method: 'POST', url: target, headers: { 'content-type': 'application/json' }, body: '', ...creds, region: 'us-east-1', service: 'berth' });
  delete headers.host;
  return fetch(target, { method: 'POST', headers, body: '' });
}

/** A loopback port that was free a moment ago (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
