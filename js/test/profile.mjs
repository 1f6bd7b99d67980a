// CPU profiles of the engine's worker in headless Chromium, run by
// scripts/browser-profile.sh inside the loopback-only network namespace
// (after a wasm build that keeps the function names: Go's name section).
// Nothing is asserted; it prints, per profiled phase, the share of the
// worker's samples per function (self time, and inclusive time: the
// function anywhere on the stack), and writes each profile to
// out/profile/<phase>.cpuprofile (open it in Chromium's DevTools,
// Performance panel, or speedscope).
//
//   import   N seeded records through importEvents of peerset/testing (the engine's
//            _importEvents; no network):
//            JSON parse, verify, moderate, store in IndexedDB
//   sync     a native peer (seeded, niced) syncs the N records into a
//            fresh tab (js/test/fixtures/bare.html: the library without UI)
//   demo-sync the same into the demo page, profiling the page's main
//            thread instead of the worker; its tables count only the
//            samples inside long tasks (busy stretches over 50 ms), to say
//            what the demo's long tasks run
//
// Shares and CPU times (Chromium's processes, IndexedDB's backend
// included, and the engine's worker thread, from /proc) survive the
// machine's other load; the wall times printed beside them do not.
//
// Environment: PEERSET_PROFILE_PARTS (default "import,sync"; also "put" and
// "put-together": db.put one after the other or all at once),
// PEERSET_PROFILE_RECORDS (default 20000), PEERSET_PROFILE_TOP (rows per
// table, default 30), PEERSET_PROFILE_INTERVAL_US (sampling interval,
// default 1000), PEERSET_PROFILE_TREE (the demo parts open that build tree's
// demo).

import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { chromiumCPU, threadsCPU, workerThreadsCPU } from './lib/cpu.mjs';
import { Env, gotoReady, nowhereTracker, outDir, runBinary, sleep, stats, uniqueRoom, waitFor } from './lib/harness.mjs';
import { mainThreadOf, startTrace } from './lib/trace.mjs';

const parts = new Set((process.env.PEERSET_PROFILE_PARTS || 'import,sync').split(','));
const n = Number(process.env.PEERSET_PROFILE_RECORDS || 20000);
const top = Number(process.env.PEERSET_PROFILE_TOP || 30);
const intervalUs = Number(process.env.PEERSET_PROFILE_INTERVAL_US || 1000);
// PEERSET_PROFILE_TREE: another build tree under the repository (its
// examples/demo and js/dist, as PEERSET_BENCH_COMPARE) whose demo the demo
// parts open instead of this checkout's.
const demoTree = process.env.PEERSET_PROFILE_TREE || '';
async function demoURL(env, options) {
  const url = new URL(await env.demoURL(options));
  if (demoTree) url.pathname = `/${demoTree}/examples/demo/`;
  return url.toString();
}
const profileDir = path.join(outDir, 'profile');

// workerSession attaches to the page's dedicated worker (the engine) over
// the DevTools protocol and returns send(method, params) for it.
async function workerSession(page) {
  const cdp = await page.context().newCDPSession(page);
  const sessions = [];
  cdp.on('Target.attachedToTarget', (e) => { if (e.targetInfo.type === 'worker') sessions.push(e.sessionId); });
  const replies = new Map();
  cdp.on('Target.receivedMessageFromTarget', (e) => {
    const msg = JSON.parse(e.message);
    if (msg.id && replies.has(msg.id)) replies.get(msg.id)(msg);
  });
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  await waitFor('the engine worker to be attached', async () => sessions.length > 0, { timeout: 10_000 });
  if (sessions.length !== 1) throw new Error(`expected one worker (the engine), found ${sessions.length}`);
  const sessionId = sessions[0];
  let id = 0;
  return async (method, params = {}) => {
    const msgId = ++id;
    const reply = new Promise((resolve) => { replies.set(msgId, resolve); setTimeout(() => resolve({ error: { message: 'no reply in 120 s' } }), 120_000); });
    await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: msgId, method, params }) });
    const r = await reply;
    replies.delete(msgId);
    if (r.error) throw new Error(`${method}: ${r.error.message}`);
    return r.result;
  };
}

// pageSession returns send(method, params) for the page's own (main
// thread) target.
async function pageSession(page) {
  const cdp = await page.context().newCDPSession(page);
  return (method, params = {}) => cdp.send(method, params);
}

