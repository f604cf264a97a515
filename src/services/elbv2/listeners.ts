/** Listeners and their rules: create, describe, modify, delete, priorities. */
import type * as ELB from '../../generated/elbv2.js';
import type { StoredRecord, Write } from '../../store/types.js';
import type { Handlers, RequestContext } from '../types.js';
import { loadCertificate } from '../../domain/elbv2/certificates.js';
import type { DataPlaneView } from '../../domain/elbv2/dataPlane.js';
import { elbErrors } from '../../domain/elbv2/errors.js';
import { normalizeActions, normalizeConditions } from './actions.js';
import { findRule, listAll, requireListener, requireLb } from '../../domain/elbv2/lookup.js';
import { mergeElbTags, paginate } from './attributes.js';
import { KIND, elbArn, listenerKey, newId, resourceOf, ruleKey, type ListenerRecord, type RuleRecord } from '../../domain/elbv2/records.js';

const MAX_RULES = 100;

export function describeListener(l: ListenerRecord): ELB.Listener {
  return {
    ListenerArn: l.arn,
    LoadBalancerArn: l.lbArn,
    Port: l.port,
    Protocol: l.protocol as ELB.ProtocolEnum,
    Certificates: l.certificates.length ? l.certificates : undefined,
    SslPolicy: l.sslPolicy,
    AlpnPolicy: l.alpnPolicy,
    DefaultActions: l.defaultActions,
  };
}

function describeRule(r: RuleRecord): ELB.Rule {
  return { RuleArn: r.arn, Priority: String(r.priority), Conditions: r.conditions, Actions: r.actions, IsDefault: false };
}

function defaultRule(l: ListenerRecord): ELB.Rule {
  return { RuleArn: l.defaultRuleArn, Priority: 'default', Conditions: [], Actions: l.defaultActions, IsDefault: true };
}

/** Checks protocol and certificates; returns the certificate list to store. */
function checkProtocol(ctx: RequestContext, protocol: string, certs: ELB.Certificate[] | undefined): ELB.Certificate[] {
  if (protocol !== 'HTTP' && protocol !== 'HTTPS') throw elbErrors.unsupportedProtocol(`Protocol '${protocol}' is not supported by application load balancers; use HTTP or HTTPS`);
  if (protocol === 'HTTP') return [];
  if (!certs?.length || !certs[0]!.CertificateArn) throw elbErrors.validation('A certificate must be specified for HTTPS listeners');
  if (certs.length > 1) throw elbErrors.validation('Exactly one default certificate can be given when creating or modifying a listener');
  const loaded = loadCertificate(ctx.platform, certs[0]!.CertificateArn);
  if (typeof loaded === 'string') throw elbErrors.certificateNotFound(loaded);
  return [{ CertificateArn: certs[0]!.CertificateArn }];
}

/** Checks that `port` can serve a listener of this load balancer on this host. */
async function checkPort(ctx: RequestContext, plane: DataPlaneView, lbArn: string, port: number, self?: string): Promise<void> {
  // Listeners of every region share this host's ports.
  const all = await listAll<ListenerRecord>(ctx, KIND.listener, '');
  const clash = all.find((l) => l.value.port === port && l.value.arn !== self);
  if (clash?.value.lbArn === lbArn) throw elbErrors.duplicateListener();
  if (clash) {
    throw elbErrors.invalidConfig(`Port ${port} is already used by a listener of load balancer '${clash.value.lbArn}'; on Berth all load balancers share this host's ports`);
  }
  const mine = all.some((l) => l.value.arn === self && l.value.port === port);
  // A port our data plane still serves without a listener record (e.g. after a store reset) is ours to reuse.
  if (!mine && !plane.serving(port) && !(await plane.canBind(port))) {
    throw elbErrors.invalidConfig(`Port ${port} is in use on this host by another program`);
  }
}

function listenerIdsOf(ctx: RequestContext, listenerArn: string): { lbName: string; lbId: string; listenerId: string } | undefined {
  const r = resourceOf(ctx, listenerArn, 'listener');
  return r && r.length === 4 ? { lbName: r[1]!, lbId: r[2]!, listenerId: r[3]! } : undefined;
}

