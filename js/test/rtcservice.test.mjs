// The page's peer connections on the engine's behalf (peerset.js
// RTCService): what the worker's requests get when the browser refuses a
// connection, and that closing one ends its requests at once. Runs in Node
// with a fake RTCPeerConnection (no browser needed).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { RTCService } from '../testing.js';

// FakePC gathers forever (a closed connection fires no gathering event, as
// in Chromium) unless told otherwise.
class FakePC {
  static refuse = null;
  iceGatheringState = 'gathering';
  signalingState = 'stable';
  localDescription = null;
  listeners = new Set();
  constructor(config) {
    if (FakePC.refuse) throw new Error(FakePC.refuse);
    this.config = config;
  }
  createDataChannel() { return { readyState: 'connecting', close() {} }; }
  async createOffer() { return { type: 'offer', sdp: 'v=0' }; }
  async setLocalDescription(d) { this.localDescription = d; }
  addEventListener(_, f) { this.listeners.add(f); }
  removeEventListener(_, f) { this.listeners.delete(f); }
  close() { this.signalingState = 'closed'; }
}

function service() {
  globalThis.RTCPeerConnection = FakePC;
  const rtc = new RTCService(false);
  const replies = [];
  rtc.post = (m) => replies.push(m);
  rtc.channel = () => {}; // no engine to hand channels to
  return { rtc, replies };
}

async function until(cond, what, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a peer connection the browser refuses to create: the next request says why', async () => {
  const { rtc, replies } = service();
  FakePC.refuse = 'InvalidAccessError: a TURN server needs a username and a credential';
  try {
    rtc.handle({ op: 'create', pc: 7, a: [[{ urls: 'turn:127.0.0.1:3478' }], 15_000] });
  } finally {
    FakePC.refuse = null;
  }
  rtc.handle({ op: 'offer', pc: 7, seq: 1, a: [] });
  await until(() => replies.length === 1, 'the reply to offer');
  assert.equal(replies[0].ok, false);
  assert.match(replies[0].e, /could not create the peer connection: InvalidAccessError: a TURN server needs/);
  rtc.handle({ op: 'close', pc: 7 });
  assert.equal(rtc.unborn.size, 0, 'closing forgets the reason');
});

test('closing a peer connection while it gathers ends the request at once', async () => {
  const { rtc, replies } = service();
  rtc.handle({ op: 'create', pc: 1, a: [[], 60_000] }); // would wait a minute for gathering
  rtc.handle({ op: 'offer', pc: 1, seq: 1, a: [] });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(replies.length, 0, 'the offer waits for gathering');
  rtc.handle({ op: 'close', pc: 1 });
  await until(() => replies.length === 1, 'the reply to offer after close', 2_000);
  assert.deepEqual([replies[0].ok, replies[0].e], [false, 'peer connection closed']);
  assert.equal(rtc.pcs.size, 0);
});
