/**
 * The executor of compiled CloudWatch Logs Insights queries (./insights.ts parses them): pure
 * and incremental, fed records in order by `LogQueries` (./queries.ts).
 */
import { compare, fieldOf, formatTime, MAX_SORT_RECORDS, MAX_STATS_GROUPS, num, str, type CompiledQuery, type QueryRecord, type Stage, type Value } from './insights.js';

interface AggState {
  n: number;
  sum: number;
  min: Value;
  max: Value;
  distinct?: Set<string>;
}

/** Why a query stopped early. */
export class QueryLimitError extends Error {}

/**
 * Runs a compiled query over records fed in order (`push`), then `finish` gives the rows. The
 * stages before the first `stats` or `sort` run per record as it comes; a `limit` there ends the
 * scan early (`done`).
 */
export class QueryExecution {
  private readonly stream: Stage[];
  private readonly rest: Stage[];
  private readonly barrier: Stage | undefined;
  private readonly held: QueryRecord[] = [];
  private readonly groups = new Map<string, { keys: Value[]; aggs: AggState[] }>();
  /** Fields to show, in order (undefined: the default @timestamp, @message plus parsed fields). */
  private shown: string[] | undefined;
  private readonly parsedFields: string[] = [];
  private passed = 0;
  private streamLimit = Infinity;
  /** Records that passed the per-record stages. */
  matched = 0;

  constructor(
    q: CompiledQuery,
    private readonly maxRows: number,
  ) {
    const i = q.stages.findIndex((s) => s.kind === 'stats' || s.kind === 'sort');
    this.stream = i < 0 ? q.stages : q.stages.slice(0, i);
    this.barrier = i < 0 ? undefined : q.stages[i];
    this.rest = i < 0 ? [] : q.stages.slice(i + 1);
    for (const s of this.stream) {
      if (s.kind === 'limit') this.streamLimit = Math.min(this.streamLimit, s.n);
      if (s.kind === 'fields') this.shown = s.display ? s.items.map((x) => x.name) : [...(this.shown ?? []), ...s.items.map((x) => x.name)];
      if (s.kind === 'parse') this.parsedFields.push(...s.names.filter((n) => n));
    }
    if (!this.barrier) this.streamLimit = Math.min(this.streamLimit, maxRows);
  }

  /** Whether no more records can change the result. */
  get done(): boolean {
    return this.passed >= this.streamLimit;
  }

  /** Feeds one record (a fresh object the execution may change). */
  push(rec: QueryRecord): void {
    if (this.done) return;
    for (const s of this.stream) {
      if (!this.apply(s, rec)) return;
    }
    this.passed++;
    this.matched++;
    const b = this.barrier;
    if (!b) {
      this.held.push(rec);
    } else if (b.kind === 'stats') {
      this.accumulate(b, rec);
    } else {
      this.held.push(rec);
      const onlyLimitAfter = this.rest.every((s) => s.kind === 'limit' || (s.kind === 'fields'));
      const k = Math.min(this.maxRows, ...this.rest.filter((s): s is Extract<Stage, { kind: 'limit' }> => s.kind === 'limit').map((s) => s.n));
      if (onlyLimitAfter && this.held.length >= 2 * k + 1000) {
        sortRecords(this.held, b as Extract<Stage, { kind: 'sort' }>);
        this.held.length = k;
      } else if (!onlyLimitAfter && this.held.length > MAX_SORT_RECORDS) {
        throw new QueryLimitError(`the query sorts more than ${MAX_SORT_RECORDS} records; narrow the time range or filter first`);
      }
    }
  }

  /** Applies a per-record stage; false drops the record. */
  private apply(s: Stage, rec: QueryRecord): boolean {
    switch (s.kind) {
      case 'filter':
        return !!s.expr.eval(rec);
      case 'fields':
        for (const it of s.items) if (it.expr.field !== it.name || !(it.name in rec)) rec[it.name] = it.expr.eval(rec);
        return true;
      case 'parse': {
        const m = s.re.exec(str(s.source.eval(rec)));
        if (m) s.names.forEach((n, i) => n && m[i + 1] !== undefined && (rec[n] = m[i + 1]));
        return true;
      }
      case 'limit':
        return true;
      default:
        return true;
    }
  }

