// The ECS pages: clusters, a cluster (instances and services), a service (deployments, events,
// tasks, actions) and a task (containers, environment, logs). Each is a live view.
import { useState } from 'preact/hooks';
import { action, time, useLive, ApiError } from './api';
import { Badge, Failure, Link, Loading, Section, Table } from './ui';
import { LogView } from './logs';

const enc = encodeURIComponent;

export function ClustersPage() {
  const { data, error } = useLive('clusters', {});
  return (
    <>
      <h1>Clusters</h1>
      <Failure error={error} />
      {!data ? <Loading /> : (
        <Section title={`${data.clusters.length} clusters`}>
          <Table head={['Cluster', 'Status', 'Instances', 'Services', 'Running', 'Pending']} testid="clusters">
            {data.clusters.map((c: any) => (
              <tr>
                <td><Link href={`/console/clusters/${enc(c.name)}`}>{c.name}</Link></td>
                <td><Badge value={c.status} /></td>
                <td>{c.instances}</td><td>{c.services}</td><td>{c.running}</td><td>{c.pending}</td>
              </tr>
            ))}
          </Table>
        </Section>
      )}
    </>
  );
}

export function ClusterPage(props: { cluster: string }) {
  const { data, error } = useLive('cluster', { cluster: props.cluster });
  const [find, setFind] = useState('');
  return (
    <>
      <h1>Cluster {props.cluster}</h1>
      <Failure error={error} />
      {!data ? <Loading /> : (
        <>
          <Section title="Services" actions={<input type="search" placeholder="Find a service" aria-label="Find a service" value={find} onInput={(e) => setFind((e.target as HTMLInputElement).value)} />}>
            <Table head={['Service', 'Status', 'Desired', 'Running', 'Pending', 'Task definition', 'Rollout']} testid="services">
              {data.services.filter((s: any) => s.name.toLowerCase().includes(find.toLowerCase())).map((s: any) => (
                <tr>
                  <td><Link href={`/console/clusters/${enc(props.cluster)}/services/${enc(s.name)}`}>{s.name}</Link></td>
                  <td><Badge value={s.status} /></td>
                  <td>{s.desired}</td><td>{s.running}</td><td>{s.pending}</td><td>{s.taskDefinition}</td>
                  <td><Badge value={s.rollout} /></td>
                </tr>
              ))}
            </Table>
          </Section>
          <Section title="Container instances">
            <Table head={['Instance', 'Status', 'Agent', 'Tasks', 'CPU free / total', 'Memory free / total', 'Attributes']} testid="instances">
              {data.instances.map((i: any) => (
                <tr>
                  <td title={i.id}>{i.ec2InstanceId ?? i.id.slice(0, 12)}</td>
                  <td><Badge value={i.status} /></td>
                  <td><Badge value={i.agentConnected ? 'connected' : 'disconnected'} /></td>
                  <td>{i.running} running{i.pending ? `, ${i.pending} pending` : ''}</td>
                  <td><Meter free={i.cpu.free} total={i.cpu.registered} /></td>
                  <td><Meter free={i.memory.free} total={i.memory.registered} unit=" MiB" /></td>
                  <td class="small">{i.attributes.map((a: any) => `${a.name}${a.value ? `=${a.value}` : ''}`).join(', ')}</td>
                </tr>
              ))}
            </Table>
          </Section>
        </>
      )}
    </>
  );
}

function Meter(props: { free?: number; total?: number; unit?: string }) {
  if (props.total === undefined) return null;
  const used = props.total - (props.free ?? 0);
  return (
    <span class="meter" title={`${used} used`}>
      <span class="bar"><span style={{ width: `${props.total ? Math.round((used / props.total) * 100) : 0}%` }} /></span>
      {props.free} / {props.total}{props.unit ?? ''}
    </span>
  );
}

/** Runs an action, showing what it is doing and any refusal. */
function useAction(): { busy: boolean; error?: ApiError; run: (name: string, body: Record<string, unknown>) => Promise<any> } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  return {
    busy,
    error,
    async run(name, body) {
      setBusy(true);
      setError(undefined);
      try {
        return await action(name, body);
      } catch (e) {
        setError(e instanceof ApiError ? e : new ApiError('Error', String(e)));
      } finally {
        setBusy(false);
      }
    },
  };
}

