/**
 * SSM Parameter Store handlers. A parameter is one store record holding all its versions (at
 * most 100). SecureString values are stored sealed (see crypto.ts): the record, and therefore
 * the store's change feed, never holds their plaintext.
 */
import type * as SSM from '../../generated/ssm.js';
import { mergeTags } from '../../domain/common.js';
import { mutate } from '../../domain/mutate.js';
import type { Platform } from '../../domain/platform.js';
import type { Handlers, RequestContext } from '../types.js';
import { masterKey, open, seal } from './crypto.js';
import { ssmErrors } from './errors.js';
import { KIND, paramArn, paramKey, parseRef, validLabel, validateName } from './names.js';

/** One version of a parameter as stored. `value` is sealed for SecureString. */
export interface VersionRecord {
  version: number;
  type: SSM.ParameterType;
  value: string;
  description?: string;
  allowedPattern?: string;
  keyId?: string;
  tier: SSM.ParameterTier;
  dataType: string;
  labels: string[];
  policies: string[];
  lastModified: number;
  lastModifiedUser: string;
}

/** A parameter as stored: its versions (oldest first) and tags. */
export interface ParameterRecord {
  name: string;
  tags: Array<{ Key: string; Value: string }>;
  versions: VersionRecord[];
}

const MAX_VERSIONS = 100;
const MAX_LABELS = 10;
const DEFAULT_KEY = 'alias/aws/ssm';
const TIER_LIMIT: Record<string, number> = { Standard: 4096, Advanced: 8192 };

const latest = (p: ParameterRecord) => p.versions[p.versions.length - 1]!;

function aad(region: string, name: string): string {
  return `ssm:${region}/${name}`;
}

/** The value to return: plaintext, or for SecureString the sealed blob unless decrypting. */
function valueOf(platform: Platform, region: string, name: string, v: VersionRecord, decrypt: boolean): string {
  if (v.type !== 'SecureString' || !decrypt) return v.value;
  try {
    return open(masterKey(platform.dataDir), aad(region, name), v.value);
  } catch {
    throw ssmErrors.cannotDecrypt(name, v.version);
  }
}

function toParameter(ctx: RequestContext, region: string, p: ParameterRecord, v: VersionRecord, decrypt: boolean, selector?: string): SSM.Parameter {
  return {
    Name: p.name,
    Type: v.type,
    Value: valueOf(ctx.platform, region, p.name, v, decrypt),
    Version: v.version,
    Selector: selector,
    LastModifiedDate: new Date(v.lastModified),
    ARN: paramArn(ctx.platform, region, p.name),
    DataType: v.dataType,
  };
}

function toMetadata(ctx: RequestContext, p: ParameterRecord): SSM.ParameterMetadata {
  const v = latest(p);
  return {
    Name: p.name,
    ARN: paramArn(ctx.platform, ctx.region, p.name),
    Type: v.type,
    KeyId: v.keyId,
    LastModifiedDate: new Date(v.lastModified),
    LastModifiedUser: v.lastModifiedUser,
    Description: v.description,
    AllowedPattern: v.allowedPattern,
    Version: v.version,
    Tier: v.tier,
    Policies: [],
    DataType: v.dataType,
  };
}

async function load(platform: Platform, region: string, name: string): Promise<ParameterRecord | undefined> {
  return (await platform.store.get<ParameterRecord>(KIND.parameter, paramKey(region, name)))?.value;
}

/** Resolves a Get*-style reference (name/ARN with optional selector) to a record and version. */
async function resolve(
  ctx: RequestContext,
  raw: string,
): Promise<{ region: string; p: ParameterRecord; v: VersionRecord; selector?: string } | { missing: 'parameter' | 'version'; display: string; selector?: string }> {
  const ref = parseRef(ctx.platform, ctx.region, raw);
  let p: ParameterRecord | undefined;
  for (const n of ref.names) {
    p = await load(ctx.platform, ref.region, n);
    if (p) break;
  }
  if (!p) return { missing: 'parameter', display: ref.display, selector: ref.selector };
  if (ref.selector === undefined) return { region: ref.region, p, v: latest(p) };
  const sel = ref.selector.slice(1);
  const v = /^\d+$/.test(sel) ? p.versions.find((x) => x.version === Number(sel)) : p.versions.find((x) => x.labels.includes(sel));
  if (!v) return { missing: 'version', display: p.name, selector: ref.selector };
  return { region: ref.region, p, v, selector: ref.selector };
}

