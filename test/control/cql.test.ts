import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CqlError, compileCql, cqlUsesTaskGroups, parseCql, type CqlInstance } from '../../src/domain/placement/cql.js';

const t2a: CqlInstance = {
  attributes: { 'ecs.instance-type': 't2.small', 'ecs.availability-zone': 'us-east-1a', 'ecs.os-type': 'linux', stack: 'prod', 'ecs.capability.docker-remote-api.1.30': null, cores: '8' },
  ec2InstanceId: 'i-abcd1234',
  agentConnected: true,
  agentVersion: '1.20.0',
  registeredAt: Date.parse('2018-06-18T22:28:28Z'),
  runningTasksCount: 1,
  taskGroups: ['service:production', 'family:web'],
};
const g2d: CqlInstance = {
  attributes: { 'ecs.instance-type': 'g2.2xlarge', 'ecs.availability-zone': 'us-east-1d', cores: '16' },
  ec2InstanceId: 'i-wxyx7890',
  agentConnected: false,
  agentVersion: '1.9.1',
  registeredAt: Date.parse('2017-01-01T00:00:00Z'),
  runningTasksCount: 0,
  taskGroups: ['database'],
};
const g2b: CqlInstance = {
  attributes: { 'ecs.instance-type': 'g2.8xlarge', 'ecs.availability-zone': 'us-east-1b' },
  ec2InstanceId: 'i-0000ffff',
  agentConnected: true,
  runningTasksCount: 3,
  taskGroups: [],
};
const all = { t2a, g2d, g2b };

/** Names of the instances the expression selects. */
function select(expr: string): string[] {
  const f = compileCql(expr);
  return Object.entries(all)
    .filter(([, i]) => f(i))
    .map(([n]) => n);
}

describe('cluster query language: ECS documentation examples', () => {
  it('selects by instance type equality', () => {
    assert.deepEqual(select('attribute:ecs.instance-type == t2.small'), ['t2a']);
    assert.deepEqual(select('attribute:ecs.instance-type equals t2.small'), ['t2a']);
  });
  it('selects by availability zone list (in / not in / !in / not_in)', () => {
    assert.deepEqual(select('attribute:ecs.availability-zone in [us-east-1a, us-east-1b]'), ['t2a', 'g2b']);
    assert.deepEqual(select('attribute:ecs.availability-zone not in [us-east-1a, us-east-1b]'), ['g2d']);
    assert.deepEqual(select('attribute:ecs.availability-zone !in [us-east-1a,us-east-1b]'), ['g2d']);
    assert.deepEqual(select('attribute:ecs.availability-zone not_in [us-east-1a]'), ['g2d', 'g2b']);
  });
  it('matches instance types with a pattern, combined with and', () => {
    assert.deepEqual(select('attribute:ecs.instance-type =~ g2.*'), ['g2d', 'g2b']);
    assert.deepEqual(select('attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d'), ['g2b']);
    assert.deepEqual(select('attribute:ecs.instance-type !~ g2.*'), ['t2a']);
    assert.deepEqual(select('attribute:ecs.instance-type matches t2'), [], 'a pattern must match the whole value');
    assert.deepEqual(select('attribute:ecs.instance-type =~ (t2|g2)\\.(small|8xlarge)'), ['t2a', 'g2b']);
  });
  it('selects by EC2 instance id with quoted list values', () => {
    assert.deepEqual(select("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']"), ['t2a', 'g2d']);
    assert.deepEqual(select('ec2InstanceId == "i-0000ffff"'), ['g2b']);
  });
  it('selects by task group, and its negation', () => {
    assert.deepEqual(select('task:group == service:production'), ['t2a']);
    assert.deepEqual(select('not(task:group == database)'), ['t2a', 'g2b']);
    assert.deepEqual(select('!(task:group == database)'), ['t2a', 'g2b']);
    assert.deepEqual(select('task:group exists'), ['t2a', 'g2d']);
    assert.deepEqual(select('task:group =~ family:.*'), ['t2a']);
    assert.equal(cqlUsesTaskGroups(parseCql('attribute:a exists or not(task:group == x)')), true);
    assert.equal(cqlUsesTaskGroups(parseCql('attribute:a exists')), false);
  });
  it('checks attribute existence, including attributes without a value', () => {
    assert.deepEqual(select('attribute:stack exists'), ['t2a']);
    assert.deepEqual(select('attribute:stack !exists'), ['g2d', 'g2b']);
    assert.deepEqual(select('attribute:stack not_exists'), ['g2d', 'g2b']);
    assert.deepEqual(select('attribute:ecs.capability.docker-remote-api.1.30 exists'), ['t2a']);
    assert.deepEqual(select('attribute:stack != prod'), ['g2d', 'g2b'], 'missing attribute satisfies !=');
  });
  it('compares numbers, versions, dates and counts', () => {
    assert.deepEqual(select('attribute:cores > 9'), ['g2d'], 'numeric, not lexical, comparison');
    assert.deepEqual(select('runningTasksCount > 0'), ['t2a', 'g2b']);
    assert.deepEqual(select('runningTasksCount == 0'), ['g2d']);
    assert.deepEqual(select('agentVersion < 1.10.0'), ['g2d']);
    assert.deepEqual(select('agentVersion >= 1.20.0'), ['t2a']);
    assert.deepEqual(select('registeredAt < 2018-02-01'), ['g2d']);
    assert.deepEqual(select('registeredAt >= 2018-06-18T22:28:28Z'), ['t2a']);
    assert.deepEqual(select('registeredAt == 2018-06-18T22:28:28+00:00'), ['t2a']);
    assert.deepEqual(select('registeredAt > 2018-06-18T22:28:27'), ['t2a']);
  });
  it('filters disconnected agents (ListContainerInstances use)', () => {
    assert.deepEqual(select('agentConnected == false'), ['g2d']);
    assert.deepEqual(select('agentConnected==true'), ['t2a', 'g2b']);
  });
  it('honours precedence (and over or), parentheses and symbol operators', () => {
    assert.deepEqual(select('attribute:ecs.availability-zone == us-east-1a or attribute:ecs.availability-zone == us-east-1b and runningTasksCount > 5'), ['t2a']);
    assert.deepEqual(select('(attribute:ecs.availability-zone == us-east-1a or attribute:ecs.availability-zone == us-east-1b) and runningTasksCount > 2'), ['g2b']);
    assert.deepEqual(select('attribute:ecs.instance-type =~ g2.* && (agentConnected == true || runningTasksCount < 1)'), ['g2d', 'g2b']);
    assert.deepEqual(select('(attribute:ecs.instance-type =~ g2.*) AND NOT (ec2InstanceId == i-0000ffff)'), ['g2d']);
  });
});

