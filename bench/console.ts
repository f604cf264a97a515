/**
 * The console's first load: the service page (/console/clusters/default/services/web) of a real
 * Berth (test/console/scenario.ts: an agent, a load balancer, service `web` with 2 tasks) opened
 * N times in headless Debian chromium with its HTTP cache disabled (every load fetches the page
 * and all its assets: a first load), signed in, from a warm server (3 loads first, not counted).
 *
 * - Size: bytes over the wire for the page and its assets (headers + compressed bodies, from the
 *   page's Resource Timing; the live streams under /console/api/ are not part of a load).
 * - Time to the first meaningful render: from navigation start until the service's name and its
 *   task counts (desired / running / pending) are on the page, taken in the page by a
 *   MutationObserver (performance.now()). Also: the HTML's response end, and the load event.
 *
 * Peer, measured in the same run: nginx serving the very same page as static files (the HTML
 * Berth served, with its inlined data, saved to disk, and the same built assets with their
 * precompressed .gz forms, gzip_static on; Debian's nginx has no brotli). The peer's figure is
 * the floor of a page whose data costs nothing to compute; the ratio says what Berth adds.
 * Targets (issue 18): under 200 KB compressed and under 300 ms.
 *
 * Usage: node dist/bench/console.js [--loads 20]   (needs /usr/bin/chromium and nginx)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext } from 'playwright-core';
import { freePort } from '../test/helpers/fixture.js';
import { portFree } from '../src/lb/options.js';
import { launchBrowser, noBrowser, signInPage, startScenario } from '../test/console/scenario.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const LOADS = arg('loads', 20);
const WARMUP = 3;
const PAGE = '/console/clusters/default/services/web';
const ASSETS = fileURLToPath(new URL('../console/', import.meta.url));

interface Load {
  bytes: number;
  htmlMs: number;
  renderMs: number;
  loadMs: number;
}

/** Records, in the page, when the service's name and task counts are first shown. */
const RENDER_PROBE = `(() => {
  const seen = () => {
    const h1 = document.querySelector('h1');
    const running = document.querySelector('[data-testid=running]');
    return h1 && /Service web/.test(h1.textContent || '') && running && /^\\d+$/.test(running.textContent || '');
  };
  const mo = new MutationObserver(() => { if (!window.__rendered && seen()) { window.__rendered = performance.now(); mo.disconnect(); } });
  mo.observe(document, { childList: true, subtree: true, characterData: true });
})();`;

/**
 * One page per contestant, kept between loads (its renderer process is up, as for a person
 * who has the browser open), with the HTTP cache disabled so that every load fetches the page
 * and all its assets again: a first load each time.
 */
async function openLoader(browser: Browser, state: Awaited<ReturnType<BrowserContext['storageState']>>): Promise<(url: string) => Promise<Load>> {
  const ctx = await browser.newContext({ storageState: state, viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await page.addInitScript(RENDER_PROBE);
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  return async (url) => {
    await page.goto('about:blank');
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForFunction(() => (window as unknown as { __rendered?: number }).__rendered !== undefined, undefined, { timeout: 10_000 });
    return page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      const res = (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).filter((r) => !r.name.includes('/console/api/'));
      return {
        bytes: nav.transferSize + res.reduce((a, r) => a + r.transferSize, 0),
        htmlMs: nav.responseEnd,
        renderMs: (window as unknown as { __rendered: number }).__rendered,
        loadMs: nav.loadEventEnd,
      };
    });
  };
}

