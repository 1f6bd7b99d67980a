// The browser-test harness: the loopback tracker + static server
// (cmd/tracker --static), headless Chromium through playwright-core, native
// peers (cmd/peerset, the hostile helper) as child processes, and polling
// helpers. Every process and browser a test starts is stopped when the test
// ends, whether it passed or not, and when this Node process exits.
//
// scripts/browser-test.sh builds the Go binaries into PEERSET_TEST_BIN and
// runs the tests inside a loopback-only network namespace; run it rather
// than `node --test` directly.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, mkdir, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const outDir = path.join(repoRoot, 'out');
export const binDir = process.env.PEERSET_TEST_BIN || path.join(outDir, 'browser-test', 'bin');
export const chromiumPath = process.env.PEERSET_CHROMIUM || '/usr/bin/chromium';

// timeoutScale multiplies every wait's timeout (waitFor, waitReady,
// gotoReady, waitLine): PEERSET_TEST_TIMEOUT_SCALE, else 2 on a machine with
// two CPUs or fewer, where a loaded machine (CI, other builds) stretches
// WebRTC setup and page loads. A timeout is only a bound on failure: a
// passing test takes no longer for it.
export const timeoutScale = (() => {
  const v = Number(process.env.PEERSET_TEST_TIMEOUT_SCALE);
  if (Number.isFinite(v) && v > 0) return v;
  return os.cpus().length <= 2 ? 2 : 1;
})();

// Flags without which headless Chromium gathers no loopback ICE candidates
// (with the camera/microphone grant below), plus quiet-browser flags.
export const chromiumArgs = [
  '--allow-loopback-in-peer-connection',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  // Background tabs must keep running their timers at full speed: a test
  // drives several tabs of one browser at once.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

// A closed loopback port: a tracker URL where no peer can ever be found.
export const nowhereTracker = 'ws://127.0.0.1:9';

// Children still running, killed for sure when Node exits.
const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => process.exit(130));
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function uniqueRoom(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

// waitFor polls check() until it returns a truthy value and returns that
// value; on timeout it fails saying what it waited for and, if given,
// what state() last returned.
export async function waitFor(what, check, { timeout = 30_000, interval = 100, state } = {}) {
  timeout *= timeoutScale;
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      let detail = '';
      if (state) {
        try { detail = `; last state: ${JSON.stringify(await state())}`; } catch (err) { detail = `; state unavailable: ${err.message}`; }
      }
      if (lastError) detail += `; last error: ${lastError.message}`;
      throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}${detail}`);
    }
    await sleep(interval);
  }
}

// binary returns the path of a Go binary that scripts/browser-test.sh builds.
export function binary(name) {
  const file = path.join(binDir, name);
  if (!existsSync(file)) {
    throw new Error(`missing ${file}: run scripts/browser-test.sh (it builds cmd/tracker, cmd/peerset and the helpers in js/test into ${binDir}), or set PEERSET_TEST_BIN`);
  }
  return file;
}

export function requireChromium() {
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: install Debian's chromium package (apt-get install -y chromium), or set PEERSET_CHROMIUM to a Chromium binary`);
  }
}

// A child process whose stdout is read line by line.
export class Child {
  constructor(name, file, args, { cwd = repoRoot, env } = {}) {
    this.name = name;
    this.lines = [];
    this.stderr = [];
    this.listeners = new Set();
    this.child = spawn(file, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    liveChildren.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        liveChildren.delete(this.child);
        this.exitCode = code;
        this.exitSignal = signal;
        resolve({ code, signal });
      });
    });
    this.child.once('error', (err) => { this.spawnError = err; });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      for (const listener of this.listeners) listener(line);
    });
    createInterface({ input: this.child.stderr }).on('line', (line) => {
      this.stderr.push(line);
      if (this.stderr.length > 400) this.stderr.splice(0, 100);
    });
  }

  get running() {
    return this.exitCode === undefined && this.exitSignal === undefined && !this.spawnError;
  }

  // waitLine resolves with the first stdout line (past or future) for which
  // match returns truthy, or fails when the process exits or time runs out.
  waitLine(what, match, timeout = 30_000) {
    timeout *= timeoutScale;
    for (const line of this.lines) if (match(line)) return Promise.resolve(line);
    return new Promise((resolve, reject) => {
      const done = (fn, value) => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        fn(value);
      };
      const listener = (line) => { if (match(line)) done(resolve, line); };
      const timer = setTimeout(() => done(reject, new Error(`timed out after ${timeout / 1000} s waiting for ${this.name} to print ${what}; stderr tail:\n${this.stderrTail()}`)), timeout);
      this.listeners.add(listener);
      this.exited.then(({ code, signal }) => done(reject, new Error(`${this.name} exited (code ${code}, signal ${signal}) before printing ${what}; stderr tail:\n${this.stderrTail()}`)));
    });
  }

  // jsonLines returns stdout lines that parse as JSON objects.
  jsonLines() {
    const out = [];
    for (const line of this.lines) {
      try { out.push(JSON.parse(line)); } catch { /* not JSON */ }
    }
    return out;
  }

  stderrTail(n = 30) {
    return this.stderr.slice(-n).join('\n');
  }

  // stop asks the process to end (SIGTERM, and closes its stdin), then kills
  // it if it is still there after grace ms.
  async stop(grace = 3000) {
    if (!this.running) return this.exited;
    try { this.child.stdin.end(); } catch { /* closed */ }
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => { try { this.child.kill('SIGKILL'); } catch { /* gone */ } }, grace);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}

