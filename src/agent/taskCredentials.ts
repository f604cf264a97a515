/**
 * The container credentials endpoint, as the ECS agent serves it: a task whose definition has a
 * `taskRoleArn` gets `AWS_CONTAINER_CREDENTIALS_FULL_URI` (this server, on loopback, path per
 * task) and `AWS_CONTAINER_AUTHORIZATION_TOKEN` (a per-task secret the request must carry in
 * `Authorization`), which the AWS SDKs and CLI read. The answer is ECS's: {AccessKeyId,
 * SecretAccessKey, Token, Expiration, RoleArn}, from role sessions the control plane issues for
 * that task (BerthAgentV1.GetTaskCredentials, only for tasks on this agent's instance), renewed
 * once half their life is gone, so a caller always gets credentials well before they expire.
 *
 * The port and the per-task tokens survive agent restarts (`<state-dir>/credentials.json`, 0600:
 * the port, and a seed the tokens derive from), so running tasks keep their endpoint. The
 * process driver's tasks reach loopback; the docker driver's would need the ECS link-local
 * address (169.254.170.2), which Berth does not set up yet.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { callJson, type ClientConfig } from '../client/awsClient.js';
import type { Clock } from '../clock.js';
import { writeAtomic } from './files.js';

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

/** Serves each task's role credentials on loopback. */
export class TaskCredentialsServer {
  private server: Server | undefined;
  private port = 0;
  private seed = '';
  private readonly tasks = new Map<string, TaskEntry>();

  constructor(
    private readonly client: ClientConfig,
    private readonly clock: Clock,
    private readonly stateFile: string,
    /** Lifetime asked for each session, in seconds (the control plane caps it at the role's maximum). */
    private readonly sessionSeconds?: number,
  ) {}

  /** Listens on 127.0.0.1 (the port of the previous run when it is free). */
  async start(): Promise<void> {
    let prior: { port?: number; seed?: string } = {};
    if (existsSync(this.stateFile)) {
      try {
        prior = JSON.parse(readFileSync(this.stateFile, 'utf8')) as typeof prior;
      } catch {
        /* unreadable: start afresh */
      }
    }
    this.seed = typeof prior.seed === 'string' && prior.seed.length >= 32 ? prior.seed : randomBytes(32).toString('hex');
    const server = createServer((req, res) => {
      this.answer(req.url ?? '', req.headers.authorization).then(
        ([status, body]) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        },
        (e: Error) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ code: 'InternalError', message: e.message.slice(0, 512) }));
        },
      );
    });
    const listen = (port: number) => new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', fail);
        ok();
      });
    });
    try {
      await listen(typeof prior.port === 'number' ? prior.port : 0);
    } catch {
      await listen(0);
    }
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    writeAtomic(this.stateFile, JSON.stringify({ port: this.port, seed: this.seed }));
  }

  private tokenOf(taskId: string): string {
    return createHmac('sha256', this.seed).update(taskId).digest('base64url');
  }

  /** The environment a task's containers get for its role (call for each task with a taskRoleArn). */
  register(cluster: string, taskArn: string, taskId: string): Record<string, string> {
    if (!this.tasks.has(taskId)) this.tasks.set(taskId, { cluster, taskArn });
    return { AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${this.port}/v2/credentials/${taskId}`, AWS_CONTAINER_AUTHORIZATION_TOKEN: this.tokenOf(taskId) };
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
    const now = this.clock.now();
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
        if (e.current && this.clock.now() < e.current.expiration) return e.current;
        throw err;
      },
    );
    return e.pending;
  }

  private async fetch(e: TaskEntry): Promise<Issued> {
    const out = await callJson<{ roleArn: string; accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: number }>(
      this.client,
      'ecs',
      'BerthAgentV1.GetTaskCredentials',
      { cluster: e.cluster, taskArn: e.taskArn, durationSeconds: this.sessionSeconds },
    );
    const now = this.clock.now();
    const expiration = out.expiration * 1000;
    return { ...out, expiration, renewAt: now + (expiration - now) / 2 };
  }

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections();
  }
}
