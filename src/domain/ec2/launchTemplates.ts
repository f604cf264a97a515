/**
 * EC2 launch templates: a named, versioned description of an instance (its ImageId,
 * InstanceType, UserData, security groups...), as Auto Scaling groups launch from. Berth's
 * instances are agent hosts, so what matters of a version is its UserData (the cluster an
 * agent joins, `ECS_CLUSTER=`); the rest is stored and returned as given.
 *
 * A template is one record (`ec2.launch-template`, `<region>/<lt-id>`) with its name index
 * (`ec2.launch-template-name`) and its versions as records of their own
 * (`ec2.launch-template-version`, `<region>/<lt-id>/<number, 10 digits>`), written together.
 * Bounds: {@link MAX_TEMPLATES} per region, {@link MAX_VERSIONS} versions per template, a
 * version's data at most {@link MAX_DATA_BYTES} of JSON.
 */
import { hexId } from '../common.js';
import { retrying } from '../mutate.js';
import type { Scope } from '../platform.js';
import type { Write } from '../../store/types.js';
import { ServiceError } from '../../errors.js';
import type { Tag } from '../common.js';

export const LAUNCH_TEMPLATE_KIND = 'ec2.launch-template';
export const LAUNCH_TEMPLATE_NAME_KIND = 'ec2.launch-template-name';
export const LAUNCH_TEMPLATE_VERSION_KIND = 'ec2.launch-template-version';

/** Most launch templates in a region (EC2's quota). */
export const MAX_TEMPLATES = 5000;
/** Most versions one template keeps (EC2's quota is 10,000; Berth keeps fewer). */
export const MAX_VERSIONS = 1000;
/** The largest launch template data, as JSON. */
export const MAX_DATA_BYTES = 64 * 1024;

/** A launch template. */
export interface LaunchTemplateRecord {
  id: string;
  name: string;
  createdAt: number;
  createdBy: string;
  defaultVersion: number;
  latestVersion: number;
  tags: Tag[];
}

/** One version of a template: its data as given (RequestLaunchTemplateData). */
export interface LaunchTemplateVersionRecord {
  templateId: string;
  templateName: string;
  number: number;
  description?: string;
  data: Record<string, unknown>;
  createdAt: number;
  createdBy: string;
}

