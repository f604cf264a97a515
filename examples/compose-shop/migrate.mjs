// A one-off job: creates the items table, then exits 0.
import { call } from './lib.mjs';

await call(process.env.POSTGRES_HOST, process.env.POSTGRES_PORT_5432, 'CREATE items');
console.log('migrated');
