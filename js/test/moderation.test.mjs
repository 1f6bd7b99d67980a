// Acceptance 4: moderation in the browser.
// - Under the standard preset, a put whose text has a bad word or a link is
//   refused locally: the promise rejects with the rule's name, and the
//   composer shows the refusal in #error.
// - A record forged by a hostile native peer (honest handshake, then a
//   broken signature and a tampered content) is struck and never shown,
//   and its 'reject' events never name the records the forgeries claim to be.
// - A flood of refused records (L1) reaches the page as a few callbacks in
//   a few batches, with a summary that counts the rest.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { queryUUIDs, screenshot, stats, uniqueRoom, waitFor, withEnv } from './lib/harness.mjs';

// tryPut returns how db.put settled: {ok, uuid} or {rule, reason, message}.
function tryPut(page, draft) {
  return page.evaluate(async (draft) => {
    try {
      const rec = await window.db.put(draft);
      return { ok: true, uuid: rec.uuid };
    } catch (err) {
      return { ok: false, rule: err.rule, reason: err.reason, message: err.message, isError: err instanceof Error };
    }
  }, draft);
}

const refusals = [
  { name: 'a bad word', text: 'what an asshole', rule: 'bad-words' },
  { name: 'a link in the text', text: 'cheap stuff at example.com/deals today', rule: 'no-link-in-text' },
];

test('puts with a bad word or a link in the text are refused locally, naming the rule', { timeout: 90_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('refusals');
  const page = await env.openDemo({ room, moderation: null, label: 'standard preset' }); // the page's default: the standard preset
  assert.equal((await stats(page)).moderation, 'standard', 'without ?moderation the demo uses the standard preset');

  const fine = await tryPut(page, { text: 'pi is 3.14, and that is fine' });
  assert.ok(fine.ok, `an ordinary record is accepted: ${JSON.stringify(fine)}`);

  for (const r of refusals) {
    const result = await tryPut(page, { text: r.text });
    assert.equal(result.ok, false, `${r.name}: the put must be refused`);
    assert.equal(result.isError, true, `${r.name}: the promise rejects with an Error`);
    assert.equal(result.rule, r.rule, `${r.name}: err.rule (${result.message})`);
    assert.ok(result.reason && typeof result.reason === 'string', `${r.name}: err.reason says why (${JSON.stringify(result)})`);
    t.diagnostic(`${r.name}: rule ${result.rule}, reason "${result.reason}"`);

    // Through the page's composer, #error shows it.
    await page.fill('#composer-text', r.text);
    await page.click('#composer-submit');
    await waitFor(`#error to name the rule ${r.rule}`, async () => ((await page.locator('#error').textContent()) || '').includes(r.rule), {
      timeout: 10_000, state: () => page.locator('#error').textContent(),
    });
    await screenshot(page, `refused-${r.rule}`);
  }
  const s = await stats(page);
  assert.equal(s.records, 1, 'only the ordinary record was stored');
  const list = await page.locator('#record-list').textContent();
  for (const r of refusals) assert.ok(!list.includes(r.text), `the refused text "${r.text}" is not listed`);
}));

test('a record forged by a hostile peer is struck and never shown', { timeout: 120_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('hostile');
  const { ws } = await env.server();
  const page = await env.openDemo({ room, label: 'victim' });
  await page.evaluate(() => {
    window.__rejects = [];
    window.db.on('reject', (r) => window.__rejects.push(JSON.parse(JSON.stringify(r))));
  });
  await page.evaluate(() => window.db.put({ text: 'an honest record of the victim' }));

  const forgedText = `FORGED-${Math.random().toString(36).slice(2, 10)}`;
  const hostile = env.spawn('hostile', 'hostile', ['--tracker', ws, '--room', room, '--text', forgedText]);
  const ready = JSON.parse(await hostile.waitLine('ready', (l) => l.includes('"ready"'), 15_000));
  const forged = JSON.parse(await hostile.waitLine('that it sent its forged records', (l) => l.includes('"forged"'), 45_000));
  t.diagnostic(`hostile peer ${ready.self} sent forged records ${forged.ids.join(', ')}`);

  // The tab refuses both with the integrity rule and strikes the sender.
  // Neither is named: a broken signature or a changed content proves
  // nothing about the record the forgery claims to be.
  const rejects = await waitFor('two reject events with rule "integrity" from the hostile peer', async () => {
    const got = (await page.evaluate(() => window.__rejects)).filter((r) => r.rule === 'integrity' && r.peerId === ready.self);
    return got.length >= 2 && got;
  }, { timeout: 20_000, state: () => page.evaluate(() => window.__rejects) });
  for (const r of rejects) {
    assert.equal(r.unverified, true, `the refusal is marked unverified: ${JSON.stringify(r)}`);
    assert.ok(r.id === undefined && r.uuid === undefined && r.author === undefined, `an unverified refusal names no record: ${JSON.stringify(r)}`);
    assert.ok(r.reason, 'it says why');
  }
  const named = (await page.evaluate(() => window.__rejects)).filter((r) => forged.ids.includes(r.id) || forged.uuids.includes(r.uuid));
  assert.deepEqual(named, [], 'no reject event names a forged id or uuid');

  // Strikes: in stats().sessions while the session lives; a session closed
  // for too many strikes (a ban) counts too.
  const session = await waitFor('a strike against the hostile peer in db.stats().sessions', async () => {
    const s = (await stats(page)).sessions.find((x) => x.peerId === ready.self);
    return s && s.strikes >= 1 && s;
  }, { timeout: 20_000, state: async () => (await stats(page)).sessions.map((x) => ({ peerId: x.peerId, strikes: x.strikes, state: x.state })) });
  t.diagnostic(`session with the hostile peer: state ${session.state}, strikes ${session.strikes}, refused ${session.recordsRefused}`);
  assert.ok(session.recordsRefused >= 2, `the session counts the refused records (${session.recordsRefused})`);

  // Give the page time to render anything it wrongly kept, then look.
  await page.waitForTimeout(1000);
  const listed = (await page.locator('#record-list').textContent()) || '';
  assert.ok(listed.includes('an honest record of the victim'), '#record-list shows the honest record');
  assert.ok(!listed.includes(forgedText), '#record-list never shows the forged text');
  const texts = await page.evaluate(async () => (await window.db.query({})).map((r) => r.text));
  assert.ok(!texts.some((x) => String(x).includes(forgedText)), `db.query() never returns the forged text: ${JSON.stringify(texts)}`);
  assert.equal((await queryUUIDs(page)).length, 1, 'the victim holds only its own record');
  for (const uuid of forged.uuids) {
    const got = await page.evaluate(async (uuid) => { try { return await window.db.get(uuid); } catch { return null; } }, uuid);
    assert.equal(got ?? null, null, `db.get finds nothing under the forged uuid ${uuid}`);
  }
  t.diagnostic(`screenshot: ${await screenshot(page, 'hostile-struck')}`);
}));

