// The SQLite store against the conformance suite, plus what only a file-backed store can show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite.js';
import { storeConformance } from './conformance.js';

const dirs: string[] = [];
process.on('exit', () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDb(): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-store-'));
  dirs.push(d);
  return join(d, 'state.db');
}

storeConformance('sqlite', async () => new SqliteStore(tempDb()));

test('sqlite: state and revision survive reopening the file', async () => {
  const path = tempDb();
  const a = new SqliteStore(path);
  await a.commit([{ kind: 'k', key: 'x', value: { kept: true } }]);
  await a.commit([{ kind: 'k', key: 'y', value: 2 }]);
  await a.close();
  const b = new SqliteStore(path);
  assert.deepEqual((await b.get('k', 'x'))?.value, { kept: true });
  assert.equal(await b.revision(), 2);
  assert.equal(await b.commit([{ kind: 'k', key: 'z', value: 3 }]), 3);
  await b.close();
});
