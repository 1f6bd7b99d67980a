// The engine's events (db.on) to the page are flow-controlled: the engine
// keeps at most EVENTS_IN_FLIGHT messages (or EVENT_BYTES_IN_FLIGHT bytes)
// waiting for the page's acknowledgement, and then its senders wait; their
// own queues are bounded (record changes past 10,000 or 8 MiB become one
// { overflow } item). So a page whose main thread is busy does not pile up
// the engine's messages without bound.
//   - eventFlow itself, loaded from js/engine.js into a fresh context
//     (Node, no browser);
//   - a page that blocks its main thread while 300 of its puts are written:
//     once free it gets every change, and the engine never had more than
//     EVENTS_IN_FLIGHT messages in flight to it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import vm from 'node:vm';

import { gotoReady, nowhereTracker, uniqueRoom, withEnv } from './lib/harness.mjs';

const source = readFileSync(new URL('../engine.js', import.meta.url), 'utf8');

function loadEngine() {
  const context = vm.createContext({ setTimeout, clearTimeout, DOMException, console });
  context.globalThis = context;
  vm.runInContext(source, context);
  return context.__peersetEngine;
}

test('eventFlow: senders wait past the messages or bytes in flight, and go on as the page acknowledges', async () => {
  const { eventFlow, limits } = loadEngine();
  const posted = [];
  const flow = eventFlow((m) => posted.push(m));
  const promises = [];
  for (let i = 0; i < limits.EVENTS_IN_FLIGHT - 1; i++) {
    assert.equal(flow.emit(1, 'record', '[]'), undefined, `event ${i + 1} is below the bound: no wait`);
  }
  const wait = flow.emit(1, 'record', '[]');
  assert.equal(typeof wait?.then, 'function', 'the event that reaches the bound makes its sender wait');
  promises.push(wait);
  assert.equal(posted.length, limits.EVENTS_IN_FLIGHT, 'every event is posted');
  assert.equal(posted.at(-1).q, limits.EVENTS_IN_FLIGHT, 'q counts the events in flight');
  let resolved = false;
  wait.then(() => { resolved = true; });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(resolved, false, 'the sender waits while the page has acknowledged nothing');
  flow.ack();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(resolved, true, 'one acknowledgement lets the sender go on');

  // The byte bound: one large event is enough.
  const bytes = eventFlow(() => {});
  const big = 'x'.repeat(limits.EVENT_BYTES_IN_FLIGHT);
  const w = bytes.emit(1, 'record', big);
  assert.equal(typeof w?.then, 'function', 'an event of EVENT_BYTES_IN_FLIGHT bytes makes its sender wait');
  assert.equal(bytes.emit(1, 'peer', '[]')?.then !== undefined, true, 'and the next sender too, until the page acknowledges');
  let freed = false;
  w.then(() => { freed = true; });
  bytes.ack();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(freed, true, 'acknowledging the large event frees its bytes');
  // An acknowledgement with nothing in flight (a page out of step) changes nothing.
  bytes.ack();
  bytes.ack();
  assert.equal(bytes.emit(1, 'record', '[]'), undefined);
});

test('a page whose main thread is busy gets every change once free; the engine kept few messages in flight', { timeout: 120_000 }, withEnv(async (env, t) => {
  const { http } = await env.server();
  const context = await env.freshContext(http);
  const page = env.watch(await context.newPage(), 'busy page');
  await gotoReady(page, `${http}/js/test/fixtures/bare.html?${new URLSearchParams({ room: uniqueRoom('event-flow'), tracker: nowhereTracker })}`);
  const n = 300;
  const r = await page.evaluate(async (n) => {
    const seen = new Set();
    let overflow = false;
    window.db.on('record', (c) => {
      if (c.overflow) overflow = true;
      else if (!c.removed) seen.add(c.uuid);
    });
    // Each put is a record of 4 KiB, so the messages weigh something too.
    const payload = 'y'.repeat(4 << 10);
    const puts = Promise.all(Array.from({ length: n }, (_, i) => window.db.put({ text: `busy #${i} ${payload}` })));
    // The main thread does nothing else for 3 s: the engine's messages wait.
    const until = performance.now() + 3000;
    while (performance.now() < until) { /* busy */ }
    const uuids = (await puts).map((rec) => rec.uuid);
    const deadline = performance.now() + 60_000;
    while (!overflow && uuids.some((u) => !seen.has(u)) && performance.now() < deadline) {
      await new Promise((res) => setTimeout(res, 50));
    }
    const st = await window.db.stats();
    return { missing: uuids.filter((u) => !seen.has(u)).length, overflow, high: st.engine.eventsInFlightHigh, thread: st.engine.thread };
  }, n);
  t.diagnostic(`engine in the ${r.thread}; at most ${r.high} event messages in flight; ${r.missing} changes missing; overflow ${r.overflow}`);
  assert.equal(r.thread, 'worker');
  assert.equal(r.overflow, false, 'no change was dropped (300 are far below the engine\'s own bound)');
  assert.equal(r.missing, 0, 'every put\'s change reached the page');
  assert.ok(r.high >= 1 && r.high <= 32, `the engine kept between 1 and 32 event messages in flight (${r.high})`);
}));