  private accumulate(s: Extract<Stage, { kind: 'stats' }>, rec: QueryRecord): void {
    const keys = s.by.map((b) => b.expr.eval(rec));
    const id = JSON.stringify(keys);
    let g = this.groups.get(id);
    if (!g) {
      if (this.groups.size >= MAX_STATS_GROUPS) throw new QueryLimitError(`stats makes more than ${MAX_STATS_GROUPS} groups; group by fewer values or a wider bin()`);
      g = { keys, aggs: s.aggs.map(() => ({ n: 0, sum: 0, min: undefined, max: undefined })) };
      this.groups.set(id, g);
    }
    s.aggs.forEach(({ agg }, i) => {
      const st = g!.aggs[i]!;
      if (!agg.arg) {
        st.n++;
        return;
      }
      const v = agg.arg.eval(rec);
      if (v === undefined) return;
      if (agg.fn === 'count') {
        st.n++;
      } else if (agg.fn === 'count_distinct') {
        st.distinct ??= new Set();
        if (st.distinct.size < 100_000) st.distinct.add(str(v));
      } else if (agg.fn === 'min' || agg.fn === 'max') {
        const c = st.n === 0 ? undefined : compare(v, agg.fn === 'min' ? st.min : st.max);
        if (st.n === 0 || (c !== undefined && (agg.fn === 'min' ? c < 0 : c > 0))) agg.fn === 'min' ? (st.min = v) : (st.max = v);
        st.n++;
      } else {
        const x = num(v);
        if (x === undefined) return;
        st.n++;
        st.sum += x;
      }
    });
  }

  /** The result rows, each as (field, value) pairs in display order. */
  finish(): { field: string; value: string }[][] {
    let rows: QueryRecord[];
    let columns: string[];
    const b = this.barrier;
    if (b && b.kind === 'stats') {
      rows = [];
      for (const g of this.groups.values()) {
        const row: QueryRecord = {};
        b.by.forEach((x, i) => (row[x.name] = g.keys[i]));
        b.aggs.forEach(({ agg, name }, i) => {
          const st = g.aggs[i]!;
          row[name] = agg.fn === 'count' ? st.n : agg.fn === 'count_distinct' ? st.distinct?.size ?? 0 : agg.fn === 'sum' ? st.sum : agg.fn === 'avg' ? (st.n ? st.sum / st.n : undefined) : agg.fn === 'min' ? st.min : st.max;
        });
        rows.push(row);
      }
      // Groups by a time bin come out in time order, as AWS shows them.
      rows.sort((x, y) => {
        for (const k of b.by) {
          const c = compare(x[k.name], y[k.name]) ?? 0;
          if (c) return c;
        }
        return 0;
      });
      columns = [...b.by.map((x) => x.name), ...b.aggs.map((x) => x.name)];
    } else {
      rows = this.held;
      if (b && b.kind === 'sort') sortRecords(rows, b);
      columns = this.shown ?? ['@timestamp', '@message', ...this.parsedFields];
    }
    for (const s of this.rest) {
      if (s.kind === 'sort') sortRecords(rows, s);
      else if (s.kind === 'limit') rows = rows.slice(0, s.n);
      else if (s.kind === 'filter') rows = rows.filter((r) => !!s.expr.eval(r));
      else if (s.kind === 'fields') {
        for (const r of rows) this.apply(s, r);
        columns = s.display ? s.items.map((x) => x.name) : [...new Set([...columns, ...s.items.map((x) => x.name)])];
      } else if (s.kind === 'parse') {
        for (const r of rows) this.apply(s, r);
      } else if (s.kind === 'stats') {
        throw new QueryLimitError('Berth runs one stats command per query');
      }
    }
    rows = rows.slice(0, this.maxRows);
    return rows.map((r) =>
      columns.flatMap((c) => {
        const v = fieldOf(r, c);
        if (v === undefined) return [];
        return [{ field: c, value: c === '@timestamp' || c === '@ingestionTime' ? (typeof v === 'number' ? formatTime(v) : str(v)) : str(v) }];
      }),
    );
  }
}

function sortRecords(rows: QueryRecord[], s: Extract<Stage, { kind: 'sort' }>): void {
  rows.sort((x, y) => {
    for (const k of s.keys) {
      const a = k.expr.eval(x);
      const b = k.expr.eval(y);
      if (a === undefined && b === undefined) continue;
      if (a === undefined) return 1;
      if (b === undefined) return -1;
      const c = compare(a, b) ?? 0;
      if (c) return k.desc ? -c : c;
    }
    return 0;
  });
}
