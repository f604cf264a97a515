// The console in a real browser (headless Debian chromium through playwright-core) against a
// real Berth with a real agent and load balancer (test/console/scenario.ts): sign in, find a
// service, watch a rolling deployment progress to COMPLETED on the page while it runs (no
// reload), scale from the page, open a task and see a line it writes appear within a second,
// filter the logs, read the 5xx chart after the backend starts failing; a cross-site form POST
// is refused and changes nothing; the service page's first load is under 200 KB compressed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeServicesCommand, DescribeTasksCommand, ListTasksCommand } from '@aws-sdk/client-ecs';
import type { Browser, Page } from 'playwright-core';
import { eventually } from '../helpers/fixture.js';
import { hit, launchBrowser, noBrowser, registerWeb, signInPage, startScenario, type Scenario } from './scenario.js';

const skip = noBrowser();
let sc: Scenario;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  if (skip) return;
  sc = await startScenario();
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/401|Unauthorized/.test(m.text())) pageErrors.push(m.text());
  });
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await sc?.close();
});

async function desired(): Promise<number> {
  return (await sc.ecs.send(new DescribeServicesCommand({ cluster: 'default', services: ['web'] }))).services![0]!.desiredCount!;
}

test('sign in, find a service, watch a rolling deployment reach COMPLETED on the page, scale it', { skip }, async () => {
  const { berth } = sc.cb;
  await signInPage(page, berth.url, berth.credentials);
  await page.click('a:text-is("default")');
  await page.fill('input[aria-label="Find a service"]', 'we');
  await page.click('[data-testid=services] a:text-is("web")');
  assert.match(page.url(), /\/console\/clusters\/default\/services\/web$/);
  await page.waitForSelector('[data-testid=deployment][data-rollout=COMPLETED]');
  // Marks this document: a reload would lose it.
  await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));

  await registerWeb(sc.ecs, 'v2');
  await page.waitForFunction(() => [...document.querySelectorAll('select[aria-label=Revision] option')].some((o) => (o as HTMLOptionElement).value === 'web:2'));
  await page.selectOption('select[aria-label=Revision]', 'web:2');
  await page.click('button:text-is("Update")');
  // What the page shows, sampled while the deployment runs.
  const seen: string[] = [];
  await eventually(
    async () => {
      const shown = await page.$$eval('[data-testid=deployment]', (els) => els.map((e) => `${e.querySelector('b')?.textContent}:${e.getAttribute('data-rollout')}`).join(' '));
      if (seen[seen.length - 1] !== shown) seen.push(shown);
      return shown === 'web:2:COMPLETED';
    },
    { what: 'the page to show web:2 COMPLETED alone', timeoutMs: 60_000, intervalMs: 50 },
  ).catch((e) => {
    throw new Error(`${(e as Error).message}; the page showed: ${JSON.stringify(seen.slice(-5))}`);
  });
  assert.ok(seen.some((s) => /web:2:IN_PROGRESS web:1:COMPLETED/.test(s)), `the page showed the deployment in progress beside the old one: ${JSON.stringify(seen)}`);
  assert.equal(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed), true, 'no reload');

  await page.fill('input[name=desiredCount]', '3');
  await page.click('button:text-is("Scale")');
  await page.waitForSelector('[data-testid=desired]:text-is("3")');
  assert.equal(await desired(), 3);
  await page.waitForSelector('[data-testid=running]:text-is("3")', { timeout: 30_000 });
});

test('open a task: a line it writes shows within a second; the filter keeps only matching lines', { skip }, async () => {
  const cluster = 'default';
  const arns = (await sc.ecs.send(new ListTasksCommand({ cluster, serviceName: 'web' }))).taskArns!;
  const task = (await sc.ecs.send(new DescribeTasksCommand({ cluster, tasks: arns }))).tasks!.find((t) => t.lastStatus === 'RUNNING')!;
  const id = task.taskArn!.split('/').pop()!;
  const hostPort = task.containers![0]!.networkBindings![0]!.hostPort!;
  await page.click(`[data-testid=task-link]:text-is("${id.slice(0, 12)}")`);
  await page.waitForSelector('[data-testid=task-status]:text-is("RUNNING")');
  await page.waitForSelector('[data-testid=environment] td:text-is("DB_PASSWORD")');
  assert.doesNotMatch(await page.content(), /correct-horse-battery-staple/, 'a secret is shown by name only');
  await page.waitForSelector('[data-testid=log-state]:text-is("live")');

  const marker = `marker-${Date.now()}`;
  const started = Date.now();
  assert.equal(await hit(hostPort, `/${marker}`), 200);
  await page.waitForSelector(`[data-testid=log-lines] .msg:has-text("served /${marker} by v")`, { timeout: 5_000 });
  const latencyMs = Date.now() - started;
  console.log(`# log line on the page ${latencyMs} ms after it was written`);
  assert.ok(latencyMs < 1000, `the line took ${latencyMs} ms to appear`);

  await hit(hostPort, '/other-noise');
  await page.waitForSelector('[data-testid=log-lines] .msg:has-text("served /other-noise by v")');
  await page.fill('input[aria-label="Filter pattern"]', `"${marker}"`);
  await page.click('button:text-is("Filter")');
  await page.waitForSelector('[data-testid=log-state]:text-is("live")');
  await page.waitForSelector(`[data-testid=log-lines] .msg:has-text("served /${marker} by v")`);
  const shown = await page.$$eval('[data-testid=log-lines] .msg', (els) => els.map((e) => e.textContent ?? ''));
  assert.ok(shown.length >= 1 && shown.every((m) => m.includes(marker)), JSON.stringify(shown));
  // A second matching line arrives live through the filter; a non-matching one does not.
  await hit(hostPort, `/${marker}-again`);
  await hit(hostPort, '/not-this-one');
  await page.waitForSelector(`[data-testid=log-lines] .msg:has-text("served /${marker}-again by v")`);
  assert.ok((await page.$$eval('[data-testid=log-lines] .msg', (els) => els.map((e) => e.textContent ?? ''))).every((m) => m.includes(marker)));
  // A malformed pattern is said, not crashed on.
  await page.fill('input[aria-label="Filter pattern"]', '{ $.level = ');
  await page.click('button:text-is("Filter")');
  await page.waitForSelector('[data-testid=log-failure]');
});

