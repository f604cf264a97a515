/**
 * What a piece of a template refers to (Ref, Fn::GetAtt, the variables of Fn::Sub, condition
 * names) and the dependency graph of its resources (those references plus DependsOn): the
 * order to create them in, which can run together, and the cycles CloudFormation refuses.
 */
import { cfnErrors } from '../errors.js';

/** What the graph reads of a resource declaration. */
export interface DependencySource {
  Properties?: unknown;
  DependsOn?: string | string[];
}

/** One reference found in a template value. */
export interface Reference {
  kind: 'ref' | 'getatt' | 'condition';
  name: string;
}

/**
 * The `${...}` variables of a Fn::Sub string: `Name` or `Resource.Attribute` (split at the
 * first dot), skipping `${!Literal}`.
 */
export function subVariables(s: string): Array<{ name: string; attribute?: string; start: number; end: number }> {
  const out: Array<{ name: string; attribute?: string; start: number; end: number }> = [];
  const re = /\$\{([^}]*)\}/g;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    const body = m[1]!.trim();
    if (body.startsWith('!')) continue;
    const dot = body.indexOf('.');
    out.push(dot < 0 ? { name: body, start: m.index, end: m.index + m[0].length } : { name: body.slice(0, dot), attribute: body.slice(dot + 1), start: m.index, end: m.index + m[0].length });
  }
  return out;
}

const CONDITION_FUNCTIONS = new Set(['Fn::And', 'Fn::Or', 'Fn::Not', 'Fn::Equals']);

/** Every reference in `v` (see the module doc). `inCondition`: a bare {Condition: x} names a condition. */
export function referencesOf(v: unknown, inCondition = false): Reference[] {
  const out: Reference[] = [];
  const walk = (x: unknown, cond: boolean): void => {
    if (Array.isArray(x)) {
      for (const y of x) walk(y, cond);
      return;
    }
    if (!x || typeof x !== 'object') return;
    const o = x as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const k = keys[0]!;
      const arg = o[k];
      if (k === 'Ref' && typeof arg === 'string') return void out.push({ kind: 'ref', name: arg });
      if (k === 'Condition' && cond && typeof arg === 'string') return void out.push({ kind: 'condition', name: arg });
      if (k === 'Fn::GetAtt') {
        if (Array.isArray(arg) && typeof arg[0] === 'string') {
          out.push({ kind: 'getatt', name: arg[0] });
          for (const y of arg.slice(1)) walk(y, cond);
        } else if (typeof arg === 'string') out.push({ kind: 'getatt', name: arg.split('.')[0]! });
        return;
      }
      if (k === 'Fn::Sub') {
        const [str, vars] = typeof arg === 'string' ? [arg, {}] : Array.isArray(arg) ? [arg[0], arg[1]] : [undefined, undefined];
        const local = vars && typeof vars === 'object' ? (vars as Record<string, unknown>) : {};
        if (typeof str === 'string') {
          for (const sv of subVariables(str)) {
            if (sv.name in local && sv.attribute === undefined) continue;
            out.push(sv.attribute !== undefined ? { kind: 'getatt', name: sv.name } : { kind: 'ref', name: sv.name });
          }
        }
        walk(local, cond);
        return;
      }
      if (k === 'Fn::If' && Array.isArray(arg)) {
        if (typeof arg[0] === 'string') out.push({ kind: 'condition', name: arg[0] });
        for (const y of arg.slice(1)) walk(y, cond);
        return;
      }
      if (CONDITION_FUNCTIONS.has(k)) return walk(arg, true);
    }
    for (const y of Object.values(o)) walk(y, cond);
  };
  walk(v, inCondition);
  return out;
}

/** The resources a resource depends on: those its properties refer to, and its DependsOn. */
export function resourceDependencies(name: string, r: DependencySource, resources: Record<string, DependencySource>): Set<string> {
  const deps = new Set<string>();
  for (const ref of referencesOf(r.Properties)) if (ref.kind !== 'condition' && ref.name in resources && ref.name !== name) deps.add(ref.name);
  const dependsOn = r.DependsOn === undefined ? [] : Array.isArray(r.DependsOn) ? r.DependsOn : [r.DependsOn];
  for (const d of dependsOn) if (d in resources) deps.add(d);
  return deps;
}

/**
 * The resources in an order where each comes after what it depends on; throws AWS's
 * "Circular dependency between resources" when there is none.
 */
export function dependencyOrder(resources: Record<string, DependencySource>): string[] {
  const deps = new Map(Object.entries(resources).map(([n, r]) => [n, resourceDependencies(n, r, resources)]));
  for (const [n, r] of Object.entries(resources)) if (referencesOf(r.Properties).some((x) => x.kind !== 'condition' && x.name === n)) deps.get(n)!.add(n);
  const order: string[] = [];
  const state = new Map<string, 1 | 2>();
  for (const start of deps.keys()) {
    if (state.has(start)) continue;
    // Iterative DFS: templates may chain hundreds of resources.
    const stack: Array<{ n: string; it: Iterator<string> }> = [{ n: start, it: deps.get(start)!.values() }];
    state.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const next = top.it.next();
      if (next.done) {
        state.set(top.n, 2);
        order.push(top.n);
        stack.pop();
        continue;
      }
      const s = state.get(next.value);
      if (s === 1) {
        const cycle = stack.slice(stack.findIndex((f) => f.n === next.value)).map((f) => f.n);
        throw cfnErrors.templateFormat(`Circular dependency between resources: [${cycle.sort().slice(0, 20).join(', ')}]`);
      }
      if (s === undefined) {
        state.set(next.value, 1);
        stack.push({ n: next.value, it: deps.get(next.value)!.values() });
      }
    }
  }
  return order;
}
