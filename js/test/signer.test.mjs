// Issue 10, NIP-07 sign-in and anonymous readers.
// - open({ signer }) with a fake NIP-07 signer object on the page, backed by
//   a key this test makes with nostr-tools: db.key is its npub, puts are
//   signed through it (nostr-tools verifies them; their author is the
//   signer's key), a peer receives them, a signer that says no rejects the
//   put with code 'signer', and nothing secret is written to IndexedDB.
// - open({ identity: 'ephemeral' }): a fresh handshake key per connection.
//   With an nsec it syncs and writes, and its long-term key appears nowhere
//   in another peer's stats(); without one it syncs, is read-only and its
//   put rejects with code 'read-only'.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { finalizeEvent, generateSecretKey, getPublicKey, nip19, verifyEvent } from 'nostr-tools';

import { uniqueRoom, waitFor, withEnv } from './lib/harness.mjs';
import { dbStats, openAPIPage, tryPut, waitPeers, waitRecord } from './lib/api.mjs';

const hex = (bytes) => Buffer.from(bytes).toString('hex');

// dumpIndexedDB reads every IndexedDB database of the page's origin: every
// store's keys and values, bytes as hex and as text, as one string.
function dumpIndexedDB(page) {
  return page.evaluate(async () => {
    const parts = [];
    const show = (v) => {
      if (v instanceof ArrayBuffer) v = new Uint8Array(v);
      if (ArrayBuffer.isView(v)) {
        const u8 = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
        return `hex:${[...u8].map((b) => b.toString(16).padStart(2, '0')).join('')} text:${new TextDecoder().decode(u8)}`;
      }
      if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}=${show(x)}`).join(',')}}`;
      return String(v);
    };
    for (const { name } of await indexedDB.databases()) {
      const db = await new Promise((resolve, reject) => {
        const r = indexedDB.open(name);
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      for (const store of db.objectStoreNames) {
        const tx = db.transaction(store, 'readonly');
        const os = tx.objectStore(store);
        const [keys, values] = await Promise.all([os.getAllKeys(), os.getAll()].map((req) => new Promise((resolve, reject) => {
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        })));
        keys.forEach((k, i) => parts.push(`${name}/${store}: ${show(k)} = ${show(values[i])}`));
      }
      db.close();
    }
    return parts.join('\n');
  });
}

test('a NIP-07 signer on the page signs puts; no secret is stored; a refusal rejects with code signer', { timeout: 180_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('signer');
  const sk = generateSecretKey();
  const pk = getPublicKey(sk);
  const npub = nip19.npubEncode(pk);
  const signed = [];

  const page = await openAPIPage(env, { label: 'signer' });
  // The fake extension: its key stays in this test (Node); the page's
  // window.fakeNostr reaches it through exposed functions, as a page reaches
  // an extension through window.nostr.
  await page.exposeFunction('__nostrGetPublicKey', () => pk);
  await page.exposeFunction('__nostrSignEvent', (template) => {
    const e = finalizeEvent(template, sk);
    signed.push(e);
    return e;
  });
  const opened = await page.evaluate(async (room) => {
    window.__refuse = false;
    window.__asked = 0;
    window.fakeNostr = {
      getPublicKey: () => window.__nostrGetPublicKey(),
      signEvent: async (e) => {
        window.__asked++;
        if (window.__refuse) throw new Error('the user rejected the request');
        return window.__nostrSignEvent(e);
      },
    };
    window.db = await window.openRoom({ room, signer: window.fakeNostr });
    return { key: window.db.key, keyStorage: window.db.keyStorage, readOnly: window.db.readOnly };
  }, room);
  assert.equal(opened.key, npub, 'db.key is the signer\'s npub');
  assert.equal(opened.keyStorage, 'signer');
  assert.equal(opened.readOnly, false);

  const put = await tryPut(page, { text: 'signed through the extension' });
  assert.ok(put.ok, `the put is signed and stored: ${JSON.stringify(put)}`);
  const event = put.record.event;
  assert.equal(event.pubkey, pk, 'the event\'s author is the signer\'s key');
  assert.equal(put.record.author, npub);
  assert.ok(verifyEvent({ ...event }), 'nostr-tools verifies the stored event');
  assert.equal(signed.length, 1, 'the signer was asked once');
  assert.equal(signed[0].id, event.id, 'the stored event is the one the signer signed');

  // A peer receives it, verified by the engine; nostr-tools agrees.
  const peer = await openAPIPage(env, { label: 'peer of the signer' });
  await peer.evaluate((room) => window.openRoom({ room }).then((db) => { window.db = db; }), room);
  const got = await waitRecord(peer, put.record.uuid, 'the signed record to reach the peer');
  assert.equal(got.author, npub);
  assert.ok(verifyEvent({ ...got.event }), 'nostr-tools verifies the record the peer holds');
  // Connections do not ask the signer: the handshake uses a session key.
  await waitPeers([page, peer], 1);
  assert.equal(await page.evaluate(() => window.__asked), 1, 'the peer\'s connection asked the signer nothing');

  await page.evaluate(() => { window.__refuse = true; });
  const refused = await tryPut(page, { text: 'the user says no' });
  assert.equal(refused.ok, false);
  assert.equal(refused.code, 'signer', `a signer that says no rejects with code signer: ${JSON.stringify(refused)}`);
  assert.match(refused.message, /the user rejected the request/, 'the message carries the signer\'s');
  const del = await page.evaluate(async (u) => { try { await window.db.delete(u); return { ok: true }; } catch (err) { return { code: err.code }; } }, put.record.uuid);
  assert.equal(del.code, 'signer', 'a delete the signer refuses rejects with code signer too');
  await page.evaluate(() => { window.__refuse = false; });
  assert.ok((await tryPut(page, { text: 'the user says yes again' })).ok);

  // Nothing secret in IndexedDB: the dump holds the records, and neither
  // the signer's secret key nor any nsec, ncryptsec or stored secret key.
  const dump = await dumpIndexedDB(page);
  assert.ok(dump.includes('signed through the extension'), `the dump reads the stored records (${dump.length} characters)`);
  assert.ok(!dump.includes(hex(sk)), 'the signer\'s secret key is not in IndexedDB');
  assert.ok(!dump.includes(nip19.nsecEncode(sk)), 'no nsec of the signer');
  assert.ok(!/nsec1|ncryptsec1/.test(dump), 'no nsec or ncryptsec at all');
  assert.ok(!dump.includes('peerset/secret-key'), 'no secret key kept in the metadata');
  t.diagnostic(`IndexedDB dump: ${dump.length} characters, ${dump.split('\n').length} entries, nothing secret`);
}));

