// Mesh signalling in the browser: two tabs that share no tracker and no
// relay (tab A announces only on tracker 1, tab C only on tracker 2) and a
// native `peerset join` peer on both trackers. The only way for A and C to
// learn of each other and exchange an offer and an answer is through the
// native peer's mesh (peer exchange, sealed offers and answers relayed by a
// member): the test asserts that they end directly connected, each holding
// an authenticated session with the other, and that their records travel.

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { putMany, queryUUIDs, stats, uniqueRoom, waitConverged, waitFor, withEnv } from './lib/harness.mjs';

// sessionWith reports whether page holds an authenticated session with the
// peer whose transport id is peerId.
async function sessionWith(page, peerId) {
  const s = await stats(page);
  return s.sessions.some((x) => x.peerId === peerId && x.authenticated);
}

test('two tabs on different trackers connect through a native peer\'s mesh', { timeout: 300_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('mesh');
  const { ws: tracker1 } = await env.server();
  const second = env.spawn('tracker 2', 'tracker', ['--addr', '127.0.0.1:0']);
  const tracker2 = (await second.waitLine('its ws:// URL', (l) => l.startsWith('ws://'), 15_000)).trim();
  assert.notEqual(tracker1, tracker2);

  const dbFile = path.join(await env.tempDir(), 'hub.db');
  const hub = env.spawn('peerset join (hub)', 'peerset', ['join', '--db', dbFile, '--room', room,
    '--tracker', tracker1, '--tracker', tracker2, '--json', '--ice-loopback', '--moderation', 'open']);

  const a = await env.openDemo({ room, label: 'A (tracker 1)', tracker: tracker1 });
  const c = await env.openDemo({ room, label: 'C (tracker 2)', tracker: tracker2 });
  for (const [page, want] of [[a, tracker1], [c, tracker2]]) {
    const s = await stats(page);
    assert.deepEqual(s.trackers.map((x) => x.url), [want], 'each tab announces on one tracker only');
    assert.deepEqual(s.relays, [], 'and on no relay');
  }
  const idA = (await stats(a)).peerId;
  const idC = (await stats(c)).peerId;
  assert.ok(idA && idC && idA !== idC, `both tabs are online with their own peer ids (${idA}, ${idC})`);

  // Both reach the hub through their tracker, then each other through it.
  await waitFor('A and C to hold authenticated sessions with each other', async () => (await sessionWith(a, idC)) && (await sessionWith(c, idA)), {
    timeout: 60_000,
    interval: 500,
    state: async () => ({
      a: (await stats(a)).sessions.map((x) => [x.peerId, x.state]),
      c: (await stats(c)).sessions.map((x) => [x.peerId, x.state]),
    }),
  });
  const sa = await stats(a);
  assert.ok(sa.sessions.length >= 2, `A holds the hub and C (${sa.sessions.length} sessions)`);
  t.diagnostic(`A holds ${sa.sessions.length} sessions, C ${(await stats(c)).sessions.length}; they met through the hub's mesh`);

  const uuids = await Promise.all([a, c].map((page, i) => putMany(page, 5, `mesh tab ${i ? 'C' : 'A'}`)));
  await waitConverged([a, c], 10, { timeout: 60_000 });
  const union = new Set(uuids.flat());
  for (const page of [a, c]) assert.deepEqual(new Set(await queryUUIDs(page)), union);
  const stopped = await hub.stop();
  assert.equal(stopped.code, 0, `peerset join exits cleanly on SIGTERM (got code ${stopped.code}, signal ${stopped.signal})`);
}));
