// Issue 13, files as blobs: a 5 MiB file put in one tab arrives byte-
// identical in another tab and in a native peer, with progress events; a
// file over the author's quota is refused with the rule named.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';

import { binary, uniqueRoom, waitFor, withEnv } from './lib/harness.mjs';
import { dbStats, openAPIPage, waitRecord } from './lib/api.mjs';

const SIZE = 5 << 20;

test('a 5 MiB file travels tab → tab and tab → native peer, checked, with progress', { timeout: 240_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('blob');
  const pages = await Promise.all(['sender', 'receiver'].map((label) => openAPIPage(env, { label })));
  await Promise.all(pages.map((page) => page.evaluate(async (room) => {
    window.__blobEvents = [];
    window.db = await window.openRoom({ room, blobQuotaAuthor: 8 << 20 });
    window.db.on('blob', (e) => window.__blobEvents.push(e));
  }, room)));
  const [sender, receiver] = pages;
  // The file: random bytes made on the page, kept there to compare with.
  const put = await sender.evaluate(async (size) => {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
    window.__file = bytes;
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    const rec = await window.db.put({ file: new File([bytes], 'photo.jpg', { type: 'image/jpeg' }), text: 'a photo' });
    return { rec, sha: [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') };
  }, SIZE);
  assert.deepEqual(put.rec.blob, { sha256: put.sha, size: SIZE, type: 'image/jpeg' }, 'record.blob names the file');
  assert.equal(put.rec.text, 'a photo');

  await waitRecord(receiver, put.rec.uuid, 'the receiver to get the record');
  const got = await receiver.evaluate(async (uuid) => {
    const started = performance.now();
    const blob = await window.db.blob(uuid);
    const ms = performance.now() - started;
    const bytes = new Uint8Array(await blob.arrayBuffer());
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return { ms, size: blob.size, type: blob.type, sha: [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') };
  }, put.rec.uuid);
  t.diagnostic(`5 MiB tab → tab in ${Math.round(got.ms)} ms (${(SIZE / 1048576 / (got.ms / 1000)).toFixed(1)} MiB/s)`);
  assert.equal(got.size, SIZE);
  assert.equal(got.type, 'image/jpeg');
  assert.equal(got.sha, put.sha, 'the received file is byte-identical');
  const events = await waitFor('the last progress event', async () => {
    const evs = await receiver.evaluate((sha) => window.__blobEvents.filter((e) => e.sha256 === sha), put.sha);
    return evs.some((e) => e.done) && evs;
  }, { timeout: 10_000 });
  const last = events.at(-1);
  assert.ok(events.length >= 2, `several progress events (${events.length})`);
  assert.equal(last.done, true);
  assert.equal(last.received, SIZE);
  assert.ok(events.every((e, i) => i === 0 || e.received >= events[i - 1].received), 'progress only grows');
  // Kept: a second read comes from the receiver's own storage.
  const again = await receiver.evaluate(async (uuid) => (await window.db.blob(uuid)).size, put.rec.uuid);
  assert.equal(again, SIZE);

  // A native peer fetches it too (peerset join serves and fetches blobs;
  // `peerset blob` then reads its bolt file).
  const dbFile = path.join(await env.tempDir(), 'native.db');
  const { ws } = await env.server();
  const native = env.spawn('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open', '--prefetch-below', String(16 << 20)]);
  await waitFor('the native peer to hold the file', async () => {
    const line = native.jsonLines().filter((l) => l.blobs !== undefined).at(-1);
    return line && line.blobs >= 1;
  }, { timeout: 90_000, state: async () => native.stderrTail(10) });
  await native.stop();
  const bytes = execFileSync(binary('peerset'), ['blob', '--db', dbFile, put.sha], { maxBuffer: 64 << 20 });
  assert.equal(bytes.length, SIZE);
  const nativeSHA = createHash('sha256').update(bytes).digest('hex');
  assert.equal(nativeSHA, put.sha, 'the native peer holds the byte-identical file');

  // The quota: 8 MiB per author here, 5 MiB held, so 4 MiB more is refused.
  const refused = await sender.evaluate(async () => {
    try {
      await window.db.put({ file: new Uint8Array(4 << 20).fill(7) });
      return null;
    } catch (err) {
      return { code: err.code, rule: err.rule, message: err.message };
    }
  });
  assert.equal(refused?.code, 'rejected', JSON.stringify(refused));
  assert.equal(refused.rule, 'blob-quota-author');
}));

test('a peer serving chunks that do not match is struck, and the file still arrives from an honest one', { timeout: 180_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('blob-hostile');
  const { ws } = await env.server();
  const file = new Uint8Array(2 << 20);
  for (let i = 0; i < file.length; i++) file[i] = (i * 2654435761) >>> 24;
  const sha = createHash('sha256').update(file).digest('hex');
  const filePath = path.join(await env.tempDir(), 'file.bin');
  await writeFile(filePath, file);

  const pages = await Promise.all(['honest', 'receiver'].map((label) => openAPIPage(env, { label })));
  await Promise.all(pages.map((page) => page.evaluate((room) => window.openRoom({ room, prefetchBelow: -1 }).then((db) => { window.db = db; }), room)));
  const [honest, receiver] = pages;
  const rec = await honest.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return window.db.put({ file: bytes, text: 'the file' });
  }, Buffer.from(file).toString('base64'));
  assert.equal(rec.blob.sha256, sha);
  await waitRecord(receiver, rec.uuid, 'the receiver to get the record');

  const hostile = env.spawn('hostile', 'hostile', ['--tracker', ws, '--room', room, '--blob-file', filePath]);
  const ready = JSON.parse(await hostile.waitLine('ready', (l) => l.includes('"ready"'), 15_000));
  await waitFor('the receiver to authenticate the hostile peer', async () => {
    const s = await dbStats(receiver);
    return s.sessions.some((x) => x.peerId === ready.self && ['authenticated', 'idle', 'syncing'].includes(x.state));
  }, { timeout: 60_000, state: async () => (await dbStats(receiver)).sessions.map((x) => ({ peerId: x.peerId, state: x.state })) });

  const got = await receiver.evaluate(async (uuid) => {
    const bytes = new Uint8Array(await (await window.db.blob(uuid)).arrayBuffer());
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, rec.uuid);
  assert.equal(got, sha, 'the file arrived byte-identical despite the hostile peer');
  const served = hostile.jsonLines().filter((l) => l.event === 'blob-served');
  assert.ok(served.length >= 1, 'the hostile peer was asked for chunks and served spoiled ones');
  // The receiver struck it (its session shows the strike, or it is gone:
  // closed or banned).
  const struck = await waitFor('a strike against the hostile peer', async () => {
    const s = (await dbStats(receiver)).sessions.find((x) => x.peerId === ready.self);
    return (!s || s.strikes >= 1) && (s ?? { gone: true });
  }, { timeout: 20_000 });
  t.diagnostic(`hostile peer served ${served.length} spoiled chunks; its session: ${JSON.stringify({ strikes: struck.strikes, state: struck.state, gone: struck.gone })}`);
  assert.ok(struck.gone || struck.strikes >= 1);
}));
