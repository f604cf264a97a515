/**
 * AWS CloudTrail, its `LookupEvents` only: the audit log of every call Berth answered
 * (src/domain/cloudtrail/auditLog.ts, filled by the gateway), newest first, filtered by one
 * lookup attribute and a time range, in pages of at most 50, each event with its record in
 * CloudTrail's format (`CloudTrailEvent`). See README.md.
 */
import { createHash } from 'node:crypto';
import type * as CT from '../../generated/cloudtrail.js';
import { ServiceModel } from '../../protocol/model.js';
import type { AuditAttribute, AuditLog } from '../../domain/cloudtrail/auditLog.js';
import { cloudTrailErrors } from '../../domain/cloudtrail/errors.js';
import type { Handlers, ServiceDefinition } from '../types.js';

/** LookupEvents' default and largest page. */
const PAGE = 50;

/** The NextToken of a page: the last sequence number shown, bound to the query it continues. */
function tokenOf(seq: number, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ s: seq, f: fingerprint })).toString('base64url');
}

function seqOf(token: string, fingerprint: string): number {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { s?: unknown; f?: unknown };
    if (typeof t.s === 'number' && Number.isSafeInteger(t.s) && t.s > 0 && t.f === fingerprint) return t.s;
  } catch {
    // falls through to the error
  }
  throw cloudTrailErrors.invalidNextToken();
}

/** The handlers of CloudTrail over an audit log. */
export function cloudTrailHandlers(audit: AuditLog): Handlers<CT.Operations> {
  return {
    async LookupEvents(input, ctx) {
      const attrs = input.LookupAttributes ?? [];
      if (attrs.length > 1) throw cloudTrailErrors.invalidLookupAttributes('LookupAttributes can contain only one item.');
      const attr = attrs[0];
      const start = input.StartTime?.getTime();
      const end = input.EndTime?.getTime() ?? ctx.platform.clock.now();
      if (start !== undefined && start > end) throw cloudTrailErrors.invalidTimeRange();
      const limit = input.MaxResults ?? PAGE;
      const fingerprint = createHash('sha256')
        .update(JSON.stringify([attr?.AttributeKey, attr?.AttributeValue, start, input.EndTime?.getTime(), input.EventCategory]))
        .digest('base64url')
        .slice(0, 16);
      const beforeSeq = input.NextToken ? seqOf(input.NextToken, fingerprint) : undefined;
      // CloudTrail Insights events are not kept: that category is always empty.
      if (input.EventCategory === 'insight') return { Events: [] };
      const rows = audit.lookup({ attribute: attr ? { key: attr.AttributeKey as AuditAttribute, value: attr.AttributeValue } : undefined, startTime: start, endTime: end, beforeSeq, limit: limit + 1 });
      const page = rows.slice(0, limit);
      return {
        Events: page.map((r) => ({
          EventId: r.eventId,
          EventName: r.eventName,
          ReadOnly: r.readOnly ? 'true' : 'false',
          AccessKeyId: r.accessKeyId,
          EventTime: new Date(r.eventTime),
          EventSource: r.eventSource,
          Username: r.username,
          Resources: r.resources.map((x) => ({ ResourceType: x.type, ResourceName: x.name })),
          CloudTrailEvent: r.record,
        })),
        NextToken: rows.length > limit ? tokenOf(page[page.length - 1]!.seq, fingerprint) : undefined,
      };
    },
  };
}

export function cloudTrailService(audit: AuditLog): ServiceDefinition {
  return {
    name: 'cloudtrail',
    model: ServiceModel.load('cloudtrail'),
    protocol: 'json',
    signingNames: ['cloudtrail'],
    servedPart: 'LookupEvents over the audit log of the calls Berth answered',
    validationErrorCode: 'InvalidParameterException',
    constraintErrors: { LookupEvents: { MaxResults: cloudTrailErrors.invalidMaxResults } },
    handlers: cloudTrailHandlers(audit) as ServiceDefinition['handlers'],
  };
}
