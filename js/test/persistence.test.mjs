// Acceptance 2: a reloaded tab has its records back from IndexedDB before
// any peer connects, and after it resyncs with another tab there are no
// duplicates: counts equal the union and db.query() uuids are unique.
//
// L2: a key kept in the clear in IndexedDB (readable by any script of the
// origin) is announced by db.keyStorage and a warning on the page, readable
// at 390 px; with a passphrase the key is encrypted and the warning goes.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { putMany, queryUUIDs, screenshot, shownCount, stats, uniqueRoom, waitConverged, waitFor, waitReady, withEnv } from './lib/harness.mjs';

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

// keyWarningLayout measures the key warning and where the panels start.
function keyWarningLayout(page) {
  return page.evaluate(() => {
    const w = document.querySelector('#key-warning');
    const box = w.getBoundingClientRect();
    const main = document.querySelector('main').getBoundingClientRect();
    const text = w.querySelector('p');
    return {
      visible: !w.hidden && box.height > 0,
      left: box.left, right: box.right, bottom: box.bottom, mainTop: main.top,
      viewport: document.documentElement.clientWidth,
      clipped: w.scrollWidth > w.clientWidth + 1 || text.scrollWidth > text.clientWidth + 1,
      fontSize: parseFloat(getComputedStyle(text).fontSize),
      position: getComputedStyle(w).position,
      text: w.textContent.replace(/\s+/g, ' ').trim(),
    };
  });
}

test('a key kept in the clear is announced, with a warning readable at 390 px; a passphrase encrypts it', { timeout: 150_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('key-warning');
  const { http } = await env.server();
  const profile = await env.persistentContext(http);
  const page = await env.openDemo({ room, context: profile, label: 'key' });

  assert.equal(await page.evaluate(() => window.db.keyStorage), 'clear', 'without a passphrase db.keyStorage is "clear"');
  assert.equal((await stats(page)).keyStorage, 'clear', 'stats().keyStorage too');
  const key = (await stats(page)).key;

  await page.setViewportSize({ width: 390, height: 844 });
  const layout = await waitFor('#key-warning to be shown', async () => {
    const l = await keyWarningLayout(page);
    return l.visible && l;
  }, { timeout: 10_000, state: () => keyWarningLayout(page) });
  t.diagnostic(`warning at 390 px: ${JSON.stringify(layout)}`);
  assert.match(layout.text, /unencrypted/, 'the warning says the key is unencrypted');
  assert.match(layout.text, /passphrase/, 'and what to do');
  assert.ok(layout.left >= 0 && layout.right <= layout.viewport, `the warning fits in ${layout.viewport} px (${layout.left}–${layout.right})`);
  assert.equal(layout.clipped, false, 'no text of the warning is cut off');
  assert.ok(layout.fontSize >= 12, `readable text (${layout.fontSize} px)`);
  assert.ok(layout.position !== 'fixed' && layout.position !== 'absolute' && layout.bottom <= layout.mainTop + 1,
    `the warning sits above the panels, not over them (bottom ${layout.bottom}, panels from ${layout.mainTop})`);
  t.diagnostic(`screenshot: ${await screenshot(page, 'key-warning-390')}`);

  // The warning's button leads to the passphrase; applying it encrypts the key.
  await page.click('#key-warning-fix');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'set-passphrase', 'the button focuses the passphrase field');
  await page.fill('#set-passphrase', 'correct horse battery staple');
  await page.click('#settings-apply');
  await waitFor('the room to reopen with the key encrypted', async () => (await page.evaluate(() => window.db?.keyStorage)) === 'encrypted', { timeout: 30_000 });
  await waitReady(page);
  assert.equal((await stats(page)).key, key, 'the same key, now encrypted');
  assert.equal(await page.locator('#key-warning').isVisible(), false, 'no warning once the key is encrypted');
  assert.ok(!page.url().includes('correct'), 'the passphrase is not put in the URL');
  t.diagnostic(`screenshot: ${await screenshot(page, 'key-encrypted-390')}`);

  // After a reload the page cannot open the room without the passphrase,
  // and asks for it; with it, the same key and no warning.
  await page.reload({ waitUntil: 'domcontentloaded' });
  await waitFor('#error to ask for the passphrase', async () => /passphrase/.test((await page.locator('#error').textContent()) || ''), {
    timeout: 30_000, state: () => page.locator('#error').textContent(),
  });
  await page.fill('#set-passphrase', 'correct horse battery staple');
  await page.click('#settings-apply');
  await waitReady(page);
  assert.equal(await page.evaluate(() => window.db.keyStorage), 'encrypted');
  assert.equal((await stats(page)).key, key, 'the passphrase opens the same key');
  assert.equal(await page.locator('#key-warning').isVisible(), false, 'still no warning');
}));

