/**
 * Log groups and log streams: lookup, creation, deletion and tags, with CloudWatch Logs'
 * invariants (names under `aws/` are AWS's; a group with deletion protection stays; tags as
 * every AWS resource takes them). A group owns its streams and a stream its events: deleting
 * either deletes what it owns and releases its stored bytes, in one transaction of the store.
 */
import { mergeTags } from '../common.js';
import type { Scope } from '../platform.js';
import { logsErrors } from './errors.js';
import type { LogEventStore, LogGroupRow, LogStreamRow } from './eventStore.js';
import { groupNameFromArn } from './names.js';

/** The group of that name in `region`, or ResourceNotFoundException. */
export function requireGroup(events: LogEventStore, region: string, name: string): LogGroupRow {
  const g = events.getGroup(region, name);
  if (!g) throw logsErrors.groupNotFound();
  return g;
}

/** The stream of `group`, or ResourceNotFoundException. */
export function requireStream(events: LogEventStore, group: LogGroupRow, name: string): LogStreamRow {
  const s = events.getStream(group.id, name);
  if (!s) throw logsErrors.streamNotFound();
  return s;
}

/** The group a tagging call's `resourceArn` names, or ResourceNotFoundException naming the ARN. */
export function requireGroupByArn(events: LogEventStore, s: Scope, resourceArn: string): LogGroupRow {
  const g = events.getGroup(s.region, groupNameFromArn(s, resourceArn));
  if (!g) throw logsErrors.resourceNotFound(`The specified resource '${resourceArn}' does not exist.`);
  return g;
}

/** What CreateLogGroup asks for; absent settings take AWS's defaults. */
export interface LogGroupSpec {
  name: string;
  kmsKeyId?: string;
  /** STANDARD (default) or INFREQUENT_ACCESS; recorded, both behave alike here. */
  logGroupClass?: string;
  deletionProtection?: boolean;
  tags?: Record<string, string>;
}

/** Creates a group in the scope's region, or throws ResourceAlreadyExistsException. */
export function createLogGroup(events: LogEventStore, s: Scope, spec: LogGroupSpec): LogGroupRow {
  if (spec.name.startsWith('aws/')) throw logsErrors.invalidParameter("Log group names starting with 'aws/' are reserved for AWS.");
  const created = events.createGroup({
    region: s.region,
    name: spec.name,
    creationTime: s.platform.clock.now(),
    kmsKeyId: spec.kmsKeyId,
    logGroupClass: spec.logGroupClass ?? 'STANDARD',
    deletionProtection: spec.deletionProtection ?? false,
    tags: withTags({}, spec.tags ?? {}),
  });
  if (!created) throw logsErrors.groupExists();
  return created;
}

/** Deletes a group with its streams and events; refused (OperationAbortedException) while it has deletion protection. */
export function deleteLogGroup(events: LogEventStore, region: string, name: string): void {
  const g = requireGroup(events, region, name);
  if (g.deletionProtection) {
    throw logsErrors.operationAborted(`Log group ${g.name} has deletion protection enabled; disable it before deleting the group.`);
  }
  events.deleteGroup(g.id);
}

/** Creates a stream in an existing group, or throws ResourceAlreadyExistsException. */
export function createLogStream(events: LogEventStore, s: Scope, groupName: string, streamName: string): LogStreamRow {
  const g = requireGroup(events, s.region, groupName);
  const created = events.createStream(g.id, streamName, s.platform.clock.now());
  if (!created) throw logsErrors.streamExists();
  return created;
}

/** Deletes a stream and its events; the group's stored bytes drop by the stream's. */
export function deleteLogStream(events: LogEventStore, region: string, groupName: string, streamName: string): void {
  const g = requireGroup(events, region, groupName);
  events.deleteStream(requireStream(events, g, streamName).id);
}

/** Adds or replaces tags of a group (at most 50 in all, keys not starting with `aws:`). */
export function tagLogGroup(events: LogEventStore, group: LogGroupRow, tags: Record<string, string>): void {
  events.setTags(group.id, withTags(group.tags, tags));
}

/** Removes the named tags from a group (names it does not carry are ignored, as on AWS). */
export function untagLogGroup(events: LogEventStore, group: LogGroupRow, keys: readonly string[]): void {
  const tags = { ...group.tags };
  for (const k of keys) delete tags[k];
  events.setTags(group.id, tags);
}

/** `existing` with `added` merged in, checked with the tag rules every AWS resource has. */
function withTags(existing: Record<string, string>, added: Record<string, string>): Record<string, string> {
  const merged = mergeTags(
    Object.entries(existing).map(([key, value]) => ({ key, value })),
    Object.entries(added).map(([key, value]) => ({ key, value })),
    logsErrors.invalidParameter,
  );
  return Object.fromEntries(merged.map((t) => [t.key!, t.value ?? '']));
}
