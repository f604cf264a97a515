/**
 * `berth logs`: prints (and with -f follows, like `docker logs -f`) the output of a task's or a
 * service's containers, interleaved by time and prefixed with the container name. Reads through
 * the public ECS and CloudWatch Logs APIs, so it works against any Berth it can reach.
 */
import { parseArgs } from 'node:util';
import { jsonService, type ClientConfig } from '../client/awsClient.js';
import { logDestinationFor } from '../agent/logNaming.js';
import type { AgentContainerDefinition } from '../agent/protocol.js';
import { clientConfigFrom, UsageError } from './connect.js';

interface Stream {
  group: string;
  stream: string;
  label: string;
}

/** Parses durations like 30s, 10m, 2h, 1d into ms. */
export function parseDuration(s: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) throw new UsageError(`--since takes a duration like 30s, 10m, 2h or 1d: got '${s}'`);
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms'] ?? 1000);
}

async function streamsOf(cfg: ClientConfig, cluster: string, target: { task?: string; service?: string }): Promise<Stream[]> {
  const ecs = jsonService(cfg, 'ecs');
  let taskArns: string[] = [];
  if (target.task) taskArns = [target.task];
  else {
    for (const desiredStatus of ['RUNNING', 'STOPPED']) {
      let nextToken: string | undefined;
      do {
        const page = await ecs<{ taskArns?: string[]; nextToken?: string }>('ListTasks', { cluster, serviceName: target.service, desiredStatus, nextToken });
        taskArns.push(...(page.taskArns ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
    }
  }
  const out: Stream[] = [];
  const tdCache = new Map<string, { family: string; containerDefinitions: AgentContainerDefinition[] }>();
  for (let i = 0; i < taskArns.length; i += 100) {
    const d = await ecs<{ tasks?: Array<{ taskArn: string; taskDefinitionArn: string }>; failures?: Array<{ arn?: string; reason?: string }> }>('DescribeTasks', {
      cluster,
      tasks: taskArns.slice(i, i + 100),
    });
    if (target.task && !d.tasks?.length) throw new UsageError(`No task '${target.task}' in cluster '${cluster}'.`);
    for (const t of d.tasks ?? []) {
      let td = tdCache.get(t.taskDefinitionArn);
      if (!td) {
        const r = await ecs<{ taskDefinition: { family: string; containerDefinitions: AgentContainerDefinition[] } }>('DescribeTaskDefinition', { taskDefinition: t.taskDefinitionArn });
        td = r.taskDefinition;
        tdCache.set(t.taskDefinitionArn, td);
      }
      const taskId = t.taskArn.split('/').pop()!;
      const many = taskArns.length > 1;
      for (const c of td.containerDefinitions) {
        const dest = logDestinationFor(c, { taskId, cluster, family: td.family });
        out.push({ group: dest.group, stream: dest.stream, label: many ? `${c.name}/${taskId.slice(0, 8)}` : c.name });
      }
    }
  }
  return out;
}

export async function logsCommand(argv: string[], write: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      follow: { type: 'boolean', short: 'f', default: false },
      since: { type: 'string' },
      cluster: { type: 'string', default: 'default' },
      service: { type: 'string' },
      task: { type: 'string' },
      timestamps: { type: 'boolean', short: 't', default: false },
      server: { type: 'string' },
      'data-dir': { type: 'string' },
      region: { type: 'string' },
    },
    strict: true,
  });
  if (!values.service && !values.task) {
    const [name] = positionals;
    if (!name) throw new UsageError('berth logs needs a task id (--task) or a service name (--service).');
    if (/^[0-9a-f]{32}$/.test(name) || name.startsWith('arn:aws:ecs:') && name.includes(':task/')) values.task = name;
    else values.service = name;
  }
  const cfg = clientConfigFrom(values);
  const logs = jsonService(cfg, 'logs');
  const seen = new Set<string>();
  let startTime = values.since ? Date.now() - parseDuration(values.since) : 0;
  let streams = await streamsOf(cfg, values.cluster!, { task: values.task, service: values.service });
  let lastRefresh = Date.now();
  const width = Math.max(0, ...streams.map((s) => s.label.length));
  const once = async () => {
    const byGroup = new Map<string, Stream[]>();
    for (const s of streams) byGroup.set(s.group, [...(byGroup.get(s.group) ?? []), s]);
    const events: Array<{ ts: number; label: string; message: string }> = [];
    for (const [group, ss] of byGroup) {
      for (let i = 0; i < ss.length; i += 100) {
        const chunk = ss.slice(i, i + 100);
        const label = new Map(chunk.map((s) => [s.stream, s.label]));
        let nextToken: string | undefined;
        do {
          let page: { events?: Array<{ eventId: string; timestamp: number; message: string; logStreamName: string }>; nextToken?: string };
          try {
            page = await logs('FilterLogEvents', { logGroupName: group, logStreamNames: chunk.map((s) => s.stream), startTime, nextToken });
          } catch (e) {
            if ((e as { code?: string }).code === 'ResourceNotFoundException') break; // nothing written yet
            throw e;
          }
          for (const e of page.events ?? []) {
            if (seen.has(e.eventId)) continue;
            seen.add(e.eventId);
            events.push({ ts: e.timestamp, label: label.get(e.logStreamName) ?? e.logStreamName, message: e.message });
          }
          nextToken = page.nextToken;
        } while (nextToken);
      }
    }
    events.sort((a, b) => a.ts - b.ts);
    for (const e of events) {
      const prefix = streams.length > 1 ? `${e.label.padEnd(width)} | ` : '';
      write(`${prefix}${values.timestamps ? `${new Date(e.ts).toISOString()} ` : ''}${e.message.replace(/\n$/, '')}\n`);
    }
    // Re-read a little overlap: events can arrive with slightly older timestamps. Ids dedupe.
    if (events.length) startTime = Math.max(startTime, events[events.length - 1]!.ts - 5_000);
  };
  await once();
  while (values.follow) {
    await new Promise((r) => setTimeout(r, 150));
    if (values.service && Date.now() - lastRefresh > 3_000) {
      streams = await streamsOf(cfg, values.cluster!, { service: values.service });
      lastRefresh = Date.now();
    }
    await once();
  }
}
