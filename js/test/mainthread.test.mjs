// Acceptance of issue 9: with the engine in a worker, the page's main
// thread does nothing heavy. A native peer holding 20,000 records syncs
// them into a fresh tab of a page that uses the API and nothing else
// (fixtures/bare.html: what the library costs the page; the demo's own
// rendering is measured by bench.mjs, or here with
// PEERSET_MAINTHREAD_PAGE=demo); from the page, a PerformanceObserver
// ('longtask') and a requestAnimationFrame loop, both installed before the
// page's first script, watch the main thread. During the sync no task may
// take longer than 50 ms, and frames must keep coming: at least one in
// every second of the sync, and half of them within 50 ms of the previous
// one. (The one test here with wall-clock thresholds: they are what the
// issue asks for.)

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { gotoReady, runBinary, stats, uniqueRoom, waitFor, withEnv } from './lib/harness.mjs';

const N = Number(process.env.PEERSET_MAINTHREAD_RECORDS || 20_000);

// watchMainThread runs in the page before its scripts.
function watchMainThread() {
  window.__longtasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration, name: e.name });
  }).observe({ type: 'longtask', buffered: true });
  window.__frames = [];
  const frame = (ts) => {
    if (window.__frames.length < 200_000) window.__frames.push(ts);
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

test(`no main-thread task over 50 ms and requestAnimationFrame running while ${N} records sync into a tab`, { timeout: 420_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('main-thread');
  const { ws, http } = await env.server();
  const dbFile = path.join(await env.tempDir(), 'seed.db');
  runBinary('seed', ['--db', dbFile, '--room', room, '--count', String(N)], { timeout: 300_000 });

  const context = await env.freshContext(http);
  const page = env.watch(await context.newPage(), 'main thread');
  await page.addInitScript(watchMainThread);
  const url = process.env.PEERSET_MAINTHREAD_PAGE === 'demo' ? await env.demoURL({ room }) : `${http}/js/test/fixtures/bare.html?room=${encodeURIComponent(room)}`;
  await gotoReady(page, url);
  assert.equal((await stats(page)).engine.thread, 'worker');

  const start = await page.evaluate(() => performance.now());
  // The native peer stands in for another machine: niced, it leaves this
  // box's CPU to the browser first.
  const native = env.spawnNiced('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open']);
  await waitFor(`the tab to hold ${N} records`, async () => (await stats(page)).records >= N, {
    timeout: 300_000, interval: 1000, state: async () => { const s = await stats(page); return { records: s.records, peers: s.peers }; },
  });
  const end = await page.evaluate(() => performance.now());
  await native.stop();

  const { tasks, frames } = await page.evaluate(({ start, end }) => ({
    tasks: window.__longtasks.filter((x) => x.start + x.duration >= start && x.start <= end),
    frames: window.__frames.filter((ts) => ts >= start && ts <= end),
  }), { start, end });
  const seconds = (end - start) / 1000;
  const gaps = frames.slice(1).map((ts, i) => ts - frames[i]).sort((a, b) => a - b);
  const median = gaps.length ? gaps[Math.floor(gaps.length / 2)] : Infinity;
  t.diagnostic(`${N} records in ${seconds.toFixed(1)} s (${Math.round(N / seconds)} records/s from the native peer's start); ${tasks.length} long tasks; ${frames.length} frames, median gap ${median.toFixed(1)} ms, longest ${gaps.at(-1)?.toFixed(1)} ms`);

  assert.deepEqual(tasks.map((x) => `${Math.round(x.duration)} ms at ${Math.round(x.start - start)} ms`), [], 'no main-thread task longer than 50 ms during the sync');
  for (let s = 0; s + 1 <= seconds; s++) {
    const from = start + s * 1000;
    assert.ok(frames.some((ts) => ts >= from && ts < from + 1000), `requestAnimationFrame ran during second ${s + 1} of the sync`);
  }
  assert.ok(median <= 50, `half the frames came within 50 ms of the previous one (median gap ${median.toFixed(1)} ms)`);
}));
