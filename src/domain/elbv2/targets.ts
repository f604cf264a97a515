/**
 * Targets of ELBv2 target groups in the store, and their health as DescribeTargetHealth reports
 * it. Registration lives in the store (`elbv2.target`); health is observed by the data plane
 * (the `DataPlaneView` port). A deregistered target is `draining`: it receives no new requests,
 * and its record is removed (`removeDrainedTarget`) once its requests in flight finished or its
 * deregistration delay passed.
 *
 * Every operation here is what both the API handlers and the service controller use, so a task
 * registered by the controller behaves exactly like one registered with RegisterTargets.
 */
import { isIP } from 'node:net';
import type * as ELB from '../../generated/elbv2.js';
import type { Write } from '../../store/types.js';
import { parseArn } from '../common.js';
import { deleteIfUnchanged } from '../mutate.js';
import type { Platform, Scope } from '../platform.js';
import type { DataPlaneView } from './dataPlane.js';
import { elbErrors } from './errors.js';
import { findTg, listAll, requireTg } from './lookup.js';
import { KIND, targetKey, type TargetGroupRecord, type TargetRecord } from './records.js';
import { targetGroupUsage } from './usage.js';

/** A target as other parts of Berth name it: an address (or instance id) and a port. */
export interface TargetRef {
  id: string;
  port: number;
}

/** What DescribeTargetHealth reports for one target: the state and AWS's reason code. */
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

