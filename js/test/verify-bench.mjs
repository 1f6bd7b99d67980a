// Does a second core pay for signature checks? (issue 9, item 3). Run by
// scripts/verify-bench.sh (make bench-verify) inside the loopback-only
// network namespace; prints a markdown table (also out/verify-bench.md).
// Numbers are reported, never asserted.
//
// What it measures, in headless Chromium, on N signed records (js/test/seed,
// 20,000 by default):
//   ingest alone   the engine (its worker) verifying, moderating and storing
//                  them into a memory database: db._importEvents (one call)
//                  and db.import (chunks of 1,000)
//   first sync     the same records synced from a native peer (niced: it
//                  stands in for another machine) into a fresh memory tab,
//                  from open() to the last record
//   pool worker    a Worker running the verification-only program
//                  (js/test/verifybench, loaded by fixtures/verify-worker.js):
//                  its start, its memory, and per batch of N events the cost
//                  of copying them into Go ("copy"), of parsing them
//                  ("parse") and of parsing and verifying them ("verify");
//                  then two such workers verifying N/2 each at once
//   engine copy    a second engine worker (peerset.worker.js + peerset.wasm,
//                  what a pool of engine copies would cost): start and memory
// and then what Amdahl's law says a pool would gain on the first sync and on
// ingest alone.
//
// Environment: PEERSET_VERIFY_RECORDS (default 20000), PEERSET_BENCH_RUNS
// (default 3; the first sync runs once).

import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { Env, gotoReady, outDir, runBinary, sleep, uniqueRoom, waitFor } from './lib/harness.mjs';
import { chromiumCPU, workerThreadsCPU } from './lib/cpu.mjs';

const n = Number(process.env.PEERSET_VERIFY_RECORDS || 20000);
const runs = Number(process.env.PEERSET_BENCH_RUNS || 3);
const benchDir = path.join(outDir, 'verify-bench');

const rows = [];
const row = (measure, value, note = '') => {
  rows.push([measure, value, note]);
  console.error(`verify-bench: ${measure}: ${value}${note ? ` (${note})` : ''}`);
};
const median = (xs) => { const v = [...xs].sort((a, b) => a - b); return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2; };
const ms = (x) => `${Math.round(x).toLocaleString('en-US')} ms`;
const rate = (count, t) => `${Math.round(count / (t / 1000)).toLocaleString('en-US')}/s`;
const mib = (b) => `${(b / (1 << 20)).toFixed(1)} MiB`;
const pct = (x) => `${(x * 100).toFixed(1)} %`;
const spread = (xs) => `median of ${xs.length}: ${xs.map((x) => Math.round(x)).join(', ')} ms`;

// chromiumRSS sums the resident memory of every Chromium process (a
// worker lives in its page's renderer process).
function chromiumRSS() {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!/chrom/i.test(cmd.split('\0')[0])) continue;
      const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
      if (m) total += Number(m[1]) * 1024;
    } catch { /* gone */ }
  }
  return total;
}

// measured runs fn and returns its result with cpu (ms of Chromium CPU).
async function measured(fn) {
  const c0 = chromiumCPU();
  const r = await fn();
  return { ...r, cpu: chromiumCPU() - c0 };
}

async function settledRSS() {
  await sleep(1500);
  return chromiumRSS();
}