// longStretches keeps only the samples inside busy stretches (runs of
// non-idle samples) longer than 50 ms: the main thread's long tasks.
function longStretches(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const idle = (id) => byId.get(id).callFrame.functionName === '(idle)';
  const keep = [];
  let run = [];
  let runMs = 0;
  const stretches = [];
  const flush = () => {
    if (runMs > 50) { keep.push(...run); stretches.push(runMs); }
    run = [];
    runMs = 0;
  };
  profile.samples.forEach((id, i) => {
    if (idle(id)) { flush(); return; }
    run.push(id);
    runMs += (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
  });
  flush();
  return { profile: { ...profile, samples: keep }, stretches };
}

// traced records a Chromium trace (DevTools timeline categories) around
// body and returns its events.
async function traced(page, body) {
  const stop = await startTrace(page, ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'blink', 'toplevel']);
  const note = await body();
  return { note, events: await stop() };
}

// longTaskBreakdown finds the page's main thread in a trace (the renderer
// thread named CrRendererMain that ran the most), its tasks over 50 ms,
// and the time inside them per trace event name (own time: minus nested
// events), so that layout, style, paint, GC, script and message handling
// show apart.
function longTaskBreakdown(events) {
  const best = mainThreadOf(events);
  if (!best) return 'no CrRendererMain thread in the trace';
  const mine = events.filter((e) => e.pid === best.pid && e.tid === best.tid && e.ph === 'X' && typeof e.dur === 'number').sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  // Tasks over 50 ms by the wall clock, and those over 30 ms of CPU.
  const tasks = mine.filter((e) => e.name === 'RunTask' && (e.dur > 50_000 || e.tdur > 30_000));
  const own = new Map();
  const rows = [];
  for (const task of tasks) {
    const inside = mine.filter((e) => e !== task && e.ts >= task.ts && e.ts + e.dur <= task.ts + task.dur);
    // own time of each event: its duration minus its direct children's.
    const stack = [];
    const ownOf = new Map();
    for (const e of [task, ...inside]) {
      while (stack.length && stack.at(-1).ts + stack.at(-1).dur <= e.ts) stack.pop();
      if (stack.length) ownOf.set(stack.at(-1), (ownOf.get(stack.at(-1)) ?? stack.at(-1).dur) - e.dur);
      ownOf.set(e, e.dur);
      stack.push(e);
    }
    const per = new Map();
    for (const [e, t] of ownOf) {
      const key = e.name === 'FunctionCall' || e.name === 'EvaluateScript' ? `${e.name} ${e.args?.data?.functionName || ''} ${path.basename(e.args?.data?.url || '')}:${e.args?.data?.lineNumber ?? ''}` : e.name;
      per.set(key, (per.get(key) || 0) + t);
      own.set(key, (own.get(key) || 0) + t);
    }
    rows.push(`| ${(task.dur / 1000).toFixed(0)} ms | ${typeof task.tdur === 'number' ? `${(task.tdur / 1000).toFixed(0)} ms` : '?'} | ${[...per].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `${k} ${(v / 1000).toFixed(0)}`).join(', ')} |`);
  }
  const total = [...own].sort((a, b) => b[1] - a[1]).slice(0, top);
  // Over the whole trace: how often the page was laid out, and how often
  // a change dirtied the document itself (InvalidateLayout of the node
  // that Paint names #document) rather than a box laid out on its own.
  const layouts = mine.filter((e) => e.name === 'Layout');
  const invalidations = events.filter((e) => e.pid === best.pid && e.tid === best.tid && e.name === 'InvalidateLayout');
  const documentNode = mine.find((e) => e.name === 'Paint' && e.args?.data?.nodeName === '#document')?.args.data.nodeId;
  const ofDocument = invalidations.filter((e) => documentNode !== undefined && e.args?.data?.nodeId === documentNode).length;
  const layoutLine = `Over the whole trace: ${layouts.length} layouts (${(layouts.reduce((m, e) => m + e.dur, 0) / 1000).toFixed(0)} ms in all); ${invalidations.length} layout invalidations, ${ofDocument} of them of the document itself.`;
  return [
    layoutLine,
    '',
    `${tasks.length} main-thread tasks over 50 ms, or over 30 ms of CPU (trace events' own time in ms):`,
    '',
    '| task | its CPU time | where its time went (wall) |',
    '|---:|---:|---|',
    ...rows,
    '',
    '| own time in all of them | trace event |',
    '|---:|---|',
    ...total.map(([k, v]) => `| ${(v / 1000).toFixed(1)} ms | \`${k}\` |`),
    '',
  ].join('\n');
}

