#!/usr/bin/env node
// npm's `prepare` hook. After `npm install` / `npm ci` in a clone it builds Berth. npm also runs
// it when `npx berth` is typed inside the clone: npm exec then links the clone into its own cache
// as a package and prepares it, which would rebuild dist/ in place (about a minute, and under
// anything running from dist/ at that moment). That case keeps the build that is there.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.npm_command === 'exec' && existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) process.exit(0);
const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
