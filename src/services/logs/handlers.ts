/**
 * CloudWatch Logs API handlers: log groups, streams, events, retention and tags. They check
 * what the model cannot (mutually exclusive members, time bounds, tokens), map the API's shapes
 * to the logs domain (src/domain/logs/) and back; the rules live in the domain.
 */
import type * as Logs from '../../generated/logs.js';
import { logsErrors } from '../../domain/logs/errors.js';
import type { EventPosition, LogEventStore, LogGroupRow, LogStreamRow } from '../../domain/logs/eventStore.js';
import { putLogEvents, searchLogEvents, sequenceToken } from '../../domain/logs/events.js';
import {
  createLogGroup,
  createLogStream,
  deleteLogGroup,
  deleteLogStream,
  requireGroup,
  requireGroupByArn,
  requireStream,
  tagLogGroup,
  untagLogGroup,
} from '../../domain/logs/groups.js';
import { groupArn, groupNameOf, groupNameOfIdentifier, streamArn } from '../../domain/logs/names.js';
import { deleteRetentionPolicy, putRetentionPolicy } from '../../domain/logs/retention.js';
import { applyMetricFilters, compileForApi, deleteGroupMetricFilters, deleteMetricFilter, describeMetricFilters, putMetricFilter, type MetricFilterRecord } from '../../domain/logs/metricFilters.js';
import {
  deleteDestination,
  deleteGroupSubscriptionFilters,
  deleteSubscriptionFilter,
  describeDestinations,
  describeSubscriptionFilters,
  putDestination,
  putDestinationPolicy,
  putSubscriptionFilter,
  type DestinationRecord,
  type SubscriptionEndpoints,
} from '../../domain/logs/subscriptions.js';
import { deleteQueryDefinition, deleteResourcePolicy, describeQueryDefinitions, describeResourcePolicies, putQueryDefinition, putResourcePolicy } from '../../domain/logs/policies.js';
import { MAX_QUERY_GROUPS, type LogQueries } from '../../domain/logs/queries.js';
import type { Handlers, RequestContext } from '../types.js';

/** Most bytes of events one GetLogEvents / FilterLogEvents answer carries (AWS: 1 MB). */
const MAX_RESPONSE_BYTES = 1_048_576;

