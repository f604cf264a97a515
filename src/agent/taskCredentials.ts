/**
 * The container credentials endpoint, as the ECS agent serves it: a task whose definition has a
 * `taskRoleArn` gets `AWS_CONTAINER_CREDENTIALS_FULL_URI` (this server, path per task) and
 * `AWS_CONTAINER_AUTHORIZATION_TOKEN` (a per-task secret the request must carry in
 * `Authorization`), which the AWS SDKs and CLI read. The answer is ECS's: {AccessKeyId,
 * SecretAccessKey, Token, Expiration, RoleArn}, from role sessions the control plane issues for
 * that task (BerthAgentV1.GetTaskCredentials, only for tasks on this agent's instance), renewed
 * once half their life is gone, so a caller always gets credentials well before they expire.
 *
 * Where it listens depends on where the tasks run. The process driver's tasks are host processes:
 * loopback. A docker container's loopback is its own, and the SDKs accept a plain-HTTP
 * credentials URI only on loopback or at the link-local addresses of ECS and EKS
 * (169.254.170.2, 169.254.170.23; botocore and @aws-sdk/credential-provider-http check the host,
 * not the port). So for the docker driver the server listens on 169.254.170.2, on a port of its
 * own (several agents on one host each have theirs): the address is put on the host's `lo` when
 * the agent is root and the host lacks it (containers on a bridge reach it through their gateway,
 * as any host address), and when neither is possible a task with a role fails to start saying
 * what to run. The address stays when the agent stops (other agents may use it).
 *
 * The port and the per-task tokens survive agent restarts (`<state-dir>/credentials.json`, 0600:
 * the address, the port, and a seed the tokens derive from), so running tasks keep their endpoint.
 */
import { execFile } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { callJson, type ClientConfig } from '../client/awsClient.js';
import type { Clock } from '../clock.js';
import { writeAtomic } from './files.js';

/** The address of ECS's container credentials endpoint, which every AWS SDK accepts over plain HTTP. */
export const ECS_CREDENTIALS_ADDRESS = '169.254.170.2';
/** Where process-driver tasks (host processes) reach the endpoint. */
export const LOOPBACK_ADDRESS = '127.0.0.1';

interface Issued {
  roleArn: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Epoch ms. */
  expiration: number;
  /** Epoch ms after which the next request renews them. */
  renewAt: number;
}

interface TaskEntry {
  cluster: string;
  taskArn: string;
  current?: Issued;
  pending?: Promise<Issued>;
}

/** How the endpoint is set up. */
export interface TaskCredentialsOptions {
  /** The control plane, with the agent's credentials (GetTaskCredentials). */
  client: ClientConfig;
  clock: Clock;
  /** `<state-dir>/credentials.json`: address, port and token seed across restarts. */
  stateFile: string;
  /** Lifetime asked for each session, in seconds (the control plane caps it at the role's maximum). */
  sessionSeconds?: number;
  /** The address to listen on (default loopback; the docker driver's tasks need {@link ECS_CREDENTIALS_ADDRESS}). */
  address?: string;
  /** Whether the agent may add the address to `lo` when the host lacks it (default: when running as root). */
  mayAddAddress?: boolean;
}

/** Whether one of this host's interfaces (in this network namespace) has `address`. */
function hostHas(address: string): boolean {
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((a) => a.address === address));
}

/**
 * Makes sure the host has `address` (an IPv4 link-local address for the credentials endpoint):
 * present already, or added to `lo` as a /32 (`ip addr add`, as root). Throws saying what to run
 * when it can do neither.
 */
export async function ensureHostAddress(address: string, mayAdd: boolean): Promise<void> {
  if (hostHas(address)) return;
  const how = `add it once as root (\`ip addr add ${address}/32 dev lo\`) or run the agent as root`;
  if (!mayAdd) throw new Error(`task role credentials for containers are served on ${address}, the address the AWS SDKs accept for the container credentials endpoint, and this host does not have it: ${how}`);
  await new Promise<void>((ok, fail) => {
    execFile('ip', ['addr', 'add', `${address}/32`, 'dev', 'lo'], { timeout: 10_000 }, (err, _out, stderr) => {
      // Another agent on this host may have added it a moment ago.
      if (!err || /File exists/i.test(String(stderr))) return ok();
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the `ip` command (iproute2) is not installed' : String(stderr).trim().slice(0, 200) || err.message;
      fail(new Error(`could not add ${address} to lo for the task role credentials endpoint (${why}): ${how}`));
    });
  });
}

/** Serves each task's role credentials to its containers. */
export class TaskCredentialsServer {
  private server: Server | undefined;
  private port = 0;
  private seed = '';
  private priorPort: number | undefined;
  private listening: Promise<void> | undefined;
  private readonly tasks = new Map<string, TaskEntry>();
  private readonly address: string;

  constructor(private readonly opts: TaskCredentialsOptions) {
    this.address = opts.address ?? LOOPBACK_ADDRESS;
  }

