// A Redis-like store: SET, GET, INCR, PING. Listens on PORT_6379 (process driver) or 6379.
import { serve } from './lib.mjs';

const data = new Map();
serve(process.env.PORT_6379 ?? 6379, (cmd, [key, ...rest]) => {
  if (cmd === 'PING') return 'PONG';
  if (cmd === 'SET') return data.set(key, rest.join(' ')), 'OK';
  if (cmd === 'GET') return data.get(key) ?? '';
  if (cmd === 'INCR') {
    const n = Number(data.get(key) ?? 0) + 1;
    data.set(key, String(n));
    return String(n);
  }
  throw new Error(`unknown command ${cmd}`);
}, 'kv');
