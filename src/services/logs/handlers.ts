/** CloudWatch Logs API handlers: log groups, streams, events, retention and tags. */
import type * as Logs from '../../generated/logs.js';
import { mergeTags } from '../../domain/common.js';
import type { Handlers, RequestContext } from '../types.js';
import { logsErrors } from './errors.js';
import type { EventPosition, LogGroupRow, LogStreamRow } from './eventStore.js';
import {
  RETENTION_DAYS,
  groupArn,
  groupNameFromArn,
  groupNameOf,
  logStoreFor,
  putEvents,
  requireGroup,
  requireStream,
  sequenceToken,
  streamArn,
} from './core.js';
import { FilterPatternError, compileFilterPattern } from './filterPattern.js';

const MAX_RESPONSE_BYTES = 1_048_576;

function describeGroup(ctx: RequestContext, g: LogGroupRow): Logs.LogGroup {
  const a = groupArn(ctx.platform, ctx.region, g.name);
  return {
    logGroupName: g.name,
    creationTime: g.creationTime,
    retentionInDays: g.retentionInDays,
    metricFilterCount: 0,
    arn: `${a}:*`,
    logGroupArn: a,
    storedBytes: g.storedBytes,
    kmsKeyId: g.kmsKeyId,
    logGroupClass: g.logGroupClass as Logs.LogGroupClass,
    deletionProtectionEnabled: g.deletionProtection,
  };
}

function describeStream(ctx: RequestContext, g: LogGroupRow, s: LogStreamRow): Logs.LogStream {
  return {
    logStreamName: s.name,
    creationTime: s.creationTime,
    firstEventTimestamp: s.firstEventTimestamp,
    lastEventTimestamp: s.lastEventTimestamp,
    lastIngestionTime: s.lastIngestionTime,
    uploadSequenceToken: sequenceToken(s),
    arn: streamArn(ctx.platform, ctx.region, g.name, s.name),
    storedBytes: s.storedBytes,
  };
}

/** Opaque list tokens: base64url JSON, checked for shape on the way back in. */
function encodeToken(v: object): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

function decodeToken<T>(token: string | undefined, check: (v: Record<string, unknown>) => boolean): T | undefined {
  if (token === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (v && typeof v === 'object' && check(v)) return v as T;
  } catch {
    /* fall through */
  }
  throw logsErrors.invalidToken();
}

/**
 * GetLogEvents tokens, shaped like AWS's: `f/` or `b/` and digits. They name a position between
 * events (timestamp, ingestion sequence): forward reads return what follows it, backward reads
 * what precedes it.
 */
function positionToken(dir: 'f' | 'b', p: EventPosition): string {
  return `${dir}/${String(p.ts).padStart(17, '0')}${String(p.seq).padStart(20, '0')}`;
}

function parsePositionToken(token: string): { dir: 'f' | 'b'; pos: EventPosition } {
  const m = /^([fb])\/(\d{17})(\d{20})$/.exec(token);
  if (!m) throw logsErrors.invalidToken();
  return { dir: m[1] as 'f' | 'b', pos: { ts: Number(m[2]), seq: Number(m[3]) } };
}

function checkTime(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw logsErrors.invalidParameter(`${name} must be a non-negative epoch time in milliseconds.`);
}

function validateTags(tags: Record<string, string> | undefined, existing: Record<string, string> = {}): Record<string, string> {
  const merged = mergeTags(
    Object.entries(existing).map(([key, value]) => ({ key, value })),
    Object.entries(tags ?? {}).map(([key, value]) => ({ key, value })),
    logsErrors.invalidParameter,
  );
  return Object.fromEntries(merged.map((t) => [t.key!, t.value ?? '']));
}

function validateGroupName(name: string): void {
  if (name.startsWith('aws/')) throw logsErrors.invalidParameter("Log group names starting with 'aws/' are reserved for AWS.");
}

function groupFromResourceArn(ctx: RequestContext, resourceArn: string): LogGroupRow {
  const name = groupNameFromArn(ctx.platform, ctx.region, resourceArn);
  const g = logStoreFor(ctx.platform).getGroup(ctx.region, name);
  if (!g) throw logsErrors.resourceNotFound(`The specified resource '${resourceArn}' does not exist.`);
  return g;
}

