/** What ELBv2 says about the account and its catalogs: DescribeAccountLimits, DescribeSSLPolicies. */
import type * as ELB from '../../generated/elbv2.js';
import { elbErrors } from '../../domain/elbv2/errors.js';
import { SSL_POLICIES, SSL_POLICY_LOAD_BALANCER_TYPES, findSslPolicy, type SslPolicyDefinition } from '../../domain/elbv2/sslPolicies.js';
import type { Handlers } from '../types.js';
import { paginate } from './attributes.js';

/**
 * The account's quotas by AWS's names (DescribeAccountLimits), at AWS's defaults. Berth enforces
 * condition values per rule, target groups per action and (per listener) rules; the rest,
 * network and gateway load balancer ones included, are reported as AWS reports them.
 */
export const ACCOUNT_LIMITS: readonly ELB.Limit[] = [
  { Name: 'application-load-balancers', Max: '50' },
  { Name: 'condition-values-per-alb-rule', Max: '5' },
  { Name: 'condition-wildcards-per-alb-rule', Max: '5' },
  { Name: 'gateway-load-balancers', Max: '100' },
  { Name: 'gateway-load-balancers-per-vpc', Max: '100' },
  { Name: 'geneve-target-groups', Max: '100' },
  { Name: 'listeners-per-application-load-balancer', Max: '50' },
  { Name: 'listeners-per-network-load-balancer', Max: '50' },
  { Name: 'network-load-balancers', Max: '50' },
  { Name: 'rules-per-application-load-balancer', Max: '100' },
  { Name: 'target-groups', Max: '3000' },
  { Name: 'target-groups-per-action-on-application-load-balancer', Max: '5' },
  { Name: 'target-groups-per-action-on-network-load-balancer', Max: '1' },
  { Name: 'target-groups-per-application-load-balancer', Max: '100' },
  { Name: 'targets-per-application-load-balancer', Max: '1000' },
  { Name: 'targets-per-availability-zone-per-network-load-balancer', Max: '500' },
  { Name: 'targets-per-network-load-balancer', Max: '3000' },
];

/** A fixed catalog as pages: keys are positions, so markers stay valid (the catalog never changes while Berth runs). */
function keyed<T>(items: readonly T[]) {
  return items.map((value, i) => ({ kind: 'catalog', key: String(i).padStart(6, '0'), rev: 0, value }));
}

function describePolicy(p: SslPolicyDefinition): ELB.SslPolicy {
  return {
    Name: p.name,
    SslProtocols: [...p.protocols],
    Ciphers: p.ciphers.map((Name, i) => ({ Name, Priority: i + 1 })),
    SupportedLoadBalancerTypes: [...SSL_POLICY_LOAD_BALANCER_TYPES],
  };
}

/** DescribeAccountLimits and DescribeSSLPolicies. */
export const accountHandlers: Handlers<ELB.Operations> = {
  async DescribeAccountLimits(input) {
    const { page, nextMarker } = paginate(keyed(ACCOUNT_LIMITS), input.Marker, input.PageSize);
    return { Limits: page, NextMarker: nextMarker };
  },

  async DescribeSSLPolicies(input) {
    let policies: readonly SslPolicyDefinition[] = SSL_POLICIES;
    if (input.Names?.length) {
      const missing = input.Names.filter((n) => !findSslPolicy(n));
      if (missing.length) throw elbErrors.sslPolicyNotFound(`SSL policy '${missing[0]!.slice(0, 256)}' not found`);
      policies = SSL_POLICIES.filter((p) => input.Names!.includes(p.name));
    }
    // Gateway load balancers take no TLS: no policy is for them.
    if (input.LoadBalancerType && !(SSL_POLICY_LOAD_BALANCER_TYPES as readonly string[]).includes(input.LoadBalancerType)) policies = [];
    const { page, nextMarker } = paginate(keyed(policies), input.Marker, input.PageSize);
    return { SslPolicies: page.map(describePolicy), NextMarker: nextMarker };
  },
};
