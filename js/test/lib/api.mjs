// Pages of fixtures/api.html: the API without UI, for tests that open
// databases with options a URL cannot carry (functions, signer objects).

import { waitFor, waitReady } from './harness.mjs';

// openAPIPage opens fixtures/api.html in a fresh profile; worker: false runs
// the engine on the page.
export async function openAPIPage(env, { label, worker = true } = {}) {
  const { http } = await env.server();
  const ctx = await env.freshContext(http);
  const page = env.watch(await ctx.newPage(), label);
  await page.goto(`${http}/js/test/fixtures/api.html${worker ? '' : '?worker=0'}`, { waitUntil: 'domcontentloaded' });
  await waitReady(page);
  return page;
}

// dbStats returns window.db.stats() (or window[name]) as plain data.
export function dbStats(page, name = 'db') {
  return page.evaluate(async (name) => JSON.parse(JSON.stringify(await window[name].stats())), name);
}

// waitPeers waits until every page's window.db has n authenticated peers.
export async function waitPeers(pages, n, timeout = 60_000) {
  await waitFor(`${pages.length} pages to have ${n} peers each`, async () => (await Promise.all(pages.map((p) => dbStats(p)))).every((s) => s.peers >= n), {
    timeout, state: () => Promise.all(pages.map((p) => dbStats(p).then((s) => ({ peers: s.peers, sessions: s.sessions.map((x) => x.state) })))),
  });
}

// tryPut returns how window.db.put settled: { ok, record } or the error's
// { code, rule, reason, message }.
export function tryPut(page, draft, name = 'db') {
  return page.evaluate(async ({ draft, name }) => {
    try {
      const rec = await window[name].put(draft);
      return { ok: true, record: JSON.parse(JSON.stringify(rec)) };
    } catch (err) {
      return { ok: false, code: err.code, rule: err.rule, reason: err.reason, message: err.message, isError: err instanceof Error };
    }
  }, { draft, name });
}

// waitRecord waits until the page holds a live record with this uuid.
export function waitRecord(page, uuid, what, timeout = 60_000) {
  return waitFor(what, () => page.evaluate(async (u) => JSON.parse(JSON.stringify(await window.db.get(u))), uuid), { timeout });
}