// L1: a peer that sends refused records as fast as it can must not flood the
// page. The engine reports 10 per peer and second one by one and counts the
// rest in a summary ({ suppressed }), and the bridge crosses to JavaScript
// in batches (at most one every 100 ms). The forgeries all claim a real
// record's id: no callback names it.
test('a flood of refused records reaches the page as a few callbacks and a summary', { timeout: 120_000 }, withEnv(async (env, t) => {
  const n = 10_000;
  const room = uniqueRoom('reject-flood');
  const page = await env.openDemo({ room, label: 'flooded' });
  const result = await page.evaluate(async ({ n, room }) => {
    // A real record of this room, by another author.
    const other = await window.peerset.open({ room, moderation: 'open', offline: true, storage: 'memory' });
    const real = await other.put({ text: 'a real record' });
    await other.close();
    const forgeries = [];
    for (let i = 0; i < n; i++) forgeries.push({ ...real.event, content: `forged ${i}` });

    const seen = { callbacks: 0, batches: 0, items: [] };
    let inBatch = false;
    window.__flood = seen;
    window.db.on('reject', (r) => {
      seen.callbacks++;
      // Items of one emit are dispatched in one task: a microtask marks its end.
      if (!inBatch) {
        inBatch = true;
        seen.batches++;
        queueMicrotask(() => { inBatch = false; });
      }
      if (seen.items.length < 1000) seen.items.push(r);
    });
    const started = performance.now();
    const imported = await window.db.import(forgeries);
    return { imported, realId: real.id, realUUID: real.uuid, started, importMs: performance.now() - started };
  }, { n, room });
  t.diagnostic(`imported ${n} forgeries in ${Math.round(result.importMs)} ms: ${JSON.stringify(result.imported)}`);
  assert.equal(result.imported.invalid, n, 'every forgery is invalid');
  assert.equal(result.imported.byRule.integrity, n, 'by the integrity rule');

  const total = (items) => items.reduce((sum, r) => sum + (r.suppressed || 1), 0);
  const seen = await waitFor(`callbacks that account for the ${n} refusals`, async () => {
    const s = await page.evaluate(() => window.__flood);
    return total(s.items) === n && s;
  }, { timeout: 30_000, state: async () => { const s = await page.evaluate(() => window.__flood); return { callbacks: s.callbacks, batches: s.batches, total: total(s.items) }; } });
  const elapsedMs = await page.evaluate((started) => performance.now() - started, result.started);
  const seconds = Math.ceil(elapsedMs / 1000) + 1;
  t.diagnostic(`${n} refusals → ${seen.callbacks} callbacks in ${seen.batches} batches over ${Math.round(elapsedMs)} ms`);

  assert.ok(seen.callbacks <= seconds * 11, `${seen.callbacks} callbacks for ${n} refusals in ${Math.round(elapsedMs)} ms: want at most 10 one by one and 1 summary per second`);
  assert.ok(seen.batches <= Math.ceil(elapsedMs / 100) + 2, `${seen.batches} batches: want one per 100 ms at most`);
  assert.ok(seen.batches < seen.callbacks, `rejections arrive in batches (${seen.batches} batches, ${seen.callbacks} callbacks)`);
  const summaries = seen.items.filter((r) => r.suppressed > 0);
  assert.ok(summaries.length >= 1, 'a summary counts what was not reported one by one');
  for (const r of seen.items) {
    assert.equal(r.peerId, 'import');
    assert.equal(r.rule, 'integrity');
    assert.ok(r.id !== result.realId && r.uuid !== result.realUUID, `no callback names the real record the forgeries claim to be: ${JSON.stringify(r)}`);
    if (!r.suppressed) assert.equal(r.unverified, true, `a forgery is reported unverified: ${JSON.stringify(r)}`);
  }

  // The activity log shows a few lines and the count, not ten thousand lines.
  const lines = await page.locator('#activity li.bad').allTextContents();
  assert.ok(lines.length <= seen.callbacks, `#activity has ${lines.length} refusal lines`);
  assert.ok(lines.some((l) => /more refusals from peer/.test(l)), `#activity shows the summary: ${JSON.stringify(lines.slice(0, 3))}`);
  t.diagnostic(`screenshot: ${await screenshot(page, 'reject-flood')}`);
}));