test('an ephemeral peer syncs without revealing its long-term key; without a key it is read-only', { timeout: 240_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('ephemeral');
  const { nsec, npub } = await (await openAPIPage(env, { label: 'key maker' })).evaluate(() => window.peerset.generateKey());
  const longTermHex = hex(nip19.decode(npub).data instanceof Uint8Array ? nip19.decode(npub).data : Buffer.from(nip19.decode(npub).data, 'hex'));

  const plain = await openAPIPage(env, { label: 'ordinary peer' });
  const writer = await openAPIPage(env, { label: 'ephemeral with a key' });
  const reader = await openAPIPage(env, { label: 'ephemeral reader' });
  await plain.evaluate((room) => window.openRoom({ room }).then((db) => { window.db = db; }), room);
  const w = await writer.evaluate(({ room, nsec }) => window.openRoom({ room, nsec, identity: 'ephemeral' }).then((db) => { window.db = db; return { key: db.key, readOnly: db.readOnly }; }), { room, nsec });
  const r = await reader.evaluate((room) => window.openRoom({ room, identity: 'ephemeral' }).then((db) => { window.db = db; return { key: db.key, readOnly: db.readOnly, keyStorage: db.keyStorage }; }), room);
  assert.deepEqual(w, { key: npub, readOnly: false }, 'the ephemeral peer with an nsec writes as that key');
  assert.deepEqual(r, { key: '', readOnly: true, keyStorage: 'none' }, 'the ephemeral peer without a key is read-only');

  const fromPlain = await tryPut(plain, { text: 'from the ordinary peer' });
  const fromWriter = await tryPut(writer, { text: 'from the ephemeral writer' });
  assert.ok(fromPlain.ok && fromWriter.ok);
  assert.equal(fromWriter.record.author, npub, 'its records carry its long-term key, as records must');
  const denied = await tryPut(reader, { text: 'from the reader' });
  assert.equal(denied.code, 'read-only', `the reader's put rejects with code read-only: ${JSON.stringify(denied)}`);

  await waitPeers([plain, writer, reader], 2);
  await waitRecord(plain, fromWriter.record.uuid, 'the ephemeral writer\'s record to reach the ordinary peer');
  for (const [label, page] of [['writer', writer], ['reader', reader]]) {
    await waitRecord(page, fromPlain.record.uuid, `the ordinary peer's record to reach the ephemeral ${label}`);
  }
  await waitRecord(reader, fromWriter.record.uuid, 'the writer\'s record to reach the reader');

  // The other peers' stats(): sessions show connection keys, never the
  // writer's long-term key, in any form.
  for (const [label, page] of [['ordinary peer', plain], ['reader', reader]]) {
    const s = await dbStats(page);
    const json = JSON.stringify(s);
    const keys = s.sessions.filter((x) => x.authenticated).map((x) => x.pubkey);
    assert.ok(keys.length >= 2, `${label}: two authenticated sessions: ${JSON.stringify(keys)}`);
    assert.ok(!json.includes(npub), `${label}: stats() never names the writer's npub`);
    assert.ok(!json.toLowerCase().includes(longTermHex), `${label}: stats() never holds the writer's key in hex`);
    t.diagnostic(`${label} sees sessions ${keys.map((k) => k.slice(0, 14)).join(', ')}; the writer is ${npub.slice(0, 14)}`);
  }
  const plainKey = (await dbStats(plain)).key;
  assert.ok((await dbStats(writer)).sessions.some((x) => x.pubkey === plainKey), 'an ordinary peer still proves its own key');
}));
