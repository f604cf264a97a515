/**
 * The steps a stack operation is made of (operation.ts sequences them): each resource's create
 * and delete, recorded (resource record + event, durably) before and after its provider is
 * called; independent resources run together (`inParallel`, at most `concurrency` at a time);
 * records and events of steps in flight share commits (`commitTogether`). Also what a provider
 * is given (`providerContext`: the invoker acting as the stack's operator, the clock, the
 * stack's presigned signal URLs).
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock.js';
import type { ServiceInvoker } from '../../domain/invoker.js';
import type { CallerPrincipal } from '../../domain/iam/credentials.js';
import type { Platform, Scope } from '../../domain/platform.js';
import type { Store, Write } from '../../store/types.js';
import { includedResources, parameterValues, readTemplate, resourceProperties, stackContext } from '../../domain/cloudformation/engine.js';
import type { ResourceRecord, ResourceSnapshot, StackDefinition, StackRecord, StackStatus } from '../../domain/cloudformation/records.js';
import { eventWrite, exportValue, getStack, resourceWrite, transitionStack } from '../../domain/cloudformation/stacks.js';
import { evaluate, type EvalContext } from '../../domain/cloudformation/template/evaluate.js';
import { resourceDependencies, referencesOf } from '../../domain/cloudformation/template/graph.js';
import type { Template } from '../../domain/cloudformation/template/template.js';
import { providerFor, unsupportedReason } from './providers/index.js';
import type { ProviderContext } from './providers/types.js';
import { stackSignals, type SignalSettings } from './signalPort.js';


/** What an operation runs with. */
export interface OperationEnv {
  platform: Platform;
  invoker: ServiceInvoker;
  clock: Clock;
  signal: AbortSignal;
  /** Most resources worked on at once per stack. */
  concurrency: number;
  stabilizeTimeoutMs: number;
  /** Where nested stacks' `file://` templates may live (ProviderContext.templateDirs). */
  templateDirs: readonly string[];
  /** Where signal URLs point and what signs them; absent: WaitConditionHandles and custom resources fail saying so. */
  signals?: SignalSettings;
}

/** A failure whose message is already the reason the stack records. */
export class StackFailure extends Error {}

const RANDOM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export function plannedName(stackName: string, logicalId: string): string {
  const bytes = randomBytes(12);
  const suffix = [...bytes].map((b) => RANDOM[b % RANDOM.length]).join('');
  return `${stackName}-${logicalId}-${suffix}`;
}

export function snapshot(r: ResourceRecord): ResourceSnapshot {
  return { type: r.type, physicalId: r.physicalId, plannedName: r.plannedName, status: r.status, properties: r.properties, attributes: r.attributes, notes: r.notes, deletionPolicy: r.deletionPolicy, updateReplacePolicy: r.updateReplacePolicy };
}

export function errorText(e: unknown): string {
  const code = (e as { code?: string })?.code;
  const msg = String((e as Error)?.message ?? e).slice(0, 900);
  return code && code !== 'ValidationError' ? `${msg} (Service: ${code})` : msg;
}

/** The records and steps one stack operation works with; the operation itself extends it. */
export abstract class StackSteps {
  protected readonly store: Store;
  protected resources = new Map<string, ResourceRecord>();

  constructor(
    protected readonly env: OperationEnv,
    protected readonly scope: Scope,
  ) {
    this.store = scope.platform.store;
  }

  // ---- plumbing ----

  protected async setStatus(s: StackRecord, status: StackStatus, reason: string | undefined, opts: { done?: boolean; patch?: Partial<StackRecord>; extra?: Write[] } = {}): Promise<StackRecord> {
    const cur = await getStack(this.scope, s.stackId);
    const next: StackRecord = { ...cur.value, ...opts.patch, status, statusReason: reason };
    await transitionStack(this.scope, cur, next, { now: this.env.clock.now(), reason, done: opts.done, extra: opts.extra });
    return next;
  }

  /** Records a resource's new status and its event (after `earlier`, events that come first), durably. */
  protected async record(s: StackRecord, r: ResourceRecord, status: ResourceRecord['status'], reason?: string, earlier: Write[] = []): Promise<void> {
    r.status = status;
    r.statusReason = reason;
    r.lastUpdated = this.env.clock.now();
    this.resources.set(r.logicalId, r);
    // A snapshot: the record may change again before another step's writes join this commit.
    const value = structuredClone(r);
    await this.commitTogether([...earlier, resourceWrite(value), eventWrite(s, r.lastUpdated, { logicalResourceId: r.logicalId, physicalResourceId: r.physicalId ?? '', resourceType: r.type, resourceStatus: status, resourceStatusReason: reason })]);
  }