describe('cluster query language: every example of the ECS Developer Guide', () => {
  const examples: [string, string[]][] = [
    ['attribute:ecs.instance-type == t2.small', ['t2a']],
    ['attribute:ecs.availability-zone in [us-east-1a, us-east-1b]', ['t2a', 'g2b']],
    ['attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d', ['g2b']],
    ['task:group == service:production', ['t2a']],
    ['not(task:group == database)', ['t2a', 'g2b']],
    ['runningTasksCount == 1', ['t2a']],
    ['agentVersion < 1.14.5', ['g2d']],
    ['registeredAt < 2018-02-13', ['g2d']],
    ["ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", ['t2a', 'g2d']],
  ];
  for (const [expr, want] of examples) it(expr, () => assert.deepEqual(select(expr), want));
});

describe('cluster query language: errors', () => {
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    ['attribute: == x', /attribute name/],
    ['instanceType == t2.small', /unknown subject 'instanceType'/],
    ['attribute:ecs.instance-type', /expected an operator/],
    ['attribute:ecs.instance-type === t2', /expected a value but found '='|unknown operator/],
    ['attribute:ecs.instance-type lt t2', /unknown operator 'lt'/],
    ['attribute:a ==', /expected a value but the input ended/],
    ['(attribute:a == b', /missing '\)'/],
    ['attribute:a == b)', /unexpected '\)'/],
    ['attribute:a in [b, c', /expected ',' or '\]'/],
    ['attribute:a == [b, c]', /takes a single value, not a list/],
    ["attribute:a == 'b", /unterminated quoted value/],
    ['attribute:a =~ (b', /not a valid regular expression/],
    ['registeredAt < yesterday', /not a valid date/],
    ['registeredAt in [2018-01-01]', /operator 'in' is not valid for subject 'registeredAt'/],
    ['ec2InstanceId > i-1', /operator '>' is not valid for subject 'ec2InstanceId'/],
    ['runningTasksCount > many', /whole number/],
    ['agentConnected == maybe', /true or false/],
    ['attribute:a == b and', /input ended/],
    ['attribute:a == b c == d', /unexpected 'c == d'/],
    ['x'.repeat(2001), /longer than 2000/],
  ];
  for (const [expr, msg] of bad) {
    it(`rejects ${JSON.stringify(expr.slice(0, 40))}`, () => {
      assert.throws(
        () => parseCql(expr),
        (e: unknown) => {
          assert.ok(e instanceof CqlError, 'a CqlError');
          assert.match(e.message, msg);
          assert.match(e.message, /^Invalid cluster query expression/);
          return true;
        },
      );
    });
  }
});
