/**
 * The driver conformance suite: the behaviour every Driver must show, run against real
 * processes / a real engine. A driver's test file calls `driverConformance(...)` with a factory
 * (a new instance stands for "the agent restarted") and a description of workloads in its world
 * (how to run a shell script, which port a server listens on, a directory for workingDirectory).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Driver, DriverHandle, DriverLogLine } from '../../src/agent/drivers/driver.js';
import { EPHEMERAL_MAX, EPHEMERAL_MIN } from '../../src/agent/drivers/ports.js';
import type { ContainerSpec } from '../../src/agent/types.js';
import { eventually } from '../helpers/fixture.js';

/** How to describe test workloads for a driver. */
export interface ConformanceWorkloads {
  /** A container spec (without name) running `script` with a POSIX shell. */
  shell(script: string): Omit<ContainerSpec, 'name'>;
  /** A container spec (without name) serving the body "ok" over HTTP at / on `containerPort` (published through the mapping). */
  httpServer(containerPort: number): Omit<ContainerSpec, 'name'>;
  /** An existing directory to use as workingDirectory. */
  workdir: string;
}

/** Options of the suite. */
export interface ConformanceOptions {
  /** A new driver instance (a second call stands for the agent after a restart). */
  factory: () => Driver;
  workloads: ConformanceWorkloads | (() => Promise<ConformanceWorkloads>);
  /** When set, every test is skipped with this message. */
  skip?: string;
}

