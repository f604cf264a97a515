/**
 * The subscription deliverer: sends the events of log groups with subscription filters
 * (src/domain/logs/subscriptions.ts) to their destinations, at least once.
 *
 * It reads from the event store, not from PutLogEvents: each filter has a cursor (the last
 * ingestion `seq` delivered) in this replica's logs.db. Every `DELIVERY_INTERVAL_MS` on the
 * platform clock it reads the events ingested after the cursor (at most `BATCH_EVENTS` events or
 * `BATCH_BYTES` bytes a batch, `BATCHES_PER_TICK` batches per filter per tick), keeps those the
 * filter pattern matches, delivers them, and only then moves the cursor. So PutLogEvents never
 * waits for a destination and nothing is buffered in memory: a destination that is down makes
 * the filter retry with exponential backoff (1 s doubling to 60 s) while its events wait in the
 * store (as long as the group's retention keeps them); a crash after a delivery and before the
 * cursor moved delivers that batch again. A new filter starts with the events ingested from its
 * creation on, as on AWS.
 *
 * Every replica runs one (not a duty): each delivers the events its own logs.db holds.
 */
import { gzipSync } from 'node:zlib';
import type { Platform } from '../domain/platform.js';
import type { LogEventStore, StoredEvent } from '../domain/logs/eventStore.js';
import { compileFilterPattern, type CompiledPattern } from '../domain/logs/filterPattern.js';
import { putLogEvents } from '../domain/logs/events.js';
import { createLogStream, requireGroup } from '../domain/logs/groups.js';
import { applyMetricFilters } from '../domain/logs/metricFilters.js';
import { allSubscriptionFilters, resolveDestination, type DeliveryTarget, type SubscriptionEndpoints, type SubscriptionFilterRecord } from '../domain/logs/subscriptions.js';
import { LOGS_LIMITS } from '../logsLimits.js';
import { startLoop, type Loop } from './loop.js';

/** How often new events are looked for. */
export const DELIVERY_INTERVAL_MS = 1000;
/** Most events one delivery carries. */
export const BATCH_EVENTS = 1000;
/** Most message bytes (plus 26 each) one delivery carries. */
export const BATCH_BYTES = 1_048_576;
/** Most batches one filter delivers per tick (bounds one tick's work). */
export const BATCHES_PER_TICK = 5;
/** How long an HTTP destination has to answer. */
export const HTTP_TIMEOUT_MS = 10_000;
const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 60_000;

/** The cursor name of a filter: a filter deleted and made again starts afresh. */
function cursorName(f: SubscriptionFilterRecord): string {
  return `${f.filterName}@${f.creationTime}`;
}

/** Delivers subscription filters' events from one event store. */
export class SubscriptionDeliverer {
  private readonly failures = new Map<string, { count: number; retryAt: number }>();

  constructor(
    private readonly platform: Platform,
    private readonly events: LogEventStore,
    private readonly endpoints: SubscriptionEndpoints,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** One pass over every filter; returns how many events were delivered. */
  async deliverOnce(): Promise<number> {
    const byGroup = new Map<string, { region: string; group: string; filters: SubscriptionFilterRecord[] }>();
    for (const { region, filter } of await allSubscriptionFilters({ platform: this.platform })) {
      const k = `${region}/${filter.logGroupName}`;
      const entry = byGroup.get(k) ?? { region, group: filter.logGroupName, filters: [] };
      entry.filters.push(filter);
      byGroup.set(k, entry);
    }
    let delivered = 0;
    const live = new Set<string>();
    for (const { region, group, filters: fs } of byGroup.values()) {
      const g = this.events.getGroup(region, group);
      if (!g) continue;
      this.events.pruneCursors(g.id, fs.map(cursorName));
      for (const f of fs) {
        const id = `${region}/${group}/${cursorName(f)}`;
        live.add(id);
        const failing = this.failures.get(id);
        if (failing && failing.retryAt > this.platform.clock.now()) continue;
        try {
          delivered += await this.deliverFilter(region, g.id, f);
          this.failures.delete(id);
        } catch (e) {
          const count = (failing?.count ?? 0) + 1;
          this.failures.set(id, { count, retryAt: this.platform.clock.now() + Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (count - 1)) });
          // Said on the first failure and then at each doubling, not on every retry.
          if ((count & (count - 1)) === 0) this.onError(new Error(`subscription filter ${f.filterName} of ${group} (${region}): delivery to ${f.destinationArn} failed (attempt ${count}): ${e instanceof Error ? e.message : String(e)}`));
        }
      }
    }
    for (const id of this.failures.keys()) if (!live.has(id)) this.failures.delete(id);
    return delivered;
  }

