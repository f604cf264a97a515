/**
 * The live side of the routing table: one `Upstream` per target registration (its pooled
 * keep-alive connections, requests in flight, stickiness cookie) and one `UpstreamGroup` per
 * target group (the targets new requests may go to, the round-robin position, metrics).
 *
 * Invariants:
 * - Upstreams are keyed by `targetIdentity` and survive recompiles; one whose registration left
 *   the table is closed (requests in flight finish first).
 * - `UpstreamGroup.eligible` is replaced, never mutated, so a request picking from it sees one
 *   consistent list: the group's healthy non-draining targets, or every non-draining one when
 *   none is healthy (fail open, as ALB); a draining target is never in it.
 */
import { isIP } from 'node:net';
import { Pool } from 'undici';
import type { CompiledGroup, CompiledTable, CompiledTarget } from './compile.js';
import type { TargetHealthStatus } from './health.js';
import type { MetricSet } from './metrics.js';

/** One target registration as the proxy talks to it. */
export class Upstream {
  /** Requests (and WebSocket connections) in flight to it. */
  inflight = 0;
  /** Deregistered: takes no new requests (kept until its record goes). */
  draining: boolean;
  /** Platform-clock time it last became healthy, for slow start (0 = not known healthy). */
  healthySince = 0;
  /** The `AWSALB` cookie value that pins a client to it. */
  readonly cookie: string;
  readonly pool: Pool;
  readonly identity: string;
  /** Address as it goes in a URL (IPv6 in brackets). */
  readonly host: string;

  constructor(readonly target: CompiledTarget, tls: boolean) {
    this.identity = target.identity;
    this.draining = target.draining;
    this.host = isIP(target.id) === 6 ? `[${target.id}]` : target.id;
    this.cookie = Buffer.from(`${target.id}:${target.port}@${target.registeredAt}`).toString('base64url');
    this.pool = new Pool(`${tls ? 'https' : 'http'}://${this.host}:${target.port}`, {
      connections: 512,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      connect: tls ? { rejectUnauthorized: false } : undefined,
    });
  }

  /** Closes the pool once the requests in flight finished. */
  close(): void {
    this.pool.close().catch(() => undefined);
  }
}

/** One target group as the proxy routes to it. */
export class UpstreamGroup {
  /** Every registration of the group in the current table (draining ones included). */
  members: Upstream[] = [];
  /** Where new requests may go (see the module doc). */
  eligible: Upstream[] = [];
  /** Round-robin position. */
  rr = 0;
  /** The `AWSALBTG` cookie value that pins a client to this group. */
  readonly cookie: string;

  constructor(
    public config: CompiledGroup,
    readonly metrics: MetricSet,
  ) {
    this.cookie = Buffer.from(config.arn).toString('base64url');
  }

  /**
   * Recomputes `eligible` and the health gauges from the targets' health (`healthOf` answers
   * undefined for a target not checked yet).
   */
  refresh(healthOf: (identity: string) => TargetHealthStatus | undefined): void {
    const active: Upstream[] = [];
    const healthy: Upstream[] = [];
    let unhealthy = 0;
    const checked = this.config.healthCheck !== undefined;
    for (const u of this.members) {
      if (u.draining) continue;
      active.push(u);
      const h = checked ? healthOf(u.identity) : undefined;
      u.healthySince = h?.state === 'healthy' ? h.healthySince : 0;
      if (!checked || h?.state === 'healthy') healthy.push(u);
      else if (h?.state === 'unhealthy') unhealthy++;
    }
    this.eligible = healthy.length ? healthy : active;
    this.metrics.gauges.HealthyHostCount = healthy.length;
    this.metrics.gauges.UnHealthyHostCount = unhealthy;
  }
}

/** Every live upstream and group, following the tables the data plane adopts. */
export class Upstreams {
  readonly groups = new Map<string, UpstreamGroup>();
  private readonly byIdentity = new Map<string, Upstream>();

  /** The upstream of a registration, if the current table has it. */
  get(identity: string): Upstream | undefined {
    return this.byIdentity.get(identity);
  }

  /** All upstreams of the current table. */
  all(): IterableIterator<Upstream> {
    return this.byIdentity.values();
  }

  /**
   * Follows a new table: creates what it adds, updates what it keeps (draining, group
   * settings), closes what it drops. Eligibility is left to `UpstreamGroup.refresh`.
   */
  sync(table: CompiledTable, groupMetrics: (tgArn: string) => MetricSet): void {
    const seen = new Set<string>();
    for (const config of table.groups.values()) {
      let g = this.groups.get(config.arn);
      if (!g) this.groups.set(config.arn, (g = new UpstreamGroup(config, groupMetrics(config.arn))));
      g.config = config;
      const members: Upstream[] = [];
      for (const t of config.targets) {
        seen.add(t.identity);
        let u = this.byIdentity.get(t.identity);
        if (!u) {
          try {
            u = new Upstream(t, config.tls);
          } catch (e) {
            // An address undici cannot make a URL of: the target gets no traffic, the rest does.
            console.error(`berth lb: target ${t.id}:${t.port} of ${t.tgArn} cannot be used: ${e}`);
            continue;
          }
          this.byIdentity.set(t.identity, u);
        }
        u.draining = t.draining;
        members.push(u);
      }
      g.members = members;
    }
    for (const arn of this.groups.keys()) if (!table.groups.has(arn)) this.groups.delete(arn);
    for (const [identity, u] of this.byIdentity) {
      if (seen.has(identity)) continue;
      this.byIdentity.delete(identity);
      u.close();
    }
  }

  /** Closes every upstream. */
  closeAll(): void {
    for (const u of this.byIdentity.values()) u.close();
    this.byIdentity.clear();
    this.groups.clear();
  }
}
