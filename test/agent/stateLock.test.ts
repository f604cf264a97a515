// One agent per state dir (issue 12, item 9): a second agent on a dir that a live agent holds
// refuses to start and says who holds it; a lock left by a killed agent is taken over.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lockStateDir, StateDirLocked } from '../../src/agent/stateLock.js';
import { eventually } from '../helpers/fixture.js';

const root = mkdtempSync(join(tmpdir(), 'berth-lock-'));
after(() => rmSync(root, { recursive: true, force: true }));

const lockModule = fileURLToPath(new URL('../../src/agent/stateLock.js', import.meta.url));
const berthBin = fileURLToPath(new URL('../../../bin/berth', import.meta.url));

/** Another process that takes the lock on `dir`, says "locked", and holds it until killed. */
async function holder(dir: string) {
  const script = `const { lockStateDir } = await import(${JSON.stringify(lockModule)}); lockStateDir(${JSON.stringify(dir)}); process.stdout.write('locked\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    child.once('exit', (c) => reject(new Error(`the lock holder exited (${c})`)));
  });
  return child;
}

test('a second agent on a state dir a live agent holds refuses to start, naming the holder; the CLI says so without a stack trace', async () => {
  const dir = join(root, 'shared');
  spawnSync('mkdir', ['-p', dir]);
  const first = await holder(dir);
  try {
    assert.throws(() => lockStateDir(dir), (e: Error) => e instanceof StateDirLocked && e.message.includes(`pid ${first.pid}`) && e.message.includes(dir));
    const cli = spawnSync(process.execPath, [berthBin, 'agent', '--server', 'http://127.0.0.1:9', '--state-dir', dir, '--driver', 'process'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' },
    });
    assert.equal(cli.status, 1, cli.stderr);
    assert.match(cli.stderr, new RegExp(`^berth: another Berth agent \\(pid ${first.pid}\\) is using the state dir`));
    assert.doesNotMatch(cli.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    first.kill('SIGKILL');
  }
});

test('a lock left by an agent that was killed is taken over, and released on close', async () => {
  const dir = join(root, 'stale');
  spawnSync('mkdir', ['-p', dir]);
  const first = await holder(dir);
  first.kill('SIGKILL');
  await eventually(() => first.exitCode !== null || first.signalCode !== null, { what: 'the holder to die' });
  const lock = lockStateDir(dir);
  assert.ok(existsSync(join(dir, 'agent.lock')));
  lock.release();
  assert.equal(existsSync(join(dir, 'agent.lock')), false);
  // And taken again at once.
  lockStateDir(dir).release();
});
