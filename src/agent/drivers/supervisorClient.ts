/**
 * The process driver's connection to its supervisor (processSupervisor.ts): finds the one that
 * serves a data dir, or starts it, and sends it requests over its unix socket. One client per
 * driver; the connection is opened on first use and again after it drops (a supervisor that died
 * is replaced by a new one; the processes of the old one are then followed through their files).
 *
 * The socket is referenced only while a request is in flight, so an idle connection never keeps
 * the agent's process alive.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { procStartTime, type SupervisedExit, type SupervisorMessage, type SupervisorRequest, type SupervisorSpec } from './processSupervisor.js';

const SUPERVISOR = fileURLToPath(new URL('./processSupervisor.js', import.meta.url));
/** Changes whenever the supervisor's code does: an upgraded driver starts a new supervisor beside the old one. */
const SUPERVISOR_VERSION = createHash('sha256').update(readFileSync(SUPERVISOR)).digest('hex').slice(0, 12);
/** sun_path holds 108 bytes; longer data dirs get a socket under the temp dir named by a hash of the dir. */
const MAX_SOCKET_PATH = 100;
/** How long a request may go unanswered. */
const REQUEST_TIMEOUT_MS = 10_000;

/** The socket path of the supervisor serving `dataDir`. */
export function supervisorSocketPath(dataDir: string): string {
  const p = join(dataDir, `supervisor-${SUPERVISOR_VERSION}.sock`);
  if (Buffer.byteLength(p) <= MAX_SOCKET_PATH) return p;
  return join(tmpdir(), `berth-supervisor-${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}-${SUPERVISOR_VERSION}.sock`);
}

type Answer = Extract<SupervisorMessage, { id: number }>;

/** The supervisor's connection closed with the request unanswered. */
class ConnectionLost extends Error {}
type RequestBody = SupervisorRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

/** A connection to the supervisor of one data dir. */
export class SupervisorClient {
  private conn: Promise<Socket> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { sock: Socket; resolve: (m: Answer) => void; reject: (e: Error) => void }>();
  /** The socket of `conn`, once open. */
  private current: Socket | undefined;
  private readonly exitListeners = new Map<string, Set<(e: SupervisedExit) => void>>();
  /** The pid of the supervisor currently connected (0 before the first connection). */
  pid = 0;

  constructor(private readonly dataDir: string) {}

  /** Connects (starting the supervisor if none answers); resolves once it answered a ping. */
  async connect(): Promise<void> {
    await this.socket();
  }

  /** Starts a process under the supervisor; resolves once it has started. */
  async start(dir: string, spec: SupervisorSpec): Promise<{ pid: number; startTime?: number; supervisorPid: number }> {
    let a: Answer;
    try {
      a = await this.request(await this.socket(), { op: 'start', dir, spec });
    } catch (e) {
      // The connection went before an answer. Unless the supervisor got as far as starting the
      // process (it records child.json before answering), start it once more through a fresh
      // connection (and a new supervisor if that one died).
      if (!(e instanceof ConnectionLost) || existsSync(join(dir, 'child.json'))) throw e;
      a = await this.request(await this.socket(), { op: 'start', dir, spec });
    }
    if (!a.ok) throw new Error(a.error);
    return { pid: a.pid, startTime: a.startTime, supervisorPid: this.pid };
  }

  /** Calls `fn` once when the supervisor reports that the process in `dir` exited. Returns an unsubscribe. */
  onExit(dir: string, fn: (e: SupervisedExit) => void): () => void {
    let set = this.exitListeners.get(dir);
    if (!set) this.exitListeners.set(dir, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.exitListeners.get(dir) === set) this.exitListeners.delete(dir);
    };
  }

  /** Closes the connection (the supervisor keeps running what it runs, and leaves once idle). */
  close(): void {
    const conn = this.conn;
    this.conn = undefined;
    this.current = undefined;
    void conn?.then((s) => s.destroy()).catch(() => undefined);
  }

  private request(sock: Socket, body: RequestBody): Promise<Answer> {
    const id = this.nextId++;
    return new Promise<Answer>((resolve, reject) => {
      // A supervisor that does not answer is as good as gone: drop the connection, so the next call starts afresh.
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the process supervisor did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`));
        sock.destroy();
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, {
        sock,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      sock.ref();
      sock.write(JSON.stringify({ ...body, id }) + '\n');
    });
  }

  private socket(): Promise<Socket> {
    // A supervisor that died may not have been noticed yet (its socket's close event still queued).
    if (this.conn && this.pid && procStartTime(this.pid) === undefined) {
      this.current?.destroy();
      this.conn = undefined;
      this.current = undefined;
    }
    this.conn ??= this.open().catch((e: Error) => {
      this.conn = undefined;
      throw e;
    });
    return this.conn;
  }

  private async open(): Promise<Socket> {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    const path = supervisorSocketPath(this.dataDir);
    let sock = await tryConnect(path);
    if (!sock) {
      await launchSupervisor(path);
      sock = await tryConnect(path);
      if (!sock) throw new Error(`the process supervisor did not answer on ${path}`);
    }
    this.attach(sock);
    this.current = sock;
    const pong = await this.request(sock, { op: 'ping' });
    if (pong.ok) this.pid = pong.pid;
    return sock;
  }

  private attach(sock: Socket): void {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const m = JSON.parse(buf.slice(0, nl)) as SupervisorMessage;
        buf = buf.slice(nl + 1);
        if ('op' in m) {
          for (const fn of [...(this.exitListeners.get(m.dir) ?? [])]) fn(m.exit);
          continue;
        }
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (![...this.pending.values()].some((x) => x.sock === sock)) sock.unref();
        p?.resolve(m);
      }
    });
    const lost = (why?: Error) => {
      if (this.current === sock) {
        this.conn = undefined;
        this.current = undefined;
      }
      const err = new ConnectionLost(`the connection to the process supervisor (pid ${this.pid || 'unknown'}) was lost${why ? `: ${why.message}` : ''}`);
      for (const [id, p] of this.pending) {
        if (p.sock !== sock) continue;
        this.pending.delete(id);
        p.reject(err);
      }
    };
    sock.on('error', lost);
    sock.on('close', () => lost());
    sock.unref();
  }
}

function tryConnect(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', () => resolve(undefined));
  });
}

/** Starts a supervisor on `path` (detached, in its own session) and waits until it listens. */
function launchSupervisor(path: string): Promise<void> {
  const child = spawn(process.execPath, [SUPERVISOR, path, SUPERVISOR_VERSION], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise<void>((resolve, reject) => {
    let out = '';
    let done = false;
    const timer = setTimeout(() => finish(new Error('the process supervisor did not start within 10 s')), 10_000);
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout!.destroy();
      child.unref();
      if (err) reject(err);
      else resolve();
    };
    const settled = () => /^(ready|taken)$/m.test(out);
    child.once('error', (e) => finish(e));
    // 'close' comes after the last output: a supervisor that found another one answering says "taken" and leaves.
    child.once('close', (code) => finish(settled() ? undefined : new Error(`the process supervisor exited (${code}) before listening: ${out.trim()}`)));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (settled()) finish();
      else if (/^error /m.test(out)) finish(new Error(`the process supervisor could not start: ${out.trim()}`));
    });
  });
}