function checkAllowedPattern(pattern: string | undefined): RegExp | undefined {
  if (pattern === undefined || pattern === '') return undefined;
  try {
    return new RegExp(pattern);
  } catch (e) {
    throw ssmErrors.invalidAllowedPattern(`AllowedPattern is not a valid regular expression: ${(e as Error).message}`);
  }
}

function validateDataType(dataType: string, type: SSM.ParameterType, value: string): void {
  if (dataType === 'text') return;
  if (dataType === 'aws:ec2:image') {
    if (type !== 'String') throw ssmErrors.validation('DataType aws:ec2:image is only valid for String parameters.');
    if (!/^ami-[0-9a-f]{8}([0-9a-f]{9})?$/.test(value)) {
      throw ssmErrors.validation(`Parameter value is not a valid AMI id for DataType aws:ec2:image (ami-xxxxxxxx or ami-xxxxxxxxxxxxxxxxx).`);
    }
    return;
  }
  throw ssmErrors.validation(`The following data type is not supported: ${dataType} (supported data types are: text, aws:ec2:image)`);
}

function tokenFor(name: string): string {
  return Buffer.from(JSON.stringify({ n: name })).toString('base64url');
}

function fromToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { n?: unknown };
    if (typeof v.n === 'string') return v.n;
  } catch {
    /* fall through */
  }
  throw ssmErrors.invalidNextToken();
}

/** All parameters of a region in name order, starting after `after`. */
async function scan(platform: Platform, region: string, prefix: string, after: string | undefined): Promise<ParameterRecord[]> {
  const recs = await platform.store.list<ParameterRecord>(KIND.parameter, {
    prefix: `${region}/${prefix}`,
    after: after !== undefined ? paramKey(region, after) : undefined,
  });
  return recs.map((r) => r.value);
}

type StringFilter = (p: ParameterRecord) => boolean;

/** Compiles ParameterFilters; `allowed` lists the keys this operation accepts. */
function compileFilters(filters: SSM.ParameterStringFilter[] | undefined, allowed: string[]): { pred: StringFilter; label?: string[] } {
  const preds: StringFilter[] = [];
  let label: string[] | undefined;
  for (const f of filters ?? []) {
    const key = f.Key;
    const isTag = key.startsWith('tag:');
    if (!isTag && !allowed.includes(key)) throw ssmErrors.invalidFilterKey(key);
    if (isTag && !allowed.includes('tag:')) throw ssmErrors.invalidFilterKey(key);
    const values = f.Values ?? [];
    const option = f.Option ?? (key === 'Path' ? 'OneLevel' : 'Equals');
    const needValues = () => {
      if (values.length === 0) throw ssmErrors.invalidFilterValue(`The filter ${key} needs at least one value.`);
    };
    const optionsFor: Record<string, string[]> = {
      Name: ['Equals', 'BeginsWith', 'Contains'],
      Path: ['Recursive', 'OneLevel'],
      Type: ['Equals'],
      KeyId: ['Equals'],
      Label: ['Equals'],
      Tier: ['Equals'],
      DataType: ['Equals'],
    };
    const okOptions = isTag ? ['Equals'] : optionsFor[key]!;
    if (!okOptions.includes(option)) throw ssmErrors.invalidFilterOption(`The option '${option}' is not valid for the filter ${key}: use ${okOptions.join(' or ')}.`);
    if (isTag) {
      const tk = key.slice(4);
      preds.push((p) => p.tags.some((t) => t.Key === tk && (values.length === 0 || values.includes(t.Value))));
      continue;
    }
    needValues();
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
        preds.push((p) => values.includes(latest(p).type));
        break;
      case 'KeyId':
        preds.push((p) => latest(p).keyId !== undefined && values.includes(latest(p).keyId!));
        break;
      case 'Tier':
        preds.push((p) => values.includes(latest(p).tier));
        break;
      case 'DataType':
        preds.push((p) => values.includes(latest(p).dataType));
        break;
      case 'Label':
        label = values;
        preds.push((p) => p.versions.some((v) => v.labels.some((l) => values.includes(l))));
        break;
    }
  }
  return { pred: (p) => preds.every((f) => f(p)), label };
}

