// A worker: counts its ticks in the Redis-like store (REDIS_HOST/PORT, by service name).
import { call } from './lib.mjs';

console.log('worker started');
setInterval(() => call(process.env.REDIS_HOST, process.env.REDIS_PORT_6379, 'INCR worker_ticks').catch((e) => console.error(`worker: ${e.message}`)), 200);