  protected resourceEvent(s: StackRecord, r: { logicalId: string; physicalId?: string; type: string }, status: string, reason?: string): Write {
    return eventWrite(s, this.env.clock.now(), { logicalResourceId: r.logicalId, physicalResourceId: r.physicalId ?? '', resourceType: r.type, resourceStatus: status, resourceStatusReason: reason });
  }

  protected async event(s: StackRecord, r: { logicalId: string; physicalId?: string; type: string }, status: string, reason?: string): Promise<void> {
    await this.commitTogether([this.resourceEvent(s, r, status, reason)]);
  }

  protected pending: Write[] = [];
  protected flush: Promise<void> | undefined;

  /**
   * Commits `writes` in one durable commit with whatever the operation's other resource steps
   * write in the same turn of the event loop (a group commit: with one fsync per commit, ten
   * resources in flight cost one commit per step instead of ten). Resolves once on disk, so a
   * step still records its planned name before it calls its provider.
   */
  protected commitTogether(writes: Write[]): Promise<void> {
    this.pending.push(...writes);
    this.flush ??= new Promise<void>((resolve, reject) =>
      setImmediate(() => {
        const batch = this.pending;
        this.pending = [];
        this.flush = undefined;
        this.store.commit(batch).then(() => resolve(), reject);
      }),
    );
    return this.flush;
  }

  /** What a provider works with; `calls` (when given) counts the API calls through it that succeeded. */
  protected providerContext(s: StackRecord, logicalId: string, planned: string, calls?: { succeeded: number }, resumedFrom?: number): ProviderContext {
    return {
      scope: this.scope,
      invoker: actingAs(this.env.invoker, s.operator, calls),
      clock: this.env.clock,
      signal: this.env.signal,
      stackId: s.stackId,
      stackName: s.stackName,
      logicalId,
      plannedName: planned,
      tags: s.tags,
      stabilizeTimeoutMs: this.env.stabilizeTimeoutMs,
      templateDirs: this.env.templateDirs,
      resourceType: this.resources.get(logicalId)?.type ?? '',
      startedAt: resumedFrom ?? this.env.clock.now(),
      resumed: resumedFrom !== undefined,
      signals: stackSignals(this.scope, this.env.clock, this.env.signal, this.env.signals, s.stackId, logicalId),
    };
  }

  protected context(t: Template, s: StackRecord, def: StackDefinition, imports?: Set<string>): EvalContext {
    return stackContext(t, {
      identity: { stackId: s.stackId, stackName: s.stackName, region: s.region, accountId: this.scope.platform.accountId, notificationARNs: s.notificationARNs },
      parameters: parameterValues(t, def),
      resources: (id) => {
        const r = this.resources.get(id);
        return r?.physicalId && r.status !== 'DELETE_COMPLETE' ? { ref: r.physicalId, attributes: r.attributes } : undefined;
      },
      importValue: (name) => {
        imports?.add(name);
        return this.importCache.get(name);
      },
    });
  }