const errors = {
  notFoundId: (id: string) => new ServiceError('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${id.slice(0, 64)}, does not exist.`),
  notFoundName: (name: string) => new ServiceError('InvalidLaunchTemplateName.NotFoundException', `The specified launch template, with template name ${name.slice(0, 128)}, does not exist.`),
  malformedId: (id: string) => new ServiceError('InvalidLaunchTemplateId.Malformed', `The specified ID for the launch template (${id.slice(0, 64)}) is not valid. The ID must be in the form lt-xxxxxxxxxxxxxxxxx.`),
  exists: (name: string) => new ServiceError('InvalidLaunchTemplateName.AlreadyExistsException', `Launch template name already in use.: ${name.slice(0, 128)}`),
  badName: (name: string) => new ServiceError('InvalidLaunchTemplateName.MalformedException', `A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _: got '${name.slice(0, 128)}'`),
  versionNotFound: (v: string, id: string) => new ServiceError('InvalidLaunchTemplateVersion.NotFound', `Could not find launch template version ${v.slice(0, 20)} for launch template ${id}.`),
  badVersion: (v: string) => new ServiceError('InvalidLaunchTemplateVersion.Malformed', `The version '${v.slice(0, 20)}' is not valid: a version number, $Latest or $Default.`),
  combination: () => new ServiceError('InvalidParameterCombination', 'Specify a launch template ID or a launch template name, not both.'),
  missing: () => new ServiceError('MissingParameter', 'The request must contain the parameter LaunchTemplateName or LaunchTemplateId'),
  tooMany: (what: string, max: number) => new ServiceError('LaunchTemplateLimitExceeded', `The maximum number of ${what} (${max}) has been reached.`),
  tooLarge: () => new ServiceError('InvalidParameterValue', `LaunchTemplateData is larger than ${MAX_DATA_BYTES} bytes as JSON.`),
  userData: () => new ServiceError('InvalidUserData.Malformed', 'UserData must be base64 of at most 16 KB.'),
};

const NAME = /^[a-zA-Z0-9().\-/_]{3,128}$/;
const ID = /^lt-[0-9a-f]{17}$/;
const templateKey = (region: string, id: string) => `${region}/${id}`;
const nameKey = (region: string, name: string) => `${region}/${name}`;
const versionKey = (region: string, id: string, n: number) => `${region}/${id}/${String(n).padStart(10, '0')}`;

function checkData(data: Record<string, unknown>): void {
  if (Buffer.byteLength(JSON.stringify(data)) > MAX_DATA_BYTES) throw errors.tooLarge();
  const ud = data.UserData;
  if (ud !== undefined && (typeof ud !== 'string' || ud.length > 21_848 || !/^[A-Za-z0-9+/=\s]*$/.test(ud))) throw errors.userData();
}

/** How a request names a template: by id or by name, exactly one. */
export interface TemplateRef {
  id?: string;
  name?: string;
}

/** The template a request names, with its revision; InvalidLaunchTemplate*.NotFound otherwise. */
export async function getLaunchTemplate(scope: Scope, ref: TemplateRef): Promise<{ rev: number; value: LaunchTemplateRecord }> {
  const store = scope.platform.store;
  if (ref.id && ref.name) throw errors.combination();
  if (ref.id) {
    if (!ID.test(ref.id)) throw errors.malformedId(ref.id);
    const r = await store.get<LaunchTemplateRecord>(LAUNCH_TEMPLATE_KIND, templateKey(scope.region, ref.id));
    if (!r) throw errors.notFoundId(ref.id);
    return r;
  }
  if (!ref.name) throw errors.missing();
  const idx = await store.get<{ id: string }>(LAUNCH_TEMPLATE_NAME_KIND, nameKey(scope.region, ref.name));
  const r = idx && (await store.get<LaunchTemplateRecord>(LAUNCH_TEMPLATE_KIND, templateKey(scope.region, idx.value.id)));
  if (!r) throw errors.notFoundName(ref.name);
  return r;
}

/** Creates a template with its version 1. */
export async function createLaunchTemplate(scope: Scope, input: { name: string; data: Record<string, unknown>; description?: string; tags: Tag[]; createdBy: string; now: number }): Promise<{ template: LaunchTemplateRecord; version: LaunchTemplateVersionRecord }> {
  if (!NAME.test(input.name)) throw errors.badName(input.name);
  checkData(input.data);
  const store = scope.platform.store;
  return retrying(`Launch template ${input.name}`, async () => {
    if (await store.get(LAUNCH_TEMPLATE_NAME_KIND, nameKey(scope.region, input.name))) throw errors.exists(input.name);
    const count = await store.list(LAUNCH_TEMPLATE_KIND, { prefix: `${scope.region}/`, limit: MAX_TEMPLATES });
    if (count.length >= MAX_TEMPLATES) throw errors.tooMany('launch templates', MAX_TEMPLATES);
    const id = `lt-${hexId(9).slice(0, 17)}`;
    const template: LaunchTemplateRecord = { id, name: input.name, createdAt: input.now, createdBy: input.createdBy, defaultVersion: 1, latestVersion: 1, tags: input.tags };
    const version: LaunchTemplateVersionRecord = { templateId: id, templateName: input.name, number: 1, description: input.description, data: input.data, createdAt: input.now, createdBy: input.createdBy };
    await store.commit([
      { kind: LAUNCH_TEMPLATE_NAME_KIND, key: nameKey(scope.region, input.name), value: { id }, expectRev: 0 },
      { kind: LAUNCH_TEMPLATE_KIND, key: templateKey(scope.region, id), value: template, expectRev: 0 },
      { kind: LAUNCH_TEMPLATE_VERSION_KIND, key: versionKey(scope.region, id, 1), value: version, expectRev: 0 },
    ]);
    return { template, version };
  });
}

/** The version number `v` ($Latest, $Default or a number) names in `t`. */
export function versionNumber(t: LaunchTemplateRecord, v: string | undefined): number {
  if (v === undefined || v === '$Default') return t.defaultVersion;
  if (v === '$Latest') return t.latestVersion;
  if (!/^\d{1,10}$/.test(v)) throw errors.badVersion(v);
  return Number(v);
}

/** One version of a template; InvalidLaunchTemplateVersion.NotFound if it has none such. */
export async function getLaunchTemplateVersion(scope: Scope, ref: TemplateRef, version: string | undefined): Promise<LaunchTemplateVersionRecord> {
  const t = (await getLaunchTemplate(scope, ref)).value;
  const n = versionNumber(t, version);
  const r = await scope.platform.store.get<LaunchTemplateVersionRecord>(LAUNCH_TEMPLATE_VERSION_KIND, versionKey(scope.region, t.id, n));
  if (!r) throw errors.versionNotFound(String(version ?? n), t.id);
  return r.value;
}

/** Adds a version (its data merged over `sourceVersion`'s when given); the default stays. */
export async function createLaunchTemplateVersion(scope: Scope, ref: TemplateRef, input: { data: Record<string, unknown>; description?: string; sourceVersion?: string; createdBy: string; now: number }): Promise<LaunchTemplateVersionRecord> {
  checkData(input.data);
  const store = scope.platform.store;
  return retrying('Launch template version', async () => {
    const t = await getLaunchTemplate(scope, ref);
    if (t.value.latestVersion >= MAX_VERSIONS) throw errors.tooMany('versions of a launch template', MAX_VERSIONS);
    const source = input.sourceVersion !== undefined ? (await getLaunchTemplateVersion(scope, { id: t.value.id }, input.sourceVersion)).data : {};
    const data = { ...source, ...input.data };
    checkData(data);
    const n = t.value.latestVersion + 1;
    const version: LaunchTemplateVersionRecord = { templateId: t.value.id, templateName: t.value.name, number: n, description: input.description, data, createdAt: input.now, createdBy: input.createdBy };
    await store.commit([
      { kind: LAUNCH_TEMPLATE_KIND, key: templateKey(scope.region, t.value.id), value: { ...t.value, latestVersion: n }, expectRev: t.rev },
      { kind: LAUNCH_TEMPLATE_VERSION_KIND, key: versionKey(scope.region, t.value.id, n), value: version, expectRev: 0 },
    ]);
    return version;
  });
}

/** Sets the default version. */
export async function setDefaultLaunchTemplateVersion(scope: Scope, ref: TemplateRef, version: string): Promise<LaunchTemplateRecord> {
  const store = scope.platform.store;
  return retrying('Launch template', async () => {
    const t = await getLaunchTemplate(scope, ref);
    const n = versionNumber(t.value, version);
    if (!(await store.get(LAUNCH_TEMPLATE_VERSION_KIND, versionKey(scope.region, t.value.id, n)))) throw errors.versionNotFound(version, t.value.id);
    const next = { ...t.value, defaultVersion: n };
    await store.commit([{ kind: LAUNCH_TEMPLATE_KIND, key: templateKey(scope.region, t.value.id), value: next, expectRev: t.rev }]);
    return next;
  });
}

/** Deletes a template and every version of it. */
export async function deleteLaunchTemplate(scope: Scope, ref: TemplateRef): Promise<LaunchTemplateRecord> {
  const store = scope.platform.store;
  return retrying('Launch template', async () => {
    const t = await getLaunchTemplate(scope, ref);
    const versions = await store.list(LAUNCH_TEMPLATE_VERSION_KIND, { prefix: `${scope.region}/${t.value.id}/` });
    const writes: Write[] = [
      { kind: LAUNCH_TEMPLATE_KIND, key: templateKey(scope.region, t.value.id), value: null, expectRev: t.rev },
      { kind: LAUNCH_TEMPLATE_NAME_KIND, key: nameKey(scope.region, t.value.name), value: null },
      ...versions.map((v): Write => ({ kind: LAUNCH_TEMPLATE_VERSION_KIND, key: v.key, value: null })),
    ];
    await store.commit(writes);
    return t.value;
  });
}

/** Every template of the region. */
export async function listLaunchTemplates(scope: Scope): Promise<LaunchTemplateRecord[]> {
  return (await scope.platform.store.list<LaunchTemplateRecord>(LAUNCH_TEMPLATE_KIND, { prefix: `${scope.region}/`, limit: MAX_TEMPLATES })).map((r) => r.value);
}

/** Every version of a template, oldest first. */
export async function listLaunchTemplateVersions(scope: Scope, templateId: string): Promise<LaunchTemplateVersionRecord[]> {
  return (await scope.platform.store.list<LaunchTemplateVersionRecord>(LAUNCH_TEMPLATE_VERSION_KIND, { prefix: `${scope.region}/${templateId}/`, limit: MAX_VERSIONS })).map((r) => r.value);
}
