/**
 * ECS account settings operations (PutAccountSetting, PutAccountSettingDefault,
 * ListAccountSettings, DeleteAccountSetting) over src/domain/ecs/settings.ts: the handlers check
 * names and values the way ECS does.
 */
import type * as ECS from '../../generated/ecs.js';
import { decodeToken, encodeToken } from '../../domain/common.js';
import { checkMaxResults } from './validation.js';
import type { Handlers, RequestContext } from '../types.js';
import { ecsErrors } from '../../domain/ecs/errors.js';
import { DEFAULT_SETTINGS, deleteSetting, effectiveSetting, ownSetting, putAccountDefault, putSetting, type SettingRecord } from '../../domain/ecs/settings.js';

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

function check(name: ECS.SettingName, value: string): void {
  const ok = ALLOWED[name];
  if (name === 'guardDutyActivate') throw ecsErrors.invalidParameter('guardDutyActivate is read-only: it is managed by Amazon GuardDuty.');
  if (ok && !ok.includes(value)) throw ecsErrors.invalidParameter(`The value '${value}' is not valid for ${name}; use one of: ${ok.join(', ')}.`);
}

function rootArn(ctx: RequestContext): string {
  return `arn:aws:iam::${ctx.platform.accountId}:root`;
}

export const settingHandlers: Handlers<ECS.Operations> = {
  async PutAccountSetting(input, ctx) {
    check(input.name, input.value);
    const principal = input.principalArn ?? ctx.principal.arn;
    if (!principal.startsWith('arn:aws:iam::')) throw ecsErrors.invalidParameter(`principalArn '${principal}' is not an IAM user, role or root ARN.`);
    const rec: SettingRecord = { name: input.name, value: input.value, principalArn: principal, type: 'user' };
    await putSetting(ctx, rec);
    return { setting: rec };
  },

  async PutAccountSettingDefault(input, ctx) {
    check(input.name, input.value);
    const rec: SettingRecord = { name: input.name, value: input.value, principalArn: rootArn(ctx), type: 'user' };
    await putAccountDefault(ctx, rec);
    return { setting: rec };
  },

  async DeleteAccountSetting(input, ctx) {
    const principal = input.principalArn ?? ctx.principal.arn;
    const cur = await deleteSetting(ctx, principal, input.name);
    return { setting: cur ?? { name: input.name, value: DEFAULT_SETTINGS[input.name], principalArn: principal, type: 'user' } };
  },

  async ListAccountSettings(input, ctx) {
    const maxResults = checkMaxResults(input.maxResults, 10, 10);
    if (input.value !== undefined && input.name === undefined) throw ecsErrors.invalidParameter('value can only be given together with name.');
    const principal = input.principalArn ?? ctx.principal.arn;
    const names = (Object.keys(DEFAULT_SETTINGS) as ECS.SettingName[]).filter((n) => !input.name || n === input.name).sort();
    let all: SettingRecord[] = [];
    for (const n of names) {
      const setting = input.effectiveSettings ? await effectiveSetting(ctx, principal, n) : await ownSetting(ctx, principal, n);
      if (setting) all.push(setting);
    }
    if (input.value !== undefined) all = all.filter((s) => s.value === input.value);
    const after = decodeToken(input.nextToken, ecsErrors.invalidToken);
    const rest = after === undefined ? all : all.filter((s) => s.name > after);
    const page = rest.slice(0, maxResults);
    return { settings: page, nextToken: rest.length > maxResults ? encodeToken(page[page.length - 1]!.name) : undefined };
  },
};
