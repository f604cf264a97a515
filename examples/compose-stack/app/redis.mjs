// A small Redis client (RESP2 over one TCP connection): commands are arrays of bulk strings,
// replies are parsed in order (simple strings, errors, integers, bulk strings, arrays).
import net from 'node:net';

/** Connects to Redis at host:port; `send(...args)` resolves with the reply. */
export function redis(host, port) {
  const socket = net.connect({ host, port: Number(port) });
  const waiting = [];
  let buf = Buffer.alloc(0);
  let failure;
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const r = parse(buf, 0);
      if (!r) break;
      buf = buf.subarray(r.end);
      const w = waiting.shift();
      if (r.value instanceof Error) w?.reject(r.value);
      else w?.resolve(r.value);
    }
  });
  const fail = (e) => {
    failure ??= e;
    for (const w of waiting.splice(0)) w.reject(e);
  };
  socket.on('error', fail);
  socket.on('close', () => fail(new Error(`redis ${host}:${port}: connection closed`)));
  return {
    send(...args) {
      if (failure) return Promise.reject(failure);
      const parts = [`*${args.length}\r\n`];
      for (const a of args) {
        const s = String(a);
        parts.push(`$${Buffer.byteLength(s)}\r\n${s}\r\n`);
      }
      socket.write(parts.join(''));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    close() {
      socket.end();
    },
  };
}

/** One reply from buf at offset i: { value, end }, or undefined when incomplete. */
function parse(buf, i) {
  const eol = buf.indexOf('\r\n', i);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[i]);
  const line = buf.toString('utf8', i + 1, eol);
  const next = eol + 2;
  if (type === '+') return { value: line, end: next };
  if (type === '-') return { value: new Error(line), end: next };
  if (type === ':') return { value: Number(line), end: next };
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    if (buf.length < next + n + 2) return undefined;
    return { value: buf.toString('utf8', next, next + n), end: next + n + 2 };
  }
  if (type === '*') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    const items = [];
    let at = next;
    for (let k = 0; k < n; k++) {
      const r = parse(buf, at);
      if (!r) return undefined;
      items.push(r.value);
      at = r.end;
    }
    return { value: items, end: at };
  }
  throw new Error(`redis: unexpected reply type ${JSON.stringify(type)}`);
}
