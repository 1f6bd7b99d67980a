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
//   ingest alone    the same records through db._importEvents, no network:
//                   what verifying, moderating and storing cost
//   cold open       the synced demo tab reloaded alone: navigation →
//                   data-ready, → stats().records == N, → index rebuilt
//   convergence     three tabs holding 1k records each come online together
//
// Environment: PEERSET_BENCH_RUNS (reloads per size, default 3),
// PEERSET_BENCH_SIZES (default "20000,50000"), PEERSET_BENCH_TABS_RECORDS
// (default 1000).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import { Env, gotoReady, nowhereTracker, outDir, putMany, repoRoot, runBinary, sleep, stats, uniqueRoom, waitFor } from './lib/harness.mjs';

const runs = Number(process.env.PEERSET_BENCH_RUNS || 3);
const sizes = (process.env.PEERSET_BENCH_SIZES || '20000,50000').split(',').map(Number);
const tabRecords = Number(process.env.PEERSET_BENCH_TABS_RECORDS || 1000);

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
  const result = await page.waitForFunction(() => window.__open && window.__open.loadedAt && window.__open, null, { timeout: 300_000, polling: 100 });
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

// firstSync seeds n records into a native peer and lets it sync them into
// a fresh tab: page 'bare' (the API without UI) or 'demo', params passed to
// the page (transfer=0 forwards the data channels). With reopen, the demo
// tab is then reloaded alone with the records in IndexedDB, and after a
// browser restart. Returns the seeded database file and room for reuse.
async function firstSync(n, { page: kind = 'bare', params = {}, reopen = false } = {}) {
  const env = new Env(`first sync ${n}`);
  const k = `${n / 1000}k`;
  const label = `${kind === 'bare' ? 'page without UI' : 'demo'}${params.transfer === '0' ? ', channels forwarded' : ''}`;
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
    const url = kind === 'bare' ? `${http}/js/test/fixtures/bare.html?${q}` : await env.demoURL({ room, params });
    await gotoReady(page, url);
    const ready = await page.evaluate(() => performance.now());
    const open = await mainThread(page, 0, ready);

    // The first sync: the native peer brings the n records into the tab.
    const start = await page.evaluate(() => performance.now());
    t = Date.now();
    const native = env.spawnNiced('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open']);
    await waitFor('the native peer to connect', async () => (await stats(page)).peers >= 1, { timeout: 60_000, interval: 100 });
    const connected = Date.now() - t;
    await waitFor(`the tab to hold ${n} records`, async () => (await stats(page)).records >= n, {
      timeout: 900_000, interval: 500, state: async () => { const st = await stats(page); return { records: st.records, peers: st.peers }; },
    });
    const synced = Date.now() - t;
    const end = await page.evaluate(() => performance.now());
    const sync = await mainThread(page, start, end);
    const rate = Math.round(n / ((synced - connected) / 1000));
    row(`first sync of ${k} records from a native peer (${label})`, `${rate.toLocaleString('en-US')} records/s`, n === 20_000 && kind === 'bare' && !params.transfer ? '≥ 2,500 records/s' : '',
      `${s(synced)} from the peer's start, connected after ${ms(connected)}`);
    row(`long main-thread tasks during the ${k} sync (${label})`, taskNote(sync), n === 20_000 ? 'none > 50 ms' : '', `longest gap between animation frames ${ms(sync.gap)}`);
    row(`long main-thread tasks while opening (${label})`, taskNote(open), 'none > 50 ms', `navigation → ready ${ms(ready)}`);
    await native.stop();

    if (kind === 'bare' && !params.transfer) {
      // The same records again, through the engine alone (no network).
      await page.goto(`${http}/js/test/fixtures/bare.html?${new URLSearchParams({ room, db: `${room}-import`, tracker: nowhereTracker })}`);
      await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
      const json = readFileSync(eventsFile, 'utf8');
      const r = await page.evaluate(async (json) => {
        const t = performance.now();
        const res = await window.db._importEvents(json);
        return { ms: performance.now() - t, stored: res.stored };
      }, json);
      row(`ingest alone: ${k} records through db._importEvents (${label})`, `${Math.round(r.stored / (r.ms / 1000)).toLocaleString('en-US')} records/s`, '',
        'parse, verify, moderate, store in IndexedDB; no network: the ceiling of a first sync');
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
    row(`open with ${k} records in IndexedDB (reload): navigation → index rebuilt (writes accepted)`, ms(median(loadeds)), n === 50_000 ? '≤ 0.5 s' : '', `${spread(loadeds)}; in the background after ready`);
    const reopened = await mainThread(page, 0, Math.max(...loadeds));
    row(`long main-thread tasks while reopening with ${k} records (${label})`, taskNote(reopened), 'none > 50 ms', 'last reload, navigation → index rebuilt');

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

const started = Date.now();
await wasmSizes();
await threeTabs(tabRecords);
for (const n of sizes) {
  await firstSync(n, { page: 'bare' });
  await firstSync(n, { page: 'demo', reopen: true });
  if (n === sizes[0]) await firstSync(n, { page: 'bare', params: { transfer: '0' } });
}

const chromium = spawnSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).stdout?.trim();
const table = [
  `Browser benchmarks (${chromium || 'Chromium'}, headless, loopback-only namespace; ${os.cpus().length} cores; ${new Date().toISOString().slice(0, 10)}; ${Math.round((Date.now() - started) / 1000)} s)`,
  '',
  '| measure | value | target | note |',
  '|---|---|---|---|',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');
console.log(table);
await mkdir(outDir, { recursive: true });
await writeFile(path.join(outDir, 'browser-bench.md'), `${table}\n`);
await sleep(0);
