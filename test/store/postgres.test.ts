// The PostgreSQL store against the same conformance suite, on a real PostgreSQL server, plus
// what only a shared store shows: a second replica sees and watches the first one's writes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresStore } from '../../src/store/postgres.js';
import { storeConformance } from './conformance.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { eventually } from '../helpers/fixture.js';

let pgServer: TestPostgres | undefined;
let why = '';
let n = 0;

before(async () => {
  const r = await startTestPostgres();
  if (typeof r === 'string') why = r;
  else pgServer = r;
});
after(() => pgServer?.stop());

const open = async () => {
  if (!pgServer) throw new Error(why);
  return PostgresStore.open(pgServer.url, `t${process.pid}_${n++}`);
};

storeConformance('postgres', open);

test('postgres: two replicas on one database see each other’s writes, in order, through watch', async () => {
  if (!pgServer) throw new Error(why);
  const schema = `shared${process.pid}`;
  const a = await PostgresStore.open(pgServer.url, schema);
  const b = await PostgresStore.open(pgServer.url, schema);
  try {
    const seen: string[] = [];
    const stop = b.watch(0, (c) => seen.push(`${c.rev}:${c.key}`));
    await a.commit([{ kind: 'k', key: 'one', value: 1 }]);
    await b.commit([{ kind: 'k', key: 'two', value: 2 }]);
    await a.commit([{ kind: 'k', key: 'three', value: 3 }]);
    await eventually(() => seen.length === 3, { what: 'three changes through watch' });
    assert.deepEqual(seen, ['1:one', '2:two', '3:three']);
    assert.equal((await b.get('k', 'one'))?.value, 1);
    // Optimistic concurrency holds across replicas.
    const rec = await a.get('k', 'one');
    await b.commit([{ kind: 'k', key: 'one', value: 'b', expectRev: rec!.rev }]);
    await assert.rejects(a.commit([{ kind: 'k', key: 'one', value: 'a', expectRev: rec!.rev }]), /conflict/);
    stop();
  } finally {
    await a.close();
    await b.close();
  }
});
