/**
 * One stack operation, performed from what the store says, so a restarted worker resumes it:
 * create (then rollback on failure), update (replace or update in place as the resource
 * schemas say, cleanup of replaced and removed resources; update rollback on failure) and
 * delete. Independent resources run together, at most `concurrency` at a time. Every resource
 * step is recorded (resource record + event) before and after it calls its provider; an
 * operation found half-done after a restart (its run is gone) is failed and rolled back, and
 * resources caught mid-create are deleted by the name chosen for them before the call.
 */
import type { ResourceRecord, StackRecord } from '../../domain/cloudformation/records.js';
import { exportWrites, getStack, resourceWrite, stackResources } from '../../domain/cloudformation/stacks.js';
import { evaluateOutputs, includedResources, readTemplate, resourceProperties } from '../../domain/cloudformation/engine.js';
import { referencesOf } from '../../domain/cloudformation/template/graph.js';
import { compareProperties } from '../../domain/cloudformation/template/spec.js';
import type { Write } from '../../store/types.js';
import { providerFor } from './providers/index.js';
import { StackFailure, StackSteps, errorText, snapshot, type OperationEnv } from './steps.js';

export type { OperationEnv } from './steps.js';

/** Performs the operation a stack's status asks for; `interrupted`: a previous run of it is gone. */
export async function runStackOperation(env: OperationEnv, stackId: string, region: string, interrupted: boolean): Promise<void> {
  const op = new StackOperation(env, region);
  await op.run(stackId, interrupted);
}

class StackOperation extends StackSteps {
  constructor(env: OperationEnv, region: string) {
    super(env, { platform: env.platform, region });
  }

  async run(stackId: string, interrupted: boolean): Promise<void> {
    const s = (await getStack(this.scope, stackId)).value;
    this.resources = new Map((await stackResources(this.scope, stackId)).map((r) => [r.value.logicalId, r.value]));
    const restarted = 'Berth restarted while this operation was in progress';
    switch (s.status) {
      case 'CREATE_IN_PROGRESS':
        // Interrupted while only resumable creates were in flight (wait conditions, custom
        // resources waiting for their response): they carry on; otherwise roll back.
        if (interrupted && !this.onlyResumableInFlight()) return this.failCreate(s, restarted);
        return this.create(s, interrupted);
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

  // ---- create ----

  /** Whether the resources caught in creation are all resumable ones (and there is one). */
  private onlyResumableInFlight(): boolean {
    const inFlight = [...this.resources.values()].filter((r) => r.status === 'CREATE_IN_PROGRESS');
    return inFlight.length > 0 && inFlight.every((r) => providerFor(r.type)?.resumable);
  }

  private async create(s: StackRecord, resume = false): Promise<void> {
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
      await this.createResource(s, t, ctx, id, null, undefined, resume);
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
        // A new physical id (a custom resource's response may give one): the old one is
        // replaced, and deleted in the cleanup as AWS does.
        if (out.physicalId !== before.physicalId) cur.replaced = [...(cur.replaced ?? []), before];
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

