#!/usr/bin/env node
// The architecture check run by `npm test` (see docs/architecture.md):
// 1. dependency-cruiser with .dependency-cruiser.cjs: no import cycle, no import against the
//    layer order (protocol -> server -> services -> domain -> store; control and lb -> domain);
// 2. API handlers never reach the store through their request context (`ctx.platform.store`),
//    which no import rule can see: they go through the domain.
// Exits non-zero, listing every violation, when either finds one.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const cruise = spawnSync(process.execPath, ['node_modules/dependency-cruiser/bin/dependency-cruise.mjs', 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { stdio: 'inherit' });
let failed = cruise.status !== 0;

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}
const direct = [];
for (const file of walk('src/services')) {
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (/\bplatform\s*\.\s*store\b/.test(line)) direct.push(`${file}:${i + 1}: ${line.trim()}`);
    });
}
if (direct.length) {
  console.error(`\nAPI handlers touch the store directly (go through src/domain instead):\n  ${direct.join('\n  ')}`);
  failed = true;
}
if (!failed) console.log('architecture: no import cycle, no import against the layers, handlers reach the store only through the domain');
process.exit(failed ? 1 : 0);
