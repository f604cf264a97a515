/**
 * Reading a request body into memory with a bound, for every HTTP front of Berth (the AWS API,
 * the operator routes, the console, the registry's manifests). A declared or actual size above
 * the limit rejects with `BodyTooLargeError` at once, without reading the rest (answer, then
 * close the connection); a client that goes away mid-body rejects with `BodyAbortedError`.
 * Kernel module: anything may import it.
 */
import type { IncomingMessage } from 'node:http';

/** The body was larger than the limit (nothing more of it is read). */
export class BodyTooLargeError extends Error {}

/** The client went away while sending the body. */
export class BodyAbortedError extends Error {}

/** Reads a request body of at most `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      reject(new BodyTooLargeError());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', () => reject(new BodyAbortedError()));
    req.once('aborted', () => reject(new BodyAbortedError()));
  });
}
