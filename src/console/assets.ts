/**
 * The console's built web assets (dist/console/, written by scripts/build-console.mjs at build
 * time, with their brotli (.br) and gzip (.gz) forms precompressed beside them): read once at
 * start, served with an ETag and, as their names carry a content hash, cached for a year
 * (immutable). A file built without its compressed forms is compressed once when read. Nothing
 * is fetched or built at run time.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync, constants as zlib } from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** One asset, in its three encodings. */
interface Asset {
  type: string;
  etag: string;
  identity: Buffer;
  gzip: Buffer;
  br: Buffer;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.html': 'text/html; charset=utf-8' };

/** The body in the best encoding the client accepts, with its Content-Encoding (none for identity). */
export function encodingFor(req: IncomingMessage, a: { identity: Buffer; gzip: Buffer; br: Buffer }): { body: Buffer; encoding?: string } {
  const accept = String(req.headers['accept-encoding'] ?? '');
  if (/\bbr\b/.test(accept)) return { body: a.br, encoding: 'br' };
  if (/\bgzip\b/.test(accept)) return { body: a.gzip, encoding: 'gzip' };
  return { body: a.identity };
}

/** Compresses a body both ways, at the highest settings (an asset built without its precompressed forms). */
export function compressBoth(identity: Buffer): { identity: Buffer; gzip: Buffer; br: Buffer } {
  return { identity, gzip: gzipSync(identity, { level: 9 }), br: brotliCompressSync(identity, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }) };
}

/** The built bundle: the entry script and style names, and every file by name. */
export class ConsoleAssets {
  private readonly files = new Map<string, Asset>();
  /** The entry script's file name (with its hash), or undefined when the bundle was not built. */
  readonly script: string | undefined;
  /** The style sheet's file name (with its hash). */
  readonly style: string | undefined;
  /** The chunks the entry script imports (preloaded beside it). */
  readonly preload: string[] = [];

  constructor(dir: string) {
    const manifestPath = join(dir, 'manifest.json');
    if (!existsSync(manifestPath)) {
      this.script = this.style = undefined;
      return;
    }
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { script: string; style?: string; preload?: string[] };
    this.script = manifest.script;
    this.style = manifest.style;
    this.preload = manifest.preload ?? [];
    for (const name of readdirSync(dir)) {
      const ext = name.slice(name.lastIndexOf('.'));
      const type = TYPES[ext];
      if (!type || name === 'manifest.json') continue;
      const identity = readFileSync(join(dir, name));
      const pre = (suffix: string) => (existsSync(join(dir, name + suffix)) ? readFileSync(join(dir, name + suffix)) : undefined);
      const br = pre('.br');
      const gzip = pre('.gz');
      const encoded = br && gzip ? { identity, br, gzip } : compressBoth(identity);
      this.files.set(name, { type, etag: `"${createHash('sha256').update(identity).digest('base64url').slice(0, 22)}"`, ...encoded });
    }
  }

  /** Whether the bundle is there (`npm run build` writes it). */
  get built(): boolean {
    return this.script !== undefined;
  }

  /** Serves `/console/assets/<name>`; false when there is no such file. */
  serve(req: IncomingMessage, res: ServerResponse, name: string): boolean {
    const a = this.files.get(name);
    if (!a) return false;
    const headers: Record<string, string> = { 'content-type': a.type, etag: a.etag, 'cache-control': 'public, max-age=31536000, immutable', vary: 'accept-encoding', 'x-content-type-options': 'nosniff' };
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const { body, encoding } = encodingFor(req, a);
    res.writeHead(200, { ...headers, ...(encoding ? { 'content-encoding': encoding } : {}), 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}
