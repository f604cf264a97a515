/**
 * `berth logs`: prints (and with -f follows, like `docker logs -f`) the output of tasks' or a
 * service's containers, interleaved by time and prefixed with the container name. Reads through
 * the public ECS and CloudWatch Logs APIs (FilterLogEvents), so it works against any Berth it
 * can reach. `showLogs` is also what `berth run` streams a task's output with.
 *
 * Following ends by itself: for tasks, once every one of them has stopped (after a short drain
 * for lines still being shipped); for a service, once it is deleted and its tasks have stopped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AwsApiError } from '../client/awsClient.js';
import { logDestinationFor } from '../agent/logNaming.js';
import { BerthApi, neverStarted, stopReasonOf, type WireTask, type WireTaskDefinition } from './api.js';
import { UsageError } from './connect.js';
import { lastSegment, plural } from './format.js';
import type { Terminal } from './terminal.js';

/** How often a follower asks for new lines. */
const LOG_POLL_MS = 150;
/** How often a follower looks at whether its tasks still run. */
const STATUS_POLL_MS = 1_000;
/** How often a service's task list is read again while following it. */
const SERVICE_REFRESH_MS = 3_000;
/** After the tasks stop, lines still on their way are awaited until none came for this long... */
const DRAIN_QUIET_MS = 1_500;
/** ...and at most this long. */
const DRAIN_MAX_MS = 5_000;
/** Events re-read before the newest one seen (they can arrive with slightly older timestamps). */
const OVERLAP_MS = 5_000;

/** Parses durations like 30s, 10m, 2h, 1d into ms. */
export function parseDuration(s: string, flag = '--since'): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) throw new UsageError(`${flag} takes a duration like 30s, 10m, 2h or 1d: got '${s}'`);
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms'] ?? 1000);
}

/** Whether a name given to `berth logs` is a task (a 32-hex-digit id or a task ARN). */
export function looksLikeTask(name: string): boolean {
  return /^[0-9a-f]{32}$/.test(name) || (name.startsWith('arn:aws:ecs:') && name.includes(':task/'));
}

interface Stream {
  group: string;
  stream: string;
  label: string;
}

/** Reads new lines of a set of log streams, each event once, in time order. */
class LogReader {
  private streams: Stream[] = [];
  private width = 0;
  /** Ids of the events printed, with their timestamps (forgotten once older than the read window). */
  private readonly seen = new Map<string, number>();
  private readonly definitions = new Map<string, WireTaskDefinition>();

  constructor(
    private readonly api: BerthApi,
    private readonly cluster: string,
    private startTime: number,
    private readonly timestamps: boolean,
    private readonly write: (s: string) => void,
  ) {}

  /** Reads the streams of these tasks from now on. */
  async setTasks(tasks: WireTask[]): Promise<void> {
    const out: Stream[] = [];
    const many = tasks.length > 1;
    for (const t of tasks) {
      let td = this.definitions.get(t.taskDefinitionArn);
      if (!td) {
        td = await this.api.taskDefinition(t.taskDefinitionArn);
        this.definitions.set(t.taskDefinitionArn, td);
      }
      const taskId = lastSegment(t.taskArn);
      for (const c of td.containerDefinitions) {
        const dest = logDestinationFor(c as Parameters<typeof logDestinationFor>[0], { taskId, cluster: this.cluster, family: td.family });
        out.push({ group: dest.group, stream: dest.stream, label: many ? `${c.name}/${taskId.slice(0, 8)}` : c.name });
      }
    }
    this.streams = out;
    this.width = Math.max(0, ...out.map((s) => s.label.length));
  }

