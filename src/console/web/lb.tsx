// Load balancers (listeners, rules in priority order) and target groups (target health, and
// charts of requests, 2xx/4xx/5xx and response time p50/p99 from Berth's metrics ring).
import { useEffect, useState } from 'preact/hooks';
import { get, useLive } from './api';
import { Badge, Failure, Loading, Section, Table } from './ui';

interface Point { t: number; requests: number; http2xx: number; http4xx: number; http5xx: number; p50?: number; p99?: number }

const W = 320;
const H = 90;

/** A line chart of some series of the points (no library: one SVG). */
function Chart(props: { title: string; points: Point[]; series: Array<{ key: keyof Point; color: string; label: string }>; unit?: string; testid?: string }) {
  const { points } = props;
  const max = Math.max(1, ...points.flatMap((p) => props.series.map((s) => Number(p[s.key] ?? 0))));
  const x = (i: number) => (points.length <= 1 ? W : (i / (points.length - 1)) * W);
  const y = (v: number) => H - (v / max) * (H - 4) - 2;
  return (
    <figure class="chart" data-testid={props.testid}>
      <figcaption>{props.title} <span class="muted small">max {Math.round(max * 100) / 100}{props.unit ?? ''}</span></figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={props.title}>
        {props.series.map((s) => (
          <polyline fill="none" stroke={s.color} stroke-width="2" vector-effect="non-scaling-stroke" points={points.map((p, i) => `${x(i).toFixed(1)},${y(Number(p[s.key] ?? 0)).toFixed(1)}`).join(' ')} />
        ))}
      </svg>
      <div class="legend small">
        {props.series.map((s) => {
          const total = points.reduce((a, p) => a + Number(p[s.key] ?? 0), 0);
          const last = points.length ? points[points.length - 1]![s.key] : undefined;
          return <span><i style={{ background: s.color }} />{s.label}: <b data-testid={`${props.testid}-${String(s.key)}`}>{props.unit ? (last ?? '–') : total}</b></span>;
        })}
      </div>
    </figure>
  );
}

function TargetGroupCharts(props: { arn: string }) {
  const [points, setPoints] = useState<Point[]>([]);
  useEffect(() => {
    let stop = false;
    let timer = 0;
    const load = async () => {
      try {
        const r = await get(`/console/api/metrics?targetGroup=${encodeURIComponent(props.arn)}`);
        if (stop) return;
        setPoints(r.points);
        timer = window.setTimeout(load, r.intervalMs);
      } catch {
        if (!stop) timer = window.setTimeout(load, 5000);
      }
    };
    void load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [props.arn]);
  return (
    <div class="charts">
      <Chart title="Requests" testid="chart-requests" points={points} series={[{ key: 'requests', color: '#3b82f6', label: 'requests' }]} />
      <Chart title="Responses by class" testid="chart-codes" points={points} series={[{ key: 'http2xx', color: '#16a34a', label: '2xx' }, { key: 'http4xx', color: '#d97706', label: '4xx' }, { key: 'http5xx', color: '#dc2626', label: '5xx' }]} />
      <Chart title="Target response time" testid="chart-latency" unit=" ms" points={points} series={[{ key: 'p50', color: '#6366f1', label: 'p50' }, { key: 'p99', color: '#db2777', label: 'p99' }]} />
    </div>
  );
}

export function LoadBalancersPage() {
  const { data, error } = useLive('loadbalancers', {});
  return (
    <>
      <h1>Load balancers</h1>
      <Failure error={error} />
      {!data ? <Loading /> : (
        <>
          {data.loadBalancers.map((lb: any) => (
            <Section title={`Load balancer ${lb.name}`}>
              <p class="small muted">{lb.dns} <Badge value={lb.state} /></p>
              {lb.listeners.map((l: any) => (
                <>
                  <h3>{l.protocol} :{l.port}</h3>
                  <Table head={['Priority', 'Conditions', 'Actions']}>
                    {l.rules.map((r: any) => <tr><td>{r.priority}</td><td>{r.conditions.join('; ') || 'any request'}</td><td>{r.actions.join(', ')}</td></tr>)}
                  </Table>
                </>
              ))}
            </Section>
          ))}
          {data.targetGroups.map((tg: any) => (
            <Section title={`Target group ${tg.name}`} testid={`tg-${tg.name}`}>
              <p class="small muted">{tg.protocol} :{tg.port} · health check {tg.healthCheckPath}</p>
              <Table head={['Target', 'Port', 'Health', 'Reason']} testid="targets">
                {tg.targets.map((t: any) => <tr><td>{t.id}</td><td>{t.port}</td><td><Badge value={t.state} /></td><td class="small">{t.reason ? `${t.reason}: ${t.description ?? ''}` : ''}</td></tr>)}
              </Table>
              <TargetGroupCharts arn={tg.arn} />
            </Section>
          ))}
          {data.loadBalancers.length + data.targetGroups.length === 0 ? <p class="muted">No load balancers or target groups.</p> : null}
        </>
      )}
    </>
  );
}
