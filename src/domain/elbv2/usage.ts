/** Which load balancers use a target group: those whose listeners or rules forward to it. */
import type * as ELB from '../../generated/elbv2.js';
import type { Scope } from '../platform.js';
import { listAll } from './lookup.js';
import { KIND, type ListenerRecord, type RuleRecord } from './records.js';

/** Every target group ARN of the region used by a listener or rule, with the load balancers using it. */
export async function targetGroupUsage(ctx: Scope): Promise<Map<string, Set<string>>> {
  const usage = new Map<string, Set<string>>();
  const listeners = await listAll<ListenerRecord>(ctx, KIND.listener, `${ctx.region}/`);
  const lbOfListener = new Map(listeners.map((l) => [l.value.arn, l.value.lbArn]));
  const note = (actions: ELB.Action[], lbArn: string) => {
    for (const a of actions) {
      const arns = [a.TargetGroupArn, ...(a.ForwardConfig?.TargetGroups ?? []).map((t) => t.TargetGroupArn)];
      for (const t of arns) if (t) (usage.get(t) ?? usage.set(t, new Set()).get(t)!).add(lbArn);
    }
  };
  for (const l of listeners) note(l.value.defaultActions, l.value.lbArn);
  for (const r of await listAll<RuleRecord>(ctx, KIND.rule, `${ctx.region}/`)) {
    const lbArn = lbOfListener.get(r.value.listenerArn);
    if (lbArn) note(r.value.actions, lbArn);
  }
  return usage;
}
