// The engine's end of a forwarded data channel (engine.js PortChannel),
// loaded from js/engine.js into a fresh context as a page would load it,
// with a real MessageChannel standing between it and the page's end. Runs
// in Node (no browser needed).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import vm from 'node:vm';

const source = readFileSync(new URL('../engine.js', import.meta.url), 'utf8');

function loadPortChannel() {
  const context = vm.createContext({ setTimeout, clearTimeout, DOMException, console });
  context.globalThis = context;
  vm.runInContext(source, context);
  return context.__peersetEngine.PortChannel;
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

async function until(cond, what, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick();
  }
}

test('detaching a forwarded channel tells the page to close it and closes the port', async () => {
  const PortChannel = loadPortChannel();
  const { port1, port2 } = new MessageChannel();
  const page = [];
  port2.onmessage = (e) => page.push(e.data);
  let closed = false;
  port2.addEventListener('close', () => { closed = true; });
  const ch = new PortChannel(port1, 'open');
  const got = [];
  ch.listen(() => got.push('open'), () => got.push('close'), (d) => got.push(d), () => {});
  port2.postMessage({ k: 'm', d: 'hello' });
  await until(() => got.includes('hello'), 'the message to reach Go');

  ch.listen(null); // Go lets go of the channel
  await until(() => closed, 'the port to close');
  assert.deepEqual(page.filter((m) => m.k === 'x'), [{ k: 'x' }], 'the page is told once to close its data channel');
  assert.equal(ch.readyState, 'closed');
  assert.throws(() => ch.sendText('late'), /closed/, 'a send after detach fails instead of posting into a closed port');
});

test('detaching a channel the page already closed posts nothing more and closes the port', async () => {
  const PortChannel = loadPortChannel();
  const { port1, port2 } = new MessageChannel();
  const page = [];
  port2.onmessage = (e) => page.push(e.data);
  let closed = false;
  port2.addEventListener('close', () => { closed = true; });
  const ch = new PortChannel(port1, 'open');
  const got = [];
  ch.listen(() => got.push('open'), () => got.push('close'), () => {}, () => {});
  port2.postMessage({ k: 'c' }); // the page's data channel closed
  await until(() => got.includes('close'), 'Go to see the close');
  await until(() => closed, 'the port to close');
  ch.listen(null);
  await tick(20);
  assert.deepEqual(page, [], 'nothing is posted to a page that closed its end');
});
