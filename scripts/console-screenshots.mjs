#!/usr/bin/env node
// Regenerates the console's screenshots under docs/console/ (1280x800, and the service page at
// a phone's width) from a real Berth with a real agent and load balancer: the scenario of the
// browser tests (test/console/scenario.ts). Run after `npm run build`:
//   node scripts/console-screenshots.mjs
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const { startScenario, launchBrowser, noBrowser, signInPage, hit } = await import(join(root, 'dist/test/console/scenario.js'));
const { ecrOk, pushImage, registryAuth } = await import(join(root, 'dist/test/registry/helpers.js'));
const { eventually } = await import(join(root, 'dist/test/helpers/fixture.js'));
const { CloudFormationClient, CreateStackCommand, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');

/** A stack worth a screenshot: a NoEcho parameter, two resources, an output. */
const TEMPLATE = JSON.stringify({
  Description: 'Logs and settings of the web service',
  Parameters: { DbPassword: { Type: 'String', NoEcho: true }, Env: { Type: 'String', Default: 'prod' } },
  Resources: {
    Group: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: 'web-logs' } },
    EnvParam: { Type: 'AWS::SSM::Parameter', Properties: { Name: '/web/env', Type: 'String', Value: { Ref: 'Env' } } },
  },
  Outputs: { LogGroup: { Value: { Ref: 'Group' }, Description: 'where web logs' } },
});
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
  const cfn = new CloudFormationClient(sc.cb.berth.clientConfig);
  await cfn.send(new CreateStackCommand({ StackName: 'web-support', TemplateBody: TEMPLATE, Parameters: [{ ParameterKey: 'DbPassword', ParameterValue: 'not-shown' }] }));
  await eventually(async () => (await cfn.send(new DescribeStacksCommand({ StackName: 'web-support' }))).Stacks[0].StackStatus === 'CREATE_COMPLETE', { what: 'the stack', timeoutMs: 30_000 });
  cfn.destroy();
  const endpoint = { url, credentials: sc.cb.berth.credentials };
  await ecrOk(endpoint, 'CreateRepository', { repositoryName: 'team/web' });
  const auth = await registryAuth(endpoint);
  for (const [tag, kb] of [['v1', 300], ['v2', 420], ['v3', 512]]) await pushImage(endpoint, auth, 'team/web', tag, { layers: [Buffer.alloc(kb * 1024, tag)] });
  const shots = [
    ['clusters.png', '/console/', '[data-testid=clusters]'],
    ['cluster.png', '/console/clusters/default', '[data-testid=instances]'],
    ['service.png', '/console/clusters/default/services/web', '[data-testid=deployment]'],
    ['load-balancers.png', '/console/loadbalancers', '[data-testid=targets] .badge'],
    ['parameters.png', '/console/parameters', '[data-testid=parameters]'],
    ['stacks.png', '/console/stacks', '[data-testid=stacks]'],
    ['stack.png', '/console/stacks/web-support', '[data-testid=stack-events]'],
    ['repository.png', '/console/repositories/team%2Fweb', '[data-testid=images]'],
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
