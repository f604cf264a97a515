#!/usr/bin/env node
// Lays out the build contexts of this example's images under a folder (default ./.contexts,
// or the first argument), with nothing from the internet: each context holds a root file
// system of this machine's Debian binaries and every shared library they load (at the same
// paths, the dynamic loader included), plus the Dockerfile that turns it into an image FROM
// scratch. compose.yaml's `build:` entries name these folders (CONTEXTS).
//   postgres/  PostgreSQL's postgres, initdb, pg_isready (apt: postgresql), its share files, tzdata,
//              and busybox (apt: busybox-static) as /bin/sh for initdb
//   redis/     redis-server and redis-cli (apt: redis-server)
//   app/       node, the app's scripts and the `pg` package with its dependencies
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, '.contexts'));

/** The newest PostgreSQL major version installed by Debian's packages. */
function postgresRoot() {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  if (!versions.length) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  return { version: versions[0], lib: join(base, versions[0]), share: `/usr/share/postgresql/${versions[0]}` };
}

/** Which program: its absolute path, or an error naming the package. */
function which(program, pkg) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, program);
    if (existsSync(p)) return realpathSync(p);
  }
  throw new Error(`${program} is not installed (apt-get install ${pkg})`);
}

/** Copies a file into rootfs at the same path (following links). */
function place(rootfs, file, at = file) {
  mkdirSync(join(rootfs, dirname(at)), { recursive: true });
  copyFileSync(realpathSync(file), join(rootfs, at));
}

/** Every shared library a binary loads (ldd), the dynamic loader included. */
function librariesOf(binary) {
  const text = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs = [];
  for (const line of text.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

function withLibraries(rootfs, binaries) {
  const libs = new Set();
  for (const b of binaries) for (const l of librariesOf(b)) libs.add(l);
  for (const l of libs) place(rootfs, l);
}

function context(name) {
  const dir = join(out, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'rootfs', 'etc'), { recursive: true });
  copyFileSync(join(here, `${name}.Dockerfile`), join(dir, `${name}.Dockerfile`));
  return join(dir, 'rootfs');
}

function passwd(rootfs, user, id) {
  writeFileSync(join(rootfs, 'etc', 'passwd'), `root:x:0:0:root:/:/nonexistent\n${user}:x:${id}:${id}:${user}:/:/nonexistent\n`);
  writeFileSync(join(rootfs, 'etc', 'group'), `root:x:0:\n${user}:x:${id}:\n`);
}

// PostgreSQL.
{
  const pg = postgresRoot();
  const rootfs = context('postgres');
  const bins = ['postgres', 'initdb', 'pg_isready'].map((b) => join(pg.lib, 'bin', b));
  const mods = ['plpgsql.so', 'dict_snowball.so'].map((m) => join(pg.lib, 'lib', m));
  for (const f of [...bins, ...mods]) place(rootfs, f);
  withLibraries(rootfs, [...bins, ...mods]);
  cpSync(pg.share, join(rootfs, pg.share), { recursive: true, dereference: true });
  cpSync('/usr/share/zoneinfo', join(rootfs, 'usr/share/zoneinfo'), { recursive: true, dereference: true });
  // initdb runs `postgres -V` and the bootstrap through popen, which needs /bin/sh: busybox's.
  place(rootfs, which('busybox', 'busybox-static'), '/bin/sh');
  passwd(rootfs, 'postgres', 999);
  copyFileSync(join(here, 'pg_hba.conf'), join(out, 'postgres', 'pg_hba.conf'));
  writeFileSync(join(out, 'postgres', 'version'), pg.version);
}

// Redis.
{
  const rootfs = context('redis');
  const bins = [which('redis-server', 'redis-server'), which('redis-cli', 'redis-tools')];
  place(rootfs, bins[0], '/usr/bin/redis-server');
  place(rootfs, bins[1], '/usr/bin/redis-cli');
  withLibraries(rootfs, bins);
  passwd(rootfs, 'redis', 999);
}

// The app: node, the scripts, and `pg` with its dependencies.
{
  const rootfs = context('app');
  const node = realpathSync(process.execPath);
  place(rootfs, node, '/usr/local/bin/node');
  withLibraries(rootfs, [node]);
  passwd(rootfs, 'app', 10001);
  const app = join(out, 'app', 'app');
  mkdirSync(app, { recursive: true });
  for (const f of readdirSync(join(here, 'app'))) copyFileSync(join(here, 'app', f), join(app, f));
  const require = createRequire(join(here, 'app', 'api.mjs'));
  const seen = new Set();
  const visit = (name, from) => {
    if (seen.has(name)) return;
    let pkgJson;
    try {
      // The package's folder: up from its entry point to the package.json naming it.
      let dir = dirname(createRequire(from).resolve(name));
      while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== name) {
        if (dirname(dir) === dir) return;
        dir = dirname(dir);
      }
      pkgJson = join(dir, 'package.json');
    } catch {
      return; // an optional dependency that is not installed (pg-cloudflare)
    }
    seen.add(name);
    const pkgDir = dirname(pkgJson);
    cpSync(pkgDir, join(app, 'node_modules', name), { recursive: true, dereference: true, filter: (src) => !/\/(test|tests|docs?|\.github)(\/|$)/.test(src.slice(pkgDir.length)) });
    const meta = JSON.parse(readFileSync(pkgJson, 'utf8'));
    for (const dep of Object.keys(meta.dependencies ?? {})) visit(dep, pkgJson);
  };
  visit('pg', require.resolve('pg'));
  console.log(`app: node ${process.version}, packages ${[...seen].sort().join(' ')}`);
}
console.log(`build contexts in ${out}`);
