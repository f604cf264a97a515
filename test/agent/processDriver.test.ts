import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { eventually } from '../helpers/fixture.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessDriver } from '../../src/agent/drivers/process.js';
import type { DriverHandle } from '../../src/agent/drivers/driver.js';
import { driverConformance } from './driverConformance.js';

const dataDir = mkdtempSync(join(tmpdir(), 'berth-proc-'));
const workdir = realpathSync(mkdtempSync(join(tmpdir(), 'berth-proc-wd-')));
const www = mkdtempSync(join(tmpdir(), 'berth-proc-www-'));

driverConformance('process', {
  factory: () => new ProcessDriver({ dataDir }),
  workloads: {
    shell: (script) => ({ image: 'host', entryPoint: ['/bin/sh', '-c', script] }),
    // busybox httpd on the host port the driver passes in PORT_<containerPort>.
    httpServer: (containerPort) => ({ image: 'host', entryPoint: ['/bin/sh', '-c', `echo ok > ${www}/index.html && exec busybox httpd -f -p $PORT_${containerPort} -h ${www}`] }),
    workdir,
  },
});

after(() => {
  for (const d of [dataDir, workdir, www]) rmSync(d, { recursive: true, force: true });
});

test('process driver: diagnose names a mapped host port nothing listens on, and the PORT variables', async () => {
  const driver = new ProcessDriver({ dataDir });
  const handles: DriverHandle[] = [];
  try {
    // Listens where it is told (PORT): nothing to say.
    const good = await driver.start({ taskId: 'diag', container: { name: 'good', image: 'host', portMappings: [{ containerPort: 8080, hostPort: 0 }], entryPoint: [process.execPath, '-e', "require('http').createServer().listen(process.env.PORT)"] } });
    handles.push(good);
    await eventually(async () => (await driver.diagnose(good)) === undefined, { what: 'the listener to be seen' });
    // Listens nowhere (or on its containerPort): said, with the port and where it was passed.
    const bad = await driver.start({ taskId: 'diag', container: { name: 'bad', image: 'host', portMappings: [{ containerPort: 8080, hostPort: 0 }, { containerPort: 9090, hostPort: 0 }], entryPoint: ['/bin/sh', '-c', 'exec sleep 600'] } });
    handles.push(bad);
    const port = bad.networkBindings[0]!.hostPort;
    assert.equal(await driver.diagnose(bad), `nothing listens on host port ${port}: the process driver passes the port in PORT / PORT_8080; this container may be listening on its containerPort 8080 instead`);
    // No mappings: nothing to say.
    const none = await driver.start({ taskId: 'diag', container: { name: 'none', image: 'host', entryPoint: ['/bin/sh', '-c', 'exec sleep 600'] } });
    handles.push(none);
    assert.equal(await driver.diagnose(none), undefined);
  } finally {
    for (const h of handles) await driver.destroy(h);
    await driver.cleanupTask('diag');
    driver.close();
  }
});
