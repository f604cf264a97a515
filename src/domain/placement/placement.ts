/**
 * Task placement: a pure function that chooses container instances for N copies of a task,
 * the way ECS does for RunTask and for service schedulers on the EC2 launch type.
 *
 * Steps for each copy (ECS "task placement" order):
 *   1. candidates: ACTIVE instances (others are ignored) with a connected agent (else failure AGENT) that have the
 *      task definition's required attributes (else ATTRIBUTE);
 *   2. constraints: distinctInstance (no other task of the same group on the instance) and
 *      memberOf (a CQL expression, see ./cql.ts) (else DistinctInstance / MemberOf);
 *   3. resources: remaining CPU, memory and the static host ports (else RESOURCE:CPU,
 *      RESOURCE:MEMORY, RESOURCE:PORTS / RESOURCE:PORTS_UDP);
 *   4. strategies in order, the first deciding and later ones only breaking its ties:
 *      spread(field) -> fewest tasks of the group per attribute value (or per instance for
 *      `instanceId`/`host`), binpack(cpu|memory) -> least remaining of that resource,
 *      random -> uniform among the tied (seeded PRNG or injected source).
 *      Remaining ties go to the instance listed first.
 * Copies placed earlier in the same call consume resources, count for spread and distinctInstance
 * and become visible to `task:group` expressions. Already running tasks (`existingTasks`) of the
 * same group count for spread and distinctInstance.
 *
 * Cost: O(M) precomputation (constraints evaluated once per instance; re-evaluated only for the
 * instance just used when an expression reads `task:group`), then one O(M) scan over typed arrays
 * per copy: O(M + N*M) with a small constant and no allocation in the loop.
 */
import { CqlError, cqlUsesTaskGroups, evaluateCql, parseCql, type CqlExpr } from './cql.js';
import type {
  ContainerInstanceView,
  HostPort,
  Placement,
  PlacementConstraintSpec,
  PlacementFailure,
  PlacementFailureReason,
  PlacementRequest,
  PlacementResult,
  PlacementStrategySpec,
  RequiredAttribute,
} from './types.js';

/** ECS's limits on one request. */
export const MAX_PLACEMENT_CONSTRAINTS = 10;
export const MAX_PLACEMENT_STRATEGIES = 5;

/** Default strategy of RunTask / StartTask on EC2 when none is given. */
export const DEFAULT_RUN_TASK_STRATEGY: readonly PlacementStrategySpec[] = [{ type: 'random' }];
/** Default strategy of services on EC2 when none is given: spread over AZs, then over instances. */
export const DEFAULT_SERVICE_STRATEGY: readonly PlacementStrategySpec[] = [
  { type: 'spread', field: 'attribute:ecs.availability-zone' },
  { type: 'spread', field: 'instanceId' },
];

/** A problem with a constraint or strategy; the ECS API turns it into InvalidParameterException. */
export class PlacementValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlacementValidationError';
  }
}

/**
 * Checks constraints and strategies as ECS does (types, fields, expression presence and syntax,
 * limits). Throws {@link PlacementValidationError} with an actionable message; returns normally when valid.
 */
export function validatePlacement(constraints: readonly PlacementConstraintSpec[] = [], strategy: readonly PlacementStrategySpec[] = []): void {
  if (constraints.length > MAX_PLACEMENT_CONSTRAINTS) throw new PlacementValidationError(`Too many placement constraints: ${constraints.length} (the limit is ${MAX_PLACEMENT_CONSTRAINTS}).`);
  if (strategy.length > MAX_PLACEMENT_STRATEGIES) throw new PlacementValidationError(`Too many placement strategies: ${strategy.length} (the limit is ${MAX_PLACEMENT_STRATEGIES}).`);
  for (const c of constraints) {
    if (c.type === 'distinctInstance') {
      if (c.expression !== undefined && c.expression !== '') throw new PlacementValidationError('An expression cannot be specified for a distinctInstance placement constraint.');
    } else if (c.type === 'memberOf') {
      if (!c.expression) throw new PlacementValidationError('An expression is required for a memberOf placement constraint.');
      try {
        parseCql(c.expression);
      } catch (e) {
        if (e instanceof CqlError) throw new PlacementValidationError(e.message);
        throw e;
      }
    } else {
      throw new PlacementValidationError(`Invalid placement constraint type '${c.type ?? ''}'. Valid types are distinctInstance and memberOf.`);
    }
  }
  for (const s of strategy) {
    if (s.type === 'random') {
      if (s.field) throw new PlacementValidationError('A field cannot be specified for the random placement strategy.');
    } else if (s.type === 'binpack') {
      const f = (s.field ?? '').toLowerCase();
      if (f !== 'cpu' && f !== 'memory') throw new PlacementValidationError(`Invalid field '${s.field ?? ''}' for the binpack placement strategy. Valid fields are cpu and memory.`);
    } else if (s.type === 'spread') {
      const f = s.field ?? '';
      const lf = f.toLowerCase();
      if (lf !== 'instanceid' && lf !== 'host' && !(lf.startsWith('attribute:') && f.length > 'attribute:'.length)) {
        throw new PlacementValidationError(`Invalid field '${f}' for the spread placement strategy. Valid fields are instanceId, host and attribute:<name>.`);
      }
    } else {
      throw new PlacementValidationError(`Invalid placement strategy type '${s.type ?? ''}'. Valid types are random, spread and binpack.`);
    }
  }
}

