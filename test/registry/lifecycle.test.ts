// ECR lifecycle policies: the rules' semantics on plain data (evaluateLifecycle is pure), then a
// repository whose images age on an injected clock: the preview lists what the sweep then
// deletes, and an image an index lists is never expired.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock.js';
import { evaluateLifecycle, parseLifecyclePolicy, type LifecycleImage, type LifecycleRule } from '../../src/domain/ecr/lifecycle.js';
import { startTestBerth } from '../helpers/fixture.js';
import { MT, desc, ecrOk, pushImage, registryAuth, v2 } from './helpers.js';

const DAY = 24 * 3600_000;
const T = Date.UTC(2026, 5, 1);
const img = (digest: string, tags: string[], daysAgo: number, referenced = false): LifecycleImage => ({ digest, tags, pushedAt: T - daysAgo * DAY, referenced });
const rule = (p: number, sel: Partial<LifecycleRule>): LifecycleRule => ({ rulePriority: p, tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1, ...sel });
const expired = (rules: LifecycleRule[], images: LifecycleImage[]) => evaluateLifecycle(rules, images, T).map((e) => `${e.digest}@${e.rulePriority}`).sort();

test('imageCountMoreThan keeps the newest n; sinceImagePushed expires the older than n days', () => {
  const images = [img('a', ['v1'], 5), img('b', ['v2'], 4), img('c', ['v3'], 3), img('d', [], 2), img('e', [], 1)];
  assert.deepEqual(expired([rule(1, { tagStatus: 'tagged', tagPrefixList: ['v'], countNumber: 2 })], images), ['a@1']);
  assert.deepEqual(expired([rule(1, { tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 1 })], images), ['d@1']);
  assert.deepEqual(expired([rule(1, { tagStatus: 'any', countNumber: 3 })], images), ['a@1', 'b@1']);
});

test('every prefix (or pattern) must match one of the tags; tagged rules skip untagged images', () => {
  const images = [img('a', ['prod', 'v1'], 4), img('b', ['prod-x'], 3), img('c', ['v2'], 2), img('d', [], 1)];
  assert.deepEqual(expired([rule(1, { tagStatus: 'tagged', tagPrefixList: ['prod', 'v'], countNumber: 1 })], [...images, img('e', ['prod', 'v9'], 0)]), ['a@1']);
  assert.deepEqual(expired([rule(1, { tagStatus: 'tagged', tagPatternList: ['prod*'], countNumber: 1 })], images), ['a@1']);
  assert.deepEqual(expired([rule(1, { tagStatus: 'tagged', tagPatternList: ['*-x'], countNumber: 1 })], images), []);
});

test('an image matched by a higher-priority rule is never expired by a lower one, but still counts there', () => {
  const images = [img('p1', ['prod1'], 6), img('p2', ['prod2'], 5), img('t1', ['test1'], 4), img('t2', ['test2'], 3), img('u', [], 2)];
  const rules = [rule(1, { tagStatus: 'tagged', tagPrefixList: ['prod'], countNumber: 5 }), rule(2, { tagStatus: 'any', countNumber: 2 })];
  // Rule 2 counts all five (keeps the newest two: u, t2) but may not take p1 or p2, which rule 1 selected.
  assert.deepEqual(expired(rules, images), ['t1@2']);
  // An index's image is never expired.
  assert.deepEqual(expired([rule(1, { countNumber: 1 })], [img('new', [], 1), img('child', [], 2, true), img('old', [], 3)]), ['old@1']);
});

test('the policy document is checked as ECR checks it', () => {
  const ok = parseLifecyclePolicy(JSON.stringify({ rules: [{ rulePriority: 2, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 3 }, action: { type: 'expire' } }, { rulePriority: 1, description: 'x', selection: { tagStatus: 'tagged', tagPatternList: ['v*'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 7 }, action: { type: 'expire' } }] }));
  assert.deepEqual(ok.map((r) => r.rulePriority), [1, 2]);
  assert.throws(() => parseLifecyclePolicy('{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},{"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}'), /highest rulePriority/);
});

