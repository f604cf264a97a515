/**
 * Wildcard patterns (`*` any run of characters, `?` exactly one), as ALB rules and CloudWatch
 * Logs filter values use them, matched without backtracking, in time linear in the input for a given pattern: the pattern is split at its
 * `*`s into segments; the first must match at the start and the last at the end, and each one
 * between is taken at its leftmost place after the previous one (for such patterns the leftmost
 * place is never worse). Each input position is tried as the start of at most one segment, so a
 * match costs at most (input length x longest segment) character comparisons, and a `?`-free
 * segment is found with `indexOf`. A request path of 64 KiB against a pattern of five
 * wildcards is matched in well under a millisecond, whatever it holds.
 */

/** A compiled pattern: call it with the text to test. */
export type Glob = (text: string) => boolean;

interface Segment {
  /** The segment's characters; `?` (where `any[i]`) matches any one character. */
  chars: string;
  any: boolean[];
  /** Whether the segment holds a `?` (else it is a plain substring, found with indexOf). */
  wild: boolean;
}

function segment(s: string, fold: boolean, questionIsWild: boolean): Segment {
  const chars = fold ? s.toLowerCase() : s;
  // Indexed by UTF-16 code unit, as matchesAt compares.
  const any = Array.from({ length: chars.length }, (_, i) => questionIsWild && chars[i] === '?');
  return { chars, any, wild: any.includes(true) };
}

/** Whether `seg` matches `text` at position `at` (text already folded when the glob folds case). */
function matchesAt(seg: Segment, text: string, at: number): boolean {
  const n = seg.chars.length;
  if (at + n > text.length) return false;
  for (let i = 0; i < n; i++) if (!seg.any[i] && seg.chars.charCodeAt(i) !== text.charCodeAt(at + i)) return false;
  return true;
}

/** The leftmost position >= from where `seg` matches, or -1. */
function find(seg: Segment, text: string, from: number): number {
  if (!seg.wild) return text.indexOf(seg.chars, from);
  for (let at = from; at + seg.chars.length <= text.length; at++) if (matchesAt(seg, text, at)) return at;
  return -1;
}

/**
 * Compiles a wildcard pattern. `foldCase` compares case-insensitively (host names, headers,
 * query strings: as ALB does); path patterns are case-sensitive. `questionIsWild` false makes
 * `?` an ordinary character (CloudWatch Logs values know only `*`).
 */
export function compileGlob(pattern: string, foldCase: boolean, questionIsWild = true): Glob {
  const seg = (s: string): Segment => segment(s, foldCase, questionIsWild);
  const parts = pattern.split('*');
  if (parts.length === 1) {
    const only = seg(parts[0]!);
    return (text) => {
      const t = foldCase ? text.toLowerCase() : text;
      return t.length === only.chars.length && matchesAt(only, t, 0);
    };
  }
  const head = seg(parts[0]!);
  const tail = seg(parts[parts.length - 1]!);
  const middle = parts.slice(1, -1).filter((p) => p.length > 0).map(seg);
  const minLength = head.chars.length + tail.chars.length + middle.reduce((n, s) => n + s.chars.length, 0);
  return (text) => {
    if (text.length < minLength) return false;
    const t = foldCase ? text.toLowerCase() : text;
    if (!matchesAt(head, t, 0)) return false;
    const tailAt = t.length - tail.chars.length;
    if (!matchesAt(tail, t, tailAt)) return false;
    let pos = head.chars.length;
    for (const seg of middle) {
      const at = find(seg, t, pos);
      if (at < 0 || at + seg.chars.length > tailAt) return false;
      pos = at + seg.chars.length;
    }
    return true;
  };
}