function describeGroup(ctx: RequestContext, g: LogGroupRow): Logs.LogGroup {
  const a = groupArn(ctx, g.name);
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
    arn: streamArn(ctx, g.name, s.name),
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

/** The CloudWatch Logs operations Berth implements (others answer NotImplemented), over `events`. */
/** The events of a PutLogEvents batch that were stored: all but the rejected prefix and suffix. */
function acceptedOf<E>(batch: readonly E[], rejected: { tooNewLogEventStartIndex?: number; tooOldLogEventEndIndex?: number; expiredLogEventEndIndex?: number } | undefined): readonly E[] {
  if (!rejected) return batch;
  const start = Math.max(rejected.tooOldLogEventEndIndex ?? -1, rejected.expiredLogEventEndIndex ?? -1) + 1;
  return batch.slice(start, rejected.tooNewLogEventStartIndex ?? batch.length);
}

/** A destination as the API shows it. */
function destinationShape(d: DestinationRecord): Logs.Destination {
  return { destinationName: d.destinationName, targetArn: d.targetArn, roleArn: d.roleArn, accessPolicy: d.accessPolicy, arn: d.arn, creationTime: d.creationTime };
}

export function logsHandlers(events: LogEventStore, queries: LogQueries, endpoints: SubscriptionEndpoints): Handlers<Logs.Operations> {
  /** The group named by a logGroupName / logGroupIdentifier pair, or ResourceNotFoundException. */
  const groupOf = (ctx: RequestContext, name: string | undefined, identifier: string | undefined) =>
    requireGroup(events, ctx.region, groupNameOf(ctx, name, identifier));

  return {
    async CreateLogGroup(input, ctx) {
      createLogGroup(events, ctx, {
        name: input.logGroupName,
        kmsKeyId: input.kmsKeyId,
        logGroupClass: input.logGroupClass,
        deletionProtection: input.deletionProtectionEnabled,
        tags: input.tags,
      });
      return {};
    },

    async DeleteLogGroup(input, ctx) {
      deleteLogGroup(events, ctx.region, input.logGroupName);
      await deleteGroupMetricFilters(ctx, input.logGroupName);
      await deleteGroupSubscriptionFilters(ctx, input.logGroupName);
      return {};
    },

    async DescribeLogGroups(input, ctx) {
      const limit = input.limit ?? 50;
      if (input.logGroupNamePrefix !== undefined && input.logGroupNamePattern !== undefined) {
        throw logsErrors.invalidParameter('LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.');
      }
      if (input.logGroupIdentifiers?.length) {
        const names = input.logGroupIdentifiers.map((r) => groupNameOfIdentifier(ctx, r));
        const groups = names.flatMap((n) => events.getGroup(ctx.region, n) ?? []).sort((a, b) => (a.name < b.name ? -1 : 1));
        return { logGroups: groups.map((g) => describeGroup(ctx, g)) };
      }
      const after = decodeToken<{ n: string }>(input.nextToken, (v) => typeof v.n === 'string');
      const rows = events
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
      putRetentionPolicy(events, ctx.region, input.logGroupName, input.retentionInDays);
      return {};
    },

    async DeleteRetentionPolicy(input, ctx) {
      deleteRetentionPolicy(events, ctx.region, input.logGroupName);
      return {};
    },

    async CreateLogStream(input, ctx) {
      createLogStream(events, ctx, input.logGroupName, input.logStreamName);
      return {};
    },

    async DeleteLogStream(input, ctx) {
      deleteLogStream(events, ctx.region, input.logGroupName, input.logStreamName);
      return {};
    },

    async DescribeLogStreams(input, ctx) {
      const g = groupOf(ctx, input.logGroupName, input.logGroupIdentifier);
      const orderBy = input.orderBy ?? 'LogStreamName';
      if (orderBy === 'LastEventTime' && input.logStreamNamePrefix !== undefined) {
        throw logsErrors.invalidParameter('Cannot order by LastEventTime with a logStreamNamePrefix.');
      }
      const limit = input.limit ?? 50;
      const after = decodeToken<{ name: string; lastTs: number }>(input.nextToken, (v) => typeof v.name === 'string' && typeof v.lastTs === 'number');
      const rows = events.listStreams(g.id, {
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
      const g = requireGroup(events, ctx.region, input.logGroupName);
      const s = requireStream(events, g, input.logStreamName);
      const r = putLogEvents(events, ctx.platform.clock.now(), g, s, input.logEvents);
      await applyMetricFilters(ctx, g.name, acceptedOf(input.logEvents, r.rejected));
      return { nextSequenceToken: sequenceToken(r.stream), rejectedLogEventsInfo: r.rejected };
    },

    async PutMetricFilter(input, ctx) {
      requireGroup(events, ctx.region, input.logGroupName);
      if (input.applyOnTransformedLogs || input.fieldSelectionCriteria !== undefined || input.emitSystemFieldDimensions?.length) {
        throw logsErrors.invalidParameter('Berth has no log transformers or system field dimensions: applyOnTransformedLogs, fieldSelectionCriteria and emitSystemFieldDimensions are not supported.');
      }
      await putMetricFilter(ctx, {
        filterName: input.filterName,
        logGroupName: input.logGroupName,
        filterPattern: input.filterPattern,
        metricTransformations: input.metricTransformations.map((t) => ({ metricName: t.metricName, metricNamespace: t.metricNamespace, metricValue: t.metricValue, defaultValue: t.defaultValue, dimensions: t.dimensions, unit: t.unit })),
      });
      return {};
    },

    async DescribeMetricFilters(input, ctx) {
      if (input.filterNamePrefix !== undefined && input.logGroupName === undefined) throw logsErrors.invalidParameter('filterNamePrefix requires logGroupName.');
      if ((input.metricName === undefined) !== (input.metricNamespace === undefined)) throw logsErrors.invalidParameter('metricName and metricNamespace must be given together.');
      const page = await describeMetricFilters(ctx, { ...input, token: input.nextToken, limit: input.limit ?? 50 });
      return { metricFilters: page.filters.map((f: MetricFilterRecord) => ({ ...f, metricTransformations: f.metricTransformations.map((t) => ({ ...t, unit: t.unit as Logs.StandardUnit | undefined })) })), nextToken: page.nextToken };
    },

    async DeleteMetricFilter(input, ctx) {
      requireGroup(events, ctx.region, input.logGroupName);
      await deleteMetricFilter(ctx, input.logGroupName, input.filterName);
      return {};
    },

    async TestMetricFilter(input) {
      const pattern = compileForApi(input.filterPattern);
      const matches: Logs.MetricFilterMatchRecord[] = [];
      input.logEventMessages.forEach((m, i) => {
        if (!pattern.matches(m)) return;
        const extractedValues: Record<string, string> = {};
        const fields = pattern.fields?.(m);
        // Space-delimited patterns report their named fields ($name).
        if (fields) for (const name of pattern.fieldNames ?? []) {
          const v = fields(`$${name}`);
          if (v !== undefined) extractedValues[`$${name}`] = v;
        }
        matches.push({ eventNumber: i + 1, eventMessage: m, extractedValues });
      });
      return { matches };
    },

    async GetLogEvents(input, ctx) {
      const g = groupOf(ctx, input.logGroupName, input.logGroupIdentifier);
      const s = requireStream(events, g, input.logStreamName);
      checkTime('startTime', input.startTime);
      checkTime('endTime', input.endTime);
      const limit = input.limit ?? 10_000;
      const common = { startTime: input.startTime, endTime: input.endTime, limit, maxBytes: MAX_RESPONSE_BYTES };
      const origin: EventPosition = { ts: 0, seq: 0 };
      let dir: 'f' | 'b';
      let pos: EventPosition | undefined;
      if (input.nextToken !== undefined) ({ dir, pos } = parsePositionToken(input.nextToken));
      else dir = input.startFromHead ? 'f' : 'b';
      const page =
        dir === 'f'
          ? events.readStream(s.id, { ...common, direction: 'forward', after: pos })
          : events.readStream(s.id, { ...common, direction: 'backward', before: pos });
      const first = page[0];
      const last = page[page.length - 1];
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
        events: page.map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime })),
        nextForwardToken: positionToken('f', fwd),
        nextBackwardToken: positionToken('b', back),
      };
    },

    async FilterLogEvents(input, ctx) {
      const g = groupOf(ctx, input.logGroupName, input.logGroupIdentifier);
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
      const r = searchLogEvents(events, g, {
        streamNames: input.logStreamNames,
        streamNamePrefix: input.logStreamNamePrefix,
        startTime: input.startTime,
        endTime: input.endTime,
        after: decodeToken<EventPosition>(input.nextToken, (v) => Number.isSafeInteger(v.ts) && Number.isSafeInteger(v.seq)),
        pattern: input.filterPattern,
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

    async PutSubscriptionFilter(input, ctx) {
      requireGroup(events, ctx.region, input.logGroupName);
      if (input.applyOnTransformedLogs || input.fieldSelectionCriteria !== undefined || input.emitSystemFields?.length) {
        throw logsErrors.invalidParameter('Berth has no log transformers or system fields: applyOnTransformedLogs, fieldSelectionCriteria and emitSystemFields are not supported.');
      }
      await putSubscriptionFilter(
        ctx,
        {
          filterName: input.filterName,
          logGroupName: input.logGroupName,
          filterPattern: input.filterPattern,
          destinationArn: input.destinationArn,
          roleArn: input.roleArn,
          distribution: input.distribution ?? 'ByLogStream',
        },
        (region, name) => events.getGroup(region, name) !== undefined,
        endpoints,
      );
      return {};
    },

    async DescribeSubscriptionFilters(input, ctx) {
      requireGroup(events, ctx.region, input.logGroupName);
      const page = await describeSubscriptionFilters(ctx, input.logGroupName, { prefix: input.filterNamePrefix, token: input.nextToken, limit: input.limit ?? 50 });
      return { subscriptionFilters: page.filters, nextToken: page.nextToken };
    },

    async DeleteSubscriptionFilter(input, ctx) {
      requireGroup(events, ctx.region, input.logGroupName);
      await deleteSubscriptionFilter(ctx, input.logGroupName, input.filterName);
      return {};
    },

    async PutDestination(input, ctx) {
      return { destination: destinationShape(await putDestination(ctx, input, endpoints)) };
    },

    async PutDestinationPolicy(input, ctx) {
      await putDestinationPolicy(ctx, input.destinationName, input.accessPolicy);
      return {};
    },

    async DescribeDestinations(input, ctx) {
      const page = await describeDestinations(ctx, { prefix: input.DestinationNamePrefix, token: input.nextToken, limit: input.limit ?? 50 });
      return { destinations: page.destinations.map(destinationShape), nextToken: page.nextToken };
    },

    async DeleteDestination(input, ctx) {
      await deleteDestination(ctx, input.destinationName);
      return {};
    },

    async PutResourcePolicy(input, ctx) {
      if (input.resourceArn !== undefined) throw logsErrors.invalidParameter('Berth keeps account-level resource policies only: resourceArn (a log group policy) is not supported.');
      if (input.policyName === undefined || input.policyDocument === undefined) throw logsErrors.invalidParameter('policyName and policyDocument are required for an account-level resource policy.');
      const p = await putResourcePolicy(ctx, input.policyName, input.policyDocument, input.expectedRevisionId);
      return { resourcePolicy: { ...p, policyScope: 'ACCOUNT' }, revisionId: p.revisionId };
    },

    async DescribeResourcePolicies(input, ctx) {
      if (input.resourceArn !== undefined || input.policyScope === 'RESOURCE') return { resourcePolicies: [] };
      const page = await describeResourcePolicies(ctx, { token: input.nextToken, limit: input.limit ?? 50 });
      return { resourcePolicies: page.policies.map((p) => ({ ...p, policyScope: 'ACCOUNT' as const })), nextToken: page.nextToken };
    },

    async DeleteResourcePolicy(input, ctx) {
      if (input.policyName === undefined) throw logsErrors.invalidParameter('policyName is required.');
      await deleteResourcePolicy(ctx, input.policyName, input.expectedRevisionId);
      return {};
    },

    async PutQueryDefinition(input, ctx) {
      const language = input.queryLanguage ?? 'CWLI';
      if (language !== 'CWLI') throw logsErrors.invalidParameter(`Berth runs Logs Insights QL (CWLI) queries only, not ${language}.`);
      if (input.parameters?.length) throw logsErrors.invalidParameter('Query parameters are not supported by Berth.');
      const id = await putQueryDefinition(ctx, { name: input.name, queryString: input.queryString, logGroupNames: input.logGroupNames, queryLanguage: language }, input.queryDefinitionId);
      return { queryDefinitionId: id };
    },

    async DescribeQueryDefinitions(input, ctx) {
      const page = await describeQueryDefinitions(ctx, { prefix: input.queryDefinitionNamePrefix, language: input.queryLanguage, token: input.nextToken, limit: input.maxResults ?? 1000 });
      return { queryDefinitions: page.definitions.map((d) => ({ ...d, queryLanguage: d.queryLanguage as Logs.QueryLanguage })), nextToken: page.nextToken };
    },

    async DeleteQueryDefinition(input, ctx) {
      await deleteQueryDefinition(ctx, input.queryDefinitionId);
      return { success: true };
    },

    async StartQuery(input, ctx) {
      if ((input.queryLanguage ?? 'CWLI') !== 'CWLI') throw logsErrors.invalidParameter(`Berth runs Logs Insights QL (CWLI) queries only, not ${input.queryLanguage}.`);
      const given = [input.logGroupName !== undefined, input.logGroupNames !== undefined, input.logGroupIdentifiers !== undefined].filter(Boolean).length;
      if (given !== 1) throw logsErrors.invalidParameter('Exactly one of logGroupName, logGroupNames and logGroupIdentifiers must be given (or use SOURCE in the query, which Berth does not support).');
      const names = input.logGroupName !== undefined ? [input.logGroupName] : input.logGroupNames ?? (input.logGroupIdentifiers ?? []).map((r) => groupNameOfIdentifier(ctx, r));
      if (names.length === 0 || names.length > MAX_QUERY_GROUPS) throw logsErrors.invalidParameter(`A query reads from 1 to ${MAX_QUERY_GROUPS} log groups; got ${names.length}.`);
      checkTime('startTime', input.startTime);
      checkTime('endTime', input.endTime);
      if (input.endTime < input.startTime) throw logsErrors.invalidParameter('endTime must be greater than or equal to startTime.');
      if (input.limit !== undefined && (input.limit < 1 || input.limit > 10_000)) throw logsErrors.invalidParameter('limit must be between 1 and 10000.');
      const groups = [...new Set(names)].map((n) => requireGroup(events, ctx.region, n));
      // Times are epoch seconds; the end second is included whole.
      const queryId = queries.start({ groups, startTime: input.startTime * 1000, endTime: input.endTime * 1000 + 999, queryString: input.queryString, limit: input.limit });
      return { queryId };
    },

    async GetQueryResults(input) {
      const q = queries.results(input.queryId);
      return { status: q.status, results: q.results, statistics: { ...q.statistics }, queryLanguage: 'CWLI' };
    },

    async StopQuery(input) {
      queries.stop(input.queryId);
      return { success: true };
    },

    async TagResource(input, ctx) {
      tagLogGroup(events, requireGroupByArn(events, ctx, input.resourceArn), input.tags);
      return {};
    },

    async UntagResource(input, ctx) {
      untagLogGroup(events, requireGroupByArn(events, ctx, input.resourceArn), input.tagKeys);
      return {};
    },

    async ListTagsForResource(input, ctx) {
      return { tags: requireGroupByArn(events, ctx, input.resourceArn).tags };
    },

    async TagLogGroup(input, ctx) {
      tagLogGroup(events, requireGroup(events, ctx.region, input.logGroupName), input.tags);
      return {};
    },

    async UntagLogGroup(input, ctx) {
      untagLogGroup(events, requireGroup(events, ctx.region, input.logGroupName), input.tags);
      return {};
    },

    async ListTagsLogGroup(input, ctx) {
      return { tags: requireGroup(events, ctx.region, input.logGroupName).tags };
    },
  };
}
