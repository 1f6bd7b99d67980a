// Issue 10, the demo's Network UI:
// - the record text is visible, and not clipped, at 390, 800 and 1280 px
//   wide (screenshots of each in out/screenshots/);
// - "held by N" on one's own records; hostile text stays text;
// - the sign-in panel: the extension (a fake window.nostr backed by a key
//   this test holds), sign out (read-only), a new key, a pasted nsec and an
//   ncryptsec with its passphrase; the rules under Settings (bad words).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { finalizeEvent, generateSecretKey, getPublicKey, nip19, verifyEvent } from 'nostr-tools';
import * as nip49 from 'nostr-tools/nip49';

import { screenshot, stats, uniqueRoom, waitFor, waitReady, withEnv } from './lib/harness.mjs';

// textBox measures the list's text element showing text, scrolled into view.
function textBox(page, text) {
  return page.evaluate((text) => {
    const el = [...document.querySelectorAll('#record-list .record-row .text')].find((e) => e.textContent === text);
    if (!el) return null;
    el.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    const r = el.getBoundingClientRect();
    const list = document.querySelector('#record-list').getBoundingClientRect();
    const cs = getComputedStyle(el);
    const hit = document.elementFromPoint(r.left + Math.min(r.width, 20) / 2, r.top + r.height / 2);
    return {
      width: r.width, height: r.height, left: r.left, right: r.right,
      listLeft: list.left, listRight: list.right, viewport: innerWidth,
      scrollWidth: el.scrollWidth, clientWidth: el.clientWidth,
      display: cs.display, visibility: cs.visibility, opacity: cs.opacity,
      onTop: hit === el || el.contains(hit),
    };
  }, text);
}

test('the record text is visible and not clipped at 390, 800 and 1280 px', { timeout: 120_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('widths');
  const page = await env.openDemo({ room, label: 'widths' });
  const text = 'visible at every width';
  await page.evaluate(async (text) => {
    await window.db.put({ text, link: 'https://example.org/a/rather/long/link/that/takes/room/in/the/row' });
  }, text);
  for (const width of [390, 800, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    const box = await waitFor(`the text in the list at ${width} px`, async () => {
      const b = await textBox(page, text);
      return b && b.width > 0 && b;
    }, { timeout: 10_000 });
    t.diagnostic(`${width} px: text ${Math.round(box.width)}×${Math.round(box.height)} px at ${Math.round(box.left)}–${Math.round(box.right)}, list ${Math.round(box.listLeft)}–${Math.round(box.listRight)}`);
    assert.notEqual(box.display, 'none', `${width} px: displayed`);
    assert.equal(box.visibility, 'visible', `${width} px: visible`);
    assert.ok(box.height > 0 && box.width > 0, `${width} px: has a size`);
    assert.ok(box.scrollWidth <= box.clientWidth, `${width} px: not clipped (${box.scrollWidth} px of text in ${box.clientWidth} px)`);
    assert.ok(box.left >= box.listLeft - 0.5 && box.right <= box.listRight + 0.5, `${width} px: inside the list`);
    assert.ok(box.right <= box.viewport + 0.5 && box.left >= -0.5, `${width} px: inside the window`);
    assert.ok(box.onTop, `${width} px: nothing covers it`);
    t.diagnostic(`screenshot: ${await screenshot(page, `record-text-${width}`)}`);
  }
}));

test('own records show "held by N"; hostile text stays text', { timeout: 150_000 }, withEnv(async (env) => {
  const room = uniqueRoom('held');
  const author = await env.openDemo({ room, label: 'author' });
  const other = await env.openDemo({ room, label: 'other' });
  const hostile = '<img src=x onerror="window.__pwned=1"><b>bold?</b>';
  const uuid = await author.evaluate(async (text) => (await window.db.put({ text })).uuid, hostile);
  await waitFor('the other tab to hold the record', () => other.evaluate(async (u) => Boolean(await window.db.get(u)), uuid), { timeout: 60_000 });
  const held = await waitFor('"held by 1" on the author\'s row', async () => {
    const t = await author.evaluate((u) => document.querySelector(`#record-list .record-row[data-uuid="${u}"] .held`)?.textContent, uuid);
    return t === 'held by 1' && t;
  }, { timeout: 30_000, state: () => author.evaluate((u) => document.querySelector(`#record-list .record-row[data-uuid="${u}"]`)?.textContent, uuid) });
  assert.equal(held, 'held by 1');
  for (const page of [author, other]) {
    const shown = await page.evaluate((u) => {
      const row = document.querySelector(`#record-list .record-row[data-uuid="${u}"]`);
      return { text: row?.querySelector('.text')?.textContent, img: row?.querySelector('img, b') !== null, pwned: window.__pwned };
    }, uuid);
    assert.equal(shown.text, hostile, 'the text is shown as it was written');
    assert.equal(shown.img, false, 'no element made from record text');
    assert.equal(shown.pwned, undefined, 'no script ran');
  }
  await screenshot(author, 'held-by');
}));