  /** Prints the lines that arrived since the last call; resolves with how many. */
  async poll(): Promise<number> {
    const byGroup = new Map<string, Stream[]>();
    for (const s of this.streams) byGroup.set(s.group, [...(byGroup.get(s.group) ?? []), s]);
    const events: Array<{ ts: number; label: string; message: string }> = [];
    for (const [group, ss] of byGroup) {
      for (let i = 0; i < ss.length; i += 100) {
        const chunk = ss.slice(i, i + 100);
        const label = new Map(chunk.map((s) => [s.stream, s.label]));
        let nextToken: string | undefined;
        do {
          let page: { events?: Array<{ eventId: string; timestamp: number; message: string; logStreamName: string }>; nextToken?: string };
          try {
            page = await this.api.logs('FilterLogEvents', { logGroupName: group, logStreamNames: chunk.map((s) => s.stream), startTime: this.startTime, nextToken });
          } catch (e) {
            if (e instanceof AwsApiError && e.code === 'ResourceNotFoundException') break; // nothing written yet
            throw e;
          }
          for (const e of page.events ?? []) {
            if (this.seen.has(e.eventId)) continue;
            this.seen.set(e.eventId, e.timestamp);
            events.push({ ts: e.timestamp, label: label.get(e.logStreamName) ?? e.logStreamName, message: e.message });
          }
          nextToken = page.nextToken;
        } while (nextToken);
      }
    }
    events.sort((a, b) => a.ts - b.ts);
    for (const e of events) {
      const prefix = this.streams.length > 1 ? `${e.label.padEnd(this.width)} | ` : '';
      this.write(`${prefix}${this.timestamps ? `${new Date(e.ts).toISOString()} ` : ''}${e.message.replace(/\n$/, '')}\n`);
    }
    if (events.length) {
      this.startTime = Math.max(this.startTime, events[events.length - 1]!.ts - OVERLAP_MS);
      for (const [id, ts] of this.seen) if (ts < this.startTime) this.seen.delete(id);
    }
    return events.length;
  }
}

/** What to read: tasks (ids or ARNs), or a service's tasks. */
export type LogTarget = { tasks: string[] } | { service: string };

/** How `showLogs` reads. */
export interface ShowLogsOptions {
  cluster: string;
  target: LogTarget;
  /** Keep reading new lines until the tasks stop (or the service is deleted). */
  follow: boolean;
  /** Read lines from this epoch-ms time on (default: all). */
  sinceMs?: number;
  /** Prefix each line with its ISO timestamp. */
  timestamps?: boolean;
  /** Where lines go (standard output). */
  write: (s: string) => void;
  /** Tasks already described (saves a DescribeTasks). */
  known?: WireTask[];
  /** Ends a follow early (the tasks' latest states are still returned). */
  signal?: AbortSignal;
}

/** What `showLogs` saw of the tasks when it ended. */
export interface ShowLogsResult {
  tasks: WireTask[];
}

/** Sleeps, or returns early (false) when `signal` aborts. */
async function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

async function describeTargetTasks(api: BerthApi, cluster: string, ids: string[]): Promise<WireTask[]> {
  const tasks = await api.tasks(cluster, ids);
  const found = new Set(tasks.flatMap((t) => [t.taskArn, lastSegment(t.taskArn)]));
  const missing = ids.filter((id) => !found.has(id) && !found.has(lastSegment(id)));
  if (missing.length) throw new AwsApiError('InvalidParameterException', `No task ${missing.map((m) => `'${m}'`).join(', ')} in cluster '${cluster}'.`, 400);
  return tasks;
}

/**
 * Prints the output of the target's containers; with `follow`, keeps printing new lines until
 * every task has stopped (tasks) or the service is gone with all its tasks stopped (service),
 * then waits briefly for the last lines still being shipped. Resolves with the tasks' states.
 */
