/**
 * Reading a task's or a whole service's container output for the console: the log streams come
 * from the tasks' definitions (the awslogs options, else Berth's default group), the lines from
 * CloudWatch Logs' FilterLogEvents called as the signed-in principal, so the filter pattern is
 * CloudWatch's syntax, checked and applied by the logs service itself. `poll` returns each line
 * once, in time order; a follower calls it every few hundred milliseconds.
 */
import { ServiceError } from '../errors.js';
import { lastSegment, taskLogStreams, MAX_LIST, type ApiCall } from './views.js';

/** One line of output. */
export interface LogLine {
  /** Epoch ms. */
  t: number;
  task: string;
  container: string;
  message: string;
}

/** What to read. */
export interface LogTailOptions {
  cluster: string;
  /** A service's tasks (running, and recently stopped)... */
  service?: string;
  /** ...or one task. */
  task?: string;
  /** A CloudWatch Logs filter pattern (at most 1,024 characters). */
  filterPattern?: string;
  /** Epoch ms to read from (default: the last `defaultWindowMs`). */
  startTime?: number;
  /** Epoch ms to read to (a closed range: no following). */
  endTime?: number;
}

/** Events re-read before the newest one seen (lines may arrive with slightly older timestamps). */
const OVERLAP_MS = 5_000;
/** How often a service's task list is read again. */
const REFRESH_STREAMS_MS = 3_000;
/** Most lines one poll returns (the rest come with the next). */
export const MAX_LINES_PER_POLL = 10_000;

interface Stream {
  group: string;
  stream: string;
  task: string;
  container: string;
}

/** A reader of new lines of a task or service. */
export class LogTail {
  private streams: Stream[] = [];
  private readonly seen = new Map<string, number>();
  private readonly definitions = new Map<string, unknown>();
  private lastRefresh = -Infinity;
  private startTime: number;

  constructor(
    private readonly call: ApiCall,
    private readonly opts: LogTailOptions,
    private readonly now: () => number,
  ) {
    if (!opts.service === !opts.task) throw new ServiceError('InvalidParameterException', "Logs are of a 'service' or of a 'task': name one.");
    if ((opts.filterPattern?.length ?? 0) > 1024) throw new ServiceError('InvalidParameterException', 'The filter pattern is longer than 1,024 characters.');
    this.startTime = opts.startTime ?? 0;
  }

  private async refreshStreams(): Promise<void> {
    const { cluster } = this.opts;
    let tasks: any[];
    if (this.opts.task) {
      tasks = (await this.call('ecs', 'DescribeTasks', { cluster, tasks: [this.opts.task] })).tasks ?? [];
      if (!tasks.length) throw new ServiceError('InvalidParameterException', `No task '${this.opts.task}' in cluster '${cluster}'.`, 400);
    } else {
      const running: string[] = (await this.call('ecs', 'ListTasks', { cluster, serviceName: this.opts.service })).taskArns ?? [];
      const stopped: string[] = (await this.call('ecs', 'ListTasks', { cluster, serviceName: this.opts.service, desiredStatus: 'STOPPED' })).taskArns ?? [];
      const arns = [...running, ...stopped].slice(0, MAX_LIST);
      tasks = arns.length ? ((await this.call('ecs', 'DescribeTasks', { cluster, tasks: arns })).tasks ?? []) : [];
    }
    const out: Stream[] = [];
    for (const t of tasks) for (const s of await taskLogStreams(this.call, cluster, t, this.definitions as Map<string, any>)) out.push(s);
    this.streams = out;
    this.lastRefresh = this.now();
  }

  /** The lines that arrived since the last call, oldest first, each once. */
  async poll(): Promise<LogLine[]> {
    if (this.opts.service || this.streams.length === 0) {
      if (this.now() - this.lastRefresh >= REFRESH_STREAMS_MS) await this.refreshStreams();
    }
    const byGroup = new Map<string, Stream[]>();
    for (const s of this.streams) byGroup.set(s.group, [...(byGroup.get(s.group) ?? []), s]);
    const lines: LogLine[] = [];
    for (const [group, ss] of byGroup) {
      for (let i = 0; i < ss.length; i += 100) {
        const chunk = ss.slice(i, i + 100);
        const byName = new Map(chunk.map((s) => [s.stream, s]));
        let nextToken: string | undefined;
        do {
          let page: any;
          try {
            page = await this.call('logs', 'FilterLogEvents', {
              logGroupName: group,
              logStreamNames: chunk.map((s) => s.stream),
              startTime: this.startTime,
              ...(this.opts.endTime !== undefined ? { endTime: this.opts.endTime } : {}),
              ...(this.opts.filterPattern ? { filterPattern: this.opts.filterPattern } : {}),
              ...(nextToken ? { nextToken } : {}),
            });
          } catch (e) {
            if (e instanceof ServiceError && e.code === 'ResourceNotFoundException') break; // nothing written yet
            throw e;
          }
          for (const e of page.events ?? []) {
            if (this.seen.has(e.eventId)) continue;
            this.seen.set(e.eventId, e.timestamp);
            const s = byName.get(e.logStreamName);
            lines.push({ t: e.timestamp, task: s?.task ?? '', container: s?.container ?? e.logStreamName, message: String(e.message).replace(/\n$/, '') });
          }
          nextToken = page.nextToken;
        } while (nextToken && lines.length < MAX_LINES_PER_POLL);
      }
    }
    lines.sort((a, b) => a.t - b.t);
    if (lines.length) {
      this.startTime = Math.max(this.startTime, lines[lines.length - 1]!.t - OVERLAP_MS);
      for (const [id, ts] of this.seen) if (ts < this.startTime) this.seen.delete(id);
    }
    return lines;
  }

  /** The task ids read (for the page's legend). */
  tasks(): string[] {
    return [...new Set(this.streams.map((s) => lastSegment(s.stream)))];
  }
}
