/**
 * Parameter names, ARNs, selectors and labels, validated as Parameter Store does.
 * Store keys are `<region>/<name>`, so regions are separate and names list in order.
 */
import { arn, parseArn } from '../common.js';
import type { Scope } from '../platform.js';
import { ssmErrors } from './errors.js';

/** The store kind of parameter records. */
export const KIND = { parameter: 'ssm.parameter' } as const;

/** Store key of a parameter: region first, so regions are separate. */
export function paramKey(region: string, name: string): string {
  return `${region}/${name}`;
}

/**
 * Whether a name is root-level (not in a hierarchy): `x` or `/x`. Parameter Store treats the
 * two spellings of a root-level name as the same parameter ("/TestParam1" and "TestParam1" are
 * not unique), and reports it without the slash.
 */
export function isRootLevel(name: string): boolean {
  return !name.slice(1).includes('/');
}

/** The name a parameter is stored and reported under: a root-level name without its leading slash; any other as given. */
export function canonicalName(name: string): string {
  return name.startsWith('/') && isRootLevel(name) ? name.slice(1) : name;
}

/**
 * The stored names a name can refer to: for a root-level name its canonical form, then `/x`
 * (under which a Berth before this rule stored a root-level name given with its slash; such a
 * record is still found, and keeps its name so its SecureString values still open); any other
 * name only itself.
 */
export function storedNamesOf(name: string): string[] {
  if (!isRootLevel(name) || name === '' || name === '/') return [name];
  const bare = canonicalName(name);
  return [bare, `/${bare}`];
}

/** A stored name in the form paths and path filters see it: root-level names as `/x`. */
export function pathForm(name: string): string {
  return name.startsWith('/') ? name : `/${name}`;
}

/** `arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>`. */
export function paramArn(s: Scope, name: string): string {
  return arn('ssm', s.region, s.platform.accountId, `parameter/${name.startsWith('/') ? name.slice(1) : name}`);
}

/**
 * Checks a name for PutParameter: allowed characters, fully qualified when hierarchical, at
 * most 15 levels, no reserved `aws`/`ssm` prefix, and at most 2048 characters with the ARN prefix.
 */
export function validateName(s: Scope, name: string): void {
  if (!/^[a-zA-Z0-9_.\-/]+$/.test(name)) {
    throw ssmErrors.validation(`Parameter name '${name}' is not valid: names can contain only letters, digits and the symbols . - _ and / (for hierarchies).`);
  }
  if (name.includes('/')) {
    if (!name.startsWith('/')) throw ssmErrors.validation(`Parameter name '${name}' must be a fully qualified name: hierarchical names start with '/'.`);
    if (name.endsWith('/') || name.includes('//')) throw ssmErrors.validation(`Parameter name '${name}' is not valid: hierarchy levels cannot be empty.`);
    if (name.split('/').length - 1 > 15) throw ssmErrors.hierarchyLevels();
  }
  const first = (name.startsWith('/') ? name.slice(1) : name).toLowerCase();
  if (first.startsWith('aws') || first.startsWith('ssm')) {
    throw ssmErrors.validation(`Parameter name '${name}' is not valid: names can't be prefixed with "aws" or "ssm" (case-insensitive).`);
  }
  if (paramArn(s, name).length > 2048) {
    throw ssmErrors.validation('Parameter name is too long: the full ARN (arn:aws:ssm:<region>:<account>:parameter/<name>) can be at most 2048 characters.');
  }
}

/** A reference to a parameter as Get* calls accept it: name or ARN, with an optional `:selector`. */
export interface ParamRef {
  /** The region it names: the caller's, or an ARN's. */
  region: string;
  /** Candidate stored names (`storedNamesOf`: a root-level name is `x` or, stored by an older Berth, `/x`); none for another account's ARN. */
  names: string[];
  /** The name as the caller wrote it (without selector), for messages and results. */
  display: string;
  /** `:3` or `:label` as given, if any. */
  selector?: string;
}

/** Parses a name or ARN with an optional `:version` / `:label` selector; a malformed ARN is a ValidationException. */
export function parseRef(s: Scope, raw: string): ParamRef {
  let body = raw;
  let refRegion = s.region;
  if (raw.startsWith('arn:')) {
    const p = parseArn(raw);
    if (!p || p.service !== 'ssm' || !p.resource.startsWith('parameter/')) {
      throw ssmErrors.validation(`'${raw}' is not a parameter ARN (arn:aws:ssm:<region>:<account>:parameter/<name>).`);
    }
    if (p.accountId !== s.platform.accountId) return { region: p.region, names: [], display: raw };
    refRegion = p.region || s.region;
    body = p.resource.slice('parameter/'.length);
  }
  let selector: string | undefined;
  const colon = body.lastIndexOf(':');
  if (colon >= 0) {
    selector = body.slice(colon);
    body = body.slice(0, colon);
  }
  let names: string[];
  if (raw.startsWith('arn:')) names = body.includes('/') ? [`/${body}`] : storedNamesOf(body);
  else names = storedNamesOf(body);
  return { region: refRegion, names, display: raw.startsWith('arn:') ? (body.includes('/') ? `/${body}` : body) : body, selector };
}

/** Label rules: 1-100 chars of letters, digits, `.`, `-`, `_`; not starting with a digit or aws/ssm. */
export function validLabel(l: string): boolean {
  return /^[a-zA-Z0-9_.\-]{1,100}$/.test(l) && !/^[0-9]/.test(l) && !/^(aws|ssm)/i.test(l);
}
