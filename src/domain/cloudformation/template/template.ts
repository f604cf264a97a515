/**
 * A template's shape and the checks CloudFormation makes before it creates anything: sections,
 * resource declarations, parameter declarations, outputs, references (Ref, GetAtt, Sub,
 * DependsOn, conditions) that name something that exists, and no dependency cycles. Failures
 * are `ValidationError`s naming the place (`/Resources/Web/Type`) as AWS's messages do.
 */
import { cfnErrors } from '../errors.js';
import { dependencyOrder, referencesOf } from './graph.js';

/** A declared parameter. */
export interface ParameterDecl {
  Type: string;
  Default?: unknown;
  AllowedValues?: unknown[];
  AllowedPattern?: string;
  ConstraintDescription?: string;
  Description?: string;
  MinLength?: number | string;
  MaxLength?: number | string;
  MinValue?: number | string;
  MaxValue?: number | string;
  NoEcho?: boolean | string;
}

/** A declared resource. */
export interface ResourceDecl {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Metadata?: unknown;
  CreationPolicy?: unknown;
  UpdatePolicy?: unknown;
}

/** A declared output. */
export interface OutputDecl {
  Value: unknown;
  Description?: unknown;
  Export?: { Name: unknown };
  Condition?: string;
}

/** A template checked by `checkTemplate`: every section present (empty when not declared). */
export interface Template {
  AWSTemplateFormatVersion?: string;
  Description?: string;
  Metadata?: unknown;
  Transform?: string | string[];
  Parameters: Record<string, ParameterDecl>;
  Mappings: Record<string, Record<string, Record<string, unknown>>>;
  Conditions: Record<string, unknown>;
  Resources: Record<string, ResourceDecl>;
  Outputs: Record<string, OutputDecl>;
}

/** Most resources, parameters, outputs and mappings a template may declare (AWS's quotas). */
export const TEMPLATE_LIMITS = { resources: 500, parameters: 200, outputs: 200, mappings: 200 };

const SECTIONS = new Set(['AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters', 'Rules', 'Mappings', 'Conditions', 'Transform', 'Resources', 'Outputs', 'Hooks']);
const RESOURCE_KEYS = new Set(['Type', 'Properties', 'DependsOn', 'Condition', 'DeletionPolicy', 'UpdateReplacePolicy', 'Metadata', 'CreationPolicy', 'UpdatePolicy', 'Version', 'Description']);
const POLICIES = new Set(['Delete', 'Retain', 'RetainExceptOnCreate', 'Snapshot']);
const LOGICAL_ID = /^[A-Za-z0-9]{1,255}$/;

/** The parameter types CloudFormation knows (AWS-specific ones are strings or lists of strings). */
export function isKnownParameterType(t: string): boolean {
  if (['String', 'Number', 'List<Number>', 'CommaDelimitedList', 'AWS::SSM::Parameter::Name'].includes(t)) return true;
  if (/^AWS::EC2::[A-Za-z]+::[A-Za-z]+$/.test(t) || /^AWS::Route53::HostedZone::Id$/.test(t)) return true;
  if (/^List<AWS::EC2::[A-Za-z]+::[A-Za-z]+>$/.test(t) || t === 'List<AWS::Route53::HostedZone::Id>') return true;
  const ssm = /^AWS::SSM::Parameter::Value<(.+)>$/.exec(t);
  return ssm !== null && ssm[1] !== undefined && !ssm[1].startsWith('AWS::SSM::Parameter::Value') && isKnownParameterType(ssm[1]);
}

