/**
 * ECS account settings in the store, per region and principal; the account default is stored
 * under '~default'. A setting nobody set reports ECS's current default (long ARN formats
 * enabled, etc.).
 */
import type * as ECS from '../../generated/ecs.js';
import { KIND, type Scope } from './keys.js';

/** One setting as stored and reported. */
export interface SettingRecord {
  name: ECS.SettingName;
  value: string;
  principalArn: string;
  type: ECS.SettingType;
}

/** What ECS reports for a setting nobody has set. */
export const DEFAULT_SETTINGS: Record<ECS.SettingName, string> = {
  serviceLongArnFormat: 'enabled',
  taskLongArnFormat: 'enabled',
  containerInstanceLongArnFormat: 'enabled',
  awsvpcTrunking: 'disabled',
  containerInsights: 'disabled',
  fargateFIPSMode: 'disabled',
  tagResourceAuthorization: 'on',
  fargateTaskRetirementWaitPeriod: '7',
  guardDutyActivate: 'off',
  defaultLogDriverMode: 'blocking',
  fargateEventWindows: 'disabled',
};

/** The principal under which the account default is kept. */
const ACCOUNT_DEFAULT = '~default';

function key(s: Scope, principal: string, name: string): string {
  return `${s.region}/${principal}/${name}`;
}

/** The setting `principal` set itself, if any. */
export async function ownSetting(s: Scope, principal: string, name: ECS.SettingName): Promise<SettingRecord | undefined> {
  return (await s.platform.store.get<SettingRecord>(KIND.accountSetting, key(s, principal, name)))?.value;
}

/** What applies to `principal`: its own setting, else the account default, else ECS's default. */
export async function effectiveSetting(s: Scope, principal: string, name: ECS.SettingName): Promise<SettingRecord> {
  const own = await ownSetting(s, principal, name);
  if (own) return own;
  const dflt = await ownSetting(s, ACCOUNT_DEFAULT, name);
  if (dflt) return { ...dflt, principalArn: principal };
  return { name, value: DEFAULT_SETTINGS[name], principalArn: principal, type: name === 'guardDutyActivate' ? 'aws_managed' : 'user' };
}

/** Sets a principal's own setting (validated by the caller). */
export async function putSetting(s: Scope, rec: SettingRecord): Promise<void> {
  await s.platform.store.commit([{ kind: KIND.accountSetting, key: key(s, rec.principalArn, rec.name), value: rec }]);
}

/** Sets the account default (reported with the account root as its principal). */
export async function putAccountDefault(s: Scope, rec: SettingRecord): Promise<void> {
  await s.platform.store.commit([{ kind: KIND.accountSetting, key: key(s, ACCOUNT_DEFAULT, rec.name), value: rec }]);
}

/** Removes a principal's own setting; returns what it was (undefined if it was not set). */
export async function deleteSetting(s: Scope, principal: string, name: ECS.SettingName): Promise<SettingRecord | undefined> {
  const cur = await ownSetting(s, principal, name);
  if (cur) await s.platform.store.commit([{ kind: KIND.accountSetting, key: key(s, principal, name), value: null }]);
  return cur;
}
