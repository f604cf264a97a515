/**
 * Target registration and health: the RegisterTargets/DeregisterTargets/DescribeTargetHealth
 * handlers, and the small interface other Berth services (the ECS service scheduler) use to put
 * tasks behind a target group and wait for them to become healthy or drain:
 * `registerTarget`, `deregisterTarget`, `targetHealth`, `deregistrationDelaySeconds`,
 * `describeTargetGroup`.
 *
 * Registration lives in the store (`elbv2.target`); health lives in the data plane (src/lb),
 * which health-checks registered targets of target groups in use and deletes draining targets
 * once they have no requests in flight or their deregistration delay has passed.
 */
import { isIP } from 'node:net';
import type * as ELB from '../../generated/elbv2.js';
import type { Write } from '../../store/types.js';
import { targetHealthOf } from '../../lb/runtime.js';
import { parseArn } from '../common.js';
import type { Handlers, Platform, RequestContext } from '../types.js';
import { elbErrors } from './errors.js';
import { findTg, listAll, requireTg } from './lookup.js';
import { KIND, targetKey, type TargetGroupRecord, type TargetRecord } from './records.js';
import { targetGroupUsage } from './targetGroups.js';

/** A target as other services name it. */
export interface TargetRef {
  id: string;
  port: number;
}

/** What `targetHealth` reports: the state and AWS reason code of DescribeTargetHealth. */
export interface TargetHealthView {
  state: ELB.TargetHealthStateEnum;
  reason?: ELB.TargetHealthReasonEnum;
  description?: string;
}

function checkTargetId(tg: TargetGroupRecord, id: string): void {
  if (tg.targetType === 'ip' && isIP(id) === 0) throw elbErrors.validation(`Target id '${id}' must be an IP address for target groups of type 'ip'`);
  // Instance targets are EC2 ids on AWS; Berth also accepts addresses so local processes can be targets.
  if (tg.targetType === 'instance' && isIP(id) === 0 && !/^i-[0-9a-f]{8,17}$/.test(id) && !/^[A-Za-z0-9.-]{1,253}$/.test(id)) {
    throw elbErrors.invalidTarget(`Target id '${id}' is neither an instance id nor an address`);
  }
}

async function register(ctx: RequestContext, tgArn: string, targets: ELB.TargetDescription[]): Promise<void> {
  const tg = await requireTg(ctx, tgArn);
  if (targets.length === 0) throw elbErrors.validation('At least one target must be given');
  const writes = new Map<string, Write>();
  for (const t of targets) {
    checkTargetId(tg.value, t.Id);
    const port = t.Port ?? tg.value.port;
    if (port < 1 || port > 65535) throw elbErrors.validation(`Target port ${port} must be from 1 to 65535`);
    const key = targetKey(ctx.region, tg.value.name, t.Id, port);
    const cur = await ctx.platform.store.get<TargetRecord>(KIND.target, key);
    if (cur && cur.value.tgArn === tg.value.arn && cur.value.state === 'registered') continue; // already registered: no-op, as on AWS
    const rec: TargetRecord = {
      tgArn: tg.value.arn,
      tgName: tg.value.name,
      region: ctx.region,
      id: t.Id,
      port,
      availabilityZone: t.AvailabilityZone,
      state: 'registered',
      registeredAt: ctx.platform.clock.now(),
    };
    writes.set(key, { kind: KIND.target, key, value: rec, expectRev: cur?.rev ?? 0 });
  }
  if (writes.size) await ctx.platform.store.commit([...writes.values(), { kind: KIND.tg, key: tg.key, value: tg.value, expectRev: tg.rev }]);
}

async function deregister(ctx: RequestContext, tgArn: string, targets: ELB.TargetDescription[]): Promise<void> {
  const tg = await requireTg(ctx, tgArn);
  if (targets.length === 0) throw elbErrors.validation('At least one target must be given');
  const writes = new Map<string, Write>();
  const missing: string[] = [];
  for (const t of targets) {
    const port = t.Port ?? tg.value.port;
    const key = targetKey(ctx.region, tg.value.name, t.Id, port);
    const cur = await ctx.platform.store.get<TargetRecord>(KIND.target, key);
    if (!cur || cur.value.tgArn !== tg.value.arn) {
      missing.push(`Id=${t.Id},Port=${port}`);
      continue;
    }
    if (cur.value.state === 'draining') continue;
    writes.set(key, { kind: KIND.target, key, value: { ...cur.value, state: 'draining', drainingSince: ctx.platform.clock.now() }, expectRev: cur.rev });
  }
  if (missing.length) throw elbErrors.invalidTarget(`The following targets are not registered in target group '${tgArn}': ${missing.join(', ')}`);
  if (writes.size) await ctx.platform.store.commit([...writes.values()]);
}

