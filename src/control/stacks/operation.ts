/**
 * One stack operation, performed from what the store says, so a restarted worker resumes it:
 * create (then rollback on failure), update (replace or update in place as the resource
 * schemas say, cleanup of replaced and removed resources; update rollback on failure) and
 * delete. Independent resources run together, at most `concurrency` at a time. Every resource
 * step is recorded (resource record + event) before and after it calls its provider; an
 * operation found half-done after a restart (its run is gone) is failed and rolled back, and
 * resources caught mid-create are deleted by the name chosen for them before the call.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock.js';
import type { ServiceInvoker } from '../../domain/invoker.js';
import type { CallerPrincipal } from '../../domain/iam/credentials.js';
import type { Platform, Scope } from '../../domain/platform.js';
import type { Store, Write } from '../../store/types.js';
import { cfnErrors } from '../../domain/cloudformation/errors.js';
import { evaluateOutputs, includedResources, parameterValues, readTemplate, resourceProperties, stackContext } from '../../domain/cloudformation/engine.js';
import type { ResourceRecord, ResourceSnapshot, StackDefinition, StackRecord, StackStatus } from '../../domain/cloudformation/records.js';
import { eventWrite, exportValue, exportWrites, getStack, resourceWrite, stackResources, transitionStack } from '../../domain/cloudformation/stacks.js';
import { evaluate, type EvalContext } from '../../domain/cloudformation/template/evaluate.js';
import { resourceDependencies, referencesOf } from '../../domain/cloudformation/template/graph.js';
import { compareProperties } from '../../domain/cloudformation/template/spec.js';
import type { Template } from '../../domain/cloudformation/template/template.js';
import { providerFor, unsupportedReason } from './providers/index.js';
import type { ProviderContext } from './providers/types.js';

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
}

class StackFailure extends Error {}

const RANDOM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
function plannedName(stackName: string, logicalId: string): string {
  const bytes = randomBytes(12);
  const suffix = [...bytes].map((b) => RANDOM[b % RANDOM.length]).join('');
  return `${stackName}-${logicalId}-${suffix}`;
}

function snapshot(r: ResourceRecord): ResourceSnapshot {
  return { type: r.type, physicalId: r.physicalId, plannedName: r.plannedName, status: r.status, properties: r.properties, attributes: r.attributes, notes: r.notes, deletionPolicy: r.deletionPolicy, updateReplacePolicy: r.updateReplacePolicy };
}

function errorText(e: unknown): string {
  const code = (e as { code?: string })?.code;
  const msg = String((e as Error)?.message ?? e).slice(0, 900);
  return code && code !== 'ValidationError' ? `${msg} (Service: ${code})` : msg;
}

/** Performs the operation a stack's status asks for; `interrupted`: a previous run of it is gone. */
export async function runStackOperation(env: OperationEnv, stackId: string, region: string, interrupted: boolean): Promise<void> {
  const op = new StackOperation(env, { platform: env.platform, region });
  await op.run(stackId, interrupted);
}

class StackOperation {
  private readonly store: Store;
  private resources = new Map<string, ResourceRecord>();

  constructor(
    private readonly env: OperationEnv,
    private readonly scope: Scope,
  ) {
    this.store = scope.platform.store;
  }

  async run(stackId: string, interrupted: boolean): Promise<void> {
    const s = (await getStack(this.scope, stackId)).value;
    this.resources = new Map((await stackResources(this.scope, stackId)).map((r) => [r.value.logicalId, r.value]));
    const restarted = 'Berth restarted while this operation was in progress';
    switch (s.status) {
      case 'CREATE_IN_PROGRESS':
        if (interrupted) return this.failCreate(s, restarted);
        return this.create(s);
      case 'ROLLBACK_IN_PROGRESS':
        return this.rollbackCreate(s);
      case 'UPDATE_IN_PROGRESS':
        if (interrupted || s.cancelRequested) return this.failUpdate(s, s.cancelRequested ? 'Resource update cancelled' : restarted);
        return this.update(s);
      case 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS':
        return this.cleanup(s);
      case 'UPDATE_ROLLBACK_IN_PROGRESS':
        return this.rollbackUpdate(s);
      case 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS':
        return this.finishRollbackCleanup(s);
      case 'DELETE_IN_PROGRESS':
        return this.delete(s);
      default:
        await this.setStatus(s, s.status, undefined, { done: true });
    }
  }

