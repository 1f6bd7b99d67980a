// open()'s options as the shim sends them to the engine (peerset/testing
// openOptions): one maxPeers (session.maxPeers is its deprecated alias),
// custom rules and a signer kept on the page. Runs in Node (no browser, no
// engine).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { openOptions } from '../testing.js';

test('one maxPeers: the top-level option, session.maxPeers its alias', () => {
  const cases = [
    { name: 'top level', opts: { room: 'r', maxPeers: 3 }, maxPeers: 3, session: undefined },
    { name: 'alias alone', opts: { room: 'r', session: { maxPeers: 4, handshakeTimeout: 500 } }, maxPeers: 4, session: { handshakeTimeout: 500 } },
    { name: 'both, equal', opts: { room: 'r', maxPeers: 5, session: { maxPeers: 5 } }, maxPeers: 5, session: {} },
    { name: 'neither', opts: { room: 'r', session: { idleRootInterval: 250 } }, maxPeers: undefined, session: { idleRootInterval: 250 } },
  ];
  for (const c of cases) {
    const sent = openOptions(c.opts);
    assert.equal(sent.maxPeers, c.maxPeers, c.name);
    assert.deepEqual(sent.session, c.session, c.name);
    assert.equal(JSON.parse(JSON.stringify(sent)).session?.maxPeers, undefined, `${c.name}: session.maxPeers reached the engine`);
  }
  // The caller's object is not changed.
  const session = { maxPeers: 4 };
  openOptions({ room: 'r', session });
  assert.deepEqual(session, { maxPeers: 4 });
});

test('maxPeers and session.maxPeers that differ are an error', () => {
  assert.throws(() => openOptions({ room: 'r', maxPeers: 3, session: { maxPeers: 4 } }), (err) => {
    assert.equal(err.code, 'invalid');
    assert.match(err.message, /^peerset: open\(\) was given maxPeers 3 and session.maxPeers 4: set only maxPeers/);
    return true;
  });
});

test('rules and signer stay on the page', () => {
  const check = () => true;
  const signer = { getPublicKey: () => 'hex', signEvent: (e) => e };
  const sent = openOptions({ room: 'r', moderation: { preset: 'strict', rules: [{ name: 'mine', check }] }, signer });
  assert.deepEqual(sent.moderation, { preset: 'strict', rules: [{ name: 'mine' }] });
  assert.equal(sent.signer, true);
  assert.throws(() => openOptions({ room: 'r', moderation: { rules: [{ name: 'x' }] } }), /needs a check function/);
  assert.throws(() => openOptions({ room: 'r', signer: {} }), /needs a NIP-07 signer/);
});

// examples/shared/room-options.js: the options code of the React hook and
// the Svelte store (both examples import it; js/test/frameworks.test.mjs
// builds them).
test('the framework examples\' shared options: from the URL, by value, one opening at a time', async () => {
  const { optionsFromURL, optionsKey, openOptions, takeTurn } = await import('../../examples/shared/room-options.js');
  assert.deepEqual(optionsFromURL('peerset-react', 'http://127.0.0.1:8000/examples/react/dist/'),
    { room: 'peerset-react', trackers: ['ws://127.0.0.1:8000/'], iceServers: [] });
  assert.deepEqual(optionsFromURL('peerset-svelte', 'https://example.org/app/?room=r1&moderation=strict&tracker=wss://t.example.org/'),
    { room: 'r1', trackers: ['wss://t.example.org/'], moderation: 'strict' });
  assert.deepEqual(optionsFromURL('x', 'https://example.org/?ice=none').iceServers, []);

  const a = { room: 'r', trackers: ['ws://127.0.0.1:1/'] };
  assert.equal(optionsKey(a), optionsKey({ room: 'r', trackers: ['ws://127.0.0.1:1/'] }));
  assert.deepEqual(openOptions(optionsKey(a)), a);

  // The second opening of a room waits for the first one's done().
  const order = [];
  const first = takeTurn('k');
  const second = takeTurn('k');
  const other = takeTurn('other');
  await first.previous;
  await other.previous;
  const waiting = second.previous.then(() => order.push('second'));
  await new Promise((r) => setTimeout(r, 20));
  order.push('first done');
  first.done();
  await waiting;
  assert.deepEqual(order, ['first done', 'second']);
  second.done();
  other.done();
});
