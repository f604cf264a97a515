/**
 * Parameters as stored, and the rules of Parameter Store: one store record per parameter
 * (`ssm.parameter`, key `<region>/<name>`) holding its tags and all its versions, oldest first.
 *
 * Invariants every write keeps:
 * - versions count up from 1 and are never reused; at most {@link MAX_VERSIONS} are kept (a new
 *   one drops the oldest, unless that one carries a label: ParameterMaxVersionLimitExceeded);
 * - a label names one version of a parameter (labelling a version takes the label from any
 *   other), a version has at most {@link MAX_LABELS};
 * - every version's value satisfies the AllowedPattern, type, data type and tier it was written
 *   with; a parameter never goes back from the Advanced tier to Standard;
 * - a SecureString value is stored sealed under the master key (./masterKey.ts) with the AAD
 *   {@link secureStringAad}: neither the record nor the store's change feed ever holds its
 *   plaintext, and a sealed value copied to another parameter does not open.
 * Writes are `mutate`s (read, decide, commit with the revision read; retried on conflict).
 */
import type * as SSM from '../../generated/ssm.js';
import { mergeTags } from '../common.js';
import { mutate } from '../mutate.js';
import { compileLinearRegex, type LinearRegex } from '../regex.js';
import type { Scope } from '../platform.js';
import { ssmErrors } from './errors.js';
import type { MasterKey } from './masterKey.js';
import { KIND, canonicalName, paramKey, parseRef, storedNamesOf, validLabel, validateName, type ParamRef } from './names.js';

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
  tags: ParameterTag[];
  versions: VersionRecord[];
}

/** A tag as SSM spells it. */
export interface ParameterTag {
  Key: string;
  Value: string;
}

/** Versions kept per parameter. */
export const MAX_VERSIONS = 100;
/** Labels per version. */
export const MAX_LABELS = 10;
/** Tags per parameter. */
export const MAX_TAGS = 50;
/** The KeyId recorded for SecureStrings that name none (all are sealed under the master key). */
export const DEFAULT_KEY_ID = 'alias/aws/ssm';
/** Largest value per tier, in UTF-8 bytes. */
const TIER_LIMIT = { Standard: 4096, Advanced: 8192 } as const;

/** The newest version (every stored parameter has at least one). */
export function latestVersion(p: ParameterRecord): VersionRecord {
  return p.versions[p.versions.length - 1]!;
}

/** The newest version carrying one of `labels`, if any. */
export function latestLabelled(p: ParameterRecord, labels: readonly string[]): VersionRecord | undefined {
  return [...p.versions].reverse().find((v) => v.labels.some((l) => labels.includes(l)));
}

/** The AAD a SecureString value of parameter `name` in `region` is sealed with (the format of existing data dirs). */
export function secureStringAad(region: string, name: string): string {
  return `ssm:${region}/${name}`;
}

/**
 * The value of a version as the API returns it: the plaintext, or for a SecureString its sealed
 * blob unless `decrypt`. A SecureString the key does not open is InvalidKeyId (the key changed).
 */
export function versionValue(key: MasterKey, region: string, name: string, v: VersionRecord, decrypt: boolean): string {
  if (v.type !== 'SecureString' || !decrypt) return v.value;
  try {
    return key.open(secureStringAad(region, name), v.value);
  } catch {
    throw ssmErrors.cannotDecrypt(name, v.version);
  }
}

/**
 * The parameter a name refers to in the scope's region, or undefined: the name itself, and for a
 * root-level name either spelling (`x` or `/x`, see `storedNamesOf`).
 */
export async function findParameter(s: Scope, name: string): Promise<ParameterRecord | undefined> {
  for (const n of storedNamesOf(name)) {
    const rec = await s.platform.store.get<ParameterRecord>(KIND.parameter, paramKey(s.region, n));
    if (rec) return rec.value;
  }
  return undefined;
}

/** Parameters of the scope's region whose names start with `prefix`, in name order, after the name `after`. */
export async function listParameters(s: Scope, prefix: string, after: string | undefined): Promise<ParameterRecord[]> {
  const recs = await s.platform.store.list<ParameterRecord>(KIND.parameter, {
    prefix: paramKey(s.region, prefix),
    after: after !== undefined ? paramKey(s.region, after) : undefined,
  });
  return recs.map((r) => r.value);
}

