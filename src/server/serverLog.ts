/**
 * The server's log: one line per request (time, principal, service.operation, status, ms), and
 * the server's own warnings and errors, as text or JSON lines, filtered by level.
 *
 * Levels, from most to least said: `debug` and `info` log every request; `warn` only requests
 * answered 4xx or 5xx, and warnings; `error` only 5xx answers and errors; `off` nothing.
 * Text lines read `2026-12-02T06:30:00.123Z root ecs.RunTask 200 1.4ms` (plus the error code
 * for a refused request); JSON lines carry the same fields by name, plus the request id.
 */

/** How much the server says. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'off';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'off'];

/** Where and how the server logs. */
export interface LogSettings {
  level: LogLevel;
  format: 'text' | 'json';
  /** Receives each line, newline included (default: standard output). */
  write: (line: string) => void;
}

/** One answered request. */
export interface RequestRecord {
  /** Epoch ms when the request arrived. */
  time: number;
  requestId?: string;
  /** Who signed it (`root` for the root credentials), or `-` when nobody did. */
  principal: string;
  /** `service.Operation` for AWS calls, `METHOD /path` for the rest. */
  operation: string;
  status: number;
  ms: number;
  /** The error code of a refused request. */
  error?: string;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, off: 4 };

/** The settings `BERTH_LOG_LEVEL` and `BERTH_LOG_FORMAT` give, under `given` (level `off` by default: a library says nothing unless asked). */
export function logSettings(given: Partial<LogSettings> | undefined, env: NodeJS.ProcessEnv): LogSettings {
  const level = given?.level ?? (LOG_LEVELS.includes(env.BERTH_LOG_LEVEL as LogLevel) ? (env.BERTH_LOG_LEVEL as LogLevel) : 'off');
  const format = given?.format ?? (env.BERTH_LOG_FORMAT === 'json' ? 'json' : 'text');
  return { level, format, write: given?.write ?? ((line) => process.stdout.write(line)) };
}

/** The server's log; see the module doc. */
export class ServerLog {
  constructor(private readonly settings: LogSettings) {}

  /** Whether a request answered with `status` is logged at all (callers skip the work when not). */
  wantsRequest(status: number): boolean {
    const rank = RANK[this.settings.level];
    return rank <= 1 || (rank === 2 && status >= 400) || (rank === 3 && status >= 500);
  }

  request(r: RequestRecord): void {
    if (!this.wantsRequest(r.status)) return;
    const ms = Math.round(r.ms * 10) / 10;
    if (this.settings.format === 'json') {
      this.settings.write(JSON.stringify({ time: new Date(r.time).toISOString(), level: r.status >= 500 ? 'error' : r.status >= 400 ? 'warn' : 'info', requestId: r.requestId, principal: r.principal, operation: r.operation, status: r.status, ms, error: r.error }) + '\n');
    } else {
      this.settings.write(`${new Date(r.time).toISOString()} ${r.principal} ${r.operation} ${r.status} ${ms}ms${r.error ? ` ${r.error}` : ''}\n`);
    }
  }

  warn(message: string): void {
    this.say('warn', message);
  }

  error(message: string, err?: unknown): void {
    this.say('error', err === undefined ? message : `${message}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }

  private say(level: 'warn' | 'error', message: string): void {
    if (RANK[this.settings.level] > RANK[level]) return;
    if (this.settings.format === 'json') this.settings.write(JSON.stringify({ time: new Date().toISOString(), level, message }) + '\n');
    else this.settings.write(`${new Date().toISOString()} ${level.toUpperCase()} ${message}\n`);
  }
}
