/**
 * What CloudFormation's resource schemas say about each resource type (from
 * @aws-cdk/aws-service-spec, compacted at build time into src/generated/cfn-resource-spec.json
 * by scripts/gen-cfn-spec.mjs): whether a type exists, which property changes replace a
 * resource, and its GetAtt attributes. Read once, on first use.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface TypeSpec {
  /** Properties whose change replaces the resource. */
  r: string[];
  /** Properties whose change may replace it, depending on the change. */
  m: string[];
  /** Attributes for Fn::GetAtt. */
  a: string[];
}

const SPEC_FILE = fileURLToPath(new URL('../../../../../src/generated/cfn-resource-spec.json', import.meta.url));
let spec: Record<string, TypeSpec> | undefined;

function load(): Record<string, TypeSpec> {
  spec ??= JSON.parse(readFileSync(SPEC_FILE, 'utf8')) as Record<string, TypeSpec>;
  return spec;
}

/** Whether CloudFormation knows the resource type (custom resources count as known). */
export function isKnownResourceType(type: string): boolean {
  return type in load() || isCustomResourceType(type);
}

/** `Custom::Name` or `AWS::CloudFormation::CustomResource`. */
export function isCustomResourceType(type: string): boolean {
  return type === 'AWS::CloudFormation::CustomResource' || /^Custom::[A-Za-z0-9_@-]{1,60}$/.test(type);
}

/** The properties of a type whose change replaces the resource (per its schema). */
export function replacingProperties(type: string): ReadonlySet<string> {
  return new Set(load()[type]?.r ?? []);
}

/** The GetAtt attributes a type's schema declares (empty for types it does not know). */
export function attributesOf(type: string): readonly string[] {
  return load()[type]?.a ?? [];
}

/**
 * Which properties changed between two resolved property sets, and whether the change replaces
 * the resource: a property the schema marks as replacing changed (added, removed or different).
 */
export function compareProperties(type: string, before: Record<string, unknown>, after: Record<string, unknown>): { changed: string[]; replacement: boolean } {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changed = [...names].filter((n) => JSON.stringify(before[n]) !== JSON.stringify(after[n])).sort();
  const replacing = replacingProperties(type);
  return { changed, replacement: changed.some((n) => replacing.has(n)) };
}