test('the sign-in panel: extension, sign out, new key, nsec and ncryptsec; bad words under Settings', { timeout: 240_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('signin');
  const { http } = await env.server();
  const sk = generateSecretKey();
  const npub = nip19.npubEncode(getPublicKey(sk));
  const context = await env.freshContext(http);
  await context.exposeFunction('__fakeNostrPublicKey', () => getPublicKey(sk));
  await context.exposeFunction('__fakeNostrSign', (e) => finalizeEvent(e, sk));
  await context.addInitScript(() => {
    window.nostr = { getPublicKey: () => window.__fakeNostrPublicKey(), signEvent: (e) => window.__fakeNostrSign(e) };
  });
  const page = await env.openDemo({ room, context, label: 'sign-in' });
  const npubShown = () => page.locator('#signin-npub').textContent();
  const waitShown = (what, want) => waitFor(what, async () => {
    const ready = (await page.locator('body[data-ready="1"]').count()) === 1;
    const shown = await npubShown();
    return ready && want(shown) && shown;
  }, { timeout: 30_000, state: npubShown });

  const stored = (await stats(page)).key;
  assert.equal(await npubShown(), stored, 'the panel shows the room key\'s npub');
  assert.ok(await page.locator('#signin-extension').isVisible(), '"Sign in with extension" shows when window.nostr exists');

  await page.click('#signin-extension');
  await waitShown('the extension\'s npub', (s) => s === npub);
  assert.equal((await stats(page)).keyStorage, 'signer');
  await page.fill('#composer-text', 'signed by the extension');
  await page.click('#composer-submit');
  const rec = await waitFor('the record signed by the extension', () => page.evaluate(async () => (await window.db.query({})).find((r) => r.text === 'signed by the extension')), { timeout: 30_000 });
  assert.equal(rec.author, npub);
  assert.ok(verifyEvent({ ...rec.event }), 'nostr-tools verifies it');

  await page.click('#signin-out');
  await waitShown('read-only after signing out', (s) => s === 'read-only');
  assert.equal(await page.evaluate(() => window.db.readOnly), true);
  assert.equal(await page.locator('#composer-submit').isDisabled(), true, 'the composer is off while signed out');
  await screenshot(page, 'signed-out');

  await page.click('#signin-new');
  const fresh = await waitShown('a new key', (s) => s.startsWith('npub1') && s !== npub && s !== stored);
  t.diagnostic(`new key ${fresh}`);

  const sk2 = generateSecretKey();
  await page.fill('#signin-key', nip19.nsecEncode(sk2));
  await page.click('#signin-key-apply');
  await waitShown('the pasted nsec\'s npub', (s) => s === nip19.npubEncode(getPublicKey(sk2)));
  assert.equal(await page.locator('#signin-key').inputValue(), '', 'the key field is cleared');

  const sk3 = generateSecretKey();
  await page.fill('#signin-key', nip49.encrypt(sk3, 'open sesame', 8));
  await page.fill('#signin-pass', 'open sesame');
  await page.click('#signin-key-apply');
  await waitShown('the ncryptsec\'s npub', (s) => s === nip19.npubEncode(getPublicKey(sk3)));
  await screenshot(page, 'signed-in-ncryptsec');

  // Rules under Settings: a bad word of our own refuses a put.
  await page.fill('#set-badwords', 'grapefruit');
  await page.fill('#set-quota', '7');
  await page.click('#settings-apply');
  await waitReady(page);
  assert.match(page.url(), /badWord=grapefruit/, 'the rules are kept in the URL');
  await page.fill('#composer-text', 'I had a grapefruit');
  await page.click('#composer-submit');
  await waitFor('#error to name bad-words', async () => ((await page.locator('#error').textContent()) || '').includes('bad-words'), { timeout: 15_000, state: () => page.locator('#error').textContent() });
}));
