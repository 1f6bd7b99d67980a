// The page's end of a forwarded data channel (peerset.js forwardChannel):
// the path of browsers that cannot transfer an RTCDataChannel to a worker.
// What a peer sends is bounded on its way to the worker, in bytes and in
// time, like every queue a peer can fill. Runs in Node with a fake channel
// and a real MessageChannel (no browser needed).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { forwardChannel } from '../testing.js';

class FakeChannel {
  binaryType = 'blob';
  readyState = 'open';
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  sent = [];
  closed = false;
  onopen = null;
  onclose = null;
  onmessage = null;
  onbufferedamountlow = null;

  send(d) { this.sent.push(d); this.bufferedAmount += d.byteLength ?? d.length; }
  close() { this.closed = true; this.readyState = 'closed'; }
  receive(d) { this.onmessage({ data: d }); }
}

function worker(port) {
  const got = [];
  port.onmessage = (e) => got.push(e.data);
  return got;
}

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

// until waits for cond (polled): message delivery takes as long as a busy
// machine makes it, so the tests wait for what they expect, not a fixed time.
async function until(cond, what, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(5);
  }
}

// handledCount counts the messages the page's end took from the worker
// (it wraps the handler forwardChannel installed on its port).
function handledCount(port) {
  const counter = { n: 0 };
  const handle = port.onmessage;
  port.onmessage = (e) => { handle(e); counter.n++; };
  return counter;
}

test('bytes reach the worker in order, as transferred ArrayBuffers, and its sends reach the channel', async () => {
  const dc = new FakeChannel();
  const { port1, port2 } = new MessageChannel();
  forwardChannel(dc, port1);
  const got = worker(port2);
  assert.equal(dc.binaryType, 'arraybuffer');
  const a = new Uint8Array([1, 2, 3]).buffer;
  dc.receive(a);
  dc.receive(new Uint8Array([4]).buffer);
  assert.equal(a.byteLength, 0, 'the buffer was transferred, not copied');
  await until(() => got.length >= 2, 'two messages in the worker');
  assert.deepEqual(got.map((m) => [m.k, [...new Uint8Array(m.d)]]), [['m', [1, 2, 3]], ['m', [4]]]);

  port2.postMessage({ k: 's', d: new Uint8Array([9, 9]).buffer });
  await until(() => got.at(-1)?.k === 'b', 'the send reported');
  assert.equal(dc.sent.length, 1);
  const report = got.at(-1);
  assert.deepEqual([report.k, report.b, report.n], ['b', 2, 2], 'each send reports the channel\'s bufferedAmount');
  port1.close();
  port2.close();
});

test('a worker that does not keep up loses the channel past the byte bound', async () => {
  const dc = new FakeChannel();
  const { port1, port2 } = new MessageChannel();
  forwardChannel(dc, port1, { maxBytes: 1000 });
  const got = worker(port2);
  for (let i = 0; i < 3; i++) dc.receive(new ArrayBuffer(400)); // 1200 > 1000, nothing acknowledged
  await until(() => got.at(-1)?.k === 'c', 'the worker told the channel closed');
  assert.equal(dc.closed, true, 'the channel is closed');
  assert.equal(got.filter((m) => m.k === 'm').length, 2, 'the message over the bound is not forwarded');
  assert.equal(got.at(-1).k, 'c', 'the worker is told the channel closed');
  port2.close();
});

test('acknowledged bytes make room again', async () => {
  const dc = new FakeChannel();
  const { port1, port2 } = new MessageChannel();
  forwardChannel(dc, port1, { maxBytes: 1000 });
  const handled = handledCount(port1);
  const got = worker(port2);
  for (let i = 0; i < 10; i++) {
    dc.receive(new ArrayBuffer(400));
    await until(() => got.length === i + 1, `message ${i + 1} in the worker`);
    port2.postMessage({ k: 'a', n: 400 }); // the worker took it
    await until(() => handled.n === i + 1, `acknowledgement ${i + 1} handled`);
  }
  assert.equal(dc.closed, false, '4000 bytes passed a bound of 1000, acknowledged as they went');
  assert.equal(got.filter((m) => m.k === 'm').length, 10);
  port1.close();
  port2.close();
});

test('bytes left unacknowledged for too long close the channel', async () => {
  const dc = new FakeChannel();
  const { port1, port2 } = new MessageChannel();
  forwardChannel(dc, port1, { maxStall: 50 });
  worker(port2);
  const sent = Date.now();
  dc.receive(new ArrayBuffer(10));
  await until(() => dc.closed, 'the channel closed for want of acknowledgements');
  assert.ok(Date.now() - sent >= 50, 'closed only after 50 ms with bytes outstanding and nothing acknowledged');
  port2.close();
});

test('the worker closing its end closes the channel; the channel closing tells the worker', async () => {
  const dc = new FakeChannel();
  const { port1, port2 } = new MessageChannel();
  forwardChannel(dc, port1);
  port2.postMessage({ k: 'x' });
  await until(() => dc.closed, 'the channel closed');

  const dc2 = new FakeChannel();
  const ch2 = new MessageChannel();
  forwardChannel(dc2, ch2.port1);
  const got = worker(ch2.port2);
  dc2.onclose();
  await until(() => got.length > 0, 'the worker told');
  await tick();
  assert.deepEqual(got.map((m) => m.k), ['c']);
  ch2.port2.close();
});
