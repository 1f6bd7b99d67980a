// Browser benchmarks, run by scripts/browser-bench.sh inside the
// loopback-only network namespace. Prints a markdown table (and writes it
// to out/browser-bench.md). Numbers are reported as measured against the
// targets; nothing here asserts them.
//
//   wasm size       raw / gzip -9 / brotli -q 11 of js/dist/peerset.wasm
//   put loop        db.put one after the other in a tab: puts/s, and the
//                   long main-thread tasks meanwhile
//   first sync      a native peer (seeded by js/test/seed, niced: it stands
//                   in for another machine) syncs N records into a fresh
//                   tab: records/s once connected, long main-thread tasks
//                   (PerformanceObserver 'longtask', from navigation: the
//                   open included) and the longest gap between animation
//                   frames; in a page without UI (js/test/fixtures/bare.html:
//                   the library alone), in the demo, and with data channels
//                   forwarded rather than transferred (transfer=0)
//   ingest alone    the same records through importEvents (peerset/testing), no network:
//                   what verifying, moderating and storing cost
//   cold open       the synced demo tab reloaded alone: navigation →
//                   data-ready, → stats().records == N, → index rebuilt;
//                   then once more with a db.put at data-ready (the first
//                   write after a reopen)
//   convergence     three tabs holding 1k records each come online together
//   renderer RSS    VmRSS of the renderer process hosting a tab (page and
//                   its dedicated engine worker: one process in Chromium),
//                   read from /proc: a blank page, peerset open on an empty
//                   room, and a tab holding N records after its first sync
//                   from a native peer (the <script> build on a page
//                   without UI, js/test/fixtures/script.html; IndexedDB on
//                   an on-disk profile); the peer then leaves, the tab
//                   settles, garbage is collected (CDP
//                   HeapProfiler.collectGarbage on the page and the worker)
//                   and the RSS is read, with the WebAssembly linear
//                   memory found in the page and the worker (Go's heap
//                   and stacks: it never shrinks). Each measurement has a browser of
//                   its own; the renderer is the --type=renderer
//                   descendant of that browser whose CPU time grows while
//                   the page spins its main thread. Beside the baseline
//                   build (PEERSET_BENCH_BASELINE_DIST/_BIN, built by
//                   scripts/browser-bench.sh) measured the same way, same
//                   run, alternately.
//
// Environment: PEERSET_BENCH_RUNS (reloads per size, default 3),
// PEERSET_BENCH_SIZES (default "20000,50000"), PEERSET_BENCH_TABS_RECORDS
// (default 1000), PEERSET_BENCH_PARTS (default "size,rss,tabs,sync": the
// parts to run; also "put" and "reopen", see putLoop and reopenOnly;
// "idb-layout", IndexedDB alone in two layouts, see idbLayout; "blob",
// file throughput tab → tab and native → tab beside a raw data channel
// between the same two tabs, see blobThroughput;
// "bare-sync" is the first sync into the page without UI and the ingest
// alone, without the demo, reloads and forwarded channels of "sync";
// "demo-sync" the first sync into the demo alone, PEERSET_BENCH_RUNS times),
// PEERSET_BENCH_PUTS (default 1000), PEERSET_BENCH_COMPARE (a build tree
// measured beside this one by put, reopen, bare-sync and demo-sync: its js/dist,
// js/test/fixtures and examples/demo), PEERSET_BENCH_SETTLE_MS (default 5000: the wait before an
// RSS reading).

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import { chromiumCPU, workerThreadsCPU } from './lib/cpu.mjs';
import { Child, Env, gotoReady, nowhereTracker, outDir, putMany, repoRoot, runBinary, sleep, stats, uniqueRoom, waitFor } from './lib/harness.mjs';
import { cpuNote as taskCPUNote, mainThreadTasks, startTrace } from './lib/trace.mjs';

const runs = Number(process.env.PEERSET_BENCH_RUNS || 3);
const sizes = (process.env.PEERSET_BENCH_SIZES || '20000,50000').split(',').map(Number);
const tabRecords = Number(process.env.PEERSET_BENCH_TABS_RECORDS || 1000);
const parts = new Set((process.env.PEERSET_BENCH_PARTS || 'size,rss,tabs,sync').split(','));
const settleMs = Number(process.env.PEERSET_BENCH_SETTLE_MS || 5000);
const baseline = process.env.PEERSET_BENCH_BASELINE_DIST && process.env.PEERSET_BENCH_BASELINE_BIN
  ? { commit: process.env.PEERSET_BENCH_BASELINE_COMMIT || 'baseline', dist: process.env.PEERSET_BENCH_BASELINE_DIST, bin: process.env.PEERSET_BENCH_BASELINE_BIN }
  : null;

const rows = []; // [measure, value, target, note]
const row = (measure, value, target = '', note = '') => {
  rows.push([measure, value, target, note]);
  console.error(`bench: ${measure}: ${value}${note ? ` (${note})` : ''}`);
};

const ms = (x) => `${Math.round(x).toLocaleString('en-US')} ms`;
const s = (x) => `${(x / 1000).toFixed(2)} s`;
const bytes = (n) => `${n.toLocaleString('en-US')} B (${(n / 1e6).toFixed(2)} MB)`;
const median = (xs) => { const v = [...xs].sort((a, b) => a - b); return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2; };
const spread = (xs) => `median of ${xs.length}; min ${Math.round(Math.min(...xs))}, max ${Math.round(Math.max(...xs))} ms`;

function compressedSize(cmd, args, file) {
  const result = spawnSync(cmd, [...args, file], { maxBuffer: 64 << 20 });
  if (result.error || result.status !== 0) return null;
  return result.stdout.length;
}

async function wasmSizes() {
  const file = path.join(repoRoot, 'js', 'dist', 'peerset.wasm');
  const raw = (await stat(file)).size;
  const gzip = compressedSize('gzip', ['-9', '-c'], file);
  let brotli = compressedSize('brotli', ['-q', '11', '-c'], file);
  let brotliNote = 'brotli -q 11';
  if (brotli === null) { // the script installs the CLI; this is only a fallback
    brotli = zlib.brotliCompressSync(readFileSync(file), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_LGWIN]: 24 } }).length;
    brotliNote = 'Node zlib, quality 11 (no brotli CLI)';
  }
  row('peerset.wasm raw', bytes(raw));
  row('peerset.wasm gzip -9', gzip === null ? 'gzip failed' : bytes(gzip));
  row('peerset.wasm brotli -q 11', bytes(brotli), '≤ 1.8 MB (stretch 1.3 MB)', brotliNote);
}

