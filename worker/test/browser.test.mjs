// One browser tab (the demo page, served by the worker itself as a static
// asset) and a native `peerset join` peer converge through the worker's
// tracker under `wrangler dev`. Reuses the browser-test harness
// (js/test/lib/harness.mjs: Chromium via playwright-core, native peers).
// Run by scripts/worker-test.sh inside a loopback-only network namespace,
// after `worker/build.sh --demo`.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { gotoReady, putMany, queryUUIDs, runBinary, stats, uniqueRoom, waitConverged, waitFor, withEnv } from '../../js/test/lib/harness.mjs';

const workerDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// startWrangler runs `wrangler dev` in its own process group and resolves
// once /healthz answers; stop() kills the whole group (node and workerd).
async function startWrangler() {
  const wrangler = path.join(workerDir, 'node_modules', '.bin', 'wrangler');
  if (!existsSync(wrangler)) throw new Error('wrangler is not installed in worker/node_modules: run scripts/worker-test.sh (npm ci in worker/)');
  if (!existsSync(path.join(workerDir, 'build', 'assets', 'examples', 'demo', 'index.html'))) {
    throw new Error('the worker has no demo assets: build it with worker/build.sh --demo (scripts/worker-test.sh does)');
  }
  const [port, inspector] = [await freePort(), await freePort()];
  const state = await mkdtemp(path.join(os.tmpdir(), 'peerset-worker-state-'));
  const log = [];
  const child = spawn(wrangler, ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector),
    '--persist-to', state, '--show-interactive-dev-session=false', '--live-reload=false'], {
    cwd: workerDir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', WRANGLER_HIDE_BANNER: 'true', CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_LOG_PATH: path.join(state, 'logs') },
  });
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (d) => { log.push(String(d)); });
  let exited = false;
  child.once('exit', () => { exited = true; });
  const stop = async () => {
    for (const signal of ['SIGTERM', 'SIGKILL']) {
      try { process.kill(-child.pid, signal); } catch { /* gone */ }
      await new Promise((resolve) => setTimeout(resolve, signal === 'SIGTERM' ? 1000 : 100));
    }
    await rm(state, { recursive: true, force: true });
  };
  const http = `http://127.0.0.1:${port}`;
  try {
    await waitFor('wrangler dev to serve /healthz', async () => {
      if (exited) throw new Error(`wrangler dev exited:\n${log.join('')}`);
      const res = await fetch(`${http}/healthz`).catch(() => null);
      return res?.ok;
    }, { timeout: 60_000, interval: 200 });
  } catch (err) {
    await stop();
    throw new Error(`${err.message}\n--- wrangler dev output\n${log.join('')}`);
  }
  return { http, ws: `ws://127.0.0.1:${port}/announce`, stop, log };
}

test('a browser tab and a native peer converge through the worker', { timeout: 110_000 }, withEnv(async (env, t) => {
  const worker = await startWrangler();
  env.closers.push(worker.stop);
  const room = uniqueRoom('worker');

  const dbFile = path.join(await env.tempDir(), 'native.db');
  const nativeUUIDs = [];
  for (let i = 1; i <= 5; i++) {
    const event = JSON.parse(runBinary('peerset', ['put', '--db', dbFile, '--room', room, '--moderation', 'open', '--text', `from the native peer #${i}`]));
    nativeUUIDs.push(event.tags.find((tag) => tag[0] === 'd')[1]);
  }

  // The demo page comes from the worker's static assets; its tracker is the
  // worker's /announce on the same origin.
  const context = await env.freshContext(worker.http);
  const page = env.watch(await context.newPage(), 'tab');
  const url = new URL(`${worker.http}/examples/demo/`);
  url.searchParams.set('room', room);
  url.searchParams.set('moderation', 'open');
  url.searchParams.set('tracker', worker.ws);
  await gotoReady(page, url.toString());
  const tabUUIDs = await putMany(page, 10, 'tab record');

  const native = env.spawn('peerset join', 'peerset', ['join', '--db', dbFile, '--room', room, '--tracker', worker.ws, '--json', '--ice-loopback', '--moderation', 'open']);
  const lastStatus = () => native.jsonLines().filter((l) => 'records' in l && 'root' in l).at(-1);
  const total = nativeUUIDs.length + tabUUIDs.length;
  const started = Date.now();
  let root;
  try {
    root = await waitConverged([page], total, {
      timeout: 60_000,
      extra: async () => [lastStatus() ?? { records: 'no status line yet' }],
    });
  } catch (err) {
    const st = await fetch(`${worker.http}/stats`).then((r) => r.text()).catch((e) => e.message);
    throw new Error(`${err.message}\nworker /stats: ${st}\n--- wrangler dev output\n${worker.log.join('').slice(-4000)}`);
  }
  t.diagnostic(`${total} records converged through the worker in ${Date.now() - started} ms`);

  assert.equal(String(lastStatus().root).toLowerCase(), String(root).toLowerCase(), "the native peer has the tab's root");
  assert.deepEqual(new Set(await queryUUIDs(page)), new Set([...nativeUUIDs, ...tabUUIDs]), "the tab holds the native peer's records and its own");
  assert.equal((await stats(page)).peers, 1, 'the tab is connected to the native peer');

  const workerStats = await (await fetch(`${worker.http}/stats`)).json();
  assert.ok(workerStats.peers >= 2 && workerStats.connections >= 2, `the worker counts the tab and the native peer: ${JSON.stringify(workerStats)}`);

  const stopped = await native.stop();
  assert.equal(stopped.code, 0, `peerset join exits cleanly on SIGTERM (got code ${stopped.code}, signal ${stopped.signal})`);
}));
