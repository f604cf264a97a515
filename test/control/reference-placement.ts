/**
 * A deliberately naive placement reference: for every copy it recomputes everything from scratch
 * (group counts, attribute-value counts, CQL results, resources) over all instances and sorts the
 * fitting ones. Used by the differential tests of src/control/placement.ts and as the baseline in
 * bench/placement.ts. Deterministic strategies only (no `random`).
 */
import { evaluateCql, parseCql } from '../../src/domain/placement/cql.js';
import type { Placement, PlacementRequest } from '../../src/domain/placement/types.js';

export function placeNaive(req: PlacementRequest): { placements: Placement[]; unplaced: number } {
  const insts = req.instances;
  const exprs = (req.constraints ?? []).filter((c) => c.type === 'memberOf').map((c) => parseCql(c.expression!));
  const distinct = (req.constraints ?? []).some((c) => c.type === 'distinctInstance');
  const group = req.task.group;
  const tasks: { containerInstanceId: string; group?: string }[] = [...(req.existingTasks ?? [])];
  const used = insts.map(() => ({ cpu: 0, mem: 0, ports: [] as string[], n: 0 }));
  const placements: Placement[] = [];
  const want = (req.task.hostPorts ?? []).filter((p) => p.port > 0).map((p) => `${p.protocol ?? 'tcp'}/${p.port}`);
  for (let copy = 0; copy < req.count; copy++) {
    const fits: number[] = [];
    insts.forEach((inst, i) => {
      if (inst.status !== 'ACTIVE' || !inst.agentConnected) return;
      const groups = tasks.filter((t) => t.containerInstanceId === inst.id).map((t) => t.group ?? '');
      if (distinct && group !== undefined && groups.includes(group)) return;
      const view = { ...inst, runningTasksCount: (inst.runningTasksCount ?? 0) + used[i]!.n, taskGroups: groups.filter((g) => g !== '') };
      if (!exprs.every((e) => evaluateCql(e, view))) return;
      if (inst.remainingCpu - used[i]!.cpu < req.task.cpu) return;
      if (inst.remainingMemory - used[i]!.mem < req.task.memory) return;
      const taken = [...inst.usedPorts.map((p) => `${p.protocol ?? 'tcp'}/${p.port}`), ...used[i]!.ports];
      if (want.some((p) => taken.includes(p))) return;
      fits.push(i);
    });
    if (fits.length === 0) return { placements, unplaced: req.count - copy };
    const key = (i: number): number[] =>
      (req.strategy ?? []).map((s) => {
        if (s.type === 'binpack') return s.field === 'cpu' ? insts[i]!.remainingCpu - used[i]!.cpu : insts[i]!.remainingMemory - used[i]!.mem;
        if (s.field === 'instanceId' || s.field === 'host') return tasks.filter((t) => t.group === group && group !== undefined && t.containerInstanceId === insts[i]!.id).length;
        const name = s.field!.slice('attribute:'.length);
        const has = (j: number) => Object.prototype.hasOwnProperty.call(insts[j]!.attributes, name);
        const same = (j: number) => has(j) === has(i) && (!has(i) || (insts[j]!.attributes[name] ?? '') === (insts[i]!.attributes[name] ?? ''));
        return tasks.filter((t) => t.group === group && group !== undefined && same(insts.findIndex((x) => x.id === t.containerInstanceId))).length;
      });
    fits.sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      for (let k = 0; k < ka.length; k++) if (ka[k] !== kb[k]) return ka[k]! - kb[k]!;
      return a - b;
    });
    const best = fits[0]!;
    used[best]!.cpu += req.task.cpu;
    used[best]!.mem += req.task.memory;
    used[best]!.ports.push(...want);
    used[best]!.n++;
    tasks.push({ containerInstanceId: insts[best]!.id, group });
    placements.push({ containerInstanceId: insts[best]!.id, containerInstanceArn: insts[best]!.arn });
  }
  return { placements, unplaced: 0 };
}
