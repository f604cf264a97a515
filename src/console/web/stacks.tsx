// CloudFormation stacks: the list, and a stack's status, parameters (NoEcho ones hidden: the
// server never has their values), outputs, resources and events (newest first). Live views.
import { time, useLive } from './api';
import { Badge, Failure, Link, Loading, Section, Table } from './ui';

const enc = encodeURIComponent;

export function StacksPage() {
  const { data, error } = useLive('stacks', {});
  return (
    <>
      <h1>Stacks</h1>
      <Failure error={error} />
      {!data ? <Loading /> : (
        <Section title={`${data.stacks.length} stacks`}>
          <Table head={['Stack', 'Status', 'Reason', 'Created', 'Updated']} testid="stacks">
            {data.stacks.map((s: any) => (
              <tr>
                <td><Link href={`/console/stacks/${enc(s.name)}`}>{s.name}</Link>{s.description ? <div class="small muted">{s.description}</div> : null}</td>
                <td><Badge value={s.status} /></td>
                <td class="small">{s.reason ?? ''}</td>
                <td class="small">{time(s.createdAt)}</td>
                <td class="small">{time(s.updatedAt)}</td>
              </tr>
            ))}
          </Table>
        </Section>
      )}
    </>
  );
}

export function StackPage(props: { stack: string }) {
  const { data, error } = useLive('stack', { stack: props.stack });
  const s = data?.stack;
  return (
    <>
      <h1>Stack {props.stack} <span class="muted small"><Link href="/console/stacks">all stacks</Link></span></h1>
      <Failure error={error} />
      {!data ? <Loading /> : (
        <>
          <div class="stats">
            <div><Badge value={s.status} testid="stack-status" />status</div>
            <div><b>{data.resources.length}</b>resources</div>
            <div><b>{time(s.createdAt)}</b>created</div>
            {s.updatedAt ? <div><b>{time(s.updatedAt)}</b>updated</div> : null}
            {s.reason ? <div class="small">{s.reason}</div> : null}
          </div>
          {s.description ? <p class="muted">{s.description}</p> : null}
          <Section title="Parameters">
            <Table head={['Key', 'Value']} testid="stack-parameters">
              {data.parameters.map((p: any) => (
                <tr>
                  <td>{p.key}</td>
                  <td>{p.hidden ? <span class="muted" data-testid="noecho">hidden (NoEcho)</span> : <><code>{p.value}</code>{p.resolved !== undefined ? <span class="small muted"> → {p.resolved}</span> : null}</>}</td>
                </tr>
              ))}
            </Table>
          </Section>
          <Section title="Outputs">
            <Table head={['Key', 'Value', 'Export', 'Description']} testid="stack-outputs">
              {data.outputs.map((o: any) => <tr><td>{o.key}</td><td class="mono">{o.value}</td><td>{o.exportName ?? ''}</td><td class="small">{o.description ?? ''}</td></tr>)}
            </Table>
          </Section>
          <Section title="Resources">
            <Table head={['Logical id', 'Type', 'Physical id', 'Status', 'Reason']} testid="stack-resources">
              {data.resources.map((r: any) => (
                <tr><td>{r.logicalId}</td><td class="small">{r.type}</td><td class="small mono">{r.physicalId ?? ''}</td><td><Badge value={r.status} /></td><td class="small">{r.reason ?? ''}</td></tr>
              ))}
            </Table>
          </Section>
          <Section title="Events" testid="stack-events">
            <Table head={['Time', 'Logical id', 'Type', 'Status', 'Reason']}>
              {data.events.map((e: any) => (
                <tr data-testid="stack-event"><td class="small">{time(e.at)}</td><td>{e.logicalId}</td><td class="small">{e.type}</td><td><Badge value={e.status} /></td><td class="small">{e.reason ?? ''}</td></tr>
              ))}
            </Table>
          </Section>
        </>
      )}
    </>
  );
}
