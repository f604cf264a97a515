#!/usr/bin/env node
// Builds the web console's bundle (src/console/web/ -> dist/console/): one minified script and
// one style sheet, named by their content hash, and manifest.json naming them for the server.
// Type-checks the client first (src/console/web/tsconfig.json). No network: esbuild and Preact
// are local dependencies.
import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

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
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir,
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const script = outputs.find((n) => n.endsWith('.js'));
const style = outputs.find((n) => n.endsWith('.css'));
writeFileSync(join(outdir, 'manifest.json'), JSON.stringify({ script, style }) + '\n');
console.log(`console bundle: ${outputs.join(', ')}`);
