/**
 * The port through which the Auto Scaling controller starts and stops agent hosts (one `berth
 * agent` process per instance). The composition root fills it in (src/control/agentHosts.ts
 * implements it with child processes); handlers never start anything.
 */

/** What an agent host is started with. */
export interface AgentHostSpec {
  instanceId: string;
  region: string;
  cluster: string;
  availabilityZone: string;
  instanceType: string;
  imageId: string;
}

export interface AgentHostSupervisor {
  /** Starts the host's agent; resolves once its process is running (not yet registered). */
  start(spec: AgentHostSpec): Promise<void>;
  /** Whether the host's agent process is alive (started here and not exited). */
  running(instanceId: string): boolean;
  /** Stops the host's agent and the task processes it left, and removes its state; nothing running: done. */
  stop(instanceId: string): Promise<void>;
}

/** The cluster an instance's agent joins: the `ECS_CLUSTER=name` line of its UserData (base64), else `default`. */
export function clusterFromUserData(userDataBase64: string | undefined): string {
  if (!userDataBase64) return 'default';
  const text = Buffer.from(userDataBase64, 'base64').toString('utf8').slice(0, 16_384);
  for (const line of text.split('\n')) {
    const i = line.indexOf('ECS_CLUSTER=');
    if (i < 0) continue;
    const name = /^[A-Za-z0-9_-]{1,255}/.exec(line.slice(i + 'ECS_CLUSTER='.length).replace(/^["']/, ''));
    if (name) return name[0];
  }
  return 'default';
}
