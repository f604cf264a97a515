/**
 * awsQuery calls (ELBv2, STS) for Berth's own clients, signed like any other client's: the
 * parameters go form-encoded in a POST body, the answer is XML. The XML is read into a small
 * element tree (`XmlElement`) that callers walk by tag name; the query protocol's lists are
 * `<member>` children, so nothing here needs the API model.
 */
import { signRequest } from '../protocol/sigv4.js';
import { AwsApiError, post, type ClientConfig } from './awsClient.js';

/** One XML element: its tag (namespace prefix dropped), its text and its child elements. */
export class XmlElement {
  constructor(
    readonly name: string,
    readonly children: XmlElement[] = [],
    public text = '',
  ) {}

  /** The first child element named `name`. */
  child(name: string): XmlElement | undefined {
    return this.children.find((c) => c.name === name);
  }

  /** The child elements named `name` (e.g. the `member`s of a list). */
  all(name: string): XmlElement[] {
    return this.children.filter((c) => c.name === name);
  }

  /** The text of the element reached through `path` (child names), or undefined when absent. */
  textAt(...path: string[]): string | undefined {
    let e: XmlElement | undefined = this;
    for (const p of path) e = e?.child(p);
    return e?.text;
  }

  /** The `member` items of the list element reached through `path` (empty when absent). */
  members(...path: string[]): XmlElement[] {
    let e: XmlElement | undefined = this;
    for (const p of path) e = e?.child(p);
    return e?.all('member') ?? [];
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (whole, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? whole;
  });
}

/**
 * Parses the XML documents AWS query services answer with (elements, text, entities; no DTDs,
 * attributes ignored). Throws on a document whose tags do not nest.
 */
export function parseXml(xml: string): XmlElement {
  const root = new XmlElement('#document');
  const stack: XmlElement[] = [root];
  const token = /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>|<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>|([^<]+)/g;
  for (let m = token.exec(xml); m; m = token.exec(xml)) {
    const top = stack[stack.length - 1]!;
    if (m[1] !== undefined) top.text += m[1];
    else if (m[5] !== undefined) top.text += decodeEntities(m[5]);
    else if (m[3] !== undefined) {
      const name = m[3].includes(':') ? m[3].split(':').pop()! : m[3];
      if (m[2] === '/') {
        if (top.name !== name || stack.length === 1) throw new Error(`malformed XML: </${name}> closes <${top.name}>`);
        stack.pop();
      } else {
        const el = new XmlElement(name);
        top.children.push(el);
        if (m[4] !== '/') stack.push(el);
      }
    }
  }
  if (stack.length !== 1) throw new Error(`malformed XML: <${stack[stack.length - 1]!.name}> is never closed`);
  return root;
}

/** A query parameter value: a scalar, or a list of scalars (sent as `Name.member.N`). */
export type QueryValue = string | number | boolean | undefined | ReadonlyArray<string | number>;

/** Encodes parameters as the query protocol sends them. */
export function queryBody(action: string, version: string, params: Record<string, QueryValue>): string {
  const form = new URLSearchParams({ Action: action, Version: version });
  for (const [name, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) v.forEach((item, i) => form.append(`${name}.member.${i + 1}`, String(item)));
    else form.append(name, String(v));
  }
  return form.toString();
}

/** API versions and signing names of the query services Berth's own clients call. */
export const QUERY_SERVICES = {
  elbv2: { signingName: 'elasticloadbalancing', version: '2015-12-01' },
  sts: { signingName: 'sts', version: '2011-06-15' },
} as const;

/**
 * Calls one awsQuery operation and resolves with its `<Action>Result` element (an empty element
 * when the answer has none). Throws AwsApiError with the answer's error code and message, or a
 * network error as `callJson` does.
 */
export async function callQuery(
  cfg: ClientConfig,
  service: keyof typeof QUERY_SERVICES,
  action: string,
  params: Record<string, QueryValue> = {},
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<XmlElement> {
  const s = QUERY_SERVICES[service];
  const url = new URL(cfg.endpoint.endsWith('/') ? cfg.endpoint : `${cfg.endpoint}/`);
  const body = queryBody(action, s.version, params);
  const headers = signRequest({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
    accessKeyId: cfg.accessKeyId,
    secretAccessKey: cfg.secretAccessKey,
    region: cfg.region,
    service: s.signingName,
  });
  delete headers.host;
  const { status, text } = await post(url, headers, body, opts.timeoutMs ?? cfg.timeoutMs ?? 30_000, cfg.endpoint, opts.signal);
  let doc: XmlElement;
  try {
    doc = parseXml(text);
  } catch {
    throw new AwsApiError('InvalidResponse', `non-XML answer (${status}) from ${cfg.endpoint}`, status);
  }
  const top = doc.children[0];
  if (status < 200 || status > 299) {
    const error = top?.child('Error');
    throw new AwsApiError(error?.textAt('Code') ?? 'UnknownError', error?.textAt('Message') ?? '', status);
  }
  return top?.child(`${action}Result`) ?? new XmlElement(`${action}Result`);
}