/** Registers targets (those already registered are left as they are, as on AWS). */
export async function registerTargets(ctx: Scope, tgArn: string, targets: ELB.TargetDescription[]): Promise<void> {
  const tg = await requireTg(ctx, tgArn);
  if (targets.length === 0) throw elbErrors.validation('At least one target must be given');
  const writes = new Map<string, Write>();
  for (const t of targets) {
    checkTargetId(tg.value, t.Id);
    const port = t.Port ?? tg.value.port;
    if (port < 1 || port > 65535) throw elbErrors.validation(`Target port ${port} must be from 1 to 65535`);
    const key = targetKey(ctx.region, tg.value.name, t.Id, port);
    const cur = await ctx.platform.store.get<TargetRecord>(KIND.target, key);
    if (cur && cur.value.tgArn === tg.value.arn && cur.value.state === 'registered') continue;
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
  // The target group's own revision guards against its deletion meanwhile.
  if (writes.size) await ctx.platform.store.commit([...writes.values(), { kind: KIND.tg, key: tg.key, value: tg.value, expectRev: tg.rev }]);
}

/**
 * Starts draining targets (draining ones stay as they are). Throws InvalidTarget, naming them,
 * for targets that are not registered; nothing is changed then.
 */
export async function deregisterTargets(ctx: Scope, tgArn: string, targets: ELB.TargetDescription[]): Promise<void> {
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

/** The health of one registered target, from its record and what the data plane observed. */
export function targetHealthOf(tg: TargetGroupRecord, rec: TargetRecord, inUse: boolean, plane: DataPlaneView): TargetHealthView {
  if (rec.state === 'draining') return { state: 'draining', reason: 'Target.DeregistrationInProgress', description: 'Target deregistration is in progress' };
  if (!inUse) return { state: 'unused', reason: 'Target.NotInUse', description: 'Target group is not configured to receive traffic from the load balancer' };
  if (!tg.healthCheck.enabled) return { state: 'unavailable', reason: 'Target.HealthCheckDisabled', description: 'Health checks are disabled' };
  return plane.targetHealth(tg.arn, rec) ?? { state: 'initial', reason: 'Elb.RegistrationInProgress', description: 'Target registration is in progress' };
}

/** DescribeTargetHealth: every target of the group, or only those asked for (unregistered ones report `unused`). */
export async function describeTargetHealth(ctx: Scope, plane: DataPlaneView, tgArn: string, only?: ELB.TargetDescription[]): Promise<ELB.TargetHealthDescription[]> {
  const tg = await requireTg(ctx, tgArn);
  const inUse = (await targetGroupUsage(ctx)).has(tg.value.arn);
  const all = (await listAll<TargetRecord>(ctx, KIND.target, `${ctx.region}/${tg.value.name}/`)).filter((r) => r.value.tgArn === tg.value.arn);
  const hcPort = (port: number) => (tg.value.healthCheck.port === 'traffic-port' ? String(port) : tg.value.healthCheck.port);
  const wanted = only?.length ? only.map((t) => ({ id: t.Id, port: t.Port ?? tg.value.port })) : all.map((r) => ({ id: r.value.id, port: r.value.port }));
  return wanted.map((w) => {
    const rec = all.find((r) => r.value.id === w.id && r.value.port === w.port);
    const view: TargetHealthView = rec
      ? targetHealthOf(tg.value, rec.value, inUse, plane)
      : { state: 'unused', reason: 'Target.NotRegistered', description: 'Target is not registered to the target group' };
    return {
      Target: { Id: w.id, Port: w.port, AvailabilityZone: rec?.value.availabilityZone },
      HealthCheckPort: hcPort(w.port),
      TargetHealth: { State: view.state, Reason: view.reason, Description: view.description },
    };
  });
}

/** The scope of a target group ARN (its region). */
export function scopeOfArn(platform: Platform, arn: string): Scope {
  return { platform, region: parseArn(arn)?.region ?? platform.defaultRegion };
}

/** The target group's deregistration delay in seconds (attribute deregistration_delay.timeout_seconds). */
export async function deregistrationDelaySeconds(ctx: Scope, tgArn: string): Promise<number> {
  const tg = await requireTg(ctx, tgArn);
  return Number(tg.value.attributes['deregistration_delay.timeout_seconds'] ?? '300');
}

/** What other services need to know about a target group. */
export interface TargetGroupInfo {
  targetGroupArn: string;
  targetType: string;
  protocol: string;
  port: number;
  /** Load balancers whose listeners or rules forward to it. */
  loadBalancerArns: string[];
}

/** Looks up a target group by ARN for other services (e.g. ECS CreateService); undefined when it does not exist. */
export async function describeTargetGroup(ctx: Scope, tgArn: string): Promise<TargetGroupInfo | undefined> {
  const tg = await findTg(ctx, tgArn);
  if (!tg) return undefined;
  const usage = await targetGroupUsage(ctx);
  return { targetGroupArn: tgArn, targetType: tg.value.targetType, protocol: tg.value.protocol, port: tg.value.port, loadBalancerArns: [...(usage.get(tgArn) ?? [])] };
}

/** Draining targets of every region, with their revisions and deregistration delays (ms). */
export async function drainingTargets(platform: Platform): Promise<Array<{ key: string; rev: number; target: TargetRecord; delayMs: number }>> {
  const targets = (await platform.store.list<TargetRecord>(KIND.target)).filter((r) => r.value.state === 'draining');
  if (targets.length === 0) return [];
  const groups = new Map((await platform.store.list<TargetGroupRecord>(KIND.tg)).map((r) => [r.value.arn, r.value]));
  return targets.map((r) => ({
    key: r.key,
    rev: r.rev,
    target: r.value,
    delayMs: Number(groups.get(r.value.tgArn)?.attributes['deregistration_delay.timeout_seconds'] ?? '300') * 1000,
  }));
}

/**
 * The rule that ends a drain, as on ALB: a draining target may go once the data plane has no
 * request in flight to it (`requestsInFlight` 0; undefined = the data plane may still send it
 * some) or once its deregistration delay passed since `drainingSince`, whichever comes first.
 */
export function drainFinished(drainingSince: number, delayMs: number, requestsInFlight: number | undefined, now: number): boolean {
  return requestsInFlight === 0 || now - drainingSince >= delayMs;
}

/**
 * Removes a drained target's record, if it is still the revision that was read: a target
 * registered again meanwhile is a new registration and stays. Returns whether it went.
 */
export async function removeDrainedTarget(platform: Platform, key: string, rev: number): Promise<boolean> {
  return (await deleteIfUnchanged(platform.store, [{ kind: KIND.target, key, rev }])) === 1;
}