// The in-page probe for an open: once data-ready is set, note the time and
// poll stats() until the records are all there. Times are from navigation
// start (performance.timeOrigin).
function installOpenProbe(target) {
  window.__open = { target };
  const done = () => {
    window.__open.readyAt = performance.now();
    // A write at once (when the benchmark asked for it before reloading):
    // how long the first db.put after a reopen waits.
    if (sessionStorage.getItem('bench-first-write') === '1') {
      sessionStorage.removeItem('bench-first-write');
      window.__open.wantsPut = true;
      window.db.put({ text: 'bench: the first write after a reopen' }).then(
        () => { window.__open.putAt = performance.now(); },
        (err) => { window.__open.putError = String(err && err.message || err); });
    }
    const poll = async () => {
      const st = await window.db.stats();
      window.__open.recordsAtReady ??= st.records;
      window.__open.peersAtReady ??= st.peers;
      if (st.records >= target) window.__open.fullAt ??= performance.now();
      // The moderation index is rebuilt in the background after ready;
      // writes wait for it (stats().loading).
      if (st.records >= target && !st.loading) window.__open.loadedAt = performance.now();
      else setTimeout(poll, 5);
    };
    poll();
  };
  const watch = () => {
    if (document.body.dataset.ready === '1') return done();
    new MutationObserver((_, observer) => {
      if (document.body.dataset.ready === '1') { observer.disconnect(); done(); }
    }).observe(document.body, { attributes: true, attributeFilter: ['data-ready'] });
  };
  if (document.body) watch(); else document.addEventListener('DOMContentLoaded', watch);
}

async function measuredOpen(page, navigate, target) {
  await navigate();
  const result = await page.waitForFunction(() => window.__open && window.__open.loadedAt
    && (!window.__open.wantsPut || window.__open.putAt || window.__open.putError) && window.__open, null, { timeout: 300_000, polling: 100 });
  return result.jsonValue();
}