/** The CloudWatch Logs operations Berth implements (others answer NotImplemented). */
export const logsHandlers: Handlers<Logs.Operations> = {
  async CreateLogGroup(input, ctx) {
    validateGroupName(input.logGroupName);
    const tags = validateTags(input.tags);
    const created = logStoreFor(ctx.platform).createGroup({
      region: ctx.region,
      name: input.logGroupName,
      creationTime: ctx.platform.clock.now(),
      kmsKeyId: input.kmsKeyId,
      logGroupClass: input.logGroupClass ?? 'STANDARD',
      deletionProtection: input.deletionProtectionEnabled ?? false,
      tags,
    });
    if (!created) throw logsErrors.groupExists();
    return {};
  },

  async DeleteLogGroup(input, ctx) {
    const store = logStoreFor(ctx.platform);
    const g = requireGroup(store, ctx.region, input.logGroupName);
    if (g.deletionProtection) {
      throw logsErrors.operationAborted(`Log group ${g.name} has deletion protection enabled; disable it before deleting the group.`);
    }
    store.deleteGroup(g.id);
    return {};
  },

  async DescribeLogGroups(input, ctx) {
    const limit = input.limit ?? 50;
    if (input.logGroupNamePrefix !== undefined && input.logGroupNamePattern !== undefined) {
      throw logsErrors.invalidParameter('LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.');
    }
    const store = logStoreFor(ctx.platform);
    if (input.logGroupIdentifiers?.length) {
      const names = input.logGroupIdentifiers.map((r) => (r.startsWith('arn:') ? groupNameFromArn(ctx.platform, ctx.region, r) : r));
      const groups = names.flatMap((n) => store.getGroup(ctx.region, n) ?? []).sort((a, b) => (a.name < b.name ? -1 : 1));
      return { logGroups: groups.map((g) => describeGroup(ctx, g)) };
    }
    const after = decodeToken<{ n: string }>(input.nextToken, (v) => typeof v.n === 'string');
    const rows = store
      .listGroups(ctx.region, { prefix: input.logGroupNamePrefix, pattern: input.logGroupNamePattern || undefined, after: after?.n, limit: limit + 1 })
      .filter((g) => !input.logGroupClass || g.logGroupClass === input.logGroupClass);
    const page = rows.slice(0, limit);
    // With a name pattern AWS returns only the name, ARN and creation time of each group.
    const shape = (g: LogGroupRow): Logs.LogGroup => {
      const d = describeGroup(ctx, g);
      return input.logGroupNamePattern !== undefined ? { logGroupName: d.logGroupName, arn: d.arn, creationTime: d.creationTime } : d;
    };
    return {
      logGroups: page.map(shape),
      nextToken: rows.length > limit ? encodeToken({ n: page[page.length - 1]!.name }) : undefined,
    };
  },

  async PutRetentionPolicy(input, ctx) {
    if (!RETENTION_DAYS.includes(input.retentionInDays)) {
      throw logsErrors.invalidParameter(
        `1 validation error detected: Value '${input.retentionInDays}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [${RETENTION_DAYS.join(', ')}]`,
      );
    }
    const store = logStoreFor(ctx.platform);
    const g = requireGroup(store, ctx.region, input.logGroupName);
    store.setRetention(g.id, input.retentionInDays);
    return {};
  },

  async DeleteRetentionPolicy(input, ctx) {
    const store = logStoreFor(ctx.platform);
    const g = requireGroup(store, ctx.region, input.logGroupName);
    store.setRetention(g.id, undefined);
    return {};
  },

  async CreateLogStream(input, ctx) {
    const store = logStoreFor(ctx.platform);
    const g = requireGroup(store, ctx.region, input.logGroupName);
    if (!store.createStream(g.id, input.logStreamName, ctx.platform.clock.now())) throw logsErrors.streamExists();
    return {};
  },

  async DeleteLogStream(input, ctx) {
    const store = logStoreFor(ctx.platform);
    const g = requireGroup(store, ctx.region, input.logGroupName);
    store.deleteStream(requireStream(store, g, input.logStreamName).id);
    return {};
  },

  async DescribeLogStreams(input, ctx) {
    const store = logStoreFor(ctx.platform);
    const g = requireGroup(store, ctx.region, groupNameOf(ctx.platform, ctx.region, input.logGroupName, input.logGroupIdentifier));
    const orderBy = input.orderBy ?? 'LogStreamName';
    if (orderBy === 'LastEventTime' && input.logStreamNamePrefix !== undefined) {
      throw logsErrors.invalidParameter('Cannot order by LastEventTime with a logStreamNamePrefix.');
    }
    const limit = input.limit ?? 50;
    const after = decodeToken<{ name: string; lastTs: number }>(input.nextToken, (v) => typeof v.name === 'string' && typeof v.lastTs === 'number');
    const rows = store.listStreams(g.id, {
      prefix: input.logStreamNamePrefix,
      orderBy,
      descending: input.descending ?? false,
      after,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      logStreams: page.map((s) => describeStream(ctx, g, s)),
      nextToken: rows.length > limit && last ? encodeToken({ name: last.name, lastTs: last.lastEventTimestamp ?? 0 }) : undefined,
    };
  },

  async PutLogEvents(input, ctx) {
    // The sequence token is accepted and ignored, as AWS has done since 2023.
    const store = logStoreFor(ctx.platform);
    const g = requireGroup(store, ctx.region, input.logGroupName);
    const s = requireStream(store, g, input.logStreamName);
    const r = putEvents(store, ctx.platform.clock.now(), g, s, input.logEvents);
    return { nextSequenceToken: sequenceToken(r.stream), rejectedLogEventsInfo: r.rejected };
  },

  async GetLogEvents(input, ctx) {
    const store = logStoreFor(ctx.platform);
    const g = requireGroup(store, ctx.region, groupNameOf(ctx.platform, ctx.region, input.logGroupName, input.logGroupIdentifier));
    const s = requireStream(store, g, input.logStreamName);
    checkTime('startTime', input.startTime);
    checkTime('endTime', input.endTime);
    const limit = input.limit ?? 10_000;
    const common = { startTime: input.startTime, endTime: input.endTime, limit, maxBytes: MAX_RESPONSE_BYTES };
    const origin: EventPosition = { ts: 0, seq: 0 };
    let dir: 'f' | 'b';
    let pos: EventPosition | undefined;
    if (input.nextToken !== undefined) ({ dir, pos } = parsePositionToken(input.nextToken));
    else dir = input.startFromHead ? 'f' : 'b';
    const events =
      dir === 'f'
        ? store.readStream(s.id, { ...common, direction: 'forward', after: pos })
        : store.readStream(s.id, { ...common, direction: 'backward', before: pos });
    const first = events[0];
    const last = events[events.length - 1];
    let fwd: EventPosition;
    let back: EventPosition;
    if (first && last) {
      fwd = { ts: last.timestamp, seq: last.seq };
      back = { ts: first.timestamp, seq: first.seq };
    } else {
      // Nothing more in this direction: hand back the same position, as AWS does at either end.
      fwd = back = pos ?? origin;
    }
    return {
      events: events.map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime })),
      nextForwardToken: positionToken('f', fwd),
      nextBackwardToken: positionToken('b', back),
    };
  },

  async FilterLogEvents(input, ctx) {
    const store = logStoreFor(ctx.platform);
    const g = requireGroup(store, ctx.region, groupNameOf(ctx.platform, ctx.region, input.logGroupName, input.logGroupIdentifier));
    if (input.logStreamNames !== undefined && input.logStreamNamePrefix !== undefined) {
      throw logsErrors.invalidParameter('logStreamNames and logStreamNamePrefix are mutually exclusive parameters.');
    }
    checkTime('startTime', input.startTime);
    checkTime('endTime', input.endTime);
    if (input.startTime !== undefined && input.endTime !== undefined && input.endTime < input.startTime) {
      throw logsErrors.invalidParameter('endTime must not be before startTime.');
    }
    const limit = input.limit ?? 10_000;
    if (limit < 1 || limit > 10_000) throw logsErrors.invalidParameter('limit must be between 1 and 10000.');
    let pattern;
    try {
      pattern = compileFilterPattern(input.filterPattern);
    } catch (e) {
      if (e instanceof FilterPatternError) throw logsErrors.invalidParameter(e.message);
      throw e;
    }
    let streamIds: number[] | undefined;
    if (input.logStreamNames) streamIds = input.logStreamNames.flatMap((n) => store.getStream(g.id, n)?.id ?? []);
    else if (input.logStreamNamePrefix !== undefined) streamIds = store.streamsByPrefix(g.id, input.logStreamNamePrefix).map((s) => s.id);
    const after = decodeToken<EventPosition>(input.nextToken, (v) => Number.isSafeInteger(v.ts) && Number.isSafeInteger(v.seq));
    const r = store.filter(g.id, {
      streamIds,
      startTime: input.startTime,
      endTime: input.endTime,
      after,
      requiredLiterals: pattern.requiredLiterals,
      match: pattern.matches,
      limit,
      maxBytes: MAX_RESPONSE_BYTES,
    });
    return {
      events: r.events.map((e) => ({
        logStreamName: e.streamName,
        timestamp: e.timestamp,
        message: e.message,
        ingestionTime: e.ingestionTime,
        eventId: `${String(e.timestamp).padStart(17, '0')}${String(e.seq).padStart(20, '0')}`,
      })),
      searchedLogStreams: [],
      nextToken: r.last ? encodeToken(r.last) : undefined,
    };
  },

  async TagResource(input, ctx) {
    const g = groupFromResourceArn(ctx, input.resourceArn);
    logStoreFor(ctx.platform).setTags(g.id, validateTags(input.tags, g.tags));
    return {};
  },

  async UntagResource(input, ctx) {
    const g = groupFromResourceArn(ctx, input.resourceArn);
    const tags = { ...g.tags };
    for (const k of input.tagKeys) delete tags[k];
    logStoreFor(ctx.platform).setTags(g.id, tags);
    return {};
  },

  async ListTagsForResource(input, ctx) {
    return { tags: groupFromResourceArn(ctx, input.resourceArn).tags };
  },

  async TagLogGroup(input, ctx) {
    const store = logStoreFor(ctx.platform);
    const g = requireGroup(store, ctx.region, input.logGroupName);
    store.setTags(g.id, validateTags(input.tags, g.tags));
    return {};
  },

  async UntagLogGroup(input, ctx) {
    const store = logStoreFor(ctx.platform);
    const g = requireGroup(store, ctx.region, input.logGroupName);
    const tags = { ...g.tags };
    for (const k of input.tags) delete tags[k];
    store.setTags(g.id, tags);
    return {};
  },

  async ListTagsLogGroup(input, ctx) {
    return { tags: requireGroup(logStoreFor(ctx.platform), ctx.region, input.logGroupName).tags };
  },
};
