/**
 * Running Logs Insights queries (StartQuery / GetQueryResults / StopQuery) over this replica's
 * event store: each query scans its groups' events in the time range in chunks of
 * `CHUNK_EVENTS`, feeding the executor of ./insights.ts, and yields to the event loop between
 * chunks, so a large scan never blocks other requests. Work is bounded per query: at most
 * `MAX_RECORDS_SCANNED` events and `MAX_QUERY_MS` on the platform clock (then status `Timeout`),
 * at most `MAX_RUNNING` at once (LimitExceededException past it); finished queries' results are
 * kept for the last `KEEP_QUERIES` queries. Queries live in memory: a restarted Berth forgets them.
 */
import type { Clock } from '../../clock.js';
import { ServiceError } from '../../errors.js';
import { uuid } from '../common.js';
import type { LogEventStore, LogGroupRow } from './eventStore.js';
import { compileQuery, QuerySyntaxError, type CompiledQuery } from './insights.js';
import { QueryExecution, QueryLimitError } from './insightsExecution.js';
import { logsErrors } from './errors.js';

/** Events read per chunk (between two yields to the event loop). */
export const CHUNK_EVENTS = 2000;
/** Most events one query scans. */
export const MAX_RECORDS_SCANNED = 5_000_000;
/** Longest a query runs (AWS: 60 minutes; Berth scans one replica's store). */
export const MAX_QUERY_MS = 60_000;
/** Most queries running at once (AWS's quota: 30 concurrent queries). */
export const MAX_RUNNING = 30;
/** How many queries' results are kept. */
export const KEEP_QUERIES = 200;
/** Most log groups one query reads (AWS: 50). */
export const MAX_QUERY_GROUPS = 50;

export type QueryStatus = 'Scheduled' | 'Running' | 'Complete' | 'Failed' | 'Cancelled' | 'Timeout';

interface RunningQuery {
  id: string;
  status: QueryStatus;
  results: { field: string; value: string }[][];
  statistics: { recordsMatched: number; recordsScanned: number; bytesScanned: number; logGroupsScanned: number };
  /** Why it failed (server log only: the API has no field for it). */
  error?: string;
}

/** What StartQuery asks for, already resolved to groups. */
export interface QueryRequest {
  groups: LogGroupRow[];
  /** Epoch ms, inclusive. */
  startTime: number;
  endTime: number;
  queryString: string;
  /** Most result rows (default 1000, at most 10,000). */
  limit?: number;
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/** The queries of one running Berth. */
export class LogQueries {
  private readonly queries = new Map<string, RunningQuery>();
  private running = 0;

  constructor(
    private readonly events: LogEventStore,
    private readonly clock: Clock,
  ) {}

  /** Compiles and starts a query; MalformedQueryException or LimitExceededException before anything runs. */
  start(req: QueryRequest): string {
    let compiled: CompiledQuery;
    try {
      compiled = compileQuery(req.queryString);
    } catch (e) {
      if (e instanceof QuerySyntaxError) {
        throw new ServiceError('MalformedQueryException', `Query is malformed: ${e.message}`, 400, { queryCompileError: { message: e.message } });
      }
      throw e;
    }
    if (this.running >= MAX_RUNNING) throw logsErrors.limitExceeded(`${MAX_RUNNING} queries are running already, the most at once; wait for one to finish or stop one.`);
    const q: RunningQuery = { id: uuid(), status: 'Scheduled', results: [], statistics: { recordsMatched: 0, recordsScanned: 0, bytesScanned: 0, logGroupsScanned: 0 } };
    this.queries.set(q.id, q);
    // Forget the oldest finished queries past the bound.
    if (this.queries.size > KEEP_QUERIES) {
      for (const [id, old] of this.queries) {
        if (this.queries.size <= KEEP_QUERIES) break;
        if (old.status !== 'Running' && old.status !== 'Scheduled') this.queries.delete(id);
      }
    }
    this.running++;
    void this.run(q, compiled, req).finally(() => this.running--);
    return q.id;
  }

  private async run(q: RunningQuery, compiled: CompiledQuery, req: QueryRequest): Promise<void> {
    const exec = new QueryExecution(compiled, req.limit ?? 1000);
    const deadline = this.clock.now() + MAX_QUERY_MS;
    await yieldToEventLoop();
    if (q.status === 'Cancelled') return;
    q.status = 'Running';
    try {
      for (const g of req.groups) {
        q.statistics.logGroupsScanned++;
        let after: { ts: number; seq: number } | undefined;
        for (;;) {
          const chunk = this.events.filter(g.id, { startTime: req.startTime, endTime: req.endTime, after, requiredLiterals: [], match: () => true, limit: CHUNK_EVENTS, maxBytes: Number.MAX_SAFE_INTEGER });
          for (const e of chunk.events) {
            q.statistics.recordsScanned++;
            q.statistics.bytesScanned += Buffer.byteLength(e.message);
            exec.push({ '@timestamp': e.timestamp, '@message': e.message, '@logStream': e.streamName, '@log': `${g.name}`, '@ingestionTime': e.ingestionTime });
            if (exec.done) break;
          }
          q.statistics.recordsMatched = exec.matched;
          if (exec.done || !chunk.last) break;
          after = chunk.last;
          if (q.statistics.recordsScanned >= MAX_RECORDS_SCANNED) throw new QueryLimitError(`the query scanned ${MAX_RECORDS_SCANNED} records, the most one query may`);
          await yieldToEventLoop();
          if ((q.status as QueryStatus) === 'Cancelled') return;
          if (this.clock.now() > deadline) {
            q.status = 'Timeout';
            return;
          }
        }
        if (exec.done) break;
      }
      q.results = exec.finish();
      q.statistics.recordsMatched = exec.matched;
      q.status = 'Complete';
    } catch (e) {
      // A bound hit (QueryLimitError) or anything unexpected: the query fails, Berth carries on.
      q.status = 'Failed';
      q.error = e instanceof QueryLimitError ? e.message : String(e);
      if (!(e instanceof QueryLimitError)) console.error('berth: Logs Insights query failed:', e);
    }
  }

  /** GetQueryResults: the query's status, statistics and (once complete) results. */
  results(id: string): RunningQuery {
    const q = this.queries.get(id);
    if (!q) throw logsErrors.resourceNotFound(`Query ${id} does not exist (results are kept for the last ${KEEP_QUERIES} queries).`);
    return q;
  }

  /** StopQuery: a running query is cancelled; one that ended already is InvalidParameterException. */
  stop(id: string): void {
    const q = this.results(id);
    if (q.status !== 'Running' && q.status !== 'Scheduled') throw logsErrors.invalidParameter(`Query ${id} has already ended (${q.status}).`);
    q.status = 'Cancelled';
  }

  /** Forgets every query (the operator reset). */
  reset(): void {
    for (const q of this.queries.values()) if (q.status === 'Running' || q.status === 'Scheduled') q.status = 'Cancelled';
    this.queries.clear();
  }
}
