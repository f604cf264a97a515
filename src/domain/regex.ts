/**
 * Regular expressions that clients supply (SSM AllowedPattern, CloudWatch Logs `%regex%`
 * terms, placement-constraint `=~`), compiled by re2js: an RE2 port whose matching time is
 * linear in the input, whatever the pattern. Backtracking `RegExp` never sees such a pattern,
 * so no pattern a client writes can stall the event loop.
 *
 * RE2 refuses the constructs that need backtracking (backreferences, lookahead, lookbehind,
 * possessive quantifiers); such a pattern is refused with a {@link RegexSyntaxError} that
 * says so, as is one longer than {@link MAX_REGEX_SOURCE} characters or one whose compiled
 * program exceeds {@link MAX_REGEX_PROGRAM} instructions (`(a{1000}){1000}` and the like).
 */
import { RE2JS } from 're2js';

/** The longest pattern accepted, in characters. */
export const MAX_REGEX_SOURCE = 4096;
/** The largest compiled program accepted (RE2's "program size", about one per instruction). */
export const MAX_REGEX_PROGRAM = 20_000;

/** A compiled client pattern. */
export interface LinearRegex {
  /** The pattern as given. */
  readonly source: string;
  /** Whether the pattern matches somewhere in `text` (RegExp.test semantics). */
  test(text: string): boolean;
  /** Whether the pattern matches all of `text`. */
  testWhole(text: string): boolean;
}

/** A pattern that cannot be compiled; the message says why, in words a person can act on. */
export class RegexSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegexSyntaxError';
  }
}

/** Options for {@link compileLinearRegex}. */
export interface LinearRegexOptions {
  /** Compare case-insensitively. */
  ignoreCase?: boolean;
  /** Let `.` match line terminators too. */
  dotAll?: boolean;
}

/** Compiles `source`; throws {@link RegexSyntaxError} when it is malformed, unsupported or too large. */
export function compileLinearRegex(source: string, options: LinearRegexOptions = {}): LinearRegex {
  if (source.length > MAX_REGEX_SOURCE) throw new RegexSyntaxError(`the pattern is ${source.length} characters long; at most ${MAX_REGEX_SOURCE} are accepted`);
  const flags = (options.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0) | (options.dotAll ? RE2JS.DOTALL : 0);
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, flags);
  } catch (e) {
    throw new RegexSyntaxError(explain(source, (e as Error).message));
  }
  if (re.programSize() > MAX_REGEX_PROGRAM) {
    throw new RegexSyntaxError(`the pattern compiles to ${re.programSize()} instructions; at most ${MAX_REGEX_PROGRAM} are accepted (use smaller repetition counts)`);
  }
  return {
    source,
    test: (text) => re.test(text),
    testWhole: (text) => re.testExact(text),
  };
}

/** A compiled client pattern with capture groups (Logs Insights `parse`). */
export interface CapturingRegex extends LinearRegex {
  /** Group names by number (1-based; unnamed groups are absent). */
  readonly groupNames: ReadonlyMap<number, string>;
  /** How many capture groups the pattern has. */
  readonly groupCount: number;
  /** The first match's groups (index 0 is the whole match; a group that took no part is undefined), or undefined. */
  exec(text: string): (string | undefined)[] | undefined;
}

/** Like {@link compileLinearRegex}, with access to the capture groups of the first match. */
export function compileCapturingRegex(source: string, options: LinearRegexOptions = {}): CapturingRegex {
  const base = compileLinearRegex(source, options);
  const flags = (options.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0) | (options.dotAll ? RE2JS.DOTALL : 0);
  const re = RE2JS.compile(source, flags);
  const groupNames = new Map<number, string>(Object.entries(re.namedGroups()).map(([name, i]) => [i, name]));
  const groupCount = re.groupCount();
  return {
    ...base,
    groupNames,
    groupCount,
    exec(text) {
      const m = re.matcher(text);
      if (!m.find()) return undefined;
      const out: (string | undefined)[] = [];
      for (let i = 0; i <= groupCount; i++) out.push(m.group(i) ?? undefined);
      return out;
    },
  };
}

const BACKTRACKING_ONLY: Array<[RegExp, string]> = [
  [/\\[1-9]/, 'backreferences (\\1...)'],
  [/\(\?<?[=!]/, 'lookahead and lookbehind ((?=...), (?!...), (?<=...), (?<!...))'],
  [/\\k</, 'named backreferences (\\k<name>)'],
  [/[*+?}][+]/, 'possessive quantifiers (a*+)'],
];

/** The engine's message, plus which unsupported construct the pattern uses when one explains it. */
function explain(source: string, message: string): string {
  // These checks run on the pattern only (bounded above), never on matched text.
  const construct = BACKTRACKING_ONLY.find(([probe]) => probe.test(source));
  const base = message.replace(/^error parsing regexp: /, '');
  return construct ? `${base}: ${construct[1]} need a backtracking engine and are not supported (patterns run in linear time)` : base;
}