// summarize turns a V8 CPU profile into self and inclusive shares per
// function name (JavaScript functions get their file and line).
function summarize(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const c of node.children || []) parent.set(c, node.id);
  const name = (node) => {
    const f = node.callFrame;
    const fn = f.functionName || '(anonymous)';
    if (!f.url || f.url.endsWith('.wasm') || f.url.startsWith('wasm://')) return fn;
    return `${fn} ${path.basename(f.url)}:${f.lineNumber + 1}`;
  };
  const self = new Map();
  const inclusive = new Map();
  const stackNames = new Map(); // node id → names on its stack
  const namesOf = (id) => {
    if (stackNames.has(id)) return stackNames.get(id);
    const names = new Set(parent.has(id) ? namesOf(parent.get(id)) : []);
    names.add(name(byId.get(id)));
    stackNames.set(id, names);
    return names;
  };
  let total = 0;
  let idle = 0;
  for (const id of profile.samples) {
    const node = byId.get(id);
    const fn = name(node);
    if (fn === '(idle)' || fn === '(program)') { idle += fn === '(idle)' ? 1 : 0; }
    if (fn === '(idle)') continue;
    total++;
    self.set(fn, (self.get(fn) || 0) + 1);
    for (const x of namesOf(id)) inclusive.set(x, (inclusive.get(x) || 0) + 1);
  }
  const rank = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { total, idle, samples: profile.samples.length, self: rank(self), inclusive: rank(inclusive) };
}

function report(phase, summary, wallMs, extra) {
  const pct = (k) => `${((100 * k) / summary.total).toFixed(1)} %`;
  const lines = [
    `### ${phase}: ${extra}`,
    '',
    `${summary.samples} samples every ${intervalUs} µs over ${(wallMs / 1000).toFixed(1)} s; the worker was busy in ${summary.total}, idle in ${summary.idle}. Load average before/after: ${phase.load}.`,
    '',
    '| self | function |',
    '|---:|---|',
    ...summary.self.map(([fn, k]) => `| ${pct(k)} | \`${fn}\` |`),
    '',
    '| inclusive | function |',
    '|---:|---|',
    ...summary.inclusive.map(([fn, k]) => `| ${pct(k)} | \`${fn}\` |`),
    '',
  ];
  return lines.join('\n');
}

async function profiled(page, phase, body, count = n, { mainThread = false } = {}) {
  const send = mainThread ? await pageSession(page) : await workerSession(page);
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: intervalUs });
  const load = os.loadavg()[0].toFixed(2);
  await send('Profiler.start');
  const t = Date.now();
  const c0 = chromiumCPU();
  const w0 = workerThreadsCPU();
  const th0 = threadsCPU();
  let note = await body();
  const cpu = chromiumCPU() - c0;
  const worker = workerThreadsCPU() - w0;
  const threads = [...threadsCPU()].map(([k, v]) => [k, v - (th0.get(k) || 0)]).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, 8);
  const wallMs = Date.now() - t;
  const { profile } = await send('Profiler.stop');
  // CPU time (from /proc) per record: robust under the machine's load,
  // unlike wall times. Chromium's processes include IndexedDB's backend.
  note += `; Chromium's busiest threads (process type / thread: CPU s): ${threads.map(([k, v]) => `${k}: ${(v / 1000).toFixed(1)}`).join(', ')}`;
  note += `; CPU: Chromium ${(cpu / 1000).toFixed(1)} s (${Math.round((cpu * 1000) / count)} µs per record), the engine's worker thread ${(worker / 1000).toFixed(1)} s (${Math.round((worker * 1000) / count)} µs per record)`;
  await mkdir(profileDir, { recursive: true });
  const file = path.join(profileDir, `${phase}.cpuprofile`);
  await writeFile(file, JSON.stringify(profile));
  let summary;
  if (mainThread) {
    const long = longStretches(profile);
    summary = summarize(long.profile);
    note += `; the main thread's busy stretches over 50 ms: ${long.stretches.length} (${long.stretches.map((x) => Math.round(x)).sort((a, b) => b - a).slice(0, 12).join(', ')} ms); the tables below count only their samples`;
  } else {
    summary = summarize(profile);
  }
  const text = report(Object.assign(String(phase), { load: `${load} / ${os.loadavg()[0].toFixed(2)}` }), summary, wallMs, `${note}; ${file}`);
  console.log(text);
  return text;
}

