/**
 * ParameterFilters (DescribeParameters, GetParametersByPath) and DescribeParameters' legacy
 * `Filters`, checked as Parameter Store checks them and compiled into a predicate over stored
 * parameters. The checks, in AWS's order and words:
 * - the key is one the operation takes (DescribeParameters: Name, Type, KeyId, Path, Tier,
 *   DataType and `tag:<key>`; GetParametersByPath: Type, KeyId and Label): InvalidFilterKey;
 * - every key but a tag names values: InvalidFilterValue ("values are missing");
 * - a key appears once: InvalidFilterKey ("duplicated");
 * - Path takes Recursive or OneLevel, and values that are paths outside the reserved `/aws` and
 *   `/ssm` namespaces (ValidationException); Type and Tier values are the enum's
 *   (InvalidFilterValue);
 * - every other key takes Equals or BeginsWith (Name also Contains; Label only Equals):
 *   InvalidFilterOption.
 */
import type * as SSM from '../../generated/ssm.js';
import { ServiceError } from '../../errors.js';
import { ssmErrors } from '../../domain/ssm/errors.js';
import { canonicalName, isRootLevel, pathForm } from '../../domain/ssm/names.js';
import { latestVersion, type ParameterRecord } from '../../domain/ssm/parameters.js';

/** A compiled filter list: the predicate, and the labels asked for (GetParametersByPath returns the version carrying one). */
export interface CompiledFilters {
  pred: (p: ParameterRecord) => boolean;
  label?: string[];
}

/** Which operation the filters are for: the keys and options each takes differ. */
export type FilterUse = 'describe' | 'byPath';

const KEYS: Record<FilterUse, readonly string[]> = {
  describe: ['Path', 'Name', 'Type', 'KeyId', 'Tier', 'DataType'],
  byPath: ['Type', 'KeyId', 'Label'],
};

const TYPES = ['String', 'StringList', 'SecureString'];
const TIERS = ['Standard', 'Advanced', 'Intelligent-Tiering'];


/** AWS's message for a path that is not one (GetParametersByPath's Path, the Path filter). */
export function invalidPath(): ServiceError {
  return ssmErrors.validation(
    'The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/". It can\'t be prefixed with "aws" or "ssm" (case-insensitive). ' +
      'It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. ' +
      'All sub-paths, if specified, must use the forward slash symbol "/". Valid example: /get/parameters2-/by1./path0_.',
  );
}

/** Whether `value` is a well-formed path (as GetParametersByPath and the Path filter take them): `/`, or `/`-separated levels of letters, digits and `.-_`. */
export function validPath(value: string): boolean {
  return value.length <= 2048 && value.startsWith('/') && !value.includes('//') && /^[a-zA-Z0-9_.\-/]+$/.test(value);
}

/** The forms a stored name answers Name filters under: a root-level name as `x` and `/x`. */
function nameForms(name: string): string[] {
  const bare = canonicalName(name);
  return isRootLevel(name) ? [bare, `/${bare}`] : [bare];
}

/** Checks ParameterFilters for `use` and compiles them; throws the error AWS answers for the first bad one. */
export function compileFilters(filters: SSM.ParameterStringFilter[] | undefined, use: FilterUse): CompiledFilters {
  const preds: Array<(p: ParameterRecord) => boolean> = [];
  let label: string[] | undefined;
  const seen = new Set<string>();
  for (const f of filters ?? []) {
    const key = f.Key;
    const isTag = key.startsWith('tag:');
    const keys = KEYS[use];
    if (isTag ? use !== 'describe' : !keys.includes(key)) {
      throw ssmErrors.invalidFilterKey(`The following filter key is not valid: ${key}. Valid filter keys include: [${keys.join(', ')}${use === 'describe' ? ', tag:<key>' : ''}].`);
    }
    const values = f.Values ?? [];
    if (!isTag && values.length === 0) throw ssmErrors.invalidFilterValue(`The following filter values are missing : null for filter key ${key}.`);
    if (seen.has(key)) throw ssmErrors.invalidFilterKey(`The following filter is duplicated in the request: ${key}. A request can contain only one occurrence of a specific filter.`);
    seen.add(key);
    if (key === 'Path') {
      const option = f.Option ?? 'OneLevel';
      if (option !== 'Recursive' && option !== 'OneLevel') throw ssmErrors.invalidFilterOption(`The following filter option is not valid: ${option}. Valid options include: [Recursive, OneLevel].`);
      for (const v of values) {
        if (/^\/(aws|ssm)/i.test(v)) {
          throw ssmErrors.validation('Filters for common parameters can\'t be prefixed with "aws" or "ssm" (case-insensitive). When using global parameters, please specify within a global namespace.');
        }
        if (!validPath(v)) throw invalidPath();
      }
      preds.push((p) => values.some((v) => underPath(p.name, v, option === 'Recursive')));
      continue;
    }
    const option = f.Option ?? 'Equals';
    // Type and Tier values are the enum's (a BeginsWith value may be the start of one).
    const enumValues = key === 'Type' ? TYPES : key === 'Tier' ? TIERS : undefined;
    for (const v of enumValues ? values : []) {
      if (!enumValues!.some((e) => (option === 'BeginsWith' ? e.startsWith(v) : e === v))) {
        throw ssmErrors.invalidFilterValue(`The following filter value is not valid: ${v}. Valid values include: [${enumValues!.join(', ')}].`);
      }
    }
    const options = key === 'Label' ? ['Equals'] : key === 'Name' ? ['BeginsWith', 'Equals', 'Contains'] : ['BeginsWith', 'Equals'];
    if (!options.includes(option)) throw ssmErrors.invalidFilterOption(`The following filter option is not valid: ${option}. Valid options include: [${options.join(', ')}].`);
    const match = (field: string | undefined) => field !== undefined && values.some((v) => (option === 'Equals' ? field === v : option === 'BeginsWith' ? field.startsWith(v) : field.includes(v)));
    if (isTag) {
      const tk = key.slice(4);
      preds.push((p) => p.tags.some((t) => t.Key === tk && (values.length === 0 || match(t.Value))));
      continue;
    }
    switch (key) {
      case 'Name':
        preds.push((p) => nameForms(p.name).some(match));
        break;
      case 'Type':
        preds.push((p) => match(latestVersion(p).type));
        break;
      case 'KeyId':
        preds.push((p) => match(latestVersion(p).keyId));
        break;
      case 'Tier':
        preds.push((p) => match(latestVersion(p).tier));
        break;
      case 'DataType':
        preds.push((p) => match(latestVersion(p).dataType));
        break;
      case 'Label':
        label = values;
        preds.push((p) => p.versions.some((v) => v.labels.some((l) => values.includes(l))));
        break;
    }
  }
  return { pred: (p) => preds.every((f) => f(p)), label };
}

/**
 * DescribeParameters' legacy `Filters` (Name, Type, KeyId; the model checks the keys) as
 * ParameterFilters: a Name value matches names that begin with it, the others are Equals.
 */
export function legacyFilters(filters: SSM.ParametersFilter[]): SSM.ParameterStringFilter[] {
  return filters.map((f) => ({ Key: f.Key, Option: f.Key === 'Name' ? 'BeginsWith' : 'Equals', Values: f.Values }));
}

/** Whether a stored name is under `path` (one level below it, or any depth when `recursive`); root-level names are under `/`. */
export function underPath(name: string, path: string, recursive: boolean): boolean {
  const form = pathForm(name);
  const base = path.endsWith('/') ? path : `${path}/`;
  if (!form.startsWith(base) || form.length === base.length) return false;
  return recursive || !form.slice(base.length).includes('/');
}
