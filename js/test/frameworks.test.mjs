// The React and Svelte examples built from the packed npm package, as a user
// would: `npm pack` of js/ (once, shared), the tarball installed into a
// temporary copy of each example with `npm ci` and its committed lockfile,
// `vite build`, the built dist/ served by cmd/tracker --static (tracker and
// app on one loopback port). Two tabs of the built app: a record put through
// the UI of one shows up in the other, both hold the same set, and leaving
// the room (unmounting the hook / destroying the store's component) closes
// the database and the peer goes away; joining again reopens it.
// Screenshots: out/screenshots/frameworks-{react,svelte}.png.
//
// npm runs from its cache here (no registry inside the namespace): run
// `node js/test/lib/frameworks.mjs warm` beforehand, outside it.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { gotoReady, screenshot, stats, uniqueRoom, waitConverged, waitFor, waitReady, withEnv } from './lib/harness.mjs';
import { checkNpm, frameworks, installExample, packPeerset, viteBuild } from './lib/frameworks.mjs';

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

let packDir;
let pack;
let packError;

before(async () => {
  packDir = await mkdtemp(path.join(os.tmpdir(), 'peerset-pack-'));
  try {
    await checkNpm();
    pack = await packPeerset(packDir);
    console.log(`frameworks: npm pack ${pack.filename} in ${(pack.ms / 1000).toFixed(1)} s`);
  } catch (err) {
    packError = err; // each test fails with it
  }
});

after(async () => {
  if (packDir) await rm(packDir, { recursive: true, force: true });
});

function text(page, selector) {
  return page.locator(selector).textContent({ timeout: 2000 }).catch(() => '');
}

async function shownPeers(page) {
  return Number((await text(page, '#peers')).trim());
}

for (const name of frameworks) {
  test(`${name}: the packed package in a Vite ${name} app syncs two tabs`, withEnv(async (env) => {
    if (packError) throw packError;
    const t0 = Date.now();
    const phases = [];
    let last = t0;
    const mark = (what) => { const now = Date.now(); phases.push(`${what} ${((now - last) / 1000).toFixed(1)} s`); last = now; };
    const work = await env.tempDir(`peerset-${name}-`);
    const install = await installExample(name, pack, work);
    const build = await viteBuild(install.dir, pack);
    mark('npm ci + vite build');

    const tracker = env.spawn('tracker', 'tracker', ['--addr', '127.0.0.1:0', '--static', build.dist]);
    const ws = (await tracker.waitLine('its ws:// URL', (l) => l.startsWith('ws://'), 15_000)).trim();
    const http = ws.replace(/^ws:/, 'http:').replace(/\/+$/, '');
    const room = uniqueRoom(name);
    // The tracker defaults to the page's own server, and a loopback tracker
    // means no STUN server: the test gives only room and moderation.
    const url = `${http}/?room=${encodeURIComponent(room)}&moderation=open`;

    const wasmResponses = [];
    const [a, b] = await Promise.all(['a', 'b'].map(async (label) => {
      const context = await env.freshContext(http);
      const page = env.watch(await context.newPage(), `${name} ${label}`);
      page.on('response', (r) => {
        if (r.url().endsWith('.wasm')) wasmResponses.push({ url: r.url(), status: r.status(), type: r.headers()['content-type'] });
      });
      await gotoReady(page, url);
      return page;
    }));
    mark('two tabs open');

    assert.ok(wasmResponses.length >= 2 && wasmResponses.every((r) => r.status === 200 && r.url.endsWith(build.wasmAsset.split(path.sep).join('/'))),
      `each tab should load the wasm asset vite copied (${build.wasmAsset}); got ${JSON.stringify(wasmResponses)}`);

    await waitFor('both tabs to show one peer', async () => (await shownPeers(a)) === 1 && (await shownPeers(b)) === 1,
      { timeout: 30_000, state: async () => ({ a: await text(a, '#peers'), b: await text(b, '#peers') }) });
    mark('peers');

    // A record typed into one tab appears in the other's list.
    const hello = `hello from ${name} tab a ${Date.now()}`;
    await a.fill('#text', hello);
    await a.click('#put');
    await b.locator('#records li', { hasText: hello }).waitFor({ timeout: 20_000 });
    // And the other way round.
    const reply = `reply from ${name} tab b ${Date.now()}`;
    await b.fill('#text', reply);
    await b.click('#put');
    await a.locator('#records li', { hasText: reply }).waitFor({ timeout: 20_000 });

    const root = await waitConverged([a, b], 2, { timeout: 20_000 });
    mark('two puts synced');
    assert.match(String(root), /^[0-9a-f]+$/i);
    for (const page of [a, b]) {
      const [sa, shown, items] = [await stats(page), Number(await text(page, '#record-count')), await page.locator('#records li').count()];
      assert.equal(sa.records, 2, 'stats().records');
      assert.equal(shown, 2, `#record-count should show stats().records (tab ${page === a ? 'a' : 'b'})`);
      assert.equal(items, 2, 'the list shows both records');
    }
    const putError = await a.locator('#error').count();
    assert.equal(putError, 0, `no error shown: ${await text(a, '#error')}`);

    // Leaving unmounts the hook (React) / destroys the store's subscriber
    // (Svelte): the database closes and tab b loses its peer.
    await a.evaluate(() => { window.leftDb = window.db; });
    await a.click('#join');
    await waitFor('tab a to close its database on leaving', () => a.evaluate(() => window.leftDb.closed && window.db === undefined && !document.body.dataset.ready),
      { timeout: 10_000 });
    await waitFor('tab b to see no peer once tab a left', async () => (await stats(b)).peers === 0 && (await shownPeers(b)) === 0,
      { timeout: 30_000, state: async () => ({ peers: (await stats(b)).peers, shown: await text(b, '#peers') }) });
    mark('leave');

    // Joining again opens the room anew: the records are back from IndexedDB
    // and the peers find each other again.
    await a.click('#join');
    await waitReady(a);
    assert.equal(await a.evaluate(() => window.db !== window.leftDb && !window.db.closed), true, 'joining again opens a new database');
    await waitFor('tab a to list its records again', async () => Number(await text(a, '#record-count')) === 2, { timeout: 15_000 });
    await waitFor('both tabs to show one peer again', async () => (await shownPeers(a)) === 1 && (await shownPeers(b)) === 1, { timeout: 30_000 });
    mark('join again');
    const again = `again from ${name} tab a ${Date.now()}`;
    await a.fill('#text', again);
    await a.click('#put');
    await b.locator('#records li', { hasText: again }).waitFor({ timeout: 20_000 });
    await waitConverged([a, b], 3, { timeout: 20_000 });
    mark('third put synced');
    await screenshot(b, `frameworks-${name}`);

    console.log(`frameworks: ${name}: npm ci ${(install.ms / 1000).toFixed(1)} s, vite build ${(build.ms / 1000).toFixed(1)} s, ${phases.join(', ')}; total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }));
}