/** Transforms Berth applies (their functions are part of the engine). */
export const SUPPORTED_TRANSFORMS = new Set(['AWS::LanguageExtensions']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function section<T>(doc: Record<string, unknown>, name: string, limit?: number): Record<string, T> {
  const v = doc[name];
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw cfnErrors.templateFormat(`[/${name}] The ${name} section must be a mapping (an object)`);
  if (limit !== undefined && Object.keys(v).length > limit) throw cfnErrors.validation(`Template format error: Number of ${name.toLowerCase()} declared in the template (${Object.keys(v).length}) exceeds the limit of ${limit}`);
  return v as Record<string, T>;
}

/**
 * Checks a parsed template (see the module doc) and returns it typed, with empty sections
 * filled in. Throws `ValidationError` on the first problem.
 */
export function checkTemplate(doc: Record<string, unknown>): Template {
  const unknown = Object.keys(doc).filter((k) => !SECTIONS.has(k));
  if (unknown.length) throw cfnErrors.templateFormat(`Invalid template property or properties [${unknown.slice(0, 10).join(', ')}]`);
  const version = doc.AWSTemplateFormatVersion instanceof Date ? doc.AWSTemplateFormatVersion.toISOString().slice(0, 10) : doc.AWSTemplateFormatVersion;
  if (version !== undefined && version !== '2010-09-09') throw cfnErrors.templateFormat(`[/AWSTemplateFormatVersion] '${String(version).slice(0, 40)}' is not a supported version; use 2010-09-09`);
  if (doc.Description !== undefined && (typeof doc.Description !== 'string' || doc.Description.length > 1024)) {
    throw cfnErrors.templateFormat('[/Description] The Description must be a string of at most 1024 characters');
  }
  const transforms = doc.Transform === undefined ? [] : Array.isArray(doc.Transform) ? doc.Transform : [doc.Transform];
  for (const t of transforms) {
    if (typeof t !== 'string') throw cfnErrors.templateFormat('[/Transform] Transform must name a macro (a string)');
    if (!SUPPORTED_TRANSFORMS.has(t)) throw cfnErrors.template(`Transform ${t.slice(0, 100)} is not supported here: Berth applies AWS::LanguageExtensions only`);
  }
  const t: Template = {
    AWSTemplateFormatVersion: version as string | undefined,
    Description: doc.Description as string | undefined,
    Metadata: doc.Metadata,
    Transform: doc.Transform as string | string[] | undefined,
    Parameters: section<ParameterDecl>(doc, 'Parameters', TEMPLATE_LIMITS.parameters),
    Mappings: section(doc, 'Mappings', TEMPLATE_LIMITS.mappings),
    Conditions: section(doc, 'Conditions'),
    Resources: section<ResourceDecl>(doc, 'Resources', TEMPLATE_LIMITS.resources),
    Outputs: section<OutputDecl>(doc, 'Outputs', TEMPLATE_LIMITS.outputs),
  };
  if (Object.keys(t.Resources).length === 0) throw cfnErrors.templateFormat('At least one Resources member must be defined.');

  for (const [name, p] of Object.entries(t.Parameters)) {
    const at = `[/Parameters/${name}]`;
    if (!LOGICAL_ID.test(name)) throw cfnErrors.templateFormat(`${at} Parameter name ${name.slice(0, 100)} is non alphanumeric.`);
    if (!isObject(p)) throw cfnErrors.templateFormat(`${at} Every Parameters object must be a mapping`);
    if (typeof p.Type !== 'string') throw cfnErrors.templateFormat(`${at} Every Parameters object must contain a Type member.`);
    if (!isKnownParameterType(p.Type)) throw cfnErrors.templateFormat(`${at} Unrecognized parameter type: ${p.Type.slice(0, 100)}`);
    if (p.AllowedValues !== undefined && !Array.isArray(p.AllowedValues)) throw cfnErrors.templateFormat(`${at} AllowedValues must be a list`);
    if (p.AllowedPattern !== undefined && typeof p.AllowedPattern !== 'string') throw cfnErrors.templateFormat(`${at} AllowedPattern must be a string`);
    for (const k of ['MinLength', 'MaxLength', 'MinValue', 'MaxValue'] as const) {
      if (p[k] !== undefined && !Number.isFinite(Number(p[k]))) throw cfnErrors.templateFormat(`${at} ${k} must be a number`);
    }
  }
  for (const [name, m] of Object.entries(t.Mappings)) {
    if (!isObject(m) || !Object.values(m).every(isObject)) throw cfnErrors.templateFormat(`[/Mappings/${name}] Every Mappings member ${name} must be a map of maps`);
  }
  for (const [name, r] of Object.entries(t.Resources)) {
    const at = `[/Resources/${name}]`;
    if (!LOGICAL_ID.test(name)) throw cfnErrors.templateFormat(`${at} Resource name ${name.slice(0, 100)} is non alphanumeric.`);
    if (!isObject(r)) throw cfnErrors.templateFormat(`${at} Every Resources object must be a mapping`);
    if (typeof r.Type !== 'string' || !r.Type) throw cfnErrors.templateFormat(`${at} Every Resources object must contain a Type member.`);
    const bad = Object.keys(r).filter((k) => !RESOURCE_KEYS.has(k));
    if (bad.length) throw cfnErrors.templateFormat(`${at} Invalid template resource property '${bad[0]!.slice(0, 100)}'`);
    if (r.Properties !== undefined && !isObject(r.Properties)) throw cfnErrors.templateFormat(`${at} The Properties of a resource must be a mapping`);
    for (const k of ['DeletionPolicy', 'UpdateReplacePolicy'] as const) {
      if (r[k] !== undefined && !(typeof r[k] === 'string' && POLICIES.has(r[k] as string))) throw cfnErrors.templateFormat(`${at} Unrecognized ${k} ${JSON.stringify(r[k]).slice(0, 60)}: use Delete, Retain, RetainExceptOnCreate or Snapshot`);
    }
    if (r.Condition !== undefined && (typeof r.Condition !== 'string' || !(r.Condition in t.Conditions))) {
      throw cfnErrors.templateFormat(`${at} Unresolved dependencies [${String(r.Condition).slice(0, 100)}]: the Condition is not declared in the Conditions block`);
    }
    const deps = r.DependsOn === undefined ? [] : Array.isArray(r.DependsOn) ? r.DependsOn : [r.DependsOn];
    for (const d of deps) {
      if (typeof d !== 'string') throw cfnErrors.templateFormat(`${at} DependsOn must name resources (strings)`);
      if (!(d in t.Resources)) throw cfnErrors.templateFormat(`Unresolved resource dependencies [${d.slice(0, 100)}] in the Resources block of the template`);
    }
  }
  for (const [name, o] of Object.entries(t.Outputs)) {
    const at = `[/Outputs/${name}]`;
    if (!LOGICAL_ID.test(name)) throw cfnErrors.templateFormat(`${at} Output name ${name.slice(0, 100)} is non alphanumeric.`);
    if (!isObject(o) || o.Value === undefined) throw cfnErrors.templateFormat(`${at} Every Outputs member must contain a Value object`);
    if (o.Condition !== undefined && !(typeof o.Condition === 'string' && o.Condition in t.Conditions)) throw cfnErrors.templateFormat(`${at} Unresolved dependencies [${String(o.Condition).slice(0, 100)}]: the Condition is not declared`);
  }
  checkReferences(t);
  dependencyOrder(t.Resources); // throws on a cycle
  return t;
}

const PSEUDO = new Set(['AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue', 'AWS::Partition', 'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix']);

/** Whether `name` is a pseudo parameter. */
export function isPseudoParameter(name: string): boolean {
  return PSEUDO.has(name);
}

/** Every Ref, GetAtt, Sub variable and condition name in the template names something declared. */
function checkReferences(t: Template): void {
  const known = (n: string) => n in t.Parameters || n in t.Resources || PSEUDO.has(n);
  const inConditions = (where: string, v: unknown) => {
    for (const ref of referencesOf(v)) {
      if (ref.kind === 'condition') {
        if (!(ref.name in t.Conditions)) throw cfnErrors.templateFormat(`[${where}] Unresolved dependencies [${ref.name.slice(0, 100)}]: no such condition in the Conditions block`);
      } else if (ref.kind === 'ref' && !(ref.name in t.Parameters) && !PSEUDO.has(ref.name)) {
        throw cfnErrors.templateFormat(`[${where}] Unresolved dependencies [${ref.name.slice(0, 100)}]. Cannot reference resources in the Conditions block of the template`);
      }
    }
  };
  for (const [n, c] of Object.entries(t.Conditions)) inConditions(`/Conditions/${n}`, c);
  const check = (where: string, v: unknown) => {
    for (const ref of referencesOf(v)) {
      if (ref.kind === 'condition') {
        if (!(ref.name in t.Conditions)) throw cfnErrors.templateFormat(`[${where}] Unresolved dependencies [${ref.name.slice(0, 100)}]: no such condition in the Conditions block`);
      } else if (ref.kind === 'getatt') {
        if (!(ref.name in t.Resources)) throw cfnErrors.template(`[${where}] instance of Fn::GetAtt references undefined resource ${ref.name.slice(0, 100)}`);
      } else if (!known(ref.name)) {
        throw cfnErrors.templateFormat(`Unresolved resource dependencies [${ref.name.slice(0, 100)}] in the ${where.startsWith('/Outputs') ? 'Outputs' : 'Resources'} block of the template`);
      }
    }
  };
  for (const [n, r] of Object.entries(t.Resources)) check(`/Resources/${n}/Properties`, r.Properties);
  for (const [n, o] of Object.entries(t.Outputs)) check(`/Outputs/${n}`, o);
}
