/**
 * Agents for tests: one joined to a test Berth with its root credentials, in the state dir the
 * test owns (and removes), quiet, polling each second, on the `default` cluster, running its
 * tasks with the process driver under `<stateDir>/process` unless told otherwise. Not started:
 * the test calls `start()` when it wants the agent registered, and `close()` in its clean-up.
 */
import { join } from 'node:path';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import { ProcessDriver } from '../../src/agent/drivers/process.js';

/** The part of a Berth an agent needs to join it. */
export interface AgentTarget {
  url: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** An agent of `berth` keeping its state in `stateDir`; `opts` override the defaults above. */
export function testAgent(berth: AgentTarget, stateDir: string, opts: Partial<Omit<AgentOptions, 'client' | 'stateDir'>> = {}): Agent {
  return new Agent({
    client: { endpoint: berth.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey },
    cluster: 'default',
    pollSeconds: 1,
    log: () => undefined,
    ...opts,
    driver: opts.driver ?? new ProcessDriver({ dataDir: join(stateDir, 'process') }),
    stateDir,
  });
}
