#!/usr/bin/env node
// Generates src/generated/cfn-resource-spec.json from @aws-cdk/aws-service-spec (the
// CloudFormation resource schemas): per resource type, the properties whose change replaces the
// resource ("causesReplacement": yes), those that may (maybe), and its GetAtt attributes. The
// template engine reads it (src/domain/cloudformation/template/spec.ts). Runs before every
// build (scripts/gen-types.mjs calls it); the output is not committed.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const dbPath = join(dirname(require.resolve('@aws-cdk/aws-service-spec/package.json')), 'db.json.gz');
const db = JSON.parse(gunzipSync(readFileSync(dbPath)).toString('utf8'));
const out = {};
for (const r of db.schema.resource.entities) {
  const replace = [];
  const maybe = [];
  for (const [name, p] of Object.entries(r.properties ?? {})) {
    if (p.causesReplacement === 'yes') replace.push(name);
    else if (p.causesReplacement === 'maybe') maybe.push(name);
  }
  out[r.cloudFormationType] = { r: replace, m: maybe, a: Object.keys(r.attributes ?? {}) };
}
mkdirSync(join(root, 'src', 'generated'), { recursive: true });
writeFileSync(join(root, 'src', 'generated', 'cfn-resource-spec.json'), JSON.stringify(out));
