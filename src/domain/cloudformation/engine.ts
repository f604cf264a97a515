/**
 * The template engine's entry points, over the pure pieces in template/: read and check a
 * template, resolve its parameters, build the evaluation context of a stack (pseudo parameters,
 * conditions, its resources' values, exports), the capabilities it needs, its outputs, and the
 * changes an update would make (change sets).
 */
import { cfnErrors } from './errors.js';
import type { ResourceChange, ResourceRecord, StackDefinition, StackOutput } from './records.js';
import { parseTemplateBody } from './template/parse.js';
import { checkTemplate, type Template } from './template/template.js';
import { evaluate, evaluateConditions, NO_VALUE, UNKNOWN, type EvalContext, type ResourceValues } from './template/evaluate.js';
import { isNoEcho, resolveParameters, type GivenParameter } from './template/parameters.js';
import { dependencyOrder } from './template/graph.js';
import { compareProperties, isKnownResourceType } from './template/spec.js';

/** Parses and checks a template body; `ValidationError` with the place of the first problem. */
export function readTemplate(body: string): Template {
  const t = checkTemplate(parseTemplateBody(body));
  const unknown = [...new Set(Object.values(t.Resources).map((r) => r.Type))].filter((type) => !isKnownResourceType(type));
  if (unknown.length) throw cfnErrors.templateFormat(`Unrecognized resource types: [${unknown.slice(0, 20).join(', ')}]`);
  return t;
}

/** Who the stack is, for the pseudo parameters. */
export interface StackIdentity {
  stackId: string;
  stackName: string;
  region: string;
  accountId: string;
  notificationARNs?: string[];
}

/** The availability zones Fn::GetAZs answers: a, b and c of the region. */
export function availabilityZones(region: string): string[] {
  return ['a', 'b', 'c'].map((s) => `${region}${s}`);
}

/** What evaluating a stack's template needs besides the template. */
export interface StackValues {
  identity: StackIdentity;
  /** Parameter values (already resolved; see `resolveStackParameters`). */
  parameters: Map<string, string | string[]>;
  resources: (logicalId: string) => ResourceValues | undefined;
  importValue: (name: string) => string | undefined;
  unknownResources?: boolean;
}

/** The evaluation context of a stack: pseudo parameters, parameters, evaluated conditions. */
export function stackContext(t: Template, v: StackValues): EvalContext {
  const params = new Map<string, string | string[]>(v.parameters);
  params.set('AWS::AccountId', v.identity.accountId);
  params.set('AWS::Region', v.identity.region);
  params.set('AWS::StackId', v.identity.stackId);
  params.set('AWS::StackName', v.identity.stackName);
  params.set('AWS::Partition', 'aws');
  params.set('AWS::URLSuffix', 'amazonaws.com');
  params.set('AWS::NotificationARNs', v.identity.notificationARNs ?? []);
  const base = {
    params,
    mappings: t.Mappings,
    resource: v.resources,
    unknownResources: v.unknownResources,
    importValue: v.importValue,
    availabilityZones,
    region: v.identity.region,
  };
  const conditions = evaluateConditions(t.Conditions, base);
  return { ...base, conditions };
}

/** The resources a template creates under its conditions, in dependency order. */
export function includedResources(t: Template, ctx: EvalContext): string[] {
  return dependencyOrder(t.Resources).filter((n) => {
    const c = t.Resources[n]!.Condition;
    return c === undefined || ctx.conditions.get(c) === true;
  });
}

/** A resource's properties, evaluated (AWS::NoValue removed). */
export function resourceProperties(t: Template, logicalId: string, ctx: EvalContext): Record<string, unknown> {
  const p = evaluate(t.Resources[logicalId]!.Properties ?? {}, ctx, `/Resources/${logicalId}/Properties`);
  return p === NO_VALUE ? {} : (p as Record<string, unknown>);
}

/** Resolves the parameters a stack is given (the given values, then previous values, then defaults). */
export async function resolveStackParameters(
  t: Template,
  given: readonly GivenParameter[],
  opts: { previous?: Record<string, string>; lookupSsm?: (names: string[]) => Promise<Map<string, string>> } = {},
): Promise<Pick<StackDefinition, 'parameters' | 'resolvedParameters' | 'noEcho'>> {
  const r = await resolveParameters(t.Parameters, given, opts);
  return {
    parameters: r.given,
    resolvedParameters: r.resolved,
    noEcho: Object.entries(t.Parameters)
      .filter(([, d]) => isNoEcho(d))
      .map(([n]) => n),
  };
}

