import path from 'node:path';
import { Env, uniqueRoom, gotoReady, stats, runBinary, sleep } from './lib/harness.mjs';
const N = Number(process.env.N || 20000);
const env = new Env('dbg');
try {
  const room = uniqueRoom('dbg');
  const { ws, http } = await env.server();
  const dbFile = path.join(await env.tempDir(), 'seed.db');
  runBinary('seed', ['--db', dbFile, '--room', room, '--count', String(N)], { timeout: 300_000 });
  const ctx = await env.freshContext(http);
  const page = await ctx.newPage();
  page.on('console', (m) => { if (!/autocomplete|404/.test(m.text()) && (!process.env.GREP || new RegExp(process.env.GREP).test(m.text()))) console.log('[console]', m.type(), m.text().slice(0, 400)); });
  const q = new URLSearchParams(process.env.Q || '');
  const url = process.env.BARE ? `${http}/js/test/fixtures/bare.html?room=${room}&${q}` : await env.demoURL({ room, params: Object.fromEntries(q) });
  await gotoReady(page, url);
  const t0 = Date.now();
  const native = env.spawn('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', ws, '--json', '--ice-loopback', '--moderation', 'open']);
  let last = -1, lastChange = Date.now();
  for (;;) {
    const s = await stats(page);
    if (s.records !== last) { last = s.records; lastChange = Date.now(); }
    const stalled = Date.now() - lastChange > 2500;
    const ses = s.sessions.map((x) => `${x.peerId.slice(0, 6)} ${x.state} in=${x.recordsIn} pend=${x.pending} wants=${x.wantsInFlight} b=${x.bytesIn}/${x.bytesOut} strikes=${x.strikes}${x.closeReason ? ' closed:' + x.closeReason : ''}`).join('; ');
    console.log(`${Date.now() - t0} ${s.records} peers=${s.peers}${stalled ? ' STALLED' : ''} | ${ses}`);
    if (stalled) console.log('native:', native.lines.slice(-2).join(' '));
    if (s.records >= N || Date.now() - t0 > 240_000) break;
    await sleep(1000);
  }
  console.log('synced', N, 'in', Date.now() - t0, 'ms');
} catch (e) { console.log('ERR', e.message); console.log(env.diagnostics()); } finally { await env.close(); }
