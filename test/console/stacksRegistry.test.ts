// The console's CloudFormation stacks and ECR repositories pages in a real browser (headless
// Debian chromium) against a real Berth: a stack with a NoEcho parameter, outputs and two
// resources; a repository with three images pushed over the registry protocol. The pages show
// status, parameters (NoEcho hidden, its value nowhere in the page or its data), outputs,
// resources, events newest first; images with tags, digests, sizes, newest first. A user whose
// policy allows only ECR reads sees the repositories and is refused the stacks, as the API
// would refuse it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CloudFormationClient, CreateStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { IAMClient, CreateUserCommand, CreateAccessKeyCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import type { Browser, Page } from 'playwright-core';
import { eventually } from '../helpers/fixture.js';
import { startCliBerth, type CliBerth } from '../cli/helpers.js';
import { ecrOk, pushImage, registryAuth, v2, MT, type Endpoint } from '../registry/helpers.js';
import { launchBrowser, noBrowser, signInPage } from './scenario.js';

const SECRET = 'noecho-value-never-shown-7f3a';
const TEMPLATE = JSON.stringify({
  Description: 'The app stack',
  Parameters: { DbPassword: { Type: 'String', NoEcho: true }, Env: { Type: 'String', Default: 'prod' } },
  Resources: {
    Group: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: 'app-logs' } },
    EnvParam: { Type: 'AWS::SSM::Parameter', Properties: { Name: '/app/env', Type: 'String', Value: { Ref: 'Env' } } },
  },
  Outputs: { GroupName: { Value: { Ref: 'Group' }, Description: 'where the app logs' } },
});

/** Tags an image again: its manifest, read by one tag, put under another (same digest). */
async function tagAgain(b: Endpoint, auth: string, repo: string, from: string, to: string): Promise<void> {
  const got = await v2(b, 'GET', `/v2/${repo}/manifests/${from}`, { auth, headers: { accept: MT.dockerManifest } });
  const put = await v2(b, 'PUT', `/v2/${repo}/manifests/${to}`, { auth, body: got.body, headers: { 'content-type': MT.dockerManifest } });
  assert.equal(put.status, 201);
}

const skip = noBrowser();
let cb: CliBerth;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
const pushed: Array<{ digest: string; size: number }> = [];

before(async () => {
  if (skip) return;
  cb = await startCliBerth();
  const cfn = new CloudFormationClient(cb.berth.clientConfig);
  await cfn.send(new CreateStackCommand({ StackName: 'app', TemplateBody: TEMPLATE, Parameters: [{ ParameterKey: 'DbPassword', ParameterValue: SECRET }] }));
  await eventually(async () => (await cfn.send(new DescribeStacksCommand({ StackName: 'app' }))).Stacks![0]!.StackStatus === 'CREATE_COMPLETE', { what: 'stack app created', timeoutMs: 30_000 });
  cfn.destroy();
  const b = { url: cb.berth.url, credentials: cb.berth.credentials };
  await ecrOk(b, 'CreateRepository', { repositoryName: 'team/web' });
  const auth = await registryAuth(b);
  pushed.push(await pushImage(b, auth, 'team/web', 'v1', { layers: ['a'.repeat(3000)] }));
  await tagAgain(b, auth, 'team/web', 'v1', 'latest');
  pushed.push(await pushImage(b, auth, 'team/web', 'v2', { layers: ['b'.repeat(5000), 'c'.repeat(100)] }));
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/401|Unauthorized/.test(m.text())) pageErrors.push(m.text());
  });
  await signInPage(page, cb.berth.url, cb.berth.credentials);
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await cb?.close();
});

