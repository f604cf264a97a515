// Live log tail of a task or a service (server-sent events), with a CloudWatch filter pattern,
// a time range, and a download of what matches. A fast writer must not stall the page:
// - lines from the stream are queued and applied once per animation frame (one render a frame,
//   however many SSE messages came in between);
// - the page keeps the newest MAX_KEPT lines in memory and draws only the rows in view (a
//   virtualized list of fixed-height rows), so the DOM stays a few dozen rows whatever the rate;
// - when lines are dropped from memory, a marker says exactly how many (download has them all).
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { qs } from './api';

/** Lines kept in memory (older ones are dropped, and counted). */
const MAX_KEPT = 50_000;
/** Each row's height in pixels (the style sheet's .logbox line height). */
const ROW_PX = 17;
/** Rows drawn above and below the visible ones. */
const OVERSCAN = 10;

interface Line { t: number; task: string; container: string; message: string }

function localInput(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms - new Date().getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** The lines received, the newest MAX_KEPT of them kept; `dropped` counts the rest. */
class LineBuffer {
  lines: Line[] = [];
  dropped = 0;

  add(more: Line[]): void {
    for (const l of more) this.lines.push(l);
    const over = this.lines.length - MAX_KEPT;
    if (over > 0) {
      this.lines.splice(0, over);
      this.dropped += over;
    }
  }

  get received(): number {
    return this.dropped + this.lines.length;
  }
}

export function LogView(props: { cluster: string; service?: string; task?: string }) {
  const [filter, setFilter] = useState('');
  const [applied, setApplied] = useState('');
  const [start, setStart] = useState<number | undefined>(undefined);
  const [end, setEnd] = useState<number | undefined>(undefined);
  // Bumped once per frame that added lines (the buffer itself is not state: no copies).
  const [, setVersion] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(360);
  const [state, setState] = useState<'connecting' | 'live' | 'done' | 'failed'>('connecting');
  const [failure, setFailure] = useState<string | undefined>();
  const buffer = useRef(new LineBuffer());
  const follow = useRef(true);
  const box = useRef<HTMLDivElement>(null);
  const params = { cluster: props.cluster, service: props.service, task: props.task, filter: applied, start, end };
  const query = qs(params);

  useEffect(() => {
    buffer.current = new LineBuffer();
    follow.current = true;
    setVersion((v) => v + 1);
    setFailure(undefined);
    setState('connecting');
    let pending: Line[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      buffer.current.add(pending);
      pending = [];
      setVersion((v) => v + 1);
    };
    const es = new EventSource(`/console/api/logs?${query}`);
    es.addEventListener('lines', (e) => {
      for (const l of JSON.parse((e as MessageEvent).data) as Line[]) pending.push(l);
      frame ||= requestAnimationFrame(flush);
    });
    es.addEventListener('caught-up', () => setState(end === undefined ? 'live' : 'done'));
    es.addEventListener('failure', (e) => {
      setFailure(JSON.parse((e as MessageEvent).data).message);
      setState('failed');
      es.close();
    });
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) setState((s) => (s === 'failed' ? s : 'done'));
    };
    return () => {
      es.close();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [query]);

  useEffect(() => {
    const b = box.current;
    if (!b) return;
    const measure = () => setHeight(b.clientHeight || 360);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(b);
    return () => ro.disconnect();
  }, []);

  const { lines, dropped } = buffer.current;
  const total = lines.length * ROW_PX;
  // Following the tail: keep the view at the bottom as lines come in.
  useLayoutEffect(() => {
    const b = box.current;
    if (b && follow.current && b.scrollTop !== b.scrollHeight - b.clientHeight) b.scrollTop = b.scrollHeight;
  });

  const top = follow.current ? Math.max(0, total - height) : scrollTop;
  const first = Math.max(0, Math.floor(top / ROW_PX) - OVERSCAN);
  const last = Math.min(lines.length, Math.ceil((top + height) / ROW_PX) + OVERSCAN);
  const many = props.service !== undefined;
  const rows = [];
  for (let i = first; i < last; i++) {
    const l = lines[i]!;
    rows.push(
      <div class="line" key={dropped + i} data-i={dropped + i} style={{ top: `${i * ROW_PX}px` }}>
        <span class="muted">{new Date(l.t).toLocaleTimeString()}</span> <span class="src">{many ? `${l.container}/${l.task.slice(0, 6)}` : l.container}</span> <span class="msg">{l.message}</span>
      </div>,
    );
  }
  return (
    <div class="logs">
      <form class="actions" onSubmit={(e) => { e.preventDefault(); setApplied(filter.trim()); }}>
        <input type="search" class="grow" placeholder='Filter pattern, e.g. ERROR or "connection refused" or { $.level = "error" }' aria-label="Filter pattern" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        <button type="submit">Filter</button>
        <label>From <input type="datetime-local" aria-label="From" value={localInput(start)} onChange={(e) => { const v = (e.target as HTMLInputElement).value; setStart(v ? new Date(v).getTime() : undefined); }} /></label>
        <label>To <input type="datetime-local" aria-label="To" value={localInput(end)} onChange={(e) => { const v = (e.target as HTMLInputElement).value; setEnd(v ? new Date(v).getTime() : undefined); }} /></label>
        <a class="button" href={`/console/api/logs?${qs({ ...params, download: 1 })}`} download>Download</a>
      </form>
      <div class="small muted">
        <span data-testid="log-state">{state}</span> · <span data-testid="log-count">{buffer.current.received}</span> lines{applied ? <> matching <code>{applied}</code></> : null}
        {follow.current ? null : <> · <button type="button" class="small" onClick={() => { follow.current = true; setVersion((v) => v + 1); }}>Follow</button></>}
      </div>
      {failure ? <p class="failure" role="alert" data-testid="log-failure">{failure}</p> : null}
      {dropped > 0 ? (
        <p class="small dropped" data-testid="log-dropped" data-dropped={dropped}>
          {dropped} earlier lines dropped from this page (it keeps the newest {MAX_KEPT.toLocaleString('en')}); Download has them all.
        </p>
      ) : null}
      <div
        class="logbox"
        ref={box}
        data-testid="log-lines"
        onScroll={(e) => {
          const b = e.currentTarget as HTMLDivElement;
          // At the bottom (give or take a row): follow; scrolled up: stay where the reader is.
          follow.current = b.scrollHeight - b.scrollTop - b.clientHeight < ROW_PX;
          setScrollTop(b.scrollTop);
        }}
      >
        <div class="rows" style={{ height: `${total}px` }}>{rows}</div>
      </div>
    </div>
  );
}
