/**
 * The driver conformance suite: the behaviour every Driver must show, run against real
 * processes / a real engine. A driver's test file calls `driverConformance(...)` with a factory
 * (a new instance stands for "the agent restarted") and a description of workloads in its world
 * (how to run a shell script, which port a server listens on, a directory for workingDirectory).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  /**
   * The runtime stores a line longer than this many bytes as several messages and keeps a
   * character cut at their boundary as U+FFFD (dockerd's json-file log driver, at 16 KiB): long
   * lines are then checked for everything but those characters.
   */
  cutsLongLines?: number;
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
    const collect = (h: DriverHandle, d: Driver = driver, after?: string): { lines: DriverLogLine[]; ended: Promise<void>; close: () => void } => {
      const lines: DriverLogLine[] = [];
      let done!: () => void;
      const ended = new Promise<void>((r) => (done = r));
      const sub = d.logs(h, (l) => lines.push(l), { after, onEnd: done });
      return { lines, ended, close: () => sub.close() };
    };
    /** What a line is, cursor aside. */
    const text = (l: DriverLogLine) => `${l.stream}:${l.line}`;

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

    test('log cursors: after any line, exactly the lines that follow it, same-millisecond lines included, from any driver instance', async () => {
      // A burst on both streams: many lines share a millisecond.
      const h = await start(w.shell('i=0; while [ $i -lt 400 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; printf "no newline"'));
      const all = collect(h);
      assert.equal((await driver.wait(h)).code, 0);
      await all.ended;
      const lines = all.lines;
      assert.equal(lines.length, 801, `got ${lines.length} lines`);
      assert.deepEqual(lines.filter((l) => l.stream === 'stdout').map((l) => l.line), [...Array.from({ length: 400 }, (_, i) => `out ${i}`), 'no newline']);
      assert.deepEqual(lines.filter((l) => l.stream === 'stderr').map((l) => l.line), Array.from({ length: 400 }, (_, i) => `err ${i}`));
      const sameMs = lines.filter((l, i) => i > 0 && l.stream === lines[i - 1]!.stream && l.timestamp === lines[i - 1]!.timestamp).length;
      const sameMsAcross = lines.filter((l, i) => i > 0 && l.timestamp === lines[i - 1]!.timestamp).length;
      assert.ok(sameMs + sameMsAcross > 0, 'the burst has lines of the same millisecond (else this test shows nothing about them)');
      for (const l of lines) assert.ok(typeof l.cursor === 'string' && l.cursor.length > 0 && l.cursor.length < 200 && /^[\x21-\x7e]+$/.test(l.cursor), `cursor ${JSON.stringify(l.cursor)}`);
      // Resume after a sample of lines (the first, the last, and lines that share their millisecond
      // with the next), each time from a new driver instance as after an agent restart.
      const picks = new Set([0, 1, 399, 400, 799, 800]);
      for (let i = 0; i < lines.length - 1 && picks.size < 16; i++) if (lines[i]!.timestamp === lines[i + 1]!.timestamp && i % 7 === 0) picks.add(i);
      const restarted = opts.factory();
      try {
        for (const i of [...picks].sort((a, b) => a - b)) {
          const again = collect(h, restarted, lines[i]!.cursor);
          await again.ended;
          assert.deepEqual(again.lines.map(text), lines.slice(i + 1).map(text), `resumed after line ${i}`);
          assert.deepEqual(again.lines.map((l) => l.cursor), lines.slice(i + 1).map((l) => l.cursor), `the same cursors after line ${i}`);
        }
        // A cursor that is not one of the driver's reads from the first line.
        const bogus = collect(h, restarted, 'not a cursor');
        await bogus.ended;
        assert.deepEqual(bogus.lines.map(text), lines.map(text));
      } finally {
        (restarted as { close?: () => void }).close?.();
      }
    });

    test('log cursors: following a running container, stopping, and resuming from the last cursor loses and repeats nothing', async () => {
      const h = await start(w.shell('i=0; while [ $i -lt 60 ]; do echo "line $i"; i=$((i+1)); sleep 0.05; done'));
      const first = collect(h);
      await eventually(() => first.lines.length >= 10, { what: 'ten lines' });
      first.close();
      const upTo = first.lines.slice();
      const restarted = opts.factory();
      try {
        const rest = collect(h, restarted, upTo[upTo.length - 1]!.cursor);
        await rest.ended;
        assert.deepEqual([...upTo, ...rest.lines].map((l) => l.line), Array.from({ length: 60 }, (_, i) => `line ${i}`));
      } finally {
        (restarted as { close?: () => void }).close?.();
      }
    });

    test('logs: a quiet spell is not the end of the output', async () => {
      // Longer than an idle HTTP connection lives in Node's global agent (5 s).
      const h = await start(w.shell('echo before; sleep 6; echo after; sleep 0.5'));
      const logs = collect(h);
      await logs.ended;
      assert.deepEqual(logs.lines.map((l) => l.line), ['before', 'after']);
    });

    test('logs: long lines of multi-byte UTF-8 arrive whole, whatever the read or message boundaries', async () => {
      // 'x' then 2^16 two-byte characters (past a 64 KiB read and several 16 KiB engine messages, at odd offsets), then three- and four-byte ones.
      const h = await start(w.shell('a=é; b=€; c=🙂; i=0; while [ $i -lt 16 ]; do a="$a$a"; i=$((i+1)); done; i=0; while [ $i -lt 14 ]; do b="$b$b"; c="$c$c"; i=$((i+1)); done; echo "x$a"; echo "ünïcødé 🙂"; echo "$b$c"; echo "x$c"; echo "xy$c"; echo end'));
      const logs = collect(h);
      assert.equal((await driver.wait(h)).code, 0);
      await logs.ended;
      // (several long lines at different offsets, so that some read boundary cuts a character whatever the reads' alignment)
      const [long1, short, long2, long3, long4, end] = logs.lines.map((l) => l.line);
      assert.equal(logs.lines.length, 6, 'each long line arrives as one line');
      assert.equal(short, 'ünïcødé 🙂');
      assert.equal(end, 'end');
      const expected = [`x${'é'.repeat(65536)}`, `${'€'.repeat(16384)}${'🙂'.repeat(16384)}`, `x${'🙂'.repeat(16384)}`, `xy${'🙂'.repeat(16384)}`];
      const got = [long1!, long2!, long3!, long4!];
      if (opts.cutsLongLines === undefined) {
        for (const [i, want] of expected.entries()) assert.ok(got[i] === want, `long line ${i + 1}, whole (${(got[i]!.match(/\ufffd/g) ?? []).length} replacement characters)`);
      } else {
        // The runtime itself stores a character cut by its own message boundary as U+FFFD: only those may differ.
        for (const [i, want] of expected.entries()) {
          const got_ = got[i]!;
          const cuts = Math.ceil(Buffer.byteLength(want) / opts.cutsLongLines);
          const kept = got_.replace(/\ufffd/g, '');
          assert.ok([...kept].length >= [...want].length - cuts && [...kept].every((ch) => want.includes(ch)), `long line ${i + 1} of ${got_.length} characters (${got_.length - kept.length} replacement characters)`);
          assert.equal(got_.slice(0, 100), want.slice(0, 100));
        }
      }
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

    test('host volumes: a driver that mounts binds the host path (read-only honoured); one that cannot refuses to start', async () => {
      const fp = await driver.fingerprint();
      const dir = mkdtempSync(join(tmpdir(), 'berth-conf-mount-'));
      try {
        writeFileSync(join(dir, 'given'), 'from-host\n');
        const volume = { name: 'data', kind: 'bind' as const, sourcePath: dir };
        const script = 'cat /mnt/data/given && echo from-task > /mnt/data/written';
        if (!fp.capabilities.mounts) {
          await assert.rejects(start({ ...w.shell(script), mounts: [{ volume, containerPath: '/mnt/data' }] }), /cannot mount volumes/);
          return;
        }
        const rw = await start({ ...w.shell(script), mounts: [{ volume, containerPath: '/mnt/data' }] });
        assert.equal((await driver.wait(rw)).code, 0);
        assert.equal(readFileSync(join(dir, 'written'), 'utf8'), 'from-task\n', 'the file the task wrote is on the host');
        const ro = await start({ ...w.shell('cat /mnt/data/given; echo again > /mnt/data/written'), mounts: [{ volume, containerPath: '/mnt/data', readOnly: true }] });
        const logs = collect(ro);
        assert.notEqual((await driver.wait(ro)).code, 0, 'writing to a read-only mount fails');
        await logs.ended;
        assert.ok(logs.lines.some((l) => l.line === 'from-host'), 'the read-only mount is readable');
        assert.equal(readFileSync(join(dir, 'written'), 'utf8'), 'from-task\n', 'the host file is unchanged');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
