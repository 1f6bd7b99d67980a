// Acceptance 3: two tabs and a native `peerset join` peer (pion, loopback
// ICE) converge in one room; the native peer's records were seeded with
// `peerset put` before it joined.

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { putMany, queryUUIDs, runBinary, shownCount, stats, uniqueRoom, waitConverged, waitFor, withEnv } from './lib/harness.mjs';

// lastStatus is the native peer's latest {"peers","records","root"} line.
function lastStatus(peer) {
  const lines = peer.jsonLines().filter((l) => 'records' in l && 'root' in l);
  return lines.at(-1);
}

test('two tabs and a native peerset join peer converge', { timeout: 150_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('native');
  const { ws } = await env.server();
  const dbFile = path.join(await env.tempDir(), 'native.db');
  const nativeUUIDs = [];
  for (let i = 1; i <= 8; i++) {
    const event = JSON.parse(runBinary('peerset', ['put', '--db', dbFile, '--room', room, '--moderation', 'open', '--text', `from the native peer #${i}`]));
    nativeUUIDs.push(event.tags.find((tag) => tag[0] === 'd')[1]);
  }

  const tabs = await Promise.all([1, 2].map((i) => env.openDemo({ room, label: `tab ${i}` })));
  const tabUUIDs = await Promise.all(tabs.map((page, i) => putMany(page, 15, `tab ${i + 1} record`)));

  const native = env.spawn('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open']);
  const total = nativeUUIDs.length + 30;
  const root = await waitConverged(tabs, total, {
    timeout: 60_000,
    extra: async () => { const s = lastStatus(native); return s ? [s] : [{ records: 'no status line yet' }]; },
  });
  t.diagnostic(`converged on ${total} records, root ${root}`);

  assert.equal(String(lastStatus(native).root).toLowerCase(), String(root).toLowerCase(), 'the native peer announces the tabs\' root');
  const union = new Set([...nativeUUIDs, ...tabUUIDs.flat()]);
  for (const [i, page] of tabs.entries()) {
    assert.deepEqual(new Set(await queryUUIDs(page)), union, `tab ${i + 1} holds the native peer's records and the other tab's`);
    // The records may have travelled a line (tab–native–tab) before the
    // third connection opened: the mesh must form, not at that very moment.
    await waitFor(`tab ${i + 1} to be connected to the other tab and the native peer`, async () => (await stats(page)).peers === 2, { timeout: 30_000 });
    await waitFor(`tab ${i + 1}'s #record-count to show ${total}`, async () => (await shownCount(page)) === total, { timeout: 10_000 });
  }
  await waitFor('the native peer to be connected to both tabs', async () => lastStatus(native).peers === 2, { timeout: 30_000 });

  const stopped = await native.stop();
  assert.equal(stopped.code, 0, `peerset join exits cleanly on SIGTERM (got code ${stopped.code}, signal ${stopped.signal})`);
}));
