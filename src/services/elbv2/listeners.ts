/** Listeners and their rules: create, describe, modify, delete, priorities; listener certificates (SNI). */
import type * as ELB from '../../generated/elbv2.js';
import type { Versioned } from '../../domain/common.js';
import type { Handlers, RequestContext } from '../types.js';
import { loadCertificate } from '../../domain/elbv2/certificates.js';
import type { DataPlaneView } from '../../domain/elbv2/dataPlane.js';
import { elbErrors } from '../../domain/elbv2/errors.js';
import { DEFAULT_SSL_POLICY, findSslPolicy } from '../../domain/elbv2/sslPolicies.js';
import { normalizeActions, normalizeConditions } from './actions.js';
import {
  changeListener,
  changeRule,
  createListener,
  createRule,
  deleteListener,
  deleteRule,
  listAllListeners,
  listenersOf,
  resolveRule,
  rulesOf,
  setRulePriorities,
} from '../../domain/elbv2/listeners.js';
import { requireListener, requireLb } from '../../domain/elbv2/lookup.js';
import { mergeElbTags, paginate } from './attributes.js';
import { KIND, elbArn, newId, resourceOf, type ListenerRecord, type RuleRecord } from '../../domain/elbv2/records.js';

const MAX_RULES = 100;
/** Certificates a listener may have besides its default one (ALB's quota). */
const MAX_EXTRA_CERTIFICATES = 25;

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

/**
 * Checks a listener's protocol (an ALB listens on HTTP or HTTPS) and default certificate;
 * returns the certificate list to store.
 */
function checkProtocol(ctx: RequestContext, protocol: string, certs: ELB.Certificate[] | undefined): ELB.Certificate[] {
  if (protocol !== 'HTTP' && protocol !== 'HTTPS') throw elbErrors.validation(`Listener protocol '${protocol}' must be one of 'HTTPS, HTTP'`);
  if (protocol === 'HTTP') return [];
  if (!certs?.length || !certs[0]!.CertificateArn) throw elbErrors.validation('A certificate must be specified for HTTPS listeners');
  if (certs.length > 1) throw elbErrors.validation('Exactly one default certificate can be given when creating or modifying a listener');
  checkCertificate(ctx, certs[0]!.CertificateArn);
  return [{ CertificateArn: certs[0]!.CertificateArn }];
}

/** A certificate the data plane can serve (its PEM file is there and holds a certificate and key), or CertificateNotFound. */
function checkCertificate(ctx: RequestContext, arn: string): void {
  const loaded = loadCertificate(ctx.platform, arn);
  if (typeof loaded === 'string') throw elbErrors.certificateNotFound(loaded);
}

/** The security policy of an HTTPS listener: the one named (SSLPolicyNotFound if there is none such), else `fallback`. */
function sslPolicyOf(name: string | undefined, fallback: string): string {
  if (name === undefined) return fallback;
  if (!findSslPolicy(name)) throw elbErrors.sslPolicyNotFound(`SSL policy '${name.slice(0, 256)}' not found`);
  return name;
}

/** A listener's certificates as DescribeListenerCertificates lists them: the default first. */
function listenerCertificates(l: ListenerRecord): ELB.Certificate[] {
  const def = l.certificates[0]?.CertificateArn;
  return [...(def ? [{ CertificateArn: def, IsDefault: true }] : []), ...(l.extraCertificates ?? []).map((CertificateArn) => ({ CertificateArn, IsDefault: false }))];
}