test('a stack: status, parameters with NoEcho hidden, outputs, resources, events newest first', { skip }, async () => {
  await page.click('nav a:text-is("Stacks")');
  await page.waitForSelector('[data-testid=stacks] .badge:text-is("CREATE_COMPLETE")');
  await page.click('[data-testid=stacks] a:text-is("app")');
  assert.match(page.url(), /\/console\/stacks\/app$/);
  await page.waitForSelector('[data-testid=stack-status]:text-is("CREATE_COMPLETE")');
  const params = await page.$$eval('[data-testid=stack-parameters] tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
  assert.deepEqual(params.sort(), [['DbPassword', 'hidden (NoEcho)'], ['Env', 'prod']]);
  const outputs = await page.$$eval('[data-testid=stack-outputs] tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent)));
  assert.deepEqual(outputs, [['GroupName', 'app-logs']]);
  const resources = await page.$$eval('[data-testid=stack-resources] tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
  assert.deepEqual(resources.map((r) => [r[0], r[1], r[3]]).sort(), [['EnvParam', 'AWS::SSM::Parameter', 'CREATE_COMPLETE'], ['Group', 'AWS::Logs::LogGroup', 'CREATE_COMPLETE']]);
  // Events newest first: the stack's own CREATE_COMPLETE on top, its CREATE_IN_PROGRESS last.
  const events = await page.$$eval('[data-testid=stack-event]', (rows) => rows.map((r) => `${r.children[1]!.textContent} ${r.children[3]!.textContent}`));
  assert.equal(events[0], 'app CREATE_COMPLETE');
  assert.equal(events[events.length - 1], 'app CREATE_IN_PROGRESS');
  // The NoEcho value is nowhere: not in the page, not in the page's data, not in a fresh load.
  assert.doesNotMatch(await page.content(), new RegExp(SECRET));
  const data = await page.evaluate(async () => (await fetch('/console/api/view/stack?stack=app')).text());
  assert.doesNotMatch(data, new RegExp(SECRET));
  assert.match(data, /"hidden":true/);
  const html = await page.evaluate(async () => (await fetch('/console/stacks/app')).text());
  assert.match(html, /berth-initial/, 'the stack page comes with its data');
  assert.doesNotMatch(html, new RegExp(SECRET));
});

test('a repository: images with tags, digests, sizes, newest first', { skip }, async () => {
  await page.click('nav a:text-is("Repositories")');
  await page.click('[data-testid=repositories] a:text-is("team/web")');
  assert.match(page.url(), /\/console\/repositories\/team%2Fweb$/);
  await page.waitForSelector('[data-testid=image-count]:text-is("2")');
  const images = await page.$$eval('[data-testid=image]', (rows) =>
    rows.map((r) => ({ tags: [...r.querySelectorAll('[data-testid=image-tag]')].map((t) => t.textContent).sort(), digest: r.querySelector('[data-testid=image-digest]')!.getAttribute('title'), size: r.querySelector('[data-testid=image-size]')!.textContent })),
  );
  // v2 was pushed last: it is first.
  assert.deepEqual(images.map((i) => i.tags), [['v2'], ['latest', 'v1']]);
  assert.deepEqual(images.map((i) => i.digest), [pushed[1]!.digest, pushed[0]!.digest]);
  assert.ok(images.every((i) => /\d+(\.\d)? (B|KiB)$/.test(i.size ?? '')), JSON.stringify(images));
  // A reload of the shareable URL shows the same page.
  await page.reload();
  await page.waitForSelector('[data-testid=image-count]:text-is("2")');
  assert.deepEqual(pageErrors, []);
});

test('the same authorization as the API: a user allowed only ECR reads sees repositories, not stacks', { skip }, async () => {
  const iam = new IAMClient(cb.berth.clientConfig);
  await iam.send(new CreateUserCommand({ UserName: 'reader' }));
  await iam.send(new PutUserPolicyCommand({ UserName: 'reader', PolicyName: 'ecr-read', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ecr:Describe*', 'ecr:List*'], Resource: '*' }] }) }));
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'reader' }))).AccessKey!;
  iam.destroy();
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  await signInPage(p, cb.berth.url, { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! });
  await p.goto(`${cb.berth.url}/console/repositories/team%2Fweb`);
  await p.waitForSelector('[data-testid=image-count]:text-is("2")');
  await p.goto(`${cb.berth.url}/console/stacks/app`);
  await p.waitForSelector('[role=alert]:has-text("AccessDenied")');
  assert.equal(await p.$('[data-testid=stack-status]'), null);
  const status = await p.evaluate(async () => (await fetch('/console/api/view/stacks')).status);
  assert.equal(status, 403);
  await ctx.close();
});
