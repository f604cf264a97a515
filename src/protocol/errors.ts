import { ServiceError } from '../errors.js';

/**
 * Which wire protocol a request arrived on; several errors are spelled differently per protocol.
 * `ec2` is EC2's own query dialect (its list encoding, responses and `<Response><Errors>` errors).
 */
export type WireProtocol = 'json' | 'cbor' | 'query' | 'ec2';

/** Whether a protocol names errors the JSON way (`...Exception`): awsJson and Smithy RPC v2 CBOR. */
export function jsonFamily(p: WireProtocol): boolean {
  return p === 'json' || p === 'cbor';
}

/**
 * Errors that belong to the protocol and authentication layers rather than to a service.
 * Each takes the protocol because AWS spells the same condition differently on JSON and query
 * services (`UnrecognizedClientException` vs `InvalidClientTokenId`).
 */
export const commonErrors = {
  missingAuthentication: (p: WireProtocol) =>
    jsonFamily(p)
      ? new ServiceError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403)
      : new ServiceError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403),
  unknownAccessKey: (p: WireProtocol) =>
    jsonFamily(p)
      ? new ServiceError('UnrecognizedClientException', 'The security token included in the request is invalid.', 403)
      : new ServiceError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403),
  badSignature: (p: WireProtocol, detail?: string) =>
    new ServiceError(
      jsonFamily(p) ? 'InvalidSignatureException' : 'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.' +
        (detail ? ` ${detail}` : ''),
      403,
    ),
  signatureExpired: (p: WireProtocol, detail: string) =>
    new ServiceError(jsonFamily(p) ? 'InvalidSignatureException' : 'SignatureDoesNotMatch', `Signature expired: ${detail}`, 403),
  incompleteSignature: (p: WireProtocol, detail: string) =>
    new ServiceError(jsonFamily(p) ? 'IncompleteSignatureException' : 'IncompleteSignature', detail, 403),
  unknownOperation: (p: WireProtocol, name: string) =>
    jsonFamily(p)
      ? new ServiceError('UnknownOperationException', `Unknown operation ${name}`)
      : new ServiceError('InvalidAction', `Could not find operation ${name} for version of this service.`),
  /** An operation of an AWS API Berth serves in part (EC2), that Berth does not provide. */
  unservedOperation: (service: string, op: string, served: string) =>
    new ServiceError('UnsupportedOperation', `Berth does not provide ${service} ${op.slice(0, 100)}; of ${service} it serves ${served}.`, 501),
  notImplemented: (service: string, op: string) =>
    new ServiceError('NotImplementedException', `Berth does not implement ${service} ${op} yet.`, 501),
  serialization: (message: string) => new ServiceError('SerializationException', message),
  malformedQuery: (message: string) => new ServiceError('MalformedQueryString', message),
  tooLarge: (limit: number) =>
    new ServiceError('RequestEntityTooLargeException', `Request body is larger than the ${limit} bytes this endpoint accepts.`, 413),
  unsupportedMediaType: (type: string) =>
    new ServiceError('UnsupportedMediaTypeException', `Content type ${JSON.stringify(type)} is not supported by this endpoint.`, 415),
  internal: () => new ServiceError('InternalFailure', 'The request processing has failed because of an unknown error.', 500),
};
