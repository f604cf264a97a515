/**
 * The HTTP front of CloudFormation's presigned signal URLs (src/domain/cloudformation/signals.ts):
 * `PUT /_berth/cloudformation/wait/...` takes cfn-signal's JSON for a WaitConditionHandle,
 * `PUT /_berth/cloudformation/response/...` a custom resource's response. The URL's signature is
 * the only credential (as with an S3 presigned URL): checked in constant time before the body is
 * read; the body is read up to 4 KB; the signal is stored durably before the 200. Refusals are
 * S3-shaped XML errors (what curl, cfn-signal and cfn-response see from AWS).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import { BodyTooLargeError, readBody } from '../httpBody.js';
import type { Platform } from '../domain/platform.js';
import { MAX_SIGNAL_BYTES, SIGNAL_PATH, recordCustomResponse, recordWaitSignal, signalErrors, verifyPresigned, type UrlSigner } from '../domain/cloudformation/signals.js';
import type { OperatorRoute } from './http.js';

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

function sendError(res: ServerResponse, e: ServiceError): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(e.code)}</Code><Message>${escapeXml(e.message)}</Message></Error>`;
  res.writeHead(e.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The route serving signal URLs on Berth's listener. */
export function cfnSignalRoute(platform: Platform, signer: UrlSigner, clock: Clock): OperatorRoute {
  return async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (!url.pathname.startsWith(SIGNAL_PATH)) return false;
    try {
      if (req.method !== 'PUT') throw new ServiceError('MethodNotAllowed', 'The specified method is not allowed against this resource: signal with an HTTP PUT.', 405);
      const target = verifyPresigned(signer, url, clock.now());
      let body: Buffer;
      try {
        body = await readBody(req, MAX_SIGNAL_BYTES);
      } catch (e) {
        if (e instanceof BodyTooLargeError) throw signalErrors.tooLarge();
        req.socket.destroy(); // the client went away mid-body
        return true;
      }
      if (target.purpose === 'wait') await recordWaitSignal({ platform }, target, body, clock.now());
      else await recordCustomResponse({ platform }, target, body, clock.now());
      res.writeHead(200, { 'content-length': 0 });
      res.end();
    } catch (e) {
      if (!(e instanceof ServiceError)) throw e;
      // A refused body is not read: the connection closes after the answer.
      if (!req.complete) res.setHeader('connection', 'close');
      sendError(res, e);
      if (!req.complete) res.once('finish', () => req.socket.destroySoon());
    }
    return true;
  };
}
