/**
 * The lexer of CloudWatch Logs Insights queries (./insights.ts parses the tokens): identifiers,
 * numbers, strings, `/regex/` literals (where a regex can start), operators and `|`.
 */
/** A malformed query; the message says where. */
export class QuerySyntaxError extends Error {}

/** A token of a query, with its offset for messages. */
export type Tok = { t: 'id' | 'num' | 'str' | 're' | 'op' | 'pipe'; v: string; pos: number };

/** Words that are operators, not field names. */
export const KEYWORDS = new Set(['and', 'or', 'not', 'like', 'in', 'as', 'by', 'asc', 'desc']);

/** The tokens of a query; QuerySyntaxError for an unterminated string, field or regex, or a character no token starts with. */
export function tokenize(q: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const regexAllowed = () => {
    const p = out[out.length - 1];
    return !p || p.t === 'pipe' || (p.t === 'op' && p.v !== ')' && p.v !== ']') || (p.t === 'id' && (p.v === 'like' || p.v === 'and' || p.v === 'or' || p.v === 'not' || p.v === 'filter' || isParseField(out)));
  };
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < q.length && q[i] !== '\n') i++;
      continue;
    }
    const start = i;
    if (c === '|') {
      out.push({ t: 'pipe', v: '|', pos: i++ });
    } else if (c === '"' || c === "'") {
      let s = '';
      i++;
      while (i < q.length && q[i] !== c) {
        if (q[i] === '\\' && i + 1 < q.length) i++;
        s += q[i++];
      }
      if (i >= q.length) throw new QuerySyntaxError(`unterminated string starting at character ${start + 1}`);
      i++;
      out.push({ t: 'str', v: s, pos: start });
    } else if (c === '`') {
      const end = q.indexOf('`', i + 1);
      if (end < 0) throw new QuerySyntaxError(`unterminated \`field\` starting at character ${start + 1}`);
      out.push({ t: 'id', v: q.slice(i + 1, end), pos: start });
      i = end + 1;
    } else if (c === '/' && regexAllowed()) {
      let s = '';
      i++;
      while (i < q.length && q[i] !== '/') {
        if (q[i] === '\\' && q[i + 1] === '/') {
          s += '/';
          i += 2;
          continue;
        }
        if (q[i] === '\\' && i + 1 < q.length) s += q[i++];
        s += q[i++];
      }
      if (i >= q.length) throw new QuerySyntaxError(`unterminated /regex/ starting at character ${start + 1}`);
      i++;
      let flags = '';
      while (q[i] === 'i') flags += q[i++];
      out.push({ t: 're', v: flags ? `(?i)${s}` : s, pos: start });
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(q[i + 1] ?? ''))) {
      const m = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[a-z]*/.exec(q.slice(i))!;
      out.push({ t: 'num', v: m[0], pos: start });
      i += m[0].length;
    } else if (/[A-Za-z_@$]/.test(c)) {
      const m = /^[A-Za-z_@$][A-Za-z0-9_@$.\-]*/.exec(q.slice(i))!;
      let v = m[0];
      // `a-b` reads as a name only when no spaces separate it; a trailing `-`/`.` is not part of it.
      v = v.replace(/[.\-]+$/, '');
      out.push({ t: 'id', v, pos: start });
      i += v.length;
    } else {
      const two = q.slice(i, i + 2);
      if (['!=', '<=', '>=', '=~'].includes(two)) {
        out.push({ t: 'op', v: two, pos: i });
        i += 2;
      } else if ('()[],=<>+-*/%'.includes(c)) {
        out.push({ t: 'op', v: c, pos: i++ });
      } else {
        throw new QuerySyntaxError(`unexpected character '${c}' at character ${i + 1}`);
      }
    }
  }
  return out;
}

/** Whether the tokens end with `parse <field>` (a regex may follow). */
function isParseField(out: Tok[]): boolean {
  const a = out[out.length - 2];
  return !!a && a.t === 'id' && a.v === 'parse' && (out.length === 2 || out[out.length - 3]?.t === 'pipe');
}

