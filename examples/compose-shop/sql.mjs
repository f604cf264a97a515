// A Postgres-like store: CREATE table, INSERT table value, SELECT table (JSON), PING. Slow to start
// (STARTUP_MS, 2 s by default), as a database is, so its dependents must wait for its health check.
import { serve } from './lib.mjs';

const tables = new Map();
console.log('sql starting');
setTimeout(() => {
  serve(process.env.PORT_5432 ?? 5432, (cmd, [table, ...rest]) => {
    if (cmd === 'PING') return 'PONG';
    if (cmd === 'CREATE') return tables.has(table) || tables.set(table, []), 'CREATE TABLE';
    const rows = tables.get(table);
    if (!rows) throw new Error(`relation "${table}" does not exist`);
    if (cmd === 'INSERT') return rows.push(rest.join(' ')), 'INSERT 0 1';
    if (cmd === 'SELECT') return JSON.stringify(rows);
    throw new Error(`unknown command ${cmd}`);
  }, 'sql');
}, Number(process.env.STARTUP_MS ?? 2000));
