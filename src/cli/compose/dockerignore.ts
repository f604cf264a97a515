/**
 * `.dockerignore` as Docker reads it (moby's patternmatcher and ignorefile, which docker build
 * uses): one pattern per line; a line starting with `#` is a comment; lines are trimmed; `!`
 * makes an exception; each pattern is cleaned (`filepath.Clean`) and a leading `/` dropped.
 * A pattern matches a path relative to the context root as a whole: `*` any run of characters
 * but `/`, `?` one character but `/`, `[...]` a class (`^` negates), `\` escapes, `**` any
 * number of directories (`**` at the end: anything). A path is excluded when the last pattern
 * matching it, or one of its parent directories, is not an exception. The Dockerfile and
 * `.dockerignore` are always sent (docker build adds exceptions for them).
 *
 * Matching is a simulation of the pattern's automaton over the path (time length x pattern
 * length, no backtracking), so no input makes it slow; sizes are bounded.
 */
import { posix } from 'node:path';
import { ComposeError } from './interpolate.js';

/** The largest `.dockerignore` read, the most patterns, the longest pattern. */
export const MAX_IGNORE_BYTES = 1024 * 1024;
export const MAX_IGNORE_PATTERNS = 10_000;
export const MAX_PATTERN_LENGTH = 4096;

type Token =
  | { t: 'char'; c: string }
  | { t: 'any' } // ? : one character but '/'
  | { t: 'class'; negated: boolean; items: Array<[string, string]> }
  | { t: 'star' } // * : any run of characters but '/'
  | { t: 'all' } // ** at the end: anything
  | { t: 'dirs' }; // **/ (or ** inside): nothing, or anything ending with '/'

interface Pattern {
  tokens: Token[];
  exception: boolean;
}

function compile(pattern: string): Token[] {
  const tokens: Token[] = [];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++;
        tokens.push(i + 1 >= chars.length ? { t: 'all' } : { t: 'dirs' });
      } else tokens.push({ t: 'star' });
    } else if (ch === '?') tokens.push({ t: 'any' });
    else if (ch === '\\' && i + 1 < chars.length) tokens.push({ t: 'char', c: chars[++i]! });
    else if (ch === '[') {
      let j = i + 1;
      const negated = chars[j] === '^';
      if (negated) j++;
      const items: Array<[string, string]> = [];
      let closed = false;
      for (; j < chars.length; j++) {
        let c = chars[j]!;
        if (c === ']' && (items.length || j > i + 1 + (negated ? 1 : 0))) {
          closed = true;
          break;
        }
        if (c === '\\' && j + 1 < chars.length) c = chars[++j]!;
        if (chars[j + 1] === '-' && j + 2 < chars.length && chars[j + 2] !== ']') {
          let hi = chars[j + 2]!;
          j += 2;
          if (hi === '\\' && j + 1 < chars.length) hi = chars[++j]!;
          items.push([c, hi]);
        } else items.push([c, c]);
      }
      if (!closed) throw new ComposeError(`.dockerignore: syntax error in pattern "${pattern.slice(0, 200)}": unterminated [`);
      tokens.push({ t: 'class', negated, items });
      i = j;
    } else tokens.push({ t: 'char', c: ch });
  }
  return tokens;
}

/** Whether `tokens` match all of `path`: a simulation of the pattern's automaton. */
function matches(tokens: Token[], path: string): boolean {
  // State 2k: at token k; 2k+1: inside a `dirs` token k (has consumed something, needs a '/' to leave).
  const n = tokens.length;
  const closure = (states: Set<number>): Set<number> => {
    const stack = [...states];
    while (stack.length) {
      const s = stack.pop()!;
      if (s % 2 === 1) continue;
      const k = s / 2;
      const tok = tokens[k];
      if (tok && (tok.t === 'star' || tok.t === 'all' || tok.t === 'dirs') && !states.has(2 * (k + 1))) {
        states.add(2 * (k + 1));
        stack.push(2 * (k + 1));
      }
    }
    return states;
  };
  let current = closure(new Set([0]));
  for (const ch of path) {
    const next = new Set<number>();
    for (const s of current) {
      const k = Math.floor(s / 2);
      const tok = tokens[k];
      if (!tok) continue;
      if (s % 2 === 1) {
        next.add(s);
        if (ch === '/') next.add(2 * (k + 1));
        continue;
      }
      switch (tok.t) {
        case 'char':
          if (tok.c === ch) next.add(2 * (k + 1));
          break;
        case 'any':
          if (ch !== '/') next.add(2 * (k + 1));
          break;
        case 'class': {
          const inside = tok.items.some(([lo, hi]) => ch >= lo && ch <= hi);
          if (ch !== '/' && inside !== tok.negated) next.add(2 * (k + 1));
          break;
        }
        case 'star':
          if (ch !== '/') next.add(s);
          break;
        case 'all':
          next.add(s);
          break;
        case 'dirs':
          next.add(s + 1);
          if (ch === '/') next.add(2 * (k + 1));
          break;
      }
    }
    if (!next.size) return false;
    current = closure(next);
  }
  return current.has(2 * n);
}

/** The patterns of a `.dockerignore` text, plus the exceptions docker build adds (`keep`). */
export function parseDockerignore(text: string, keep: string[] = []): Pattern[] {
  if (text.length > MAX_IGNORE_BYTES) throw new ComposeError(`.dockerignore is larger than ${MAX_IGNORE_BYTES} bytes`);
  const out: Pattern[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const raw of [...lines, ...keep.map((k) => `!${k}`)]) {
    if (raw.startsWith('#')) continue;
    let p = raw.trim();
    if (!p) continue;
    const exception = p.startsWith('!');
    if (exception) p = p.slice(1).trim();
    if (p.length > MAX_PATTERN_LENGTH) throw new ComposeError(`.dockerignore: a pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
    if (p) {
      p = posix.normalize(p).replace(/\/+$/, '') || '.';
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    }
    out.push({ tokens: compile(p), exception });
    if (out.length > MAX_IGNORE_PATTERNS) throw new ComposeError(`.dockerignore has more than ${MAX_IGNORE_PATTERNS} patterns`);
  }
  return out;
}

/** Whether any pattern is an exception (an excluded directory must then still be walked). */
export function hasExceptions(patterns: Pattern[]): boolean {
  return patterns.some((p) => p.exception);
}

/** Whether `path` (relative to the context root, `/`-separated) is excluded by `patterns`. */
export function isExcluded(patterns: Pattern[], path: string): boolean {
  const parts = path.split('/');
  let excluded = false;
  for (const p of patterns) {
    let hit = matches(p.tokens, path);
    for (let i = 1; !hit && i < parts.length; i++) hit = matches(p.tokens, parts.slice(0, i).join('/'));
    if (hit) excluded = !p.exception;
  }
  return excluded;
}
