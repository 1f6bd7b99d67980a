// Issue 13, the demo's Network UI attaches a file and shows images inline:
// - a file over 16 MiB is refused by the composer before any put;
// - tab 1 attaches a PNG (made here) with a hostile caption through the
//   composer; tab 2 shows it in the record list as a decoded <img> whose
//   src is a blob: URL, and the caption as text;
// - a non-image file shows its type and size and a Download button that
//   saves the very bytes, with the fetch's progress in its row;
// - an image loads only once its row is in view; an SVG shows as a PNG the
//   page drew (its script never runs);
// - a file whose only holder has left shows "not available from connected
//   peers yet" with a Retry button.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { deflateSync } from 'node:zlib';

import { screenshot, stats, uniqueRoom, waitFor, waitReady, withEnv } from './lib/harness.mjs';

// --- a PNG, written byte by byte: signature, IHDR, IDAT, IEND.

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

// png is a width×height RGB image: a checkerboard of red and blue.
function png(width, height) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  const raw = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * 3); // filter byte 0 (none), then the pixels
    for (let x = 0; x < width; x++) {
      const red = (x + y) % 2 === 0;
      raw.set(red ? [220, 30, 30] : [30, 60, 220], row + 1 + x * 3);
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// attach puts a file with a caption through the demo's composer and
// returns the record the page stored.
async function attach(page, file, caption) {
  await page.setInputFiles('#composer-file', file);
  await page.fill('#composer-text', caption);
  await page.click('#composer-submit');
  await waitFor(`the composer to store "${caption}"`, async () => /^stored /.test((await page.locator('#composer-status').textContent()) || ''), {
    timeout: 30_000,
    state: async () => ({ status: await page.locator('#composer-status').textContent(), error: await page.locator('#error').textContent() }),
  });
  assert.equal(await page.evaluate(() => document.querySelector('#composer-file').files.length), 0, 'the file input is cleared after the put');
  return page.evaluate(async (caption) => (await window.db.query({})).find((r) => r.text === caption), caption);
}

function rowState(page, uuid) {
  return page.evaluate((u) => {
    const row = document.querySelector(`#record-list .record-row[data-uuid="${u}"]`);
    if (!row) return null;
    const imgs = [...row.querySelectorAll('img')];
    return {
      text: row.querySelector('.text')?.textContent,
      desc: row.querySelector('.file-desc')?.textContent,
      state: row.querySelector('.file-state')?.textContent,
      imgs: imgs.map((i) => ({ src: i.getAttribute('src'), complete: i.complete, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight, height: i.getBoundingClientRect().height })),
      rowHeight: row.getBoundingClientRect().height,
      buttons: [...row.querySelectorAll('button')].map((b) => ({ text: b.textContent, action: b.dataset.action })),
      pwned: window.__pwned,
    };
  }, uuid);
}

test('the demo attaches files: an image shows inline in another tab, other files download', { timeout: 240_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('demo-blob');
  const sender = await env.openDemo({ room, label: 'sender' });
  const receiver = await env.openDemo({ room, label: 'receiver' });
  await waitFor('the tabs to connect', async () => (await stats(receiver)).peers >= 1, { timeout: 60_000 });

  // Over the limit (16 MiB): the composer says so and puts nothing.
  const before = (await stats(sender)).records;
  await sender.setInputFiles('#composer-file', { name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(17 << 20) });
  await sender.click('#composer-submit');
  assert.equal(await sender.locator('#composer-status').textContent(), 'the file is 17.0 MiB: at most 16.0 MiB');
  assert.equal((await stats(sender)).records, before, 'nothing was put');
  await sender.click('#composer-file-clear');
  assert.equal(await sender.evaluate(() => document.querySelector('#composer-file').files.length), 0, '"remove" clears the file');

  // An image, with a caption that would be markup if put in as HTML.
  const image = png(8, 8);
  const caption = '<img src=x onerror="window.__pwned=1"><b>a checkerboard</b>';
  const rec = await attach(sender, { name: 'board.png', mimeType: 'image/png', buffer: image }, caption);
  assert.ok(rec, 'the record is stored');
  assert.equal(rec.blob?.type, 'image/png');
  assert.equal(rec.blob?.size, image.length);

  const shown = await waitFor('the receiver to show the image, decoded', async () => {
    const s = await rowState(receiver, rec.uuid);
    return s && s.imgs.some((i) => i.complete && i.naturalWidth > 0) && s;
  }, { timeout: 60_000, state: () => rowState(receiver, rec.uuid) });
  t.diagnostic(`receiver row: ${JSON.stringify(shown)}`);
  assert.equal(shown.imgs.length, 1, `one image in the row, the file's (${JSON.stringify(shown.imgs)})`);
  assert.match(shown.imgs[0].src, /^blob:/, 'the image is an object URL made by the page');
  assert.equal(shown.imgs[0].naturalWidth, 8);
  assert.equal(shown.imgs[0].naturalHeight, 8);
  assert.ok(shown.imgs[0].height <= 40.5, `the thumbnail keeps its fixed size (${shown.imgs[0].height} px)`);
  assert.ok(Math.abs(shown.rowHeight - 52) < 1, `the row keeps its fixed height (${shown.rowHeight} px)`);
  assert.equal(shown.desc, `image/png · ${image.length} B`);
  for (const [label, page] of [['sender', sender], ['receiver', receiver]]) {
    const s = await waitFor(`the ${label}'s row`, () => rowState(page, rec.uuid), { timeout: 30_000 });
    assert.equal(s.text, caption, `${label}: the caption is shown as it was written`);
    assert.ok(s.imgs.every((i) => i.src.startsWith('blob:')), `${label}: no element made from the caption (${JSON.stringify(s.imgs)})`);
    assert.equal(s.pwned, undefined, `${label}: no script ran`);
  }
  await screenshot(receiver, 'demo-blob-image');

  // A file that is not an image: its type and size, and a Download button.
  const notes = Buffer.from('peerset notes\nline two: <script>not run</script>\n');
  const notesRec = await attach(sender, { name: 'notes.txt', mimeType: 'text/plain', buffer: notes }, 'some notes');
  const notesRow = await waitFor('the receiver to show a Download button', async () => {
    const s = await rowState(receiver, notesRec.uuid);
    return s && s.buttons.some((b) => b.action === 'file-download' && b.text === 'Download') && s;
  }, { timeout: 60_000, state: () => rowState(receiver, notesRec.uuid) });
  assert.equal(notesRow.imgs.length, 0, 'no image for a text file');
  assert.equal(notesRow.desc, `text/plain · ${notes.length} B`);
  const [download] = await Promise.all([
    receiver.waitForEvent('download', { timeout: 30_000 }),
    receiver.click(`#record-list .record-row[data-uuid="${notesRec.uuid}"] button[data-action="file-download"]`),
  ]);
  assert.match(download.suggestedFilename(), /^peerset-[0-9a-f]{12}\.txt$/);
  assert.deepEqual(await readFile(await download.path()), notes, 'the download is the file, byte for byte');

  // A 2 MiB file, fetched when asked: the row shows the fetch's progress
  // (db.on('blob')) as the chunks come in.
  const twoMiB = Buffer.alloc(2 << 20);
  for (let i = 0; i < twoMiB.length; i++) twoMiB[i] = (i * 31 + (i >> 11)) & 0xff;
  const twoRec = await attach(sender, { name: 'two.bin', mimeType: 'application/octet-stream', buffer: twoMiB }, 'two MiB');
  await waitFor('the receiver to list the 2 MiB file', () => rowState(receiver, twoRec.uuid), { timeout: 60_000 });
  await receiver.evaluate((u) => {
    window.__fileStates = [];
    const row = document.querySelector(`#record-list .record-row[data-uuid="${u}"]`);
    new MutationObserver(() => window.__fileStates.push(row.querySelector('.file-state')?.textContent)).observe(row, { subtree: true, childList: true, characterData: true });
  }, twoRec.uuid);
  const [twoDownload] = await Promise.all([
    receiver.waitForEvent('download', { timeout: 60_000 }),
    receiver.click(`#record-list .record-row[data-uuid="${twoRec.uuid}"] button[data-action="file-download"]`),
  ]);
  assert.ok((await readFile(await twoDownload.path())).equals(twoMiB), 'the 2 MiB download is the file, byte for byte');
  const states = await receiver.evaluate(() => window.__fileStates);
  t.diagnostic(`2 MiB fetch, the row said: ${JSON.stringify([...new Set(states)])}`);
  assert.ok(states.some((s) => /^fetching (?!0 B)[\d.]+ (B|KiB|MiB) of 2\.0 MiB$/.test(s)), 'the row showed progress past 0 bytes');

  // A file bigger than prefetchBelow (256 KiB) is fetched only when asked:
  // once its only holder has left, the receiver says so and offers Retry.
  const big = Buffer.alloc(300 << 10, 7);
  const bigRec = await attach(sender, { name: 'big.bin', mimeType: 'application/octet-stream', buffer: big }, 'a big file');
  await waitFor('the receiver to list the big file', () => rowState(receiver, bigRec.uuid), { timeout: 60_000 });
  await sender.close();
  await waitFor('the receiver to see the sender leave', async () => (await stats(receiver)).peers === 0, { timeout: 60_000 });
  await receiver.click(`#record-list .record-row[data-uuid="${bigRec.uuid}"] button[data-action="file-download"]`);
  const gone = await waitFor('"not available from connected peers yet"', async () => {
    const s = await rowState(receiver, bigRec.uuid);
    return s && /not available from connected peers yet/.test(s.state) && s;
  }, { timeout: 60_000, state: () => rowState(receiver, bigRec.uuid) });
  assert.ok(gone.buttons.some((b) => b.action === 'file-retry' && b.text === 'Retry'), 'a Retry button');
  await screenshot(receiver, 'demo-blob-unavailable');
}));

