/**
 * The process driver's shared supervisor (src/agent/drivers/processSupervisor.ts): one process
 * per data dir runs every container, outlives the agent that started it, leaves once it has
 * nothing to do, and is replaced when it dies.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessDriver } from '../../src/agent/drivers/process.js';
import type { DriverHandle } from '../../src/agent/drivers/driver.js';
import { procStartTime } from '../../src/agent/drivers/processSupervisor.js';
import { eventually } from '../helpers/fixture.js';
import { killTaskProcessesUnder } from '../helpers/processes.js';

const root = mkdtempSync(join(tmpdir(), 'berth-sup-'));
after(() => {
  killTaskProcessesUnder(root);
  rmSync(root, { recursive: true, force: true });
});

const alive = (pid: number) => procStartTime(pid) !== undefined;
const supervisorOf = (h: DriverHandle) => (h.state as { supervisorPid: number }).supervisorPid;
const sleeper = (name: string, env: Record<string, string> = {}) => ({ name, image: 'host', command: ['/bin/sh', '-c', 'exec sleep 600'], environment: env });

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    const st = statSync(p, { throwIfNoEntry: false });
    return st?.isDirectory() ? filesUnder(p) : st?.isFile() ? [p] : [];
  });
}

test('one supervisor runs every container of a data dir; the environment never reaches its files', async () => {
  const dataDir = join(root, 'shared');
  const driver = new ProcessDriver({ dataDir });
  const secret = `s3cret-${process.pid}-${Date.now()}`;
  const a = await driver.start({ taskId: 'task-a', container: sleeper('app', { TOKEN: secret }) });
  const b = await driver.start({ taskId: 'task-b', container: sleeper('app', { TOKEN: secret }) });
  try {
    assert.equal(supervisorOf(a), supervisorOf(b), 'both containers are supervised by the same process');
    assert.notEqual(supervisorOf(a), process.pid);
    assert.match(readFileSync(`/proc/${supervisorOf(a)}/cmdline`, 'utf8'), /processSupervisor\.js/);
    // The containers are not the supervisor's pid and each leads its own process group.
    for (const h of [a, b]) assert.equal(Number(readFileSync(`/proc/${h.id}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]), Number(h.id));
    assert.match(readFileSync(`/proc/${a.id}/environ`, 'utf8'), new RegExp(`TOKEN=${secret}`));
    for (const f of filesUnder(dataDir)) if (!f.endsWith('.sock')) assert.ok(!readFileSync(f, 'utf8').includes(secret), `${f} holds the secret`);
  } finally {
    for (const h of [a, b]) {
      await driver.stop(h, 2000);
      await driver.destroy(h);
    }
    driver.close();
  }
});

test('the supervisor outlives the agent that started it, then leaves once idle', async () => {
  const dataDir = join(root, 'outlive');
  // A separate process plays the agent: it starts a container and exits (as a killed agent would).
  const driverModule = fileURLToPath(new URL('../../src/agent/drivers/process.js', import.meta.url));
  const script = `
    const { ProcessDriver } = await import(${JSON.stringify(driverModule)});
    const d = new ProcessDriver({ dataDir: ${JSON.stringify(dataDir)} });
    const h = await d.start({ taskId: 't1', container: { name: 'app', image: 'host', command: ['/bin/sh', '-c', 'echo started; exec sleep 600'] } });
    process.stdout.write(JSON.stringify(h));
    process.exit(0);`;
  const agent = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(agent.status, 0, agent.stderr);
  const h = JSON.parse(agent.stdout) as DriverHandle;
  const sup = supervisorOf(h);
  assert.ok(alive(sup), 'the supervisor is still there after its agent exited');
  assert.ok(alive(Number(h.id)), 'and so is the container');

  // A new agent on the same data dir finds the container running and follows it to its exit.
  const driver = new ProcessDriver({ dataDir });
  const rec = await driver.recover(h);
  assert.equal(rec.status, 'running');
  const lines: string[] = [];
  const sub = driver.logs(h, (l) => lines.push(l.line));
  // (on a busy machine the shell may not have printed yet: a SIGTERM before its echo would leave nothing to read)
  await eventually(() => lines.length > 0, { what: 'the output line' });
  await driver.stop(h, 2000);
  const exit = await driver.wait(h);
  assert.equal(exit.code, 143, 'SIGTERM, seen by the supervisor that started it');
  assert.equal(exit.unknown, undefined);
  assert.deepEqual(lines, ['started']);
  sub.close();
  await driver.destroy(h);

  // Nothing left to supervise, nobody connected: it leaves by itself.
  driver.close();
  await eventually(() => !alive(sup), { what: 'the idle supervisor to leave' });
});

test('a supervisor that died is replaced; what it ran is followed through its files', async () => {
  const dataDir = join(root, 'replaced');
  const driver = new ProcessDriver({ dataDir });
  const first = await driver.start({ taskId: 'before', container: sleeper('app') });
  const oldSup = supervisorOf(first);
  process.kill(oldSup, 'SIGKILL');
  await eventually(() => !alive(oldSup), { what: 'the killed supervisor to be gone' });
  assert.ok(alive(Number(first.id)), 'a container outlives its supervisor');

  const second = await driver.start({ taskId: 'after', container: sleeper('app') });
  assert.notEqual(supervisorOf(second), oldSup, 'a new supervisor took over');
  assert.equal((await driver.inspect(second)).running, true);

  // With its supervisor gone, the orphan's exit status cannot be observed: reported as unknown.
  await driver.stop(first, 2000);
  const exit = await driver.wait(first);
  assert.equal(exit.unknown, true);
  await driver.stop(second, 2000);
  assert.equal((await driver.wait(second)).code, 143);
  for (const h of [first, second]) await driver.destroy(h);
  driver.close();
});

test('a container ends with its main process: what it left running is killed, even when it holds the output pipes', async () => {
  const dataDir = join(root, 'leftovers');
  const driver = new ProcessDriver({ dataDir });
  // The background sleep inherits stdout: a supervisor that waited for the pipes to close would never record the exit.
  const h = await driver.start({ taskId: 't', container: { name: 'app', image: 'host', command: ['/bin/sh', '-c', 'sleep 600 & echo $! > leftover.pid; echo bye'] } });
  const exit = await driver.wait(h);
  assert.equal(exit.code, 0);
  const pidFile = filesUnder(dataDir).find((f) => f.endsWith('leftover.pid'));
  assert.ok(pidFile, 'the container wrote the pid of what it left');
  const leftover = Number(readFileSync(pidFile, 'utf8'));
  await eventually(() => !alive(leftover), { what: 'the leftover sleep to be killed' });
  const sup = supervisorOf(h);
  await driver.destroy(h);
  driver.close();
  await eventually(() => !alive(sup), { what: 'the idle supervisor to leave' });
});

test('a supervisor whose state dir is deleted stops its containers and leaves', async () => {
  const dataDir = join(root, 'deleted');
  // Set before the driver starts its supervisor, which inherits it (a minute otherwise).
  process.env.BERTH_SUPERVISOR_ORPHANED_AFTER_MS = '400';
  try {
    const driver = new ProcessDriver({ dataDir });
    const h = await driver.start({ taskId: 't', container: sleeper('app') });
    const sup = supervisorOf(h);
    driver.close();
    // While the socket is there the container keeps running without any agent.
    assert.ok(alive(Number(h.id)));
    rmSync(dataDir, { recursive: true, force: true });
    await eventually(() => !alive(Number(h.id)), { what: 'the orphaned container to be stopped', timeoutMs: 15_000 });
    await eventually(() => !alive(sup), { what: 'the orphaned supervisor to leave', timeoutMs: 15_000 });
  } finally {
    delete process.env.BERTH_SUPERVISOR_ORPHANED_AFTER_MS;
  }
});
