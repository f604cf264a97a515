/**
 * A build context as the tar archive the Docker Engine's `/build` endpoint reads: a directory's
 * regular files, directories and symbolic links (ustar, names up to 255 bytes through the prefix
 * field), plus extra files (a Dockerfile from outside the context, or an inline one). Bounded in
 * size and entries; anything else in the tree (sockets, devices) is skipped; `.dockerignore`
 * patterns leave paths out.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ComposeError } from './interpolate.js';
import { hasExceptions, isExcluded, type parseDockerignore } from './dockerignore.js';

type IgnorePatterns = ReturnType<typeof parseDockerignore>;

/** The largest context sent to the engine (bytes, archive included). */
export const MAX_CONTEXT_BYTES = 1024 * 1024 * 1024;
/** The most entries a context may have. */
export const MAX_CONTEXT_ENTRIES = 200_000;

interface Entry {
  name: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  data?: Buffer;
  link?: string;
  mtime: number;
}

/** Splits a name into ustar's prefix (≤155) and name (≤100) fields at a slash. */
function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const base = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100) return { prefix, base };
  }
  throw new ComposeError(`build context: the path ${name} is too long for the archive (at most 255 bytes, no part over 100)`);
}

function header(e: Entry): Buffer {
  const h = Buffer.alloc(512);
  const { prefix, base } = splitName(e.name);
  const octal = (v: number, width: number) => v.toString(8).padStart(width - 1, '0') + '\0';
  h.write(base, 0, 100, 'utf8');
  h.write(octal(e.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(e.data?.length ?? 0, 12), 124, 'ascii');
  h.write(octal(Math.max(0, Math.floor(e.mtime / 1000)), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2', 156, 'ascii');
  if (e.link) {
    if (Buffer.byteLength(e.link) > 100) throw new ComposeError(`build context: the link target of ${e.name} is longer than 100 bytes`);
    h.write(e.link, 157, 100, 'utf8');
  }
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/**
 * The archive of `dir` (its contents at the archive's root) with `extra` files added at its root,
 * leaving out what `ignore` (a parsed `.dockerignore`, see dockerignore.ts) excludes. An excluded
 * directory is not walked unless the patterns have exceptions (which may take files inside back).
 */
export function tarDirectory(dir: string, extra: Array<{ name: string; data: Buffer }> = [], ignore: IgnorePatterns = []): Buffer {
  const walkExcluded = hasExceptions(ignore);
  const entries: Entry[] = [];
  let bytes = 0;
  const add = (e: Entry) => {
    entries.push(e);
    bytes += 512 + Math.ceil((e.data?.length ?? 0) / 512) * 512;
    if (entries.length > MAX_CONTEXT_ENTRIES) throw new ComposeError(`build context ${dir}: more than ${MAX_CONTEXT_ENTRIES} files`);
    if (bytes > MAX_CONTEXT_BYTES) throw new ComposeError(`build context ${dir}: larger than ${MAX_CONTEXT_BYTES} bytes`);
  };
  const walk = (abs: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(abs).sort();
    } catch (e) {
      throw new ComposeError(`build context ${dir}: cannot read ${abs}: ${(e as Error).message}`);
    }
    for (const n of names) {
      const p = join(abs, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(p);
      const excluded = ignore.length > 0 && isExcluded(ignore, r);
      if (st.isDirectory()) {
        if (!excluded) add({ name: `${r}/`, type: 'dir', mode: st.mode, mtime: st.mtimeMs });
        if (!excluded || walkExcluded) walk(p, r);
      } else if (excluded) continue;
      else if (st.isFile()) add({ name: r, type: 'file', mode: st.mode, data: readFileSync(p), mtime: st.mtimeMs });
      else if (st.isSymbolicLink()) add({ name: r, type: 'symlink', mode: st.mode, link: readlinkSync(p), mtime: st.mtimeMs });
    }
  };
  walk(dir, '');
  for (const x of extra) add({ name: x.name, type: 'file', mode: 0o644, data: x.data, mtime: Date.now() });
  const blocks: Buffer[] = [];
  for (const e of entries) {
    blocks.push(header(e));
    if (e.data?.length) blocks.push(e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
