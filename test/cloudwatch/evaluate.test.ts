// The alarm evaluation rule on its own (pure): M of N breaching periods, missing data treated as
// TreatMissingData says, and the current period counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateAlarm } from '../../src/domain/cloudwatch/alarms.js';

const base = { statistic: 'Sum', period: 60, evaluationPeriods: 3, threshold: 10, comparisonOperator: 'GreaterThanThreshold' as const, treatMissingData: 'missing' as const };
const now = 10 * 60_000 + 5_000; // 5 s into the period starting at minute 10
const at = (min: number, sum: number) => ({ t: min * 60_000, n: 1, sum, min: sum, max: sum, unit: 'None' });

test('evaluateAlarm: M of N breaching periods make ALARM, else OK; the current period counts', () => {
  assert.equal(evaluateAlarm(base, [at(8, 11), at(9, 12), at(10, 13)], now)?.state, 'ALARM');
  assert.equal(evaluateAlarm(base, [at(8, 11), at(9, 1), at(10, 13)], now)?.state, 'OK');
  assert.equal(evaluateAlarm({ ...base, datapointsToAlarm: 2 }, [at(8, 11), at(9, 1), at(10, 13)], now)?.state, 'ALARM');
  assert.equal(evaluateAlarm(base, [at(7, 99), at(8, 1)], now)?.state, 'OK', 'a period before the range does not count');
  assert.equal(evaluateAlarm({ ...base, evaluationPeriods: 1 }, [at(10, 11)], now)?.state, 'ALARM');
});

test('evaluateAlarm: missing data as TreatMissingData says', () => {
  assert.equal(evaluateAlarm(base, [], now)?.state, 'INSUFFICIENT_DATA');
  assert.equal(evaluateAlarm({ ...base, treatMissingData: 'notBreaching' }, [], now)?.state, 'OK');
  assert.equal(evaluateAlarm({ ...base, treatMissingData: 'breaching' }, [], now)?.state, 'ALARM');
  assert.equal(evaluateAlarm({ ...base, treatMissingData: 'ignore' }, [], now), undefined, 'ignore keeps the state');
  assert.equal(evaluateAlarm({ ...base, treatMissingData: 'breaching' }, [at(10, 1)], now)?.state, 'OK', 'two missing breaching periods are not three');
  const avg = { ...base, evaluationPeriods: 1, statistic: 'Average', threshold: 5 };
  assert.equal(evaluateAlarm(avg, [{ t: 10 * 60_000, n: 4, sum: 24, min: 1, max: 9, unit: 'None' }], now)?.state, 'ALARM', 'average 6 > 5');
  assert.equal(evaluateAlarm(avg, [{ t: 10 * 60_000, n: 4, sum: 20, min: 1, max: 9, unit: 'None' }], now)?.state, 'OK', 'average 5 is not > 5');
});