/** mulberry32: a small fast seeded PRNG in [0,1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Stages an instance reaches; higher = closer to fitting. FIT = takes the copy.
const ST_AGENT = 0;
const ST_ATTRIBUTE = 1;
const ST_DISTINCT = 2;
const ST_MEMBER = 3;
const ST_CPU = 4;
const ST_MEM = 5;
const ST_PORTS = 6;
const ST_PORTS_UDP = 7;
const ST_FIT = 8;
const STAGE_REASON: PlacementFailureReason[] = ['AGENT', 'ATTRIBUTE', 'DistinctInstance', 'MemberOf', 'RESOURCE:CPU', 'RESOURCE:MEMORY', 'RESOURCE:PORTS', 'RESOURCE:PORTS_UDP'];

/** Compiled strategy step. */
type Step = { kind: 'spreadAttr'; bucket: Int32Array; counts: Int32Array } | { kind: 'spreadInstance'; counts: Int32Array } | { kind: 'binpack'; res: Float64Array } | { kind: 'random' };

const portKey = (p: HostPort) => `${p.protocol === 'udp' ? 'udp' : 'tcp'}/${p.port}`;

/**
 * Places `request.count` copies of `request.task` (see the module comment for the rules).
 * Pure: the inputs are not modified; randomness only comes from `request.random` / `request.seed`.
 * Throws {@link PlacementValidationError} for invalid constraints/strategies.
 */
