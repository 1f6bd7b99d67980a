// Acceptance 2: a reloaded tab has its records back from IndexedDB before
// any peer connects, and after it resyncs with another tab there are no
// duplicates: counts equal the union and db.query() uuids are unique.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { putMany, queryUUIDs, shownCount, stats, uniqueRoom, waitConverged, waitFor, waitReady, withEnv } from './lib/harness.mjs';

test('a reloaded tab has its records from IndexedDB before any peer, and no duplicates after resync', { timeout: 150_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('reload');
  const { http } = await env.server();
  const profile = await env.persistentContext(http); // on disk: IndexedDB survives the reload
  const alone = await env.openDemo({ room, context: profile, label: 'reloaded' });

  const mine = await putMany(alone, 40, 'kept across a reload');
  const before = await stats(alone);
  assert.equal(before.records, 40);
  assert.equal(before.peers, 0, 'the tab is alone in a fresh room');

  await alone.reload({ waitUntil: 'domcontentloaded' });
  await waitReady(alone);
  const afterReload = await stats(alone); // right after ready, still alone
  assert.equal(afterReload.peers, 0, 'no peer could have connected: the room has no one else');
  assert.equal(afterReload.records, 40, 'the 40 records came back from IndexedDB');
  assert.equal(afterReload.root, before.root, 'the same set, the same root');
  assert.equal(afterReload.key, before.key, 'the same key (kept in IndexedDB)');
  assert.deepEqual(new Set(await queryUUIDs(alone)), new Set(mine));
  await waitFor('#record-count to show 40 after the reload', async () => (await shownCount(alone)) === 40, { timeout: 10_000 });

  // Another tab with records of its own joins; both end with the union.
  const other = await env.openDemo({ room, label: 'other' });
  const theirs = await putMany(other, 25, 'from the other tab');
  await waitConverged([alone, other], 65, { timeout: 45_000 });

  // Reload once more while the other tab is online: the records come from
  // IndexedDB and again through the resync, and must not double.
  await alone.reload({ waitUntil: 'domcontentloaded' });
  await waitReady(alone);
  const early = await stats(alone);
  t.diagnostic(`right after the second reload: ${early.records} records, ${early.peers} peers`);
  assert.equal(early.records, 65, 'all 65 records (its own and the synced ones) came back from IndexedDB');
  await waitFor('the reloaded tab to reconnect', async () => (await stats(alone)).peers === 1, { timeout: 30_000 });
  await waitConverged([alone, other], 65, { timeout: 30_000 });

  const union = new Set([...mine, ...theirs]);
  for (const [name, page] of [['reloaded', alone], ['other', other]]) {
    const ids = await queryUUIDs(page);
    assert.equal(ids.length, union.size, `${name}: db.query() returns the union, ${union.size} records`);
    assert.equal(new Set(ids).size, ids.length, `${name}: db.query() uuids are unique`);
    assert.deepEqual(new Set(ids), union, `${name}: exactly the union`);
    await waitFor(`${name}'s #record-count to show ${union.size}`, async () => (await shownCount(page)) === union.size, { timeout: 10_000 });
  }
}));