// installMainThreadWatch runs in the page before its scripts: long tasks
// from navigation on, and animation frames.
function installMainThreadWatch() {
  window.__longtasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
  window.__frames = [];
  const frame = (ts) => {
    if (window.__frames.length < 500_000) window.__frames.push(ts);
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

// mainThread summarises the long tasks and frame gaps between two page
// times (performance.now()).
function mainThread(page, from, to) {
  return page.evaluate(({ from, to }) => {
    const tasks = window.__longtasks.filter((x) => x.start + x.duration >= from && x.start <= to);
    const frames = window.__frames.filter((ts) => ts >= from && ts <= to);
    let gap = 0;
    for (let i = 1; i < frames.length; i++) gap = Math.max(gap, frames[i] - frames[i - 1]);
    return { count: tasks.length, longest: tasks.reduce((m, x) => Math.max(m, x.duration), 0), total: tasks.reduce((m, x) => m + x.duration, 0), gap };
  }, { from, to });
}

const taskNote = (m) => (m.count ? `${m.count} (${ms(m.total)} in all), longest ${ms(m.longest)}` : 'none');

// cpuNote: CPU time per record (µs), of all of Chromium's processes (IndexedDB's
// backend included) and of its dedicated-worker threads (the engine's), from /proc.
const cpuNote = (c, n) => `${Math.round((c.all * 1000) / n).toLocaleString('en-US')} µs all of Chromium / ${Math.round((c.worker * 1000) / n).toLocaleString('en-US')} µs the engine's worker`;

// firstSync seeds n records into a native peer and lets it sync them into
// a fresh tab: page 'bare' (the API without UI) or 'demo', params passed to
// the page (transfer=0 forwards the data channels). With reopen, the demo
// tab is then reloaded alone with the records in IndexedDB, and after a
// browser restart. Returns the seeded database file and room for reuse.
async function firstSync(n, { page: kind = 'bare', params = {}, reopen = false, tree = '', build = '' } = {}) {
  const env = new Env(`first sync ${n}`);
  const k = `${n / 1000}k`;
  const label = `${kind === 'bare' ? 'page without UI' : 'demo'}${params.transfer === '0' ? ', channels forwarded' : ''}${build ? `, ${build}` : ''}`;
  const treePath = tree ? `/${tree}` : '';
  try {
    const room = uniqueRoom(`bench-${n}`);
    const { ws, http } = await env.server();
    const dbFile = path.join(await env.tempDir(), 'seed.db');
    const eventsFile = path.join(path.dirname(dbFile), 'events.json');
    let t = Date.now();
    runBinary('seed', ['--db', dbFile, '--room', room, '--count', String(n), ...(kind === 'bare' && !params.transfer ? ['--json-out', eventsFile] : [])], { timeout: 600_000 });
    console.error(`bench: seeded ${n} records in ${Date.now() - t} ms`);

    const profile = await env.persistentContext(http);
    const page = env.watch(await profile.newPage(), `sync ${n} ${label}`);
    await page.addInitScript(installMainThreadWatch);
    const q = new URLSearchParams({ room, ...params });
    const url = kind === 'bare' ? `${http}${treePath}/js/test/fixtures/bare.html?${q}` : await demoAt(env, tree, { room, params });
    // A trace beside the long tasks: their CPU time (see lib/trace.mjs).
    let stopTrace = await startTrace(page, ['toplevel', 'disabled-by-default-devtools.timeline']);
    await gotoReady(page, url);
    const ready = await page.evaluate(() => performance.now());
    const open = await mainThread(page, 0, ready);
    const openTasks = mainThreadTasks(await stopTrace());

    // The first sync: the native peer brings the n records into the tab.
    const start = await page.evaluate(() => performance.now());
    t = Date.now();
    const load0 = loadavg();
    const cpu0 = chromiumCPU();
    const worker0 = workerThreadsCPU();
    stopTrace = await startTrace(page);
    const native = env.spawnNiced('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open']);
    await waitFor('the native peer to connect', async () => (await stats(page)).peers >= 1, { timeout: 60_000, interval: 100 });
    const connected = Date.now() - t;
    await waitFor(`the tab to hold ${n} records`, async () => (await stats(page)).records >= n, {
      timeout: 900_000, interval: 500, state: async () => { const st = await stats(page); return { records: st.records, peers: st.peers }; },
    });
    const synced = Date.now() - t;
    const syncCPU = { all: chromiumCPU() - cpu0, worker: workerThreadsCPU() - worker0 };
    const end = await page.evaluate(() => performance.now());
    const sync = await mainThread(page, start, end);
    const syncTasks = mainThreadTasks(await stopTrace());
    const rate = Math.round(n / ((synced - connected) / 1000));
    row(`first sync of ${k} records from a native peer (${label})`, `${rate.toLocaleString('en-US')} records/s`, n === 20_000 && kind === 'bare' && !params.transfer ? '≥ 2,500 records/s' : '',
      `${s(synced)} from the peer's start, connected after ${ms(connected)}; CPU per record ${cpuNote(syncCPU, n)}; load ${load0} → ${loadavg()}`);
    row(`long main-thread tasks during the ${k} sync (${label})`, taskNote(sync), n === 20_000 ? 'none > 50 ms' : '', `${taskCPUNote(syncTasks)}; longest gap between animation frames ${ms(sync.gap)}`);
    row(`long main-thread tasks while opening (${label})`, taskNote(open), 'none > 50 ms', `${taskCPUNote(openTasks)}; navigation → ready ${ms(ready)}`);
    await native.stop();

    if (kind === 'bare' && !params.transfer) {
      // The same records again, through the engine alone (no network).
      await page.goto(`${http}${treePath}/js/test/fixtures/bare.html?${new URLSearchParams({ room, db: `${room}-import`, tracker: nowhereTracker })}`);
      await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
      const json = readFileSync(eventsFile, 'utf8');
      const iload0 = loadavg();
      const icpu0 = chromiumCPU();
      const iworker0 = workerThreadsCPU();
      const r = await page.evaluate(async ({ json, testing }) => {
        const { importEvents } = await import(testing);
        const t = performance.now();
        const res = await importEvents(window.db, json);
        return { ms: performance.now() - t, stored: res.stored };
      }, { json, testing: `${treePath}/js/dist/testing.js` });
      const ingestCPU = { all: chromiumCPU() - icpu0, worker: workerThreadsCPU() - iworker0 };
      row(`ingest alone: ${k} records through db._importEvents (${label})`, `${Math.round(r.stored / (r.ms / 1000)).toLocaleString('en-US')} records/s`, '',
        `parse, verify, moderate, store in IndexedDB; no network: the ceiling of a first sync; CPU per record ${cpuNote(ingestCPU, r.stored)}; load ${iload0} → ${loadavg()}`);
    }
    if (!reopen) return;
    await waitFor('the tab to see the native peer leave', async () => (await stats(page)).peers === 0, { timeout: 30_000 }).catch(() => {});

    // The second open: reload with the records in IndexedDB, alone.
    await page.addInitScript(installOpenProbe, n);
    const readies = [];
    const fulls = [];
    const loadeds = [];
    for (let i = 0; i < runs; i++) {
      const o = await measuredOpen(page, () => page.reload({ waitUntil: 'commit' }), n);
      if (o.peersAtReady !== 0) console.error(`bench: warning: ${o.peersAtReady} peers at ready`);
      readies.push(o.readyAt);
      fulls.push(o.fullAt);
      loadeds.push(o.loadedAt);
      console.error(`bench: reload ${i + 1}: ready ${Math.round(o.readyAt)} ms, ${n} records ${Math.round(o.fullAt)} ms (records at ready: ${o.recordsAtReady})`);
    }
    row(`open with ${k} records in IndexedDB (reload): navigation → data-ready`, ms(median(readies)), n === 50_000 ? '< 2 s' : '', spread(readies));
    row(`open with ${k} records in IndexedDB (reload): navigation → stats().records == ${k}`, ms(median(fulls)), n === 50_000 ? '< 2 s' : '', spread(fulls));
    row(`open with ${k} records in IndexedDB (reload): navigation → index rebuilt (writes accepted)`, ms(median(loadeds)), '', `${spread(loadeds)}; in the background after ready`);
    const reopened = await mainThread(page, 0, Math.max(...loadeds));
    row(`long main-thread tasks while reopening with ${k} records (${label})`, taskNote(reopened), 'none > 50 ms', 'last reload, navigation → index rebuilt');

    // The first write after a reopen: one more reload, db.put as soon as
    // the page is ready.
    await page.evaluate(() => sessionStorage.setItem('bench-first-write', '1'));
    const w = await measuredOpen(page, () => page.reload({ waitUntil: 'commit' }), n);
    row(`first write after reopening with ${k} records: navigation → db.put resolved`, w.putError ? `failed: ${w.putError}` : ms(w.putAt), n === 50_000 ? '≤ 0.5 s' : '',
      w.putError ? '' : `db.put called at data-ready (${ms(w.readyAt)}), resolved ${ms(w.putAt - w.readyAt)} later; one run`);

    // A browser restart on the same profile: nothing warm in memory.
    await profile.close();
    env.contexts = env.contexts.filter((c) => c !== profile);
    const restarted = await env.persistentContext(http, profile.userDataDir);
    const page2 = env.watch(await restarted.newPage(), `sync ${n} restarted`);
    await page2.addInitScript(installOpenProbe, n);
    const o = await measuredOpen(page2, () => page2.goto(url, { waitUntil: 'commit' }), n);
    row(`open with ${k} records after a browser restart: → data-ready / → all records / → index rebuilt`, `${ms(o.readyAt)} / ${ms(o.fullAt)} / ${ms(o.loadedAt)}`, '', 'one run; includes compiling the wasm');
  } catch (err) {
    row(`first sync of ${k} records (${label})`, `failed: ${err.message.split('\n')[0]}`);
    console.error(env.diagnostics());
  } finally {
    await env.close();
  }
}

async function threeTabs(n) {
  const env = new Env('three tabs');
  try {
    const room = uniqueRoom('bench-tabs');
    const { http } = await env.server();
    // Each tab first puts its n records with a tracker where nobody is, so
    // that the three sets meet only when they come online together.
    const offlineURL = await env.demoURL({ room, tracker: nowhereTracker });
    const onlineURL = await env.demoURL({ room });
    const pages = [];
    const putTimes = [];
    let putTasks;
    for (let i = 1; i <= 3; i++) {
      const context = await env.freshContext(http);
      const page = env.watch(await context.newPage(), `tab ${i}`);
      await page.addInitScript(installMainThreadWatch);
      await gotoReady(page, offlineURL);
      const from = await page.evaluate(() => performance.now());
      const t = Date.now();
      await putMany(page, n, `tab ${i} bench record`);
      putTimes.push(Date.now() - t);
      if (i === 1) putTasks = await mainThread(page, from, await page.evaluate(() => performance.now()));
      if ((await stats(page)).records !== n) throw new Error(`tab ${i} holds ${(await stats(page)).records} records after ${n} puts`);
      pages.push(page);
    }
    row(`db.put in a loop, one tab (${n} sequential puts, the demo)`, `${Math.round(n / (median(putTimes) / 1000)).toLocaleString('en-US')} puts/s`, '≥ 1,000/s', `median ${ms(median(putTimes))} for ${n}, three tabs`);
    row('long main-thread tasks during the put loop (demo)', taskNote(putTasks), 'none > 50 ms', `longest gap between animation frames ${ms(putTasks.gap)}`);

    const t0 = Date.now();
    await Promise.all(pages.map((p) => gotoReady(p, onlineURL)));
    const allReady = Date.now() - t0;
    const from = await Promise.all(pages.map((p) => p.evaluate(() => performance.now())));
    let last;
    await waitFor(`three tabs to converge on ${3 * n}`, async () => {
      last = await Promise.all(pages.map(stats));
      return last.every((x) => x.records === 3 * n) && new Set(last.map((x) => x.root)).size === 1;
    }, { timeout: 300_000, interval: 100, state: () => last.map((x) => ({ records: x.records, peers: x.peers })) });
    const converged = Date.now() - t0;
    const tasks = (await Promise.all(pages.map((p, i) => p.evaluate((from) => window.__longtasks.filter((x) => x.start >= from), from[i])))).flat();
    row(`three tabs × ${n / 1000}k records converge (to ${3 * n / 1000}k, one root)`, s(converged), '< 10 s',
      `from navigating the three tabs online; all ready after ${ms(allReady)}, so ${ms(converged - allReady)} of connecting and syncing; longest task after ready ${ms(tasks.reduce((m, x) => Math.max(m, x.duration), 0))}`);
  } catch (err) {
    row('three tabs converge', `failed: ${err.message.split('\n')[0]}`);
    console.error(env.diagnostics());
  } finally {
    await env.close();
  }
}

// --- the put loop and the reopen alone (parts 'put' and 'reopen'), each
// beside a comparison build when PEERSET_BENCH_COMPARE names a directory
// under the repository holding its examples/demo and js/dist (e.g. a copy
// of main's: the builds measured alternately in the same run).

const compareRoot = process.env.PEERSET_BENCH_COMPARE || '';
const putCount = Number(process.env.PEERSET_BENCH_PUTS || 1000);

// demoAt is the demo's address in a build tree ('' for this checkout).
async function demoAt(env, tree, options) {
  const url = new URL(await env.demoURL(options));
  if (tree) url.pathname = `/${tree}/examples/demo/`;
  return url.toString();
}

const builds = () => [{ name: 'this build', tree: '' }, ...(compareRoot ? [{ name: compareRoot, tree: compareRoot }] : [])];

// putLoop: putCount sequential db.put in the demo and in a page without UI
// (script.html), for each build.
async function putLoop() {
  const results = new Map();
  for (let round = 0; round < runs; round++) {
    for (const b of builds()) {
      for (const kind of ['demo', 'page without UI', 'page without UI, all at once']) {
        const env = new Env(`put ${b.name}`);
        try {
          const room = uniqueRoom('bench-put');
          const { http } = await env.server();
          const context = await env.freshContext(http);
          const page = env.watch(await context.newPage(), `put ${b.name} ${kind}`);
          await page.addInitScript(installMainThreadWatch);
          const url = kind === 'demo' ? await demoAt(env, b.tree, { room, tracker: nowhereTracker })
            : `${http}/js/test/fixtures/script.html?${new URLSearchParams({ room, tracker: nowhereTracker, dist: b.tree ? `/${b.tree}/js/dist/` : '/js/dist/' })}`;
          await gotoReady(page, url, 60_000);
          await putMany(page, 20, 'warm-up'); // the first signature computes the curve's table
          const from = await page.evaluate(() => performance.now());
          const stopTrace = await startTrace(page);
          const t = Date.now();
          if (kind.endsWith('all at once')) {
            // putCount puts started together (Promise.all): what grouping
            // concurrent writes into shared transactions gives.
            await page.evaluate(async (n) => {
              await Promise.all(Array.from({ length: n }, (_, i) => window.db.put({ text: `bench put at once #${i + 1}` })));
            }, putCount);
          } else {
            await putMany(page, putCount, 'bench put');
          }
          const took = Date.now() - t;
          const to = await page.evaluate(() => performance.now());
          const tasks = await mainThread(page, from, to);
          tasks.cpu = mainThreadTasks(await stopTrace());
          const key = `${b.name}|${kind}`;
          if (!results.has(key)) results.set(key, []);
          results.get(key).push({ rate: putCount / (took / 1000), tasks });
          console.error(`bench: put ${b.name} (${kind}): ${Math.round(putCount / (took / 1000))} puts/s, long tasks ${taskNote(tasks)}; load ${loadavg()}`);
        } catch (err) {
          console.error(`bench: put ${b.name} (${kind}) failed: ${err.stack || err.message}`);
          console.error(env.diagnostics());
        } finally {
          await env.close();
        }
      }
    }
  }
  for (const [key, rs] of results) {
    const [name, kind] = key.split('|');
    const rates = rs.map((r) => r.rate);
    const worst = rs.reduce((m, r) => (r.tasks.longest > m.longest ? r.tasks : m), rs[0].tasks);
    row(`db.put ${kind.endsWith('all at once') ? `× ${putCount} started together` : `in a loop (${putCount} sequential puts`}, ${kind}, ${name}${kind.endsWith('all at once') ? '' : ')'}`, `${Math.round(median(rates)).toLocaleString('en-US')} puts/s`, '≥ 1,000/s',
      `median of ${rates.length} (${rates.map((r) => Math.round(r)).join(', ')}); long main-thread tasks in the worst run: ${taskNote(worst)} (${taskCPUNote(worst.cpu)}), longest frame gap ${ms(worst.gap)}`);
  }
}

// reopenOnly: the demo tab filled with n records through importEvents of
// peerset/testing
// (no network), then reloaded: navigation → data-ready, → index loaded,
// and the first write after a reopen; for each build, alternately.
async function reopenOnly(n) {
  const k = `${n / 1000}k`;
  const env = new Env(`reopen ${n}`);
  try {
    const { http } = await env.server();
    const room = uniqueRoom(`bench-reopen-${n}`);
    const eventsFile = path.join(await env.tempDir(), 'events.json');
    runBinary('seed', ['--db', path.join(path.dirname(eventsFile), 'seed.db'), '--room', room, '--count', String(n), '--json-out', eventsFile], { timeout: 600_000 });
    const json = readFileSync(eventsFile, 'utf8');
    const tabs = [];
    for (const b of builds()) {
      const profile = await env.persistentContext(http);
      const page = env.watch(await profile.newPage(), `reopen ${b.name}`);
      await page.addInitScript(installMainThreadWatch);
      const url = await demoAt(env, b.tree, { room, tracker: nowhereTracker });
      await gotoReady(page, url, 60_000);
      // The hook is in peerset/testing; a build from before it (a compare
      // tree) still has it on the db.
      const testingURL = `${b.tree ? `/${b.tree}` : ''}/js/dist/testing.js`;
      const stored = await page.evaluate(async ({ json, testingURL }) => {
        if (window.db._importEvents) return (await window.db._importEvents(json)).stored;
        const { importEvents } = await import(testingURL);
        return (await importEvents(window.db, json)).stored;
      }, { json, testingURL });
      if (stored !== n) throw new Error(`${b.name}: imported ${stored} of ${n} records`);
      await sleep(5000); // the engine saves its index snapshot after a quiet second
      await page.addInitScript(installOpenProbe, n);
      tabs.push({ b, page, readies: [], loadeds: [], writes: [], tasks: [] });
    }
    for (let i = 0; i < runs; i++) {
      for (const tab of tabs) {
        const o = await measuredOpen(tab.page, () => tab.page.reload({ waitUntil: 'commit' }), n);
        tab.readies.push(o.readyAt);
        tab.loadeds.push(o.loadedAt);
        tab.tasks.push(await mainThread(tab.page, 0, o.loadedAt));
        await tab.page.evaluate(() => sessionStorage.setItem('bench-first-write', '1'));
        const w = await measuredOpen(tab.page, () => tab.page.reload({ waitUntil: 'commit' }), n);
        if (w.putError) throw new Error(`${tab.b.name}: the first write failed: ${w.putError}`);
        tab.writes.push({ at: w.putAt, after: w.putAt - w.readyAt });
        console.error(`bench: reopen ${k} ${tab.b.name}: ready ${ms(o.readyAt)}, loaded ${ms(o.loadedAt)}, first write ${ms(w.putAt)} (${ms(w.putAt - w.readyAt)} after ready); load ${loadavg()}`);
      }
    }
    for (const tab of tabs) {
      const worst = tab.tasks.reduce((m, t) => (t.longest > m.longest ? t : m), tab.tasks[0]);
      row(`reopen with ${k} records (demo, ${tab.b.name}): navigation → data-ready`, ms(median(tab.readies)), n === 50_000 ? '< 2 s' : '', spread(tab.readies));
      row(`reopen with ${k} records (demo, ${tab.b.name}): navigation → index loaded`, ms(median(tab.loadeds)), '', spread(tab.loadeds));
      row(`first write after reopening with ${k} records (demo, ${tab.b.name}): navigation → db.put resolved`, ms(median(tab.writes.map((w) => w.at))), n === 50_000 ? '≤ 0.5 s' : '',
        `${spread(tab.writes.map((w) => w.at))}; put called at data-ready, resolved ${tab.writes.map((w) => ms(w.after)).join(', ')} later`);
      row(`long main-thread tasks while reopening with ${k} records (demo, ${tab.b.name})`, taskNote(worst), 'none > 50 ms', 'the worst reload');
    }
  } catch (err) {
    row(`reopen with ${k} records`, `failed: ${err.message.split('\n')[0]}`);
    console.error(env.diagnostics());
  } finally {
    await env.close();
  }
}

// --- renderer RSS

function loadavg() {
  return os.loadavg().map((x) => x.toFixed(2)).join(', ');
}

// processes lists /proc: pid, parent, command line and CPU time (ticks).
function processes() {
  const out = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the state on
      // Chromium's child processes rewrite their command line into one
      // space-separated string: split on both.
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split(/[\0\s]+/).filter(Boolean);
      out.set(Number(name), { pid: Number(name), ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]), cmdline });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

// rendererPIDs are the --type=renderer descendants of the browser started
// with userDataDir (renderers are forked by the zygote, itself the
// browser's child).
function rendererPIDs(userDataDir) {
  const procs = processes();
  const browsers = [...procs.values()].filter((p) => !p.cmdline.some((a) => a.startsWith('--type='))
    && p.cmdline.some((a) => a === `--user-data-dir=${userDataDir}`)).map((p) => p.pid);
  if (browsers.length !== 1) throw new Error(`found ${browsers.length} browser processes with --user-data-dir=${userDataDir}`);
  const under = (p) => {
    for (let q = p, hops = 0; q && hops < 20; q = procs.get(q.ppid), hops++) if (q.pid === browsers[0]) return true;
    return false;
  };
  return [...procs.values()].filter((p) => p.cmdline.includes('--type=renderer') && under(p)).map((p) => p.pid);
}

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function memStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number((text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm')) || [])[1] || NaN);
  return { rss: kb('VmRSS') * 1024, anon: kb('RssAnon') * 1024, file: kb('RssFile') * 1024, shmem: kb('RssShmem') * 1024 };
}

// pageRenderer finds the renderer that runs page: the one whose CPU time
// grows while the page spins its main thread. On a loaded machine a spin
// may get little CPU, so it spins again (up to 10 s) until one renderer
// has clearly taken the most.
async function pageRenderer(page, userDataDir) {
  const pids = rendererPIDs(userDataDir);
  if (pids.length === 0) throw new Error('no renderer process under the browser');
  const ticks = new Map(pids.map((pid) => [pid, 0]));
  let grown = [];
  for (let spin = 0; spin < 10; spin++) {
    const before = new Map(pids.map((pid) => [pid, cpuTicks(pid)]));
    await page.evaluate(() => { const t = performance.now(); while (performance.now() - t < 1000) { /* spin */ } });
    for (const pid of pids) ticks.set(pid, ticks.get(pid) + cpuTicks(pid) - before.get(pid));
    grown = [...ticks].map(([pid, t]) => ({ pid, ticks: t })).sort((a, b) => b.ticks - a.ticks);
    if (grown[0].ticks >= 20 && (!grown[1] || grown[0].ticks >= 3 * grown[1].ticks)) return { pid: grown[0].pid, renderers: pids.length };
  }
  throw new Error(`no renderer clearly spent the page's spins on CPU (ticks: ${JSON.stringify(grown)})`);
}

// collectGarbage asks V8 to collect garbage in the page and in each of its
// workers (the engine's), through the DevTools protocol, then sums the
// WebAssembly memories it finds there (Go's linear memory: it never
// shrinks). Returns how many workers it reached and the wasm bytes.
async function collectGarbage(page) {
  const cdp = await page.context().newCDPSession(page);
  // wasmBytes sums every WebAssembly.Memory's buffer in one target.
  const wasmBytes = async (send) => {
    const proto = await send('Runtime.evaluate', { expression: 'WebAssembly.Memory.prototype' });
    const found = await send('Runtime.queryObjects', { prototypeObjectId: proto.result.objectId });
    const sum = await send('Runtime.callFunctionOn', {
      objectId: found.objects.objectId, returnByValue: true,
      functionDeclaration: 'function () { return this.reduce((n, m) => n + m.buffer.byteLength, 0); }',
    });
    return sum.result.value;
  };
  try {
    await cdp.send('HeapProfiler.collectGarbage');
    let wasm = await wasmBytes((method, params) => cdp.send(method, params)).catch(() => NaN);
    const sessions = [];
    cdp.on('Target.attachedToTarget', (e) => { if (e.targetInfo.type === 'worker') sessions.push(e.sessionId); });
    const replies = new Map();
    cdp.on('Target.receivedMessageFromTarget', (e) => {
      const msg = JSON.parse(e.message);
      if (msg.id && replies.has(msg.id)) replies.get(msg.id)(msg);
    });
    await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
    await sleep(300);
    let reached = 0;
    let id = 0;
    for (const sessionId of sessions) {
      // send through the (non-flat) session of one worker
      const send = async (method, params = {}) => {
        const msgId = ++id;
        const reply = new Promise((resolve) => { replies.set(msgId, resolve); setTimeout(() => resolve({ error: { message: 'no reply in 10 s' } }), 10_000); });
        await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: msgId, method, params }) });
        const r = await reply;
        replies.delete(msgId);
        if (r.error) throw new Error(`${method}: ${r.error.message}`);
        return r.result;
      };
      try {
        await send('HeapProfiler.collectGarbage');
        reached++;
        wasm += await send('Runtime.enable').then(() => wasmBytes(send));
      } catch (err) {
        console.error(`bench: rss: a worker: ${err.message}`);
      }
      await cdp.send('Target.detachFromTarget', { sessionId }).catch(() => {});
    }
    await cdp.send('Target.setAutoAttach', { autoAttach: false, waitForDebuggerOnStart: false, flatten: false }).catch(() => {});
    return { workers: reached, wasm };
  } finally {
    await cdp.detach().catch(() => {});
  }
}

