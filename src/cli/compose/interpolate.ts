/**
 * Compose's variable interpolation and `.env` files, as the Compose Specification describes them
 * (and `docker compose config` applies them): `$VAR`, `${VAR}`, `${VAR:-default}` (unset or
 * empty), `${VAR-default}` (unset), `${VAR:?err}` / `${VAR?err}` (an error), `${VAR:+alt}` /
 * `${VAR+alt}`, nested in defaults (`${A:-${B}}`), and `$$` for a literal `$`. Pure: the
 * variables come in, the values and warnings go out. Linear scans, no regular expressions on
 * user input beyond fixed character classes.
 */

/** A compose file problem, worded as `docker compose config` words it; the CLI prints it and exits 1 (no stack). */
export class ComposeError extends Error {}

/** The longest value interpolation produces (a bound against runaway nested defaults). */
const MAX_VALUE_CHARS = 1_000_000;

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/** What interpolation needs: the variables, and where to note a variable that is not set. */
export interface Interpolation {
  vars: Record<string, string | undefined>;
  /** Called once per unset variable used without a default. */
  warnUnset?: (name: string) => void;
}

/**
 * Interpolates one string. `path` (e.g. `services.web.image`) names it in errors.
 * Throws ComposeError for an invalid template or a required variable that is missing.
 */
export function interpolateString(input: string, ctx: Interpolation, path: string): string {
  const { value, end } = scan(input, 0, ctx, path, false);
  if (end !== input.length) throw invalid(path, input);
  return value;
}

function invalid(path: string, template: string): ComposeError {
  return new ComposeError(`invalid interpolation format for ${path}.\nYou may need to escape any $ with another $.\n${template}`);
}

/**
 * Scans from `i` until the end of the input, or (inside a default) until the `}` that closes the
 * enclosing braces; returns the produced text and where it stopped (at the `}`).
 */
function scan(s: string, i: number, ctx: Interpolation, path: string, nested: boolean): { value: string; end: number } {
  let out = '';
  while (i < s.length) {
    const ch = s[i]!;
    if (nested && ch === '}') return { value: out, end: i };
    if (ch !== '$') {
      out += ch;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      const r = braced(s, i + 2, ctx, path);
      out += r.value;
      i = r.end;
    } else if (next !== undefined && NAME_START.test(next)) {
      let j = i + 1;
      while (j < s.length && NAME_CHAR.test(s[j]!)) j++;
      out += lookup(s.slice(i + 1, j), ctx);
      i = j;
    } else {
      // A lone `$` (end of string, or before a character that starts no name) stays as is.
      out += '$';
      i++;
    }
    if (out.length > MAX_VALUE_CHARS) throw new ComposeError(`${path}: the interpolated value is longer than ${MAX_VALUE_CHARS} characters`);
  }
  if (nested) throw invalid(path, s);
  return { value: out, end: i };
}

function lookup(name: string, ctx: Interpolation): string {
  const v = ctx.vars[name];
  if (v === undefined) {
    ctx.warnUnset?.(name);
    return '';
  }
  return v;
}

/** `${...}` from just after the brace; returns the value and the index after the closing `}`. */
function braced(s: string, i: number, ctx: Interpolation, path: string): { value: string; end: number } {
  let j = i;
  if (j >= s.length || !NAME_START.test(s[j]!)) throw invalid(path, s);
  while (j < s.length && NAME_CHAR.test(s[j]!)) j++;
  const name = s.slice(i, j);
  const value = ctx.vars[name];
  if (s[j] === '}') return { value: lookup(name, ctx), end: j + 1 };
  const colon = s[j] === ':';
  const op = s[colon ? j + 1 : j];
  if (op !== '-' && op !== '?' && op !== '+') throw invalid(path, s);
  const rest = scan(s, j + (colon ? 2 : 1), ctx, path, true);
  const missing = colon ? value === undefined || value === '' : value === undefined;
  const end = rest.end + 1;
  if (op === '-') return { value: missing ? rest.value : value!, end };
  if (op === '+') return { value: missing ? '' : rest.value, end };
  if (missing) throw new ComposeError(`required variable ${name} is missing a value${rest.value ? `: ${rest.value}` : ''}`);
  return { value: value!, end };
}

/**
 * Interpolates every string value of a parsed YAML document (keys are left alone, as compose
 * does), building the path of each value for errors.
 */
export function interpolateTree(node: unknown, ctx: Interpolation, path: string): unknown {
  if (typeof node === 'string') return interpolateString(node, ctx, path);
  if (Array.isArray(node)) return node.map((v, i) => interpolateTree(v, ctx, `${path}[${i}]`));
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = interpolateTree(v, ctx, path ? `${path}.${k}` : k);
    return out;
  }
  return node;
}

/** The most lines an env file may have. */
const MAX_ENV_LINES = 100_000;

/**
 * Parses a `.env` / `env_file` file as compose does: `KEY=VALUE` lines, `export ` prefixes,
 * `#` comments (a whole line, or after whitespace in an unquoted value), single quotes literal,
 * double quotes with `\n`, `\t`, `\\` and `\"` escapes, both interpolated except single quotes
 * (against the variables given and the file's earlier keys). A line `KEY` alone takes KEY from
 * `lookupEnv` (left out when unset). `file` names the file in errors.
 */
export function parseEnvFile(text: string, file: string, vars: Record<string, string | undefined> = {}, lookupEnv: (k: string) => string | undefined = () => undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  if (lines.length > MAX_ENV_LINES) throw new ComposeError(`${file}: more than ${MAX_ENV_LINES} lines`);
  const ctx = (): Interpolation => ({ vars: { ...vars, ...out } });
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n]!.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('export ')) line = line.slice(7).trimStart();
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (!key || /[\s=]/.test(key) || key.includes('#')) throw new ComposeError(`failed to read ${file}: line ${n + 1}: unexpected character in variable name "${key}"`);
    if (eq < 0) {
      const v = lookupEnv(key);
      if (v !== undefined) out[key] = v;
      continue;
    }
    let raw = line.slice(eq + 1).trimStart();
    const where = `${file}:${n + 1}`;
    if (raw.startsWith("'")) {
      const close = raw.indexOf("'", 1);
      if (close < 0) throw new ComposeError(`failed to read ${file}: line ${n + 1}: unterminated quoted value`);
      out[key] = raw.slice(1, close);
    } else if (raw.startsWith('"')) {
      // A double-quoted value may span lines until its closing quote.
      let body = raw.slice(1);
      let value = '';
      for (;;) {
        let closed = false;
        let k = 0;
        for (; k < body.length; k++) {
          const c = body[k]!;
          if (c === '\\' && k + 1 < body.length) {
            const e = body[++k]!;
            value += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === '"' || e === '\\' || e === '$' ? (e === '$' ? '$$' : e) : `\\${e}`;
          } else if (c === '"') {
            closed = true;
            break;
          } else value += c;
        }
        if (closed) break;
        if (++n >= lines.length) throw new ComposeError(`failed to read ${file}: unterminated quoted value`);
        value += '\n';
        body = lines[n]!;
      }
      out[key] = interpolateString(value, ctx(), where);
    } else {
      const hash = raw.search(/\s#/);
      if (hash >= 0) raw = raw.slice(0, hash);
      out[key] = interpolateString(raw.trimEnd(), ctx(), where);
    }
  }
  return out;
}
