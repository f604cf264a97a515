// .dockerignore as docker build reads it: the examples of Docker's documentation, exceptions and
// their order, parent directories, classes and escapes, the files always sent, and the build
// context archive leaving excluded paths out (excluded directories walked only for exceptions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isExcluded, parseDockerignore } from '../../src/cli/compose/dockerignore.js';
import { tarDirectory } from '../../src/cli/compose/tar.js';

const excluded = (ignore: string, paths: string[], keep: string[] = []) => {
  const p = parseDockerignore(ignore, keep);
  return paths.filter((x) => isExcluded(p, x));
};

test('the documentation\'s examples: *, ?, ** and comments', () => {
  const ignore = '# comment\n*/temp*\n*/*/temp*\ntemp?\n';
  assert.deepEqual(excluded(ignore, ['somedir/temporary.txt', 'somedir/temp', 'somedir/subdir/temporary.txt', 'tempa', 'tempb', 'temp.txt', 'a/b/c/temp', '# comment']), ['somedir/temporary.txt', 'somedir/temp', 'somedir/subdir/temporary.txt', 'tempa', 'tempb']);
  assert.deepEqual(excluded('**/*.go\n', ['a.go', 'x/y/a.go', 'x/a.gox']), ['a.go', 'x/y/a.go']);
  assert.deepEqual(excluded('a/**/b\n', ['a/b', 'a/x/b', 'a/x/y/b', 'ab', 'a/xb']), ['a/b', 'a/x/b', 'a/x/y/b']);
  assert.deepEqual(excluded('logs/**\n', ['logs/a', 'logs/x/y', 'logsx']), ['logs/a', 'logs/x/y']);
  assert.deepEqual(excluded('  /build/  \n./tmp\n', ['build', 'build/out.o', 'tmp/x', 'src/build']), ['build', 'build/out.o', 'tmp/x'], 'trimmed, cleaned, leading / dropped; a directory excludes what is in it');
});

test('exceptions: the last matching pattern wins', () => {
  assert.deepEqual(excluded('*.md\n!README*.md\nREADME-secret.md\n', ['CHANGES.md', 'README.md', 'README-x.md', 'README-secret.md']), ['CHANGES.md', 'README-secret.md']);
  assert.deepEqual(excluded('docs\n!docs/keep.md\n', ['docs/a.md', 'docs/keep.md', 'docs']), ['docs/a.md', 'docs']);
  assert.deepEqual(excluded('*\n', ['Dockerfile', '.dockerignore', 'src/x'], ['.dockerignore', 'Dockerfile']), ['src/x'], 'the Dockerfile and .dockerignore are always sent');
});

test('classes, escapes; a pathological pattern is no slower than its length', () => {
  assert.deepEqual(excluded('[a-c].txt\n', ['a.txt', 'c.txt', 'd.txt', '/.txt']), ['a.txt', 'c.txt']);
  assert.deepEqual(excluded('[^a].txt\n', ['a.txt', 'b.txt']), ['b.txt']);
  assert.deepEqual(excluded('\\*.txt\n', ['*.txt', 'a.txt']), ['*.txt']);
  assert.deepEqual(excluded('*a*a*a*a*a*a*a*a*a*a*a*b\n', ['a'.repeat(5000), `${'a'.repeat(5000)}b`]), [`${'a'.repeat(5000)}b`]);
  assert.throws(() => parseDockerignore('[abc\n'), /unterminated \[/);
});

test('the build context leaves out what .dockerignore excludes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-dockerignore-'));
  try {
    mkdirSync(join(dir, 'node_modules', 'x'), { recursive: true });
    mkdirSync(join(dir, 'docs'));
    for (const f of ['Dockerfile', '.dockerignore', 'app.js', 'secret.env', 'node_modules/x/i.js', 'docs/a.md', 'docs/keep.md']) writeFileSync(join(dir, f), f);
    const ignore = parseDockerignore('node_modules\n*.env\ndocs\n!docs/keep.md\nDockerfile\n', ['.dockerignore', 'Dockerfile']);
    const archive = tarDirectory(dir, [], ignore);
    const names: string[] = [];
    for (let off = 0; off + 512 <= archive.length; ) {
      const h = archive.subarray(off, off + 512);
      if (h.every((b) => b === 0)) break;
      const field = (a: number, n: number) => h.subarray(a, a + n).toString('utf8').replace(/\0.*$/s, '');
      const prefix = field(345, 155);
      names.push(prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
      const size = parseInt(field(124, 12), 8) || 0;
      off += 512 + Math.ceil(size / 512) * 512;
    }
    assert.deepEqual(names.sort(), ['.dockerignore', 'Dockerfile', 'app.js', 'docs/keep.md']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
