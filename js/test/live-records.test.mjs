// The live record set the React and Svelte examples share
// (examples/shared/live-records.js), against a fake database whose whole-set
// read the test holds open while changes arrive. Runs in Node (no browser
// needed): the logic above the API, not the API.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { liveRecords } from '../../examples/shared/live-records.js';

const rec = (id, createdAt) => ({ id, createdAt, text: id });
const tick = (ms = 40) => new Promise((r) => setTimeout(r, ms));

// fakeDB: query() resolves when the test says; emit() delivers a 'record'
// event to the listener.
function fakeDB() {
  let listener = null;
  const reads = [];
  return {
    on(type, fn) {
      assert.equal(type, 'record');
      listener = fn;
      return () => { listener = null; };
    },
    query() {
      return new Promise((resolve) => reads.push(resolve));
    },
    emit(e) { listener?.(e); },
    reads,
  };
}

const ids = (live) => live.records().map((r) => r.id);

test('changes that arrive while the whole set is read are not lost nor undone', async () => {
  const db = fakeDB();
  let calls = 0;
  const live = liveRecords(db, () => { calls++; });
  // The first read started; meanwhile b is removed (the read saw it) and c
  // is added (the read missed it).
  assert.equal(db.reads.length, 1);
  db.emit({ record: rec('b', 2), removed: true });
  db.emit({ record: rec('c', 3) });
  db.reads[0]([rec('a', 1), rec('b', 2)]);
  await live.ready;
  assert.deepEqual(ids(live), ['c', 'a']);

  // An overflow reads the whole set again: the same holds, and a record the
  // new read no longer has (removed while the change was dropped) goes.
  db.emit({ overflow: true, missed: 12 });
  assert.equal(db.reads.length, 2);
  db.emit({ record: rec('d', 4) });
  db.emit({ record: rec('a', 1), removed: true });
  db.reads[1]([rec('a', 1), rec('c', 3), rec('e', 5)]);
  await tick();
  assert.deepEqual(ids(live), ['e', 'd', 'c']);

  // Once no read runs, changes apply directly and nothing is remembered.
  db.emit({ record: rec('c', 3), removed: true });
  await tick();
  assert.deepEqual(ids(live), ['e', 'd']);
  assert.ok(calls > 0, 'onChange was called');
  live.stop();
  db.emit({ record: rec('f', 6) });
  await tick();
  assert.deepEqual(ids(live), ['e', 'd'], 'no change after stop()');
});