// runBinary runs a Go binary to completion and returns its stdout; it fails
// with the binary's stderr.
export function runBinary(name, args, { timeout = 60_000 } = {}) {
  const result = spawnSync(binary(name), args, { cwd: repoRoot, encoding: 'utf8', timeout });
  if (result.error) throw new Error(`${name} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${name} ${args.join(' ')} exited with ${result.status}: ${result.stderr}`);
  return result.stdout;
}

// A minimal static file server (for the harness's own stub page).
export async function serveStatic(root) {
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.json': 'application/json' };
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://x');
      const file = path.join(root, path.normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, ''));
      if (!file.startsWith(root) || !(await stat(file)).isFile()) throw new Error('not a file');
      res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
      res.end(await readFile(file));
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

// Env is one test's world: everything it starts is registered here and
// stopped by close().
export class Env {
  constructor(name) {
    this.name = name;
    this.children = [];
    this.browsers = [];
    this.contexts = [];
    this.pages = [];
    this.tempDirs = [];
    this.closers = [];
    this.pageLogs = new Map(); // page → console lines
  }

  async tempDir(prefix = 'peerset-browser-') {
    const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
    this.tempDirs.push(dir);
    return dir;
  }

  spawn(name, binaryName, args, options) {
    const child = new Child(name, binary(binaryName), args, options);
    this.children.push(child);
    return child;
  }

  // spawnNiced starts a Go binary at the lowest CPU priority (nice 19): a
  // peer that stands in for another machine, so that on a small test box it
  // does not take the CPU from the browser under test.
  spawnNiced(name, binaryName, args, options) {
    const child = new Child(name, 'nice', ['-n', '19', binary(binaryName), ...args], options);
    this.children.push(child);
    return child;
  }

  // server starts cmd/tracker with --static on the repository root: the
  // tracker's ws:// URL and the demo's http:// origin on one loopback port.
  server() {
    // One server per test, however many callers ask at once.
    this.serverPromise ??= this.startServer();
    return this.serverPromise;
  }

  async startServer() {
    const tracker = this.spawn('tracker', 'tracker', ['--addr', '127.0.0.1:0', '--static', repoRoot]);
    let line;
    try {
      line = await tracker.waitLine('its ws:// URL', (l) => l.startsWith('ws://'), 15_000);
    } catch (err) {
      if (/flag provided but not defined: -static/.test(tracker.stderrTail())) {
        throw new Error('cmd/tracker has no --static flag yet: the browser tests need `cmd/tracker --static DIR` (tracker and static files on one loopback port)');
      }
      throw err;
    }
    const ws = line.trim();
    return { tracker, ws, http: ws.replace(/^ws:/, 'http:').replace(/\/+$/, '') };
  }

  async browser() {
    requireChromium();
    const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
    this.browsers.push(browser);
    return browser;
  }

