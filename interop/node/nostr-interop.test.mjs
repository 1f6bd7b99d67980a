// Interop with nostr-tools, the library Nostr clients use: events made by
// `peerset record new` verify with nostr-tools, events signed by nostr-tools
// verify with `peerset record verify`, and tampered events fail both.
// Run by `make test` (node --test) with PEERSET_BIN set to a built peerset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { finalizeEvent, verifyEvent, getEventHash, generateSecretKey } from 'nostr-tools/pure';
import * as nip19 from 'nostr-tools/nip19';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

const bin = process.env.PEERSET_BIN;
if (!bin || !existsSync(bin)) {
  throw new Error('PEERSET_BIN must point to a built peerset binary: run `make test` (or `go build -o bin/peerset ./cmd/peerset` and set PEERSET_BIN=bin/peerset)');
}

function peerset(args, input = '') {
  const r = spawnSync(bin, args, { input, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// The room tag value, as pkg/record computes it.
function roomID(appId, room) {
  return bytesToHex(sha256(new TextEncoder().encode(`peerset:${new TextEncoder().encode(appId).length}:${appId}:${room}`)));
}

const texts = [
  'hello', '', 'line\nbreak "quoted" \\ back\tslash', 'a\u2028b\u2029c', '\u0001\u001f\u007f control',
  'emoji 🍐👩‍👩‍👧 𝄞 naïve café 中文', '<script>&amp;</script>', '3.14 e.g. ok', 'x'.repeat(5000),
];

test('records made by peerset verify with nostr-tools', () => {
  const keys = JSON.parse(peerset(['keygen']).stdout);
  for (const text of texts) {
    const r = peerset(['record', 'new', '--nsec', keys.nsec, '--room', 'lobby', '--text', text, '--link', 'https://example.org', '--lat', '48.8566', '--lon', '2.3522']);
    assert.equal(r.code, 0, r.stderr);
    const ev = JSON.parse(r.stdout);
    assert.equal(ev.content, text);
    assert.equal(ev.pubkey, keys.pubkey);
    assert.equal(getEventHash(ev), ev.id, `id of ${JSON.stringify(text)}`);
    assert.equal(verifyEvent({ ...ev }), true, `verifyEvent of ${JSON.stringify(text)}`);
    assert.ok(ev.tags.some(t => t[0] === 'room' && t[1] === roomID('peerset', 'lobby')));
    const tampered = { ...ev, content: ev.content + '!' };
    assert.equal(verifyEvent(tampered), false, 'tampered content must fail in nostr-tools');
    const badSig = { ...ev, sig: (ev.sig[0] === '0' ? '1' : '0') + ev.sig.slice(1) };
    assert.equal(verifyEvent(badSig), false, 'tampered signature must fail in nostr-tools');
  }
});

test('events signed by nostr-tools verify with peerset', () => {
  const sk = generateSecretKey();
  for (const [i, text] of texts.entries()) {
    const ev = finalizeEvent({
      kind: 30078, created_at: Math.floor(Date.now() / 1000) - i,
      tags: [['d', crypto.randomUUID()], ['room', roomID('peerset', 'lobby')]], content: text,
    }, sk);
    const line = JSON.stringify(ev);
    let r = peerset(['record', 'verify', '--room', 'lobby'], line);
    assert.equal(r.code, 0, `${JSON.stringify(text)}: ${r.stderr}`);
    assert.equal(r.stdout, 'ok\n');
    r = peerset(['record', 'verify', '--room', 'other'], line);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /another room/);
    r = peerset(['record', 'verify'], JSON.stringify({ ...ev, content: text + '!' }));
    assert.equal(r.code, 1, 'tampered content must fail in peerset');
    assert.match(r.stderr, /id does not match/);
    r = peerset(['record', 'verify'], JSON.stringify({ ...ev, sig: (ev.sig[0] === '0' ? '1' : '0') + ev.sig.slice(1) }));
    assert.equal(r.code, 1, 'tampered signature must fail in peerset');
    assert.match(r.stderr, /signature/);
  }
});

test('plain Nostr notes (kind 1) from nostr-tools verify with peerset', () => {
  const ev = finalizeEvent({ kind: 1, created_at: 1700000000, tags: [['t', 'peerset']], content: 'gm \u2028 🍐' }, generateSecretKey());
  const r = peerset(['record', 'verify'], JSON.stringify(ev));
  assert.equal(r.code, 0, r.stderr);
});

test('NIP-19 keys agree with nostr-tools', () => {
  const keys = JSON.parse(peerset(['keygen']).stdout);
  const dec = nip19.decode(keys.nsec);
  assert.equal(dec.type, 'nsec');
  assert.equal(nip19.npubEncode(keys.pubkey), keys.npub);
  const sk = generateSecretKey();
  const r = peerset(['key', 'decode', nip19.nsecEncode(sk)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).hex, bytesToHex(sk));
});
