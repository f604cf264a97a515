/**
 * The one error type of Berth's APIs: an AWS error code, a message a person can act on, and
 * the HTTP status. The domain and the API handlers throw it; the gateway renders it once, in
 * the wire shape of the service that was called (awsJson `__type`, awsQuery `<ErrorResponse>`),
 * so nothing below the gateway thinks about HTTP. `sender` marks client faults (4xx, `Sender`
 * in query errors).
 */
export class ServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** Extra members some errors carry (e.g. logs' `expectedSequenceToken`). */
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = code;
  }
  get sender(): boolean {
    return this.status < 500;
  }
}

/**
 * A write that lost optimistic-concurrency races more often than the domain retries it
 * (`MAX_ATTEMPTS` in src/domain/mutate.ts): nothing of it was applied, and the caller may simply
 * try again. One error for every such path, whichever record it was.
 */
export function contentionError(what: string): ServiceError {
  return new ServiceError('ConcurrentModificationException', `${what} was modified by other requests at the same time; nothing was changed: retry the request.`, 409);
}
