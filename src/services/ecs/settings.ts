/**
 * ECS account settings (PutAccountSetting, PutAccountSettingDefault, ListAccountSettings,
 * DeleteAccountSetting). Stored per region and principal; the account default is stored under
 * '~default'. Unset settings report ECS's current defaults (long ARN formats enabled, etc.).
 */
import type * as ECS from '../../generated/ecs.js';
import { decodeToken, encodeToken } from '../../domain/common.js';
import type { Handlers, RequestContext } from '../types.js';
import { ecsErrors } from '../../domain/ecs/errors.js';
import { KIND } from '../../domain/ecs/keys.js';

interface SettingRecord {
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

const ALLOWED: Partial<Record<ECS.SettingName, string[]>> = {
  serviceLongArnFormat: ['enabled', 'disabled'],
  taskLongArnFormat: ['enabled', 'disabled'],
  containerInstanceLongArnFormat: ['enabled', 'disabled'],
  awsvpcTrunking: ['enabled', 'disabled'],
  containerInsights: ['enabled', 'disabled', 'enhanced'],
  fargateFIPSMode: ['enabled', 'disabled'],
  tagResourceAuthorization: ['on', 'off'],
  fargateTaskRetirementWaitPeriod: ['0', '7', '14'],
  defaultLogDriverMode: ['blocking', 'non-blocking'],
  fargateEventWindows: ['enabled', 'disabled'],
};

const DEFAULT_PRINCIPAL = '~default';

function check(name: ECS.SettingName, value: string): void {
  const ok = ALLOWED[name];
  if (name === 'guardDutyActivate') throw ecsErrors.invalidParameter('guardDutyActivate is read-only: it is managed by Amazon GuardDuty.');
  if (ok && !ok.includes(value)) throw ecsErrors.invalidParameter(`The value '${value}' is not valid for ${name}; use one of: ${ok.join(', ')}.`);
}

function rootArn(ctx: RequestContext): string {
  return `arn:aws:iam::${ctx.platform.accountId}:root`;
}

function key(ctx: RequestContext, principal: string, name: string): string {
  return `${ctx.region}/${principal}/${name}`;
}

async function effective(ctx: RequestContext, principal: string, name: ECS.SettingName): Promise<SettingRecord> {
  const own = await ctx.platform.store.get<SettingRecord>(KIND.accountSetting, key(ctx, principal, name));
  if (own) return own.value;
  const dflt = await ctx.platform.store.get<SettingRecord>(KIND.accountSetting, key(ctx, DEFAULT_PRINCIPAL, name));
  if (dflt) return { ...dflt.value, principalArn: principal };
  return { name, value: DEFAULT_SETTINGS[name], principalArn: principal, type: name === 'guardDutyActivate' ? 'aws_managed' : 'user' };
}

export const settingHandlers: Handlers<ECS.Operations> = {
  async PutAccountSetting(input, ctx) {
    check(input.name, input.value);
    const principal = input.principalArn ?? ctx.principal.arn;
    if (!principal.startsWith('arn:aws:iam::')) throw ecsErrors.invalidParameter(`principalArn '${principal}' is not an IAM user, role or root ARN.`);
    const rec: SettingRecord = { name: input.name, value: input.value, principalArn: principal, type: 'user' };
    await ctx.platform.store.commit([{ kind: KIND.accountSetting, key: key(ctx, principal, input.name), value: rec }]);
    return { setting: rec };
  },

  async PutAccountSettingDefault(input, ctx) {
    check(input.name, input.value);
    const rec: SettingRecord = { name: input.name, value: input.value, principalArn: rootArn(ctx), type: 'user' };
    await ctx.platform.store.commit([{ kind: KIND.accountSetting, key: key(ctx, DEFAULT_PRINCIPAL, input.name), value: rec }]);
    return { setting: rec };
  },

  async DeleteAccountSetting(input, ctx) {
    const principal = input.principalArn ?? ctx.principal.arn;
    const k = key(ctx, principal, input.name);
    const cur = await ctx.platform.store.get<SettingRecord>(KIND.accountSetting, k);
    if (cur) await ctx.platform.store.commit([{ kind: KIND.accountSetting, key: k, value: null }]);
    return { setting: cur?.value ?? { name: input.name, value: DEFAULT_SETTINGS[input.name], principalArn: principal, type: 'user' } };
  },

  async ListAccountSettings(input, ctx) {
    const maxResults = input.maxResults ?? 10;
    if (maxResults < 1 || maxResults > 10) throw ecsErrors.invalidParameter('maxResults must be between 1 and 10.');
    if (input.value !== undefined && input.name === undefined) throw ecsErrors.invalidParameter('value can only be given together with name.');
    const principal = input.principalArn ?? ctx.principal.arn;
    const names = (Object.keys(DEFAULT_SETTINGS) as ECS.SettingName[]).filter((n) => !input.name || n === input.name).sort();
    let all: SettingRecord[] = [];
    for (const n of names) {
      if (input.effectiveSettings) all.push(await effective(ctx, principal, n));
      else {
        const own = await ctx.platform.store.get<SettingRecord>(KIND.accountSetting, key(ctx, principal, n));
        if (own) all.push(own.value);
      }
    }
    if (input.value !== undefined) all = all.filter((s) => s.value === input.value);
    const after = decodeToken(input.nextToken, ecsErrors.invalidToken);
    const rest = after === undefined ? all : all.filter((s) => s.name > after);
    const page = rest.slice(0, maxResults);
    return { settings: page, nextToken: rest.length > maxResults ? encodeToken(page[page.length - 1]!.name) : undefined };
  },
};
