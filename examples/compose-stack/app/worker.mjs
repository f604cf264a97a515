// The worker: takes item ids off the Redis list `jobs` (BLPOP) and marks each item processed
// in Postgres.
import { hostname } from 'node:os';
import { cache, postgres } from './db.mjs';

// Node as PID 1 has no default SIGTERM handler: without this, a stop waits out the stop timeout.
process.on('SIGTERM', () => process.exit(0));

const db = postgres();
const kv = cache();
console.log('worker started');
for (;;) {
  try {
    const job = await kv.send('BLPOP', 'jobs', 2);
    if (!job) continue;
    await db.query('UPDATE items SET processed_by = $1 WHERE id = $2', [hostname(), Number(job[1])]);
    console.log(`worker: item ${job[1]} processed`);
  } catch (e) {
    console.error(`worker: ${e.message}`);
    await new Promise((r) => setTimeout(r, 1000));
    process.exit(1); // the ECS service starts a new task
  }
}