test('a repository\'s policy on the clock: the preview lists what the sweep then expires; an index keeps its images', async () => {
  const clock = new ManualClock(Date.now());
  const berth = await startTestBerth({ clock });
  try {
    const at = () => ({ now: clock.now() });
    await ecrOk(berth, 'CreateRepository', { repositoryName: 'lc' }, at());
    let auth = '';
    // One image a day for five days: three prod releases and two untagged builds, then an index.
    const pushed: Record<string, string> = {};
    for (const [ref, n] of [['prod-1', 1], ['untagged-1', 2], ['prod-2', 3], ['untagged-2', 4], ['prod-3', 5]] as const) {
      auth = await registryAuth(berth, at()); // passwords last 12 hours of the clock
      const r = await pushImage(berth, auth, 'lc', ref.startsWith('prod') ? ref : `tmp${n}`, { oci: true, layers: [`layer ${n}`] });
      if (!ref.startsWith('prod')) await v2(berth, 'DELETE', `/v2/lc/manifests/tmp${n}`, { auth });
      pushed[ref] = r.digest;
      clock.set(clock.now() + DAY);
    }
    auth = await registryAuth(berth, at());
    // An index listing the oldest untagged image protects it.
    const child = (await v2(berth, 'GET', `/v2/lc/manifests/${pushed['untagged-1']}`, { auth })).body;
    const index = JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ ...desc(MT.ociManifest, child), platform: { os: 'linux', architecture: 'amd64' } }] });
    assert.equal((await v2(berth, 'PUT', '/v2/lc/manifests/release', { auth, body: index, headers: { 'content-type': MT.ociIndex } })).status, 201);
    const policy = JSON.stringify({
      rules: [
        { rulePriority: 1, description: 'keep two prod releases', selection: { tagStatus: 'tagged', tagPrefixList: ['prod'], countType: 'imageCountMoreThan', countNumber: 2 }, action: { type: 'expire' } },
        { rulePriority: 2, description: 'untagged builds live a day', selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 }, action: { type: 'expire' } },
      ],
    });
    await ecrOk(berth, 'PutLifecyclePolicy', { repositoryName: 'lc', lifecyclePolicyText: policy }, at());
    assert.equal((await ecrOk(berth, 'GetLifecyclePolicy', { repositoryName: 'lc' }, at())).lifecyclePolicyText, policy);
    const started = await ecrOk(berth, 'StartLifecyclePolicyPreview', { repositoryName: 'lc' }, at());
    assert.equal(started.status, 'COMPLETE');
    const preview = await ecrOk(berth, 'GetLifecyclePolicyPreview', { repositoryName: 'lc' }, at());
    const expected = [pushed['prod-1']!, pushed['untagged-2']!].sort();
    assert.deepEqual(preview.previewResults.map((r: any) => r.imageDigest).sort(), expected);
    assert.equal(preview.summary.expiringImageTotalCount, 2);
    assert.deepEqual(preview.previewResults.find((r: any) => r.imageDigest === pushed['prod-1']).imageTags, ['prod-1']);
    // The preview deleted nothing; the sweep (every 5 minutes on the platform clock) does.
    assert.equal((await ecrOk(berth, 'DescribeImages', { repositoryName: 'lc' }, at())).imageDetails.length, 6);
    await clock.advance(5 * 60_000 + 1);
    await berth.registry.lifecycle.runNow();
    const left = (await ecrOk(berth, 'DescribeImages', { repositoryName: 'lc' }, at())).imageDetails.map((d: any) => d.imageDigest);
    for (const d of expected) assert.ok(!left.includes(d), `${d} expired`);
    for (const d of [pushed['prod-2'], pushed['prod-3'], pushed['untagged-1']]) assert.ok(left.includes(d), `${d} kept`);
    await ecrOk(berth, 'DeleteLifecyclePolicy', { repositoryName: 'lc' }, at());
  } finally {
    await berth.close();
  }
});