function user(ctx: RequestContext): string {
  return ctx.principal.arn;
}

/** The Parameter Store operations Berth implements (the rest of SSM answers NotImplemented). */
export const ssmHandlers: Handlers<SSM.Operations> = {
  async PutParameter(input, ctx) {
    const { platform, region } = ctx;
    const name = input.Name;
    validateName(platform, region, name);
    if (input.Type !== undefined && !['String', 'StringList', 'SecureString'].includes(input.Type)) throw ssmErrors.unsupportedType(input.Type);
    if (input.Overwrite && input.Tags?.length) {
      throw ssmErrors.validation(
        'Invalid request: tags and overwrite can\'t be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.',
      );
    }
    if (input.Value.length === 0) throw ssmErrors.validation('Parameter value must not be empty.');
    const pattern = checkAllowedPattern(input.AllowedPattern);
    const tags = mergeTags([], (input.Tags ?? []).map((t) => ({ key: t.Key, value: t.Value })), ssmErrors.validation).map((t) => ({ Key: t.key!, Value: t.value ?? '' }));
    const now = platform.clock.now();
    let result: { version: number; tier: SSM.ParameterTier } | undefined;
    await mutate<ParameterRecord>(platform.store, KIND.parameter, paramKey(region, name), (cur) => {
      if (cur && !input.Overwrite) throw ssmErrors.alreadyExists();
      const prev = cur ? latest(cur) : undefined;
      const type = input.Type ?? prev?.type;
      if (!type) throw ssmErrors.validation('A parameter type is required when you create a parameter: use String, StringList or SecureString.');
      if (input.KeyId !== undefined && type !== 'SecureString') throw ssmErrors.validation('KeyId is only valid for SecureString parameters.');
      const allowed = input.AllowedPattern !== undefined ? input.AllowedPattern : prev?.allowedPattern;
      const re = input.AllowedPattern !== undefined ? pattern : checkAllowedPattern(allowed);
      if (re && !re.test(input.Value)) throw ssmErrors.patternMismatch(allowed!);
      if (type === 'StringList' && input.Value.split(',').some((x) => x === '')) {
        throw ssmErrors.validation('StringList values are comma-separated and cannot contain empty items.');
      }
      const dataType = input.DataType ?? prev?.dataType ?? 'text';
      validateDataType(dataType, type, input.Value);
      // Tier: Intelligent-Tiering picks Standard when the value fits; Advanced cannot go back.
      const size = Buffer.byteLength(input.Value, 'utf8');
      let tier: SSM.ParameterTier = input.Tier ?? (prev?.tier === 'Advanced' ? 'Advanced' : 'Standard');
      if (tier === 'Intelligent-Tiering') tier = size <= TIER_LIMIT.Standard! && prev?.tier !== 'Advanced' ? 'Standard' : 'Advanced';
      if (tier === 'Standard' && prev?.tier === 'Advanced') {
        throw ssmErrors.validation('This parameter uses the advanced-parameter tier. You can\'t downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.');
      }
      if (size > TIER_LIMIT[tier]!) {
        throw ssmErrors.validation(
          tier === 'Standard'
            ? `Standard tier parameters support a maximum parameter value of 4096 characters; this value is ${size}. To create a larger parameter value, use the Advanced tier.`
            : `Advanced tier parameters support a maximum parameter value of 8192 characters; this value is ${size}.`,
        );
      }
      const versions = cur ? [...cur.versions] : [];
      if (versions.length >= MAX_VERSIONS) {
        if (versions[0]!.labels.length > 0) throw ssmErrors.maxVersions(name);
        versions.shift();
      }
      const version = (prev?.version ?? 0) + 1;
      const keyId = type === 'SecureString' ? (input.KeyId ?? (prev?.type === 'SecureString' ? prev.keyId : undefined) ?? DEFAULT_KEY) : undefined;
      const value = type === 'SecureString' ? seal(masterKey(platform.dataDir), aad(region, name), input.Value) : input.Value;
      versions.push({
        version,
        type,
        value,
        description: input.Description !== undefined ? input.Description : prev?.description,
        allowedPattern: allowed || undefined,
        keyId,
        tier,
        dataType,
        labels: [],
        policies: [],
        lastModified: now,
        lastModifiedUser: user(ctx),
      });
      result = { version, tier };
      return { name, tags: cur ? cur.tags : tags, versions };
    });
    return { Version: result!.version, Tier: result!.tier };
  },

  async GetParameter(input, ctx) {
    const r = await resolve(ctx, input.Name);
    if ('missing' in r) {
      if (r.missing === 'version') throw ssmErrors.versionNotFound(r.display, r.selector!.slice(1));
      throw ssmErrors.notFound(r.display);
    }
    return { Parameter: toParameter(ctx, r.region, r.p, r.v, input.WithDecryption ?? false, r.selector) };
  },

  async GetParameters(input, ctx) {
    const Parameters: SSM.Parameter[] = [];
    const InvalidParameters: string[] = [];
    for (const raw of [...new Set(input.Names)]) {
      let r;
      try {
        r = await resolve(ctx, raw);
      } catch {
        InvalidParameters.push(raw);
        continue;
      }
      if ('missing' in r) InvalidParameters.push(raw);
      else Parameters.push(toParameter(ctx, r.region, r.p, r.v, input.WithDecryption ?? false, r.selector));
    }
    return { Parameters, InvalidParameters };
  },

  async GetParametersByPath(input, ctx) {
    const path = input.Path;
    if (!path.startsWith('/')) throw ssmErrors.validation(`The parameter path '${path}' is not valid: paths start with '/'.`);
    if (path.length > 1 && path.split('/').filter(Boolean).length > 15) throw ssmErrors.hierarchyLevels();
    const max = input.MaxResults ?? 10;
    const { pred, label } = compileFilters(input.ParameterFilters, ['Type', 'KeyId', 'Label']);
    const base = path.endsWith('/') ? path : `${path}/`;
    const after = fromToken(input.NextToken);
    const Parameters: SSM.Parameter[] = [];
    let last: string | undefined;
    let more = false;
    for (const p of await scan(ctx.platform, ctx.region, base, after)) {
      const rest = p.name.slice(base.length);
      if (!input.Recursive && rest.includes('/')) continue;
      if (!pred(p)) continue;
      if (Parameters.length === max) {
        more = true;
        break;
      }
      const v = label ? [...p.versions].reverse().find((x) => x.labels.some((l) => label.includes(l)))! : latest(p);
      Parameters.push(toParameter(ctx, ctx.region, p, v, input.WithDecryption ?? false));
      last = p.name;
    }
    return { Parameters, NextToken: more && last ? tokenFor(last) : undefined };
  },

  async DescribeParameters(input, ctx) {
    if (input.Filters?.length && input.ParameterFilters?.length) {
      throw ssmErrors.validation('You can use either Filters or ParameterFilters in a single request, but not both.');
    }
    const max = input.MaxResults ?? 10;
    const legacy: SSM.ParameterStringFilter[] = (input.Filters ?? []).map((f) => ({
      Key: f.Key,
      Option: f.Key === 'Name' ? 'BeginsWith' : 'Equals',
      Values: f.Values,
    }));
    const { pred } = compileFilters(input.Filters?.length ? legacy : input.ParameterFilters, ['Name', 'Type', 'KeyId', 'Path', 'Tier', 'DataType', 'Label', 'tag:']);
    const after = fromToken(input.NextToken);
    const Parameters: SSM.ParameterMetadata[] = [];
    let more = false;
    let last: string | undefined;
    for (const p of await scan(ctx.platform, ctx.region, '', after)) {
      if (!pred(p)) continue;
      if (Parameters.length === max) {
        more = true;
        break;
      }
      Parameters.push(toMetadata(ctx, p));
      last = p.name;
    }
    return { Parameters, NextToken: more && last ? tokenFor(last) : undefined };
  },

  async GetParameterHistory(input, ctx) {
    const r = await resolve(ctx, input.Name);
    if ('missing' in r || r.selector !== undefined) throw ssmErrors.notFound('missing' in r ? r.display : input.Name);
    const max = input.MaxResults ?? 50;
    let start = 0;
    if (input.NextToken !== undefined) {
      const v = Number(fromToken(input.NextToken));
      const i = r.p.versions.findIndex((x) => x.version > v);
      if (!Number.isSafeInteger(v)) throw ssmErrors.invalidNextToken();
      start = i < 0 ? r.p.versions.length : i;
    }
    const page = r.p.versions.slice(start, start + max);
    const Parameters = page.map((v) => ({
      Name: r.p.name,
      Type: v.type,
      KeyId: v.keyId,
      LastModifiedDate: new Date(v.lastModified),
      LastModifiedUser: v.lastModifiedUser,
      Description: v.description,
      Value: valueOf(ctx.platform, r.region, r.p.name, v, input.WithDecryption ?? false),
      AllowedPattern: v.allowedPattern,
      Version: v.version,
      Labels: v.labels,
      Tier: v.tier,
      Policies: [],
      DataType: v.dataType,
    }));
    const more = start + max < r.p.versions.length;
    return { Parameters, NextToken: more ? tokenFor(String(page[page.length - 1]!.version)) : undefined };
  },

  async LabelParameterVersion(input, ctx) {
    const ref = parseRef(ctx.platform, ctx.region, input.Name);
    if (ref.selector !== undefined) throw ssmErrors.validation('The parameter name must not include a version or label selector here.');
    const invalid = input.Labels.filter((l) => !validLabel(l));
    const good = [...new Set(input.Labels.filter((l) => validLabel(l)))];
    let labelled = 0;
    let found = false;
    for (const name of ref.names) {
      await mutate<ParameterRecord>(ctx.platform.store, KIND.parameter, paramKey(ref.region, name), (cur) => {
        if (!cur) return undefined;
        found = true;
        const target = input.ParameterVersion ?? latest(cur).version;
        const idx = cur.versions.findIndex((v) => v.version === target);
        if (idx < 0) throw ssmErrors.versionNotFound(cur.name, String(target));
        // A label names one version: attaching it here moves it from wherever it was.
        const versions = cur.versions.map((v, i) => ({
          ...v,
          labels: i === idx ? [...new Set([...v.labels, ...good])] : v.labels.filter((l) => !good.includes(l)),
        }));
        if (versions[idx]!.labels.length > MAX_LABELS) throw ssmErrors.labelLimit();
        labelled = target;
        return { ...cur, versions };
      });
      if (found) break;
    }
    if (!found) throw ssmErrors.notFound(ref.display);
    return { InvalidLabels: invalid, ParameterVersion: labelled };
  },

  async UnlabelParameterVersion(input, ctx) {
    const ref = parseRef(ctx.platform, ctx.region, input.Name);
    let found = false;
    let removed: string[] = [];
    let invalid: string[] = [];
    for (const name of ref.names) {
      await mutate<ParameterRecord>(ctx.platform.store, KIND.parameter, paramKey(ref.region, name), (cur) => {
        if (!cur) return undefined;
        found = true;
        const idx = cur.versions.findIndex((v) => v.version === input.ParameterVersion);
        if (idx < 0) throw ssmErrors.versionNotFound(cur.name, String(input.ParameterVersion));
        const has = cur.versions[idx]!.labels;
        removed = input.Labels.filter((l) => has.includes(l));
        invalid = input.Labels.filter((l) => !has.includes(l));
        if (removed.length === 0) return undefined;
        const versions = cur.versions.map((v, i) => (i === idx ? { ...v, labels: v.labels.filter((l) => !removed.includes(l)) } : v));
        return { ...cur, versions };
      });
      if (found) break;
    }
    if (!found) throw ssmErrors.notFound(ref.display);
    return { RemovedLabels: removed, InvalidLabels: invalid };
  },

  async DeleteParameter(input, ctx) {
    const r = await resolve(ctx, input.Name);
    if ('missing' in r || r.selector !== undefined) throw ssmErrors.notFound('missing' in r ? r.display : input.Name);
    await ctx.platform.store.commit([{ kind: KIND.parameter, key: paramKey(r.region, r.p.name), value: null }]);
    return {};
  },

  async DeleteParameters(input, ctx) {
    const DeletedParameters: string[] = [];
    const InvalidParameters: string[] = [];
    for (const raw of [...new Set(input.Names)]) {
      let r;
      try {
        r = await resolve(ctx, raw);
      } catch {
        InvalidParameters.push(raw);
        continue;
      }
      if ('missing' in r || r.selector !== undefined) {
        InvalidParameters.push(raw);
        continue;
      }
      await ctx.platform.store.commit([{ kind: KIND.parameter, key: paramKey(r.region, r.p.name), value: null }]);
      DeletedParameters.push(raw);
    }
    return { DeletedParameters, InvalidParameters };
  },

  async AddTagsToResource(input, ctx) {
    const name = await taggedName(ctx, input.ResourceType, input.ResourceId);
    await mutate<ParameterRecord>(ctx.platform.store, KIND.parameter, paramKey(ctx.region, name), (cur) => {
      if (!cur) throw ssmErrors.invalidResourceId();
      const existing = cur.tags.map((t) => ({ key: t.Key, value: t.Value }));
      const byKey = new Map(existing.map((t) => [t.key, t]));
      for (const t of input.Tags) byKey.set(t.Key, { key: t.Key, value: t.Value });
      if (byKey.size > 50) throw ssmErrors.tooManyTags();
      const merged = mergeTags(existing, input.Tags.map((t) => ({ key: t.Key, value: t.Value })), ssmErrors.validation);
      return { ...cur, tags: merged.map((t) => ({ Key: t.key!, Value: t.value ?? '' })) };
    });
    return {};
  },

  async RemoveTagsFromResource(input, ctx) {
    const name = await taggedName(ctx, input.ResourceType, input.ResourceId);
    await mutate<ParameterRecord>(ctx.platform.store, KIND.parameter, paramKey(ctx.region, name), (cur) => {
      if (!cur) throw ssmErrors.invalidResourceId();
      return { ...cur, tags: cur.tags.filter((t) => !input.TagKeys.includes(t.Key)) };
    });
    return {};
  },

  async ListTagsForResource(input, ctx) {
    const name = await taggedName(ctx, input.ResourceType, input.ResourceId);
    const p = await load(ctx.platform, ctx.region, name);
    if (!p) throw ssmErrors.invalidResourceId();
    return { TagList: p.tags };
  },
};

/** The stored parameter name a tagging call's ResourceId (name or ARN) refers to. */
async function taggedName(ctx: RequestContext, type: string, id: string): Promise<string> {
  if (type !== 'Parameter') throw ssmErrors.invalidResourceType();
  let ref;
  try {
    ref = parseRef(ctx.platform, ctx.region, id);
  } catch {
    throw ssmErrors.invalidResourceId();
  }
  if (ref.region !== ctx.region || ref.selector !== undefined) throw ssmErrors.invalidResourceId();
  for (const n of ref.names) if (await load(ctx.platform, ctx.region, n)) return n;
  throw ssmErrors.invalidResourceId();
}