  // ---- plumbing ----

  private async setStatus(s: StackRecord, status: StackStatus, reason: string | undefined, opts: { done?: boolean; patch?: Partial<StackRecord>; extra?: Write[] } = {}): Promise<StackRecord> {
    const cur = await getStack(this.scope, s.stackId);
    const next: StackRecord = { ...cur.value, ...opts.patch, status, statusReason: reason };
    await transitionStack(this.scope, cur, next, { now: this.env.clock.now(), reason, done: opts.done, extra: opts.extra });
    return next;
  }

  /** Records a resource's new status and its event (after `earlier`, events that come first), durably. */
  private async record(s: StackRecord, r: ResourceRecord, status: ResourceRecord['status'], reason?: string, earlier: Write[] = []): Promise<void> {
    r.status = status;
    r.statusReason = reason;
    r.lastUpdated = this.env.clock.now();
    this.resources.set(r.logicalId, r);
    // A snapshot: the record may change again before another step's writes join this commit.
    const value = structuredClone(r);
    await this.commitTogether([...earlier, resourceWrite(value), eventWrite(s, r.lastUpdated, { logicalResourceId: r.logicalId, physicalResourceId: r.physicalId ?? '', resourceType: r.type, resourceStatus: status, resourceStatusReason: reason })]);
  }

  private resourceEvent(s: StackRecord, r: { logicalId: string; physicalId?: string; type: string }, status: string, reason?: string): Write {
    return eventWrite(s, this.env.clock.now(), { logicalResourceId: r.logicalId, physicalResourceId: r.physicalId ?? '', resourceType: r.type, resourceStatus: status, resourceStatusReason: reason });
  }

  private async event(s: StackRecord, r: { logicalId: string; physicalId?: string; type: string }, status: string, reason?: string): Promise<void> {
    await this.commitTogether([this.resourceEvent(s, r, status, reason)]);
  }

  private pending: Write[] = [];
  private flush: Promise<void> | undefined;

  /**
   * Commits `writes` in one durable commit with whatever the operation's other resource steps
   * write in the same turn of the event loop (a group commit: with one fsync per commit, ten
   * resources in flight cost one commit per step instead of ten). Resolves once on disk, so a
   * step still records its planned name before it calls its provider.
   */
  private commitTogether(writes: Write[]): Promise<void> {
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
  private providerContext(s: StackRecord, logicalId: string, planned: string, calls?: { succeeded: number }): ProviderContext {
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
    };
  }

