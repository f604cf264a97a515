// Small shared pieces: links that navigate in place, status badges, tables, errors.
import type { ComponentChildren } from 'preact';
import { navigate } from './api';

/** A link to a console URL, followed without a reload (and shareable as it is). */
export function Link(props: { href: string; children: ComponentChildren; class?: string; testid?: string }) {
  return (
    <a
      href={props.href}
      class={props.class}
      data-testid={props.testid}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}

const TONES: Record<string, string> = {
  COMPLETED: 'ok', RUNNING: 'ok', ACTIVE: 'ok', HEALTHY: 'ok', healthy: 'ok', PRIMARY: 'info',
  IN_PROGRESS: 'warn', PENDING: 'warn', PROVISIONING: 'warn', ACTIVATING: 'warn', DRAINING: 'warn', initial: 'warn', draining: 'warn', DEACTIVATING: 'warn', STOPPING: 'warn',
  FAILED: 'bad', STOPPED: 'muted', UNHEALTHY: 'bad', unhealthy: 'bad', INACTIVE: 'muted', unused: 'muted', UNKNOWN: 'muted',
};

/** A status word, coloured by what it means. */
export function Badge(props: { value?: string; testid?: string }) {
  if (!props.value) return null;
  return <span class={`badge ${TONES[props.value] ?? 'muted'}`} data-testid={props.testid}>{props.value}</span>;
}

/** An error answer, said plainly. */
export function Failure(props: { error?: { code: string; message: string } }) {
  if (!props.error) return null;
  return <p class="failure" role="alert"><strong>{props.error.code}</strong>: {props.error.message}</p>;
}

/** A titled section. */
export function Section(props: { title: string; children: ComponentChildren; actions?: ComponentChildren; testid?: string }) {
  return (
    <section class="card" data-testid={props.testid}>
      <header><h2>{props.title}</h2>{props.actions}</header>
      {props.children}
    </section>
  );
}

/** A table that scrolls sideways on a narrow screen. */
export function Table(props: { head: string[]; children: ComponentChildren; testid?: string }) {
  return (
    <div class="scroll">
      <table data-testid={props.testid}>
        <thead><tr>{props.head.map((h) => <th>{h}</th>)}</tr></thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

/** "Loading..." until a live view's first answer. */
export function Loading() {
  return <p class="muted">Loading…</p>;
}
