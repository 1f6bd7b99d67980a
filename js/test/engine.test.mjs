// Where the engine runs and how data channels reach it. By default the
// engine runs in a dedicated Worker and each RTCDataChannel is transferred
// to it (the other tests cover that path). Here:
//   - transfer=0 forces the path of browsers that cannot transfer a data
//     channel: the channel stays on the page and its bytes are forwarded to
//     the worker over a MessagePort. Two tabs and a native peer converge,
//     and the tabs say they forwarded and transferred nothing;
//   - worker=0 (initialize({ worker: false })) runs the engine on the page:
//     such a tab syncs with a tab whose engine runs in a worker;
//   - a worker script that is not there rejects open() with a message that
//     names the URL and the way out.

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { putMany, queryUUIDs, runBinary, stats, uniqueRoom, waitConverged, waitFor, withEnv } from './lib/harness.mjs';

function lastStatus(peer) {
  return peer.jsonLines().filter((l) => 'records' in l && 'root' in l).at(-1);
}

test('forwarded data channels (transfer forced off): two tabs and a native peer converge', { timeout: 150_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('forward');
  const { ws } = await env.server();
  const dbFile = path.join(await env.tempDir(), 'native.db');
  for (let i = 1; i <= 5; i++) {
    runBinary('peerset', ['put', '--db', dbFile, '--room', room, '--moderation', 'open', '--text', `native #${i}`]);
  }
  const tabs = await Promise.all([1, 2].map((i) => env.openDemo({ room, label: `forwarding tab ${i}`, params: { transfer: '0' } })));
  const uuids = await Promise.all(tabs.map((page, i) => putMany(page, 40, `forwarding tab ${i + 1}`)));
  const native = env.spawn('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open']);
  const total = 5 + 80;
  const root = await waitConverged(tabs, total, {
    timeout: 60_000,
    extra: async () => { const s = lastStatus(native); return s ? [s] : [{ records: 'no status line yet' }]; },
  });
  t.diagnostic(`converged on ${total} records through forwarded channels, root ${root}`);
  for (const [i, page] of tabs.entries()) {
    await waitFor(`tab ${i + 1} to be connected to the other tab and the native peer`, async () => (await stats(page)).peers === 2, { timeout: 30_000 });
    const { engine } = await stats(page);
    assert.equal(engine.thread, 'worker', 'the engine runs in a worker');
    assert.ok(engine.dataChannels.forwarded >= 2, `tab ${i + 1} forwarded its channels: ${JSON.stringify(engine.dataChannels)}`);
    assert.equal(engine.dataChannels.transferred, 0, `tab ${i + 1} transferred none: ${JSON.stringify(engine.dataChannels)}`);
    const ids = new Set(await queryUUIDs(page));
    for (const u of uuids.flat()) assert.ok(ids.has(u), `tab ${i + 1} holds ${u}`);
  }
  // A larger message than one chunk, both ways, through the forwarded path:
  // a record with 40 KiB of data (several 16 KiB frames).
  const big = await tabs[0].evaluate(async () => (await window.db.put({ data: new Uint8Array(40 << 10).fill(7), mediaType: 'application/octet-stream' })).uuid);
  await waitFor('the 40 KiB record to reach the other tab', () => tabs[1].evaluate(async (u) => {
    const r = await window.db.get(u);
    return r && r.data.length === 40 << 10 && r.data.every((b) => b === 7);
  }, big), { timeout: 30_000 });
}));

test('the engine on the page (worker: false) syncs with a tab whose engine runs in a worker', { timeout: 120_000 }, withEnv(async (env) => {
  const room = uniqueRoom('on-page');
  const onPage = await env.openDemo({ room, label: 'engine on the page', params: { worker: '0' } });
  const inWorker = await env.openDemo({ room, label: 'engine in a worker' });
  const a = await putMany(onPage, 20, 'on the page');
  const b = await putMany(inWorker, 20, 'in a worker');
  await waitConverged([onPage, inWorker], 40, { timeout: 45_000 });
  assert.deepEqual(new Set(await queryUUIDs(onPage)), new Set([...a, ...b]));
  const { engine } = await stats(onPage);
  assert.equal(engine.thread, 'page');
  assert.ok(engine.dataChannels.onPage >= 1, JSON.stringify(engine.dataChannels));
  assert.equal(await onPage.evaluate(() => typeof globalThis.__peersetEngine), 'object', 'the engine script was loaded into the page');
}));

test('a worker script that is not there: open() rejects naming the URL and what to do', { timeout: 60_000 }, withEnv(async (env) => {
  const { http } = await env.server();
  const context = await env.freshContext(http);
  const page = env.watch(await context.newPage(), 'missing worker');
  await page.goto(`${http}/js/test/fixtures/stub.html`);
  const err = await page.evaluate(async () => {
    const peerset = await import('/js/dist/peerset.js');
    try {
      await peerset.initialize({ workerURL: '/nowhere/peerset.worker.js' });
      return null;
    } catch (e) {
      return { message: e.message, code: e.code };
    }
  });
  assert.ok(err, 'initialize() rejects');
  assert.equal(err.code, 'worker-failed');
  assert.match(err.message, /nowhere\/peerset\.worker\.js/);
  assert.match(err.message, /workerURL|worker-src|worker: false/);
}));