// tabRSS opens the <script> page of a build (js/dist, or the baseline's
// dist) in a browser of its own and returns the renderer's memory: blank
// (nothing loaded), n = 0 (peerset open on a room where nobody is), or
// after a native peer of the same build synced n records into it.
async function tabRSS(build, n, { blank = false } = {}) {
  const env = new Env(`rss ${build.name} ${n}`);
  try {
    const room = uniqueRoom(`bench-rss-${n}`);
    const { ws, http } = await env.server();
    let native;
    let dbFile;
    if (n > 0) {
      dbFile = path.join(await env.tempDir(), 'seed.db');
      const t = Date.now();
      const seeded = spawnSync(path.join(build.bin, 'seed'), ['--db', dbFile, '--room', room, '--count', String(n)], { encoding: 'utf8', timeout: 600_000 });
      if (seeded.error || seeded.status !== 0) throw new Error(`seed (${build.name}): ${seeded.error?.message || seeded.stderr}`);
      console.error(`bench: rss: seeded ${n} records (${build.name}) in ${Date.now() - t} ms`);
    }
    const profile = await env.persistentContext(http);
    const page = env.watch(await profile.newPage(), `rss ${build.name} ${n}`);
    const q = new URLSearchParams(blank ? { blank: '1' } : { room, dist: `/${build.dist}/`, ...(n === 0 ? { tracker: nowhereTracker } : {}) });
    await gotoReady(page, `${http}/js/test/fixtures/script.html?${q}`, 60_000);
    let syncMs = 0;
    if (n > 0) {
      const t = Date.now();
      native = new Child('peerset join', 'nice', ['-n', '19', path.join(build.bin, 'peerset'), 'join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open']);
      env.children.push(native);
      await waitFor(`the tab (${build.name}) to hold ${n} records`, async () => (await stats(page)).records >= n, {
        timeout: 900_000, interval: 500, state: async () => { const st = await stats(page); return { records: st.records, peers: st.peers }; },
      });
      syncMs = Date.now() - t;
      await native.stop();
      await waitFor('the tab to see the native peer leave', async () => (await stats(page)).peers === 0, { timeout: 30_000 }).catch(() => {});
    }
    await sleep(settleMs);
    const { pid, renderers } = await pageRenderer(page, profile.userDataDir);
    const before = memStatus(pid);
    const { workers, wasm } = await collectGarbage(page);
    await sleep(2000);
    const after = memStatus(pid);
    const records = blank ? 0 : (await stats(page)).records;
    console.error(`bench: rss ${build.name} n=${n}${blank ? ' (blank)' : ''}: pid ${pid} of ${renderers} renderers, ${mib(before.rss)} before GC, ${mib(after.rss)} after (anon ${mib(after.anon)}, file ${mib(after.file)}, shmem ${mib(after.shmem)}), ${workers} worker(s) collected, wasm memory ${mib(wasm)}, ${records} records`);
    return { ...after, beforeGC: before.rss, workers, wasm, renderers, records, syncMs };
  } finally {
    await env.close();
  }
}

