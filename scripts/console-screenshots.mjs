#!/usr/bin/env node
// Regenerates the console's screenshots under docs/console/ (1280x800, and the service page at
// a phone's width) from a real Berth with a real agent and load balancer: the scenario of the
// browser tests (test/console/scenario.ts). Run after `npm run build`:
//   node scripts/console-screenshots.mjs
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const { startScenario, launchBrowser, noBrowser, signInPage, hit } = await import(join(root, 'dist/test/console/scenario.js'));
const why = noBrowser();
if (why) {
  console.error(`console-screenshots: ${why}`);
  process.exit(1);
}
const out = join(root, 'docs', 'console');
mkdirSync(out, { recursive: true });
const sc = await startScenario();
const browser = await launchBrowser();
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  const url = sc.cb.berth.url;
  await page.goto(`${url}/console/`);
  await page.waitForSelector('input[name=accessKeyId]');
  await page.screenshot({ path: join(out, 'sign-in.png') });
  await signInPage(page, url, sc.cb.berth.credentials);
  for (let i = 0; i < 30; i++) await hit(sc.port, i % 5 === 0 ? `/fail/${i}` : `/orders/${i}`);
  const shots = [
    ['clusters.png', '/console/', '[data-testid=clusters]'],
    ['cluster.png', '/console/clusters/default', '[data-testid=instances]'],
    ['service.png', '/console/clusters/default/services/web', '[data-testid=deployment]'],
    ['load-balancers.png', '/console/loadbalancers', '[data-testid=targets] .badge'],
    ['parameters.png', '/console/parameters', '[data-testid=parameters]'],
  ];
  for (const [file, path, ready] of shots) {
    await page.goto(`${url}${path}`);
    await page.waitForSelector(ready);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(out, file), fullPage: file !== 'service.png' });
    console.log(`docs/console/${file}`);
  }
  await page.goto(`${url}/console/clusters/default/services/web`);
  await page.click('[data-testid=task-link] >> nth=0');
  await page.waitForSelector('[data-testid=containers]');
  await page.waitForTimeout(2500);
  await page.screenshot({ path: join(out, 'task.png'), fullPage: true });
  console.log('docs/console/task.png');
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, storageState: await ctx.storageState() });
  const p = await phone.newPage();
  await p.goto(`${url}/console/clusters/default/services/web`);
  await p.waitForSelector('[data-testid=deployment]');
  await p.waitForTimeout(1000);
  await p.screenshot({ path: join(out, 'service-phone.png') });
  console.log('docs/console/service-phone.png');
} finally {
  await browser.close();
  await sc.close();
}