test('load balancers: target health, and the 5xx chart after the backend starts failing', { skip }, async () => {
  await page.click('nav a:text-is("Load balancers")');
  await page.waitForSelector('[data-testid=tg-web] [data-testid=targets] .badge:text-is("healthy")');
  for (let i = 0; i < 20; i++) await hit(sc.port, `/fail/${i}`);
  for (let i = 0; i < 10; i++) await hit(sc.port, `/ok/${i}`);
  const fivexx = page.locator('[data-testid=tg-web] [data-testid=chart-codes-http5xx]');
  const twoxx = page.locator('[data-testid=tg-web] [data-testid=chart-codes-http2xx]');
  // The chart samples the counters every interval: both totals show once a sample covers them all.
  await eventually(async () => Number(await fivexx.textContent()) >= 20 && Number(await twoxx.textContent()) >= 10, { what: 'the chart to count 20 5xx and 10 2xx', timeoutMs: 15_000, intervalMs: 200 });
});

test('a cross-site form POST to an action is refused and changes nothing; no session, no data', { skip }, async () => {
  const before = await desired();
  const target = `${sc.cb.berth.url}/console/api/action/scale`;
  // Another site (localhost is not 127.0.0.1) with a form that posts as soon as it loads.
  const evil: Server = createServer((_q, s) => {
    s.setHeader('content-type', 'text/html');
    s.end(`<form id=f method=POST enctype="text/plain" action="${target}"><input name='{"cluster":"default","service":"web","desiredCount":9,"x":"' value='"}'></form><script>f.submit()</script>`);
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  try {
    const other = await page.context().newPage();
    const answered = other.waitForResponse((r) => r.url() === target);
    await other.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
    const r = await answered;
    assert.ok(r.status() === 401 || r.status() === 403, `status ${r.status()}`);
    await other.close();
  } finally {
    evil.close();
  }
  assert.equal(await desired(), before);
  // A fresh browser without the cookie gets the sign-in form, and no data.
  const fresh = await browser.newContext();
  const p = await fresh.newPage();
  const resp = await p.goto(`${sc.cb.berth.url}/console/clusters/default/services/web`);
  assert.equal(resp!.status(), 401);
  await p.waitForSelector('input[name=secretAccessKey]');
  const api = await p.evaluate(async () => (await fetch('/console/api/view/service?cluster=default&service=web')).status);
  assert.equal(api, 401);
  await fresh.close();
});

test('the service page first loads in under 200 KB compressed (HTML and assets)', { skip }, async () => {
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  await signInPage(p, sc.cb.berth.url, sc.cb.berth.credentials);
  const sizes: Array<Promise<number>> = [];
  const ctx2 = await browser.newContext({ storageState: await ctx.storageState() });
  const q = await ctx2.newPage();
  q.on('requestfinished', (r) => {
    if (!r.url().includes('/console/api/')) sizes.push(r.sizes().then((s) => s.responseBodySize + s.responseHeadersSize));
  });
  const started = Date.now();
  await q.goto(`${sc.cb.berth.url}/console/clusters/default/services/web`);
  await q.waitForSelector('[data-testid=deployment]');
  const ms = Date.now() - started;
  const total = (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
  console.log(`# service page first load: ${total} bytes over the wire, ${ms} ms to the deployments shown`);
  assert.ok(sizes.length >= 3, 'HTML, script and style were loaded');
  assert.ok(total < 200 * 1024, `${total} bytes`);
  await ctx2.close();
  await ctx.close();
  assert.deepEqual(pageErrors, []);
});
