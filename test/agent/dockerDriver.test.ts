import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { defaultDockerSocket } from '../../src/agent/drivers/dockerApi.js';
import { DockerDriver } from '../../src/agent/drivers/docker.js';
import { taskVolumeName } from '../../src/agent/drivers/dockerVolumes.js';
import { readOomKills } from '../../src/agent/drivers/processSupervisor.js';
import { eventually } from '../helpers/fixture.js';
import { ensureBusyboxImage } from '../helpers/images.js';
import { driverConformance } from './driverConformance.js';

const socket = defaultDockerSocket();
// Skipped only when there is no engine socket at all; a socket that does not answer fails the suite.
const skip = existsSync(socket) ? undefined : `docker engine socket ${socket} is absent (start dockerd to run these tests)`;

driverConformance('docker', {
  factory: () => new DockerDriver(),
  workloads: async () => {
    const image = await ensureBusyboxImage();
    return {
      shell: (script) => ({ image, entryPoint: ['/bin/sh', '-c', script] }),
      httpServer: (containerPort) => ({ image, entryPoint: ['/bin/httpd', '-f', '-p', String(containerPort), '-h', '/www'] }),
      workdir: '/tmp',
    };
  },
  skip,
  // dockerd's json-file driver splits lines at 16 KiB and stores each part as a JSON string.
  cutsLongLines: 16 * 1024,
});

describe('docker driver specifics', { skip }, () => {
  test('OOM kills are counted from the container cgroup found via /proc/<pid>/cgroup', async () => {
    const image = await ensureBusyboxImage();
    const driver = new DockerDriver();
    const taskId = `oomcg${process.pid}${Date.now().toString(36)}`;
    try {
      // The allocating child (one process, so it is the one the kernel picks) is OOM-killed;
      // the container's shell survives and reports it.
      const h = await driver.start({ taskId, container: { name: 'c', image, memory: 32, entryPoint: ['/bin/sh', '-c', 'dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; echo "child-exit=$?"; while true; do sleep 1; done'] } });
      const oomFile = h.state.oomFile as string | undefined;
      assert.ok(oomFile, 'cgroup memory events file found for the container');
      const lines: string[] = [];
      const sub = driver.logs(h, (l) => lines.push(l.line));
      await eventually(() => lines.includes('child-exit=137'), { what: 'the child to be OOM-killed', timeoutMs: 30_000 });
      sub.close();
      assert.ok(readOomKills(oomFile) >= 1, `oom_kill counter in ${oomFile}`);
      assert.equal((await driver.inspect(h)).running, true);
      await driver.destroy(h);
    } finally {
      await driver.cleanupTask(taskId);
      driver.close();
    }
  });
});

describe('docker driver volumes', { skip }, () => {
  test('a shared volume outlives its tasks (task 2 reads what task 1 wrote); task-scoped and empty volumes go with their task', async () => {
    const image = await ensureBusyboxImage();
    const driver = new DockerDriver();
    const engine = driver.engine;
    const stamp = `${process.pid}${Date.now().toString(36)}`;
    const [task1, task2] = [`vol1${stamp}`, `vol2${stamp}`];
    const sharedName = `berth-test-shared-${stamp}`;
    const shared = { name: sharedName, kind: 'docker' as const, docker: { scope: 'shared' as const, autoprovision: true, driver: 'local', labels: { purpose: 'conformance' } } };
    const scoped = { name: 'scratch', kind: 'docker' as const, docker: { scope: 'task' as const, driver: 'local' } };
    const empty = { name: 'empty', kind: 'task' as const };
    const volumeExists = async (name: string) => !!(await engine.callOr404('GET', `/volumes/${encodeURIComponent(name)}`));
    try {
      const run = async (taskId: string, script: string) => {
        const h = await driver.start({
          taskId,
          container: { name: 'c', image, entryPoint: ['/bin/sh', '-c', script], mounts: [{ volume: shared, containerPath: '/shared' }, { volume: scoped, containerPath: '/scoped' }, { volume: empty, containerPath: '/empty' }] },
        });
        const lines: string[] = [];
        let ended!: () => void;
        const done = new Promise<void>((r) => (ended = r));
        driver.logs(h, (l) => lines.push(l.line), { onEnd: ended });
        const exit = await driver.wait(h);
        await done;
        return { exit, lines };
      };
      const first = await run(task1, 'echo one > /shared/note && echo tmp > /scoped/x && echo e > /empty/y');
      assert.equal(first.exit.code, 0);
      const made: { Labels?: Record<string, string> } = await engine.call('GET', `/volumes/${encodeURIComponent(sharedName)}`);
      assert.equal(made.Labels?.purpose, 'conformance', 'the volume carries its labels');
      assert.equal(await volumeExists(taskVolumeName(task1, 'scratch')), true);
      await driver.cleanupTask(task1);
      assert.equal(await volumeExists(taskVolumeName(task1, 'scratch')), false, 'the task-scoped volume went with its task');
      assert.equal(await volumeExists(taskVolumeName(task1, 'empty')), false, 'the empty volume went with its task');
      assert.equal(await volumeExists(sharedName), true, 'the shared volume stays');
      const second = await run(task2, 'cat /shared/note; ls /scoped | wc -l');
      assert.equal(second.exit.code, 0);
      assert.deepEqual(second.lines, ['one', '0'], 'task 2 reads task 1\'s shared data, and starts with an empty task-scoped volume');
      await driver.cleanupTask(task2);
      // A shared volume that does not exist and may not be created: the container cannot start.
      const missing = { ...shared, name: `berth-test-missing-${stamp}`, docker: { ...shared.docker, autoprovision: false } };
      await assert.rejects(driver.start({ taskId: task2, container: { name: 'c', image, entryPoint: ['/bin/true'], mounts: [{ volume: missing, containerPath: '/m' }] } }), /does not exist.*autoprovision false/);
    } finally {
      await driver.cleanupTask(task1).catch(() => {});
      await driver.cleanupTask(task2).catch(() => {});
      await engine.call('DELETE', `/volumes/${encodeURIComponent(sharedName)}`).catch(() => {});
      driver.close();
    }
  });
});