  // freshContext is a new, empty profile (its own IndexedDB) in a shared
  // browser, with camera and microphone granted for origin.
  async freshContext(origin) {
    this.sharedBrowser ??= this.browser();
    const context = await (await this.sharedBrowser).newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['microphone', 'camera'], { origin });
    this.contexts.push(context);
    return context;
  }

  // persistentContext is a browser with an on-disk profile (IndexedDB
  // survives reloads and restarts); pass the same dir to reopen it.
  async persistentContext(origin, dir) {
    requireChromium();
    const userDataDir = dir || (await this.tempDir('peerset-profile-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath, headless: true, args: chromiumArgs, viewport: { width: 1280, height: 900 },
    });
    await context.grantPermissions(['microphone', 'camera'], { origin });
    this.contexts.push(context);
    context.userDataDir = userDataDir;
    return context;
  }

  // watch records a page's console output and errors for the diagnostics
  // printed when a test fails.
  watch(page, label) {
    const log = [];
    this.pageLogs.set(page, { label, log });
    const add = (line) => {
      log.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
      if (log.length > 300) log.splice(0, 100);
    };
    page.on('console', (m) => add(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => add(`[pageerror] ${e.stack || e.message}`));
    page.on('crash', () => add('[crash] the page crashed'));
    page.on('requestfailed', (r) => add(`[requestfailed] ${r.url()} ${r.failure()?.errorText}`));
    this.pages.push(page);
    return page;
  }

  // demoURL is the demo page's address for a room. Options: moderation
  // ("open" by default; null for the page's default, the standard preset),
  // tracker (default: the server's own, which the page picks by itself).
  async demoURL({ room, moderation = 'open', tracker, params = {} }) {
    const { http } = await this.server();
    const url = new URL(`${http}/examples/demo/`);
    url.searchParams.set('room', room);
    if (moderation) url.searchParams.set('moderation', moderation);
    if (tracker) url.searchParams.set('tracker', tracker);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url.toString();
  }

  // openDemo opens the demo in a new page of context (a fresh profile by
  // default) and waits until its database is open.
  async openDemo({ room, context, label = room, ...options }) {
    const { http } = await this.server();
    const ctx = context || (await this.freshContext(http));
    const page = this.watch(await ctx.newPage(), label);
    await gotoReady(page, await this.demoURL({ room, ...options }));
    return page;
  }

  // diagnostics is what a failed test prints: page consoles and the tails
  // of every child's stderr.
  diagnostics() {
    const parts = [];
    for (const { label, log } of this.pageLogs.values()) {
      parts.push(`--- console of tab ${label} (last ${Math.min(log.length, 60)} lines)\n${log.slice(-60).join('\n')}`);
    }
    for (const child of this.children) {
      parts.push(`--- ${child.name} stdout tail\n${child.lines.slice(-10).join('\n')}\n--- ${child.name} stderr tail\n${child.stderrTail(30)}`);
    }
    return parts.join('\n');
  }

  async close() {
    const quietly = async (fn) => { try { await fn(); } catch { /* best effort */ } };
    for (const fn of this.closers.reverse()) await quietly(fn);
    for (const context of this.contexts) await quietly(() => withTimeout(context.close(), 10_000));
    for (const browser of this.browsers) await quietly(() => withTimeout(browser.close(), 10_000));
    await Promise.all(this.children.map((c) => quietly(() => c.stop())));
    for (const dir of this.tempDirs) await quietly(() => rm(dir, { recursive: true, force: true }));
  }
}

function withTimeout(promise, ms) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), ms); })]).finally(() => clearTimeout(timer));
}

// gotoReady navigates and waits for the demo's ready flag; it fails with the
// page's #error text if the page says what went wrong.
export async function gotoReady(page, url, timeout = 30_000) {
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  await waitReady(page, timeout);
}

export async function waitReady(page, timeout = 30_000) {
  timeout *= timeoutScale;
  try {
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached', timeout });
  } catch (err) {
    const error = await page.locator('#error').textContent({ timeout: 1000 }).catch(() => '');
    throw new Error(`the demo at ${page.url()} never set data-ready="1"${error ? `; #error says: ${error.trim()}` : ''} (${err.message.split('\n')[0]})`);
  }
}

// withEnv wraps a test body: it gets a fresh Env, prints the diagnostics if
// the body fails, and always stops everything.
export function withEnv(body) {
  return async (t) => {
    const env = new Env(t.name);
    try {
      await body(env, t);
    } catch (err) {
      console.error(`\n=== diagnostics for "${t.name}"\n${env.diagnostics()}\n=== end of diagnostics\n`);
      throw err;
    } finally {
      await env.close();
    }
  };
}

// --- the demo page and the JS API, as the contract describes them

// stats returns window.db.stats() as plain data.
export function stats(page) {
  return page.evaluate(async () => JSON.parse(JSON.stringify(await window.db.stats())));
}

// shownCount is the number #record-count shows.
export async function shownCount(page) {
  const text = (await page.locator('#record-count').textContent()) || '';
  const match = text.match(/\d[\d,\u00a0\u202f' ]*/);
  return match ? Number(match[0].replace(/\D/g, '')) : NaN;
}

// putMany puts n records from the page through the public API, one after
// the other, and returns their uuids.
export function putMany(page, n, prefix) {
  return page.evaluate(async ({ n, prefix }) => {
    const uuids = [];
    for (let i = 0; i < n; i++) {
      const rec = await window.db.put({ text: `${prefix} #${i + 1}` });
      uuids.push(rec.uuid);
    }
    return uuids;
  }, { n, prefix });
}

// queryUUIDs returns the uuids of db.query() (every live record).
export function queryUUIDs(page) {
  return page.evaluate(async () => (await window.db.query({})).map((r) => r.uuid));
}

// waitConverged waits until every tab holds want records under one root
// and returns that root.
export async function waitConverged(pages, want, { timeout = 60_000, extra = async () => [] } = {}) {
  let last = [];
  await waitFor(`${pages.length} tabs to hold ${want} records under one root`, async () => {
    last = await Promise.all(pages.map((p) => stats(p).then((s) => ({ records: s.records, root: s.root, peers: s.peers }))));
    const others = await extra();
    const all = [...last, ...others];
    return all.every((s) => s.records === want) && new Set(all.map((s) => String(s.root).toLowerCase())).size === 1;
  }, { timeout, interval: 250, state: async () => [...last, ...(await extra())] });
  return last[0].root;
}

export async function screenshot(page, name) {
  const dir = path.join(outDir, 'screenshots');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
