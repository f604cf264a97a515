// SSM parameters: names and types listed, each value hidden until revealed (an action the
// server audits, made as the signed-in principal, so refused if it may not read it).
import { useState } from 'preact/hooks';
import { action, ApiError, time, useLive } from './api';
import { Failure, Loading, Section, Table } from './ui';

export function ParametersPage() {
  const { data, error } = useLive('parameters', {});
  const [shown, setShown] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<ApiError | undefined>();
  const reveal = async (name: string) => {
    setFailure(undefined);
    try {
      const r = await action('revealParameter', { name });
      setShown((s) => ({ ...s, [name]: r.value ?? '' }));
    } catch (e) {
      setFailure(e as ApiError);
    }
  };
  return (
    <>
      <h1>Parameters</h1>
      <Failure error={error ?? failure} />
      {!data ? <Loading /> : (
        <Section title={`${data.parameters.length} parameters`}>
          <Table head={['Name', 'Type', 'Version', 'Modified', 'Value']} testid="parameters">
            {data.parameters.map((p: any) => (
              <tr>
                <td>{p.name}</td><td>{p.type}</td><td>{p.version}</td><td class="small">{time(p.lastModified)}</td>
                <td>
                  {p.name in shown ? (
                    <><code data-testid="parameter-value">{shown[p.name]}</code> <button class="small" onClick={() => setShown((s) => { const n = { ...s }; delete n[p.name]; return n; })}>Hide</button></>
                  ) : (
                    <><span class="muted">••••••</span> <button class="small" onClick={() => reveal(p.name)}>Reveal</button></>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        </Section>
      )}
    </>
  );
}