  /**
   * Reads the previous run's state and listens (on the previous port when it is free). Resolves
   * with the reason it cannot listen, if it cannot (then each task with a role tries again, and
   * fails to start with that reason while it still cannot).
   */
  async start(): Promise<string | undefined> {
    let prior: { port?: number; seed?: string; address?: string } = {};
    if (existsSync(this.opts.stateFile)) {
      try {
        prior = JSON.parse(readFileSync(this.opts.stateFile, 'utf8')) as typeof prior;
      } catch {
        /* unreadable: start afresh */
      }
    }
    this.seed = typeof prior.seed === 'string' && prior.seed.length >= 32 ? prior.seed : randomBytes(32).toString('hex');
    this.priorPort = typeof prior.port === 'number' && (prior.address ?? LOOPBACK_ADDRESS) === this.address ? prior.port : undefined;
    this.persist();
    try {
      await this.listen();
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }

  private persist(): void {
    writeAtomic(this.opts.stateFile, JSON.stringify({ address: this.address, port: this.port || this.priorPort, seed: this.seed }));
  }

  /** Listens once; a failed attempt is forgotten, so the next task tries again. */
  private listen(): Promise<void> {
    this.listening ??= this.bind().catch((e: unknown) => {
      this.listening = undefined;
      throw e;
    });
    return this.listening;
  }

  private async bind(): Promise<void> {
    if (this.address !== LOOPBACK_ADDRESS) await ensureHostAddress(this.address, this.opts.mayAddAddress ?? process.getuid?.() === 0);
    const server = createServer({ headersTimeout: 10_000, requestTimeout: 10_000 }, (req, res) => {
      const reply = ([status, body]: [number, unknown]) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'GET') return reply([405, { code: 'MethodNotAllowed', message: 'Only GET is served here.' }]);
      this.answer(req.url ?? '', req.headers.authorization).then(reply, (e: Error) => reply([500, { code: 'InternalError', message: e.message.slice(0, 512) }]));
    });
    const on = (port: number) => new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, this.address, () => {
        server.off('error', fail);
        ok();
      });
    });
    try {
      await on(this.priorPort ?? 0);
    } catch (e) {
      if (this.priorPort === undefined) throw new Error(`the task role credentials endpoint cannot listen on ${this.address}: ${(e as Error).message}`);
      await on(0);
    }
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.persist();
  }

  private tokenOf(taskId: string): string {
    return createHmac('sha256', this.seed).update(taskId).digest('base64url');
  }

  /** Serves a task's credentials (a task recovered after a restart: its containers have their variables). */
  track(cluster: string, taskArn: string, taskId: string): void {
    if (!this.tasks.has(taskId)) this.tasks.set(taskId, { cluster, taskArn });
  }

  /**
   * The environment a task's containers get for its role (call for each task with a
   * taskRoleArn); rejects when the endpoint cannot listen, saying why.
   */
  async environmentFor(cluster: string, taskArn: string, taskId: string): Promise<Record<string, string>> {
    await this.listen();
    this.track(cluster, taskArn, taskId);
    return { AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://${this.address}:${this.port}/v2/credentials/${taskId}`, AWS_CONTAINER_AUTHORIZATION_TOKEN: this.tokenOf(taskId) };
  }

  /** The task ended: its credentials are no longer served. */
  unregister(taskId: string): void {
    this.tasks.delete(taskId);
  }

  private async answer(url: string, authorization: string | undefined): Promise<[number, unknown]> {
    const m = /^\/v2\/credentials\/([a-f0-9]{32})$/.exec(url);
    const entry = m ? this.tasks.get(m[1]!) : undefined;
    if (!m || !entry) return [404, { code: 'NotFound', message: 'No task with a role at this address.' }];
    const want = Buffer.from(this.tokenOf(m[1]!));
    const got = Buffer.from(authorization ?? '');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return [401, { code: 'AccessDenied', message: 'The Authorization header is not this task\'s AWS_CONTAINER_AUTHORIZATION_TOKEN.' }];
    const c = await this.credentialsOf(entry);
    return [200, { AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, Token: c.sessionToken, Expiration: new Date(c.expiration).toISOString(), RoleArn: c.roleArn }];
  }

  /** Current credentials of a task, renewed (once, however many ask) past half their life. */
  private credentialsOf(e: TaskEntry): Promise<Issued> {
    const now = this.opts.clock.now();
    if (e.current && now < e.current.renewAt) return Promise.resolve(e.current);
    e.pending ??= this.fetch(e).then(
      (c) => {
        e.current = c;
        e.pending = undefined;
        return c;
      },
      (err: unknown) => {
        e.pending = undefined;
        // Still valid: keep serving them while renewal fails.
        if (e.current && this.opts.clock.now() < e.current.expiration) return e.current;
        throw err;
      },
    );
    return e.pending;
  }

  private async fetch(e: TaskEntry): Promise<Issued> {
    const out = await callJson<{ roleArn: string; accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: number }>(
      this.opts.client,
      'ecs',
      'BerthAgentV1.GetTaskCredentials',
      { cluster: e.cluster, taskArn: e.taskArn, durationSeconds: this.opts.sessionSeconds },
    );
    const now = this.opts.clock.now();
    const expiration = out.expiration * 1000;
    return { ...out, expiration, renewAt: now + (expiration - now) / 2 };
  }

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections();
  }
}
