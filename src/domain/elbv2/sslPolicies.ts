/**
 * The security policies of HTTPS listeners, as ELB defines them (the Application Load Balancer
 * guide's "Security policies" tables): which TLS versions and ciphers each negotiates, ciphers in
 * ELB's order of preference. DescribeSSLPolicies answers from here, CreateListener and
 * ModifyListener accept only these names (else SSLPolicyNotFound), and the data plane configures
 * each HTTPS listener's TLS from its policy (src/lb/listeners.ts).
 */

/** A security policy: its TLS versions (newest first) and ciphers by priority. */
export interface SslPolicyDefinition {
  readonly name: string;
  readonly protocols: readonly SslProtocol[];
  readonly ciphers: readonly string[];
}

/** A TLS version as ELB names it. */
export type SslProtocol = 'TLSv1.3' | 'TLSv1.2' | 'TLSv1.1' | 'TLSv1';

/** The policy an HTTPS listener gets when it names none (as CreateListener on AWS outside the console). */
export const DEFAULT_SSL_POLICY = 'ELBSecurityPolicy-2016-08';

/** The load balancer types these policies are for (ALB and NLB share them). */
export const SSL_POLICY_LOAD_BALANCER_TYPES = ['application', 'network'] as const;

const TLS13 = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];
/** ECDHE with AES-GCM only (the "Res" policies of 2020 on). */
const ECDHE_GCM = ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384'];
/** ECDHE with AES-GCM and AES-CBC-SHA2 (TLS 1.2 forward-secret ciphers). */
const ECDHE_SHA2 = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-RSA-AES128-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-RSA-AES256-SHA384',
];
/** ECDHE_SHA2 plus the AES-CBC-SHA1 ECDHE ciphers. */
const ECDHE_ALL = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-RSA-AES128-SHA256',
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-RSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-RSA-AES256-SHA384',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-RSA-AES256-SHA',
];
/** Plain RSA key exchange (no forward secrecy), AES-GCM and AES-CBC-SHA2. */
const RSA_SHA2 = ['AES128-GCM-SHA256', 'AES128-SHA256', 'AES256-GCM-SHA384', 'AES256-SHA256'];
/** RSA_SHA2 plus AES-CBC-SHA1. */
const RSA_ALL = ['AES128-GCM-SHA256', 'AES128-SHA256', 'AES128-SHA', 'AES256-GCM-SHA384', 'AES256-SHA256', 'AES256-SHA'];

const policy = (name: string, protocols: SslProtocol[], ciphers: string[]): SslPolicyDefinition => ({ name, protocols, ciphers });

/** Every policy, newest family first. The post-quantum (PQ) ones add key exchanges, not ciphers. */
export const SSL_POLICIES: readonly SslPolicyDefinition[] = [
  policy('ELBSecurityPolicy-TLS13-1-3-2021-06', ['TLSv1.3'], TLS13),
  policy('ELBSecurityPolicy-TLS13-1-3-PQ-2025-09', ['TLSv1.3'], TLS13),
  policy('ELBSecurityPolicy-TLS13-1-2-2021-06', ['TLSv1.3', 'TLSv1.2'], [...TLS13, ...ECDHE_SHA2]),
  policy('ELBSecurityPolicy-TLS13-1-2-PQ-2025-09', ['TLSv1.3', 'TLSv1.2'], [...TLS13, ...ECDHE_SHA2]),
  policy('ELBSecurityPolicy-TLS13-1-2-Res-2021-06', ['TLSv1.3', 'TLSv1.2'], [...TLS13, ...ECDHE_GCM]),
  policy('ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09', ['TLSv1.3', 'TLSv1.2'], [...TLS13, ...ECDHE_GCM]),
  policy('ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06', ['TLSv1.3', 'TLSv1.2'], [...TLS13, ...ECDHE_SHA2, ...RSA_SHA2]),
  policy('ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09', ['TLSv1.3', 'TLSv1.2'], [...TLS13, ...ECDHE_SHA2, ...RSA_SHA2]),
  policy('ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06', ['TLSv1.3', 'TLSv1.2'], [...TLS13, ...ECDHE_ALL, ...RSA_ALL]),
  policy('ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09', ['TLSv1.3', 'TLSv1.2'], [...TLS13, ...ECDHE_ALL, ...RSA_ALL]),
  policy('ELBSecurityPolicy-TLS13-1-1-2021-06', ['TLSv1.3', 'TLSv1.2', 'TLSv1.1'], [...TLS13, ...ECDHE_ALL, ...RSA_ALL]),
  policy('ELBSecurityPolicy-TLS13-1-0-2021-06', ['TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1'], [...TLS13, ...ECDHE_ALL, ...RSA_ALL]),
  policy('ELBSecurityPolicy-TLS13-1-0-PQ-2025-09', ['TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1'], [...TLS13, ...ECDHE_ALL, ...RSA_ALL]),
  policy('ELBSecurityPolicy-FS-1-2-Res-2020-10', ['TLSv1.2'], ECDHE_GCM),
  policy('ELBSecurityPolicy-FS-1-2-Res-2019-08', ['TLSv1.2'], ECDHE_SHA2),
  policy('ELBSecurityPolicy-FS-1-2-2019-08', ['TLSv1.2'], ECDHE_ALL),
  policy('ELBSecurityPolicy-FS-1-1-2019-08', ['TLSv1.2', 'TLSv1.1'], ECDHE_ALL),
  policy('ELBSecurityPolicy-FS-2018-06', ['TLSv1.2', 'TLSv1.1', 'TLSv1'], ECDHE_ALL),
  policy('ELBSecurityPolicy-TLS-1-2-Ext-2018-06', ['TLSv1.2'], [...ECDHE_ALL, ...RSA_ALL]),
  policy('ELBSecurityPolicy-TLS-1-2-2017-01', ['TLSv1.2'], [...ECDHE_SHA2, ...RSA_SHA2]),
  policy('ELBSecurityPolicy-TLS-1-1-2017-01', ['TLSv1.2', 'TLSv1.1'], [...ECDHE_ALL, ...RSA_ALL]),
  policy('ELBSecurityPolicy-2016-08', ['TLSv1.2', 'TLSv1.1', 'TLSv1'], [...ECDHE_ALL, ...RSA_ALL]),
];

const BY_NAME = new Map(SSL_POLICIES.map((p) => [p.name, p]));

/** The policy of that name, or undefined. */
export function findSslPolicy(name: string): SslPolicyDefinition | undefined {
  return BY_NAME.get(name);
}
