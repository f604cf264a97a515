// One request of the stores' line protocol: connect, send a line, read the answer line.
import net from 'node:net';

export function call(host, port, line, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port: Number(port) });
    let buf = '';
    const timer = setTimeout(() => s.destroy(new Error(`no answer from ${host}:${port}`)), timeoutMs);
    s.on('connect', () => s.write(`${line}\n`));
    s.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(timer);
        s.end();
        const answer = buf.slice(0, i);
        if (answer.startsWith('ERR')) reject(new Error(answer));
        else resolve(answer);
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** A store server: one command a line, one answer a line. */
export function serve(port, handle, label) {
  const server = net.createServer((s) => {
    let buf = '';
    s.on('data', (d) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const [cmd, ...args] = buf.slice(0, i).split(' ');
        buf = buf.slice(i + 1);
        let answer;
        try {
          answer = handle(cmd, args);
        } catch (e) {
          answer = `ERR ${e.message}`;
        }
        s.write(`${answer}\n`);
      }
    });
    s.on('error', () => undefined);
  });
  server.listen(Number(port), '0.0.0.0', () => console.log(`${label} listening on ${port}`));
}
