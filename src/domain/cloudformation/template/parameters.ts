/**
 * Parameter values: what the caller gave (or the previous value, or the default), checked
 * against the declaration (type, AllowedValues, AllowedPattern through re2js, Min/MaxLength,
 * Min/MaxValue) with CloudFormation's messages; `AWS::SSM::Parameter::Value<...>` types read
 * the named SSM parameter through the lookup the caller passes.
 */
import { compileLinearRegex, RegexSyntaxError } from '../../regex.js';
import { cfnErrors } from '../errors.js';
import type { ParameterDecl } from './template.js';

/** A parameter as CreateStack / UpdateStack give it. */
export interface GivenParameter {
  ParameterKey?: string;
  ParameterValue?: string;
  UsePreviousValue?: boolean;
}

/** The outcome: the values templates see, and the values as stored and shown. */
export interface ResolvedParameters {
  /** Values for Ref (lists for list types; SSM types resolved). */
  values: Map<string, string | string[]>;
  /** The value each parameter was given (the SSM name for SSM types), as DescribeStacks shows it. */
  given: Record<string, string>;
  /** For SSM types, the value read from the parameter store (DescribeStacks' ResolvedValue). */
  resolved: Record<string, string>;
}

const isList = (type: string) => type.startsWith('List<') || type === 'CommaDelimitedList';

/** The type an `AWS::SSM::Parameter::Value<T>` resolves to, or undefined for other types. */
export function ssmValueType(type: string): string | undefined {
  return /^AWS::SSM::Parameter::Value<(.+)>$/.exec(type)?.[1];
}

/** Whether a parameter's value is hidden (NoEcho). */
export function isNoEcho(decl: ParameterDecl): boolean {
  return decl.NoEcho === true || decl.NoEcho === 'true';
}

function constraintFailed(name: string, decl: ParameterDecl, what: string): never {
  throw cfnErrors.validation(`Parameter '${name}' ${decl.ConstraintDescription ? `failed to satisfy constraint: ${String(decl.ConstraintDescription).slice(0, 500)}` : what}`);
}

/** Checks one value (each item of a list) against its declaration. */
export function checkParameterValue(name: string, decl: ParameterDecl, raw: string): void {
  const type = ssmValueType(decl.Type) ? 'String' : decl.Type;
  const items = isList(type) ? raw.split(',').map((s) => s.trim()) : [raw];
  for (const v of items) {
    if (type === 'Number' || type === 'List<Number>') {
      if (v.trim() === '' || !Number.isFinite(Number(v))) throw cfnErrors.validation(`Parameter '${name}' must be a number.`);
      if (decl.MinValue !== undefined && Number(v) < Number(decl.MinValue)) constraintFailed(name, decl, `must be a number not less than ${decl.MinValue}`);
      if (decl.MaxValue !== undefined && Number(v) > Number(decl.MaxValue)) constraintFailed(name, decl, `must be a number not greater than ${decl.MaxValue}`);
    }
    if (decl.MinLength !== undefined && v.length < Number(decl.MinLength)) constraintFailed(name, decl, `must contain at least ${decl.MinLength} characters`);
    if (decl.MaxLength !== undefined && v.length > Number(decl.MaxLength)) constraintFailed(name, decl, `cannot be longer than ${decl.MaxLength} characters`);
    if (decl.AllowedValues && !decl.AllowedValues.map(String).includes(v)) constraintFailed(name, decl, 'must be one of AllowedValues');
    if (decl.AllowedPattern !== undefined) {
      let ok: boolean;
      try {
        ok = compileLinearRegex(`^(?:${decl.AllowedPattern})$`).test(v);
      } catch (e) {
        if (e instanceof RegexSyntaxError) throw cfnErrors.templateFormat(`[/Parameters/${name}/AllowedPattern] is not a valid regular expression: ${e.message.slice(0, 200)}`);
        throw e;
      }
      if (!ok) constraintFailed(name, decl, `must match pattern ${decl.AllowedPattern}`);
    }
  }
}

/** The default's string form (lists of a list type joined by commas). */
function defaultOf(decl: ParameterDecl): string | undefined {
  if (decl.Default === undefined || decl.Default === null) return undefined;
  return Array.isArray(decl.Default) ? decl.Default.map(String).join(',') : String(decl.Default);
}

/**
 * Resolves the parameters of a template (see the module doc). `previous`: the values of the
 * stack before an update (for UsePreviousValue). `lookupSsm` reads SSM parameters by name and
 * answers undefined for those that do not exist.
 */
export async function resolveParameters(
  decls: Record<string, ParameterDecl>,
  given: readonly GivenParameter[],
  opts: { previous?: Record<string, string>; lookupSsm?: (names: string[]) => Promise<Map<string, string>> } = {},
): Promise<ResolvedParameters> {
  const byKey = new Map<string, GivenParameter>();
  for (const g of given) {
    if (!g.ParameterKey) throw cfnErrors.validation('Every parameter needs a ParameterKey.');
    if (byKey.has(g.ParameterKey)) throw cfnErrors.validation(`Parameter '${g.ParameterKey.slice(0, 255)}' was given more than once.`);
    byKey.set(g.ParameterKey, g);
  }
  const unknown = [...byKey.keys()].filter((k) => !(k in decls));
  if (unknown.length) throw cfnErrors.validation(`Parameters: [${unknown.slice(0, 20).join(', ')}] do not exist in the template`);
  const out: ResolvedParameters = { values: new Map(), given: {}, resolved: {} };
  const missing: string[] = [];
  const ssm: string[] = [];
  for (const [name, decl] of Object.entries(decls)) {
    const g = byKey.get(name);
    let raw: string | undefined;
    if (g?.UsePreviousValue) {
      raw = opts.previous?.[name];
      if (raw === undefined) throw cfnErrors.validation(`Invalid input for parameter key ${name}. Cannot specify usePreviousValue as true for a parameter key not in the previous template`);
      if (g.ParameterValue !== undefined) throw cfnErrors.validation(`Invalid input for parameter key ${name}. Cannot specify usePreviousValue as true and non empty value for a parameter`);
    } else raw = g?.ParameterValue ?? defaultOf(decl);
    if (raw === undefined) {
      missing.push(name);
      continue;
    }
    out.given[name] = raw;
    if (ssmValueType(decl.Type)) {
      ssm.push(name);
      continue;
    }
    checkParameterValue(name, decl, raw);
    out.values.set(name, isList(decl.Type) ? (raw === '' ? [] : raw.split(',').map((s) => (decl.Type === 'CommaDelimitedList' ? s : s.trim()))) : raw);
  }
  if (missing.length) throw cfnErrors.validation(`Parameters: [${missing.join(', ')}] must have values`);
  if (ssm.length) {
    const names = [...new Set(ssm.map((n) => out.given[n]!))];
    const found = opts.lookupSsm ? await opts.lookupSsm(names) : new Map<string, string>();
    const absent = names.filter((n) => !found.has(n));
    if (absent.length) throw cfnErrors.validation(`Unable to fetch parameters [${absent.slice(0, 10).join(',')}] from parameter store for this account.`);
    for (const name of ssm) {
      const decl = decls[name]!;
      const value = found.get(out.given[name]!)!;
      out.resolved[name] = value;
      const inner = ssmValueType(decl.Type)!;
      checkParameterValue(name, { ...decl, Type: inner }, value);
      out.values.set(name, isList(inner) ? value.split(',').map((s) => s.trim()) : value);
    }
  }
  return out;
}