// snapshotState reads, from the page, the engine's index snapshot in
// IndexedDB (pkg/store/idb: meta 'peerset/idb-snapshot', the 8-byte
// generation it was saved at, then the data) and says whether it is current
// (the generation is still 'peerset/idb-generation') and how many rows the
// journal of changes since it holds (schema 5); with damage, it flips a
// byte of the data first.
function snapshotStateOf(page, name, damage = false) {
  return page.evaluate(({ name, damage }) => new Promise((resolve, reject) => {
    const open = indexedDB.open(name);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const idb = open.result;
      const tx = idb.transaction(['meta', 'journal'], 'readwrite');
      const meta = tx.objectStore('meta');
      const gen = meta.get('peerset/idb-generation');
      const snap = meta.get('peerset/idb-snapshot');
      const rows = tx.objectStore('journal').count();
      let state;
      rows.onsuccess = () => { state.journal = rows.result; };
      snap.onsuccess = () => {
        const v = snap.result;
        if (!(v instanceof Uint8Array) || typeof gen.result !== 'string') { state = { exists: Boolean(v), current: false }; return; }
        const hex = [...v.slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
        state = { exists: true, current: hex === gen.result, bytes: v.length };
        if (damage) {
          const copy = v.slice();
          copy[8 + Math.floor((copy.length - 8) / 2)] ^= 0x40;
          meta.put(copy, 'peerset/idb-snapshot');
        }
      };
      tx.oncomplete = () => { idb.close(); resolve(state); };
      tx.onerror = () => reject(tx.error);
    };
  }), { name, damage });
}

test('a reload opens from the index snapshot and the journal of changes since, and rebuilds when the snapshot is damaged', { timeout: 150_000 }, withEnv(async (env) => {
  const room = uniqueRoom('snapshot');
  const { http } = await env.server();
  const profile = await env.persistentContext(http);
  const tab = await env.openDemo({ room, context: profile, label: 'snapshot' });
  const name = await tab.evaluate(() => window.db.databaseName);
  const state = (damage) => snapshotStateOf(tab, name, damage);

  await putMany(tab, 30, 'snapshot');
  const saved = await stats(tab);
  await waitFor('a current snapshot after the writes', async () => (await state()).current, { timeout: 30_000 });
  await tab.reload({ waitUntil: 'domcontentloaded' });
  await waitReady(tab);
  let now = await stats(tab);
  assert.equal(now.records, 30, 'reopened from the snapshot: 30 records');
  assert.equal(now.root, saved.root, 'the same root as before the reload');
  assert.equal(now.loading, false, 'from a current snapshot the index is loaded at ready');
  assert.equal(now.indexFrom, 'snapshot');

  // A write after the snapshot: it changes the generation and adds a row to
  // the journal in its own transaction, and the reload comes before the
  // next save. The reload opens from the snapshot and the journal.
  await putMany(tab, 1, 'after the snapshot');
  const behind = await state();
  assert.equal(behind.current, false, 'a write changes the generation at once');
  assert.equal(behind.journal, 1, 'and adds one journal row');
  const before = await stats(tab);
  await tab.reload({ waitUntil: 'domcontentloaded' });
  await waitReady(tab);
  now = await stats(tab);
  assert.equal(now.indexFrom, 'snapshot', 'the snapshot and its journal were used');
  assert.equal(now.loading, false, 'the index is loaded at ready');
  assert.equal(now.records, 31, 'the write after the snapshot is there: 31 records');
  assert.equal(now.root, before.root, 'the same root as before the reload');
  await waitFor('a new snapshot, and the journal emptied', async () => { const st = await state(); return st.current && st.journal === 0; }, { timeout: 30_000 });

  // Damaged: current by its generation, but a byte of it flipped.
  await waitFor('a current snapshot again', async () => (await state()).current, { timeout: 30_000 });
  assert.equal((await state(true)).current, true);
  await tab.reload({ waitUntil: 'domcontentloaded' });
  await waitReady(tab);
  await waitFor('the index rebuilt from the store', async () => !(await stats(tab)).loading, { timeout: 30_000 });
  now = await stats(tab);
  assert.equal(now.indexFrom, 'store', 'the damaged snapshot was not used');
  assert.equal(now.records, 31, 'rebuilt from the store: 31 records');
  assert.equal(now.root, before.root, 'the same root as before the reload');
  await waitFor('a new snapshot saved after the rebuild', async () => (await state()).current, { timeout: 30_000 });
}));