/** What a Get*-style reference resolved to: a version of a parameter, or what is missing. */
export type Resolved =
  | {
      found: true;
      region: string;
      parameter: ParameterRecord;
      version: VersionRecord;
      selector?: string;
      /** The name as the caller wrote it (an ARN's as its name), which GetParameter reports: `/x` asked for is `/x`. */
      asked: string;
    }
  | { found: false; missing: 'parameter' | 'version'; display: string; selector?: string };

/**
 * Resolves a name or ARN with an optional `:version` / `:label` selector to a stored version
 * (the latest without a selector). Throws only for a malformed ARN (ValidationException).
 */
export async function resolveParameter(s: Scope, raw: string): Promise<Resolved> {
  const ref = parseRef(s, raw);
  const at: Scope = { platform: s.platform, region: ref.region };
  let p: ParameterRecord | undefined;
  for (const n of ref.names) {
    p = await findParameter(at, n);
    if (p) break;
  }
  if (!p) return { found: false, missing: 'parameter', display: ref.display, selector: ref.selector };
  if (ref.selector === undefined) return { found: true, region: ref.region, parameter: p, version: latestVersion(p), asked: ref.display };
  const sel = ref.selector.slice(1);
  const v = /^\d+$/.test(sel) ? p.versions.find((x) => x.version === Number(sel)) : p.versions.find((x) => x.labels.includes(sel));
  if (!v) return { found: false, missing: 'version', display: p.name, selector: ref.selector };
  return { found: true, region: ref.region, parameter: p, version: v, selector: ref.selector, asked: ref.display };
}

/**
 * An AllowedPattern compiled for linear-time matching (undefined for none), or
 * InvalidAllowedPatternException. A value satisfies it when the pattern matches somewhere in
 * it, so patterns anchor themselves (`^\d+$`), as AWS's examples do.
 */
