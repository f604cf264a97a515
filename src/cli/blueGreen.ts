/**
 * `berth deploy <service> --blue-green`: a blue/green deployment of an EXTERNAL service with
 * task sets, traffic moved by a listener's (or listener rule's) forward weights:
 *
 * 1. the PRIMARY task set (blue) runs behind one of the two target groups the production
 *    listener forwards to; the other is green's;
 * 2. a green task set runs the new task definition at 100% behind the green target group;
 * 3. once all its tasks are healthy there, the test listener forwards to green only, for
 *    `--test-wait` (green must stay healthy);
 * 4. then production: the production listener's weights go to green;
 * 5. bake: for `--bake`, green's targets must stay healthy; if one turns unhealthy (or green
 *    loses tasks), both listeners get their original actions back (blue never stopped serving
 *    and was never scaled: the rollback is the weights alone) and green is deleted: exit 1;
 * 6. else green becomes the primary task set and blue is deleted: exit 0.
 *
 * Listener actions are read and written through ELBv2 (DescribeListeners/ModifyListener, or
 * DescribeRules/ModifyRule for a rule ARN); task sets through ECS. Each step is printed as it
 * happens.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { callQuery, type QueryValue, type XmlElement } from '../client/awsQuery.js';
import { BerthApi, type WireService } from './api.js';
import { UsageError } from './connect.js';
import { duration, targetGroupName, taskDefinitionName } from './format.js';
import type { Terminal } from './terminal.js';

/** How often health is looked at. */
const POLL_MS = 300;

/** The flags of a blue/green deploy. */
export interface BlueGreenFlags {
  cluster: string;
  /** The production listener or listener rule ARN (its forward action names blue's and green's target groups). */
  listener: string;
  /** The test-traffic listener or rule ARN: green gets it first. */
  testListener?: string;
  bakeMs: number;
  /** How long green serves the test listener alone (and must stay healthy) before production moves. */
  testWaitMs: number;
  timeoutMs: number;
  output: 'text' | 'json';
}

/** A task set as DescribeTaskSets answers it (the fields read here). */
interface WireTaskSet {
  id: string;
  taskSetArn: string;
  status: string;
  taskDefinition: string;
  computedDesiredCount?: number;
  runningCount?: number;
  loadBalancers?: Array<{ targetGroupArn?: string; containerName?: string; containerPort?: number }>;
}

/** A forward action's target groups and weights. */
type Forward = Array<{ targetGroupArn: string; weight: number }>;

/** A listener's default actions or a rule's actions, as read (kept to be put back on rollback). */
interface ActionsOf {
  arn: string;
  isRule: boolean;
  actions: XmlElement[];
}

async function readActions(api: BerthApi, arn: string): Promise<ActionsOf> {
  const isRule = arn.includes(':listener-rule/');
  if (!isRule && !arn.includes(':listener/')) throw new UsageError(`'${arn}' is not a listener or listener rule ARN.`);
  const out = isRule ? await callQuery(api.config, 'elbv2', 'DescribeRules', { RuleArns: [arn] }) : await callQuery(api.config, 'elbv2', 'DescribeListeners', { ListenerArns: [arn] });
  const item = (isRule ? out.members('Rules') : out.members('Listeners'))[0];
  if (!item) throw new UsageError(`${isRule ? 'Rule' : 'Listener'} ${arn} not found.`);
  return { arn, isRule, actions: item.members(isRule ? 'Actions' : 'DefaultActions') };
}

/** The forward action's target groups (a plain TargetGroupArn is one group of weight 1). */
function forwardOf(a: ActionsOf): Forward {
  const fwd = a.actions.find((x) => x.textAt('Type') === 'forward');
  if (!fwd) return [];
  const groups = fwd.members('ForwardConfig', 'TargetGroups').map((g) => ({ targetGroupArn: g.textAt('TargetGroupArn') ?? '', weight: Number(g.textAt('Weight') ?? '1') }));
  if (groups.length) return groups;
  const tg = fwd.textAt('TargetGroupArn');
  return tg ? [{ targetGroupArn: tg, weight: 1 }] : [];
}

/** Query parameters of one action element, flattened as the query protocol sends them. */
function flatten(el: XmlElement, prefix: string, out: Record<string, QueryValue>): void {
  const members = el.all('member');
  if (members.length) {
    members.forEach((m, i) => flatten(m, `${prefix}.member.${i + 1}`, out));
    return;
  }
  if (!el.children.length) {
    out[prefix] = el.text;
    return;
  }
  for (const c of el.children) flatten(c, `${prefix}.${c.name}`, out);
}

