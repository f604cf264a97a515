// The console's entry: sign-in when there is no session, else the navigation bar and the page
// the URL names (every page a shareable URL under /console/).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { FunctionComponent } from 'preact';
import { csrf, navigate, post, principal, useLocation, ApiError } from './api';
import { Failure, Link, Loading } from './ui';
import { ClusterPage, ClustersPage, ServicePage, TaskPage } from './pages';
import { LogView } from './logs';
import './style.css';

/** A page whose code is a separate chunk, fetched when it is first shown (code splitting). */
function lazyPage<P extends object = {}>(load: () => Promise<FunctionComponent<P>>): FunctionComponent<P> {
  let loaded: FunctionComponent<P> | undefined;
  return function Lazy(props: P) {
    const [Page, setPage] = useState<FunctionComponent<P> | undefined>(() => loaded);
    const [error, setError] = useState<ApiError | undefined>();
    useEffect(() => {
      if (!loaded) load().then((p) => setPage(() => (loaded = p)), (e) => setError(new ApiError('LoadFailed', `This page's code did not load (${String(e)}); reload.`)));
    }, []);
    if (error) return <Failure error={error} />;
    return Page ? <Page {...props} /> : <Loading />;
  };
}

const LoadBalancersPage = lazyPage(() => import('./lb').then((m) => m.LoadBalancersPage));
const ParametersPage = lazyPage(() => import('./params').then((m) => m.ParametersPage));
const StacksPage = lazyPage(() => import('./stacks').then((m) => m.StacksPage));
const StackPage = lazyPage<{ stack: string }>(() => import('./stacks').then((m) => m.StackPage));
const RepositoriesPage = lazyPage(() => import('./registry').then((m) => m.RepositoriesPage));
const RepositoryPage = lazyPage<{ repository: string }>(() => import('./registry').then((m) => m.RepositoryPage));

function SignIn() {
  const [id, setId] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<ApiError | undefined>();
  return (
    <main class="signin">
      <h1>Berth console</h1>
      <form
        class="card"
        onSubmit={async (e) => {
          e.preventDefault();
          setError(undefined);
          try {
            await post('/console/api/signin', { accessKeyId: id, secretAccessKey: secret });
            location.reload();
          } catch (err) {
            setError(err as ApiError);
          }
        }}
      >
        <label>Access key id <input name="accessKeyId" autocomplete="username" required value={id} onInput={(e) => setId((e.target as HTMLInputElement).value)} /></label>
        <label>Secret access key <input name="secretAccessKey" type="password" autocomplete="current-password" required value={secret} onInput={(e) => setSecret((e.target as HTMLInputElement).value)} /></label>
        <button type="submit">Sign in</button>
        <Failure error={error} />
        <p class="small muted">Or run <code>berth console</code> for a one-time sign-in link.</p>
      </form>
    </main>
  );
}

function Route(props: { url: URL }) {
  const parts = props.url.pathname.replace(/^\/console\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return <ClustersPage />;
  if (parts[0] === 'clusters' && parts.length === 2) return <ClusterPage cluster={parts[1]!} />;
  if (parts[0] === 'clusters' && parts[2] === 'services' && parts.length === 4) return <ServicePage key={parts.join('/')} cluster={parts[1]!} service={parts[3]!} />;
  if (parts[0] === 'clusters' && parts[2] === 'tasks' && parts.length === 4) return <TaskPage key={parts.join('/')} cluster={parts[1]!} task={parts[3]!} />;
  if (parts[0] === 'logs') {
    const q = props.url.searchParams;
    return <><h1>Logs</h1><LogView cluster={q.get('cluster') ?? 'default'} service={q.get('service') ?? undefined} task={q.get('task') ?? undefined} /></>;
  }
  if (parts[0] === 'loadbalancers') return <LoadBalancersPage />;
  if (parts[0] === 'parameters') return <ParametersPage />;
  if (parts[0] === 'stacks' && parts.length === 1) return <StacksPage />;
  if (parts[0] === 'stacks' && parts.length === 2) return <StackPage key={parts[1]} stack={parts[1]!} />;
  if (parts[0] === 'repositories' && parts.length === 1) return <RepositoriesPage />;
  if (parts[0] === 'repositories' && parts.length === 2) return <RepositoryPage key={parts[1]} repository={parts[1]!} />;
  return <p>Nothing here. <Link href="/console/">Clusters</Link></p>;
}

function App() {
  const url = useLocation();
  if (!csrf) return <SignIn />;
  const here = (p: string) => (url.pathname.startsWith(p) ? 'here' : '');
  return (
    <>
      <nav>
        <Link href="/console/" class="brand">Berth</Link>
        <Link href="/console/" class={url.pathname === '/console/' || url.pathname.startsWith('/console/clusters') ? 'here' : ''}>Clusters</Link>
        <Link href="/console/loadbalancers" class={here('/console/loadbalancers')}>Load balancers</Link>
        <Link href="/console/parameters" class={here('/console/parameters')}>Parameters</Link>
        <Link href="/console/stacks" class={here('/console/stacks')}>Stacks</Link>
        <Link href="/console/repositories" class={here('/console/repositories')}>Repositories</Link>
        <span class="grow" />
        <span class="small muted" data-testid="principal">{principal}</span>
        <button class="small" onClick={async () => { await post('/console/api/signout', {}); navigate('/console/'); location.reload(); }}>Sign out</button>
      </nav>
      <main><Route url={url} /></main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
