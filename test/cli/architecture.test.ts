// The CLI's client commands are clients like any other: they reach Berth only over the network
// through src/client (SigV4 HTTP), never by importing the server side, so `berth ps` works
// against any Berth and starts without loading the server. Only the `up`/`agent` module
// (serve.ts) may start anything; main.ts loads it lazily.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENDPOINT_FILE } from '../../src/berth.js';
import { ENDPOINT_FILE_NAME } from '../../src/cli/connect.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVER_SIDE = /^src\/(server|services|domain|control|lb|store)\/|^src\/berth\.ts$/;

/** The modules a source file imports at run time (type-only imports left out), as repo paths. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  const re = /^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const spec = m[1]!.replace(/\.js$/, '.ts');
    out.push(relative(ROOT, resolve(ROOT, dirname(file), spec)));
  }
  return out;
}

/** Every module reachable from `file` through static run-time imports. */
function closure(file: string): Set<string> {
  const seen = new Set<string>();
  const visit = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const next of runtimeImports(f)) visit(next);
  };
  visit(file);
  return seen;
}

test('client commands never import the server side; main.ts reaches serve.ts only lazily', () => {
  const cliFiles = readdirSync(join(ROOT, 'src/cli')).filter((f) => f.endsWith('.ts') && f !== 'serve.ts');
  assert.ok(cliFiles.includes('main.ts') && cliFiles.includes('deploy.ts'));
  for (const f of cliFiles) {
    const reached = [...closure(`src/cli/${f}`)];
    const bad = reached.filter((m) => SERVER_SIDE.test(m) || m === 'src/cli/serve.ts');
    assert.deepEqual(bad, [], `src/cli/${f} reaches ${bad.join(', ')}`);
    // The network is reached through src/client only.
    for (const m of reached.filter((x) => x.startsWith('src/cli/'))) {
      assert.doesNotMatch(readFileSync(join(ROOT, m), 'utf8'), /from 'node:(http|https|net)'/, `${m} talks HTTP only through src/client`);
    }
  }
  assert.match(readFileSync(join(ROOT, 'src/cli/main.ts'), 'utf8'), /await import\('\.\/serve\.js'\)/);
});

test('the CLI reads the endpoint file berth up writes', () => {
  assert.equal(ENDPOINT_FILE_NAME, ENDPOINT_FILE);
});
