import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { defaultDockerSocket } from '../../src/agent/drivers/dockerApi.js';
import { DockerDriver } from '../../src/agent/drivers/docker.js';
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