/** A static copy of the page and its assets served by nginx; resolves with its URL. */
async function startNginx(dir: string, html: string): Promise<{ proc: ChildProcess; url: string }> {
  const root = join(dir, 'www');
  mkdirSync(join(root, 'console', 'assets'), { recursive: true });
  for (const f of readdirSync(ASSETS)) if (!f.endsWith('.br')) copyFileSync(join(ASSETS, f), join(root, 'console', 'assets', f));
  writeFileSync(join(root, 'page.html'), html);
  spawnSync('gzip', ['-9', '-k', join(root, 'page.html')]);
  for (const d of [dir, root, join(root, 'console'), join(root, 'console', 'assets')]) chmodSync(d, 0o755);
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { text/html html; text/javascript js; text/css css; }
  gzip_static on;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location /console/assets/ { add_header Cache-Control "public, max-age=31536000, immutable"; }
    location /console/api/ { return 404; }
    location / { default_type text/html; try_files /page.html =404; }
  }
}
`,
  );
  const proc = spawn('nginx', ['-c', conf, '-p', dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (const deadline = Date.now() + 10_000; ; ) {
    if (!(await portFree('127.0.0.1', port))) return { proc, url: `http://127.0.0.1:${port}${PAGE}` };
    if (Date.now() > deadline) throw new Error('nginx did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stats(xs: number[]): { median: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, p90: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]! };
}

async function main(): Promise<void> {
  const why = noBrowser();
  if (why) throw new Error(why);
  if (spawnSync('nginx', ['-v']).status !== 0) throw new Error('nginx is not installed: apt-get install -y nginx');
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-console-'));
  const sc = await startScenario();
  const browser = await launchBrowser();
  let nginx: ChildProcess | undefined;
  try {
    const ctx = await browser.newContext();
    await signInPage(await ctx.newPage(), sc.cb.berth.url, sc.cb.berth.credentials);
    const state = await ctx.storageState();
    const berthUrl = `${sc.cb.berth.url}${PAGE}`;
    // The page exactly as Berth serves it to this session, for the static copy.
    const html = await (await ctx.request.get(berthUrl)).text();
    await ctx.close();
    const started = await startNginx(dir, html);
    nginx = started.proc;
    const runs: Record<string, Load[]> = { berth: [], nginx: [] };
    const loadBerth = await openLoader(browser, state);
    const loadNginx = await openLoader(browser, state);
    for (let i = 0; i < WARMUP; i++) {
      await loadBerth(berthUrl);
      await loadNginx(started.url);
    }
    // Interleaved, so both see the same machine.
    for (let i = 0; i < LOADS; i++) {
      runs.berth!.push(await loadBerth(berthUrl));
      runs.nginx!.push(await loadNginx(started.url));
    }
    console.log(`service page first load, ${LOADS} loads each (HTTP cache disabled, warm server), ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log('who      bytes   html p50/p90 ms   first render p50/p90 ms   load p50/p90 ms');
    for (const [who, loads] of Object.entries(runs)) {
      const h = stats(loads.map((l) => l.htmlMs));
      const r = stats(loads.map((l) => l.renderMs));
      const l = stats(loads.map((x) => x.loadMs));
      console.log(`${who.padEnd(7)} ${String(stats(loads.map((x) => x.bytes)).median).padStart(6)}   ${h.median.toFixed(1).padStart(6)} / ${h.p90.toFixed(1).padEnd(6)}   ${r.median.toFixed(1).padStart(10)} / ${r.p90.toFixed(1).padEnd(10)}   ${l.median.toFixed(1).padStart(6)} / ${l.p90.toFixed(1)}`);
    }
    const b = stats(runs.berth!.map((l) => l.renderMs));
    const n = stats(runs.nginx!.map((l) => l.renderMs));
    const bytes = stats(runs.berth!.map((l) => l.bytes)).median;
    console.log(`berth / nginx first render: ${(b.median / n.median).toFixed(2)}x median, ${(b.p90 / n.p90).toFixed(2)}x p90`);
    console.log(`targets: size ${bytes} B < 204800 B: ${bytes < 204_800 ? 'met' : 'NOT met'}; first render p50 ${b.median.toFixed(0)} ms < 300 ms: ${b.median < 300 ? 'met' : 'NOT met'} (p90 ${b.p90.toFixed(0)} ms)`);
  } finally {
    nginx?.kill('SIGTERM');
    await browser.close();
    await sc.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