async function main() {
  const env = new Env('verify-bench');
  try {
    await mkdir(benchDir, { recursive: true });
    const { ws, http } = await env.server();
    const room = uniqueRoom('verify');
    const dir = await env.tempDir();
    const dbFile = path.join(dir, 'seed.db');
    const jsonFile = path.join(benchDir, 'events.json');
    const seeded = JSON.parse(runBinary('seed', ['--db', dbFile, '--room', room, '--count', String(n), '--json-out', jsonFile], { timeout: 300_000 }).trim().split('\n').at(-1));
    const events = JSON.parse(await readFile(jsonFile, 'utf8'));
    await writeFile(path.join(benchDir, 'events.jsonl'), `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
    console.error(`verify-bench: ${n} records seeded, root ${seeded.root}`);

    const context = await env.freshContext(http);
    const page = env.watch(await context.newPage(), 'verify-bench');
    await page.goto(`${http}/js/test/fixtures/stub.html`);
    await page.evaluate(async () => {
      window.peerset = await import('/js/dist/peerset.js');
      window.peersetTesting = await import('/js/dist/testing.js');
      await window.peerset.initialize();
      window.__array = await (await fetch('/out/verify-bench/events.json')).text();
      window.__lines = new Uint8Array(await (await fetch('/out/verify-bench/events.jsonl')).arrayBuffer());
    });

    // Ingest alone, in the engine's worker.
    const ingest = { hook: [], chunked: [], hookCPU: [] };
    for (let i = 0; i < runs; i++) {
      for (const kind of ['hook', 'chunked']) {
        const r = await measured(() => page.evaluate(async ({ room, kind }) => {
          const db = await window.peerset.open({ room, offline: true, storage: 'memory', moderation: 'open' });
          const started = performance.now();
          const result = kind === 'hook' ? await window.peersetTesting.importEvents(db, window.__array) : await db.import(new TextDecoder().decode(window.__lines));
          const t = performance.now() - started;
          await db.close();
          return { t, stored: result.stored };
        }, { room, kind }));
        if (r.stored !== n) throw new Error(`ingest (${kind}) stored ${r.stored} of ${n}`);
        ingest[kind].push(r.t);
        if (kind === 'hook') ingest.hookCPU.push(r.cpu);
      }
    }
    const tIngest = median(ingest.hook);
    const cIngest = median(ingest.hookCPU);
    row(`ingest alone: ${n.toLocaleString('en-US')} records, db._importEvents (one call)`, `${ms(tIngest)} (${rate(n, tIngest)}); ${ms(cIngest)} of CPU`, spread(ingest.hook));
    row(`ingest alone: ${n.toLocaleString('en-US')} records, db.import (chunks of 1,000)`, `${ms(median(ingest.chunked))} (${rate(n, median(ingest.chunked))})`, spread(ingest.chunked));

    // First sync from a native peer into a fresh memory tab.
    const native = env.spawnNiced('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open']);
    await native.waitLine('a status line', (l) => l.includes('"records"'), 60_000);
    const syncPage = env.watch(await (await env.freshContext(http)).newPage(), 'first sync');
    await gotoReady(syncPage, `${http}/js/test/fixtures/bare.html?room=${encodeURIComponent(room)}&storage=memory`, 60_000);
    let firstRecordAt = 0;
    const syncCPU0 = chromiumCPU();
    const engineCPU0 = workerThreadsCPU();
    await waitFor(`the tab to hold ${n} records`, async () => {
      const st = await syncPage.evaluate(async () => {
        const s = await window.db.stats();
        return { records: s.records, now: performance.now(), opened: window.__timing.opened };
      });
      if (st.records > 0 && !firstRecordAt) firstRecordAt = st.now;
      return st.records === n;
    }, { timeout: 600_000, interval: 200 });
    const cSync = chromiumCPU() - syncCPU0;
    const cEngine = workerThreadsCPU() - engineCPU0;
    const syncEnd = await syncPage.evaluate(() => performance.now());
    const opened = await syncPage.evaluate(() => window.__timing.opened);
    const tSync = syncEnd - opened;
    row(`first sync: ${n.toLocaleString('en-US')} records, native peer → memory tab, open() → last record`, `${ms(tSync)} (${rate(n, tSync)}); ${ms(cSync)} of Chromium CPU, ${ms(cEngine)} of it in the engine's worker thread`, `first record after ${ms(firstRecordAt - opened)}; one run`);
    await syncPage.close();
    await native.stop();

    // Pool workers: start and memory.
    const rss0 = await settledRSS();
    const start = await page.evaluate(async () => {
      const startWorker = () => new Promise((resolve) => {
        const w = new Worker('/js/test/fixtures/verify-worker.js');
        const t0 = performance.now();
        w.onmessage = (e) => { if (e.data.op === 'ready') resolve({ w, wall: performance.now() - t0, memory: e.data.memory }); };
        w.postMessage({ op: 'init', wasmExec: '/js/dist/wasm_exec.js', wasmURL: '/out/verify-bench/verify.wasm' });
      });
      const a = await startWorker();
      window.__pool = [a.w];
      let seq = 0;
      window.__run = (w, bytes, mode) => new Promise((resolve) => {
        const id = ++seq;
        const copy = bytes.slice(); // transferred below: the page keeps its own
        const t0 = performance.now();
        const prev = w.onmessage;
        w.onmessage = (e) => {
          if (e.data.op !== 'done' || e.data.id !== id) return;
          w.onmessage = prev;
          resolve({ ok: e.data.ok, inWorker: e.data.ms, wall: performance.now() - t0, memory: e.data.memory });
        };
        w.postMessage({ op: 'run', id, bytes: copy, mode }, [copy.buffer]);
      });
      window.__startWorker = startWorker;
      return { wall: a.wall, memory: a.memory };
    });
    const rss1 = await settledRSS();
    await page.evaluate(async () => { const b = await window.__startWorker(); window.__pool.push(b.w); });
    const rss2 = await settledRSS();

    // Warm both (the first check builds secp256k1's tables).
    await page.evaluate(async () => {
      const small = window.__lines.subarray(0, window.__lines.indexOf(10, 100_000) + 1);
      await Promise.all(window.__pool.map((w) => window.__run(w, small, 'verify')));
    });

    const modes = { copy: [], parse: [], verify: [], verifyWall: [], two: [], parseCPU: [], verifyCPU: [], twoCPU: [] };
    let poolMemory = 0;
    for (let i = 0; i < runs; i++) {
      for (const mode of ['copy', 'parse', 'verify']) {
        const r = await measured(() => page.evaluate((mode) => window.__run(window.__pool[0], window.__lines, mode), mode));
        if (mode === 'verify' && r.ok !== n) throw new Error(`the pool verified ${r.ok} of ${n}`);
        modes[mode].push(r.inWorker);
        if (mode === 'parse') modes.parseCPU.push(r.cpu);
        if (mode === 'verify') {
          modes.verifyWall.push(r.wall);
          modes.verifyCPU.push(r.cpu);
          poolMemory = Math.max(poolMemory, r.memory);
        }
      }
      const two = await measured(() => page.evaluate(async () => {
        const [w1, w2] = window.__pool;
        const all = window.__lines;
        let mid = all.indexOf(10, all.length >> 1) + 1;
        if (mid <= 0) mid = all.length;
        const t0 = performance.now();
        const halves = await Promise.all([window.__run(w1, all.subarray(0, mid), 'verify'), window.__run(w2, all.subarray(mid), 'verify')]);
        return { wall: performance.now() - t0, ok: halves[0].ok + halves[1].ok };
      }));
      if (two.ok !== n) throw new Error(`two workers verified ${two.ok} of ${n}`);
      modes.two.push(two.wall);
      modes.twoCPU.push(two.cpu);
    }
    const tCopy = median(modes.copy);
    const tParse = median(modes.parse);
    const tVerify = median(modes.verify);
    const tVerifyWall = median(modes.verifyWall);
    const tTwo = median(modes.two);
    const tChecks = Math.max(0, tVerify - tParse); // id hash and signature: what a pool takes off the engine
    const cChecks = Math.max(0, median(modes.verifyCPU) - median(modes.parseCPU)); // the same in CPU time
    row('pool worker: start (fetch, compile, run the verification-only wasm)', ms(start.wall), `its Go memory ${mib(start.memory)} after start, ${mib(poolMemory)} after a batch; Chromium RSS +${mib(rss1 - rss0)} for the first, +${mib(rss2 - rss1)} for the second`);
    row(`pool worker: copy ${n.toLocaleString('en-US')} events into Go`, ms(tCopy), spread(modes.copy));
    row('… copy and parse them', ms(tParse), spread(modes.parse));
    row('… copy, parse and verify them (id and BIP-340 signature)', `${ms(tVerify)} (${rate(n, tVerify)}); ${ms(tVerifyWall)} from the page, the transfer included; ${ms(median(modes.verifyCPU))} of CPU`, `${spread(modes.verify)}; the checks alone (verify − parse): ${ms(tChecks)}, ${ms(cChecks)} of CPU`);
    row(`two pool workers verifying ${(n / 2).toLocaleString('en-US')} each at once`, `${ms(tTwo)} from the page; s = ${(tVerifyWall / tTwo).toFixed(2)}× one worker; ${ms(median(modes.twoCPU))} of CPU`, spread(modes.two));

    // A second copy of the engine (what a pool of peerset.wasm workers costs).
    const rssBefore = await settledRSS();
    const engineCopy = await page.evaluate(() => new Promise((resolve, reject) => {
      const w = new Worker('/js/dist/peerset.worker.js');
      const t0 = performance.now();
      w.onmessage = (e) => {
        if (e.data.t === 'ready') { window.__engineCopy = w; resolve({ wall: performance.now() - t0 }); }
        if (e.data.t === 'fatal') reject(new Error(e.data.error?.message));
      };
      w.postMessage({ t: 'init', wasmURL: '/js/dist/peerset.wasm', rtc: false });
    }));
    const rssAfter = await settledRSS();
    await page.evaluate(() => window.__engineCopy.terminate());
    row('a second engine worker (peerset.worker.js + peerset.wasm): start', ms(engineCopy.wall), `Chromium RSS +${mib(rssAfter - rssBefore)}`);

    // Amdahl: p the share of the checks in the CPU the phase cost (robust to
    // the machine's other load); s their speed-up on two workers (wall time:
    // as measured under this load, and 2 for an idle second core). For the
    // first sync p is also taken against its wall time (the checks' CPU
    // over how long the sync took): the most a pool could take off it.
    const s = tVerifyWall / tTwo;
    const gain = (p, speedup) => 1 - ((1 - p) + p / speedup);
    for (const [what, cpu, wall] of [['first sync', cSync, tSync], ['ingest alone', cIngest, tIngest]]) {
      const p = Math.min(1, cChecks / cpu);
      const pWall = Math.min(1, cChecks / wall);
      row(`${what}: share of the checks (id and signature) in its CPU`, pct(p), `${ms(cChecks)} of ${ms(cpu)} of CPU; of its wall time ${pct(pWall)}`);
      row(`${what}: a two-worker pool would gain (Amdahl, 1 − ((1 − p) + p / s))`,
        `${pct(gain(p, 2))} at most (s = 2: an idle second core, no costs); ${pct(gain(p, s))} with the measured s = ${s.toFixed(2)}`,
        `the copy to the pool adds ${ms(tCopy)} to the engine`);
    }

    // The first sync's critical path: the engine's thread (E of CPU, the
    // checks C among it) beside Chromium's other threads for the sync
    // (WebRTC, SCTP, IPC, the page). On two idle cores its wall time is at
    // least max(E, T / 2) with T all of Chromium's CPU; with the checks on
    // the second core, at least max(E − C + copy, (T + copy) / 2): the work
    // moves, it does not go away, and the other threads already use that core.
    const bound = (e, t) => Math.max(e, t / 2);
    const before = bound(cEngine, cSync);
    const after = bound(cEngine - cChecks + tCopy, cSync + tCopy);
    row('first sync on two idle cores: the least wall time, today → with the checks moved off the engine',
      `${ms(before)} → ${ms(after)}: ${pct(1 - after / before)} at most`,
      `max(E, T / 2) with E = ${ms(cEngine)} (engine thread), T = ${ms(cSync)} (all of Chromium), C = ${ms(cChecks)}`);

    const cpus = os.cpus();
    const load = os.loadavg().map((x) => x.toFixed(1)).join(' / ');
    const table = [
      `Second core for signature checks — ${n.toLocaleString('en-US')} records, headless Chromium, ${cpus.length} CPUs (${cpus[0]?.model?.trim() ?? 'unknown'}), load average at the end ${load} (1 / 5 / 15 min), ${new Date().toISOString().slice(0, 10)}`,
      '',
      '| measure | value | note |',
      '|---|---|---|',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
    console.log(table);
    await writeFile(path.join(outDir, 'verify-bench.md'), `${table}\n`);
  } catch (err) {
    console.error(env.diagnostics());
    throw err;
  } finally {
    await env.close();
  }
}

await main();