/** Registers the conformance tests for one driver. */
export function driverConformance(label: string, opts: ConformanceOptions): void {
  describe(`driver conformance: ${label}`, { skip: opts.skip }, () => {
    let driver: Driver;
    let w: ConformanceWorkloads;
    const taskId = `conf-${label}-${process.pid}-${Date.now().toString(36)}`;
    const handles: DriverHandle[] = [];
    let n = 0;
    const start = async (spec: Omit<ContainerSpec, 'name'>, d: Driver = driver): Promise<DriverHandle> => {
      const h = await d.start({ taskId, taskArn: `arn:aws:ecs:us-east-1:000000000000:task/conf/${taskId}`, container: { ...spec, name: `c${++n}` } });
      handles.push(h);
      return h;
    };
    const collect = (h: DriverHandle, d: Driver = driver): { lines: DriverLogLine[]; ended: Promise<void> } => {
      const lines: DriverLogLine[] = [];
      let done!: () => void;
      const ended = new Promise<void>((r) => (done = r));
      d.logs(h, (l) => lines.push(l), { onEnd: done });
      return { lines, ended };
    };

    before(async () => {
      driver = opts.factory();
      w = typeof opts.workloads === 'function' ? await opts.workloads() : opts.workloads;
      const fp = await driver.fingerprint();
      assert.equal(fp.available, true, fp.detail);
      await driver.prepareTask(taskId);
    });
    after(async () => {
      for (const h of handles) await driver.destroy(h).catch(() => {});
      await driver.cleanupTask(taskId).catch(() => {});
      (driver as { close?: () => void }).close?.();
    });

    test('fingerprint reports the host', async () => {
      const fp = await driver.fingerprint();
      assert.equal(fp.name, driver.name);
      assert.ok(fp.cpus >= 1, `cpus ${fp.cpus}`);
      assert.ok(fp.memoryMiB > 64, `memory ${fp.memoryMiB}`);
    });

    test('wait reports exit codes', async () => {
      const [a, b] = [await start(w.shell('exit 0')), await start(w.shell('exit 42'))];
      assert.equal((await driver.wait(a)).code, 0);
      const eb = await driver.wait(b);
      assert.equal(eb.code, 42);
      assert.equal(eb.oomKilled, false);
      assert.ok(eb.finishedAt >= b.startedAt - 1000, 'finishedAt after start');
      assert.equal((await driver.inspect(b)).running, false);
    });

    test('stop sends SIGTERM that the process can honour', async () => {
      const h = await start(w.shell("trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done"));
      const logs = collect(h);
      await eventually(() => logs.lines.some((l) => l.line === 'ready'), { what: 'ready line' });
      assert.equal((await driver.inspect(h)).running, true);
      const t0 = Date.now();
      await driver.stop(h, 20_000);
      assert.ok(Date.now() - t0 < 10_000, 'stopped well before the SIGKILL timeout');
      assert.equal((await driver.wait(h)).code, 0);
      await logs.ended;
      assert.ok(logs.lines.some((l) => l.line === 'got-term'), JSON.stringify(logs.lines));
    });

    test('stop sends SIGKILL after the timeout to a process ignoring SIGTERM', async () => {
      const h = await start(w.shell("trap '' TERM; echo ready; while true; do sleep 0.1; done"));
      const logs = collect(h);
      await eventually(() => logs.lines.some((l) => l.line === 'ready'), { what: 'ready line' });
      const t0 = Date.now();
      await driver.stop(h, 1000);
      const took = Date.now() - t0;
      assert.ok(took >= 900, `stop returned after ${took} ms, before the timeout`);
      const e = await driver.wait(h);
      assert.equal(e.code, 137);
      assert.equal(e.oomKilled, false);
    });

    test('hostPort 0 gets a free port in 49153-65535 that serves', async () => {
      const h = await start({ ...w.httpServer(8080), portMappings: [{ containerPort: 8080, hostPort: 0 }] });
      assert.equal(h.networkBindings.length, 1);
      const b = h.networkBindings[0]!;
      assert.equal(b.containerPort, 8080);
      assert.ok(b.hostPort >= EPHEMERAL_MIN && b.hostPort <= EPHEMERAL_MAX, `host port ${b.hostPort}`);
      const body = await eventually(async () => {
        const r = await fetch(`http://127.0.0.1:${b.hostPort}/`);
        return r.ok ? (await r.text()).trim() : undefined;
      }, { what: `http on ${b.hostPort}` });
      assert.equal(body, 'ok');
      await driver.stop(h, 500);
    });

    test('environment, working directory and command are applied', async () => {
      const spec = w.shell('echo "foo=$FOO"; echo "bar=$BAR"; echo "pwd=$(pwd)"');
      const h = await start({ ...spec, environment: { ...spec.environment, FOO: 'hello world', BAR: 'x=y' }, workingDirectory: w.workdir });
      const logs = collect(h);
      assert.equal((await driver.wait(h)).code, 0);
      await logs.ended;
      const out = logs.lines.map((l) => l.line);
      assert.deepEqual(out, ['foo=hello world', 'bar=x=y', `pwd=${w.workdir}`]);
    });

    test('user and ulimits are applied', async () => {
      const h = await start({ ...w.shell('id -u; ulimit -S -n; ulimit -H -n'), user: '65534', ulimits: [{ name: 'nofile', softLimit: 100, hardLimit: 200 }] });
      const logs = collect(h);
      assert.equal((await driver.wait(h)).code, 0);
      await logs.ended;
      assert.deepEqual(logs.lines.map((l) => l.line), ['65534', '100', '200']);
    });

    test('logs are captured line by line with streams, timestamps and the last line before a crash', async () => {
      const t0 = Date.now();
      // The crashing shell runs as a child (a container's PID 1 cannot SIGKILL itself).
      const h = await start(w.shell(`sh -c "echo one; echo two >&2; echo three; printf 'last words'; kill -9 \\$\\$"; exit $?`));
      const logs = collect(h);
      const e = await driver.wait(h);
      assert.equal(e.code, 137);
      await logs.ended;
      // Order is kept within a stream (stdout and stderr are separate pipes, so not across them).
      assert.deepEqual(logs.lines.filter((l) => l.stream === 'stdout').map((l) => l.line), ['one', 'three', 'last words']);
      // (the parent shell may add its own "Killed" notice on stderr after the crash)
      assert.deepEqual(logs.lines.filter((l) => l.stream === 'stderr').map((l) => l.line).slice(0, 1), ['two']);
      for (const l of logs.lines) assert.ok(l.timestamp >= t0 - 2000 && l.timestamp <= Date.now() + 1000, `timestamp ${l.timestamp}`);
      // Reading again (after the exit) from the start gives the same lines.
      const again = collect(h);
      await again.ended;
      assert.deepEqual(again.lines, logs.lines);
    });

    test('recover after an agent restart: running stays, exited reports its exit code', async () => {
      const running = await start(w.shell('echo up; while true; do sleep 0.1; done'));
      const dying = await start(w.shell('sleep 0.3; exit 7'));
      const persisted = JSON.parse(JSON.stringify([running, dying])) as DriverHandle[];
      const restarted = opts.factory();
      try {
        const r1 = await restarted.recover(persisted[0]!);
        assert.equal(r1.status, 'running');
        assert.equal(r1.handle.id, running.id);
        assert.deepEqual(r1.handle.networkBindings, running.networkBindings);
        const r2 = await eventually(async () => {
          const r = await restarted.recover(persisted[1]!);
          return r.status === 'exited' ? r : undefined;
        }, { what: 'dying container to have exited' });
        assert.equal(r2.exit.code, 7);
        assert.ok(!r2.exit.unknown);
        // The recovered handle is fully usable: logs, stop, wait.
        const logs = collect(r1.handle, restarted);
        await eventually(() => logs.lines.some((l) => l.line === 'up'), { what: 'logs of the recovered container' });
        await restarted.stop(r1.handle, 1000);
        assert.ok([137, 143].includes((await restarted.wait(r1.handle)).code));
      } finally {
        (restarted as { close?: () => void }).close?.();
      }
    });

    test('destroy is idempotent and removes a running container', async () => {
      const h = await start(w.shell('while true; do sleep 0.1; done'));
      await driver.destroy(h);
      await driver.destroy(h);
      const r = await driver.recover(JSON.parse(JSON.stringify(h)));
      assert.equal(r.status, 'exited');
    });

    test('memory limit: allocating past it is detected as an OOM kill', async (t) => {
      const fp = await driver.fingerprint();
      if (!fp.capabilities.memoryLimit) {
        t.skip(`${driver.name} driver cannot enforce memory limits on this host (no writable memory cgroup)`);
        return;
      }
      const h = await start({ ...w.shell('head -c 200m /dev/zero | tail'), memory: 32 });
      const e = await driver.wait(h);
      assert.equal(e.oomKilled, true, `exit ${JSON.stringify(e)}`);
      assert.equal(e.code, 137);
      const ok = await start({ ...w.shell('head -c 4m /dev/zero | tail | wc -c'), memory: 64 });
      const e2 = await driver.wait(ok);
      assert.equal(e2.code, 0);
      assert.equal(e2.oomKilled, false);
    });

    test('exec runs a command in the container context', async () => {
      const spec = w.shell('while true; do sleep 0.1; done');
      const h = await start({ ...spec, environment: { ...spec.environment, MARK: 'm1' } });
      const ok = await driver.exec(h, ['/bin/sh', '-c', 'echo "mark=$MARK"'], 5000);
      assert.equal(ok.exitCode, 0);
      assert.equal(ok.output.trim(), 'mark=m1');
      const bad = await driver.exec(h, ['/bin/sh', '-c', 'exit 3'], 5000);
      assert.equal(bad.exitCode, 3);
      const slow = await driver.exec(h, ['/bin/sh', '-c', 'sleep 5'], 300);
      assert.equal(slow.timedOut, true);
      await driver.stop(h, 1000);
    });
  });
}
