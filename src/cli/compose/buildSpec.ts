/**
 * A service's `build:` as the Compose Specification writes it, read and normalized (build.ts
 * carries it out). Kept apart from build.ts so that the model needs nothing of the engine.
 */
import { resolve } from 'node:path';
import { ComposeError } from './interpolate.js';

/** A service's `build`, normalized. */
export interface ComposeBuild {
  /** Absolute path of the context directory. */
  context: string;
  /** The Dockerfile: a path relative to the context (or absolute), unless `dockerfileInline`. */
  dockerfile: string;
  dockerfileInline?: string;
  args: Record<string, string>;
  target?: string;
  labels: Record<string, string>;
  noCache: boolean;
  network?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The `build` keys Berth carries out; the specification's others are reported. */
const BUILD_SUPPORTED = new Set(['context', 'dockerfile', 'dockerfile_inline', 'args', 'target', 'labels', 'no_cache', 'network']);
const BUILD_KEYS = new Set([...BUILD_SUPPORTED, 'ssh', 'cache_from', 'cache_to', 'additional_contexts', 'entitlements', 'extra_hosts', 'isolation', 'privileged', 'pull', 'shm_size', 'secrets', 'tags', 'ulimits', 'platforms', 'provenance', 'sbom']);
const MAX_ARGS = 100;

/** `build: ./dir` or the long syntax, normalized; unsupported keys added to `unsupported` with their path. */
export function parseBuild(raw: unknown, at: string, workingDir: string, unsupported: Set<string>): ComposeBuild | undefined {
  if (raw === undefined || raw === null) return undefined;
  const spec: Obj = typeof raw === 'string' ? { context: raw } : isObj(raw) ? raw : {};
  if (typeof raw !== 'string' && !isObj(raw)) throw new ComposeError(`validating compose file: ${at}.build must be a string or a mapping`);
  for (const k of Object.keys(spec)) {
    if (k.startsWith('x-')) continue;
    if (!BUILD_KEYS.has(k)) throw new ComposeError(`validating compose file: ${at}.build additional properties '${k}' not allowed`);
    if (!BUILD_SUPPORTED.has(k)) unsupported.add(`${at}.build.${k}`);
  }
  const context = String(spec.context ?? '.');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(context) || context.startsWith('git@')) throw new ComposeError(`${at}.build.context: a remote context (${context}) is not supported: use a local directory`);
  const str = (k: string) => (spec[k] === undefined || spec[k] === null ? undefined : String(spec[k]));
  const map = (k: string): Record<string, string> => {
    const v = spec[k];
    const out: Record<string, string> = {};
    const entries: Array<[string, unknown]> = isObj(v) ? Object.entries(v) : Array.isArray(v) ? v.map((s) => String(s)).map((s) => (s.includes('=') ? [s.slice(0, s.indexOf('=')), s.slice(s.indexOf('=') + 1)] : [s, null])) : [];
    if (v !== undefined && !isObj(v) && !Array.isArray(v)) throw new ComposeError(`validating compose file: ${at}.build.${k} must be a mapping or a list`);
    if (entries.length > MAX_ARGS) throw new ComposeError(`${at}.build.${k}: at most ${MAX_ARGS} entries`);
    for (const [name, value] of entries) if (value !== null && value !== undefined) out[name] = String(value);
    return out;
  };
  if (spec.dockerfile !== undefined && spec.dockerfile_inline !== undefined) throw new ComposeError(`${at}.build: dockerfile and dockerfile_inline are mutually exclusive`);
  return {
    context: resolve(workingDir, context),
    dockerfile: str('dockerfile') ?? 'Dockerfile',
    dockerfileInline: str('dockerfile_inline'),
    args: map('args'),
    target: str('target'),
    labels: map('labels'),
    noCache: spec.no_cache === true,
    network: str('network'),
  };
}
