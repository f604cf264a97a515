/**
 * Smithy RPC v2 CBOR (`smithy-protocol: rpc-v2-cbor`), the wire format CloudWatch's current
 * model lists first: requests are `POST /service/<ServiceName>/operation/<Operation>` with a
 * CBOR body (RFC 8949); answers and errors are CBOR maps, an error's type in `__type`.
 *
 * Only the bytes live here (cbor2 does the coding): `decodeCborBody` turns a body into plain
 * values for the model walk (`ServiceModel.decodeInput(..., 'cbor')`), `encodeCborBody` turns
 * the model's encoded output back into bytes. Decoding is bounded: the body is already capped
 * by the gateway, nesting by `MAX_DEPTH`, and any malformed input is a SerializationException.
 */
import { decode, encode, Tag } from 'cbor2';
import { ServiceError } from '../errors.js';

/** The header and content type that name the protocol. */
export const CBOR_PROTOCOL_HEADER = 'smithy-protocol';
export const CBOR_PROTOCOL_VALUE = 'rpc-v2-cbor';
export const CBOR_CONTENT = 'application/cbor';

/** Deepest nesting of maps and arrays accepted in a request (AWS's own models nest far less). */
export const MAX_DEPTH = 32;

/** The path of an RPC v2 request: `/service/<ServiceName>/operation/<Operation>`, its two names. */
export function parseCborPath(url: string): { service: string; operation: string } | undefined {
  const m = /^\/service\/([A-Za-z0-9_.-]{1,128})\/operation\/([A-Za-z0-9_]{1,128})(?:\?.*)?$/.exec(url);
  return m ? { service: m[1]!, operation: m[2]! } : undefined;
}

/**
 * Decodes a request body: a CBOR map (an empty body is an empty input). Timestamps arrive as
 * tag 1 (epoch seconds, here a Date), blobs as byte strings. Throws SerializationException on
 * anything malformed, too deep, or not a map at the top.
 */
export function decodeCborBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let v: unknown;
  try {
    v = decode(new Uint8Array(body.buffer, body.byteOffset, body.length), { maxDepth: MAX_DEPTH, rejectDuplicateKeys: true });
  } catch (e) {
    throw new ServiceError('SerializationException', `The request body is not valid CBOR: ${(e instanceof Error ? e.message : String(e)).slice(0, 200)}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array || v instanceof Date || v instanceof Map) {
    throw new ServiceError('SerializationException', 'Start of structure or map expected: the request body must be a CBOR map.');
  }
  return v as Record<string, unknown>;
}

/** A timestamp as CBOR sends it: tag 1 over epoch seconds (fractional to the millisecond). */
export function cborTimestamp(d: Date): unknown {
  return new Tag(1, d.getTime() / 1000);
}

/** Encodes an answer or error body (values already shaped by the model; see `cborTimestamp`). */
export function encodeCborBody(v: unknown): Buffer {
  const bytes = encode(v ?? {});
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