  private async deliverFilter(region: string, groupId: number, f: SubscriptionFilterRecord): Promise<number> {
    const name = cursorName(f);
    let cursor = this.events.getCursor(groupId, name);
    if (cursor === undefined) {
      cursor = this.events.lastSeqIngestedBefore(groupId, f.creationTime);
      this.events.setCursor(groupId, name, cursor);
    }
    let pattern: CompiledPattern;
    try {
      pattern = compileFilterPattern(f.filterPattern);
    } catch {
      return 0;
    }
    let target: DeliveryTarget | undefined;
    let delivered = 0;
    for (let i = 0; i < BATCHES_PER_TICK; i++) {
      const batch = this.events.readAfterSeq(groupId, cursor, BATCH_EVENTS, BATCH_BYTES);
      if (batch.length === 0) break;
      const matched = batch.filter((e) => pattern.matches(e.message));
      if (matched.length > 0) {
        target ??= await resolveDestination({ platform: this.platform, region }, f.destinationArn, this.endpoints);
        await this.send(target, f, matched);
        delivered += matched.length;
      }
      cursor = batch[batch.length - 1]!.seq;
      this.events.setCursor(groupId, name, cursor);
      if (batch.length < BATCH_EVENTS) break;
    }
    return delivered;
  }

  private async send(target: DeliveryTarget, f: SubscriptionFilterRecord, events: StoredEvent[]): Promise<void> {
    const byStream = new Map<string, StoredEvent[]>();
    for (const e of events) {
      const list = byStream.get(e.streamName) ?? [];
      list.push(e);
      byStream.set(e.streamName, list);
    }
    for (const [stream, list] of byStream) {
      if (target.kind === 'http') await this.post(target.url, f, stream, list);
      else await this.ingest(target, stream, list);
    }
  }

  /** POSTs one stream's events as AWS's subscription payload; a 2xx acknowledges them. */
  private async post(url: string, f: SubscriptionFilterRecord, stream: string, list: StoredEvent[]): Promise<void> {
    const payload = {
      messageType: 'DATA_MESSAGE',
      owner: this.platform.accountId,
      logGroup: f.logGroupName,
      logStream: stream,
      subscriptionFilters: [f.filterName],
      logEvents: list.map((e) => ({ id: String(e.seq).padStart(20, '0'), timestamp: e.timestamp, message: e.message })),
    };
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'user-agent': 'berth-logs-subscription' },
      body: gzipSync(JSON.stringify(payload)),
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      redirect: 'manual',
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status > 299) throw new Error(`${url} answered ${res.status}`);
  }

  /** Ingests one stream's events into the destination group, in a stream of the same name. */
  private async ingest(target: { region: string; logGroupName: string }, stream: string, list: StoredEvent[]): Promise<void> {
    const scope = { platform: this.platform, region: target.region };
    const g = requireGroup(this.events, target.region, target.logGroupName);
    const s = this.events.getStream(g.id, stream) ?? createLogStream(this.events, scope, g.name, stream);
    const sorted = [...list].sort((a, b) => a.timestamp - b.timestamp || a.seq - b.seq);
    // PutLogEvents' rules: at most 24 h between the first and last event of one batch.
    let start = 0;
    while (start < sorted.length) {
      let end = start + 1;
      while (end < sorted.length && sorted[end]!.timestamp - sorted[start]!.timestamp <= LOGS_LIMITS.maxSpanMs && end - start < LOGS_LIMITS.maxEvents) end++;
      const chunk = sorted.slice(start, end).map((e) => ({ timestamp: e.timestamp, message: e.message }));
      const r = putLogEvents(this.events, this.platform.clock.now(), g, this.events.getStream(g.id, s.name) ?? s, chunk);
      const from = Math.max(r.rejected?.tooOldLogEventEndIndex ?? -1, r.rejected?.expiredLogEventEndIndex ?? -1) + 1;
      await applyMetricFilters(scope, g.name, chunk.slice(from, r.rejected?.tooNewLogEventStartIndex ?? chunk.length));
      start = end;
    }
  }
}

/** Starts delivering every `DELIVERY_INTERVAL_MS` on the platform clock. */
export function startSubscriptionDelivery(platform: Platform, events: LogEventStore, endpoints: SubscriptionEndpoints, onError: (e: unknown) => void): Loop {
  const deliverer = new SubscriptionDeliverer(platform, events, endpoints, onError);
  return startLoop(platform.clock, DELIVERY_INTERVAL_MS, () => deliverer.deliverOnce(), onError);
}
