/**
 * What a resource provider is: how CloudFormation creates, updates and deletes one resource
 * type, by calling Berth's own API operations through the `ServiceInvoker` port (never the
 * tables). One folder per AWS service (ecs/, elbv2/, ...), each exporting its providers by
 * resource type; index.ts assembles the registry.
 */
import type { Clock } from '../../../clock.js';
import type { ServiceInvoker } from '../../../domain/invoker.js';
import type { Scope } from '../../../domain/platform.js';
import type { StackSignals } from '../signalPort.js';

/** What a provider gets for one call. */
export interface ProviderContext {
  scope: Scope;
  /**
   * Berth's API, called as the stack's operator (its service role's session, or whoever started
   * the operation; root for root) and authorized by IAM like a signed request. A provider makes
   * everything through it: a create that fails before any call succeeds is taken to have made
   * nothing (a rollback skips it).
   */
  invoker: ServiceInvoker;
  clock: Clock;
  /** Aborted when the worker stops (shutdown, lost lease): long waits end early. */
  signal: AbortSignal;
  stackId: string;
  stackName: string;
  logicalId: string;
  /** The resource's type (`Custom::Thing`...). */
  resourceType: string;
  /**
   * The physical name chosen for this resource before it was created (a name the template did
   * not give): `<stack>-<logical id>-<random>`, cut to the service's limits by `nameWithin`.
   */
  plannedName: string;
  /** The stack's tags (propagated to resources that take tags). */
  tags: Array<{ Key: string; Value: string }>;
  /** How long a provider may wait for its resource to become stable. */
  stabilizeTimeoutMs: number;
  /**
   * Directories whose templates a nested stack's `file://` TemplateURL may name (the Berth's
   * BERTH_CFN_TEMPLATE_DIRS); empty: nested stacks cannot read templates.
   */
  templateDirs: readonly string[];
  /**
   * When this resource's step began: for a create resumed after a restart (a `resumable`
   * provider), when the first attempt began, so deadlines run from there.
   */
  startedAt: number;
  /** Whether this create resumes one a restart interrupted (same planned name and start). */
  resumed: boolean;
  /** Presigned signal URLs for this resource and what they received (WaitCondition, custom resources). */
  signals: StackSignals;
}

/** What a created or updated resource is: its Ref value, its GetAtt attributes, and notes kept for later calls. */
export interface ProvidedResource {
  physicalId: string;
  attributes: Record<string, unknown>;
  notes?: Record<string, unknown>;
}

/** How one resource type is created, updated and deleted. */
export interface ResourceProvider {
  create(props: Record<string, unknown>, ctx: ProviderContext): Promise<ProvidedResource>;
  /**
   * Updates the resource in place (a change the schema does not mark as replacing). Absent:
   * every change replaces the resource.
   */
  update?(physicalId: string, props: Record<string, unknown>, before: Record<string, unknown>, ctx: ProviderContext, notes: Record<string, unknown>): Promise<ProvidedResource>;
  /**
   * Deletes the resource; one already gone is not an error. `physicalId` is undefined when a
   * create was interrupted before its id was recorded: the provider then finds it by the
   * planned name (or the name in `props`), so nothing is left behind.
   */
  delete(physicalId: string | undefined, props: Record<string, unknown>, ctx: ProviderContext, notes: Record<string, unknown>): Promise<void>;
  /**
   * Whether a create interrupted by a restart may simply be run again (same planned name and
   * `startedAt`) instead of rolling the stack back: the provider picks up where it was (a wait
   * condition waits on; a custom resource waits for the response to the same request).
   */
  resumable?: boolean;
}

/** The name a provider gives a resource the template did not name: the planned name cut to `max` characters, keeping its random end. */
export function nameWithin(planned: string, max: number): string {
  if (planned.length <= max) return planned;
  const suffix = planned.slice(planned.lastIndexOf('-'));
  return planned.slice(0, max - suffix.length).replace(/-+$/, '') + suffix;
}

/** Whether an error is the service saying the resource does not exist (delete of something gone). */
export function isNotFound(e: unknown): boolean {
  const code = (e as { code?: string })?.code ?? '';
  const msg = String((e as Error)?.message ?? '');
  return /NotFound|NoSuch|ResourceNotFoundException|ParameterNotFound/.test(code) || (code === 'ClientException' && /not found|does not exist|MISSING|inactive/i.test(msg)) || /ServiceNotFoundException|ClusterNotFoundException/.test(code);
}

/** Runs a delete, treating "not found" as done. */
export async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/** Tags in the `Key`/`Value` form, the stack's own first then the resource's (the resource's win). */
export function mergedTags(stackTags: Array<{ Key: string; Value: string }>, own: unknown): Array<{ Key: string; Value: string }> {
  const out = new Map<string, string>();
  for (const t of stackTags) out.set(t.Key, t.Value);
  if (Array.isArray(own)) for (const t of own as Array<{ Key?: unknown; Value?: unknown }>) if (typeof t?.Key === 'string') out.set(t.Key, String(t.Value ?? ''));
  return [...out].map(([Key, Value]) => ({ Key, Value }));
}
