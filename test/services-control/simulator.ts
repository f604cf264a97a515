/**
 * A test-side stand-in for container-instance agents: it registers instances through the real
 * ECS API (RegisterContainerInstance), heartbeats for the ones that are "alive", and moves the
 * tasks placed on them the way an agent reports them (`applyTaskStateChange`): PENDING ->
 * RUNNING with the network bindings of a real listening node:http server per task (so load
 * balancer health checks pass for real), and -> STOPPED when the control plane asks. A task
 * whose container command starts with `fail` never starts (TaskFailedToStart); `crash` runs and
 * exits at once (EssentialContainerExited). `kill(id)` stops heartbeating and reporting for an
 * instance (a lost machine). It also runs the agent-timeout sweep (`markStaleAgentsDisconnected`)
 * with a short timeout, the job of the berthagent service in production.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ECSClient, RegisterContainerInstanceCommand } from '@aws-sdk/client-ecs';
import type { TestBerth } from '../helpers/fixture.js';
import { applyTaskStateChange } from '../../src/domain/ecs/tasks.js';
import { resolvedTaskDefinition } from '../../src/domain/ecs/taskDefinitions.js';
import { type TaskRecord } from '../../src/domain/ecs/records.js';
import { KIND } from '../../src/domain/ecs/keys.js';
import { markStaleAgentsDisconnected, recordHeartbeat } from '../../src/domain/ecs/instances.js';

export interface SimOptions {
  cluster: string;
  region?: string;
  intervalMs?: number;
  /** Agent timeout of the sweep (agentConnected false after this long without heartbeat). */
  agentTimeoutMs?: number;
  /** How often each live instance heartbeats (default 100 ms; a real agent's poll is seconds). */
  heartbeatMs?: number;
}

export class AgentSimulator {
  readonly alive = new Map<string, boolean>();
  private servers = new Map<string, Server>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private lastBeat = 0;
  private stopped = false;
  readonly errors: string[] = [];
  private readonly region: string;

  constructor(private berth: TestBerth, private ecs: ECSClient, private opts: SimOptions) {
    this.region = opts.region ?? 'us-east-1';
    const loop = () => {
      if (this.stopped) return;
      void this.round().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, opts.intervalMs ?? 50);
      });
    };
    loop();
  }

  /** Registers an instance through the API; returns its id. */
  async addInstance(o: { cpu?: number; memory?: number; az?: string; attributes?: Record<string, string> } = {}): Promise<string> {
    const r = await this.ecs.send(
      new RegisterContainerInstanceCommand({
        cluster: this.opts.cluster,
        totalResources: [
          { name: 'CPU', type: 'INTEGER', integerValue: o.cpu ?? 1024 },
          { name: 'MEMORY', type: 'INTEGER', integerValue: o.memory ?? 2048 },
        ],
        attributes: [...(o.az ? [{ name: 'ecs.availability-zone', value: o.az }] : []), ...Object.entries(o.attributes ?? {}).map(([name, value]) => ({ name, value }))],
      }),
    );
    const id = r.containerInstance!.containerInstanceArn!.split('/').pop()!;
    this.alive.set(id, true);
    return id;
  }

  /** The instance's machine is gone: no more heartbeats or reports (its servers stop too). */
  kill(id: string): void {
    this.alive.set(id, false);
  }

  private get scope() {
    return { platform: this.berth.platform, region: this.region };
  }

  private async round(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const s = this.scope;
      if (this.opts.agentTimeoutMs) await markStaleAgentsDisconnected(s, this.opts.agentTimeoutMs);
      const beat = Date.now() - this.lastBeat >= (this.opts.heartbeatMs ?? 100);
      if (beat) this.lastBeat = Date.now();
      for (const [id, alive] of this.alive) if (alive && beat) await recordHeartbeat(s, this.opts.cluster, id);
      // One read of the cluster's tasks per round (what each agent's poll would answer).
      const all = await this.berth.platform.store.list<TaskRecord>(KIND.task, { prefix: `${this.region}/${this.opts.cluster}/` });
      for (const { value: t } of all) {
        if (t.lastStatus !== 'STOPPED' && t.containerInstanceId && this.alive.get(t.containerInstanceId)) await this.step(t);
      }
    } catch (e) {
      this.errors.push(String(e));
    } finally {
      this.busy = false;
    }
  }

  private async step(t: TaskRecord): Promise<void> {
    const s = this.scope;
    const cluster = this.opts.cluster;
    if (t.desiredStatus === 'STOPPED') {
      await this.closeServer(t.taskId);
      await applyTaskStateChange(s, { cluster, task: t.taskId, status: 'STOPPED', containers: t.containers.map((c) => ({ containerName: c.name, status: 'STOPPED', exitCode: 0 })) });
      return;
    }
    const td = await resolvedTaskDefinition(s, t);
    const main = td?.containerDefinitions?.[0];
    const mode = main?.command?.[0];
    if (t.lastStatus === 'RUNNING') {
      if (mode === 'crash') {
        await this.closeServer(t.taskId);
        await applyTaskStateChange(s, { cluster, task: t.taskId, status: 'STOPPED', containers: [{ containerName: main!.name!, status: 'STOPPED', exitCode: 1 }] });
      }
      return;
    }
    if (mode === 'fail') {
      await applyTaskStateChange(s, { cluster, task: t.taskId, status: 'STOPPED', reason: 'CannotPullContainerError: simulated pull failure', containers: [{ containerName: main!.name!, status: 'STOPPED', reason: 'CannotPullContainerError' }] });
      return;
    }
    const server = createServer((_req, res) => res.end(`ok ${t.taskId}`));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    this.servers.set(t.taskId, server);
    const port = (server.address() as AddressInfo).port;
    const mappings = main?.portMappings ?? [];
    await applyTaskStateChange(s, {
      cluster,
      task: t.taskId,
      status: 'RUNNING',
      containers: [
        {
          containerName: main!.name!,
          status: 'RUNNING',
          networkBindings: mappings.slice(0, 1).map((m) => ({ bindIP: '0.0.0.0', containerPort: m.containerPort, hostPort: port, protocol: 'tcp' })),
        },
      ],
    });
  }

  private async closeServer(taskId: string): Promise<void> {
    const srv = this.servers.get(taskId);
    if (!srv) return;
    this.servers.delete(taskId);
    await new Promise<void>((r) => {
      srv.close(() => r());
      srv.closeAllConnections();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    for (const id of [...this.servers.keys()]) await this.closeServer(id);
  }
}
