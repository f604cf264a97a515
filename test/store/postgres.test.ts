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

test('postgres: replicas starting at the same moment on an empty database all come up (migrations under a lock)', async () => {
  if (!pgServer) throw new Error(why);
  for (let round = 0; round < 3; round++) {
    const schema = `together${process.pid}_${round}`;
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresStore.open(pgServer!.url, schema)));
    try {
      await stores[0]!.commit([{ kind: 'k', key: 'a', value: 1 }]);
      for (const s of stores) assert.equal((await s.get('k', 'a'))?.value, 1);
    } finally {
      for (const s of stores) await s.close();
    }
  }
});

test('postgres: a replica refuses a database whose schema a newer Berth made', async () => {
  if (!pgServer) throw new Error(why);
  const schema = `newer${process.pid}`;
  const s = await PostgresStore.open(pgServer.url, schema);
  const pg = (await import('pg')).default;
  const c = new pg.Client({ connectionString: pgServer.url });
  await c.connect();
  await c.query(`UPDATE ${schema}.meta SET value = 999 WHERE name = 'schema_version'`);
  await c.end();
  await s.close();
  await assert.rejects(PostgresStore.open(pgServer.url, schema), /version 999, made by a newer Berth/);
});
