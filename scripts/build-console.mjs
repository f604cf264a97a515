#!/usr/bin/env node
// Builds the web console's bundle (src/console/web/ -> dist/console/): an entry script, the
// chunks of the pages loaded on demand (code splitting), one style sheet, each named by its
// content hash, each precompressed beside it (name.br at brotli 11, name.gz at gzip 9), and
// manifest.json naming the entry, the style and the chunks the entry imports (preloaded by the
// page). Type-checks the client first (src/console/web/tsconfig.json). No network: esbuild and
// Preact are local dependencies.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { brotliCompressSync, gzipSync, constants as zlib } from 'node:zlib';

const root = new URL('..', import.meta.url).pathname;
const outdir = join(root, 'dist', 'console');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const check = spawnSync(process.execPath, [tsc, '-p', join(root, 'src/console/web/tsconfig.json')], { stdio: 'inherit' });
if (check.status !== 0) process.exit(check.status ?? 1);
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const result = await build({
  entryPoints: [join(root, 'src/console/web/main.tsx')],
  bundle: true,
  splitting: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});
const outputs = Object.entries(result.metafile.outputs).filter(([p]) => !p.endsWith('.map'));
const [entryPath, entry] = outputs.find(([, o]) => o.entryPoint);
const script = basename(entryPath);
const style = entry.cssBundle ? basename(entry.cssBundle) : outputs.map(([p]) => basename(p)).find((n) => n.endsWith('.css'));
const preload = entry.imports.filter((i) => i.kind === 'import-statement').map((i) => basename(i.path));
for (const [p] of outputs) {
  const body = readFileSync(p);
  writeFileSync(`${p}.br`, brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }));
  writeFileSync(`${p}.gz`, gzipSync(body, { level: 9 }));
}
writeFileSync(join(outdir, 'manifest.json'), JSON.stringify({ script, style, preload }) + '\n');
console.log(`console bundle: ${outputs.map(([p, o]) => `${basename(p)} (${o.bytes} B)`).join(', ')}`);