const out = [];
const env = new Env('profile');
try {
  const room = uniqueRoom('profile');
  const { ws, http } = await env.server();
  const dbFile = path.join(await env.tempDir(), 'seed.db');
  const eventsFile = path.join(path.dirname(dbFile), 'events.json');
  let t = Date.now();
  runBinary('seed', ['--db', dbFile, '--room', room, '--count', String(n), '--json-out', eventsFile], { timeout: 600_000 });
  console.error(`profile: seeded ${n} records in ${Date.now() - t} ms`);

  if (parts.has('import')) {
    const context = await env.persistentContext(http);
    const page = env.watch(await context.newPage(), 'import');
    await gotoReady(page, `${http}/js/test/fixtures/bare.html?${new URLSearchParams({ room, db: `${room}-import`, tracker: nowhereTracker })}`);
    const json = readFileSync(eventsFile, 'utf8');
    out.push(await profiled(page, 'import', async () => {
      const r = await page.evaluate(async (json) => {
        const { importEvents } = await import('/js/dist/testing.js');
        const t = performance.now();
        const res = await importEvents(window.db, json);
        return { ms: performance.now() - t, stored: res.stored };
      }, json);
      if (r.stored !== n) throw new Error(`importEvents stored ${r.stored} of ${n}`);
      return `${n} records through importEvents (peerset/testing) in ${(r.ms / 1000).toFixed(2)} s (${Math.round(n / (r.ms / 1000))} records/s)`;
    }));
    await context.close(); // the next part's tab must sync from the native peer alone
  }

  if (parts.has('put') || parts.has('put-together')) {
    // Puts of this tab's own records: n sequential db.put ('put') or n
    // started together ('put-together', group commit), n = min(records, 2000).
    const puts = Math.min(n, 2000);
    for (const kind of ['put', 'put-together'].filter((k) => parts.has(k))) {
      const context = await env.persistentContext(http);
      const page = env.watch(await context.newPage(), kind);
      await gotoReady(page, `${http}/js/test/fixtures/bare.html?${new URLSearchParams({ room: `${room}-${kind}`, tracker: nowhereTracker })}`);
      await page.evaluate(async () => { for (let i = 0; i < 20; i++) await window.db.put({ text: `warm-up ${i}` }); });
      out.push(await profiled(page, kind, async () => {
        const ms = await page.evaluate(async ({ puts, together }) => {
          const t = performance.now();
          if (together) await Promise.all(Array.from({ length: puts }, (_, i) => window.db.put({ text: `profiled put #${i}` })));
          else for (let i = 0; i < puts; i++) await window.db.put({ text: `profiled put #${i}` });
          return performance.now() - t;
        }, { puts, together: kind === 'put-together' });
        return `${puts} puts (${kind === 'put' ? 'one after the other' : 'started together'}) in ${(ms / 1000).toFixed(2)} s (${Math.round(puts / (ms / 1000))} puts/s)`;
      }, puts));
      await context.close();
    }
  }

  if (parts.has('demo-trace')) {
    // The demo opened on the room, then the same first sync into it,
    // traced: what their long tasks hold (traces in out/profile/).
    const context = await env.persistentContext(http);
    const page = env.watch(await context.newPage(), 'demo-trace');
    await page.goto('about:blank');
    await mkdir(profileDir, { recursive: true });
    for (const phase of ['open', 'sync']) {
      const { note, events } = await traced(page, async () => {
        const t = Date.now();
        if (phase === 'open') {
          await gotoReady(page, await demoURL(env, { room }));
          return `the demo opened on an empty room (navigation → ready) in ${Date.now() - t} ms`;
        }
        const native = env.spawnNiced('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open']);
        await waitFor(`the tab to hold ${n} records`, async () => (await stats(page)).records >= n, { timeout: 900_000, interval: 250 });
        const synced = Date.now() - t;
        await native.stop();
        return `first sync of ${n} records into the demo in ${(synced / 1000).toFixed(2)} s`;
      });
      const file = path.join(profileDir, `demo-trace-${phase}.json`);
      await writeFile(file, JSON.stringify(events));
      const text = `### demo-trace, ${phase}: ${note}; ${file}\n\n${longTaskBreakdown(events)}`;
      console.log(text);
      out.push(text);
    }
    await context.close();
  }

  for (const kind of ['sync', 'demo-sync'].filter((k) => parts.has(k))) {
    const context = await env.persistentContext(http);
    const page = env.watch(await context.newPage(), kind);
    const url = kind === 'sync' ? `${http}/js/test/fixtures/bare.html?${new URLSearchParams({ room })}` : await demoURL(env, { room });
    await gotoReady(page, url);
    out.push(await profiled(page, kind, async () => {
      const t = Date.now();
      const native = env.spawnNiced('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open']);
      await waitFor('the native peer to connect', async () => (await stats(page)).peers >= 1, { timeout: 60_000, interval: 100 });
      const connected = Date.now() - t;
      await waitFor(`the tab to hold ${n} records`, async () => (await stats(page)).records >= n, {
        timeout: 900_000, interval: 250, state: async () => { const st = await stats(page); return { records: st.records, peers: st.peers }; },
      });
      const synced = Date.now() - t;
      await native.stop();
      return `first sync of ${n} records from a native peer in ${(synced / 1000).toFixed(2)} s, connected after ${connected} ms (${Math.round(n / ((synced - connected) / 1000))} records/s once connected)`;
    }, n, { mainThread: kind === 'demo-sync' }));
    await context.close();
  }
} catch (err) {
  console.error(`profile: ${err.stack || err.message}`);
  console.error(env.diagnostics());
  process.exitCode = 1;
} finally {
  await env.close();
}
await mkdir(profileDir, { recursive: true });
await writeFile(path.join(profileDir, 'summary.md'), `${out.join('\n')}\n`);
await sleep(0);
