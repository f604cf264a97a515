// ECR repositories: the list, and a repository's images (tags, digest, size, pushed at),
// newest first. Live views.
import { time, useLive } from './api';
import { Badge, Failure, Link, Loading, Section, Table } from './ui';

const enc = encodeURIComponent;

/** Bytes as a person reads them. */
export function bytes(n: number | undefined): string {
  if (n === undefined || n === null) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export function RepositoriesPage() {
  const { data, error } = useLive('repositories', {});
  return (
    <>
      <h1>Repositories</h1>
      <Failure error={error} />
      {!data ? <Loading /> : (
        <Section title={`${data.repositories.length} repositories`}>
          <Table head={['Repository', 'URI', 'Tags', 'Scan on push', 'Created']} testid="repositories">
            {data.repositories.map((r: any) => (
              <tr>
                <td><Link href={`/console/repositories/${enc(r.name)}`}>{r.name}</Link></td>
                <td class="small mono">{r.uri}</td>
                <td><Badge value={r.tagMutability} /></td>
                <td>{r.scanOnPush ? 'yes' : 'no'}</td>
                <td class="small">{time(r.createdAt)}</td>
              </tr>
            ))}
          </Table>
        </Section>
      )}
    </>
  );
}

export function RepositoryPage(props: { repository: string }) {
  const { data, error } = useLive('repository', { repository: props.repository });
  const r = data?.repository;
  return (
    <>
      <h1>Repository {props.repository} <span class="muted small"><Link href="/console/repositories">all repositories</Link></span></h1>
      <Failure error={error} />
      {!data ? <Loading /> : (
        <>
          <div class="stats">
            <div><b data-testid="image-count">{data.images.length}</b>images</div>
            <div><b>{r.tagMutability}</b>tags</div>
            <div><b>{time(r.createdAt)}</b>created</div>
          </div>
          <p class="small mono">{r.uri}</p>
          <Section title="Images">
            <Table head={['Tags', 'Digest', 'Size', 'Pushed at', 'Type']} testid="images">
              {data.images.map((i: any) => (
                <tr data-testid="image">
                  <td>{i.tags.length ? i.tags.map((t: string) => <span class="badge info" data-testid="image-tag">{t}</span>) : <span class="muted">untagged</span>}</td>
                  <td class="small mono" title={i.digest} data-testid="image-digest">{i.digest.slice(0, 19)}…</td>
                  <td data-testid="image-size">{bytes(i.size)}</td>
                  <td class="small">{time(i.pushedAt)}</td>
                  <td class="small muted">{i.artifactType ?? i.mediaType}</td>
                </tr>
              ))}
            </Table>
          </Section>
        </>
      )}
    </>
  );
}