/** Checks that `port` can serve a listener of this load balancer on this host. */
async function checkPort(ctx: RequestContext, plane: DataPlaneView, lbArn: string, port: number, self?: string): Promise<void> {
  // Listeners of every region share this host's ports.
  const all = await listAllListeners(ctx);
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

/** Listener and rule operations; `plane` answers which host ports are free for a new listener. */
export function listenerHandlers(plane: DataPlaneView): Handlers<ELB.Operations> {
  return {
    async CreateListener(input, ctx) {
      const lb = await requireLb(ctx, input.LoadBalancerArn);
      if (input.Port === undefined || input.Protocol === undefined) throw elbErrors.validation('A port and a protocol are required for application load balancer listeners');
      const certificates = checkProtocol(ctx, input.Protocol, input.Certificates);
      const defaultActions = await normalizeActions(ctx, input.DefaultActions);
      const tags = mergeElbTags([], input.Tags ?? []);
      const existing = (await listenersOf(ctx, lb.value.name, lb.value.arn)).find((l) => l.value.port === input.Port);
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
        sslPolicy: input.Protocol === 'HTTPS' ? sslPolicyOf(input.SslPolicy, DEFAULT_SSL_POLICY) : undefined,
        alpnPolicy: input.AlpnPolicy,
        defaultActions,
        defaultRuleArn: elbArn(ctx, `listener-rule/${path}/${newId()}`),
        tags,
      };
      await createListener(ctx, record);
      return { Listeners: [describeListener(record)] };
    },

    async DescribeListeners(input, ctx) {
      if (!input.LoadBalancerArn && !input.ListenerArns?.length) throw elbErrors.validation('A load balancer ARN or listener ARNs must be specified');
      if (input.LoadBalancerArn && input.ListenerArns?.length) throw elbErrors.validation('Listener ARNs and a load balancer ARN cannot be specified at the same time');
      let items: Versioned<ListenerRecord>[];
      if (input.LoadBalancerArn) {
        const lb = await requireLb(ctx, input.LoadBalancerArn);
        items = await listenersOf(ctx, lb.value.name, lb.value.arn);
      } else {
        items = [];
        for (const a of input.ListenerArns!) items.push(await requireListener(ctx, a));
        items.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
      }
      const { page, nextMarker } = paginate(items, input.Marker, input.PageSize);
      return { Listeners: page.map(describeListener), NextMarker: nextMarker };
    },

    async ModifyListener(input, ctx) {
      const next = await changeListener(ctx, input.ListenerArn, async (l) => {
        if (input.Protocol !== undefined || input.Certificates !== undefined || input.SslPolicy !== undefined) {
          const protocol = input.Protocol ?? l.protocol;
          l.certificates = checkProtocol(ctx, protocol, input.Certificates ?? l.certificates);
          l.sslPolicy = protocol === 'HTTPS' ? sslPolicyOf(input.SslPolicy, l.sslPolicy ?? DEFAULT_SSL_POLICY) : undefined;
          // A new default is no longer one of the others; an HTTP listener has no certificates.
          const def = l.certificates[0]?.CertificateArn;
          l.extraCertificates = protocol === 'HTTPS' ? (l.extraCertificates ?? []).filter((a) => a !== def) : [];
          l.protocol = protocol;
        }
        if (input.Port !== undefined && input.Port !== l.port) {
          await checkPort(ctx, plane, l.lbArn, input.Port, l.arn);
          l.port = input.Port;
        }
        if (input.DefaultActions !== undefined) l.defaultActions = await normalizeActions(ctx, input.DefaultActions);
        if (input.AlpnPolicy !== undefined) l.alpnPolicy = input.AlpnPolicy;
        return l;
      });
      return { Listeners: [describeListener(next)] };
    },

    async DeleteListener(input, ctx) {
      await deleteListener(ctx, input.ListenerArn);
      return {};
    },

    async DescribeListenerCertificates(input, ctx) {
      const l = await requireListener(ctx, input.ListenerArn);
      const keyed = listenerCertificates(l.value).map((value, i) => ({ kind: KIND.listener, key: String(i).padStart(6, '0'), rev: 0, value }));
      const { page, nextMarker } = paginate(keyed, input.Marker, input.PageSize);
      return { Certificates: page, NextMarker: nextMarker };
    },

    async AddListenerCertificates(input, ctx) {
      if (!input.Certificates.length) throw elbErrors.validation('At least one certificate must be specified');
      const arns = input.Certificates.map((c) => c.CertificateArn ?? '');
      if (arns.some((a) => a === '')) throw elbErrors.validation('Each certificate needs a CertificateArn');
      // More than the quota (and the default) at once cannot fit, whatever the listener has: no need to read them.
      if (new Set(arns).size > MAX_EXTRA_CERTIFICATES + 1) throw elbErrors.tooManyCertificates(MAX_EXTRA_CERTIFICATES);
      for (const a of new Set(arns)) checkCertificate(ctx, a);
      const next = await changeListener(ctx, input.ListenerArn, (l) => {
        if (l.protocol !== 'HTTPS') throw elbErrors.validation(`Certificates can be added only to HTTPS listeners; this listener's protocol is ${l.protocol}`);
        const def = l.certificates[0]?.CertificateArn;
        // Adding one the listener has is no change (the default stays the default).
        const extra = [...(l.extraCertificates ?? [])];
        for (const a of arns) if (a !== def && !extra.includes(a)) extra.push(a);
        if (extra.length > MAX_EXTRA_CERTIFICATES) throw elbErrors.tooManyCertificates(MAX_EXTRA_CERTIFICATES);
        return { ...l, extraCertificates: extra };
      });
      return { Certificates: listenerCertificates(next).filter((c) => arns.includes(c.CertificateArn!)) };
    },

    async RemoveListenerCertificates(input, ctx) {
      const arns = input.Certificates.map((c) => c.CertificateArn ?? '');
      await changeListener(ctx, input.ListenerArn, (l) => {
        const def = l.certificates[0]?.CertificateArn;
        if (def !== undefined && arns.includes(def)) {
          throw elbErrors.operationNotPermitted("The default certificate of a listener cannot be removed; set another one with ModifyListener first");
        }
        return { ...l, extraCertificates: (l.extraCertificates ?? []).filter((a) => !arns.includes(a)) };
      });
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
      const ids = listenerIdsOf(ctx, l.value.arn)!;
      const id = newId();
      const record = await createRule(ctx, l.value.arn, MAX_RULES, (listener) => ({
        arn: elbArn(ctx, `listener-rule/app/${ids.lbName}/${ids.lbId}/${ids.listenerId}/${id}`),
        id,
        region: ctx.region,
        lbName: listener.lbName,
        listenerArn: listener.arn,
        listenerId: listener.id,
        priority: input.Priority,
        conditions,
        actions,
        tags,
      }));
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
      if (input.Transforms?.length) throw elbErrors.validation('Rule transforms are not supported by Berth');
      const changed = await changeRule(ctx, input.RuleArn, async (target) => {
        if ('listener' in target) {
          // The default rule: its actions are the listener's; it has no conditions.
          if (input.Conditions?.length) throw elbErrors.operationNotPermitted('The conditions of a default rule cannot be modified');
          if (input.Actions) target.listener.defaultActions = await normalizeActions(ctx, input.Actions);
          return target.listener;
        }
        if (input.Conditions) target.rule.conditions = normalizeConditions(input.Conditions);
        if (input.Actions) target.rule.actions = await normalizeActions(ctx, input.Actions);
        return target.rule;
      });
      return { Rules: ['rule' in changed ? describeRule(changed.rule) : defaultRule(changed.listener)] };
    },

    async DeleteRule(input, ctx) {
      await deleteRule(ctx, input.RuleArn);
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
      const changed = await setRulePriorities(ctx, changes);
      return { Rules: changed.map(describeRule) };
    },
  };
}