/** The values templates see for a stored definition's parameters (lists split, SSM values used). */
export function parameterValues(t: Template, def: Pick<StackDefinition, 'parameters' | 'resolvedParameters'>): Map<string, string | string[]> {
  const out = new Map<string, string | string[]>();
  for (const [name, decl] of Object.entries(t.Parameters)) {
    const raw = def.resolvedParameters[name] ?? def.parameters[name];
    if (raw === undefined) continue;
    const type = /^AWS::SSM::Parameter::Value<(.+)>$/.exec(decl.Type)?.[1] ?? decl.Type;
    out.set(name, type.startsWith('List<') || type === 'CommaDelimitedList' ? (raw === '' ? [] : raw.split(',').map((s) => (type === 'CommaDelimitedList' ? s : s.trim()))) : raw);
  }
  return out;
}

/** IAM resources need CAPABILITY_IAM, or CAPABILITY_NAMED_IAM when they carry a name. */
const IAM_NAMES: Record<string, string> = {
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
  'AWS::IAM::InstanceProfile': 'InstanceProfileName',
  'AWS::IAM::User': 'UserName',
  'AWS::IAM::Group': 'GroupName',
};

/** The capabilities a template needs, with the resources that need them. */
export function requiredCapabilities(t: Template): { capability?: 'CAPABILITY_IAM' | 'CAPABILITY_NAMED_IAM'; resources: string[] } {
  const iam = Object.entries(t.Resources).filter(([, r]) => r.Type.startsWith('AWS::IAM::'));
  if (!iam.length) return { resources: [] };
  const named = iam.filter(([, r]) => IAM_NAMES[r.Type] && r.Properties?.[IAM_NAMES[r.Type]!] !== undefined);
  return named.length ? { capability: 'CAPABILITY_NAMED_IAM', resources: named.map(([n]) => n) } : { capability: 'CAPABILITY_IAM', resources: iam.map(([n]) => n) };
}

/** Throws InsufficientCapabilitiesException when the template needs a capability not given. */
export function checkCapabilities(t: Template, given: readonly string[]): void {
  const need = requiredCapabilities(t);
  if (!need.capability) return;
  if (given.includes('CAPABILITY_NAMED_IAM')) return;
  if (need.capability === 'CAPABILITY_IAM' && given.includes('CAPABILITY_IAM')) return;
  throw cfnErrors.insufficientCapabilities(need.capability, need.resources);
}

/** The stack's outputs (those whose condition holds), values as strings (lists joined by commas). */
export function evaluateOutputs(t: Template, ctx: EvalContext): StackOutput[] {
  const out: StackOutput[] = [];
  for (const [key, o] of Object.entries(t.Outputs)) {
    if (o.Condition !== undefined && !ctx.conditions.get(o.Condition)) continue;
    const value = stringOf(evaluate(o.Value, ctx, `/Outputs/${key}/Value`));
    const description = o.Description === undefined ? undefined : stringOf(evaluate(o.Description, ctx, `/Outputs/${key}/Description`));
    const exportName = o.Export?.Name === undefined ? undefined : stringOf(evaluate(o.Export.Name, ctx, `/Outputs/${key}/Export/Name`));
    out.push({ key, value, description, exportName });
  }
  return out;
}

function stringOf(v: unknown): string {
  if (Array.isArray(v)) return v.map(stringOf).join(',');
  if (v === NO_VALUE || v === undefined || v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/**
 * The changes applying template `t` (in context `ctx`, where resources yet to exist are
 * unknown) to a stack whose resources are `existing` would make, as a change set lists them.
 */
export function planChanges(t: Template, ctx: EvalContext, existing: ReadonlyMap<string, ResourceRecord>): ResourceChange[] {
  const changes: ResourceChange[] = [];
  const included = includedResources(t, ctx);
  for (const id of included) {
    const decl = t.Resources[id]!;
    const cur = existing.get(id);
    if (!cur || !cur.physicalId) {
      changes.push({ action: 'Add', logicalResourceId: id, resourceType: decl.Type, scope: [], details: [] });
      continue;
    }
    if (cur.type !== decl.Type) {
      changes.push({ action: 'Modify', logicalResourceId: id, physicalResourceId: cur.physicalId, resourceType: decl.Type, replacement: 'True', scope: ['Properties'], details: [] });
      continue;
    }
    const props = resourceProperties(t, id, ctx);
    const { changed, replacement } = compareProperties(decl.Type, cur.properties, props);
    if (!changed.length) continue;
    const unknown = JSON.stringify(props).includes(UNKNOWN);
    changes.push({
      action: 'Modify',
      logicalResourceId: id,
      physicalResourceId: cur.physicalId,
      resourceType: decl.Type,
      replacement: replacement ? 'True' : unknown ? 'Conditional' : 'False',
      scope: ['Properties'],
      details: changed.map((name) => ({ name, requiresRecreation: compareProperties(decl.Type, { [name]: 1 }, { [name]: 2 }).replacement ? 'Always' : 'Never' })),
    });
  }
  for (const [id, cur] of existing) {
    if (!included.includes(id) && cur.physicalId) changes.push({ action: 'Remove', logicalResourceId: id, physicalResourceId: cur.physicalId, resourceType: cur.type, scope: [], details: [] });
  }
  return changes;
}
