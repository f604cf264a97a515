/**
 * Running `bin/berth` as a real child process, for tests of what only a separate process can
 * show (kill -9, signals, restarts, the CLI's own output).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';

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

/** Starts `bin/berth up` with the given args and resolves once it prints its endpoint. */
export function spawnBerth(args: string[], env: NodeJS.ProcessEnv = {}): Promise<BerthProcess> {
  const child = spawn(process.execPath, [BERTH_BIN, 'up', '--port', '0', ...args], {
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