export function ServicePage(props: { cluster: string; service: string }) {
  const { data, error } = useLive('service', { cluster: props.cluster, service: props.service });
  const act = useAction();
  const [count, setCount] = useState<string>('');
  const [revision, setRevision] = useState<string>('');
  const base = { cluster: props.cluster, service: props.service };
  const s = data?.service;
  return (
    <>
      <h1>Service {props.service} <span class="muted small">in <Link href={`/console/clusters/${enc(props.cluster)}`}>{props.cluster}</Link></span></h1>
      <Failure error={error} />
      <Failure error={act.error} />
      {!data ? <Loading /> : (
        <>
          <div class="stats" data-testid="counts">
            <div><b data-testid="desired">{s.desired}</b>desired</div>
            <div><b data-testid="running">{s.running}</b>running</div>
            <div><b data-testid="pending">{s.pending}</b>pending</div>
            <div><b>{s.taskDefinition}</b>task definition</div>
            <div><Badge value={s.status} />{s.circuitBreaker?.enable ? <span class="small">circuit breaker{s.circuitBreaker.rollback ? ' + rollback' : ''}</span> : null}</div>
          </div>
          <Section title="Actions">
            <form class="actions" onSubmit={(e) => { e.preventDefault(); const n = Number(count); if (count !== '' && Number.isInteger(n)) void act.run('scale', { ...base, desiredCount: n }).then(() => setCount('')); }}>
              <label>Desired count <input type="number" min="0" max="5000" name="desiredCount" value={count} placeholder={String(s.desired)} onInput={(e) => setCount((e.target as HTMLInputElement).value)} /></label>
              <button type="submit" disabled={act.busy}>Scale</button>
            </form>
            <div class="actions">
              <button disabled={act.busy} onClick={() => act.run('forceNewDeployment', base)}>Force new deployment</button>
              <label>Revision <select value={revision} onChange={(e) => setRevision((e.target as HTMLSelectElement).value)} aria-label="Revision">
                <option value="">choose…</option>
                {data.revisions.map((r: string) => <option value={r}>{r}</option>)}
              </select></label>
              <button disabled={act.busy || !revision} onClick={() => act.run('updateRevision', { ...base, taskDefinition: revision })}>Update</button>
              <button disabled={act.busy} onClick={() => confirm(`Roll ${props.service} back to the revision before ${s.taskDefinition}?`) && act.run('rollBack', base)}>Roll back</button>
            </div>
          </Section>
          <Section title="Deployments" testid="deployments">
            <ol class="timeline">
              {data.deployments.map((d: any) => (
                <li class={d.status === 'PRIMARY' ? 'primary' : ''} data-testid="deployment" data-rollout={d.rolloutState}>
                  <div><Badge value={d.status} /> <Badge value={d.rolloutState} testid="rollout" /> <b>{d.taskDefinition}</b> <span class="muted small">{time(d.createdAt)}</span></div>
                  <div class="small">{d.running} running · {d.pending} pending · {d.desired} desired{d.failed ? ` · ${d.failed} failed` : ''}</div>
                  {d.rolloutStateReason ? <div class="small muted">{d.rolloutStateReason}</div> : null}
                </li>
              ))}
            </ol>
          </Section>
          <Section title="Tasks">
            <Table head={['Task', 'Status', 'Health', 'Revision', 'Ports', 'Started', '']} testid="tasks">
              {data.tasks.map((t: any) => (
                <tr>
                  <td><Link href={`/console/clusters/${enc(props.cluster)}/tasks/${t.id}`} testid="task-link">{t.id.slice(0, 12)}</Link></td>
                  <td><Badge value={t.lastStatus} />{t.stoppedReason ? <div class="small muted">{t.stoppedReason}</div> : null}</td>
                  <td><Badge value={t.health} /></td>
                  <td>{t.revision}</td>
                  <td>{t.ports.map((p: any) => `${p.hostPort}→${p.containerPort}`).join(', ')}</td>
                  <td class="small">{time(t.startedAt)}</td>
                  <td>{t.lastStatus !== 'STOPPED' && t.desiredStatus !== 'STOPPED' ? <button class="small" disabled={act.busy} onClick={() => act.run('stopTask', { cluster: props.cluster, task: t.id })}>Stop</button> : null}</td>
                </tr>
              ))}
            </Table>
          </Section>
          <Section title="Events" testid="events">
            <ul class="events">
              {data.events.slice(0, 20).map((e: any) => <li><span class="muted small">{time(e.createdAt)}</span> {e.message}</li>)}
            </ul>
          </Section>
          <Section title="Logs"><LogView cluster={props.cluster} service={props.service} /></Section>
        </>
      )}
    </>
  );
}

export function TaskPage(props: { cluster: string; task: string }) {
  const { data, error } = useLive('task', { cluster: props.cluster, task: props.task });
  const t = data?.task;
  return (
    <>
      <h1>Task {props.task.slice(0, 12)} <span class="muted small">in <Link href={`/console/clusters/${enc(props.cluster)}`}>{props.cluster}</Link></span></h1>
      <Failure error={error} />
      {!data ? <Loading /> : (
        <>
          <div class="stats">
            <div><Badge value={t.lastStatus} testid="task-status" />status</div>
            <div><Badge value={t.health} />health</div>
            <div><b>{t.taskDefinition}</b>task definition</div>
            <div><b>{t.group}</b>group</div>
            {t.stoppedReason ? <div><b>{t.stopCode}</b>{t.stoppedReason}</div> : null}
          </div>
          <Section title="Containers">
            <Table head={['Container', 'Image', 'Status', 'Health', 'Exit code', 'Reason', 'Ports']} testid="containers">
              {data.containers.map((c: any) => (
                <tr>
                  <td>{c.name}{c.essential ? '' : <span class="muted small"> (not essential)</span>}</td>
                  <td class="small">{c.image}</td>
                  <td><Badge value={c.lastStatus} /></td>
                  <td><Badge value={c.health} /></td>
                  <td>{c.exitCode ?? ''}</td>
                  <td class="small">{c.reason ?? ''}</td>
                  <td>{c.ports.map((p: any) => `${p.hostPort}→${p.containerPort}/${p.protocol}`).join(', ')}</td>
                </tr>
              ))}
            </Table>
          </Section>
          <Section title="Environment">
            <Table head={['Container', 'Name', 'Value']} testid="environment">
              {data.containers.flatMap((c: any) => [
                ...c.environment.map((e: any) => <tr><td>{c.name}</td><td>{e.name}</td><td class="mono">{e.value}</td></tr>),
                ...c.secrets.map((e: any) => <tr><td>{c.name}</td><td>{e.name}</td><td class="muted">secret from {e.from}</td></tr>),
              ])}
            </Table>
          </Section>
          <Section title="Logs"><LogView cluster={props.cluster} task={props.task} /></Section>
        </>
      )}
    </>
  );
}