export function place(request: PlacementRequest): PlacementResult {
  const constraints = request.constraints ?? [];
  const strategy = request.strategy && request.strategy.length > 0 ? request.strategy : DEFAULT_RUN_TASK_STRATEGY;
  validatePlacement(constraints, strategy);
  const rand = request.random ?? seededRandom(request.seed ?? 1);
  const insts = request.instances;
  const m = insts.length;
  const task = request.task;
  const group = taskGroupOf(task);
  const needCpu = task.cpu ?? 0;
  const needMem = task.memory ?? 0;
  const hostPorts = (task.hostPorts ?? []).filter((p) => p.port > 0);
  const wantTcp = hostPorts.filter((p) => p.protocol !== 'udp').map(portKey);
  const wantUdp = hostPorts.filter((p) => p.protocol === 'udp').map(portKey);

  // Index instances.
  const index = new Map<string, number>();
  for (let i = 0; i < m; i++) index.set(insts[i]!.id, i);

  // Tasks of our group per instance, and all groups per instance (only if an expression reads task:group).
  const exprs: CqlExpr[] = constraints.filter((c) => c.type === 'memberOf').map((c) => parseCql(c.expression!));
  const distinct = constraints.some((c) => c.type === 'distinctInstance');
  const dynamicExpr = exprs.some(cqlUsesTaskGroups);
  const groupCount = new Int32Array(m);
  const groupsOn: Map<string, number>[] | undefined = dynamicExpr ? Array.from({ length: m }, () => new Map<string, number>()) : undefined;
  const runningCount = new Int32Array(m);
  for (let i = 0; i < m; i++) runningCount[i] = insts[i]!.runningTasksCount ?? 0;
  for (const t of request.existingTasks ?? []) {
    const i = index.get(t.containerInstanceId);
    if (i === undefined) continue;
    if (group !== undefined && t.group === group) groupCount[i]!++;
    if (groupsOn && t.group !== undefined) groupsOn[i]!.set(t.group, (groupsOn[i]!.get(t.group) ?? 0) + 1);
  }

  // Static state per instance.
  const cpu = new Float64Array(m);
  const mem = new Float64Array(m);
  const usedPorts: (Set<string> | undefined)[] = new Array(m);
  const staticStage = new Uint8Array(m); // ST_AGENT / ST_ATTRIBUTE if not a candidate, else ST_DISTINCT (constraints next)
  const required = task.requiredAttributes ?? [];
  const hasRequired = (inst: (typeof insts)[number]) => missingAttribute(inst.attributes, required) === undefined;
  const memberOk = new Uint8Array(m);
  const excluded = new Uint8Array(m); // not ACTIVE (DRAINING, INACTIVE, ...): not a candidate at all, no failure entry
  const evalMember = (i: number): boolean => {
    if (exprs.length === 0) return true;
    // An iterable (not an iterator): an expression may read task:group several times.
    const view = cqlViewOf(insts[i]!, runningCount[i]!, groupsOn ? { [Symbol.iterator]: () => groupsOn[i]!.keys() } : undefined);
    for (const e of exprs) if (!evaluateCql(e, view)) return false;
    return true;
  };
  for (let i = 0; i < m; i++) {
    const inst = insts[i]!;
    cpu[i] = inst.remainingCpu;
    mem[i] = inst.remainingMemory;
    if (hostPorts.length > 0) usedPorts[i] = new Set(inst.usedPorts.map(portKey));
    staticStage[i] = inst.status !== 'ACTIVE' || !inst.agentConnected ? ST_AGENT : hasRequired(inst) ? ST_DISTINCT : ST_ATTRIBUTE;
    excluded[i] = inst.status === 'ACTIVE' ? 0 : 1;
    memberOk[i] = staticStage[i] === ST_DISTINCT && evalMember(i) ? 1 : 0;
  }

  const stageOf = (i: number): number => {
    if (staticStage[i] !== ST_DISTINCT) return staticStage[i]!;
    if (distinct && groupCount[i]! > 0) return ST_DISTINCT;
    if (!memberOk[i]) return ST_MEMBER;
    if (cpu[i]! < needCpu) return ST_CPU;
    if (mem[i]! < needMem) return ST_MEM;
    if (wantTcp.length > 0 && wantTcp.some((k) => usedPorts[i]!.has(k))) return ST_PORTS;
    if (wantUdp.length > 0 && wantUdp.some((k) => usedPorts[i]!.has(k))) return ST_PORTS_UDP;
    return ST_FIT;
  };

  // Compile strategies (anything after `random` can never break a tie, so stop there).
  const steps: Step[] = [];
  for (const s of strategy) {
    if (s.type === 'random') {
      steps.push({ kind: 'random' });
      break;
    }
    if (s.type === 'binpack') {
      steps.push({ kind: 'binpack', res: s.field!.toLowerCase() === 'cpu' ? cpu : mem });
    } else {
      const f = s.field!;
      const lf = f.toLowerCase();
      if (lf === 'instanceid' || lf === 'host') steps.push({ kind: 'spreadInstance', counts: groupCount });
      else {
        const name = f.slice('attribute:'.length);
        const values = new Map<string, number>();
        const bucket = new Int32Array(m);
        for (let i = 0; i < m; i++) {
          const a = insts[i]!.attributes;
          // Instances without the attribute form their own bucket.
          const v = Object.prototype.hasOwnProperty.call(a, name) ? `=${a[name] ?? ''}` : '';
          let b = values.get(v);
          if (b === undefined) values.set(v, (b = values.size));
          bucket[i] = b;
        }
        const counts = new Int32Array(values.size);
        for (let i = 0; i < m; i++) counts[bucket[i]!]! += groupCount[i]!;
        steps.push({ kind: 'spreadAttr', bucket, counts });
      }
    }
  }
  const nSteps = steps.length;
  const hasPorts = wantTcp.length + wantUdp.length > 0;

  const placements: Placement[] = [];
  const keys = new Float64Array(nSteps);
  let unplaced = 0;
  for (let copy = 0; copy < request.count; copy++) {
    let best = -1;
    let ties = 0;
    for (let i = 0; i < m; i++) {
      // Fast fit check (same order as stageOf).
      if (staticStage[i] !== ST_DISTINCT || memberOk[i] === 0 || cpu[i]! < needCpu || mem[i]! < needMem) continue;
      if (distinct && groupCount[i]! > 0) continue;
      if (hasPorts && stageOf(i) !== ST_FIT) continue;
      if (best < 0) {
        best = i;
        ties = 1;
        for (let k = 0; k < nSteps; k++) keys[k] = keyOf(steps[k]!, i);
        continue;
      }
      // Lexicographic comparison against the best so far.
      let cmp = 0;
      let k = 0;
      for (; k < nSteps; k++) {
        const st = steps[k]!;
        if (st.kind === 'random') break;
        const v = keyOf(st, i);
        if (v !== keys[k]) {
          cmp = v < keys[k]! ? -1 : 1;
          break;
        }
      }
      if (cmp < 0) {
        best = i;
        ties = 1;
        for (let j = 0; j < nSteps; j++) keys[j] = keyOf(steps[j]!, i);
      } else if (cmp === 0 && k < nSteps) {
        // Tied up to a random step: reservoir sampling keeps each tied instance with equal chance.
        ties++;
        if (rand() * ties < 1) best = i;
      }
    }
    if (best < 0) {
      unplaced = request.count - copy;
      break;
    }
    // Consume.
    cpu[best]! -= needCpu;
    mem[best]! -= needMem;
    if (hasPorts) for (const k of [...wantTcp, ...wantUdp]) usedPorts[best]!.add(k);
    groupCount[best]!++;
    runningCount[best]!++;
    for (const st of steps) if (st.kind === 'spreadAttr') st.counts[st.bucket[best]!]!++;
    if (groupsOn && group !== undefined) {
      groupsOn[best]!.set(group, (groupsOn[best]!.get(group) ?? 0) + 1);
      memberOk[best] = evalMember(best) ? 1 : 0;
    } else if (exprs.length > 0 && dynamicNeedsCount(exprs)) {
      memberOk[best] = evalMember(best) ? 1 : 0;
    }
    placements.push({ containerInstanceId: insts[best]!.id, containerInstanceArn: insts[best]!.arn });
  }

  const result: PlacementResult = { placements, unplaced, failures: [] };
  if (unplaced > 0) {
    let closest = -1;
    let closestStage = -1;
    for (let i = 0; i < m; i++) {
      if (excluded[i]) continue;
      const st = stageOf(i);
      result.failures.push({ arn: insts[i]!.arn, reason: STAGE_REASON[st] ?? 'AGENT' });
      if (st > closestStage) {
        closestStage = st;
        closest = i;
      }
    }
    if (closest >= 0) result.closest = { containerInstanceId: insts[closest]!.id, reason: STAGE_REASON[closestStage]! };
    result.message = unableToPlaceMessage(task.serviceName, result.closest);
    if (closest < 0) result.failures.push({ reason: 'No Container Instances were found in your cluster.' });
  }
  return result;
}

