// A log tail at 1,000 lines/s in a real browser (headless Debian chromium): a task writes 10,000
// numbered lines over ~10 s; the task's page must show every one of them, in order, with no
// marker of dropped lines, while the page keeps drawing frames. The frame times
// (requestAnimationFrame deltas, sampled in the page during the burst) are printed; the test
// fails if the page stalls (a frame over a second) or most frames are long.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ECSClient, RegisterTaskDefinitionCommand, RunTaskCommand, DescribeTasksCommand } from '@aws-sdk/client-ecs';
import type { Browser, Page } from 'playwright-core';
import { eventually } from '../helpers/fixture.js';
import { startCliBerth, type CliBerth } from '../cli/helpers.js';
import { hit, launchBrowser, noBrowser, signInPage } from './scenario.js';

const LINES = 10_000;
const PER_SECOND = 1_000;
/** The container: on GET /go writes LINES numbered lines, PER_SECOND a second (10 every 10 ms). */
const BURST_JS = `let n=0;require('http').createServer((q,s)=>{s.end('ok');if(q.url!=='/go'||n)return;const t=setInterval(()=>{let out='';for(let i=0;i<${PER_SECOND / 100}&&n<${LINES};i++)out+='line '+String(n++).padStart(6,'0')+'\\n';process.stdout.write(out);if(n>=${LINES})clearInterval(t)},10)}).listen(process.env.PORT)`;

const skip = noBrowser();
let cb: CliBerth;
let ecs: ECSClient;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  if (skip) return;
  cb = await startCliBerth({ console: { liveMs: 250, logPollMs: 150 } });
  ecs = new ECSClient(cb.berth.clientConfig);
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
});
after(async () => {
  if (skip) return;
  await browser?.close();
  ecs?.destroy();
  await cb?.close();
});

/** Reads the rows drawn at a scroll position: their indexes and messages. */
async function rowsAt(p: Page, scrollTop: number): Promise<Array<{ i: number; msg: string }>> {
  return p.$eval(
    '[data-testid=log-lines]',
    async (box, top) => {
      box.scrollTop = top;
      box.dispatchEvent(new Event('scroll'));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return [...box.querySelectorAll('.line')].map((e) => ({ i: Number(e.getAttribute('data-i')), msg: e.querySelector('.msg')?.textContent ?? '' }));
    },
    scrollTop,
  );
}

test(`a task writing ${PER_SECOND} lines/s for ${LINES / PER_SECOND} s: every line on the page, in order, frames keep coming`, { skip }, async () => {
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'burst',
      containerDefinitions: [{ name: 'burst', image: 'host', memory: 32, portMappings: [{ containerPort: 8080, hostPort: 0 }], command: [process.execPath, '-e', BURST_JS] }],
    }),
  );
  const arn = (await ecs.send(new RunTaskCommand({ cluster: 'default', taskDefinition: 'burst' }))).tasks![0]!.taskArn!;
  const id = arn.split('/').pop()!;
  const hostPort = await eventually(
    async () => {
      const t = (await ecs.send(new DescribeTasksCommand({ cluster: 'default', tasks: [arn] }))).tasks![0]!;
      return t.lastStatus === 'RUNNING' ? t.containers![0]!.networkBindings?.[0]?.hostPort : undefined;
    },
    { what: 'the burst task running', timeoutMs: 30_000 },
  );
  await signInPage(page, cb.berth.url, cb.berth.credentials);
  await page.goto(`${cb.berth.url}/console/logs?cluster=default&task=${id}`);
  await page.waitForSelector('[data-testid=log-state]:text-is("live")');
  // Frame deltas from now on, in the page.
  await page.evaluate(() => {
    const w = window as unknown as { frames: number[] };
    w.frames = [];
    let last = performance.now();
    const tick = (now: number) => {
      w.frames.push(now - last);
      last = now;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const started = Date.now();
  assert.equal(await hit(hostPort!, '/go'), 200);
  await eventually(async () => Number(await page.textContent('[data-testid=log-count]')) >= LINES, { what: `${LINES} lines counted on the page`, timeoutMs: 60_000, intervalMs: 200 });
  const seconds = (Date.now() - started) / 1000;
  const frames = await page.evaluate(() => (window as unknown as { frames: number[] }).frames.slice(1));
  assert.equal(Number(await page.textContent('[data-testid=log-count]')), LINES, 'no line twice');
  assert.equal(await page.$('[data-testid=log-dropped]'), null, 'no line dropped');

  // Every line is where it belongs: row i says "line i". The view draws only the rows in sight,
  // so read it at 40 scroll positions from the top to the bottom, and the tail it follows.
  const tail = await rowsAt(page, 1e9);
  assert.equal(tail[tail.length - 1]!.msg, `line ${String(LINES - 1).padStart(6, '0')}`);
  const box = await page.$eval('[data-testid=log-lines]', (b) => ({ height: b.scrollHeight, client: b.clientHeight }));
  let checked = 0;
  for (let k = 0; k <= 40; k++) {
    const rows = await rowsAt(page, Math.round(((box.height - box.client) * k) / 40));
    assert.ok(rows.length > 0);
    for (const r of rows) assert.equal(r.msg, `line ${String(r.i).padStart(6, '0')}`, `row ${r.i}`);
    checked += rows.length;
  }
  // The rows drawn stay few: the page does not hold 10,000 elements.
  assert.ok(tail.length < 100, `${tail.length} rows drawn`);

  const sorted = [...frames].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const long = frames.filter((f) => f > 50).length;
  console.log(
    `# ${LINES} lines in ${seconds.toFixed(1)} s on the page; ${frames.length} frames: median ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms; ${long} frames over 50 ms; ${checked} rows checked in order`,
  );
  assert.ok(sorted[sorted.length - 1]! < 1000, 'no frame over a second');
  assert.ok(at(0.5) < 50, 'most frames under 50 ms');
  assert.deepEqual(pageErrors, []);
});