async function health(ctx: RequestContext, tgArn: string, only?: ELB.TargetDescription[]): Promise<ELB.TargetHealthDescription[]> {
  const tg = await requireTg(ctx, tgArn);
  const inUse = (await targetGroupUsage(ctx)).has(tg.value.arn);
  const all = (await listAll<TargetRecord>(ctx, KIND.target, `${ctx.region}/${tg.value.name}/`)).filter((r) => r.value.tgArn === tg.value.arn);
  const hcPort = (port: number) => (tg.value.healthCheck.port === 'traffic-port' ? String(port) : tg.value.healthCheck.port);
  const out: ELB.TargetHealthDescription[] = [];
  const wanted = only?.length ? only.map((t) => ({ id: t.Id, port: t.Port ?? tg.value.port })) : all.map((r) => ({ id: r.value.id, port: r.value.port }));
  for (const w of wanted) {
    const rec = all.find((r) => r.value.id === w.id && r.value.port === w.port);
    const view: TargetHealthView = rec
      ? targetHealthOf(ctx.platform, tg.value, rec.value, inUse)
      : { state: 'unused', reason: 'Target.NotRegistered', description: 'Target is not registered to the target group' };
    out.push({
      Target: { Id: w.id, Port: w.port, AvailabilityZone: rec?.value.availabilityZone },
      HealthCheckPort: hcPort(w.port),
      TargetHealth: { State: view.state, Reason: view.reason, Description: view.description },
    });
  }
  return out;
}

export const targetHandlers: Handlers<ELB.Operations> = {
  async RegisterTargets(input, ctx) {
    await register(ctx, input.TargetGroupArn, input.Targets);
    return {};
  },
  async DeregisterTargets(input, ctx) {
    await deregister(ctx, input.TargetGroupArn, input.Targets);
    return {};
  },
  async DescribeTargetHealth(input, ctx) {
    return { TargetHealthDescriptions: await health(ctx, input.TargetGroupArn, input.Targets) };
  },
};

/** A request context for calls made by Berth itself, in the region of `tgArn`. */
function internalCtx(platform: Platform, tgArn: string): RequestContext {
  const region = parseArn(tgArn)?.region ?? platform.defaultRegion;
  return {
    requestId: 'internal',
    region,
    platform,
    principal: { accessKeyId: 'berth', arn: `arn:aws:iam::${platform.accountId}:root`, userId: platform.accountId },
  };
}

/** Registers one target (idempotent). Throws TargetGroupNotFound/ValidationError as the API does. */
export async function registerTarget(platform: Platform, targetGroupArn: string, target: TargetRef): Promise<void> {
  await register(internalCtx(platform, targetGroupArn), targetGroupArn, [{ Id: target.id, Port: target.port }]);
}

/** Starts draining one target; a target that is not registered is left alone (no error). */
export async function deregisterTarget(platform: Platform, targetGroupArn: string, target: TargetRef): Promise<void> {
  try {
    await deregister(internalCtx(platform, targetGroupArn), targetGroupArn, [{ Id: target.id, Port: target.port }]);
  } catch (e) {
    if ((e as { code?: string }).code !== 'InvalidTarget') throw e;
  }
}

/**
 * The target's health as DescribeTargetHealth reports it. A drained target (gone from the group)
 * reports `unused` with reason `Target.NotRegistered`.
 */
export async function targetHealth(platform: Platform, targetGroupArn: string, target: TargetRef): Promise<TargetHealthView> {
  const [d] = await health(internalCtx(platform, targetGroupArn), targetGroupArn, [{ Id: target.id, Port: target.port }]);
  return { state: d!.TargetHealth!.State!, reason: d!.TargetHealth!.Reason, description: d!.TargetHealth!.Description };
}

/** The target group's deregistration delay in seconds (attribute deregistration_delay.timeout_seconds). */
export async function deregistrationDelaySeconds(platform: Platform, targetGroupArn: string): Promise<number> {
  const tg = await requireTg(internalCtx(platform, targetGroupArn), targetGroupArn);
  return Number(tg.value.attributes['deregistration_delay.timeout_seconds'] ?? '300');
}

/** What other services need to know about a target group; undefined when it does not exist. */
export interface TargetGroupInfo {
  targetGroupArn: string;
  targetType: string;
  protocol: string;
  port: number;
  /** Load balancers whose listeners or rules forward to it. */
  loadBalancerArns: string[];
}

/** Looks up a target group by ARN (in the ARN's region) for other services, e.g. ECS CreateService. */
export async function describeTargetGroup(platform: Platform, targetGroupArn: string): Promise<TargetGroupInfo | undefined> {
  const ctx = internalCtx(platform, targetGroupArn);
  const tg = await findTg(ctx, targetGroupArn);
  if (!tg) return undefined;
  const usage = await targetGroupUsage(ctx);
  return { targetGroupArn, targetType: tg.value.targetType, protocol: tg.value.protocol, port: tg.value.port, loadBalancerArns: [...(usage.get(targetGroupArn) ?? [])] };
}