async function rulesOf(ctx: RequestContext, l: ListenerRecord): Promise<StoredRecord<RuleRecord>[]> {
  return (await listAll<RuleRecord>(ctx, KIND.rule, `${listenerKey(ctx.region, l.lbName, l.id)}/`)).filter((r) => r.value.listenerArn === l.arn);
}

/** Resolves a rule ARN to a stored rule, or to the listener whose default rule it is. */
async function resolveRule(ctx: RequestContext, ruleArn: string): Promise<{ rule?: StoredRecord<RuleRecord>; listener: StoredRecord<ListenerRecord> }> {
  const rule = await findRule(ctx, ruleArn);
  if (rule) return { rule, listener: await requireListener(ctx, rule.value.listenerArn) };
  const r = resourceOf(ctx, ruleArn, 'listener-rule');
  if (r && r.length === 5) {
    const l = await ctx.platform.store.get<ListenerRecord>(KIND.listener, listenerKey(ctx.region, r[1]!, r[3]!));
    if (l && l.value.defaultRuleArn === ruleArn) return { listener: l };
  }
  throw elbErrors.ruleNotFound(`Rule '${ruleArn}' not found`);
}

/** Listener and rule operations; `plane` answers which host ports are free for a new listener. */
export function listenerHandlers(plane: DataPlaneView): Handlers<ELB.Operations> {
  return {
    async CreateListener(input, ctx) {
      const lb = await requireLb(ctx, input.LoadBalancerArn);
      if (input.Port === undefined || input.Protocol === undefined) throw elbErrors.validation('A port and a protocol are required for application load balancer listeners');
      const certificates = checkProtocol(ctx, input.Protocol, input.Certificates);
      const defaultActions = await normalizeActions(ctx, input.DefaultActions);
      const tags = mergeElbTags([], input.Tags ?? []);
      const existing = (await listAll<ListenerRecord>(ctx, KIND.listener, `${ctx.region}/${lb.value.name}/`)).find(
        (l) => l.value.lbArn === lb.value.arn && l.value.port === input.Port,
      );
      if (existing) {
        // The same settings again succeed and return the listener, as on AWS.
        const same = existing.value.protocol === input.Protocol && JSON.stringify(existing.value.defaultActions) === JSON.stringify(defaultActions);
        if (same) return { Listeners: [describeListener(existing.value)] };
        throw elbErrors.duplicateListener();
      }
      await checkPort(ctx, plane, lb.value.arn, input.Port);
      const id = newId();
      const path = `app/${lb.value.name}/${lb.value.id}/${id}`;
      const record: ListenerRecord = {
        arn: elbArn(ctx, `listener/${path}`),
        id,
        region: ctx.region,
        lbName: lb.value.name,
        lbArn: lb.value.arn,
        port: input.Port,
        protocol: input.Protocol,
        certificates,
        sslPolicy: input.Protocol === 'HTTPS' ? (input.SslPolicy ?? 'ELBSecurityPolicy-2016-08') : undefined,
        alpnPolicy: input.AlpnPolicy,
        defaultActions,
        defaultRuleArn: elbArn(ctx, `listener-rule/${path}/${newId()}`),
        tags,
      };
      await ctx.platform.store.commit([
        { kind: KIND.listener, key: listenerKey(ctx.region, lb.value.name, id), value: record, expectRev: 0 },
        // Re-check the parent in the same commit so a concurrent delete cannot orphan the listener.
        { kind: KIND.lb, key: lb.key, value: lb.value, expectRev: lb.rev },
      ]);
      return { Listeners: [describeListener(record)] };
    },

    async DescribeListeners(input, ctx) {
      if (!input.LoadBalancerArn && !input.ListenerArns?.length) throw elbErrors.validation('A load balancer ARN or listener ARNs must be specified');
      if (input.LoadBalancerArn && input.ListenerArns?.length) throw elbErrors.validation('Listener ARNs and a load balancer ARN cannot be specified at the same time');
      let items: StoredRecord<ListenerRecord>[];
      if (input.LoadBalancerArn) {
        const lb = await requireLb(ctx, input.LoadBalancerArn);
        items = (await listAll<ListenerRecord>(ctx, KIND.listener, `${ctx.region}/${lb.value.name}/`)).filter((l) => l.value.lbArn === lb.value.arn);
      } else {
        items = [];
        for (const a of input.ListenerArns!) items.push(await requireListener(ctx, a));
        items.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
      }
      const { page, nextMarker } = paginate(items, input.Marker, input.PageSize);
      return { Listeners: page.map(describeListener), NextMarker: nextMarker };
    },

    async ModifyListener(input, ctx) {
      const l = await requireListener(ctx, input.ListenerArn);
      const next: ListenerRecord = { ...l.value };
      if (input.Protocol !== undefined || input.Certificates !== undefined) {
        next.protocol = input.Protocol ?? l.value.protocol;
        next.certificates = checkProtocol(ctx, next.protocol, input.Certificates ?? l.value.certificates);
        next.sslPolicy = next.protocol === 'HTTPS' ? (input.SslPolicy ?? l.value.sslPolicy ?? 'ELBSecurityPolicy-2016-08') : undefined;
      }
      if (input.Port !== undefined && input.Port !== l.value.port) {
        await checkPort(ctx, plane, l.value.lbArn, input.Port, l.value.arn);
        next.port = input.Port;
      }
      if (input.DefaultActions !== undefined) next.defaultActions = await normalizeActions(ctx, input.DefaultActions);
      if (input.AlpnPolicy !== undefined) next.alpnPolicy = input.AlpnPolicy;
      await ctx.platform.store.commit([{ kind: KIND.listener, key: l.key, value: next, expectRev: l.rev }]);
      return { Listeners: [describeListener(next)] };
    },

    async DeleteListener(input, ctx) {
      const l = await requireListener(ctx, input.ListenerArn);
      const writes: Write[] = [{ kind: KIND.listener, key: l.key, value: null, expectRev: l.rev }];
      for (const r of await rulesOf(ctx, l.value)) writes.push({ kind: KIND.rule, key: r.key, value: null, expectRev: r.rev });
      await ctx.platform.store.commit(writes);
      return {};
    },

    async CreateRule(input, ctx) {
      const l = await requireListener(ctx, input.ListenerArn);
      if (!Number.isInteger(input.Priority) || input.Priority < 1 || input.Priority > 50000) {
        throw elbErrors.validation(`Priority ${input.Priority} must be an integer from 1 to 50000`);
      }
      if (input.Transforms?.length) throw elbErrors.validation('Rule transforms are not supported by Berth');
      const conditions = normalizeConditions(input.Conditions);
      const actions = await normalizeActions(ctx, input.Actions);
      const tags = mergeElbTags([], input.Tags ?? []);
      const rules = await rulesOf(ctx, l.value);
      if (rules.some((r) => r.value.priority === input.Priority)) throw elbErrors.priorityInUse(input.Priority);
      if (rules.length >= MAX_RULES) throw elbErrors.tooManyRules(MAX_RULES);
      const ids = listenerIdsOf(ctx, l.value.arn)!;
      const id = newId();
      const record: RuleRecord = {
        arn: elbArn(ctx, `listener-rule/app/${ids.lbName}/${ids.lbId}/${ids.listenerId}/${id}`),
        id,
        region: ctx.region,
        lbName: l.value.lbName,
        listenerArn: l.value.arn,
        listenerId: l.value.id,
        priority: input.Priority,
        conditions,
        actions,
        tags,
      };
      await ctx.platform.store.commit([
        { kind: KIND.rule, key: ruleKey(ctx.region, l.value.lbName, l.value.id, id), value: record, expectRev: 0 },
        // Committing the listener unchanged with its rev serializes rule changes per listener,
        // so two concurrent CreateRule calls cannot both take one priority.
        { kind: KIND.listener, key: l.key, value: l.value, expectRev: l.rev },
      ]);
      return { Rules: [describeRule(record)] };
    },

    async DescribeRules(input, ctx) {
      if (!input.ListenerArn && !input.RuleArns?.length) throw elbErrors.validation('A listener ARN or rule ARNs must be specified');
      if (input.ListenerArn && input.RuleArns?.length) throw elbErrors.validation('Rule ARNs and a listener ARN cannot be specified at the same time');
      const rules: ELB.Rule[] = [];
      if (input.ListenerArn) {
        const l = await requireListener(ctx, input.ListenerArn);
        const rs = (await rulesOf(ctx, l.value)).sort((a, b) => a.value.priority - b.value.priority);
        rules.push(...rs.map((r) => describeRule(r.value)), defaultRule(l.value));
      } else {
        for (const a of input.RuleArns!) {
          const { rule, listener } = await resolveRule(ctx, a);
          rules.push(rule ? describeRule(rule.value) : defaultRule(listener.value));
        }
      }
      const keyed = rules.map((r, i) => ({ kind: KIND.rule, key: String(i).padStart(6, '0'), rev: 0, value: r }));
      const { page, nextMarker } = paginate(keyed, input.Marker, input.PageSize);
      return { Rules: page, NextMarker: nextMarker };
    },

    async ModifyRule(input, ctx) {
      const { rule, listener } = await resolveRule(ctx, input.RuleArn);
      if (input.Transforms?.length) throw elbErrors.validation('Rule transforms are not supported by Berth');
      if (!rule) {
        if (input.Conditions?.length) throw elbErrors.operationNotPermitted('The conditions of a default rule cannot be modified');
        const next = { ...listener.value };
        if (input.Actions) next.defaultActions = await normalizeActions(ctx, input.Actions);
        await ctx.platform.store.commit([{ kind: KIND.listener, key: listener.key, value: next, expectRev: listener.rev }]);
        return { Rules: [defaultRule(next)] };
      }
      const next: RuleRecord = { ...rule.value };
      if (input.Conditions) next.conditions = normalizeConditions(input.Conditions);
      if (input.Actions) next.actions = await normalizeActions(ctx, input.Actions);
      await ctx.platform.store.commit([{ kind: KIND.rule, key: rule.key, value: next, expectRev: rule.rev }]);
      return { Rules: [describeRule(next)] };
    },

    async DeleteRule(input, ctx) {
      const { rule } = await resolveRule(ctx, input.RuleArn);
      if (!rule) throw elbErrors.operationNotPermitted('The default rule of a listener cannot be deleted');
      await ctx.platform.store.commit([{ kind: KIND.rule, key: rule.key, value: null, expectRev: rule.rev }]);
      return {};
    },

    async SetRulePriorities(input, ctx) {
      if (!input.RulePriorities.length) throw elbErrors.validation('At least one rule priority must be given');
      const changes = new Map<string, number>();
      for (const p of input.RulePriorities) {
        if (!p.RuleArn || p.Priority === undefined) throw elbErrors.validation('Each rule priority pair needs a RuleArn and a Priority');
        if (p.Priority < 1 || p.Priority > 50000) throw elbErrors.validation(`Priority ${p.Priority} must be from 1 to 50000`);
        if (changes.has(p.RuleArn)) throw elbErrors.validation(`Rule '${p.RuleArn}' is given more than once`);
        changes.set(p.RuleArn, p.Priority);
      }
      const resolved: StoredRecord<RuleRecord>[] = [];
      let listenerArn: string | undefined;
      for (const a of changes.keys()) {
        const { rule } = await resolveRule(ctx, a);
        if (!rule) throw elbErrors.operationNotPermitted('The priority of a default rule cannot be changed');
        if (listenerArn && rule.value.listenerArn !== listenerArn) throw elbErrors.validation('All rules must belong to the same listener');
        listenerArn = rule.value.listenerArn;
        resolved.push(rule);
      }
      const l = await requireListener(ctx, listenerArn!);
      const all = await rulesOf(ctx, l.value);
      const final = new Map(all.map((r) => [r.value.arn, changes.get(r.value.arn) ?? r.value.priority]));
      const used = new Map<number, string>();
      for (const [a, p] of final) {
        if (used.has(p)) throw elbErrors.priorityInUse(p);
        used.set(p, a);
      }
      const writes: Write[] = resolved.map((r) => ({ kind: KIND.rule, key: r.key, value: { ...r.value, priority: changes.get(r.value.arn)! }, expectRev: r.rev }));
      writes.push({ kind: KIND.listener, key: l.key, value: l.value, expectRev: l.rev });
      await ctx.platform.store.commit(writes);
      return { Rules: resolved.map((r) => describeRule({ ...r.value, priority: changes.get(r.value.arn)! })) };
    },
  };
}
