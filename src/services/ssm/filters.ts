/**
 * ParameterFilters (GetParametersByPath, DescribeParameters and the legacy Filters) compiled into
 * a predicate over stored parameters, with the keys and options each operation accepts.
 */
import type * as SSM from '../../generated/ssm.js';
import { ssmErrors } from '../../domain/ssm/errors.js';
import { latestVersion, type ParameterRecord } from '../../domain/ssm/parameters.js';

/** A compiled filter list: the predicate, and the labels asked for (GetParametersByPath returns the version carrying one). */
export interface CompiledFilters {
  pred: (p: ParameterRecord) => boolean;
  label?: string[];
}

/** The options each filter key accepts (tag filters: Equals). */
const OPTIONS_FOR: Record<string, string[]> = {
  Name: ['Equals', 'BeginsWith', 'Contains'],
  Path: ['Recursive', 'OneLevel'],
  Type: ['Equals'],
  KeyId: ['Equals'],
  Label: ['Equals'],
  Tier: ['Equals'],
  DataType: ['Equals'],
};

/** Compiles ParameterFilters; `allowed` lists the keys this operation accepts (`tag:` for tag filters). */
export function compileFilters(filters: SSM.ParameterStringFilter[] | undefined, allowed: string[]): CompiledFilters {
  const preds: Array<(p: ParameterRecord) => boolean> = [];
  let label: string[] | undefined;
  for (const f of filters ?? []) {
    const key = f.Key;
    const isTag = key.startsWith('tag:');
    if (!isTag && !allowed.includes(key)) throw ssmErrors.invalidFilterKey(key);
    if (isTag && !allowed.includes('tag:')) throw ssmErrors.invalidFilterKey(key);
    const values = f.Values ?? [];
    const option = f.Option ?? (key === 'Path' ? 'OneLevel' : 'Equals');
    const okOptions = isTag ? ['Equals'] : OPTIONS_FOR[key]!;
    if (!okOptions.includes(option)) throw ssmErrors.invalidFilterOption(`The option '${option}' is not valid for the filter ${key}: use ${okOptions.join(' or ')}.`);
    if (isTag) {
      const tk = key.slice(4);
      preds.push((p) => p.tags.some((t) => t.Key === tk && (values.length === 0 || values.includes(t.Value))));
      continue;
    }
    if (values.length === 0) throw ssmErrors.invalidFilterValue(`The filter ${key} needs at least one value.`);
    switch (key) {
      case 'Name':
        preds.push((p) =>
          values.some((v) => (option === 'Equals' ? p.name === v : option === 'BeginsWith' ? p.name.startsWith(v) : p.name.includes(v))),
        );
        break;
      case 'Path':
        for (const v of values) if (!v.startsWith('/')) throw ssmErrors.invalidFilterValue(`The Path filter value '${v}' must start with '/'.`);
        preds.push((p) =>
          values.some((v) => {
            const base = v.endsWith('/') ? v : `${v}/`;
            if (!p.name.startsWith(base)) return false;
            return option === 'Recursive' || !p.name.slice(base.length).includes('/');
          }),
        );
        break;
      case 'Type':
        preds.push((p) => values.includes(latestVersion(p).type));
        break;
      case 'KeyId':
        preds.push((p) => latestVersion(p).keyId !== undefined && values.includes(latestVersion(p).keyId!));
        break;
      case 'Tier':
        preds.push((p) => values.includes(latestVersion(p).tier));
        break;
      case 'DataType':
        preds.push((p) => values.includes(latestVersion(p).dataType));
        break;
      case 'Label':
        label = values;
        preds.push((p) => p.versions.some((v) => v.labels.some((l) => values.includes(l))));
        break;
    }
  }
  return { pred: (p) => preds.every((f) => f(p)), label };
}
