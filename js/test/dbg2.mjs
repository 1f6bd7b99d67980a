import path from 'node:path';
import { Env, uniqueRoom, gotoReady, stats, runBinary, waitFor } from './lib/harness.mjs';
const N = Number(process.env.N || 5000);
const env = new Env('dbg');
try {
  const room = uniqueRoom('dbg');
  const { ws, http } = await env.server();
  const dbFile = path.join(await env.tempDir(), 'seed.db');
  let t0 = Date.now();
  runBinary('seed', ['--db', dbFile, '--room', room, '--count', String(N)], { timeout: 300_000 });
  console.log('seeded', Date.now() - t0);
  const ctx = await env.freshContext(http);
  const page = await ctx.newPage();
  page.on('console', (m) => { if (!/autocomplete/.test(m.text())) console.log('[console]', m.type(), m.text()); });
  page.on('pageerror', (e) => console.log('[pageerror]', e.message));
  await page.addInitScript(() => { window.__lt = []; new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__lt.push([Math.round(e.startTime), Math.round(e.duration)]); }).observe({ type: 'longtask', buffered: true }); });
  const q = new URLSearchParams(process.env.Q || '');
  const url = process.env.BARE ? `${http}/js/test/fixtures/bare.html?room=${room}&${q}` : await env.demoURL({ room, params: Object.fromEntries(q) });
  await gotoReady(page, url);
  const browser = page.context().browser(); if (browser) await browser.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] });
  const cdp = await page.context().newCDPSession(page); await cdp.send('Profiler.enable'); await cdp.send('Profiler.setSamplingInterval', { interval: 200 }); await cdp.send('Profiler.start');
  t0 = Date.now();
  const native = env.spawn('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open']);
  let last = 0;
  await waitFor('sync', async () => { const s = await stats(page); if (s.records - last >= 1000 || s.records >= N) { console.log(Date.now() - t0, s.records, s.peers); last = s.records; } return s.records >= N; }, { timeout: 600_000, interval: 500 });
  console.log('synced', N, 'in', Date.now() - t0, 'ms', Math.round(N / ((Date.now() - t0) / 1000)), '/s');
  const { profile } = await cdp.send('Profiler.stop');
  const self = new Map(); const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = profile.timeDeltas; const counts = new Map();
  profile.samples.forEach((id, i) => counts.set(id, (counts.get(id) || 0) + (dt[i] || 0)));
  for (const [id, us] of counts) { const n = byId.get(id); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`; self.set(k, (self.get(k) || 0) + us); }
  console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, us]) => `${(us / 1000).toFixed(0)} ms ${k}`).join('\n'));
  if (browser) {
    const buf = await browser.stopTracing();
    const ev = JSON.parse(buf.toString()).traceEvents;
    const mainTid = ev.find((e) => e.name === 'Layout')?.tid;
    const top = new Map(); let tasks = 0;
    for (const e of ev) if (e.tid === mainTid && e.dur && ['UpdateLayoutTree','Layout','Paint','PrePaint','FunctionCall','FireAnimationFrame','MinorGC','MajorGC','V8.GC_HEAP_ENSURE_SWEEPING_COMPLETED','ParseHTML','TimerFire','EventDispatch','RunMicrotasks','Commit','Layerize','HitTest','UpdateLayer','RunTask'].includes(e.name)) top.set(e.name, (top.get(e.name) || 0) + e.dur);
    console.log('main thread totals (ms):', [...top].sort((a, b) => b[1] - a[1]).map(([n, d]) => `${n}:${Math.round(d / 1000)}`).join(' '));
    const fc = new Map();
    for (const e of ev) if (e.tid === mainTid && e.name === 'FunctionCall' && e.dur) { const k = `${e.args?.data?.functionName}@${(e.args?.data?.url || '').split('/').pop()}:${e.args?.data?.lineNumber}`; fc.set(k, (fc.get(k) || 0) + e.dur); }
    console.log('function calls:', [...fc].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([n, d]) => `${n}:${Math.round(d / 1000)}`).join(' '));
    const main = ev.filter((e) => e.name === 'RunTask' && e.dur > 50000 && e.tid === mainTid);
    for (const task of main.slice(0, 12)) {
      const kids = ev.filter((e) => e.tid === task.tid && e.pid === task.pid && e.ts >= task.ts && e.ts < task.ts + task.dur && e.dur && e.name !== 'RunTask');
      const agg = new Map(); for (const k of kids) agg.set(k.name, (agg.get(k.name) || 0) + k.dur);
      console.log('task', Math.round(task.dur / 1000), 'ms tid', task.tid, [...agg].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([n, d]) => `${n}:${Math.round(d / 1000)}`).join(' '));
    }
  }
  console.log('longtasks', JSON.stringify(await page.evaluate(() => window.__lt)));
} catch (e) { console.log('ERR', e.message); console.log(env.diagnostics()); } finally { await env.close(); }
