// Issue 10, who holds my records: in a room of three peers, the author's
// db.holders(uuid) reaches { count: 2, peers: [the two others' npubs] },
// stats().held counts them, and the peers' 'record' events carry heldBy.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { uniqueRoom, waitFor, withEnv } from './lib/harness.mjs';
import { dbStats, openAPIPage, tryPut, waitRecord } from './lib/api.mjs';

test('holders() reaches 2 in a room of three peers; stats().held and heldBy follow', { timeout: 180_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('holders');
  const pages = await Promise.all(['author', 'peer 1', 'peer 2'].map((label) => openAPIPage(env, { label })));
  const keys = await Promise.all(pages.map((page) => page.evaluate(async (room) => {
    window.__records = [];
    window.db = await window.openRoom({ room });
    window.db.on('record', (e) => window.__records.push({ uuid: e.uuid, heldBy: e.heldBy, removed: e.removed, origin: e.origin }));
    return window.db.key;
  }, room)));
  const [author, ...peers] = pages;
  const put = await tryPut(author, { text: 'who holds this?' });
  assert.ok(put.ok);
  const uuid = put.record.uuid;
  const before = await author.evaluate((u) => window.db.holders(u), uuid);
  assert.equal(before.count, before.peers.length, 'count is the number of peers');

  for (const [i, page] of peers.entries()) await waitRecord(page, uuid, `peer ${i + 1} to receive the record`);
  const held = await waitFor('holders() to name both peers', async () => {
    const h = await author.evaluate((u) => window.db.holders(u), uuid);
    return h.count === 2 && h;
  }, { timeout: 60_000, state: () => author.evaluate((u) => window.db.holders(u), uuid) });
  assert.deepEqual(new Set(held.peers), new Set(keys.slice(1)), 'the holders are the two peers\' npubs');
  const st = await waitFor('stats().held to count 2', async () => { const s = await dbStats(author); return s.held[uuid] === 2 && s; }, { timeout: 30_000 });
  t.diagnostic(`holders ${JSON.stringify(held)}; stats().held ${JSON.stringify(st.held)}`);

  for (const [i, page] of peers.entries()) {
    const ev = (await page.evaluate(() => window.__records)).find((e) => e.uuid === uuid && !e.removed);
    assert.ok(ev, `peer ${i + 1} got a record event`);
    assert.ok(ev.heldBy >= 1, `peer ${i + 1}: heldBy counts the peer that sent it at least: ${JSON.stringify(ev)}`);
  }
  // Whole messages: "peerset: " said once, by the bridge (issue 12).
  const missing = '00000000-0000-4000-8000-000000000000';
  const unknown = await author.evaluate(async (u) => { try { return await window.db.holders(u); } catch (err) { return { code: err.code, message: err.message }; } }, missing);
  assert.deepEqual(unknown, { code: 'not-found', message: `peerset: record not found: ${missing}` }, 'holders() of an unknown record');
  const gone = await author.evaluate(async (u) => { try { return await window.db.delete(u); } catch (err) { return { code: err.code, message: err.message }; } }, missing);
  assert.deepEqual(gone, { code: 'not-found', message: `peerset: failed to delete: record not found: no record ${missing} by this node's key` }, 'delete() of an unknown record');
}));
