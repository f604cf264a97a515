// Live log tail of a task or a service (server-sent events), with a CloudWatch filter pattern,
// a time range, and a download of what matches. Lines are batched per animation frame and only
// the newest MAX_SHOWN stay in the page, so a fast writer does not stall it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { qs } from './api';

/** Lines kept on the page (older ones scroll away). */
const MAX_SHOWN = 1000;

interface Line { t: number; task: string; container: string; message: string }

function localInput(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms - new Date().getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

export function LogView(props: { cluster: string; service?: string; task?: string }) {
  const [filter, setFilter] = useState('');
  const [applied, setApplied] = useState('');
  const [start, setStart] = useState<number | undefined>(undefined);
  const [end, setEnd] = useState<number | undefined>(undefined);
  const [lines, setLines] = useState<Line[]>([]);
  const [received, setReceived] = useState(0);
  const [state, setState] = useState<'connecting' | 'live' | 'done' | 'failed'>('connecting');
  const [failure, setFailure] = useState<string | undefined>();
  const pending = useRef<Line[]>([]);
  const box = useRef<HTMLDivElement>(null);
  const params = { cluster: props.cluster, service: props.service, task: props.task, filter: applied, start, end };
  const query = qs(params);

  useEffect(() => {
    setLines([]);
    setReceived(0);
    setFailure(undefined);
    setState('connecting');
    pending.current = [];
    let frame = 0;
    let total = 0;
    const flush = () => {
      frame = 0;
      const add = pending.current;
      pending.current = [];
      total += add.length;
      setReceived(total);
      setLines((old) => {
        const next = old.length + add.length > MAX_SHOWN ? [...old, ...add].slice(-MAX_SHOWN) : [...old, ...add];
        return next;
      });
    };
    const es = new EventSource(`/console/api/logs?${query}`);
    es.addEventListener('lines', (e) => {
      for (const l of JSON.parse((e as MessageEvent).data) as Line[]) pending.current.push(l);
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
    if (b && b.scrollHeight - b.scrollTop - b.clientHeight < 80) b.scrollTop = b.scrollHeight;
  }, [lines]);

  const many = props.service !== undefined;
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
        <span data-testid="log-state">{state}</span> · <span data-testid="log-count">{received}</span> lines{applied ? <> matching <code>{applied}</code></> : null}
      </div>
      {failure ? <p class="failure" role="alert" data-testid="log-failure">{failure}</p> : null}
      <div class="logbox" ref={box} data-testid="log-lines">
        {lines.map((l) => (
          <div class="line"><span class="muted">{new Date(l.t).toLocaleTimeString()}</span> <span class="src">{many ? `${l.container}/${l.task.slice(0, 6)}` : l.container}</span> <span class="msg">{l.message}</span></div>
        ))}
      </div>
    </div>
  );
}
