// Two tabs configured with only a loopback Nostr relay (cmd/nostrrelay; no
// tracker at all) and a native `peerset join --relay` peer find each other
// through it and converge; stats() and the demo's Network UI list the
// relay, open, and no tracker.

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { putMany, queryUUIDs, runBinary, stats, uniqueRoom, waitConverged, waitFor, withEnv } from './lib/harness.mjs';

// lastStatus is the native peer's latest {"peers","records","root"} line.
function lastStatus(peer) {
  return peer.jsonLines().filter((l) => 'records' in l && 'root' in l).at(-1);
}

test('two tabs and a native peer with only a Nostr relay converge', { timeout: 150_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('relay');
  const relayProc = env.spawn('nostrrelay', 'nostrrelay', ['--addr', '127.0.0.1:0']);
  const relay = (await relayProc.waitLine('its ws:// URL', (l) => l.startsWith('ws://'), 15_000)).trim();

  const dbFile = path.join(await env.tempDir(), 'native.db');
  const nativeUUIDs = [];
  for (let i = 1; i <= 5; i++) {
    const event = JSON.parse(runBinary('peerset', ['put', '--db', dbFile, '--room', room, '--moderation', 'open', '--text', `from the native peer #${i}`]));
    nativeUUIDs.push(event.tags.find((tag) => tag[0] === 'd')[1]);
  }

  const tabs = await Promise.all([1, 2].map((i) => env.openDemo({ room, label: `tab ${i}`, params: { relay } })));
  for (const [i, page] of tabs.entries()) {
    const s = await stats(page);
    assert.deepEqual(s.trackers, [], `tab ${i + 1} uses no tracker`);
    assert.equal(s.relays.length, 1, `tab ${i + 1} has one relay`);
    assert.equal(s.relays[0].url, relay);
  }
  const uuids = await Promise.all(tabs.map((page, i) => putMany(page, 10, `tab ${i + 1} record`)));
  const native = env.spawn('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--relay', relay, '--json', '--ice-loopback', '--moderation', 'open']);

  const total = 20 + nativeUUIDs.length;
  const root = await waitConverged(tabs, total, {
    timeout: 60_000,
    extra: async () => { const s = lastStatus(native); return s ? [s] : [{ records: 'no status line yet' }]; },
  });
  t.diagnostic(`converged on ${total} records through the relay, root ${root}`);

  const union = new Set([...nativeUUIDs, ...uuids.flat()]);
  for (const [i, page] of tabs.entries()) {
    assert.deepEqual(new Set(await queryUUIDs(page)), union, `tab ${i + 1} holds the other tab's and the native peer's records`);
    const s = await stats(page);
    assert.equal(s.relays[0].state, 'open', `tab ${i + 1}'s relay is open`);
    assert.ok(s.relays[0].received > 0, `tab ${i + 1} received signals through the relay`);
    // The Network UI lists the relay beside the (empty) tracker table.
    await waitFor(`tab ${i + 1}'s relay table to show the relay`, async () => page.evaluate((url) => {
      const table = document.querySelector('#relay-table');
      return !table.hidden && [...table.querySelectorAll('tbody td')].some((td) => td.textContent === url);
    }, relay), { timeout: 10_000 });
    const trackerRows = await page.evaluate(() => document.querySelector('#tracker-table tbody').textContent);
    assert.match(trackerRows, /relays only/, `tab ${i + 1}'s tracker table says there are none`);
  }
  const stopped = await native.stop();
  assert.equal(stopped.code, 0, `peerset join exits cleanly on SIGTERM (got code ${stopped.code}, signal ${stopped.signal})`);
}));
