/**
 * Reading a template body: JSON, or YAML with CloudFormation's short forms (`!Ref X`,
 * `!GetAtt A.B`, `!Sub [...]`...), which become their long forms (`{Ref: X}`,
 * `{'Fn::GetAtt': [A, B]}`). Bounded: body size, nesting depth, YAML aliases. A body that cannot
 * be read is a `ValidationError` saying where (line and column).
 */
import { parseDocument, type ScalarTag, type CollectionTag, type YAMLMap, type YAMLSeq } from 'yaml';
import { cfnErrors } from '../errors.js';

/** The largest template body CloudFormation takes inline (TemplateBody), in bytes. */
export const MAX_TEMPLATE_BODY = 1_048_576;
/** How deep objects and arrays may nest in a template. */
export const MAX_TEMPLATE_DEPTH = 64;

/** The short forms and the long forms they stand for. */
const SHORT_FORMS: Record<string, string> = {
  Ref: 'Ref',
  Condition: 'Condition',
  Base64: 'Fn::Base64',
  Cidr: 'Fn::Cidr',
  FindInMap: 'Fn::FindInMap',
  GetAtt: 'Fn::GetAtt',
  GetAZs: 'Fn::GetAZs',
  ImportValue: 'Fn::ImportValue',
  Join: 'Fn::Join',
  Select: 'Fn::Select',
  Split: 'Fn::Split',
  Sub: 'Fn::Sub',
  Transform: 'Fn::Transform',
  And: 'Fn::And',
  Equals: 'Fn::Equals',
  If: 'Fn::If',
  Not: 'Fn::Not',
  Or: 'Fn::Or',
  Length: 'Fn::Length',
  ToJsonString: 'Fn::ToJsonString',
};

function shortFormTags(): Array<ScalarTag | CollectionTag> {
  const tags: Array<ScalarTag | CollectionTag> = [];
  for (const [short, long] of Object.entries(SHORT_FORMS)) {
    tags.push({
      tag: `!${short}`,
      resolve: (s: string) => {
        if (short === 'GetAtt') {
          const dot = s.indexOf('.');
          return { [long]: dot < 0 ? [s] : [s.slice(0, dot), s.slice(dot + 1)] };
        }
        return { [long]: s };
      },
    } as ScalarTag);
    tags.push({ tag: `!${short}`, collection: 'seq', resolve: (seq: YAMLSeq) => ({ [long]: seq.toJSON() }) } as unknown as CollectionTag);
    tags.push({ tag: `!${short}`, collection: 'map', resolve: (map: YAMLMap) => ({ [long]: map.toJSON() }) } as unknown as CollectionTag);
  }
  return tags;
}
const TAGS = shortFormTags();

/** Line and column (1-based) of a character offset. */
function lineCol(text: string, offset: number): string {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      col = 1;
    } else col++;
  }
  return `line ${line}, column ${col}`;
}

function checkDepth(v: unknown, depth: number): void {
  if (depth > MAX_TEMPLATE_DEPTH) throw cfnErrors.templateFormat(`the template nests objects and lists more than ${MAX_TEMPLATE_DEPTH} deep`);
  if (Array.isArray(v)) for (const x of v) checkDepth(x, depth + 1);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) checkDepth(x, depth + 1);
}

/**
 * Parses a template body (JSON when it starts with `{`, else YAML) into plain values.
 * Throws `ValidationError` for a body too large, unreadable (with its line and column), not a
 * mapping at the top, or nested too deeply.
 */
export function parseTemplateBody(body: string): Record<string, unknown> {
  if (Buffer.byteLength(body) > MAX_TEMPLATE_BODY) throw cfnErrors.validation(`Template may not exceed ${MAX_TEMPLATE_BODY} bytes in size.`);
  const text = body.replace(/^\uFEFF/, '');
  let doc: unknown;
  if (/^\s*\{/.test(text)) {
    try {
      doc = JSON.parse(text);
    } catch (e) {
      const m = /position (\d+)/.exec(String((e as Error).message));
      const where = m ? ` at ${lineCol(text, Number(m[1]))}` : '';
      throw cfnErrors.templateFormat(`JSON not well-formed${where}: ${String((e as Error).message).replace(/ in JSON at position \d+.*$/, '').slice(0, 200)}`);
    }
  } else {
    // Duplicate keys: the last wins, as CloudFormation accepts them (published templates have some).
    const parsed = parseDocument(text, { customTags: TAGS, uniqueKeys: false, prettyErrors: true, strict: false });
    const err = parsed.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      throw cfnErrors.templateFormat(`YAML not well-formed${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}: ${err.message.split('\n')[0]!.slice(0, 200)}`);
    }
    try {
      doc = parsed.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw cfnErrors.templateFormat(`YAML not well-formed: ${String((e as Error).message).slice(0, 200)}`);
    }
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw cfnErrors.templateFormat('the template must be a JSON or YAML mapping (an object at the top level)');
  checkDepth(doc, 0);
  return doc as Record<string, unknown>;
}
