#!/usr/bin/env node
// Runs the README as a new user would, on a fresh clone with nothing beside it (no ../shared):
// the quickstart's server command in the background, then its client commands, checking that
// the example answers through the load balancer (curl -f: HTTP 200), that the rolling update
// took, and that the batch job's logs arrived; then the Docker variant when an engine answers;
// then, in the same clone, the build, the architecture check and the tests that use the shared
// fixtures (they must skip, saying why, when ../shared is absent) — or the README's whole test
// command with --full-tests (CI already runs it once on its own clean clone). Commands are taken from the README's
// `<!-- quickstart:NAME -->` blocks verbatim, so the README cannot drift from what works.
//
// Usage: node scripts/check-quickstart.mjs [--repo DIR] [--skip-tests] [--keep]
//   --repo DIR    the repository to clone (default: this one; its committed HEAD is what runs)
//   --skip-tests  run no tests in the clone
//   --full-tests  run the README's whole test command (`npm test`) in the clone
//   --keep        leave the clone (and its data dirs) for inspection
// Needs git, bash, curl, the aws CLI and npm's registry (for `npm install`). Uses ports 4566,
// 4567, 8080 and 8081, as the README does: run it where those are free.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { repo: { type: 'string' }, 'skip-tests': { type: 'boolean', default: false }, 'full-tests': { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } } });
const repo = resolve(values.repo ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
const root = mkdtempSync(join(tmpdir(), 'berth-quickstart-'));
const clone = join(root, 'berth');
const env = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', CI: process.env.CI ?? '' };

function say(msg) {
  process.stdout.write(`quickstart: ${msg}\n`);
}

function fail(msg, output = '') {
  process.stderr.write(`quickstart: FAILED: ${msg}\n${output ? `${output.slice(-6000)}\n` : ''}`);
  process.exitCode = 1;
  throw new Error(msg);
}

/** The README's `<!-- quickstart:NAME -->` code blocks, by name. */
function quickstartBlocks(readme) {
  const blocks = {};
  for (const m of readme.matchAll(/<!-- quickstart:([a-z-]+) -->\s*```sh\n([\s\S]*?)```/g)) blocks[m[1]] = m[2];
  for (const name of ['server', 'client']) if (!blocks[name]) fail(`the README has no quickstart:${name} block`);
  return blocks;
}

/** Starts a server block in the background; resolves once Berth's agent line shows. */
function startServer(name, script, timeoutMs) {
  const child = spawn('bash', ['-c', script.trim()], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const ready = new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: Berth did not start within ${timeoutMs / 1000} s`)), timeoutMs);
    const check = setInterval(() => {
      if (/agent: \w+ driver, cluster 'default'/.test(output)) {
        clearTimeout(timer);
        clearInterval(check);
        resolveReady();
      }
    }, 200);
    child.once('exit', (code) => {
      clearTimeout(timer);
      clearInterval(check);
      reject(new Error(`${name}: the server command exited (${code})`));
    });
  });
  return {
    ready,
    output: () => output,
    stop: () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        const signal = (sig) => {
          try {
            process.kill(-child.pid, sig);
          } catch {
            /* the group is gone already */
          }
        };
        signal('SIGTERM');
        setTimeout(() => child.exitCode === null && signal('SIGKILL'), 15_000).unref();
      }),
  };
}

/** Runs a client block with bash -e (asynchronously: the server's output keeps flowing meanwhile); resolves with its output. */
function runClient(name, script, extraEnv = {}) {
  return new Promise((done) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: clone, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        try {
          fail(`${name}: the commands failed (exit ${code ?? signal})`, output);
        } catch {
          /* reported; main stops at the check below */
        }
      }
      done({ ok: code === 0, output });
    });
  });
}

/** Waits until `test()` holds, or `ms` pass. */
async function until(test, ms) {
  for (const end = Date.now() + ms; Date.now() < end && !test(); ) await new Promise((r) => setTimeout(r, 100));
  return test();
}

/** Scales every service of the Berth whose credentials `credsCmd` prints to 0 and waits, so no task outlives the check. */
function scaleDown(credsCmd) {
  spawnSync('bash', ['-c', `eval "$(${credsCmd})"; for s in $(aws ecs list-services --query 'serviceArns[]' --output text); do aws ecs update-service --service "$s" --desired-count 0 >/dev/null; done; aws ecs wait services-stable --services web || true`], { cwd: clone, env, encoding: 'utf8', timeout: 5 * 60_000 });
}

/** Kills what a failed run may leave: task processes and supervisors started from the clone. */
function killLeftovers() {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(root)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  spawnSync('bash', ['-c', 'ids=$(docker ps -aq --filter ancestor=berth-examples:latest 2>/dev/null); [ -z "$ids" ] || docker rm -f $ids'], { env, encoding: 'utf8' });
}

async function main() {
  say(`cloning ${repo} into ${clone} (nothing beside it)`);
  const cloned = spawnSync('git', ['clone', '--quiet', repo, clone], { encoding: 'utf8' });
  if (cloned.status !== 0) fail('git clone failed', cloned.stderr);
  const blocks = quickstartBlocks(readFileSync(join(clone, 'README.md'), 'utf8'));

  say(`server: ${blocks.server.trim()}`);
  const server = startServer('server', blocks.server, 15 * 60_000);
  try {
    await server.ready.catch((e) => fail(e.message, server.output()));
    say('client commands');
    const { ok, output: out } = await runClient('client', blocks.client);
    if (!ok) throw new Error('client commands failed');
    for (const expected of ['hello from web v1', 'hola from web v2', 'work item 5 of 5 done', 'worker: all done']) {
      if (!out.includes(expected)) fail(`the output lacks '${expected}'`, out);
    }
    if (!(await until(() => / root ecs\.CreateService 200 /.test(server.output()), 10_000))) fail('the server logged no request line for CreateService', server.output());
    say('process driver: the example answered through the load balancer; rolling update and batch job done');
    scaleDown('npx berth credentials --export');
  } finally {
    await server.stop();
  }

  const dockerUp = spawnSync('docker', ['info'], { encoding: 'utf8' }).status === 0;
  if (!blocks['docker-server'] || !blocks['docker-client']) {
    say('the README has no Docker variant: skipped');
  } else if (!dockerUp) {
    say('Docker variant skipped: no container engine answers (docker info failed)');
  } else {
    say(`docker server: ${blocks['docker-server'].trim()}`);
    const dserver = startServer('docker server', blocks['docker-server'], 5 * 60_000);
    try {
      await dserver.ready.catch((e) => fail(e.message, dserver.output()));
      const { ok, output: out } = await runClient('docker client', blocks['docker-client']);
      if (!ok) throw new Error('docker client commands failed');
      if (!/hello from web v1 \([0-9a-f]{12}, pid 1\)/.test(out)) fail('the Docker variant did not answer from a container', out);
      say('docker driver: the example image answered through the load balancer');
      scaleDown('npx berth credentials --export --data-dir .berth-docker');
    } finally {
      await dserver.stop();
    }
  }

  if (values['full-tests']) {
    say('npm test in the fresh clone');
    const t = spawnSync('npm', ['test'], { cwd: clone, env, stdio: 'inherit', timeout: 40 * 60_000 });
    if (t.status !== 0) fail(`npm test failed in the fresh clone (exit ${t.status ?? t.signal})`);
  } else if (!values['skip-tests']) {
    // The tests that read ../shared/fixtures: without it they must skip, saying why, not fail.
    say('build, architecture check and the fixture tests in the fresh clone (nothing beside it)');
    for (const [cmd, args] of [['npm', ['run', 'build']], ['node', ['scripts/check-architecture.mjs']], ['node', ['scripts/run-tests.mjs', 'deployScript', 'fixture']]]) {
      const t = spawnSync(cmd, args, { cwd: clone, env, stdio: 'inherit', timeout: 20 * 60_000 });
      if (t.status !== 0) fail(`${cmd} ${args.join(' ')} failed in the fresh clone (exit ${t.status ?? t.signal})`);
    }
  }
  say('OK');
}

main()
  .catch((e) => {
    if (!process.exitCode) {
      process.stderr.write(`quickstart: ${e.stack ?? e}\n`);
      process.exitCode = 1;
    }
  })
  .finally(() => {
    killLeftovers();
    if (!values.keep) rmSync(root, { recursive: true, force: true });
    else say(`kept ${root}`);
  });