/** Whether a requiresAttributes entry applies to placement (targetType absent or `container-instance`). */
function appliesToInstances(r: RequiredAttribute): boolean {
  return r.targetType === undefined || r.targetType === null || r.targetType === '' || r.targetType === 'container-instance';
}

/**
 * The first of `required` (a task definition's `requiresAttributes`) that an instance with these
 * attributes lacks: the name must be present and, when the entry has a value, the value must be
 * equal. Entries for other target types are ignored. Undefined when the instance qualifies.
 */
export function missingAttribute(attributes: Readonly<Record<string, string | null>>, required: readonly RequiredAttribute[] | undefined): RequiredAttribute | undefined {
  for (const r of required ?? []) {
    if (!appliesToInstances(r)) continue;
    if (!Object.prototype.hasOwnProperty.call(attributes, r.name)) return r;
    if (r.value !== undefined && r.value !== null && attributes[r.name] !== r.value) return r;
  }
  return undefined;
}

/**
 * The instances a DAEMON service must run one task on: ACTIVE, not lost (`isLost`), with every
 * required attribute and meeting every `memberOf` constraint (evaluated against the instance and
 * the groups of the other tasks on it; `distinctInstance` holds by construction). Resources are
 * not checked here: placement on the instance reports a shortage and the service retries, as ECS
 * keeps trying until resources free up. DRAINING instances are returned with `draining: true`
 * while `keepOnDraining(id)` says other services' tasks are still on them (ECS stops daemon tasks
 * last). Throws {@link PlacementValidationError} for an invalid expression.
 */
