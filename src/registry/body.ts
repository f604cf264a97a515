/**
 * Request and response bodies of the registry front: a bounded read for manifests (the only
 * bodies read into memory, at most 4 MiB), whether a request carries a body at all, and a
 * download pipe that gives up on a reader that stops reading. Blob bodies are never read here:
 * they stream from the request into the blob store (src/domain/ecr/uploads.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export { BodyTooLargeError as TooLarge, BodyAbortedError as BodyAborted } from '../httpBody.js';
import { readBody } from '../httpBody.js';

/** Whether the request says it has a body (a non-zero Content-Length, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const n = Number(req.headers['content-length'] ?? '0');
  return Number.isFinite(n) && n > 0;
}

/** Reads a body of at most `limit` bytes; a larger one (declared or sent) is TooLarge at once. */
export const readBounded: (req: IncomingMessage, limit: number) => Promise<Buffer> = readBody;

/**
 * Streams `src` to the response with backpressure (memory stays flat whatever the size), and
 * ends it if no byte moved for `idleMs` (a client that stopped reading holds nothing for long).
 */
export async function streamOut(src: Readable, res: ServerResponse, idleMs: number): Promise<void> {
  let last = Date.now();
  src.on('data', () => (last = Date.now()));
  const watch = setInterval(() => {
    if (Date.now() - last > idleMs) {
      src.destroy(new Error('the client stopped reading'));
      res.destroy();
    }
  }, Math.max(50, Math.min(idleMs / 4, 5000)));
  watch.unref();
  try {
    await pipeline(src, res);
  } catch {
    // The client went away or stalled: the response is already broken off; nothing to answer.
  } finally {
    clearInterval(watch);
  }
}
