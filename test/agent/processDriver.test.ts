import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { after } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessDriver } from '../../src/agent/drivers/process.js';
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