test('the demo loads an image only when its row comes into view, and keeps rows 52 px at 390 px wide', { timeout: 120_000 }, withEnv(async (env) => {
  const room = uniqueRoom('demo-blob-lazy');
  const page = await env.openDemo({ room, label: 'lazy', params: { offline: '1' } });
  // The image first, then ten newer text records: the image's row is the
  // eleventh, below the nine in view (the list renders four rows more
  // than it shows, so the row exists, out of sight). offline=1 keeps the
  // room in IndexedDB across the reload.
  const image = png(4, 6);
  const uuid = await page.evaluate(async (bytes) => {
    const rec = await window.db.put({ file: new File([new Uint8Array(bytes)], 'tall.png', { type: 'image/png' }) });
    // Records are ordered by their time in whole seconds: the text records
    // come a second later, to be newer for sure.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    for (let i = 0; i < 10; i++) await window.db.put({ text: `newer #${i + 1}` });
    return rec.uuid;
  }, [...image]);
  // Reload: the page starts again from the stored records, the image's row
  // never in view (before the reload it was, at the top).
  await page.reload({ waitUntil: 'domcontentloaded' });
  await waitReady(page);
  const below = await waitFor('the image row, rendered below the view', () => rowState(page, uuid), { timeout: 30_000 });
  await new Promise((resolve) => setTimeout(resolve, 1500)); // time enough to load, were it loading
  const still = await rowState(page, uuid);
  assert.equal(below.imgs.length, 0, 'no image in a row out of view');
  assert.equal(still.imgs.length, 0, 'still no image in a row out of view');
  assert.equal(still.desc, `image/png · ${image.length} B`, 'its type and size show already');

  await page.evaluate(() => { const box = document.querySelector('#record-list'); box.scrollTop = box.scrollHeight; });
  const seen = await waitFor('the image once its row is in view', async () => {
    const s = await rowState(page, uuid);
    return s && s.imgs.some((i) => i.complete && i.naturalWidth > 0) && s;
  }, { timeout: 30_000, state: () => rowState(page, uuid) });
  assert.equal(seen.imgs[0].naturalWidth, 4);
  assert.equal(seen.imgs[0].naturalHeight, 6);
  assert.match(seen.imgs[0].src, /^blob:/);
  const rasterType = await page.evaluate(async (src) => (await (await fetch(src)).blob()).type, seen.imgs[0].src);
  assert.equal(rasterType, 'application/octet-stream', 'the image\'s object URL is not typed as the author said (a tab opened on it saves it)');

  // An SVG (with a script in it) shows as a PNG drawn by the page: its own
  // blob: URL never reaches the page, and the script never runs.
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="12"><rect width="10" height="12" fill="#3b5bdb"/><script>parent.__pwned = 1; window.__pwned = 1;</script></svg>';
  const svgUUID = await page.evaluate(async (svg) => {
    document.querySelector('#record-list').scrollTop = 0;
    return (await window.db.put({ file: new Blob([svg], { type: 'image/svg+xml' }), text: 'a drawing' })).uuid;
  }, svg);
  const drawn = await waitFor('the SVG, drawn', async () => {
    const s = await rowState(page, svgUUID);
    return s && s.imgs.some((i) => i.complete && i.naturalWidth > 0) && s;
  }, { timeout: 30_000, state: () => rowState(page, svgUUID) });
  assert.equal(drawn.imgs.length, 1);
  assert.equal(drawn.imgs[0].naturalWidth, 10);
  assert.equal(drawn.imgs[0].naturalHeight, 12);
  assert.match(drawn.imgs[0].src, /^blob:/);
  assert.equal(await page.evaluate(async (src) => (await (await fetch(src)).blob()).type, drawn.imgs[0].src), 'image/png', 'the page shows a PNG it drew');
  assert.equal(drawn.pwned, undefined, 'the SVG\'s script did not run');

  await page.setViewportSize({ width: 390, height: 900 });
  const narrow = await waitFor('the row at 390 px', async () => {
    const box = await page.evaluate((u) => {
      const row = document.querySelector(`#record-list .record-row[data-uuid="${u}"]`);
      const img = row?.querySelector('img.thumb');
      if (!row || !img) return null;
      const r = row.getBoundingClientRect();
      const i = img.getBoundingClientRect();
      return { rowTop: r.top, rowBottom: r.bottom, rowHeight: r.height, imgTop: i.top, imgBottom: i.bottom, imgHeight: i.height };
    }, uuid);
    return box && box.imgHeight > 0 && box;
  }, { timeout: 10_000 });
  assert.ok(Math.abs(narrow.rowHeight - 52) < 1, `the row keeps 52 px (${narrow.rowHeight})`);
  assert.ok(narrow.imgTop >= narrow.rowTop - 0.5 && narrow.imgBottom <= narrow.rowBottom + 0.5, `the thumbnail stays inside its row (${JSON.stringify(narrow)})`);
  await screenshot(page, 'demo-blob-390');
}));
