// A one-off job: creates the items table in Postgres, then exits 0 (others wait for it with
// depends_on: condition: service_completed_successfully).
import { postgres } from './db.mjs';

const db = postgres();
await db.query('CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text NOT NULL, processed_by text, created_at timestamptz NOT NULL DEFAULT now())');
console.log('migrated: table items');
await db.end();