  private context(t: Template, s: StackRecord, def: StackDefinition, imports?: Set<string>): EvalContext {
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

  private readonly importCache = new Map<string, string>();
  /**
   * Reads the exports the template imports into the cache `importValue` answers from. A computed
   * name (`Fn::ImportValue: !Sub '${EnvironmentName}:VpcId'`) is evaluated with the stack's
   * parameters first (an import's name cannot depend on a resource, as on CloudFormation).
   */
  private async loadImports(t: Template, ctx: EvalContext): Promise<void> {
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
  private async inParallel(ids: string[], waitsFor: (id: string) => Set<string>, step: (id: string) => Promise<void>): Promise<Map<string, string>> {
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

  // ---- create ----

  /**
   * The stack's template read and evaluated for a create or an update: the template, the
   * evaluation context, the resources its conditions include (in template order) and how each
   * depends on the others. Throws what makes the template unusable.
   */
  private async prepare(s: StackRecord): Promise<{ t: Template; ctx: EvalContext; order: string[]; imports: Set<string>; deps: (id: string) => Set<string> }> {
    const imports = new Set<string>();
    const t = readTemplate(s.templateBody);
    const ctx = this.context(t, s, s, imports);
    await this.loadImports(t, ctx);
    const order = includedResources(t, ctx);
    return { t, ctx, order, imports, deps: (id: string) => resourceDependencies(id, t.Resources[id]!, t.Resources) };
  }

  private async create(s: StackRecord): Promise<void> {
    let prepared: Awaited<ReturnType<StackOperation['prepare']>>;
    try {
      prepared = await this.prepare(s);
    } catch (e) {
      return this.failCreate(s, errorText(e));
    }
    const { t, ctx, order, imports, deps } = prepared;
    const failed = await this.inParallel(order, deps, async (id) => {
      const cur = this.resources.get(id);
      if (cur?.status === 'CREATE_COMPLETE') return;
      await this.createResource(s, t, ctx, id, null);
    });
    if (failed.size) return this.failCreate(s, `The following resource(s) failed to create: [${[...failed.keys()].sort().join(', ')}]. `, failed);
    try {
      const outputs = evaluateOutputs(t, ctx);
      const ex = await exportWrites(this.scope, s, outputs.filter((o) => o.exportName).map((o) => ({ name: o.exportName!, value: o.value })), [...imports]);
      await this.setStatus(s, 'CREATE_COMPLETE', undefined, { done: true, patch: { outputs }, extra: ex });
    } catch (e) {
      return this.failCreate(s, errorText(e));
    }
  }

  /** Creates one resource (a new one, or the replacement of `replacing`), recording each step. */
  private async createResource(s: StackRecord, t: Template, ctx: EvalContext, id: string, replacing: ResourceRecord | null, before?: ResourceSnapshot | null): Promise<void> {
    const decl = t.Resources[id]!;
    const planned = plannedName(s.stackName, id);
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
    await this.record(s, r, 'CREATE_IN_PROGRESS', replacing ? 'Requested update requires the creation of a new physical resource; hence creating one.' : undefined);
    const calls = { succeeded: 0 };
    try {
      const made = await provider.create(r.properties, this.providerContext(s, id, planned, calls));
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

  private async failCreate(s: StackRecord, reason: string, failed?: Map<string, string>): Promise<void> {
    if (failed) for (const [id, why] of failed) if (!this.resources.get(id) || this.resources.get(id)!.status === 'CREATE_IN_PROGRESS') void why;
    const cur = (await getStack(this.scope, s.stackId)).value;
    if (cur.disableRollback) {
      await this.setStatus(cur, 'CREATE_FAILED', reason.trim(), { done: true });
      return;
    }
    const next = await this.setStatus(cur, 'ROLLBACK_IN_PROGRESS', `${reason}Rollback requested by user.`.trim());
    await this.rollbackCreate(next);
  }

  /** Deletes every resource of the stack (in reverse dependency order), then ROLLBACK_COMPLETE. */
  private async rollbackCreate(s: StackRecord): Promise<void> {
    const problems = await this.deleteAll(s, false);
    if (problems.size) await this.setStatus(s, 'ROLLBACK_FAILED', `The following resource(s) failed to delete: [${[...problems.keys()].sort().join(', ')}]. `, { done: true });
    else await this.setStatus(s, 'ROLLBACK_COMPLETE', undefined, { done: true });
  }

  // ---- delete ----

  /**
   * Deletes the stack's resources, dependents first (from the references recorded between
   * them and the template's DependsOn). `honourRetain`: Retain policies and RetainResources
   * keep a resource (DELETE_SKIPPED). Returns the failures.
   */
  private async deleteAll(s: StackRecord, honourRetain: boolean): Promise<Map<string, string>> {
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

  private async deleteResource(s: StackRecord, r: ResourceRecord): Promise<void> {
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

  private async delete(s: StackRecord): Promise<void> {
    try {
      // An export another stack imports keeps this stack.
      await exportWrites(this.scope, s, [], []);
    } catch (e) {
      await this.setStatus(s, 'DELETE_FAILED', errorText(e), { done: true });
      return;
    }
    const problems = await this.deleteAll(s, true);
    if (problems.size) {
      await this.setStatus(s, 'DELETE_FAILED', `The following resource(s) failed to delete: [${[...problems.keys()].sort().join(', ')}]. `, { done: true });
      return;
    }
    const extra: Write[] = [...(await exportWrites(this.scope, s, [], []))];
    for (const r of this.resources.values()) extra.push({ kind: 'cfn.resource', key: `${s.stackId}|${r.logicalId}`, value: null });
    await this.setStatus(s, 'DELETE_COMPLETE', undefined, { done: true, patch: { deletionTime: this.env.clock.now() }, extra });
  }

  // ---- update ----

  private async update(s: StackRecord): Promise<void> {
    let prepared: Awaited<ReturnType<StackOperation['prepare']>>;
    try {
      prepared = await this.prepare(s);
    } catch (e) {
      return this.failUpdate(s, errorText(e));
    }
    const { t, ctx, order, imports, deps } = prepared;
    const failed = await this.inParallel(order, deps, async (id) => {
      const cur = this.resources.get(id);
      if (cur && cur.before !== undefined && (cur.status === 'UPDATE_COMPLETE' || cur.status === 'CREATE_COMPLETE')) return; // done by this update already
      if (!cur || !cur.physicalId || cur.status === 'DELETE_COMPLETE' || cur.status === 'CREATE_FAILED') return this.createResource(s, t, ctx, id, null, null);
      const decl = t.Resources[id]!;
      let props: Record<string, unknown>;
      try {
        props = resourceProperties(t, id, ctx);
      } catch (e) {
        await this.record(s, cur, 'UPDATE_FAILED', errorText(e));
        throw new StackFailure(errorText(e));
      }
      const provider = providerFor(decl.Type);
      const { changed, replacement } = compareProperties(decl.Type, cur.properties, props);
      const policiesChanged = cur.deletionPolicy !== decl.DeletionPolicy || cur.updateReplacePolicy !== decl.UpdateReplacePolicy;
      if (cur.type === decl.Type && !changed.length) {
        if (policiesChanged) {
          cur.deletionPolicy = decl.DeletionPolicy;
          cur.updateReplacePolicy = decl.UpdateReplacePolicy;
          await this.commitTogether([resourceWrite(structuredClone(cur))]);
        }
        return;
      }
      if (cur.type !== decl.Type || replacement || !provider?.update) return this.createResource(s, t, ctx, id, cur);
      const before = snapshot(cur);
      cur.before = before;
      await this.record(s, cur, 'UPDATE_IN_PROGRESS');
      try {
        const out = await provider.update(cur.physicalId, props, cur.properties, this.providerContext(s, id, cur.plannedName ?? ''), cur.notes ?? {});
        cur.properties = props;
        cur.attributes = out.attributes;
        cur.physicalId = out.physicalId;
        cur.notes = out.notes ?? cur.notes;
        cur.deletionPolicy = decl.DeletionPolicy;
        cur.updateReplacePolicy = decl.UpdateReplacePolicy;
      } catch (e) {
        await this.record(s, cur, 'UPDATE_FAILED', errorText(e));
        throw new StackFailure(errorText(e));
      }
      await this.record(s, cur, 'UPDATE_COMPLETE');
    });
    if (failed.size) return this.failUpdate(s, `The following resource(s) failed to update: [${[...failed.keys()].sort().join(', ')}]. `);
    let next: StackRecord;
    try {
      const outputs = evaluateOutputs(t, ctx);
      const ex = await exportWrites(this.scope, s, outputs.filter((o) => o.exportName).map((o) => ({ name: o.exportName!, value: o.value })), [...imports]);
      next = await this.setStatus(s, 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', undefined, { patch: { outputs }, extra: ex });
    } catch (e) {
      return this.failUpdate(s, errorText(e));
    }
    await this.cleanup(next);
  }

  /** After an update: deletes replaced physical resources and resources no longer in the template. */
  private async cleanup(s: StackRecord): Promise<void> {
    const t = readTemplate(s.templateBody);
    const ctx = this.context(t, s, s);
    const included = new Set(includedResources(t, ctx));
    for (const r of [...this.resources.values()].reverse()) {
      for (const old of r.replaced ?? []) {
        if (old.updateReplacePolicy === 'Retain') continue;
        await this.deleteSnapshot(s, r.logicalId, old);
      }
      if (!included.has(r.logicalId) && r.status !== 'DELETE_COMPLETE') {
        if (r.deletionPolicy === 'Retain' || r.deletionPolicy === 'RetainExceptOnCreate') {
          await this.record(s, r, 'DELETE_SKIPPED');
        } else {
          await this.deleteResource(s, r).catch(() => undefined);
        }
        await this.commitTogether([resourceWrite({ stackId: s.stackId, logicalId: r.logicalId, deleted: true })]);
        this.resources.delete(r.logicalId);
        continue;
      }
      if (r.replaced !== undefined || r.before !== undefined) {
        delete r.replaced;
        delete r.before;
        await this.commitTogether([resourceWrite(structuredClone(r))]);
      }
    }
    await this.setStatus(s, 'UPDATE_COMPLETE', undefined, { done: true, patch: { previous: undefined, cancelRequested: undefined } });
  }

  private async deleteSnapshot(s: StackRecord, logicalId: string, old: ResourceSnapshot): Promise<void> {
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

  private async failUpdate(s: StackRecord, reason: string): Promise<void> {
    const cur = (await getStack(this.scope, s.stackId)).value;
    const next = await this.setStatus(cur, 'UPDATE_ROLLBACK_IN_PROGRESS', reason.trim());
    await this.rollbackUpdate(next);
  }

  /**
   * Returns every resource this update touched to what it was: resources it created are
   * deleted, replacements deleted and the old resource restored, in-place updates updated
   * back to their old properties. Dependents first.
   */
  private async rollbackUpdate(s: StackRecord): Promise<void> {
    const prev = s.previous;
    const problems: string[] = [];
    const touched = [...this.resources.values()].filter((r) => r.before !== undefined || r.status === 'CREATE_IN_PROGRESS' || r.status === 'UPDATE_IN_PROGRESS');
    // Dependents first: a resource that refers to another is handled before it.
    const order = touched.sort((a, b) => (referencesOf(b.properties).some((x) => x.name === a.logicalId) ? 1 : referencesOf(a.properties).some((x) => x.name === b.logicalId) ? -1 : 0));
    const byArn = (a: ResourceRecord, b: ResourceRecord) => (b.physicalId && JSON.stringify(a.properties).includes(b.physicalId) ? -1 : 0);
    order.sort(byArn);
    for (const r of order) {
      try {
        if (r.before === null || r.before === undefined) {
          // Created by this update (or caught mid-create): it goes.
          await this.deleteResource(s, r);
          await this.commitTogether([resourceWrite({ stackId: s.stackId, logicalId: r.logicalId, deleted: true })]);
          this.resources.delete(r.logicalId);
          continue;
        }
        const before = r.before;
        const provider = providerFor(before.type);
        if (r.physicalId !== before.physicalId) {
          // A replacement: delete the new one, the old one is current again.
          if (r.physicalId && provider) {
            const replacement = { ...r };
            await this.record(s, replacement, 'DELETE_IN_PROGRESS');
            await providerFor(r.type)?.delete(r.physicalId, r.properties, this.providerContext(s, r.logicalId, r.plannedName ?? ''), r.notes ?? {});
          }
        } else if (provider?.update && JSON.stringify(r.properties) !== JSON.stringify(before.properties)) {
          await this.record(s, r, 'UPDATE_IN_PROGRESS');
          await provider.update(before.physicalId!, before.properties, r.properties, this.providerContext(s, r.logicalId, r.plannedName ?? ''), r.notes ?? {});
        }
        const restored: ResourceRecord = { ...r, ...before, stackId: s.stackId, logicalId: r.logicalId, lastUpdated: this.env.clock.now(), status: 'UPDATE_COMPLETE', statusReason: undefined };
        delete restored.before;
        delete restored.replaced;
        if (r.replaced && r.replaced.length > 1) restored.replaced = r.replaced.slice(0, -1);
        await this.record(s, restored, 'UPDATE_COMPLETE');
      } catch (e) {
        problems.push(r.logicalId);
        await this.record(s, r, 'UPDATE_FAILED', errorText(e)).catch(() => undefined);
      }
    }
    const patch: Partial<StackRecord> = prev ? { ...prev, previous: undefined, cancelRequested: undefined } : { cancelRequested: undefined };
    if (problems.length) {
      await this.setStatus(s, 'UPDATE_ROLLBACK_FAILED', `The following resource(s) failed to roll back: [${problems.join(', ')}].`, { done: true, patch });
      return;
    }
    const next = await this.setStatus(s, 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', undefined, { patch });
    await this.finishRollbackCleanup(next);
  }

  private async finishRollbackCleanup(s: StackRecord): Promise<void> {
    await this.setStatus(s, 'UPDATE_ROLLBACK_COMPLETE', undefined, { done: true });
  }
}

export { cfnErrors };

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