const mib = (b) => `${Math.round(b / 2 ** 20)} MiB`;
const mem = (b) => `${Math.round(b / 2 ** 20).toLocaleString('en-US')} MiB (${Math.round(b / 1e6).toLocaleString('en-US')} MB)`;

async function rendererRSS() {
  const self = { name: 'this build', dist: 'js/dist', bin: process.env.PEERSET_TEST_BIN || path.join(outDir, 'browser-test', 'bin') };
  const base = baseline && { name: `baseline ${baseline.commit}`, dist: baseline.dist, bin: baseline.bin };
  const attempt = async (what, fn) => {
    try { return await fn(); } catch (err) { console.error(`bench: rss: ${what} failed: ${err.stack || err.message}`); return { failed: err.message.split('\n')[0] }; }
  };
  const blank = await attempt('blank page', () => tabRSS(self, 0, { blank: true }));
  row('renderer RSS: blank page (same origin, nothing loaded)', blank.failed ? `failed: ${blank.failed}` : mem(blank.rss), '', blank.failed ? '' : `anon ${mib(blank.anon)}; ${blank.renderers} renderer process(es) in its browser`);
  const targets = { 20000: '≤ 220 MB', 50000: '≤ 260 MB' };
  for (const n of [0, ...sizes]) {
    const mine = await attempt(`this build n=${n}`, () => tabRSS(self, n));
    const theirs = base ? await attempt(`baseline n=${n}`, () => tabRSS(base, n)) : null;
    const label = n === 0 ? 'renderer RSS: peerset open, empty room (<script> page, IndexedDB)'
      : `renderer RSS: tab holding ${n / 1000}k records after its first sync (<script> page, IndexedDB)`;
    if (mine.failed) { row(label, `failed: ${mine.failed}`, targets[n] || ''); continue; }
    const notes = [];
    if (theirs && !theirs.failed) {
      notes.push(`baseline ${baseline.commit} same run: ${mem(theirs.rss)}, this ÷ baseline ${(mine.rss / theirs.rss).toFixed(2)}×`);
    } else if (theirs?.failed) {
      notes.push(`baseline ${baseline.commit}: failed (${theirs.failed})`);
    } else {
      notes.push('no baseline in this run');
    }
    if (!blank.failed) notes.push(`${mem(mine.rss - blank.rss)} over the blank page`);
    notes.push(`anon ${mib(mine.anon)}${theirs && !theirs.failed ? ` (baseline ${mib(theirs.anon)})` : ''}; wasm linear memory ${mib(mine.wasm)}${theirs && !theirs.failed ? ` (baseline ${mib(theirs.wasm)})` : ''}; ${mib(mine.beforeGC)} before GC; ${mine.workers} worker(s) GC'd`);
    if (n > 0) notes.push(`sync took ${s(mine.syncMs)}${theirs && !theirs.failed ? ` (baseline ${s(theirs.syncMs)})` : ''}`);
    row(label, mem(mine.rss), targets[n] || '', notes.join('; '));
  }
}