export async function showLogs(api: BerthApi, opts: ShowLogsOptions): Promise<ShowLogsResult> {
  const { cluster, target } = opts;
  const reader = new LogReader(api, cluster, opts.sinceMs ?? 0, opts.timestamps ?? false, opts.write);
  const serviceName = 'service' in target ? target.service : undefined;
  const load = async (): Promise<WireTask[]> => {
    if (serviceName === undefined) return describeTargetTasks(api, cluster, (target as { tasks: string[] }).tasks);
    return api.allTasks(cluster, { serviceName });
  };
  if (serviceName !== undefined) await api.service(cluster, serviceName);
  let tasks = opts.known ?? (await load());
  await reader.setTasks(tasks);
  await reader.poll();
  if (!opts.follow) return { tasks };

  let lastStatus = Date.now();
  let lastRefresh = Date.now();
  const over = async (): Promise<boolean> => {
    const allStopped = tasks.every((t) => t.lastStatus === 'STOPPED');
    if (serviceName === undefined) return allStopped;
    if (!allStopped) return false;
    const svc = await api.service(cluster, serviceName, { allowInactive: true }).catch((e) => {
      if (e instanceof AwsApiError && e.code === 'ServiceNotFoundException') return undefined;
      throw e;
    });
    return !svc || svc.status === 'INACTIVE';
  };
  for (;;) {
    if (!(await pause(LOG_POLL_MS, opts.signal))) return { tasks };
    const now = Date.now();
    // The tasks' states are read alongside the lines, so a status check never delays a line.
    let refresh: Promise<WireTask[]> | undefined;
    if (serviceName !== undefined && now - lastRefresh >= SERVICE_REFRESH_MS) {
      refresh = load();
      lastRefresh = now;
    } else if (serviceName === undefined && now - lastStatus >= STATUS_POLL_MS) {
      refresh = api.tasks(cluster, tasks.map((t) => t.taskArn));
      lastStatus = now;
    }
    // Never left unhandled while the poll runs; rethrown below.
    const refreshed = refresh?.then((value) => ({ value }), (error: unknown) => ({ error }));
    await reader.poll();
    if (refreshed) {
      const r = await refreshed;
      if ('error' in r) throw r.error;
      tasks = r.value;
      if (serviceName !== undefined) await reader.setTasks(tasks);
    }
    if ((refreshed || serviceName === undefined) && (await over())) break;
  }
  // The tasks stopped: their last lines may still be on their way to CloudWatch Logs.
  const drainStart = Date.now();
  let lastNew = drainStart;
  while (Date.now() - lastNew < DRAIN_QUIET_MS && Date.now() - drainStart < DRAIN_MAX_MS) {
    if (!(await pause(LOG_POLL_MS * 2, opts.signal))) break;
    if ((await reader.poll()) > 0) lastNew = Date.now();
  }
  return { tasks };
}

/** `did not start: <why>` or `stopped: <why> (web exited 3)`: how a stopped task ended. */
export function stopSummary(task: WireTask): string {
  if (neverStarted(task)) return `did not start: ${stopReasonOf(task)}`;
  const exits = (task.containers ?? []).filter((c) => c.exitCode !== undefined && c.exitCode !== null).map((c) => `${c.name} exited ${c.exitCode}`);
  return `stopped: ${stopReasonOf(task)}${exits.length ? ` (${exits.join(', ')})` : ''}`;
}

/** One line on why a stopped task stopped, with its containers' exit codes. */
export function stoppedLine(task: WireTask): string {
  return `task ${lastSegment(task.taskArn)} ${neverStarted(task) ? '' : 'has '}${stopSummary(task)}`;
}

/** The flags of `berth logs` (commander's names). */
export interface LogsFlags {
  follow?: boolean;
  since?: string;
  cluster: string;
  service?: string;
  task?: string[];
  timestamps?: boolean;
}

/**
 * `berth logs [-f] [--since 10m] [-t] <task-id... | service>`: what to read is a service name
 * or task ids/ARNs given as arguments, or with --service / --task.
 */
export async function logsCommand(api: BerthApi, names: string[], flags: LogsFlags, term: Terminal): Promise<number> {
  const tasks = [...(flags.task ?? [])];
  let service = flags.service;
  for (const name of names) {
    if (looksLikeTask(name)) tasks.push(name);
    else if (service === undefined) service = name;
    else throw new UsageError(`berth logs reads one service or some tasks: got '${service}' and '${name}'.`);
  }
  if (service !== undefined && tasks.length) throw new UsageError('berth logs reads one service or some tasks, not both.');
  if (service === undefined && !tasks.length) throw new UsageError('berth logs needs a task id or a service name.');
  const target: LogTarget = service !== undefined ? { service } : { tasks };
  const sinceMs = flags.since !== undefined ? Date.now() - parseDuration(flags.since) : undefined;
  const result = await showLogs(api, { cluster: flags.cluster, target, follow: flags.follow ?? false, sinceMs, timestamps: flags.timestamps, write: (s) => term.out(s) });
  const notStarted = result.tasks.filter(neverStarted);
  if (flags.follow) {
    if (service !== undefined) term.err(`berth: service ${service} is gone and its tasks have stopped\n`);
    else if (result.tasks.length === 1) term.err(`berth: ${stoppedLine(result.tasks[0]!)}\n`);
    else {
      for (const t of notStarted) term.err(`berth: ${stoppedLine(t)}\n`);
      term.err(`berth: all ${plural(result.tasks.length, 'task')} have stopped\n`);
    }
  } else if ('tasks' in target) {
    for (const t of notStarted) term.err(`berth: ${stoppedLine(t)}\n`);
  }
  return 0;
}
