/**
 * How the gateway (./gateway.ts) renders answers: the HTTP reply shape, the awsJson content type
 * of a service, CBOR's scalar encoding, error answers in each wire protocol's shape, and the
 * mapping of any failure onto the `ServiceError` it is answered with.
 */
import { ServiceError, contentionError } from '../errors.js';
import { commonErrors } from '../protocol/errors.js';
import { CBOR_CONTENT, CBOR_PROTOCOL_HEADER, CBOR_PROTOCOL_VALUE, cborTimestamp, encodeCborBody } from '../protocol/cbor.js';
import { encodeEc2Error, encodeQueryError, encodeRestXmlError } from '../protocol/awsQuery.js';
import type { ScalarEncoding } from '../protocol/model.js';
import type { ServiceDefinition } from '../services/types.js';
import { ConflictError } from '../store/types.js';
import type { ErrorShape } from './unserved.js';

/** A fully formed HTTP answer. */
export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
  /** The error code of a refused request (for the request log). */
  errorCode?: string;
}

/** The awsJson content type when no service's model says which. */
const JSON_CONTENT = 'application/x-amz-json-1.1';

/** The awsJson content type of a service's answers: its model's JSON version (1.0 or 1.1). */
export function jsonContentOf(service: ServiceDefinition | undefined): string {
  return `application/x-amz-json-${service?.model.metadata.jsonVersion ?? '1.1'}`;
}

/** CBOR's scalars: timestamps as tag 1 over epoch seconds, blobs as byte strings. */
export const CBOR_SCALARS: ScalarEncoding = { timestamp: cborTimestamp, blob: (b) => b };

/**
 * The `ServiceError` a failure is answered with: its own, the contention error for a raw store
 * conflict, else (reported to `onInternalError`) the generic internal error.
 */
export function asServiceError(e: unknown, onInternalError: (err: unknown) => void): ServiceError {
  if (e instanceof ServiceError) return e;
  // A raw store conflict that escaped the domain's retries: nothing of that commit was written.
  if (e instanceof ConflictError) return contentionError('The resource');
  onInternalError(e);
  return commonErrors.internal();
}


/** The error answer in the wire shape `shape` (awsQuery, EC2 or REST XML; awsJson, CBOR or REST JSON), with its error code for the request log. */
export function errorReply(err: ServiceError, shape: ErrorShape, requestId: string, service: ServiceDefinition | undefined): HttpReply {
  const xml = (body: string): HttpReply => ({ status: err.status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body, errorCode: err.code });
  switch (shape) {
    case 'query':
      return xml(encodeQueryError(err, requestId, service?.model.metadata.xmlNamespace));
    case 'ec2':
      return xml(encodeEc2Error(err, requestId));
    case 'rest-xml':
      return { ...xml(encodeRestXmlError(err, requestId)), headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId } };
    default: {
      // A service that was awsQuery first (CloudWatch) names the error by its shape on JSON
      // and CBOR, and sends the query code in x-amzn-query-error, which clients then report.
      const queryCompatible = service?.model.metadata.awsQueryCompatible !== undefined && (shape === 'json' || shape === 'cbor');
      const type = queryCompatible ? (service!.model.errorShapeOfCode(err.code) ?? err.code) : err.code;
      const body: Record<string, unknown> = { __type: type, message: err.message, ...err.extra };
      const headers: Record<string, string> = { 'x-amzn-requestid': requestId, 'x-amzn-errortype': type };
      if (queryCompatible) headers['x-amzn-query-error'] = `${err.code};${err.status >= 500 ? 'Receiver' : 'Sender'}`;
      if (shape === 'cbor') {
        return { errorCode: err.code, status: err.status, headers: { ...headers, 'content-type': CBOR_CONTENT, [CBOR_PROTOCOL_HEADER]: CBOR_PROTOCOL_VALUE }, body: encodeCborBody(body) };
      }
      return {
        errorCode: err.code,
        status: err.status,
        headers: { ...headers, 'content-type': shape === 'rest-json' ? 'application/json' : shape === 'json' ? jsonContentOf(service) : JSON_CONTENT },
        body: JSON.stringify(body),
      };
    }
  }
}

/** The message of an error answer, read back from its body (JSON `message`, XML `<Message>`), for the audit record. */
export function errorMessageOf(reply: HttpReply): string | undefined {
  if (typeof reply.body !== 'string') return undefined;
  const m = /"message"\s*:\s*"((?:[^"\\]|\\.){0,1024})"/.exec(reply.body) ?? /<Message>([^<]{0,1024})<\/Message>/.exec(reply.body);
  return m?.[1];
}
