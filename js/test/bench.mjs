// Browser benchmarks, run by scripts/browser-bench.sh inside the
// loopback-only network namespace. Prints a markdown table (and writes it
// to out/browser-bench.md). Numbers are reported as measured against the
// targets; nothing here asserts them.
//
//   wasm size       raw / gzip -9 / brotli -q 11 of js/dist/peerset.wasm
//   cold open       10k and 50k records in IndexedDB: a native peer holding
//                   them (seeded by js/test/seed) syncs them into a tab once,
//                   then the tab is reloaded alone: navigation → data-ready
//                   and → stats().records == N
//   long tasks      during the 10k sync (PerformanceObserver 'longtask'
//                   installed before the native peer starts), in the demo
//                   and in a bare page without UI (js/test/fixtures/bare.html)
//   convergence     three tabs holding 1k records each come online together
//
// Environment: PEERSET_BENCH_RUNS (reloads per size, default 3),
// PEERSET_BENCH_SIZES (default "10000,50000"), PEERSET_BENCH_TABS_RECORDS
// (default 1000).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import { Env, gotoReady, nowhereTracker, outDir, putMany, repoRoot, runBinary, sleep, stats, uniqueRoom, waitFor } from './lib/harness.mjs';

const runs = Number(process.env.PEERSET_BENCH_RUNS || 3);
const sizes = (process.env.PEERSET_BENCH_SIZES || '10000,50000').split(',').map(Number);
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
  row('peerset.wasm brotli -q 11', bytes(brotli), '≤ 2.0 MB', brotliNote);
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

function installLongTaskObserver() {
  window.__longtasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ entryTypes: ['longtask'] });
}

// coldOpen seeds n records into a native peer, lets it sync them into a
// tab (long tasks observed), then measures reopening that tab alone. With
// bare, the tab is js/test/fixtures/bare.html (the API without the demo's
// UI) and only the sync is measured.
async function coldOpen(n, { bare = false } = {}) {
  const env = new Env(`cold open ${n}`);
  const page_ = bare ? 'bare page' : 'demo';
  try {
    const room = uniqueRoom(`bench-${n}`);
    const { ws, http } = await env.server();
    const dbFile = path.join(await env.tempDir(), 'seed.db');
    let t = Date.now();
    runBinary('seed', ['--db', dbFile, '--room', room, '--count', String(n)], { timeout: 600_000 });
    console.error(`bench: seeded ${n} records in ${Date.now() - t} ms`);

    const profile = await env.persistentContext(http);
    const page = env.watch(await profile.newPage(), `cold ${n}`);
    const url = bare ? `${http}/js/test/fixtures/bare.html?room=${encodeURIComponent(room)}` : await env.demoURL({ room });
    await gotoReady(page, url);
    await page.evaluate(installLongTaskObserver);

    // The first sync: the native peer brings the n records into the tab.
    t = Date.now();
    const native = env.spawn('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open']);
    await waitFor('the native peer to connect', async () => (await stats(page)).peers >= 1, { timeout: 60_000, interval: 100 });
    const connected = Date.now() - t;
    await waitFor(`the tab to hold ${n} records`, async () => (await stats(page)).records >= n, {
      timeout: 900_000, interval: 1000, state: async () => { const st = await stats(page); return { records: st.records, peers: st.peers }; },
    });
    const synced = Date.now() - t;
    const tasks = await page.evaluate(() => window.__longtasks);
    const longest = tasks.reduce((m, x) => Math.max(m, x.duration), 0);
    const total = tasks.reduce((m, x) => m + x.duration, 0);
    const k = `${n / 1000}k`;
    row(`first sync of ${k} records, native peer → tab (${page_})`, s(synced), '', `connected after ${ms(connected)}; ${Math.round(n / ((synced - connected) / 1000)).toLocaleString('en-US')} records/s after that`);
    row(`long tasks during the ${k} sync (${page_})`, `${tasks.length} (${ms(total)} in all), longest ${ms(longest)}`, n === 10_000 ? 'none > 100 ms' : '',
      `tasks > 100 ms: ${tasks.filter((x) => x.duration > 100).length}`);
    await native.stop();
    if (bare) return;
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

    // A browser restart on the same profile: nothing warm in memory.
    await profile.close();
    env.contexts = env.contexts.filter((c) => c !== profile);
    const restarted = await env.persistentContext(http, profile.userDataDir);
    const page2 = env.watch(await restarted.newPage(), `cold ${n} restarted`);
    await page2.addInitScript(installOpenProbe, n);
    const o = await measuredOpen(page2, () => page2.goto(url, { waitUntil: 'commit' }), n);
    row(`open with ${k} records after a browser restart: → data-ready / → all records / → index rebuilt`, `${ms(o.readyAt)} / ${ms(o.fullAt)} / ${ms(o.loadedAt)}`, '', 'one run; includes compiling the wasm');
  } catch (err) {
    row(`cold open with ${n} records`, `failed: ${err.message.split('\n')[0]}`);
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
    for (let i = 1; i <= 3; i++) {
      const context = await env.freshContext(http);
      const page = env.watch(await context.newPage(), `tab ${i}`);
      await gotoReady(page, offlineURL);
      const t = Date.now();
      await putMany(page, n, `tab ${i} bench record`);
      putTimes.push(Date.now() - t);
      if ((await stats(page)).records !== n) throw new Error(`tab ${i} holds ${(await stats(page)).records} records after ${n} puts`);
      pages.push(page);
    }
    row(`db.put, one tab (${n} sequential puts)`, `${Math.round(n / (median(putTimes) / 1000)).toLocaleString('en-US')} puts/s`, '', `median ${ms(median(putTimes))} for ${n}`);

    const t0 = Date.now();
    await Promise.all(pages.map((p) => gotoReady(p, onlineURL)));
    const allReady = Date.now() - t0;
    await Promise.all(pages.map((p) => p.evaluate(installLongTaskObserver)));
    let last;
    await waitFor(`three tabs to converge on ${3 * n}`, async () => {
      last = await Promise.all(pages.map(stats));
      return last.every((x) => x.records === 3 * n) && new Set(last.map((x) => x.root)).size === 1;
    }, { timeout: 300_000, interval: 100, state: () => last.map((x) => ({ records: x.records, peers: x.peers })) });
    const converged = Date.now() - t0;
    const tasks = (await Promise.all(pages.map((p) => p.evaluate(() => window.__longtasks)))).flat();
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
for (const n of sizes) await coldOpen(n);
if (sizes.includes(10_000)) await coldOpen(10_000, { bare: true });

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