/** Puts actions on a listener (DefaultActions) or rule (Actions). */
async function writeActions(api: BerthApi, target: ActionsOf, params: Record<string, QueryValue>): Promise<void> {
  await callQuery(api.config, 'elbv2', target.isRule ? 'ModifyRule' : 'ModifyListener', { [target.isRule ? 'RuleArn' : 'ListenerArn']: target.arn, ...params });
}

/** Forward to these target groups with these weights (the only action). */
function forwardParams(target: ActionsOf, groups: Forward): Record<string, QueryValue> {
  const key = target.isRule ? 'Actions' : 'DefaultActions';
  const p: Record<string, QueryValue> = { [`${key}.member.1.Type`]: 'forward' };
  groups.forEach((g, i) => {
    p[`${key}.member.1.ForwardConfig.TargetGroups.member.${i + 1}.TargetGroupArn`] = g.targetGroupArn;
    p[`${key}.member.1.ForwardConfig.TargetGroups.member.${i + 1}.Weight`] = g.weight;
  });
  return p;
}

/** The actions exactly as they were read. */
function originalParams(target: ActionsOf): Record<string, QueryValue> {
  const key = target.isRule ? 'Actions' : 'DefaultActions';
  const p: Record<string, QueryValue> = {};
  target.actions.forEach((a, i) => flatten(a, `${key}.member.${i + 1}`, p));
  return p;
}

async function taskSetsOf(api: BerthApi, cluster: string, service: string): Promise<WireTaskSet[]> {
  return (await api.ecs<{ taskSets?: WireTaskSet[] }>('DescribeTaskSets', { cluster, service })).taskSets ?? [];
}

/** Targets of a target group by health state. */
async function health(api: BerthApi, tg: string): Promise<{ healthy: number; unhealthy: number }> {
  const targets = await api.targetHealth(tg);
  return { healthy: targets.filter((t) => t.state === 'healthy').length, unhealthy: targets.filter((t) => t.state === 'unhealthy').length };
}

/**
 * Runs the blue/green deployment of `service` to `taskDefinition` (already registered); see the
 * module doc. Resolves with the exit status.
 */