const started = Date.now();
const loadBefore = loadavg();
// idbLayout: IndexedDB alone (fixtures/idb-layout.html): N events in
// transactions of 512, stored as pkg/store/idb stores them (one object per
// event, three indexes) or as one object per transaction with multiEntry
// indexes; events/s and Chromium's CPU per event (the events are made in
// the page too, the same for both).
async function idbLayout() {
  const n = Number(process.env.PEERSET_BENCH_LAYOUT_EVENTS || 20000);
  const env = new Env('idb-layout');
  try {
    const { http } = await env.server();
    const context = await env.freshContext(http);
    const page = env.watch(await context.newPage(), 'idb-layout');
    await page.goto(`${http}/js/test/fixtures/idb-layout.html`);
    await waitFor('the layout page', () => page.evaluate(() => window.ready === true), { timeout: 30_000 });
    const results = new Map();
    for (let round = 0; round < runs; round++) {
      for (const chunked of [false, true]) {
        const c0 = chromiumCPU();
        const ms = await page.evaluate(([c, n]) => window.store(c, n, 512), [chunked, n]);
        const cpu = chromiumCPU() - c0;
        const key = chunked ? 'one object per 512 events, multiEntry indexes' : 'one object per event, three indexes (pkg/store/idb today)';
        if (!results.has(key)) results.set(key, []);
        results.get(key).push({ rate: n / (ms / 1000), cpu: (cpu * 1000) / n });
        console.error(`bench: idb-layout ${key}: ${Math.round(n / (ms / 1000))} events/s, ${Math.round((cpu * 1000) / n)} µs of Chromium CPU per event; load ${loadavg()}`);
      }
    }
    for (const [key, rs] of results) {
      row(`IndexedDB alone, ${n.toLocaleString('en-US')} events in transactions of 512: ${key}`, `${Math.round(median(rs.map((r) => r.rate))).toLocaleString('en-US')} events/s`, '',
        `median of ${rs.length} (${rs.map((r) => Math.round(r.rate)).join(', ')}); Chromium CPU per event ${rs.map((r) => Math.round(r.cpu)).join(', ')} µs (making the events included)`);
    }
  } finally {
    await env.close();
  }
}