export function daemonInstances(
  instances: readonly ContainerInstanceView[],
  opts: {
    constraints?: readonly PlacementConstraintSpec[];
    requiredAttributes?: readonly RequiredAttribute[];
    /** Groups of the live tasks on an instance (for `task:group` expressions). */
    taskGroupsOn?: (id: string) => readonly string[];
    isLost?: (id: string) => boolean;
    keepOnDraining?: (id: string) => boolean;
  },
): { id: string; agentConnected: boolean; draining?: boolean }[] {
  const exprs: CqlExpr[] = [];
  for (const c of opts.constraints ?? []) {
    if (c.type !== 'memberOf' || !c.expression) continue;
    try {
      exprs.push(parseCql(c.expression));
    } catch (e) {
      if (e instanceof CqlError) throw new PlacementValidationError(e.message);
      throw e;
    }
  }
  const out: { id: string; agentConnected: boolean; draining?: boolean }[] = [];
  for (const inst of instances) {
    if (inst.status !== 'ACTIVE' && inst.status !== 'DRAINING') continue;
    if (opts.isLost?.(inst.id)) continue;
    if (missingAttribute(inst.attributes, opts.requiredAttributes) !== undefined) continue;
    const groups = opts.taskGroupsOn?.(inst.id) ?? [];
    const view = cqlViewOf(inst, inst.runningTasksCount ?? 0, groups);
    if (!exprs.every((e) => evaluateCql(e, view))) continue;
    if (inst.status === 'DRAINING') {
      if (opts.keepOnDraining?.(inst.id)) out.push({ id: inst.id, agentConnected: inst.agentConnected, draining: true });
      continue;
    }
    out.push({ id: inst.id, agentConnected: inst.agentConnected });
  }
  return out;
}

/** What a memberOf expression sees of an instance. */
function cqlViewOf(inst: ContainerInstanceView, runningTasksCount: number, taskGroups: Iterable<string> | undefined) {
  return {
    attributes: inst.attributes,
    ec2InstanceId: inst.ec2InstanceId,
    agentConnected: inst.agentConnected,
    agentVersion: inst.agentVersion,
    registeredAt: inst.registeredAt,
    runningTasksCount,
    taskGroups,
  };
}

/**
 * The task group placement works with: the explicit group, else `service:<serviceName>` for
 * service tasks, else `family:<family>` (ECS's default group for RunTask).
 */
export function taskGroupOf(task: PlacementRequest['task']): string | undefined {
  return task.group ?? (task.serviceName ? `service:${task.serviceName}` : task.family ? `family:${task.family}` : undefined);
}

/** Whether any expression reads runningTasksCount (which changes as copies are placed). */
function dynamicNeedsCount(exprs: CqlExpr[]): boolean {
  const walk = (e: CqlExpr): boolean => (e.op === 'cmp' ? e.subject.kind === 'runningTasksCount' : e.op === 'not' ? walk(e.expr) : walk(e.left) || walk(e.right));
  return exprs.some(walk);
}

function keyOf(st: Step, i: number): number {
  switch (st.kind) {
    case 'spreadAttr':
      return st.counts[st.bucket[i]!]!;
    case 'spreadInstance':
      return st.counts[i]!;
    case 'binpack':
      return st.res[i]!;
    default:
      return 0;
  }
}

/**
 * The ECS service-event text for a copy that fits nowhere, e.g. "(service web) was unable to
 * place a task because no container instance met all of its requirements. The closest matching
 * (container-instance abc) has insufficient memory available. For more information, see the
 * Troubleshooting section of the Amazon ECS Developer Guide."
 */
