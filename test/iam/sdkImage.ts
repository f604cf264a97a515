/**
 * A container image that runs the AWS SDK for JavaScript v3, built without the internet: FROM
 * scratch, this machine's `node` with the shared libraries it loads (at the same paths), and an
 * esbuild bundle of a script using @aws-sdk/client-ssm. Tagged by the hash of its content, so
 * concurrent builds of the same script agree; built through the Engine API.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { DockerEngine } from '../../src/agent/drivers/dockerApi.js';
import { tarFiles } from '../helpers/images.js';

/** The repository root (the tests run from dist/test/iam). */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The files the host's node needs: itself and every library `ldd` names, with the loader. */
function nodeFiles(): Array<{ name: string; data: Buffer; mode: number }> {
  const node = process.execPath;
  const ldd = spawnSync('ldd', [node], { encoding: 'utf8' });
  if (ldd.status !== 0) throw new Error(`ldd ${node} failed: ${ldd.stderr}`);
  const libs = new Set<string>();
  for (const line of ldd.stdout.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    if (arrow) libs.add(arrow[1]!);
    else if (/^\s*\/\S+/.test(line)) libs.add(line.trim().split(/\s+/)[0]!);
  }
  return [
    { name: 'usr/local/bin/node', data: readFileSync(node), mode: 0o755 },
    ...[...libs].map((l) => ({ name: l.slice(1), data: readFileSync(l), mode: 0o755 })),
  ];
}

/** Bundles `source` (CommonJS, may require @aws-sdk/*) into one file node runs as is. */
export async function bundle(source: string): Promise<string> {
  const out = await build({ stdin: { contents: source, resolveDir: REPO_ROOT, loader: 'js' }, bundle: true, platform: 'node', target: 'node20', format: 'cjs', write: false, logLevel: 'silent' });
  return out.outputFiles[0]!.text;
}

const built = new Map<string, Promise<string>>();

/** Builds (once per content) an image whose command runs `source`; returns its name. */
export function ensureSdkImage(engine: DockerEngine, source: string): Promise<string> {
  let p = built.get(source);
  if (!p) {
    p = (async () => {
      const script = await bundle(source);
      const files = nodeFiles();
      const hash = createHash('sha256').update(script);
      for (const f of files) hash.update(f.name).update(f.data);
      const name = `berth-test/node-sdk:${hash.digest('hex').slice(0, 16)}`;
      if (await engine.callOr404('GET', `/images/${encodeURIComponent(name)}/json`)) return name;
      const dockerfile = ['FROM scratch', 'COPY . /', 'ENV PATH=/usr/local/bin', 'USER 65534', 'CMD ["node", "/app/main.js"]', ''].join('\n');
      const context = tarFiles([{ name: 'Dockerfile', data: dockerfile }, { name: 'app/main.js', data: script }, ...files]);
      await engine.jsonStream({ method: 'POST', path: `/build?t=${encodeURIComponent(name)}&rm=1&forcerm=1&networkmode=none`, body: context, timeoutMs: 180_000 });
      return name;
    })();
    built.set(source, p);
    p.catch(() => built.delete(source));
  }
  return p;
}