export function compileAllowedPattern(pattern: string | undefined): LinearRegex | undefined {
  if (pattern === undefined || pattern === '') return undefined;
  try {
    return compileLinearRegex(pattern);
  } catch (e) {
    throw ssmErrors.invalidAllowedPattern(`AllowedPattern is not a valid regular expression: ${(e as Error).message}.`);
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

/** The tier a value of `size` bytes is stored in: the requested one, checked, or the one Intelligent-Tiering picks. */
function tierFor(requested: SSM.ParameterTier | undefined, prev: VersionRecord | undefined, size: number): SSM.ParameterTier {
  let tier: SSM.ParameterTier = requested ?? (prev?.tier === 'Advanced' ? 'Advanced' : 'Standard');
  // Intelligent-Tiering picks Standard when the value fits; Advanced cannot go back.
  if (tier === 'Intelligent-Tiering') tier = size <= TIER_LIMIT.Standard && prev?.tier !== 'Advanced' ? 'Standard' : 'Advanced';
  if (tier === 'Standard' && prev?.tier === 'Advanced') {
    throw ssmErrors.validation("This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.");
  }
  const limit = tier === 'Advanced' ? TIER_LIMIT.Advanced : TIER_LIMIT.Standard;
  if (size > limit) {
    throw ssmErrors.validation(
      tier === 'Standard'
        ? `Standard tier parameters support a maximum parameter value of 4096 characters; this value is ${size}. To create a larger parameter value, use the Advanced tier.`
        : `Advanced tier parameters support a maximum parameter value of 8192 characters; this value is ${size}.`,
    );
  }
  return tier;
}

/** Tags checked with the rules every AWS resource has, in SSM's spelling. */
function checkedTags(existing: readonly ParameterTag[], added: readonly ParameterTag[]): ParameterTag[] {
  return mergeTags(
    existing.map((t) => ({ key: t.Key, value: t.Value })),
    added.map((t) => ({ key: t.Key, value: t.Value })),
    ssmErrors.validation,
  ).map((t) => ({ Key: t.key!, Value: t.value ?? '' }));
}

/** What PutParameter writes. Absent settings keep the previous version's (or take the defaults). */
export interface ParameterWrite {
  name: string;
  value: string;
  type?: SSM.ParameterType;
  description?: string;
  /** '' removes the pattern. */
  allowedPattern?: string;
  keyId?: string;
  tier?: SSM.ParameterTier;
  dataType?: string;
  /** Replace an existing parameter with a new version (else ParameterAlreadyExists). */
  overwrite: boolean;
  /** Tags of a new parameter (an overwrite keeps the parameter's tags). */
  tags: readonly ParameterTag[];
  /** The principal ARN recorded as LastModifiedUser. */
  user: string;
}

/**
 * Writes a new version (1 for a new parameter) with every rule of the module header applied;
 * a SecureString value is sealed under `key` before it reaches the store. Nothing is written
 * when a rule fails. Returns the version and the tier it was stored in.
 */
export async function putParameter(s: Scope, key: MasterKey, w: ParameterWrite): Promise<{ version: number; tier: SSM.ParameterTier }> {
  validateName(s, w.name);
  if (w.value.length === 0) throw ssmErrors.validation('Parameter value must not be empty.');
  const pattern = compileAllowedPattern(w.allowedPattern);
  const tags = checkedTags([], w.tags);
  const canonical = canonicalName(w.name);
  // A root-level name stored by an older Berth as `/x` is written there (its SecureStrings are
  // sealed under that name); every other write goes to the canonical name. If that old record
  // goes away meanwhile, the write starts over at the canonical name.
  for (;;) {
    const existing = await findParameter(s, w.name);
    const name = existing?.name ?? canonical;
    const result = await writeVersion(s, key, w, name, tags, pattern, name !== canonical);
    if (result !== 'gone') return result;
  }
}

/**
 * One attempt of PutParameter at the record `name`. With `mustExist` (an older Berth's `/x`
 * record), nothing is created when the record is gone: the answer is then 'gone'.
 */
async function writeVersion(
  s: Scope,
  key: MasterKey,
  w: ParameterWrite,
  name: string,
  tags: ParameterTag[],
  pattern: LinearRegex | undefined,
  mustExist: boolean,
): Promise<{ version: number; tier: SSM.ParameterTier } | 'gone'> {
  const now = s.platform.clock.now();
  let result: { version: number; tier: SSM.ParameterTier } | 'gone' = 'gone';
  await mutate<ParameterRecord>(
    s.platform.store,
    KIND.parameter,
    paramKey(s.region, name),
    (cur) => {
      result = 'gone';
      if (!cur && mustExist) return undefined;
      if (cur && !w.overwrite) throw ssmErrors.alreadyExists();
      const prev = cur ? latestVersion(cur) : undefined;
      const type = w.type ?? prev?.type;
      if (!type) throw ssmErrors.validation('A parameter type is required when you create a parameter: use String, StringList or SecureString.');
      if (w.keyId !== undefined && type !== 'SecureString') throw ssmErrors.validation('KeyId is only valid for SecureString parameters.');
      const allowed = w.allowedPattern !== undefined ? w.allowedPattern : prev?.allowedPattern;
      const re = w.allowedPattern !== undefined ? pattern : compileAllowedPattern(allowed);
      if (re && !re.test(w.value)) throw ssmErrors.patternMismatch(allowed!);
      if (type === 'StringList' && w.value.split(',').some((x) => x === '')) {
        throw ssmErrors.validation('StringList values are comma-separated and cannot contain empty items.');
      }
      const dataType = w.dataType ?? prev?.dataType ?? 'text';
      validateDataType(dataType, type, w.value);
      const tier = tierFor(w.tier, prev, Buffer.byteLength(w.value, 'utf8'));
      const versions = cur ? [...cur.versions] : [];
      if (versions.length >= MAX_VERSIONS) {
        if (versions[0]!.labels.length > 0) throw ssmErrors.maxVersions(canonicalName(name));
        versions.shift();
      }
      const version = (prev?.version ?? 0) + 1;
      const secure = type === 'SecureString';
      versions.push({
        version,
        type,
        value: secure ? key.seal(secureStringAad(s.region, name), w.value) : w.value,
        description: w.description !== undefined ? w.description : prev?.description,
        allowedPattern: allowed || undefined,
        keyId: secure ? (w.keyId ?? (prev?.type === 'SecureString' ? prev.keyId : undefined) ?? DEFAULT_KEY_ID) : undefined,
        tier,
        dataType,
        labels: [],
        policies: [],
        lastModified: now,
        lastModifiedUser: w.user,
      });
      result = { version, tier };
      return { name, tags: cur ? cur.tags : tags, versions };
    },
    { what: `Parameter ${canonicalName(name)}` },
  );
  return result;
}

/**
 * Changes the first stored parameter among the candidate names of reference `ref` (a name or
 * ARN) with `change`, or throws ParameterNotFound naming what the caller wrote.
 */
async function changeReferenced(s: Scope, ref: ParamRef, change: (cur: ParameterRecord) => ParameterRecord | undefined): Promise<void> {
  for (const name of ref.names) {
    let found = false;
    await mutate<ParameterRecord>(s.platform.store, KIND.parameter, paramKey(ref.region, name), (cur) => {
      found = cur !== undefined;
      return cur ? change(cur) : undefined;
    }, { what: `Parameter ${name}` });
    if (found) return;
  }
  throw ssmErrors.notFound(ref.display);
}

/**
 * Attaches the valid ones of `labels` to `version` (default: the latest), moving each from
 * whichever version had it. Returns the version labelled and the labels refused as invalid.
 */
export async function labelParameterVersion(s: Scope, raw: string, version: number | undefined, labels: readonly string[]): Promise<{ version: number; invalid: string[] }> {
  const ref = parseRef(s, raw);
  if (ref.selector !== undefined) throw ssmErrors.validation('The parameter name must not include a version or label selector here.');
  const invalid = labels.filter((l) => !validLabel(l));
  const good = [...new Set(labels.filter((l) => validLabel(l)))];
  let labelled = 0;
  await changeReferenced(s, ref, (cur) => {
    const target = version ?? latestVersion(cur).version;
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
  return { version: labelled, invalid };
}

/** Removes `labels` from `version`; returns those removed and those the version did not carry. */
export async function unlabelParameterVersion(s: Scope, raw: string, version: number, labels: readonly string[]): Promise<{ removed: string[]; invalid: string[] }> {
  let removed: string[] = [];
  let invalid: string[] = [];
  // A selector on the name is ignored here (the version is given separately).
  await changeReferenced(s, parseRef(s, raw), (cur) => {
    const idx = cur.versions.findIndex((v) => v.version === version);
    if (idx < 0) throw ssmErrors.versionNotFound(cur.name, String(version));
    const has = cur.versions[idx]!.labels;
    removed = labels.filter((l) => has.includes(l));
    invalid = labels.filter((l) => !has.includes(l));
    if (removed.length === 0) return undefined;
    return { ...cur, versions: cur.versions.map((v, i) => (i === idx ? { ...v, labels: v.labels.filter((l) => !removed.includes(l)) } : v)) };
  });
  return { removed, invalid };
}

/** Deletes a parameter with all its versions (nothing if it is already gone). */
export async function deleteParameter(s: Scope, name: string): Promise<void> {
  await mutate<ParameterRecord>(s.platform.store, KIND.parameter, paramKey(s.region, name), (cur) => (cur ? null : undefined), { what: `Parameter ${name}` });
}

/** Adds or replaces tags of a parameter (at most {@link MAX_TAGS}: TooManyTagsError); InvalidResourceId if it is gone. */
export async function tagParameter(s: Scope, name: string, tags: readonly ParameterTag[]): Promise<void> {
  await mutate<ParameterRecord>(s.platform.store, KIND.parameter, paramKey(s.region, name), (cur) => {
    if (!cur) throw ssmErrors.invalidResourceId();
    if (new Set([...cur.tags, ...tags].map((t) => t.Key)).size > MAX_TAGS) throw ssmErrors.tooManyTags();
    return { ...cur, tags: checkedTags(cur.tags, tags) };
  }, { what: `Parameter ${name}` });
}

/** Removes the named tags from a parameter; InvalidResourceId if it is gone. */
export async function untagParameter(s: Scope, name: string, keys: readonly string[]): Promise<void> {
  await mutate<ParameterRecord>(s.platform.store, KIND.parameter, paramKey(s.region, name), (cur) => {
    if (!cur) throw ssmErrors.invalidResourceId();
    return { ...cur, tags: cur.tags.filter((t) => !keys.includes(t.Key)) };
  }, { what: `Parameter ${name}` });
}
