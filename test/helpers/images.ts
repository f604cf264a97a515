/**
 * Test images built locally (no network): `berth-test/busybox:latest` is a FROM-scratch image
 * holding the host's static busybox with its applets installed, /www/index.html ("ok"), /tmp and
 * an /etc/passwd with root and nobody. Built once per engine through the Engine API's build
 * endpoint; safe to call concurrently (from many tests or processes).
 */
import { readFileSync } from 'node:fs';
import { DockerEngine } from '../../src/agent/drivers/dockerApi.js';

export const BUSYBOX_IMAGE = 'berth-test/busybox:latest';

/** A minimal ustar archive writer (regular files only). */
export function tarFiles(files: Array<{ name: string; data: Buffer | string; mode?: number }>): Buffer {
  const blocks: Buffer[] = [];
  for (const f of files) {
    const data = Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data);
    const h = Buffer.alloc(512);
    h.write(f.name, 0, 100, 'utf8');
    h.write(((f.mode ?? 0o644).toString(8).padStart(7, '0')) + '\0', 100, 'ascii');
    h.write('0000000\0', 108, 'ascii');
    h.write('0000000\0', 116, 'ascii');
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
    h.write(Math.floor(Date.now() / 1000).toString(8).padStart(11, '0') + '\0', 136, 'ascii');
    h.write('        ', 148, 'ascii');
    h.write('0', 156, 'ascii');
    h.write('ustar\0', 257, 'ascii');
    h.write('00', 263, 'ascii');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const built = new Map<string, Promise<string>>();

/** Builds (once) and returns the busybox test image's name. */
export function ensureBusyboxImage(engine = new DockerEngine()): Promise<string> {
  let p = built.get(engine.socketPath);
  if (!p) {
    p = (async () => {
      if (await engine.callOr404('GET', `/images/${encodeURIComponent(BUSYBOX_IMAGE)}/json`)) return BUSYBOX_IMAGE;
      const dockerfile = [
        'FROM scratch',
        'COPY busybox /bin/busybox',
        'COPY passwd group /etc/',
        'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /tmp /www && chmod 1777 /tmp && echo ok > /www/index.html"]',
        'CMD ["/bin/sh"]',
        '',
      ].join('\n');
      const context = tarFiles([
        { name: 'Dockerfile', data: dockerfile },
        { name: 'busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
        { name: 'passwd', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' },
        { name: 'group', data: 'root:x:0:\nnogroup:x:65534:\n' },
      ]);
      await engine.jsonStream({ method: 'POST', path: `/build?t=${encodeURIComponent(BUSYBOX_IMAGE)}&rm=1&forcerm=1&networkmode=none`, body: context, timeoutMs: 120_000 });
      return BUSYBOX_IMAGE;
    })();
    built.set(engine.socketPath, p);
    p.catch(() => built.delete(engine.socketPath));
  }
  return p;
}

export const HTTPD_IMAGE = 'berth-test/httpd:2';
const builtHttpd = new Map<string, Promise<string>>();

/**
 * Builds (once) and returns `berth-test/httpd:2`: the busybox test image whose command serves
 * /www (index.html "ok") with busybox httpd on port 80, for templates that give no command (an
 * `ImageUrl` parameter, as nginx's image would be used). A shell runs httpd and exits on SIGTERM,
 * as nginx's image does (busybox httpd as PID 1 ignores it, so every stop would wait out ECS's
 * 30 s stop timeout before the SIGKILL).
 */
export function ensureHttpdImage(engine = new DockerEngine()): Promise<string> {
  let p = builtHttpd.get(engine.socketPath);
  if (!p) {
    p = (async () => {
      const base = await ensureBusyboxImage(engine);
      if (await engine.callOr404('GET', `/images/${encodeURIComponent(HTTPD_IMAGE)}/json`)) return HTTPD_IMAGE;
      const dockerfile = `FROM ${base}\nCMD ["/bin/sh", "-c", "trap 'exit 0' TERM; /bin/httpd -f -p 80 -h /www & wait"]\n`;
      await engine.jsonStream({ method: 'POST', path: `/build?t=${encodeURIComponent(HTTPD_IMAGE)}&rm=1&forcerm=1&networkmode=none`, body: tarFiles([{ name: 'Dockerfile', data: dockerfile }]), timeoutMs: 120_000 });
      return HTTPD_IMAGE;
    })();
    builtHttpd.set(engine.socketPath, p);
    p.catch(() => builtHttpd.delete(engine.socketPath));
  }
  return p;
}