// --- blobs (part 'blob'): a file fetched tab → tab and native peer → tab
// with db.blob(uuid), beside the raw data channel measured between the same
// two tabs in the same run (an RTCDataChannel of 16 KiB and of 64 KiB messages with
// bufferedAmountLowThreshold back-pressure, no engine involved).

const blobMiB = Number(process.env.PEERSET_BENCH_BLOB_MIB || 8);

// rawChannel sends bytes from page a to page b over a fresh RTCDataChannel
// (host candidates on loopback, SDP passed by the test) and returns MiB/s.
async function rawChannel(a, b, bytes, msgBytes) {
  const offer = await a.evaluate(async () => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    window.__rawPC = pc;
    window.__rawDC = pc.createDataChannel('raw', { ordered: true });
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); else pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); });
    return pc.localDescription.toJSON();
  });
  const answer = await b.evaluate(async (offer) => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    window.__rawPC = pc;
    window.__rawDone = new Promise((resolve) => {
      pc.ondatachannel = (e) => {
        let got = 0;
        let first = 0;
        e.channel.binaryType = 'arraybuffer';
        e.channel.onmessage = (m) => {
          if (!first) first = performance.now();
          got += m.data.byteLength;
          if (got >= window.__rawWant) resolve({ got, ms: performance.now() - first });
        };
      };
    });
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
    await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); else pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); });
    return pc.localDescription.toJSON();
  }, offer);
  await b.evaluate((n) => { window.__rawWant = n; }, bytes);
  await a.evaluate(async ({ answer, bytes, msgBytes }) => {
    const pc = window.__rawPC;
    const dc = window.__rawDC;
    await pc.setRemoteDescription(answer);
    if (dc.readyState !== 'open') await new Promise((r) => { dc.onopen = r; });
    dc.bufferedAmountLowThreshold = 1 << 20;
    const msg = new Uint8Array(msgBytes);
    for (let sent = 0; sent < bytes; sent += msg.length) {
      if (dc.bufferedAmount > 4 << 20) await new Promise((r) => { dc.onbufferedamountlow = r; });
      dc.send(msg);
    }
  }, { answer, bytes, msgBytes });
  const done = await b.evaluate(() => window.__rawDone);
  await a.evaluate(() => window.__rawPC.close());
  await b.evaluate(() => window.__rawPC.close());
  return (done.got / 1048576) / (done.ms / 1000);
}