export async function blueGreenDeploy(api: BerthApi, before: WireService, taskDefinition: string, flags: BlueGreenFlags, term: Terminal): Promise<number> {
  const { cluster } = flags;
  const name = before.serviceName;
  const start = Date.now();
  const json = flags.output === 'json';
  const say = (line: string) => {
    if (!json) term.out(line + '\n');
  };
  const sets = await taskSetsOf(api, cluster, name);
  const blue = sets.find((s) => s.status === 'PRIMARY');
  if (!blue) throw new UsageError(`${name} has no primary task set: --blue-green deploys services created with --deployment-controller type=EXTERNAL whose current task set is primary (UpdateServicePrimaryTaskSet).`);
  const blueLb = blue.loadBalancers?.find((lb) => lb.targetGroupArn);
  if (!blueLb) throw new UsageError(`The primary task set ${blue.id} of ${name} is behind no target group.`);
  const production = await readActions(api, flags.listener);
  const groups = forwardOf(production);
  const blueTg = blueLb.targetGroupArn!;
  const greenTg = groups.find((g) => g.targetGroupArn !== blueTg)?.targetGroupArn;
  if (!groups.some((g) => g.targetGroupArn === blueTg) || !greenTg) {
    throw new UsageError(`--listener must forward to two target groups: blue's (${targetGroupName(blueTg)}, where task set ${blue.id} runs) and green's; it forwards to ${groups.map((g) => targetGroupName(g.targetGroupArn)).join(', ') || 'none'}.`);
  }
  const test = flags.testListener ? await readActions(api, flags.testListener) : undefined;
  say(`${term.style.bold(`Blue/green deploy of ${name}`)} in cluster ${cluster}: ${taskDefinitionName(blue.taskDefinition)} (blue, ${targetGroupName(blueTg)}) → ${taskDefinitionName(taskDefinition)} (green, ${targetGroupName(greenTg)})`);

  const created = (
    await api.ecs<{ taskSet: WireTaskSet }>('CreateTaskSet', {
      cluster,
      service: name,
      taskDefinition,
      loadBalancers: [{ targetGroupArn: greenTg, containerName: blueLb.containerName, containerPort: blueLb.containerPort }],
      scale: { value: 100, unit: 'PERCENT' },
    })
  ).taskSet;
  const green = created.id;
  say(`  green task set ${green}: ${created.computedDesiredCount ?? 0} tasks`);
  const result = (outcome: string, extra: Record<string, unknown> = {}) => {
    if (json) term.out(JSON.stringify({ cluster, service: name, outcome, blueTaskSet: blue.id, greenTaskSet: green, taskDefinition: taskDefinitionName(taskDefinition), elapsedSeconds: Math.round((Date.now() - start) / 100) / 10, ...extra }, null, 2) + '\n');
  };

  // 1. Green healthy behind its target group.
  let last = '';
  for (;;) {
    const ts = (await taskSetsOf(api, cluster, name)).find((s) => s.id === green);
    const want = ts?.computedDesiredCount ?? 0;
    const h = await health(api, greenTg);
    const line = `  green: ${ts?.runningCount ?? 0}/${want} running · ${h.healthy}/${want} healthy in ${targetGroupName(greenTg)}`;
    if (line !== last) say((last = line));
    if (ts && want > 0 && (ts.runningCount ?? 0) >= want && h.healthy >= want) break;
    if (Date.now() - start > flags.timeoutMs) {
      await api.ecs('DeleteTaskSet', { cluster, service: name, taskSet: green, force: true });
      term.err(`${term.errStyle.red('berth:')} ${name}: green task set ${green} was not healthy after ${duration(flags.timeoutMs)}; it was deleted and traffic never left blue\n`);
      result('TIMED_OUT');
      return 1;
    }
    await sleep(POLL_MS);
  }

  // 2. Test traffic, then production, to green.
  const toGreen: Forward = [
    { targetGroupArn: blueTg, weight: 0 },
    { targetGroupArn: greenTg, weight: 1 },
  ];
  /** Watches green for `ms`: the first sign of trouble (an unhealthy target, a missing task), or undefined. */
  const watchGreen = async (ms: number): Promise<string | undefined> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const ts = (await taskSetsOf(api, cluster, name)).find((s) => s.id === green);
      const h = await health(api, greenTg);
      if (h.unhealthy > 0) return `${h.unhealthy} green target${h.unhealthy === 1 ? '' : 's'} unhealthy in ${targetGroupName(greenTg)}`;
      if (!ts || (ts.runningCount ?? 0) < (ts.computedDesiredCount ?? 0)) return `green runs ${ts?.runningCount ?? 0} of ${ts?.computedDesiredCount ?? 0} tasks`;
      await sleep(Math.min(POLL_MS, Math.max(0, end - Date.now())));
    }
    return undefined;
  };
  let failure: string | undefined;
  if (test) {
    await writeActions(api, test, forwardParams(test, toGreen));
    say(`  test listener → green (${duration(flags.testWaitMs)} before production)`);
    failure = await watchGreen(flags.testWaitMs);
  }
  if (!failure) {
    await writeActions(api, production, forwardParams(production, toGreen));
    say(`  production listener → green`);
    // 3. Bake: green must stay healthy.
    say(`  baking for ${duration(flags.bakeMs)}`);
    failure = await watchGreen(flags.bakeMs);
  }
  if (failure) {
    // Roll back by the weights alone: blue still runs at full scale behind its target group.
    await writeActions(api, production, originalParams(production));
    if (test) await writeActions(api, test, originalParams(test));
    say(`  production${test ? ' and test listeners' : ' listener'} → blue`);
    await api.ecs('DeleteTaskSet', { cluster, service: name, taskSet: green, force: true });
    term.err(`${term.errStyle.red('berth:')} ${name}: bake failed (${failure}); traffic is back on blue (${taskDefinitionName(blue.taskDefinition)}) by the listener weights and green task set ${green} was deleted\n`);
    result('ROLLED_BACK', { reason: failure });
    return 1;
  }

  // 4. Green is the service; blue goes.
  await api.ecs('UpdateServicePrimaryTaskSet', { cluster, service: name, primaryTaskSet: green });
  await api.ecs('DeleteTaskSet', { cluster, service: name, taskSet: blue.id, force: true });
  say(`  green is primary; blue task set ${blue.id} deleted (its tasks drain and stop)`);
  for (;;) {
    if (!(await taskSetsOf(api, cluster, name)).some((s) => s.id === blue.id)) break;
    if (Date.now() - start > flags.timeoutMs) break;
    await sleep(POLL_MS);
  }
  say(`${term.style.green('✔')} ${name}: ${taskDefinitionName(taskDefinition)} serves production (task set ${green}) after ${duration(Date.now() - start)}`);
  result('COMPLETED');
  return 0;
}
