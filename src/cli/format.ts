/**
 * Small formatting helpers shared by the `berth` commands: tables, relative times, durations,
 * and the short names people use for ARNs (`web:3` for a task definition, the id of a task).
 */

/** Epoch milliseconds of an API timestamp (awsJson sends epoch seconds, possibly fractional). */
export function epochMs(v: number | string | undefined): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return Math.round(v * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** ISO 8601 (UTC, whole seconds) of an API timestamp, or undefined. */
export function isoTime(v: number | string | undefined): string | undefined {
  const ms = epochMs(v);
  return ms === undefined ? undefined : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `12s`, `3m05s`, `2h10m`: a duration for people. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d`;
}

/** `5s ago`, `3m ago`: how long before `now` an API timestamp was, or `-`. */
export function ago(v: number | string | undefined, now = Date.now()): string {
  const ms = epochMs(v);
  if (ms === undefined) return '-';
  const s = Math.max(0, Math.floor((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** The last path segment of an ARN (`arn:...:task/cluster/<id>` → `<id>`). */
export function lastSegment(arn: string): string {
  return arn.split('/').pop() ?? arn;
}

/** `family:revision` of a task definition ARN (an ARN, or already `family:rev`). */
export function taskDefinitionName(arnOrName: string | undefined): string {
  if (!arnOrName) return '-';
  return arnOrName.includes('task-definition/') ? arnOrName.split('task-definition/').pop()! : arnOrName;
}

/** The name of a target group from its ARN (`...:targetgroup/<name>/<id>`). */
export function targetGroupName(arn: string): string {
  const m = /:targetgroup\/([^/]+)\//.exec(arn);
  return m ? m[1]! : arn;
}

/** The text width of a string as a terminal shows it (colour codes take none). */
function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/** `s` padded with spaces to `width` visible characters. */
export function padVisible(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - visibleLength(s)));
}

/**
 * A table with a header row: columns padded to their widest cell, two spaces apart, the last
 * column unpadded (no trailing blanks). Returns the lines, each ending in a newline.
 */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : padVisible(c, widths[i]!)))
      .join('  ')
      .trimEnd() + '\n';
  return line(header) + rows.map(line).join('');
}

/** A count of things with its noun, singular or plural: `1 task`, `3 tasks`. */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}