async function blobThroughput() {
  const size = blobMiB << 20;
  const results = { raw: [], raw64: [], tab: [], native: [] };
  for (let round = 0; round < runs; round++) {
    const env = new Env('blob');
    try {
      const room = uniqueRoom('bench-blob');
      const { http, ws } = await env.server();
      const pages = [];
      for (const label of ['sender', 'receiver']) {
        const context = await env.freshContext(http);
        const page = env.watch(await context.newPage(), `blob ${label}`);
        await page.goto(`${http}/js/test/fixtures/api.html`, { waitUntil: 'domcontentloaded' });
        await waitFor('the API page', () => page.evaluate(() => document.body.dataset.ready === '1'), { timeout: 60_000 });
        await page.evaluate((room) => window.openRoom({ room, prefetchBelow: -1, maxBlobBytes: 64 << 20 }).then((db) => { window.db = db; }), room);
        pages.push(page);
      }
      const [sender, receiver] = pages;
      results.raw.push(await rawChannel(sender, receiver, size, 16 << 10));
      results.raw64.push(await rawChannel(sender, receiver, size, 64 << 10));
      // Tab → tab.
      const rec = await sender.evaluate(async (size) => {
        const bytes = new Uint8Array(size);
        for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
        return window.db.put({ file: bytes });
      }, size);
      await waitFor('the record at the receiver', () => receiver.evaluate((u) => window.db.get(u).then(Boolean), rec.uuid), { timeout: 60_000 });
      const tabMs = await receiver.evaluate(async (u) => { const t = performance.now(); await window.db.blob(u); return performance.now() - t; }, rec.uuid);
      results.tab.push(blobMiB / (tabMs / 1000));
      // Native → tab: a bbolt file with the file, served by peerset join.
      const dir = await env.tempDir();
      const file = path.join(dir, 'file.bin');
      await writeFile(file, Buffer.alloc(size, 7).map((_, i) => (i * 2654435761) >>> 24));
      const dbFile = path.join(dir, 'native.db');
      const put = runBinary('peerset', ['put', '--db', dbFile, '--room', room, '--moderation', 'open', '--file', file]).trim().split('\n');
      const uuid = JSON.parse(put[0]).tags.find((t) => t[0] === 'd')[1];
      env.spawn('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open', '--prefetch-below', '-1']);
      await waitFor('the native record at the receiver', () => receiver.evaluate((u) => window.db.get(u).then(Boolean), uuid), { timeout: 60_000 });
      // The record may reach the receiver through the sender before the
      // receiver connects to the native peer: 'unavailable' until then.
      const nativeMs = await receiver.evaluate(async (u) => {
        for (let tries = 0; ; tries++) {
          const t = performance.now();
          try {
            await window.db.blob(u);
            return performance.now() - t;
          } catch (err) {
            if (err.code !== 'unavailable' || tries > 60) throw err;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      }, uuid);
      results.native.push(blobMiB / (nativeMs / 1000));
      console.error(`bench: blob ${blobMiB} MiB: raw channel ${results.raw.at(-1).toFixed(1)} MiB/s in 16 KiB messages, ${results.raw64.at(-1).toFixed(1)} in 64 KiB, tab → tab ${results.tab.at(-1).toFixed(1)}, native → tab ${results.native.at(-1).toFixed(1)}; load ${loadavg()}`);
    } catch (err) {
      console.error(`bench: blob failed: ${err.stack || err.message}`);
      console.error(env.diagnostics());
    } finally {
      await env.close();
    }
  }
  const raw = median(results.raw);
  const fmt = (v) => `${v.toFixed(1)} MiB/s`;
  row(`raw RTCDataChannel tab → tab (${blobMiB} MiB in 16 KiB messages, the transport's frame size; back-pressure at 4 MiB)`, fmt(raw), '', `median of ${results.raw.length} (${results.raw.map((v) => v.toFixed(1)).join(', ')}); the baseline of the rows below, same tabs, same run`);
  row(`raw RTCDataChannel tab → tab (${blobMiB} MiB in 64 KiB messages)`, fmt(median(results.raw64)), '', `median of ${results.raw64.length} (${results.raw64.map((v) => v.toFixed(1)).join(', ')})`);
  for (const [key, label] of [['tab', 'tab → tab'], ['native', 'native peer (peerset join) → tab']]) {
    const v = median(results[key]);
    row(`db.blob() of a ${blobMiB} MiB file, ${label}`, fmt(v), '', `median of ${results[key].length} (${results[key].map((x) => x.toFixed(1)).join(', ')}); ${(v / raw).toFixed(2)}× the raw channel; checked chunk by chunk, stored in IndexedDB`);
  }
}

if (parts.has('idb-layout')) await idbLayout();
if (parts.has('blob')) await blobThroughput();
if (parts.has('size')) await wasmSizes();
if (parts.has('rss')) await rendererRSS();
if (parts.has('tabs')) await threeTabs(tabRecords);
if (parts.has('put')) await putLoop();
if (parts.has('reopen')) for (const n of sizes) await reopenOnly(n);
if (parts.has('bare-sync')) { // the first sync into the page without UI and the ingest alone, nothing else
  // With PEERSET_BENCH_COMPARE, each build in turn, runs times.
  for (const n of sizes) {
    for (let round = 0; round < (compareRoot ? runs : 1); round++) {
      for (const b of builds()) await firstSync(n, { page: 'bare', tree: b.tree, build: compareRoot ? b.name : '' });
    }
  }
}
if (parts.has('demo-sync')) { // the first sync into the demo, beside the comparison build's demo
  for (const n of sizes) {
    for (let round = 0; round < runs; round++) {
      for (const b of builds()) await firstSync(n, { page: 'demo', tree: b.tree, build: compareRoot ? b.name : '' });
    }
  }
}
if (parts.has('sync')) {
  for (const n of sizes) {
    await firstSync(n, { page: 'bare' });
    await firstSync(n, { page: 'demo', reopen: true });
    if (n === sizes[0]) await firstSync(n, { page: 'bare', params: { transfer: '0' } });
  }
}
const loadAfter = loadavg();

const chromium = spawnSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).stdout?.trim();
const table = [
  `Browser benchmarks (${chromium || 'Chromium'}, headless, loopback-only namespace; ${os.cpus().length} cores; ${new Date().toISOString().slice(0, 10)}; ${Math.round((Date.now() - started) / 1000)} s)`,
  '',
  '| measure | value | target | note |',
  '|---|---|---|---|',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
  '',
  `Load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAfter} (a shared machine: timings are noisy; compare ratios measured in the same run).`,
].join('\n');
console.log(table);
await mkdir(outDir, { recursive: true });
await writeFile(path.join(outDir, 'browser-bench.md'), `${table}\n`);
await sleep(0);
