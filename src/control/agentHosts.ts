/**
 * `ProcessAgentHosts`, the `AgentHostSupervisor` port (src/domain/autoscaling/hosts.ts): each
 * Auto Scaling instance is a `berth agent` child process of this Berth, with its own state dir
 * under the data dir (`asg-hosts/<instance id>`), the zone of its subnet, and the root
 * credentials in its environment (never on disk). Stopping one ends the agent, the task
 * processes it left, and its state. Berth's shutdown stops them all; after a restart the
 * controller finds their instances dead and replaces them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePrivateDir } from '../privateFiles.js';
import type { AgentHostSpec, AgentHostSupervisor } from '../domain/autoscaling/hosts.js';

const BERTH_BIN = fileURLToPath(new URL('../../../bin/berth', import.meta.url));
/** How long a stopping agent gets to exit after SIGTERM before SIGKILL (bounds process I/O, real time). */
const STOP_GRACE_MS = 10_000;

export interface ProcessAgentHostsOptions {
  dataDir: string;
  /** Where agents reach the control plane (known once the listener is up). */
  endpoint: () => string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The agents' driver (`process`, `docker` or `auto`; default `process`). */
  driver?: string;
  log?: (line: string) => void;
  /**
   * Ends the task processes an agent's process driver left under its state dir (they outlive
   * their agent by design) when its host is terminated; only processes still the ones recorded.
   */
  killTaskProcessesUnder: (dir: string) => void;
}

export class ProcessAgentHosts implements AgentHostSupervisor {
  private readonly children = new Map<string, ChildProcess>();

  constructor(private readonly opts: ProcessAgentHostsOptions) {}

  private stateDir(instanceId: string): string {
    return join(this.opts.dataDir, 'asg-hosts', instanceId.replace(/[^A-Za-z0-9-]/g, ''));
  }

  async start(spec: AgentHostSpec): Promise<void> {
    if (this.running(spec.instanceId)) return;
    ensurePrivateDir(join(this.opts.dataDir, 'asg-hosts'));
    const dir = this.stateDir(spec.instanceId);
    ensurePrivateDir(dir);
    const logFd = openSync(join(dir, 'agent.log'), 'a', 0o600);
    try {
      const args = [BERTH_BIN, 'agent', '--server', this.opts.endpoint(), '--cluster', spec.cluster, '--driver', this.opts.driver ?? 'process', '--state-dir', join(dir, 'state'), '--region', spec.region, '--attribute', `ecs.availability-zone=${spec.availabilityZone}`, '--attribute', `ecs.instance-type=${spec.instanceType}`, '--instance-id', spec.instanceId];
      const child = spawn(process.execPath, args, {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_ACCESS_KEY_ID: this.opts.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: this.opts.credentials.secretAccessKey, AWS_REGION: spec.region },
        stdio: ['ignore', logFd, logFd],
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', () => resolve());
        child.once('error', reject);
      });
      child.on('error', (e) => this.opts.log?.(`agent host ${spec.instanceId}: ${e.message}`));
      child.on('exit', (code, signal) => this.opts.log?.(`agent host ${spec.instanceId} (pid ${child.pid}) exited: ${code ?? signal}`));
      this.children.set(spec.instanceId, child);
    } finally {
      closeSync(logFd);
    }
  }

  running(instanceId: string): boolean {
    const c = this.children.get(instanceId);
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  /** The process id of a host's agent (for operators and tests). */
  pid(instanceId: string): number | undefined {
    return this.running(instanceId) ? this.children.get(instanceId)!.pid : undefined;
  }

  async stop(instanceId: string): Promise<void> {
    const c = this.children.get(instanceId);
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, STOP_GRACE_MS)))]);
      clearTimeout(timer);
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await exited;
      }
    }
    this.children.delete(instanceId);
    const dir = this.stateDir(instanceId);
    this.opts.killTaskProcessesUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  }

  /** Stops every host (Berth's shutdown). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.children.keys()].map((id) => this.stop(id)));
  }
}

