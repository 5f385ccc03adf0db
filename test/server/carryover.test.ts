import assert from 'node:assert/strict';
import { test } from 'node:test';
import { carryOver } from '../../server/src/features/diagnostics';

const finding = (start: number, end: number) => ({ code: 'X', message: 'm', span: { start, end } });

test('findings before an edit stay, after it shift, and touched by it go', () => {
  const before = 'aaaa bbbb cccc';
  const after = 'aaaa bbXXXbb cccc';
  const carried = carryOver(before, after, [finding(0, 4), finding(5, 9), finding(10, 14)]);
  assert.deepEqual(carried.map((f) => [f.span.start, f.span.end]), [[0, 4], [13, 17]]);
  assert.equal(after.slice(13, 17), 'cccc');
});

test('identical texts keep everything; a deletion shifts back', () => {
  assert.equal(carryOver('abc', 'abc', [finding(0, 3)]).length, 1);
  const carried = carryOver('one two xyz', 'one xyz', [finding(8, 11)]);
  assert.deepEqual(carried.map((f) => f.span), [{ start: 4, end: 7 }]);
});