  protected readonly importCache = new Map<string, string>();
  /**
   * Reads the exports the template imports into the cache `importValue` answers from. A computed
   * name (`Fn::ImportValue: !Sub '${EnvironmentName}:VpcId'`) is evaluated with the stack's
   * parameters first (an import's name cannot depend on a resource, as on CloudFormation).
   */
  protected async loadImports(t: Template, ctx: EvalContext): Promise<void> {
    const names = new Set<string>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        const arg = o['Fn::ImportValue'];
        if (typeof arg === 'string') names.add(arg);
        else if (arg !== undefined) {
          try {
            const name = evaluate(arg, ctx);
            if (typeof name === 'string') names.add(name);
          } catch {
            // Not computable from parameters alone: the evaluation proper reports it.
          }
        }
        Object.values(o).forEach(walk);
      }
    };
    walk(t.Resources);
    walk(t.Outputs);
    for (const n of names) {
      const e = await exportValue(this.scope, this.scope.region, n);
      if (e) this.importCache.set(n, e.value);
    }
  }

  /**
   * Runs `step` for each of `ids` once the ids it waits for (`waitsFor`) are done, at most
   * `concurrency` at once. Stops starting new steps after the first failure; returns the
   * failures (logical id → reason) once the running steps end.
   */
  protected async inParallel(ids: string[], waitsFor: (id: string) => Set<string>, step: (id: string) => Promise<void>): Promise<Map<string, string>> {
    const failed = new Map<string, string>();
    const done = new Set<string>();
    const started = new Set<string>();
    const running = new Set<Promise<void>>();
    const idSet = new Set(ids);
    const waits = new Map<string, string[]>();
    const waitsOn = (id: string) => waits.get(id) ?? waits.set(id, [...waitsFor(id)].filter((d) => idSet.has(d))).get(id)!;
    while (true) {
      if (!failed.size && !this.env.signal.aborted) {
        for (const id of ids) {
          if (running.size >= this.env.concurrency) break;
          if (started.has(id)) continue;
          if (waitsOn(id).some((d) => !done.has(d))) continue;
          started.add(id);
          const p: Promise<void> = step(id)
            .then(() => void done.add(id))
            .catch((e) => void failed.set(id, e instanceof StackFailure ? e.message : errorText(e)))
            .finally(() => running.delete(p));
          running.add(p);
        }
      }
      if (!running.size) break;
      await Promise.race(running);
    }
    if (this.env.signal.aborted) throw new Error('the stack worker stopped');
    if (!failed.size && done.size < ids.length) for (const id of ids) if (!done.has(id)) failed.set(id, 'a resource it depends on was not created');
    return failed;
  }


  /**
   * The stack's template read and evaluated for a create or an update: the template, the
   * evaluation context, the resources its conditions include (in template order) and how each
   * depends on the others. Throws what makes the template unusable.
   */
  protected async prepare(s: StackRecord): Promise<{ t: Template; ctx: EvalContext; order: string[]; imports: Set<string>; deps: (id: string) => Set<string> }> {
    const imports = new Set<string>();
    const t = readTemplate(s.templateBody);
    const ctx = this.context(t, s, s, imports);
    await this.loadImports(t, ctx);
    const order = includedResources(t, ctx);
    return { t, ctx, order, imports, deps: (id: string) => resourceDependencies(id, t.Resources[id]!, t.Resources) };
  }

  /**
   * Creates one resource (a new one, or the replacement of `replacing`), recording each step.
   * `resume`: a create of this resource that a restart interrupted is run again with its planned
   * name and start time, if its provider is `resumable`.
   */
  protected async createResource(s: StackRecord, t: Template, ctx: EvalContext, id: string, replacing: ResourceRecord | null, before?: ResourceSnapshot | null, resume = false): Promise<void> {
    const decl = t.Resources[id]!;
    const earlier = this.resources.get(id);
    const resumed = resume && !replacing && earlier?.status === 'CREATE_IN_PROGRESS' && earlier.type === decl.Type && providerFor(decl.Type)?.resumable ? earlier : undefined;
    const planned = resumed?.plannedName ?? plannedName(s.stackName, id);
    const startedAt = resumed?.lastUpdated ?? this.env.clock.now();
    const r: ResourceRecord = {
      stackId: s.stackId,
      logicalId: id,
      type: decl.Type,
      plannedName: planned,
      status: 'CREATE_IN_PROGRESS',
      properties: {},
      attributes: {},
      deletionPolicy: decl.DeletionPolicy,
      updateReplacePolicy: decl.UpdateReplacePolicy,
      lastUpdated: this.env.clock.now(),
      before: replacing ? snapshot(replacing) : before,
      replaced: replacing ? [...(replacing.replaced ?? []), snapshot(replacing)] : undefined,
    };
    const provider = providerFor(decl.Type);
    if (!provider) {
      await this.record(s, r, 'CREATE_FAILED', unsupportedReason(decl.Type));
      throw new StackFailure(unsupportedReason(decl.Type));
    }
    try {
      r.properties = resourceProperties(t, id, ctx);
    } catch (e) {
      await this.record(s, r, 'CREATE_FAILED', errorText(e));
      throw new StackFailure(errorText(e));
    }
    if (resumed) {
      // The record keeps its first start (a second restart resumes from the same deadline).
      r.lastUpdated = startedAt;
      this.resources.set(id, r);
      await this.event(s, r, 'CREATE_IN_PROGRESS', 'Resumed after Berth restarted');
    } else {
      await this.record(s, r, 'CREATE_IN_PROGRESS', replacing ? 'Requested update requires the creation of a new physical resource; hence creating one.' : undefined);
    }
    const calls = { succeeded: resumed ? 1 : 0 };
    try {
      const made = await provider.create(r.properties, this.providerContext(s, id, planned, calls, resumed ? startedAt : undefined));
      r.physicalId = made.physicalId;
      r.attributes = made.attributes;
      r.notes = made.notes;
    } catch (e) {
      // Not one API call went through (the first was refused, say for want of permission):
      // nothing was made, so a rollback has nothing to delete (as AWS skips a resource that
      // failed without a physical id). Providers make everything through ctx.invoker.
      if (calls.succeeded === 0) r.plannedName = undefined;
      await this.record(s, r, 'CREATE_FAILED', errorText(e));
      throw new StackFailure(errorText(e));
    }
    await this.record(s, r, replacing ? 'UPDATE_COMPLETE' : 'CREATE_COMPLETE', undefined, [this.resourceEvent(s, r, 'CREATE_IN_PROGRESS', 'Resource creation Initiated')]);
  }


  /**
   * Deletes the stack's resources, dependents first (from the references recorded between
   * them and the template's DependsOn). `honourRetain`: Retain policies and RetainResources
   * keep a resource (DELETE_SKIPPED). Returns the failures.
   */
  protected async deleteAll(s: StackRecord, honourRetain: boolean): Promise<Map<string, string>> {
    const live = [...this.resources.values()].filter((r) => r.status !== 'DELETE_COMPLETE' && r.status !== 'DELETE_SKIPPED');
    const ids = live.map((r) => r.logicalId);
    let t: Template | undefined;
    try {
      t = readTemplate(s.templateBody);
    } catch {
      t = undefined;
    }
    // A resource waits until every resource that depends on it is gone.
    const dependents = new Map<string, Set<string>>(ids.map((i) => [i, new Set<string>()]));
    for (const r of live) {
      const decl = t?.Resources[r.logicalId];
      const on = decl && t ? resourceDependencies(r.logicalId, decl, t.Resources) : new Set<string>();
      for (const x of referencesOf(r.properties)) on.add(x.name);
      for (const d of on) dependents.get(d)?.add(r.logicalId);
    }
    for (const r of live) for (const p of JSON.stringify(r.properties).matchAll(/arn:aws:[^"]+/g)) for (const o of live) if (o.physicalId && o !== r && p[0] === o.physicalId) dependents.get(o.logicalId)!.add(r.logicalId);
    return this.inParallel(ids, (id) => dependents.get(id)!, async (id) => {
      const r = this.resources.get(id)!;
      if (honourRetain && (r.deletionPolicy === 'Retain' || r.deletionPolicy === 'RetainExceptOnCreate' || s.retainResources?.includes(id))) {
        await this.record(s, r, 'DELETE_SKIPPED');
        return;
      }
      await this.deleteResource(s, r);
    });
  }

  protected async deleteResource(s: StackRecord, r: ResourceRecord): Promise<void> {
    const provider = providerFor(r.type);
    // Never created (failed before its provider ran, or no provider): nothing to delete.
    if (!provider || (!r.physicalId && r.status === 'CREATE_FAILED' && !r.plannedName)) {
      await this.record(s, r, 'DELETE_COMPLETE');
      return;
    }
    await this.record(s, r, 'DELETE_IN_PROGRESS');
    try {
      await provider.delete(r.physicalId, r.properties, this.providerContext(s, r.logicalId, r.plannedName ?? ''), r.notes ?? {});
    } catch (e) {
      await this.record(s, r, 'DELETE_FAILED', errorText(e));
      throw new StackFailure(errorText(e));
    }
    await this.record(s, r, 'DELETE_COMPLETE');
  }

  protected async deleteSnapshot(s: StackRecord, logicalId: string, old: ResourceSnapshot): Promise<void> {
    const provider = providerFor(old.type);
    if (!provider) return;
    await this.event(s, { logicalId, physicalId: old.physicalId, type: old.type }, 'DELETE_IN_PROGRESS');
    try {
      await provider.delete(old.physicalId, old.properties, this.providerContext(s, logicalId, old.plannedName ?? ''), old.notes ?? {});
      await this.event(s, { logicalId, physicalId: old.physicalId, type: old.type }, 'DELETE_COMPLETE');
    } catch (e) {
      await this.event(s, { logicalId, physicalId: old.physicalId, type: old.type }, 'DELETE_FAILED', errorText(e));
    }
  }
}

/**
 * The invoker a stack's providers call through: every call is made as the stack's operator
 * (its service role's session, or whoever started the operation) and authorized by IAM like a
 * signed request, so a stack can do no more than the principal behind it; root when none.
 */
function actingAs(invoker: ServiceInvoker, operator: CallerPrincipal | undefined, calls?: { succeeded: number }): ServiceInvoker {
  if (!operator && !calls) return invoker;
  return {
    async call(scope, service, operation, input, as) {
      const out = await invoker.call<never>(scope, service, operation, input, as ?? operator);
      if (calls) calls.succeeded++;
      return out;
    },
  };
}
