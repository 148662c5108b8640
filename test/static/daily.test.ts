import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DAILY_ROUNDS, dailyDeal, dailySeed, localDate, seededDeal, shareLine } from '../../src/static/daily.js';
import { Rng } from '../../src/util/rng.js';

test('a date and a site seed always deal the same five distinct photos; another date or site deals others', () => {
  const a = dailyDeal('2026-12-04', 7, 100);
  assert.deepEqual(dailyDeal('2026-12-04', 7, 100), a);
  assert.equal(a.length, DAILY_ROUNDS);
  assert.equal(new Set(a).size, DAILY_ROUNDS);
  assert.ok(a.every((i) => Number.isInteger(i) && i >= 0 && i < 100));
  assert.notDeepEqual(dailyDeal('2026-12-05', 7, 100), a);
  assert.notDeepEqual(dailyDeal('2026-12-04', 8, 100), a);
  assert.deepEqual(dailyDeal('2026-12-04', 7, 3).sort(), [0, 1, 2], 'a site with fewer photos plays them all');
  assert.throws(() => dailySeed('4 Dec 2026', 7), /YYYY-MM-DD/);
});

test("a free game's deal is the server's (game.ts shuffles the cards with Rng(seed))", () => {
  const cards = Array.from({ length: 30 }, (_, i) => i);
  assert.deepEqual(seededDeal(42, 30, 10), new Rng(42).shuffle([...cards]).slice(0, 10));
});

test('localDate is the calendar date where the player is', () => {
  assert.equal(localDate(new Date(2026, 0, 5, 23, 59)), '2026-01-05');
});

test('the share line has a square per round and the totals, and names no city', () => {
  const line = shareLine('2026-12-04', { name: 'me', rounds: [true, false, true, true, false], points: 12345 }, [
    { name: 'spikformer-2-128', rounds: [true, true, false, false, false], points: 8000 },
  ]);
  assert.equal(
    line,
    'geospike daily 2026-12-04\nme 🟩🟥🟩🟩🟥 3/5 12,345 pts\nspikformer-2-128 🟩🟩🟥🟥🟥 2/5 8,000 pts',
  );
  assert.equal(
    shareLine('2026-12-04', { name: 'me', rounds: [false], points: null }, []),
    'geospike daily 2026-12-04\nme 🟥 0/1',
  );
});