export function unableToPlaceMessage(serviceName: string | undefined, closest?: { containerInstanceId: string; reason: PlacementFailureReason }): string {
  const who = serviceName ? `(service ${serviceName})` : 'The task';
  const head = `${who} was unable to place a task because no container instance met all of its requirements.`;
  const tail = ' For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.';
  if (!closest) return `${head} Reason: No Container Instances were found in your cluster.${tail}`;
  const ci = `(container-instance ${closest.containerInstanceId})`;
  switch (closest.reason) {
    case 'RESOURCE:CPU':
      return `${head} The closest matching ${ci} has insufficient CPU units available.${tail}`;
    case 'RESOURCE:MEMORY':
      return `${head} The closest matching ${ci} has insufficient memory available.${tail}`;
    case 'RESOURCE:PORTS':
    case 'RESOURCE:PORTS_UDP':
      return `${head} The closest matching ${ci} is already using a port required by your task.${tail}`;
    case 'DistinctInstance':
    case 'MemberOf':
      return `${head} The closest matching ${ci} does not satisfy the ${closest.reason} placement constraint.${tail}`;
    case 'ATTRIBUTE':
      return `${head} The closest matching ${ci} is missing an attribute required by your task.${tail}`;
    default:
      return `${head} The closest matching ${ci} encountered error "${closest.reason}".${tail}`;
  }
}

/** Convenience: RunTask's `failures` list (ECS Failure shape) for the unplaced copies of a result. */
export function runTaskFailures(result: PlacementResult): PlacementFailure[] {
  return result.unplaced > 0 ? result.failures : [];
}

/** A task that could be stopped; see {@link orderForTermination}. */
export interface TerminationCandidate {
  taskId: string;
  containerInstanceId?: string;
}

/** What termination ordering needs to know about an instance. */
export type TerminationInstance = Pick<ContainerInstanceView, 'attributes' | 'remainingCpu' | 'remainingMemory'>;

/**
 * Orders `candidates` for termination the way ECS uses placement strategies when scaling in
 * ("an algorithm for selecting instances for task placement or tasks for termination"): spread
 * removes from the attribute value (or instance) holding the most of the service's tasks, binpack
 * removes from the instance with the most of that resource left (freeing under-used instances).
 * `population` is every live task of the service (counts for spread); candidates must be among it.
 * Greedy and stable: ties keep the input order. O(k * c) for c candidates.
 */
export function orderForTermination<T extends TerminationCandidate>(
  candidates: readonly T[],
  population: readonly TerminationCandidate[],
  instances: ReadonlyMap<string, TerminationInstance>,
  strategy: readonly PlacementStrategySpec[],
): T[] {
  const steps = strategy.filter((s) => s.type === 'spread' || s.type === 'binpack');
  if (steps.length === 0 || candidates.length < 2) return [...candidates];
  const valueOf = (s: PlacementStrategySpec, instanceId: string | undefined): string => {
    const f = (s.field ?? '').toLowerCase();
    if (f === 'instanceid' || f === 'host') return instanceId ?? '';
    const name = (s.field ?? '').slice('attribute:'.length);
    const inst = instanceId === undefined ? undefined : instances.get(instanceId);
    return inst && Object.prototype.hasOwnProperty.call(inst.attributes, name) ? `=${inst.attributes[name] ?? ''}` : '';
  };
  const counts = steps.map((s) => {
    const m = new Map<string, number>();
    if (s.type === 'spread') for (const t of population) m.set(valueOf(s, t.containerInstanceId), (m.get(valueOf(s, t.containerInstanceId)) ?? 0) + 1);
    return m;
  });
  const key = (t: T): number[] =>
    steps.map((s, k) => {
      if (s.type === 'spread') return counts[k]!.get(valueOf(s, t.containerInstanceId)) ?? 0;
      const inst = t.containerInstanceId === undefined ? undefined : instances.get(t.containerInstanceId);
      return inst ? ((s.field ?? '').toLowerCase() === 'cpu' ? inst.remainingCpu : inst.remainingMemory) : 0;
    });
  const left = [...candidates];
  const out: T[] = [];
  while (left.length > 0) {
    let best = 0;
    let bestKey = key(left[0]!);
    for (let i = 1; i < left.length; i++) {
      const k = key(left[i]!);
      let cmp = 0;
      for (let j = 0; j < k.length && cmp === 0; j++) cmp = k[j]! - bestKey[j]!;
      if (cmp > 0) {
        best = i;
        bestKey = k;
      }
    }
    const [t] = left.splice(best, 1);
    out.push(t!);
    steps.forEach((s, k) => {
      if (s.type === 'spread') {
        const v = valueOf(s, t!.containerInstanceId);
        counts[k]!.set(v, (counts[k]!.get(v) ?? 1) - 1);
      }
    });
  }
  return out;
}
