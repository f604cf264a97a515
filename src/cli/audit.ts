/**
 * `berth audit [-f]`: the audit log (every API call Berth answered: who, from where, what, on
 * which resources, and how it ended), read with CloudTrail's LookupEvents over the network like
 * any client. Oldest first so the newest is last; `-f` keeps printing new calls as they come
 * (its own LookupEvents calls are left out), until Ctrl-C. Filters: one of --user, --event,
 * --resource, --access-key, --source (LookupEvents takes one attribute), and --since.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { jsonService, type ClientConfig } from '../client/awsClient.js';
import { isoTime, epochMs } from './format.js';
import type { Terminal } from './terminal.js';
import { UsageError } from './connect.js';

/** How often `-f` asks for new calls. */
const AUDIT_POLL_MS = 1_000;
/** Most calls printed without -f (newest kept), and pages read per poll. */
const MAX_SHOWN = 1_000;
/** How far back (ms) a poll looks again, for calls recorded just after the previous poll read. */
const OVERLAP_MS = 5_000;

/** The flags of `berth audit`. */
export interface AuditFlags {
  follow?: boolean;
  user?: string;
  event?: string;
  resource?: string;
  accessKey?: string;
  source?: string;
  /** Only calls from this time on (epoch ms). */
  sinceMs?: number;
  output: 'text' | 'json';
}

/** One event, as LookupEvents sends it on the wire (EventTime in epoch seconds). */
interface WireAuditEvent {
  EventId: string;
  EventName?: string;
  EventSource?: string;
  EventTime?: number;
  Username?: string;
  AccessKeyId?: string;
  Resources?: Array<{ ResourceType?: string; ResourceName?: string }>;
  CloudTrailEvent?: string;
}

/** What a line says of a call. */
function summary(e: WireAuditEvent): { time?: string; user: string; action: string; outcome: string; sourceIp?: string; resources: string[]; requestId?: string; errorMessage?: string } {
  let rec: Record<string, unknown> = {};
  try {
    rec = JSON.parse(e.CloudTrailEvent ?? '{}') as Record<string, unknown>;
  } catch {
    // a record that is not JSON still has its columns
  }
  const identity = (rec.userIdentity ?? {}) as { arn?: string };
  return {
    time: isoTime(e.EventTime),
    user: identity.arn ?? e.Username ?? '-',
    action: `${(e.EventSource ?? '').replace(/\.amazonaws\.com$/, '')}:${e.EventName ?? '?'}`,
    outcome: typeof rec.errorCode === 'string' ? rec.errorCode : 'OK',
    sourceIp: typeof rec.sourceIPAddress === 'string' ? rec.sourceIPAddress : undefined,
    resources: (e.Resources ?? []).map((r) => r.ResourceName ?? '').filter(Boolean),
    requestId: typeof rec.requestID === 'string' ? rec.requestID : undefined,
    errorMessage: typeof rec.errorMessage === 'string' ? rec.errorMessage : undefined,
  };
}

/** The one lookup attribute the flags name (LookupEvents takes at most one). */
function attributeOf(flags: AuditFlags): { AttributeKey: string; AttributeValue: string } | undefined {
  const given = (
    [
      ['Username', flags.user],
      ['EventName', flags.event],
      ['ResourceName', flags.resource],
      ['AccessKeyId', flags.accessKey],
      ['EventSource', flags.source],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (given.length > 1) throw new UsageError('berth audit filters by one of --user, --event, --resource, --access-key, --source at a time (LookupEvents takes one attribute)');
  const [k, v] = given[0] ?? [];
  if (!k) return undefined;
  return { AttributeKey: k, AttributeValue: k === 'EventSource' && !v!.includes('.') ? `${v}.amazonaws.com` : v! };
}

/** `berth audit`: resolves with the exit status. */
export async function auditCommand(config: ClientConfig, flags: AuditFlags, term: Terminal): Promise<number> {
  const lookup = jsonService(config, 'cloudtrail');
  const attribute = attributeOf(flags);
  const json = flags.output === 'json';
  const line = (e: WireAuditEvent) => {
    const s = summary(e);
    if (json) return JSON.stringify({ eventId: e.EventId, ...s });
    return [s.time ?? '-', s.user, s.action, s.outcome, s.sourceIp ?? '-', s.resources.join(',') || '-'].join('  ');
  };
  /** Calls since `fromMs`, oldest first (at most MAX_SHOWN: the newest). */
  const read = async (fromMs: number | undefined): Promise<WireAuditEvent[]> => {
    const out: WireAuditEvent[] = [];
    let NextToken: string | undefined;
    do {
      const page = await lookup<{ Events?: WireAuditEvent[]; NextToken?: string }>('LookupEvents', {
        LookupAttributes: attribute ? [attribute] : undefined,
        StartTime: fromMs !== undefined ? fromMs / 1000 : undefined,
        MaxResults: 50,
        NextToken,
      });
      out.push(...(page.Events ?? []));
      NextToken = page.NextToken;
    } while (NextToken && out.length < MAX_SHOWN);
    return out.reverse();
  };
  const own = (e: WireAuditEvent) => e.EventName === 'LookupEvents' && e.EventSource === 'cloudtrail.amazonaws.com' && e.AccessKeyId === config.accessKeyId;
  const first = await read(flags.sinceMs);
  if (!flags.follow) {
    if (json) term.out(JSON.stringify(first.map((e) => JSON.parse(line(e)) as unknown), null, 2) + '\n');
    else for (const e of first) term.out(`${line(e)}\n`);
    return 0;
  }
  // Following: one line (with --output json, one JSON object) per call as it comes.
  const seen = new Map<string, number>();
  let newest = flags.sinceMs ?? 0;
  const show = (events: WireAuditEvent[]) => {
    for (const e of events) {
      if (seen.has(e.EventId)) continue;
      const t = epochMs(e.EventTime) ?? 0;
      seen.set(e.EventId, t);
      newest = Math.max(newest, t);
      if (!own(e)) term.out(`${line(e)}\n`);
    }
    // Ids older than the overlap window can no longer come back.
    for (const [id, t] of seen) if (t < newest - 2 * OVERLAP_MS) seen.delete(id);
  };
  show(first);
  for (;;) {
    await sleep(AUDIT_POLL_MS);
    show(await read(newest ? newest - OVERLAP_MS : undefined));
  }
}
