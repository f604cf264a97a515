/**
 * Model patterns (the `pattern` constraint of string shapes, Java syntax) compiled for the
 * validator (./modelValidation.ts): on RegExp, or on RE2 where a backtracking engine could take
 * exponential time.
 */
import { RE2JS } from 're2js';

/** A compiled model pattern: whether a whole string satisfies it. */
export interface PatternMatcher {
  /** Which engine runs it (RE2 for patterns with nested quantifiers, see compileModelPattern). */
  readonly engine: 'regexp' | 're2';
  test(s: string): boolean;
}

/**
 * Whether a pattern repeats a group that itself holds a quantifier (`(a+)*`, `(?:x?y+)*`): the
 * shape that can make a backtracking engine take exponential time. Scans the pattern (a model's,
 * trusted and short) once, skipping escapes and character classes.
 */
export function hasNestedQuantifier(src: string): boolean {
  const stack: boolean[] = [];
  let inner = false; // the current group's body has a quantifier
  let lastGroupQuantified = false; // the group just closed had one
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      i++;
      lastGroupQuantified = false;
      continue;
    }
    if (c === '[') {
      for (i++; i < src.length && src[i] !== ']'; i++) if (src[i] === '\\') i++;
      lastGroupQuantified = false;
      continue;
    }
    if (c === '(') {
      stack.push(inner);
      inner = false;
      lastGroupQuantified = false;
      // A group's own syntax, not a quantifier: (?: (?= (?! (?<= (?<! (?<name>
      if (src[i + 1] === '?') {
        i += 2;
        if (src[i] === '<' && src[i + 1] !== '=' && src[i + 1] !== '!') i = Math.max(i, src.indexOf('>', i));
        else if (src[i] === '<') i++;
      }
      continue;
    }
    if (c === ')') {
      lastGroupQuantified = inner;
      inner = (stack.pop() ?? false) || inner;
      continue;
    }
    const repeats = c === '*' || c === '+' || (c === '{' && /^\{\d*,\d*\}|^\{\d*[2-9]\d*\}|^\{\d{2,}\}/.test(src.slice(i, i + 12)));
    if (repeats && lastGroupQuantified) return true;
    if (repeats || c === '?' || c === '{') inner = true;
    lastGroupQuantified = false;
  }
  return false;
}

/**
 * Compiles a model pattern (Java syntax, anchored to the whole string) the way the validator runs
 * it: on RegExp, except patterns with nested quantifiers (hasNestedQuantifier), which run on RE2
 * (re2js, linear time) whenever RE2 accepts them. ECR's ScanningRepositoryFilterValue,
 * `^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$`, takes exponential time on RegExp. Null for the
 * few patterns neither engine takes (the validator skips those rather than guessing).
 */
export function compileModelPattern(src: string): PatternMatcher | null {
  // Java's POSIX class \p{Print} (ASCII printable, as Application Auto Scaling's PolicyName
  // uses it) has no JavaScript equivalent: without the 'u' flag it would match the literal text.
  const anchored = `^(?:${src.replaceAll('\\p{Print}', '[\\x20-\\x7E]')})$`;
  if (hasNestedQuantifier(src)) {
    try {
      const re = RE2JS.compile(anchored);
      return { engine: 're2', test: (s) => re.testExact(s) };
    } catch {
      // RE2 refuses it (a construct it lacks): RegExp below, which the patterns test keeps honest.
    }
  }
  // Models use Java regular expressions; nearly all are valid JS with the 'u' flag.
  for (const flags of ['u', '']) {
    try {
      const re = new RegExp(anchored, flags);
      return { engine: 'regexp', test: (s) => re.test(s) };
    } catch {
      /* next */
    }
  }
  return null;
}
